//! A page of a Flink result (`rowFormat=JSON`) as Arrow rows: the columns' Flink logical
//! types become Arrow types, and the rows' values are decoded by Arrow's JSON decoder from
//! their text as the gateway sent it, so a DECIMAL(38, 18) keeps every digit (it never
//! passes through a float).

use crate::error::EngineError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::json::reader::ReaderBuilder;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt::Write;
use std::sync::Arc;

/// What a result row does to the result (Flink's `RowKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RowKind {
    Insert,
    UpdateBefore,
    UpdateAfter,
    Delete,
}

impl RowKind {
    fn parse(kind: &str) -> Result<Self, EngineError> {
        Ok(match kind {
            "INSERT" => RowKind::Insert,
            "UPDATE_BEFORE" => RowKind::UpdateBefore,
            "UPDATE_AFTER" => RowKind::UpdateAfter,
            "DELETE" => RowKind::Delete,
            other => return Err(garbled(format!("a row of kind '{other}'"))),
        })
    }

    /// The change's name in a changelog (`+I`, `-U`, `+U`, `-D`).
    pub(super) fn op(self) -> &'static str {
        match self {
            RowKind::Insert => "+I",
            RowKind::UpdateBefore => "-U",
            RowKind::UpdateAfter => "+U",
            RowKind::Delete => "-D",
        }
    }

    /// Whether the row is taken out of the result (rather than put in).
    pub(super) fn retracts(self) -> bool {
        matches!(self, RowKind::UpdateBefore | RowKind::Delete)
    }
}

/// One row as the gateway sends it: its kind and its fields' JSON, kept as text.
#[derive(Debug, Deserialize)]
pub(super) struct JsonRow {
    kind: String,
    fields: Vec<Box<RawValue>>,
}

impl JsonRow {
    /// The first field, if it is text (the plan `EXPLAIN` answers with).
    pub(super) fn first_text(&self) -> Option<String> {
        serde_json::from_str::<String>(self.fields.first()?.get()).ok()
    }
}

/// A column as the gateway describes it.
#[derive(Debug, Deserialize)]
pub(super) struct JsonColumn {
    name: String,
    #[serde(rename = "logicalType")]
    logical_type: Value,
}

/// Turns pages of one result into batches of its schema.
pub(super) struct RowDecoder {
    schema: SchemaRef,
    /// The schema Arrow's decoder reads, with the columns named by position (a result may
    /// name two columns alike).
    positional: SchemaRef,
    /// Columns of types Arrow has no match for (intervals, multisets, raw values): shown as
    /// the JSON text Flink sent.
    as_text: Vec<bool>,
}

impl RowDecoder {
    pub(super) fn new(columns: &[JsonColumn]) -> Self {
        let mut fields = Vec::with_capacity(columns.len());
        let mut positional = Vec::with_capacity(columns.len());
        let mut as_text = Vec::with_capacity(columns.len());
        for (i, column) in columns.iter().enumerate() {
            let (data_type, nullable) = match arrow_type(&column.logical_type) {
                Some(found) => {
                    as_text.push(false);
                    found
                }
                None => {
                    as_text.push(true);
                    (DataType::Utf8, true)
                }
            };
            fields.push(Field::new(&column.name, data_type.clone(), nullable));
            positional.push(Field::new(format!("c{i}"), data_type, nullable));
        }
        RowDecoder {
            schema: Arc::new(Schema::new(fields)),
            positional: Arc::new(Schema::new(positional)),
            as_text,
        }
    }

    pub(super) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The rows of one page, and each row's kind.
    pub(super) fn decode(
        &self,
        rows: &[JsonRow],
    ) -> Result<(RecordBatch, Vec<RowKind>), EngineError> {
        let mut kinds = Vec::with_capacity(rows.len());
        let mut text = String::new();
        for row in rows {
            kinds.push(RowKind::parse(&row.kind)?);
            if row.fields.len() != self.as_text.len() {
                return Err(garbled(format!(
                    "a row of {} fields in a result of {} columns",
                    row.fields.len(),
                    self.as_text.len()
                )));
            }
            text.push('{');
            for (i, value) in row.fields.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                // Writing to a String cannot fail.
                let _ = write!(text, "\"c{i}\":");
                if self.as_text[i] && value.get() != "null" {
                    let quoted = serde_json::to_string(value.get())
                        .map_err(|e| garbled(format!("a value ({e})")))?;
                    text.push_str(&quoted);
                } else {
                    text.push_str(value.get());
                }
            }
            text.push_str("}\n");
        }
        let mut decoder = ReaderBuilder::new(self.positional.clone())
            .with_batch_size(rows.len().max(1))
            .build_decoder()?;
        let mut input = text.as_bytes();
        while !input.is_empty() {
            let read = decoder.decode(input)?;
            if read == 0 {
                break;
            }
            input = &input[read..];
        }
        let batch = match decoder.flush()? {
            Some(batch) => RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec())?,
            None => RecordBatch::new_empty(self.schema.clone()),
        };
        Ok((batch, kinds))
    }
}

