//! `'connector' = 'upsert-kafka'`: a topic that holds the latest row of each key, keyed by
//! the table's `PRIMARY KEY (…) NOT ENFORCED` — Flink's connector for writing an updating
//! result. An insert or update is a record of the key and its new row; a delete is a
//! tombstone (the key with no value), which a compacted topic keeps until it drops the key.
//! Read, the topic is an updating table: a record takes back the row its key had before
//! (`changes.rs`).
//!
//! Options: those of the kafka connector, with `key.format` and `value.format` both required
//! and no `key.fields` (the key is the primary key) nor `scan.startup.*` (the topic is read
//! from its start).

use super::super::connector::{Connector, Declaration, Declared};
use super::super::{bad_option, ConnectorOptions};
use super::options::KafkaOptions;
use super::records::RecordLayout;
use crate::error::EngineError;

/// `'connector' = 'upsert-kafka'`.
pub(crate) struct UpsertKafka;

impl Connector for UpsertKafka {
    fn name(&self) -> &'static str {
        "upsert-kafka"
    }

    fn declare(
        &self,
        declaration: &Declaration<'_>,
        options: &mut ConnectorOptions,
    ) -> Result<Declared, EngineError> {
        options.get("connector");
        for required in ["key.format", "value.format"] {
            if !options.has(required) {
                return Err(bad_option(
                    required,
                    &format!(
                        "an upsert-kafka table needs '{required}': how the record's {} is \
                         written, e.g. 'json'",
                        required.trim_end_matches(".format")
                    ),
                ));
            }
        }
        let kafka = KafkaOptions::read(options, true)?;
        imply_key_fields(options, declaration.primary_key, declaration.table)?;
        let layout =
            RecordLayout::from_options(options, declaration.schema.clone(), declaration.metadata)?;
        if let Some(changes) = &layout.changes {
            return Err(bad_option(
                "value.format",
                &format!(
                    "an upsert-kafka table's records are rows, not {} change events; read \
                     those with a 'connector' = 'kafka' table",
                    changes.name()
                ),
            ));
        }
        options.finish("upsert-kafka")?;
        Ok(super::stream_table(declaration, kafka, layout, true))
    }
}

/// Makes the primary key the key's fields, as Flink's upsert-kafka does.
pub(super) fn imply_key_fields(
    options: &mut ConnectorOptions,
    primary_key: &[String],
    table: &str,
) -> Result<(), EngineError> {
    if options.has("key.fields") {
        return Err(bad_option(
            "key.fields",
            "an upsert-kafka table's key is its PRIMARY KEY: leave 'key.fields' out",
        ));
    }
    if primary_key.is_empty() {
        return Err(EngineError::Plan {
            message: format!("the upsert-kafka table {table} has no PRIMARY KEY"),
            position: None,
            hint: Some(
                "declare the key of its records, e.g. PRIMARY KEY (user_id) NOT ENFORCED".into(),
            ),
        });
    }
    options.imply("key.fields", primary_key.join(";"));
    Ok(())
}
