//! Kafka records into rows of a table: the value (and, with `key.fields`, the key) decoded in
//! its format, metadata columns filled from the record, the columns put in the table's order,
//! bad records named by topic, partition and offset — or skipped and counted with
//! `*.ignore-parse-errors`.

use super::super::lines::{shown, BadRecord};
use super::super::{bad_option, ConnectorOptions};
use super::changes::ChangeFormat;
use super::format::RecordFormat;
use super::metadata::{self, MetadataSlot};
use super::record::{Record, RecordAt};
use crate::error::EngineError;
use crate::sql::flink_syntax::MetadataColumn;
use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use std::sync::Arc;

/// How a table's columns are spread over its records' keys, values and metadata.
#[derive(Debug)]
pub(crate) struct RecordLayout {
    pub(crate) schema: SchemaRef,
    pub(crate) value: RecordFormat,
    /// The value's columns, as indices into `schema`.
    value_columns: Vec<usize>,
    /// The key's format and columns, when the table has `key.format` and `key.fields`.
    pub(crate) key: Option<(RecordFormat, Vec<usize>)>,
    /// The metadata columns.
    pub(crate) metadata: Vec<MetadataSlot>,
    /// The value's format of change events (`debezium-json`, `canal-json`), whose rows are
    /// then decoded by `value` (json).
    pub(crate) changes: Option<ChangeFormat>,
}

impl RecordLayout {
    /// Reads `format` / `value.format`, `key.format`, `key.fields` and
    /// `value.fields-include` (Flink's names) for a table of `schema` with the metadata
    /// columns `declared`.
    pub(crate) fn from_options(
        options: &mut ConnectorOptions,
        schema: SchemaRef,
        declared: &[MetadataColumn],
    ) -> Result<Self, EngineError> {
        let metadata = metadata::slots(declared, &schema)?;
        let is_metadata = |i: usize| metadata.iter().any(|m| m.index == i);
        let key_fields = options.get("key.fields");
        let include = options.get("value.fields-include");
        let key_columns: Vec<usize> = match &key_fields {
            None => Vec::new(),
            Some(list) => list
                .split(';')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(|name| match schema.index_of(name) {
                    Ok(i) if !is_metadata(i) => Ok(i),
                    Ok(_) => Err(bad_option(
                        "key.fields",
                        &format!("{name} is a metadata column, not one of the key's"),
                    )),
                    Err(_) => Err(bad_option(
                        "key.fields",
                        &format!("the table has no column {name} to write as the key"),
                    )),
                })
                .collect::<Result<_, _>>()?,
        };
        let except_key = match include.as_deref().map(|i| i.trim().to_ascii_uppercase()) {
            None => false,
            Some(i) if i == "ALL" => false,
            Some(i) if i == "EXCEPT_KEY" => true,
            Some(_) => {
                return Err(bad_option(
                    "value.fields-include",
                    "'ALL' (the value holds every column, the default) or 'EXCEPT_KEY'",
                ))
            }
        };
        let value_prefix = if options.has("value.format") {
            if options.has("format") {
                return Err(bad_option(
                    "value.format",
                    "give 'format' or 'value.format', not both",
                ));
            }
            "value."
        } else {
            ""
        };
        let changes = ChangeFormat::from_options(options, value_prefix)?;
        let value_columns: Vec<usize> = (0..schema.fields().len())
            .filter(|i| !(is_metadata(*i) || except_key && key_columns.contains(i)))
            .collect();
        if value_columns.is_empty() {
            return Err(bad_option(
                "value.fields-include",
                "with 'EXCEPT_KEY' the value needs at least one column that is not a key",
            ));
        }
        let value =
            RecordFormat::from_options(options, value_prefix, project(&schema, &value_columns))?;
        let key = match (options.has("key.format"), key_columns.is_empty()) {
            (false, true) => None,
            (true, false) => Some((
                RecordFormat::from_options(options, "key.", project(&schema, &key_columns))?,
                key_columns,
            )),
            (true, true) => {
                return Err(bad_option(
                    "key.fields",
                    "'key.format' needs 'key.fields': the columns the key holds, as 'a;b'",
                ))
            }
            (false, false) => {
                return Err(bad_option(
                    "key.format",
                    "'key.fields' needs 'key.format': how the key is written, e.g. 'json'",
                ))
            }
        };
        if except_key && key.is_none() {
            return Err(bad_option(
                "value.fields-include",
                "'EXCEPT_KEY' leaves the key's columns out of the value: it needs 'key.format' \
                 and 'key.fields'",
            ));
        }
        Ok(RecordLayout {
            schema,
            value,
            value_columns,
            key,
            metadata,
            changes,
        })
    }