/// The Arrow type of a Flink logical type (as the gateway's JSON writes it) and whether it
/// may be NULL; `None` for types Arrow has no match for.
fn arrow_type(logical: &Value) -> Option<(DataType, bool)> {
    let nullable = logical
        .get("nullable")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let number = |key: &str| logical.get(key).and_then(Value::as_u64);
    let data_type = match logical.get("type")?.as_str()? {
        "CHAR" | "VARCHAR" => DataType::Utf8,
        "BOOLEAN" => DataType::Boolean,
        "BINARY" | "VARBINARY" => DataType::Binary,
        "TINYINT" => DataType::Int8,
        "SMALLINT" => DataType::Int16,
        "INTEGER" => DataType::Int32,
        "BIGINT" => DataType::Int64,
        "FLOAT" => DataType::Float32,
        "DOUBLE" => DataType::Float64,
        "DECIMAL" => {
            let precision = u8::try_from(number("precision")?).ok()?;
            let scale = i8::try_from(number("scale").unwrap_or(0)).ok()?;
            DataType::Decimal128(precision, scale)
        }
        "DATE" => DataType::Date32,
        "TIME_WITHOUT_TIME_ZONE" => DataType::Time64(TimeUnit::Microsecond),
        "TIMESTAMP_WITHOUT_TIME_ZONE" => {
            DataType::Timestamp(time_unit(number("precision").unwrap_or(6)), None)
        }
        // Flink sends the wall-clock time in the session's zone (with a `Z` that does not
        // mean UTC): kept as that wall-clock time, as Flink's own clients show it.
        "TIMESTAMP_WITH_LOCAL_TIME_ZONE" | "TIMESTAMP_WITH_TIME_ZONE" => {
            DataType::Timestamp(time_unit(number("precision").unwrap_or(6)), None)
        }
        "ARRAY" => {
            let (element, _) = arrow_type(logical.get("elementType")?)?;
            DataType::List(Arc::new(Field::new_list_field(element, true)))
        }
        "MAP" => {
            let (key, _) = arrow_type(logical.get("keyType")?)?;
            let (value, _) = arrow_type(logical.get("valueType")?)?;
            let entries = Fields::from(vec![
                Field::new("key", key, false),
                Field::new("value", value, true),
            ]);
            DataType::Map(
                Arc::new(Field::new("entries", DataType::Struct(entries), false)),
                false,
            )
        }
        "ROW" => {
            let fields = logical
                .get("fields")?
                .as_array()?
                .iter()
                .map(|field| {
                    let name = field.get("name")?.as_str()?;
                    let (data_type, _) = arrow_type(field.get("fieldType")?)?;
                    Some(Field::new(name, data_type, true))
                })
                .collect::<Option<Fields>>()?;
            DataType::Struct(fields)
        }
        _ => return None,
    };
    Some((data_type, nullable))
}

/// Arrow's unit for a timestamp precision, as Eddy's own tables choose it.
fn time_unit(precision: u64) -> TimeUnit {
    match precision {
        0 => TimeUnit::Second,
        1..=3 => TimeUnit::Millisecond,
        4..=6 => TimeUnit::Microsecond,
        _ => TimeUnit::Nanosecond,
    }
}

fn garbled(what: String) -> EngineError {
    EngineError::Flink {
        message: format!("the Flink SQL Gateway sent {what}, which Eddy cannot read"),
        hint: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::util::pretty::pretty_format_batches;

    fn columns(json: &str) -> Vec<JsonColumn> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn decimals_keep_every_digit_and_kinds_are_read() {
        let decoder = RowDecoder::new(&columns(
            r#"[{"name":"d","logicalType":{"type":"DECIMAL","nullable":true,"precision":38,"scale":18}},
                {"name":"s","logicalType":{"type":"VARCHAR","nullable":false,"length":10}}]"#,
        ));
        let rows: Vec<JsonRow> = serde_json::from_str(
            r#"[{"kind":"INSERT","fields":[12345678901234567890.123456789012345678,"a"]},
                {"kind":"UPDATE_BEFORE","fields":[null,"b"]}]"#,
        )
        .unwrap();
        let (batch, kinds) = decoder.decode(&rows).unwrap();
        assert_eq!(kinds, vec![RowKind::Insert, RowKind::UpdateBefore]);
        let shown = pretty_format_batches(&[batch]).unwrap().to_string();
        assert!(
            shown.contains("12345678901234567890.123456789012345678"),
            "{shown}"
        );
    }

    #[test]
    fn a_type_arrow_lacks_is_shown_as_its_json_text() {
        let decoder = RowDecoder::new(&columns(
            r#"[{"name":"m","logicalType":{"type":"MULTISET","nullable":true,"elementType":{"type":"INTEGER"}}}]"#,
        ));
        let rows: Vec<JsonRow> =
            serde_json::from_str(r#"[{"kind":"INSERT","fields":[{"1":2}]}]"#).unwrap();
        let (batch, _) = decoder.decode(&rows).unwrap();
        let shown = pretty_format_batches(&[batch]).unwrap().to_string();
        assert!(shown.contains(r#"{"1":2}"#), "{shown}");
    }
}
