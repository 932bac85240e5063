//! Where a continuous `INSERT INTO t SELECT …` sends its rows, picked by `t`'s connector:
//! the files of a filesystem table, nowhere (blackhole, for running a query for its
//! figures), or the cell (print, Flink's rows with their change kind). One [`Sink`] per
//! query, opened by [`open`] from the table's `WITH` options.

mod blackhole;
pub(crate) mod destination;
mod files;
pub(crate) mod partitions;
mod print;

pub(crate) use destination::{Sink, SinkDecl};

use crate::error::EngineError;
use datafusion::arrow::datatypes::SchemaRef;
use std::time::Duration;

/// The connectors a stream is written into, as errors list them.
pub(crate) const SINK_CONNECTORS: &[&str] =
    &["filesystem", "kafka", "upsert-kafka", "blackhole", "print"];

/// Opens the sink of `table`, declared as `decl` says, for rows of `schema`; `updating` when
/// the query's result changes rather than only grows.
pub(crate) fn open(
    table: &str,
    decl: Option<&SinkDecl>,
    schema: SchemaRef,
    updating: bool,
) -> Result<Box<dyn Sink>, EngineError> {
    let options = decl.map(|d| &d.options);
    let partition_by = decl.map_or(&[][..], |d| d.partition_by.as_slice());
    let connector = options
        .and_then(|o| o.get("connector"))
        .map(|c| c.to_ascii_lowercase());
    match connector.as_deref() {
        Some("filesystem") => {
            if updating {
                return Err(EngineError::NotSupported {
                    message: format!(
                        "{table} is a filesystem table, which takes appended rows only; this \
                         query's result changes (a GROUP BY without windows)"
                    ),
                });
            }
            let options = options.cloned().unwrap_or_default();
            let not_a_file_table = || EngineError::NotSupported {
                message: format!("{table} declares no 'path' and 'format' to write files with"),
            };
            let path = options.get("path").ok_or_else(not_a_file_table)?;
            let format = options
                .get("format")
                .and_then(|f| files::FileFormat::parse(f))
                .ok_or_else(not_a_file_table)?;
            // A file a second by default, so a notebook sees rows arrive; Flink's rolling
            // options, when given, say otherwise.
            let roll_every = options
                .get("sink.rolling-policy.rollover-interval")
                .map(|v| {
                    crate::connectors::parse_duration("sink.rolling-policy.rollover-interval", v)
                })
                .transpose()?
                .unwrap_or(Duration::from_millis(1000));
            let roll_bytes = match options.get("sink.rolling-policy.file-size") {
                Some(size) => parse_size("sink.rolling-policy.file-size", size)?,
                None => 128 << 20,
            };
            let partitions = match partition_by {
                [] => None,
                keys => Some(partitions::PartitionSpec::from_options(keys, &options)?),
            };
            Ok(Box::new(files::FileSink::new(
                std::path::Path::new(path),
                format,
                schema,
                partitions,
                roll_every,
                roll_bytes,
            )?))
        }
        Some("kafka") | Some("upsert-kafka") => crate::connectors::kafka::sink::open(
            table,
            decl.cloned().unwrap_or_default(),
            schema,
            updating,
        ),
        Some("blackhole") => Ok(Box::new(blackhole::Blackhole::default())),
        Some("print") => {
            let identifier = options.and_then(|o| o.get("print-identifier")).cloned();
            Ok(Box::new(print::Print::new(identifier)))
        }
        _ => Err(EngineError::NotSupported {
            message: format!(
                "a stream is written into a table declared with 'connector' = {}; {table} \
                 is not one",
                SINK_CONNECTORS
                    .iter()
                    .map(|c| format!("'{c}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// `128MB`, `1 kb`, `4096`: a size as Flink's MemorySize reads it.
pub(crate) fn parse_size(key: &str, value: &str) -> Result<usize, EngineError> {
    let compact: String = value
        .split_whitespace()
        .collect::<String>()
        .to_ascii_lowercase();
    let digits_end = compact
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(compact.len());
    let (number, unit) = compact.split_at(digits_end);
    let scale: usize = match unit {
        "" | "b" | "bytes" => 1,
        "k" | "kb" | "kibibytes" => 1 << 10,
        "m" | "mb" | "mebibytes" => 1 << 20,
        "g" | "gb" | "gibibytes" => 1 << 30,
        _ => 0,
    };
    match number.parse::<usize>() {
        Ok(n) if scale > 0 && n > 0 => Ok(n.saturating_mul(scale)),
        _ => Err(crate::connectors::bad_option(
            key,
            &format!("'{value}' is not a size; write e.g. '128MB' or '64 kb'"),
        )),
    }
}
