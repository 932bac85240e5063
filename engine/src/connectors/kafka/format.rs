//! How a Kafka record's key or value is written: `json`, `csv` (Flink's formats, with their
//! `json.*` / `csv.*` options) or `raw` (the bytes as one STRING or BYTES column).
//!
//! A table's value format is `format` (or `value.format`, whose options are then prefixed
//! `value.`, e.g. `value.json.ignore-parse-errors`); its key format is `key.format`, with
//! `key.`-prefixed options. Records are decoded many at a time by Arrow's readers; when that
//! fails they are halved until the bad ones are found ([`LineFormat::decode_by_halves`]).

use super::super::lines::{BadRecord, LineFormat, Origins};
use super::super::{bad_option, ConnectorOptions};
use super::avro::AvroFormat;
use crate::error::EngineError;
use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, RecordBatch, RecordBatchOptions, StringArray,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::error::ArrowError;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How Flink writes a TIMESTAMP in json and csv ('SQL' standard): a space, not a `T`.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";

/// One format of records, for the columns of `schema`.
#[derive(Debug, Clone)]
pub(crate) enum RecordFormat {
    /// json or csv, one record per row.
    Text(Arc<LineFormat>),
    /// The record's bytes as the one column: text (STRING) or bytes (BYTES).
    Raw { schema: SchemaRef, binary: bool },
    /// One Avro datum per record.
    Avro(Arc<AvroFormat>),
}

