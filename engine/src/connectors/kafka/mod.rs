//! `'connector' = 'kafka'`: a table over Apache Kafka topics, read as a stream and written by
//! `INSERT INTO`, with Flink's option names.
//!
//! - Where: `topic` (`'a;b'` for several) or `topic-pattern`, `properties.bootstrap.servers`,
//!   `properties.group.id`, and any other `properties.*` passed to the client (librdkafka,
//!   whose property names are Kafka's own for the common ones).
//! - Reading: `scan.startup.mode` = earliest-offset | latest-offset | group-offsets (the
//!   default, as in Flink) | timestamp (`scan.startup.timestamp-millis`) | specific-offsets
//!   (`scan.startup.specific-offsets`); `scan.bounded.mode` = latest-offset | timestamp |
//!   specific-offsets ends the reading (see [`options`]).
//! - Formats: `format` (or `value.format`) = json | csv | raw with their options;
//!   `key.format` with `key.fields`, and `value.fields-include` = ALL | EXCEPT_KEY;
//!   debezium-json and canal-json, whose records are changes: the table is updating (see
//!   [`changes`]).
//! - Writing: `sink.partitioner` = default | fixed | round-robin, `sink.delivery-guarantee`
//!   = at-least-once | none (see [`sink`]).

mod avro;
mod changes;
mod client;
mod format;
mod json_members;
mod metadata;
mod options;
mod record;
mod records;
pub(crate) mod sink;
mod source;
mod upsert;

pub(crate) use upsert::UpsertKafka;

use super::connector::{Connector, CountedSource, Declaration, Declared};
use super::ConnectorOptions;
use crate::error::EngineError;
use options::KafkaOptions;
use records::RecordLayout;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// `'connector' = 'kafka'`.
pub(crate) struct Kafka;

impl Connector for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn declare(
        &self,
        declaration: &Declaration<'_>,
        options: &mut ConnectorOptions,
    ) -> Result<Declared, EngineError> {
        options.get("connector");
        let kafka = KafkaOptions::read(options, false)?;
        let layout =
            RecordLayout::from_options(options, declaration.schema.clone(), declaration.metadata)?;
        options.finish("kafka")?;
        Ok(stream_table(declaration, kafka, layout, false))
    }
}

/// The stream of a Kafka table: its records as rows (`upsert`: each record its key's latest
/// row, as an upsert-kafka table reads its topic).
fn stream_table(
    declaration: &Declaration<'_>,
    kafka: KafkaOptions,
    layout: RecordLayout,
    upsert: bool,
) -> Declared {
    {
        let skipped = Arc::new(AtomicU64::new(0));
        let counted = layout.ignores_errors().then(|| skipped.clone());
        Declared::Stream(CountedSource {
            factory: Arc::new(source::KafkaFactory {
                table: declaration.table.to_string(),
                event_time: declaration
                    .event_time
                    .and_then(|column| declaration.schema.index_of(column).ok())
                    .filter(|i| {
                        matches!(
                            declaration.schema.field(*i).data_type(),
                            datafusion::arrow::datatypes::DataType::Timestamp(..)
                        )
                    }),
                idle_timeout: declaration.idle_timeout,
                options: Arc::new(kafka),
                layout: Arc::new(layout),
                skipped,
                upsert,
            }),
            skipped: counted,
        })
    }
}
