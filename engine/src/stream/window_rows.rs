//! A window's own rows in a window join (Flink's `… JOIN … ON l.window_end = r.window_end`
//! over two window table functions, without aggregates): what the query does to them row by
//! row (projections, filters) runs each tick, and its rows wait until the watermark passes
//! their window's end; then they go, every row of that window, to the join
//! (`window_join.rs`).

use super::aggregate::fired_windows;
use super::kept_rows::KeptRows;
use super::micro_batch::MicroBatchTable;
use crate::error::EngineError;
use datafusion::arrow::compute::{filter_record_batch, not};
use datafusion::logical_expr::LogicalPlan;
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
    pub(crate) kept: KeptRows,
    close: RowsClose,
}

impl WindowRows {
    pub(crate) fn new(logical: LogicalPlan, table: Arc<MicroBatchTable>, close: RowsClose) -> Self {
        WindowRows {
            kept: KeptRows::new(logical, table),
            close,
        }
    }

    /// Puts the rows of the windows `watermark` closed in the table; false when none closed.
    pub(crate) fn pass_closed(&mut self, watermark: i64) -> Result<bool, EngineError> {
        let mut closed = Vec::new();
        let mut open = Vec::with_capacity(self.kept.batches.len());
        for batch in std::mem::take(&mut self.kept.batches) {
            let fired = fired_windows(&batch, self.close.column, self.close.offset_ms, watermark)?;
            let out = filter_record_batch(&batch, &fired)?;
            if out.num_rows() < batch.num_rows() {
                open.push(filter_record_batch(&batch, &not(&fired)?)?);
            }
            if out.num_rows() > 0 {
                closed.push(out);
            }
        }
        self.kept.batches = open;
        self.kept.pass(&closed)?;
        Ok(!closed.is_empty())
    }
}