impl RecordFormat {
    /// The format `{prefix}format` names, with its `{prefix}json.*`, `{prefix}csv.*` or
    /// `{prefix}raw.*` options, for the columns of `schema`.
    pub(crate) fn from_options(
        options: &mut ConnectorOptions,
        prefix: &str,
        schema: SchemaRef,
    ) -> Result<Self, EngineError> {
        let mut own = own_options(options, prefix);
        let format_key = format!("{prefix}format");
        let named = own
            .get("format")
            .map(|f| f.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                bad_option(
                    &format_key,
                    &format!("'{format_key}' is required: 'json', 'csv' or 'raw'"),
                )
            })?;
        let format = match named.as_str() {
            "raw" => {
                // Flink's raw options; only its defaults are read.
                for (key, default) in [("raw.charset", "utf-8"), ("raw.endianness", "big-endian")] {
                    if let Some(value) = own.get(key) {
                        if !value.trim().eq_ignore_ascii_case(default) {
                            return Err(EngineError::NotSupported {
                                message: format!(
                                    "'{prefix}{key}' = '{value}': Eddy's raw format reads \
                                     {default} only"
                                ),
                            });
                        }
                    }
                }
                let binary = match schema.fields().as_ref() {
                    [field] => match field.data_type() {
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => false,
                        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => true,
                        other => {
                            return Err(bad_option(
                                &format_key,
                                &format!(
                                    "the raw format reads a record into one STRING or BYTES \
                                     column; {} is {other}",
                                    field.name()
                                ),
                            ))
                        }
                    },
                    _ => {
                        return Err(bad_option(
                            &format_key,
                            &format!(
                                "the raw format reads a record into one STRING or BYTES \
                                 column; these records have {} columns",
                                schema.fields().len()
                            ),
                        ))
                    }
                };
                RecordFormat::Raw { schema, binary }
            }
            "avro" => {
                if let Some(encoding) = own.get("avro.encoding") {
                    if !encoding.trim().eq_ignore_ascii_case("binary") {
                        return Err(EngineError::NotSupported {
                            message: format!(
                                "'{prefix}avro.encoding' = '{encoding}': Eddy reads and writes \
                                 Avro's binary encoding only"
                            ),
                        });
                    }
                }
                if let Some(legacy) = own.get("avro.timestamp_mapping.legacy") {
                    if !legacy.trim().eq_ignore_ascii_case("true") {
                        return Err(EngineError::NotSupported {
                            message: format!(
                                "'{prefix}avro.timestamp_mapping.legacy' = '{legacy}': Eddy \
                                 writes TIMESTAMP and TIMESTAMP_LTZ as Avro timestamps (the \
                                 legacy mapping, Flink's default)"
                            ),
                        });
                    }
                }
                RecordFormat::Avro(Arc::new(AvroFormat::new(schema)?))
            }
            "json" | "csv" => RecordFormat::Text(Arc::new(LineFormat::from_options(
                &mut own,
                schema,
                Origins::Lines,
            )?)),
            _ => {
                return Err(bad_option(
                    &format_key,
                    "the formats of Kafka records are 'json', 'csv', 'raw' and 'avro', and \
                     'debezium-json' and 'canal-json' for the value",
                ))
            }
        };
        own.finish(&format!("{named} format"))?;
        Ok(format)
    }

    /// Whether records that do not decode are skipped and counted (`*.ignore-parse-errors`).
    pub(crate) fn ignores_errors(&self) -> bool {
        match self {
            RecordFormat::Text(format) => format.ignores_errors(),
            RecordFormat::Raw { .. } | RecordFormat::Avro(_) => false,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            RecordFormat::Text(format) => format.name(),
            RecordFormat::Raw { .. } => "raw",
            RecordFormat::Avro(_) => "avro",
        }
    }

    /// The rows of `records` (labelled for errors); bad records are skipped and counted in
    /// `skipped`, or the first is returned.
    pub(crate) fn decode<'a, L: Copy>(
        &self,
        records: &[(L, &'a [u8])],
        skipped: &mut u64,
    ) -> Result<Vec<RecordBatch>, BadRecord<'a, L>> {
        match self {
            RecordFormat::Text(format) => {
                let mut batches = Vec::new();
                format.decode_by_halves(records, &mut batches, skipped)?;
                Ok(batches)
            }
            RecordFormat::Raw { schema, binary } => {
                let column: ArrayRef = if *binary {
                    Arc::new(BinaryArray::from_iter_values(
                        records.iter().map(|(_, r)| *r),
                    ))
                } else {
                    Arc::new(StringArray::from_iter_values(
                        records.iter().map(|(_, r)| String::from_utf8_lossy(r)),
                    ))
                };
                let column = datafusion::arrow::compute::cast(&column, schema.field(0).data_type())
                    .map_err(|error| BadRecord {
                        label: records[0].0,
                        text: records[0].1,
                        error,
                    })?;
                let batch = RecordBatch::try_new_with_options(
                    schema.clone(),
                    vec![column],
                    &RecordBatchOptions::new().with_row_count(Some(records.len())),
                )
                .map_err(|error| BadRecord {
                    label: records[0].0,
                    text: records[0].1,
                    error,
                })?;
                Ok(vec![batch])
            }
            RecordFormat::Avro(format) => match format.decode(records) {
                Ok(batch) => Ok(vec![batch]),
                Err((label, text, error)) => Err(BadRecord { label, text, error }),
            },
        }
    }

    /// Why a record did not decode, in the table's terms.
    pub(crate) fn reason(&self, error: &ArrowError) -> String {
        match self {
            RecordFormat::Text(format) => format.reason(error),
            RecordFormat::Raw { .. } | RecordFormat::Avro(_) => error.to_string(),
        }
    }

    /// Each row of `batch` written as one record.
    pub(crate) fn encode(&self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>, ArrowError> {
        match self {
            RecordFormat::Text(format) if format.name() == "json" => {
                let mut text = Vec::new();
                let mut writer = datafusion::arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .with_timestamp_format(TIMESTAMP_FORMAT.into())
                    .build::<_, datafusion::arrow::json::writer::LineDelimited>(&mut text);
                writer.write(batch)?;
                writer.finish()?;
                // A json line holds one row: line breaks inside strings are escaped.
                Ok(text
                    .split(|b| *b == b'\n')
                    .take(batch.num_rows())
                    .map(<[u8]>::to_vec)
                    .collect())
            }
            RecordFormat::Text(format) => (0..batch.num_rows())
                .map(|row| {
                    // Row by row: a quoted field may hold a line break.
                    let mut text = Vec::new();
                    let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                        .with_header(false)
                        .with_delimiter(format.delimiter())
                        .with_timestamp_format(TIMESTAMP_FORMAT.into())
                        .build(&mut text);
                    writer.write(&batch.slice(row, 1))?;
                    drop(writer);
                    if text.last() == Some(&b'\n') {
                        text.pop();
                    }
                    Ok(text)
                })
                .collect(),
            RecordFormat::Avro(format) => format.encode(batch),
            RecordFormat::Raw { binary, .. } => {
                let column = batch.column(0);
                let values: ArrayRef = if *binary {
                    datafusion::arrow::compute::cast(column, &DataType::Binary)?
                } else {
                    datafusion::arrow::compute::cast(column, &DataType::Utf8)?
                };
                Ok((0..values.len())
                    .map(|row| {
                        if values.is_null(row) {
                            Vec::new()
                        } else if *binary {
                            values
                                .as_any()
                                .downcast_ref::<BinaryArray>()
                                .map_or_else(Vec::new, |v| v.value(row).to_vec())
                        } else {
                            values
                                .as_any()
                                .downcast_ref::<StringArray>()
                                .map_or_else(Vec::new, |v| v.value(row).as_bytes().to_vec())
                        }
                    })
                    .collect())
            }
        }
    }
}

/// The options of one format: `{prefix}format` and `{prefix}json.*`, `{prefix}csv.*`,
/// `{prefix}raw.*`, without the prefix (and counted as read in `options`).
fn own_options(options: &mut ConnectorOptions, prefix: &str) -> ConnectorOptions {
    let keys: Vec<String> = options
        .all()
        .keys()
        .filter(|key| {
            key.strip_prefix(prefix).is_some_and(|rest| {
                rest == "format"
                    || rest.starts_with("json.")
                    || rest.starts_with("csv.")
                    || rest.starts_with("raw.")
                    || rest.starts_with("avro.")
            })
        })
        .cloned()
        .collect();
    let mut own = BTreeMap::new();
    for key in keys {
        if let Some(value) = options.get(&key) {
            own.insert(key[prefix.len()..].to_string(), value);
        }
    }
    ConnectorOptions::new(own)
}