    /// Whether the key's columns are read from the key (else from the value, which has
    /// them all).
    fn reads_key(&self) -> bool {
        self.key
            .as_ref()
            .is_some_and(|(_, columns)| columns.iter().any(|c| !self.value_columns.contains(c)))
    }

    /// Whether a row is made of more than its value, so that each row must be matched with
    /// its record.
    fn needs_alignment(&self) -> bool {
        self.reads_key() || !self.metadata.is_empty()
    }

    /// Whether some bad records are skipped rather than failing the query (the key's and
    /// the value's formats each say so for their own part).
    pub(crate) fn ignores_errors(&self) -> bool {
        self.value.ignores_errors()
            || self
                .key
                .as_ref()
                .is_some_and(|(key, _)| key.ignores_errors())
    }

    /// Whether the table reads its records' headers.
    pub(crate) fn reads_headers(&self) -> bool {
        self.metadata
            .iter()
            .any(|m| m.kind == metadata::RecordMetadata::Headers)
    }

    /// The rows of `records`. `topics` names the records' topics in errors.
    #[cfg(test)]
    pub(crate) fn decode(
        &self,
        records: &[Record],
        topics: &[String],
        skipped: &mut u64,
    ) -> Result<RecordBatch, EngineError> {
        self.decode_refs(&records.iter().collect::<Vec<_>>(), topics, skipped)
    }

    /// The rows of `records` (one partition's, say). A record without a value (a
    /// tombstone) holds no row.
    pub(crate) fn decode_refs(
        &self,
        records: &[&Record],
        topics: &[String],
        skipped: &mut u64,
    ) -> Result<RecordBatch, EngineError> {
        if self.needs_alignment() {
            return self.decode_aligned(records, topics, skipped);
        }
        let values: Vec<(RecordAt, &[u8])> = records
            .iter()
            .filter(|r| !r.value.is_empty())
            .map(|r| (r.at, r.value.as_slice()))
            .collect();
        let batches = self
            .value
            .decode(&values, skipped)
            .map_err(|bad| self.bad_record(&self.value, "value", bad, topics))?;
        Ok(concat_batches(&self.value_schema(), &batches)?)
    }

    /// Each record's row beside its key's columns and its metadata: all records decoded at
    /// once when each gives one row, else record by record so that a bad one drops its row.
    fn decode_aligned(
        &self,
        records: &[&Record],
        topics: &[String],
        skipped: &mut u64,
    ) -> Result<RecordBatch, EngineError> {
        let kept: Vec<&Record> = records
            .iter()
            .copied()
            .filter(|r| !r.value.is_empty())
            .collect();
        let key = self.key.as_ref().filter(|_| self.reads_key());
        let empty: &[u8] = &[];
        let keys: Vec<(RecordAt, &[u8])> = kept
            .iter()
            .map(|r| (r.at, r.key.as_deref().unwrap_or(empty)))
            .collect();
        let values: Vec<(RecordAt, &[u8])> =
            kept.iter().map(|r| (r.at, r.value.as_slice())).collect();
        let mut none = 0;
        let whole_values = self.value.decode(&values, &mut none);
        let whole_keys = match key {
            Some((format, _)) => format.decode(&keys, &mut none).map(Some),
            None => Ok(None),
        };
        if let (Ok(v), Ok(k)) = (whole_values, whole_keys) {
            let v = concat_batches(&self.value_schema(), &v)?;
            let k = match (k, key) {
                (Some(k), Some((_, columns))) => {
                    Some(concat_batches(&project(&self.schema, columns), &k)?)
                }
                _ => None,
            };
            let aligned =
                v.num_rows() == kept.len() && k.as_ref().is_none_or(|k| k.num_rows() == kept.len());
            if none == 0 && aligned {
                return self.assemble(&kept, k.as_ref(), &v, topics);
            }
        }
        let mut rows = Vec::new();
        for (i, record) in kept.iter().enumerate() {
            let mut bad = 0;
            let k = match key {
                Some((format, columns)) => {
                    let k = format
                        .decode(std::slice::from_ref(&keys[i]), &mut bad)
                        .map_err(|b| self.bad_record(format, "key", b, topics))?;
                    Some(concat_batches(&project(&self.schema, columns), &k)?)
                }
                None => None,
            };
            let v = self
                .value
                .decode(std::slice::from_ref(&values[i]), &mut bad)
                .map_err(|b| self.bad_record(&self.value, "value", b, topics))?;
            let v = concat_batches(&self.value_schema(), &v)?;
            if bad > 0 {
                // A format that ignores its errors skipped the key or the value.
                *skipped += 1;
                continue;
            }
            let key_rows = k.as_ref().map_or(1, RecordBatch::num_rows);
            if key_rows != 1 || v.num_rows() != 1 {
                if self.value.ignores_errors() {
                    *skipped += 1;
                    continue;
                }
                return Err(EngineError::Execution {
                    message: format!(
                        "the record at {} is not one row: its key gives {key_rows} and its \
                         value {}",
                        place(&record.at, topics),
                        v.num_rows()
                    ),
                    source: None,
                });
            }
            rows.push(self.assemble(std::slice::from_ref(record), k.as_ref(), &v, topics)?);
        }
        Ok(concat_batches(&self.schema, &rows)?)
    }

