//! The stream's own rows in a join with a window aggregate of the same stream, bounded in
//! event time (Nexmark q7: each bid met with the highest price of the ten seconds up to
//! it, `B.t BETWEEN B1.window_end - INTERVAL '10' SECOND AND B1.window_end`).
//!
//! What the query does to the stream's rows before the join (projections, filters) runs each
//! tick, and its rows are kept while a window row still to come may meet them; the join
//! (`window_join.rs`) reads all of them each time it meets window rows.

use super::micro_batch::MicroBatchTable;
use super::window::millis;
use crate::error::EngineError;
use datafusion::arrow::array::{Array, BooleanArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::catalog::TableProvider;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{collect, ExecutionPlan};
use std::sync::Arc;

/// The stream's rows a window join still needs.
pub(crate) struct StreamRows {
    /// What the query does to the stream's rows before the join, over the micro-batch.
    pub(crate) logical: LogicalPlan,
    /// Where the kept rows go, weighted +1, when the join runs.
    table: Arc<MicroBatchTable>,
    /// The column of the kept rows that holds their event time.
    time_column: usize,
    kept: Vec<RecordBatch>,
}

impl StreamRows {
    pub(crate) fn new(
        logical: LogicalPlan,
        table: Arc<MicroBatchTable>,
        time_column: usize,
    ) -> Self {
        StreamRows {
            logical,
            table,
            time_column,
            kept: Vec::new(),
        }
    }

    /// Keeps what the plan gives over a tick's rows.
    pub(crate) async fn fold(
        &mut self,
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
    ) -> Result<(), EngineError> {
        let rows = collect(plan, task).await?;
        self.kept
            .extend(rows.into_iter().filter(|b| b.num_rows() > 0));
        Ok(())
    }

    /// Puts every kept row in the table, for the join to read.
    pub(crate) fn pass_all(&self) -> Result<(), EngineError> {
        let mut rows = Vec::with_capacity(self.kept.len());
        for batch in &self.kept {
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(Int64Array::from(vec![1; batch.num_rows()])));
            rows.push(RecordBatch::try_new(self.table.schema(), columns)?);
        }
        self.table.set(rows);
        Ok(())
    }

    /// Drops the rows whose event time is below `before_ms`: no window row to come meets
    /// them.
    pub(crate) fn expire(&mut self, before_ms: i64) -> Result<(), EngineError> {
        let mut kept = Vec::with_capacity(self.kept.len());
        for batch in std::mem::take(&mut self.kept) {
            let times = millis(batch.column(self.time_column))?;
            let keep: BooleanArray = (0..times.len())
                .map(|i| Some(times.is_valid(i) && times.value(i) >= before_ms))
                .collect();
            let rest = filter_record_batch(&batch, &keep)?;
            if rest.num_rows() > 0 {
                kept.push(rest);
            }
        }
        self.kept = kept;
        Ok(())
    }

    pub(crate) fn clear(&self) {
        self.table.set(Vec::new());
    }

    pub(crate) fn bytes(&self) -> usize {
        self.kept
            .iter()
            .map(RecordBatch::get_array_memory_size)
            .sum()
    }

    pub(crate) fn rows(&self) -> usize {
        self.kept.iter().map(RecordBatch::num_rows).sum()
    }
}
