//! Rows a window join keeps between ticks (`window_rows.rs`, `stream_rows.rs`): what a plan
//! gives over each tick's rows, until they go into the join's table for a run of the query,
//! weighted +1.

use super::aggregate::earliest_end;
use super::micro_batch::MicroBatchTable;
use super::window_close::WindowClose;
use crate::error::EngineError;
use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::catalog::TableProvider;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{collect, ExecutionPlan};
use std::sync::Arc;

/// A plan's rows, kept, and the table they go into.
pub(crate) struct KeptRows {
    /// What the query does to the rows before the join, over the micro-batch.
    pub(crate) logical: LogicalPlan,
    table: Arc<MicroBatchTable>,
    batches: Vec<RecordBatch>,
    /// The column of the rows whose time, plus `offset_ms`, says when they may go (a
    /// window's end, an event time), and the least such time kept: until the watermark
    /// reaches it, the rows need not be read.
    time: WindowClose,
    earliest: Option<i64>,
}

impl KeptRows {
    pub(crate) fn new(
        logical: LogicalPlan,
        table: Arc<MicroBatchTable>,
        time: WindowClose,
    ) -> Self {
        KeptRows {
            logical,
            table,
            batches: Vec::new(),
            time,
            earliest: None,
        }
    }

    /// Keeps what the plan gives over a tick's rows.
    pub(crate) async fn fold(
        &mut self,
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
    ) -> Result<(), EngineError> {
        let rows = collect(plan, task).await?;
        for batch in rows.into_iter().filter(|b| b.num_rows() > 0) {
            self.note_earliest(&batch)?;
            self.batches.push(batch);
        }
        Ok(())
    }

    pub(crate) fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }

    /// The least time kept (the time column plus the offset).
    pub(crate) fn earliest(&self) -> Option<i64> {
        self.earliest
    }

    /// Takes the kept rows out, to put back those that stay with [`KeptRows::keep`].
    pub(crate) fn take(&mut self) -> Vec<RecordBatch> {
        self.earliest = None;
        std::mem::take(&mut self.batches)
    }

    /// Keeps `batch` (of rows taken out).
    pub(crate) fn keep(&mut self, batch: RecordBatch) -> Result<(), EngineError> {
        if batch.num_rows() > 0 {
            self.note_earliest(&batch)?;
            self.batches.push(batch);
        }
        Ok(())
    }

    fn note_earliest(&mut self, batch: &RecordBatch) -> Result<(), EngineError> {
        let earliest = earliest_end(batch, self.time.column, self.time.offset_ms, None)?;
        self.earliest = match (self.earliest, earliest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(())
    }

    /// Puts `rows` (of the plan's schema) in the table, weighted +1.
    pub(crate) fn pass(&self, rows: &[RecordBatch]) -> Result<(), EngineError> {
        let mut weighted = Vec::with_capacity(rows.len());
        for batch in rows {
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(Int64Array::from(vec![1; batch.num_rows()])));
            weighted.push(RecordBatch::try_new(self.table.schema(), columns)?);
        }
        self.table.set(weighted);
        Ok(())
    }

    pub(crate) fn clear(&self) {
        self.table.set(Vec::new());
    }

    pub(crate) fn bytes(&self) -> usize {
        self.batches
            .iter()
            .map(RecordBatch::get_array_memory_size)
            .sum()
    }

    pub(crate) fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}
