//! A Kafka table's metadata columns, as Flink names them: `ts TIMESTAMP_LTZ(3) METADATA FROM
//! 'timestamp'`, `` `partition` INT METADATA VIRTUAL ``, … — filled from each record rather
//! than from its key or value. `timestamp` and `headers` are written by an INSERT too (unless
//! VIRTUAL); the others are read only.

use super::record::Record;
use crate::error::EngineError;
use crate::sql::flink_syntax::MetadataColumn;
use datafusion::arrow::array::{
    Array, ArrayRef, BinaryBuilder, Int32Array, Int64Array, MapBuilder, MapFieldNames, StringArray,
    StringBuilder, TimestampMillisecondArray,
};
use datafusion::arrow::compute::{can_cast_types, cast};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::error::ArrowError;
use std::sync::Arc;

/// What a metadata column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordMetadata {
    Topic,
    Partition,
    Offset,
    Timestamp,
    TimestampType,
    Headers,
}

/// The keys of [`RecordMetadata`], as Flink spells them.
const KEYS: &[(&str, RecordMetadata)] = &[
    ("topic", RecordMetadata::Topic),
    ("partition", RecordMetadata::Partition),
    ("offset", RecordMetadata::Offset),
    ("timestamp", RecordMetadata::Timestamp),
    ("timestamp-type", RecordMetadata::TimestampType),
    ("headers", RecordMetadata::Headers),
];

/// A metadata column of the table: where it is among the columns, what it holds, and whether
/// an INSERT leaves it out (VIRTUAL).
#[derive(Debug, Clone)]
pub(crate) struct MetadataSlot {
    pub(crate) index: usize,
    pub(crate) kind: RecordMetadata,
    pub(crate) is_virtual: bool,
    pub(crate) name: String,
}

impl RecordMetadata {
    fn key(self) -> &'static str {
        KEYS.iter()
            .find(|(_, kind)| *kind == self)
            .map_or("", |(key, _)| key)
    }

    /// Whether an INSERT writes it into the record (Flink: `timestamp` and `headers`).
    pub(crate) fn is_writable(self) -> bool {
        matches!(self, RecordMetadata::Timestamp | RecordMetadata::Headers)
    }

    /// The column of `records`, in `data_type` (the declared type).
    pub(crate) fn column(
        self,
        records: &[&Record],
        topics: &[String],
        data_type: &DataType,
    ) -> Result<ArrayRef, ArrowError> {
        let made: ArrayRef = match self {
            RecordMetadata::Topic => Arc::new(StringArray::from_iter_values(
                records
                    .iter()
                    .map(|r| topics.get(r.at.topic).map_or("", String::as_str)),
            )),
            RecordMetadata::Partition => Arc::new(Int32Array::from_iter_values(
                records.iter().map(|r| r.at.partition),
            )),
            RecordMetadata::Offset => Arc::new(Int64Array::from_iter_values(
                records.iter().map(|r| r.at.offset),
            )),
            RecordMetadata::Timestamp => Arc::new(TimestampMillisecondArray::from_iter(
                records.iter().map(|r| r.timestamp),
            )),
            RecordMetadata::TimestampType => Arc::new(StringArray::from_iter_values(
                records.iter().map(|r| r.timestamp_type),
            )),
            RecordMetadata::Headers => {
                let (entries, key, value) = match data_type {
                    DataType::Map(entries, _) => match entries.data_type() {
                        DataType::Struct(fields) if fields.len() == 2 => (
                            entries.name().clone(),
                            fields[0].name().clone(),
                            fields[1].name().clone(),
                        ),
                        _ => return Err(ArrowError::CastError("headers".into())),
                    },
                    _ => return Err(ArrowError::CastError("headers".into())),
                };
                let mut map = MapBuilder::new(
                    Some(MapFieldNames {
                        entry: entries,
                        key,
                        value,
                    }),
                    StringBuilder::new(),
                    BinaryBuilder::new(),
                );
                for record in records {
                    for (name, value) in &record.headers {
                        map.keys().append_value(name);
                        match value {
                            Some(v) => map.values().append_value(v),
                            None => map.values().append_null(),
                        }
                    }
                    map.append(true)?;
                }
                Arc::new(map.finish())
            }
        };
        if made.data_type() == data_type {
            Ok(made)
        } else {
            cast(&made, data_type)
        }
    }
}

