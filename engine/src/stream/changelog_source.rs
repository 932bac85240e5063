//! A source of changes rather than of rows: a topic of change events (`debezium-json`,
//! `canal-json`) or an upsert topic read as the latest row of each key. Such a table is
//! updating: a row may be taken back (a delete, or the old side of an update).
//!
//! The source sends each row with its weight in a last column, [`WEIGHT`]: +1 for a row that
//! came (`+I`, `+U`), -1 for one that went (`-U`, `-D`). Each tick the query runs once over
//! the rows that came and once over those that went, as over the two halves of an outer join
//! of streams (`stream_join.rs`): what it does row by row keeps each row's weight, and a
//! GROUP BY over that folds weighted rows (`retracting_aggregate.rs`). Within a tick the order
//! of the changes does not matter: a group's sums and counted values, and the result kept for
//! display, only add up weights.

use super::retracting_aggregate::WEIGHT;
use crate::error::EngineError;
use datafusion::arrow::array::{AsArray, BooleanArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use std::sync::Arc;

/// `schema` with the weight as its last column: the schema a changelog source sends.
pub(crate) fn weighted_schema(schema: &Schema) -> SchemaRef {
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(WEIGHT, DataType::Int64, false)));
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Whether `schema` is a changelog source's: its last column the weight.
pub(crate) fn is_weighted(schema: &Schema) -> bool {
    schema.fields().last().is_some_and(|f| f.name() == WEIGHT)
}

/// `rows` of a table, each weighing `weight`, as a changelog source sends them.
pub(crate) fn weigh(rows: &RecordBatch, weight: i64) -> Result<RecordBatch, EngineError> {
    let mut columns = rows.columns().to_vec();
    columns.push(Arc::new(Int64Array::from(vec![weight; rows.num_rows()])));
    Ok(RecordBatch::try_new(
        weighted_schema(rows.schema().as_ref()),
        columns,
    )?)
}

/// The rows that came and the rows that went in `batches` (a changelog source's, weighted),
/// without their weight, in `schema` (the table's).
pub(crate) fn runs(
    batches: Vec<RecordBatch>,
    schema: &SchemaRef,
) -> Result<(Vec<RecordBatch>, Vec<RecordBatch>), EngineError> {
    let mut came = Vec::new();
    let mut went = Vec::new();
    for batch in batches {
        let Some(last) = batch.num_columns().checked_sub(1) else {
            continue;
        };
        let weights = batch
            .column(last)
            .as_primitive_opt::<Int64Type>()
            .filter(|_| is_weighted(batch.schema().as_ref()))
            .ok_or_else(|| EngineError::Internal {
                message: "a changelog source sent rows without their weight".into(),
                source: None,
            })?;
        let rows = RecordBatch::try_new(schema.clone(), batch.columns()[..last].to_vec())?;
        let positive: BooleanArray = weights.iter().map(|w| Some(w.unwrap_or(0) > 0)).collect();
        if positive.true_count() == rows.num_rows() {
            came.push(rows);
            continue;
        }
        if positive.true_count() == 0 {
            went.push(rows);
            continue;
        }
        let negative = datafusion::arrow::compute::not(&positive)?;
        came.push(filter_record_batch(&rows, &positive)?);
        went.push(filter_record_batch(&rows, &negative)?);
    }
    Ok((came, went))
}

/// The rows that came and went in a tick's `batches` of several inputs (tagged by input,
/// `merged_source.rs`), `changelog` saying which inputs send changes: an append-only
/// input's rows all came. Each batch keeps its input's tag; the weight is dropped.
pub(crate) fn runs_by_input(
    batches: Vec<RecordBatch>,
    changelog: &[bool],
) -> Result<(Vec<RecordBatch>, Vec<RecordBatch>), EngineError> {
    let mut came = Vec::new();
    let mut went = Vec::new();
    for batch in batches {
        let input = super::merged_source::input_of(&batch);
        if !changelog.get(input).copied().unwrap_or(false) {
            came.push(batch);
            continue;
        }
        let schema = batch.schema();
        let Some(last) = batch
            .num_columns()
            .checked_sub(1)
            .filter(|_| is_weighted(&schema))
        else {
            return Err(EngineError::Internal {
                message: "a changelog source sent rows without their weight".into(),
                source: None,
            });
        };
        // The table's columns, the input's tag kept.
        let fields: Vec<Arc<Field>> = schema.fields()[..last].to_vec();
        let rows_schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        let (mut c, mut w) = runs(vec![batch], &rows_schema)?;
        came.append(&mut c);
        went.append(&mut w);
    }
    Ok((came, went))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, StringArray};

    fn names(batches: &[RecordBatch]) -> Vec<String> {
        batches
            .iter()
            .flat_map(|b| {
                let names = b.column(0).as_string::<i32>();
                (0..names.len())
                    .map(|i| names.value(i).to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn rows_are_parted_by_their_weight_and_lose_it() {
        let schema = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, false)]));
        let rows = |values: &[&str]| {
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(StringArray::from(values.to_vec()))],
            )
            .unwrap()
        };
        let came = weigh(&rows(&["a", "b"]), 1).unwrap();
        let went = weigh(&rows(&["c"]), -1).unwrap();
        assert!(is_weighted(came.schema().as_ref()));
        let mixed =
            datafusion::arrow::compute::concat_batches(&came.schema(), &[came, went]).unwrap();
        let (came, went) = runs(vec![mixed], &schema).unwrap();
        assert_eq!(names(&came), ["a", "b"]);
        assert_eq!(names(&went), ["c"]);
        assert_eq!(came[0].schema(), schema);
    }

    #[test]
    fn rows_without_a_weight_are_an_internal_error() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1]))])
            .unwrap();
        assert!(runs(vec![batch], &schema).is_err());
    }
}
