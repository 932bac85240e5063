//! Rows a window join keeps between ticks (`window_rows.rs`, `stream_rows.rs`): what a plan
//! gives over each tick's rows, until they go into the join's table for a run of the query,
//! weighted +1.

use super::micro_batch::MicroBatchTable;
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
    pub(crate) batches: Vec<RecordBatch>,
}

impl KeptRows {
    pub(crate) fn new(logical: LogicalPlan, table: Arc<MicroBatchTable>) -> Self {
        KeptRows {
            logical,
            table,
            batches: Vec::new(),
        }
    }

    /// Keeps what the plan gives over a tick's rows.
    pub(crate) async fn fold(
        &mut self,
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
    ) -> Result<(), EngineError> {
        let rows = collect(plan, task).await?;
        self.batches
            .extend(rows.into_iter().filter(|b| b.num_rows() > 0));
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
