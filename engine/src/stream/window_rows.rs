//! A window's own rows in a window join (Flink's `… JOIN … ON l.window_end = r.window_end`
//! over two window table functions, without aggregates): what the query does to them row by
//! row (projections, filters) runs each tick, and its rows wait until the watermark passes
//! their window's end; then they go, every row of that window, to the join
//! (`window_join.rs`).

use super::aggregate::fired_windows;
use super::micro_batch::MicroBatchTable;
use crate::error::EngineError;
use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::arrow::compute::{filter_record_batch, not};
use datafusion::catalog::TableProvider;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{collect, ExecutionPlan};
use std::sync::Arc;

/// Which of the rows' columns ends their window: the column, plus `offset_ms` (a
/// window's size, when the rows carry `window_start` only).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowsClose {
    pub(crate) column: usize,
    pub(crate) offset_ms: i64,
}

/// Rows of open windows, waiting for the watermark.
pub(crate) struct WindowRows {
    /// What the query does to a window's rows before the join, over the micro-batch.
    pub(crate) logical: LogicalPlan,
    /// Where closed windows' rows go, weighted +1 (the join's input).
    table: Arc<MicroBatchTable>,
    close: RowsClose,
    kept: Vec<RecordBatch>,
}

impl WindowRows {
    pub(crate) fn new(logical: LogicalPlan, table: Arc<MicroBatchTable>, close: RowsClose) -> Self {
        WindowRows {
            logical,
            table,
            close,
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

    /// Puts the rows of the windows `watermark` closed in the table; false when none closed.
    pub(crate) fn pass_closed(&mut self, watermark: i64) -> Result<bool, EngineError> {
        self.table.set(Vec::new());
        let mut closed = Vec::new();
        let mut open = Vec::with_capacity(self.kept.len());
        for batch in std::mem::take(&mut self.kept) {
            let fired = fired_windows(&batch, self.close.column, self.close.offset_ms, watermark)?;
            let out = filter_record_batch(&batch, &fired)?;
            if out.num_rows() > 0 {
                let mut columns = out.columns().to_vec();
                columns.push(Arc::new(Int64Array::from(vec![1; out.num_rows()])));
                closed.push(RecordBatch::try_new(self.table.schema(), columns)?);
            }
            if out.num_rows() < batch.num_rows() {
                open.push(filter_record_batch(&batch, &not(&fired)?)?);
            }
        }
        self.kept = open;
        let any = !closed.is_empty();
        self.table.set(closed);
        Ok(any)
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
