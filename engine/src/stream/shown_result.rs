//! An updating result as last shown: a multiset of rows in which the rows of what changed
//! (keys, partitions) are replaced, so keeping it costs the change and not the result.

use super::keyed_rows::KeyedRows;
use crate::error::EngineError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;

#[derive(Default)]
pub(crate) struct ShownResult {
    rows: Option<KeyedRows>,
}

impl ShownResult {
    /// Replaces rows `old` by `new`. False when an old row is not there (the old rows found
    /// are taken out and the new ones put in all the same): a result row came out different
    /// the second time it was worked out (a function of the clock or chance in the query),
    /// and the caller then [`reset`](Self::reset)s the result whole; or, over a changelog
    /// source, a row was taken back whose insert came before the query started reading.
    pub(crate) fn replace(
        &mut self,
        schema: &SchemaRef,
        old: &[RecordBatch],
        new: Vec<RecordBatch>,
    ) -> Result<bool, EngineError> {
        let rows = match &mut self.rows {
            Some(rows) => rows,
            None => self.rows.insert(empty(schema)?),
        };
        let old = concat_batches(schema, old)?;
        let keys = rows.keys_of(&old)?;
        let removed = rows.take(keys.iter().map(|k| k.data()))?;
        for batch in new {
            rows.insert(batch)?;
        }
        Ok(removed.num_rows() == old.num_rows())
    }

    /// The result, worked out whole.
    pub(crate) fn reset(
        &mut self,
        schema: &SchemaRef,
        all: Vec<RecordBatch>,
    ) -> Result<(), EngineError> {
        let mut rows = empty(schema)?;
        for batch in all {
            rows.insert(batch)?;
        }
        self.rows = Some(rows);
        Ok(())
    }

    /// Bytes the result as shown holds.
    pub(crate) fn bytes(&self) -> usize {
        self.rows.as_ref().map_or(0, KeyedRows::bytes)
    }

    pub(crate) fn batches(&self) -> Result<Vec<RecordBatch>, EngineError> {
        match &self.rows {
            Some(rows) => rows.batches(),
            None => Ok(Vec::new()),
        }
    }
}

/// Rows keyed by all their columns.
fn empty(schema: &SchemaRef) -> Result<KeyedRows, EngineError> {
    KeyedRows::new(schema.clone(), (0..schema.fields().len()).collect())
}
