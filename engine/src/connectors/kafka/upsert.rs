//! `'connector' = 'upsert-kafka'`: a topic that holds the latest row of each key, keyed by
//! the table's `PRIMARY KEY (…) NOT ENFORCED` — Flink's connector for writing an updating
//! result. An insert or update is a record of the key and its new row; a delete is a
//! tombstone (the key with no value), which a compacted topic keeps until it drops the key.
//!
//! Options: those of the kafka connector, with `key.format` and `value.format` both required
//! and no `key.fields` (the key is the primary key) nor `scan.startup.*` (the topic is read
//! from its start).

use super::super::connector::{Connector, CountedSource, Declaration, Declared};
use super::super::{bad_option, ConnectorOptions};
use super::options::KafkaOptions;
use super::records::RecordLayout;
use crate::error::EngineError;
use crate::stream::catalog::SourceFactory;
use crate::stream::source::StreamSource;
use datafusion::execution::context::SessionContext;
use std::sync::Arc;

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
        KafkaOptions::read(options, true)?;
        imply_key_fields(options, declaration.primary_key, declaration.table)?;
        RecordLayout::from_options(options, declaration.schema.clone(), declaration.metadata)?;
        options.finish("upsert-kafka")?;
        Ok(Declared::Stream(CountedSource {
            factory: Arc::new(NotReadYet {
                table: declaration.table.to_string(),
            }),
            skipped: None,
        }))
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

/// Reading an upsert topic as an updating table is not there yet: a query over one fails
/// when it starts, saying so.
struct NotReadYet {
    table: String,
}

impl SourceFactory for NotReadYet {
    fn open(&self, _ctx: &SessionContext) -> Result<Box<dyn StreamSource>, EngineError> {
        Err(EngineError::NotSupported {
            message: format!(
                "reading the upsert-kafka table {} (the latest row of each key, as an updating \
                 table) is not supported yet: INSERT INTO it, and read its topic's records as \
                 they are with a 'connector' = 'kafka' table",
                self.table
            ),
        })
    }
}
