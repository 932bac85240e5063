//! The values of the charted columns, read once from the Arrow batches: as JSON for the
//! Vega-Lite data, as numbers for the SVG, and as text for categories.

use super::Plan;
use chrono::DateTime;
use eddy_engine::arrow::array::{Array, ArrayRef, AsArray};
use eddy_engine::arrow::compute::cast;
use eddy_engine::arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimeUnit, TimestampMillisecondType, UInt64Type,
};
use eddy_engine::arrow::util::display::{ArrayFormatter, FormatOptions};
use eddy_engine::RowSet;
use serde_json::{Map, Value};

/// How a column is encoded: Vega-Lite's measurement types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Quantitative,
    Temporal,
    Nominal,
}

impl FieldKind {
    pub fn of(data_type: &DataType) -> FieldKind {
        match data_type {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..) => FieldKind::Quantitative,
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) => FieldKind::Temporal,
            DataType::Dictionary(_, value) => FieldKind::of(value),
            _ => FieldKind::Nominal,
        }
    }
}

/// One charted column, first `rows` values.
#[derive(Debug, Clone)]
pub struct ColumnData {
    pub name: String,
    pub kind: FieldKind,
    /// For Vega-Lite: numbers, ISO date-time strings, strings, booleans, null.
    pub json: Vec<Value>,
    /// Numbers for the SVG: the value, or milliseconds since the epoch for temporal columns.
    pub numbers: Vec<Option<f64>>,
    /// Each value as text (NULL as "null"), for categories, legends and labels.
    pub text: Vec<String>,
}

/// The charted columns (x, y, color), aligned by row.
#[derive(Debug, Clone)]
pub struct ChartData {
    /// Rows read (at most the cap).
    pub rows: usize,
    columns: Vec<(usize, ColumnData)>,
}

impl ChartData {
    pub fn extract(rows: &RowSet, plan: &Plan, max_rows: usize) -> ChartData {
        let mut wanted = vec![plan.x];
        wanted.extend(plan.y);
        wanted.extend(plan.color);
        wanted.dedup();
        let mut columns: Vec<(usize, ColumnData)> = Vec::new();
        for &index in &wanted {
            if columns.iter().any(|(i, _)| *i == index) {
                continue;
            }
            let field = rows.schema.field(index);
            let mut column = ColumnData {
                name: field.name().clone(),
                kind: FieldKind::of(field.data_type()),
                json: Vec::new(),
                numbers: Vec::new(),
                text: Vec::new(),
            };
            let mut left = max_rows;
            for batch in &rows.batches {
                if left == 0 {
                    break;
                }
                let take = batch.num_rows().min(left);
                left -= take;
                column.append(&batch.column(index).slice(0, take));
            }
            columns.push((index, column));
        }
        let count = columns.first().map_or(0, |(_, c)| c.json.len());
        ChartData {
            rows: count,
            columns,
        }
    }

    pub fn column(&self, index: usize) -> &ColumnData {
        &self
            .columns
            .iter()
            .find(|(i, _)| *i == index)
            .expect("a charted column")
            .1
    }

    /// The rows as JSON objects keyed by column name, for Vega-Lite's inline data.
    pub fn records(&self) -> Vec<Value> {
        (0..self.rows)
            .map(|row| {
                let record: Map<String, Value> = self
                    .columns
                    .iter()
                    .map(|(_, c)| (c.name.clone(), c.json[row].clone()))
                    .collect();
                Value::Object(record)
            })
            .collect()
    }
}

impl ColumnData {
    fn append(&mut self, array: &ArrayRef) {
        let options = FormatOptions::default().with_null("null");
        match ArrayFormatter::try_new(array.as_ref(), &options) {
            Ok(formatter) => self
                .text
                .extend((0..array.len()).map(|row| formatter.value(row).to_string())),
            Err(error) => self
                .text
                .extend((0..array.len()).map(|_| format!("({error})"))),
        }
        let numbers = numbers(array, self.kind);
        let json: Vec<Value> = match self.kind {
            FieldKind::Quantitative => quantitative_json(array, &numbers),
            FieldKind::Temporal => temporal_json(array, &numbers, &self.text),
            FieldKind::Nominal => match array.data_type() {
                DataType::Boolean => {
                    let booleans = array.as_boolean();
                    booleans
                        .iter()
                        .map(|b| b.map_or(Value::Null, Value::Bool))
                        .collect()
                }
                _ => (0..array.len())
                    .map(|row| {
                        if array.is_null(row) {
                            Value::Null
                        } else {
                            Value::String(self.text[self.text.len() - array.len() + row].clone())
                        }
                    })
                    .collect(),
            },
        };
        self.json.extend(json);
        self.numbers.extend(numbers);
    }
}

/// Numbers of a quantitative column, milliseconds of a temporal one, nothing for others.
fn numbers(array: &ArrayRef, kind: FieldKind) -> Vec<Option<f64>> {
    let none = || vec![None; array.len()];
    match kind {
        FieldKind::Quantitative => match cast(array, &DataType::Float64) {
            Ok(floats) => floats
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.filter(|v| v.is_finite()))
                .collect(),
            Err(_) => none(),
        },
        FieldKind::Temporal => {
            let zone = match array.data_type() {
                DataType::Timestamp(_, zone) => zone.clone(),
                _ => None,
            };
            match cast(array, &DataType::Timestamp(TimeUnit::Millisecond, zone)) {
                Ok(millis) => millis
                    .as_primitive::<TimestampMillisecondType>()
                    .iter()
                    .map(|v| v.map(|v| v as f64))
                    .collect(),
                Err(_) => none(),
            }
        }
        FieldKind::Nominal => none(),
    }
}

fn quantitative_json(array: &ArrayRef, numbers: &[Option<f64>]) -> Vec<Value> {
    let from_floats = || {
        numbers
            .iter()
            .map(|v| v.map_or(Value::Null, Value::from))
            .collect()
    };
    let data_type = match array.data_type() {
        DataType::Dictionary(_, value) => value.as_ref(),
        other => other,
    };
    match data_type {
        DataType::UInt64 => match cast(array, &DataType::UInt64) {
            Ok(ints) => ints
                .as_primitive::<UInt64Type>()
                .iter()
                .map(|v| v.map_or(Value::Null, Value::from))
                .collect(),
            Err(_) => from_floats(),
        },
        t if t.is_integer() => match cast(array, &DataType::Int64) {
            Ok(ints) => ints
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map_or(Value::Null, Value::from))
                .collect(),
            Err(_) => from_floats(),
        },
        _ => from_floats(),
    }
}

/// Dates and times without a zone as local ISO strings ("2024-05-01T00:00:00"), which
/// browsers read as local wall-clock time and so show as written; with a zone, as the
/// formatter writes them (with their offset).
fn temporal_json(array: &ArrayRef, millis: &[Option<f64>], text: &[String]) -> Vec<Value> {
    let zoned = matches!(array.data_type(), DataType::Timestamp(_, Some(_)));
    let text = &text[text.len() - array.len()..];
    millis
        .iter()
        .zip(text)
        .map(|(ms, text)| match ms {
            None => Value::Null,
            Some(_) if zoned => Value::String(text.clone()),
            Some(ms) => DateTime::from_timestamp_millis(*ms as i64)
                .map(|t| Value::String(t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.3f").to_string()))
                .unwrap_or(Value::Null),
        })
        .collect()
}
