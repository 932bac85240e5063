//! CSV text typed into a cell (`%table NAME` with lines below it), read into record batches.
//!
//! Reading needs no session, so a tool or a fuzzer can check any text against it without
//! DataFusion's execution in sight; the session only registers what was read.

use crate::error::EngineError;
use datafusion::arrow::csv::reader::{Format, ReaderBuilder};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use std::io::Cursor;
use std::sync::Arc;

/// CSV text read as a table: its schema and its rows.
#[derive(Debug)]
pub struct InlineCsv {
    /// The header line's names, with the types inferred from the values.
    pub schema: SchemaRef,
    /// The rows below the header.
    pub batches: Vec<RecordBatch>,
}

impl InlineCsv {
    /// The rows read.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Reads CSV text with a header line, each column's type inferred from all its values.
pub fn read_inline_csv(csv: &str) -> Result<InlineCsv, EngineError> {
    let format = Format::default().with_header(true);
    let (schema, _) = format.infer_schema(Cursor::new(csv.as_bytes()), None)?;
    let schema = Arc::new(schema);
    let reader = ReaderBuilder::new(schema.clone())
        .with_format(format)
        .build(Cursor::new(csv.as_bytes()))?;
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    Ok(InlineCsv { schema, batches })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::DataType;

    #[test]
    fn the_header_names_the_columns_and_the_values_type_them() {
        let table = read_inline_csv("city,people\nLyon,522000\nNantes,320000\n").expect("read");
        assert_eq!(table.rows(), 2);
        assert_eq!(table.schema.field(0).name(), "city");
        assert_eq!(table.schema.field(1).data_type(), &DataType::Int64);
    }

    #[test]
    fn a_row_of_the_wrong_width_is_an_error() {
        assert!(read_inline_csv("a,b\n1,2\n3\n").is_err());
    }
}
