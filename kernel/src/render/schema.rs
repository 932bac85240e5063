//! A table's schema shown as a result: one row per column.

use super::sql_type_name;
use eddy_engine::arrow::array::{ArrayRef, RecordBatch, StringArray};
use eddy_engine::arrow::datatypes::{DataType, Field, Schema};
use eddy_engine::RowSet;
use std::sync::Arc;

/// A table's schema as rows of (column, type, nullable), shown like any result.
pub fn schema_rows(schema: &Schema) -> RowSet {
    let text_column = |values: Vec<String>| Arc::new(StringArray::from(values)) as ArrayRef;
    let columns: Vec<ArrayRef> = vec![
        text_column(schema.fields().iter().map(|f| f.name().clone()).collect()),
        text_column(
            schema
                .fields()
                .iter()
                .map(|f| sql_type_name(f.data_type()))
                .collect(),
        ),
        text_column(
            schema
                .fields()
                .iter()
                .map(|f| if f.is_nullable() { "YES" } else { "NO" }.to_string())
                .collect(),
        ),
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("column", DataType::Utf8, false),
        Field::new("type", DataType::Utf8, false),
        Field::new("nullable", DataType::Utf8, false),
    ]));
    let total_rows = columns[0].len();
    let batches = RecordBatch::try_new(schema.clone(), columns)
        .map(|b| vec![b])
        .unwrap_or_default();
    RowSet {
        schema,
        batches,
        total_rows,
        skipped_rows: 0,
        ran_on: None,
    }
}