/// The metadata columns `declared` for a table of `schema`, checked: a known key, and a type
/// the key's values can be read as.
pub(crate) fn slots(
    declared: &[MetadataColumn],
    schema: &SchemaRef,
) -> Result<Vec<MetadataSlot>, EngineError> {
    declared
        .iter()
        .map(|column| {
            let kind = KEYS
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(&column.key))
                .map(|(_, kind)| *kind)
                .ok_or_else(|| EngineError::Plan {
                    message: format!(
                        "the metadata column {} reads '{}', which a Kafka record does not have",
                        column.name, column.key
                    ),
                    position: Some(column.position),
                    hint: Some(format!(
                        "Kafka's metadata are {}",
                        KEYS.iter()
                            .map(|(key, _)| format!("'{key}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                })?;
            let index = schema
                .index_of(&column.name)
                .map_err(|_| EngineError::Internal {
                    message: format!("the metadata column {} is not a column", column.name),
                    source: None,
                })?;
            let data_type = schema.field(index).data_type();
            let fits = match kind {
                RecordMetadata::Headers => matches!(data_type, DataType::Map(..)),
                RecordMetadata::Timestamp => matches!(data_type, DataType::Timestamp(..)),
                _ => can_cast_types(&kind_type(kind), data_type),
            };
            if !fits {
                return Err(EngineError::Plan {
                    message: format!(
                        "the metadata column {} ('{}') cannot be {data_type}",
                        column.name,
                        kind.key()
                    ),
                    position: Some(column.position),
                    hint: Some(format!("declare it as {}", flink_type(kind))),
                });
            }
            Ok(MetadataSlot {
                index,
                kind,
                is_virtual: column.is_virtual,
                name: column.name.clone(),
            })
        })
        .collect()
}

fn kind_type(kind: RecordMetadata) -> DataType {
    match kind {
        RecordMetadata::Partition => DataType::Int32,
        RecordMetadata::Offset => DataType::Int64,
        _ => DataType::Utf8,
    }
}

fn flink_type(kind: RecordMetadata) -> &'static str {
    match kind {
        RecordMetadata::Topic | RecordMetadata::TimestampType => "STRING",
        RecordMetadata::Partition => "INT",
        RecordMetadata::Offset => "BIGINT",
        RecordMetadata::Timestamp => "TIMESTAMP_LTZ(3)",
        RecordMetadata::Headers => "MAP<STRING, BYTES>",
    }
}

/// A record's headers, as written: (name, value) in order.
pub(crate) type HeaderList = Vec<(String, Option<Vec<u8>>)>;

/// The headers column of a row batch (`MAP<STRING, BYTES>`), row by row, for writing
/// records' headers; a NULL map is no headers.
pub(crate) fn headers(column: &ArrayRef) -> Result<Vec<HeaderList>, ArrowError> {
    use datafusion::arrow::array::{AsArray, MapArray};
    let not_headers = || ArrowError::CastError("headers are a MAP<STRING, BYTES>".into());
    let map: &MapArray = column.as_map_opt().ok_or_else(not_headers)?;
    let names = cast(map.keys(), &DataType::Utf8)?;
    let names = names.as_string_opt::<i32>().ok_or_else(not_headers)?;
    let values = cast(map.values(), &DataType::Binary)?;
    let values = values.as_binary_opt::<i32>().ok_or_else(not_headers)?;
    let offsets = map.value_offsets();
    Ok((0..map.len())
        .map(|row| {
            if map.is_null(row) {
                return Vec::new();
            }
            (offsets[row] as usize..offsets[row + 1] as usize)
                .map(|entry| {
                    let value = values.is_valid(entry).then(|| values.value(entry).to_vec());
                    (names.value(entry).to_string(), value)
                })
                .collect()
        })
        .collect())
}

/// The timestamp column of a row batch as milliseconds, for writing records' timestamps.
pub(crate) fn millis(column: &ArrayRef) -> Result<Int64Array, ArrowError> {
    let millis = cast(
        column,
        &DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Millisecond, None),
    )?;
    let millis = cast(&millis, &DataType::Int64)?;
    millis
        .as_any()
        .downcast_ref::<Int64Array>()
        .cloned()
        .ok_or_else(|| ArrowError::CastError("timestamp".into()))
}