    /// The table's rows from `records`' keys, values and metadata, one row per record.
    fn assemble(
        &self,
        records: &[&Record],
        keys: Option<&RecordBatch>,
        values: &RecordBatch,
        topics: &[String],
    ) -> Result<RecordBatch, EngineError> {
        let key_columns = self.key.as_ref().map_or(&[][..], |(_, c)| c.as_slice());
        let columns: Vec<ArrayRef> = (0..self.schema.fields().len())
            .map(|i| {
                if let Some(slot) = self.metadata.iter().find(|m| m.index == i) {
                    return Ok(slot.kind.column(
                        records,
                        topics,
                        self.schema.field(i).data_type(),
                    )?);
                }
                if let Some(at) = self.value_columns.iter().position(|v| *v == i) {
                    return Ok(values.column(at).clone());
                }
                match (keys, key_columns.iter().position(|k| *k == i)) {
                    (Some(keys), Some(at)) => Ok(keys.column(at).clone()),
                    _ => Err(EngineError::Internal {
                        message: format!(
                            "column {} of a Kafka table is in neither key nor value",
                            self.schema.field(i).name()
                        ),
                        source: None,
                    }),
                }
            })
            .collect::<Result<_, EngineError>>()?;
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(records.len())),
        )?)
    }

    /// The value's columns as a schema; the table's own when the value holds them all.
    pub(crate) fn value_schema(&self) -> SchemaRef {
        if self.value_columns.len() == self.schema.fields().len() {
            self.schema.clone()
        } else {
            project(&self.schema, &self.value_columns)
        }
    }

    /// The value's columns of a row of the table, as indices into its schema.
    pub(crate) fn value_columns(&self) -> &[usize] {
        &self.value_columns
    }

    fn bad_record(
        &self,
        format: &RecordFormat,
        part: &str,
        bad: BadRecord<'_, RecordAt>,
        topics: &[String],
    ) -> EngineError {
        let name = match (&self.changes, part) {
            (Some(changes), "value") => changes.name(),
            _ => format.name(),
        };
        let advice = if name == "raw" {
            String::new()
        } else {
            format!(
                " (fix the record, or set '{name}.ignore-parse-errors' = 'true' to skip and \
                 count bad records)"
            )
        };
        EngineError::Execution {
            message: format!(
                "the {part} of the record at {} is not valid {name} for the table's columns: \
                 {}. The {part} is: {}{advice}",
                place(&bad.label, topics),
                format.reason(&bad.error),
                shown(bad.text),
            ),
            source: Some(Box::new(bad.error)),
        }
    }

    /// The error of a record whose change event is not one, for `reason`.
    pub(crate) fn bad_event(
        &self,
        record: &Record,
        reason: &str,
        topics: &[String],
    ) -> EngineError {
        let name = self.changes.as_ref().map_or("json", ChangeFormat::name);
        EngineError::Execution {
            message: format!(
                "the value of the record at {} is not a {name} change event: {reason}. The \
                 value is: {} (fix the record, or set '{name}.ignore-parse-errors' = 'true' to \
                 skip and count bad records)",
                place(&record.at, topics),
                shown(&record.value),
            ),
            source: None,
        }
    }
}

/// "topic clicks, partition 0, offset 42".
fn place(at: &RecordAt, topics: &[String]) -> String {
    format!(
        "topic {}, partition {}, offset {}",
        topics.get(at.topic).map_or("?", String::as_str),
        at.partition,
        at.offset
    )
}

/// The columns `indices` of `schema`, in that order.
fn project(schema: &SchemaRef, indices: &[usize]) -> SchemaRef {
    Arc::new(Schema::new(
        indices
            .iter()
            .map(|i| schema.field(*i).clone())
            .collect::<Vec<_>>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::lines::test_options;
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::arrow::util::pretty::pretty_format_batches;

    fn layout(pairs: &[(&str, &str)]) -> Result<RecordLayout, EngineError> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        let mut all = vec![("connector", "kafka")];
        all.extend_from_slice(pairs);
        let mut options = test_options(&all);
        options.get("connector");
        let layout = RecordLayout::from_options(&mut options, schema, &[])?;
        options.finish("kafka")?;
        Ok(layout)
    }

    fn record(offset: i64, key: &str, value: &str) -> Record {
        Record {
            at: RecordAt {
                topic: 0,
                partition: 3,
                offset,
            },
            key: Some(key.as_bytes().to_vec()),
            value: value.as_bytes().to_vec(),
            timestamp: Some(1_700_000_000_000 + offset),
            timestamp_type: "CreateTime",
            headers: Vec::new(),
        }
    }

    #[test]
    fn with_except_key_the_key_columns_come_from_the_key() {
        let layout = layout(&[
            ("format", "json"),
            ("json.ignore-parse-errors", "true"),
            ("key.format", "json"),
            ("key.json.ignore-parse-errors", "true"),
            ("key.fields", "id"),
            ("value.fields-include", "EXCEPT_KEY"),
        ])
        .unwrap();
        let topics = vec!["people".to_string()];
        let mut skipped = 0;
        let records = [
            record(0, r#"{"id":1}"#, r#"{"name":"ada"}"#),
            record(1, r#"{"id":2}"#, ""),
            record(2, r#"{"id":3}"#, r#"{"name":"bob"}"#),
        ];
        let batch = layout.decode(&records, &topics, &mut skipped).unwrap();
        let shown = pretty_format_batches(&[batch]).unwrap().to_string();
        // The record without a value (a tombstone) holds no row.
        assert_eq!(
            shown.lines().filter(|l| l.starts_with("| ")).count(),
            3,
            "{shown}"
        );
        assert!(
            shown.contains("| 1  | ada  |") && shown.contains("| 3  | bob  |"),
            "{shown}"
        );
        // A bad key drops its whole row, and is counted.
        let bad = [
            record(3, r#"{"id":"x"}"#, r#"{"name":"cy"}"#),
            record(4, r#"{"id":5}"#, r#"{"name":"di"}"#),
        ];
        let batch = layout.decode(&bad, &topics, &mut skipped).unwrap();
        assert_eq!((batch.num_rows(), skipped), (1, 1));
    }

    #[test]
    fn a_bad_value_is_named_by_its_place_when_not_ignored() {
        let layout = layout(&[("format", "json")]).unwrap();
        let topics = vec!["people".to_string()];
        let records = [
            record(7, "", r#"{"id":1,"name":"ada"}"#),
            record(8, "", r#"{"id":"one"}"#),
        ];
        let error = layout.decode(&records, &topics, &mut 0).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("the value of the record at topic people, partition 3, offset 8"),
            "{message}"
        );
    }

    #[test]
    fn key_options_are_checked_together() {
        let hint = |pairs: &[(&str, &str)]| {
            let error = layout(pairs).unwrap_err();
            format!("{error} {}", error.hint().unwrap_or_default())
        };
        assert!(hint(&[("format", "json"), ("key.fields", "id")]).contains("'key.format'"));
        assert!(hint(&[("format", "json"), ("key.format", "json")]).contains("'key.fields'"));
        assert!(hint(&[
            ("format", "json"),
            ("key.format", "json"),
            ("key.fields", "nope")
        ])
        .contains("no column nope"));
        assert!(hint(&[("format", "protobuf")]).contains("'json', 'csv', 'raw' and 'avro'"));
        assert!(hint(&[("format", "raw")]).contains("one STRING or BYTES column"));
        assert!(hint(&[("format", "json"), ("csv.field-delimiter", ";")]).contains("csv"));
    }
}
