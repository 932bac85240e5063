//! A window's own rows in a window join (Flink's `… JOIN … ON l.window_end = r.window_end`
//! over two window table functions, without aggregates): what the query does to them row by
//! row (projections, filters) runs each tick, and its rows wait until the watermark passes
//! their window's end; then they go, every row of that window, to the join
//! (`window_join.rs`).

use super::aggregate::fired_windows;
use super::kept_rows::KeptRows;
use super::micro_batch::MicroBatchTable;
use super::window_close::WindowClose;
use crate::error::EngineError;
use datafusion::arrow::compute::{filter_record_batch, not};
use datafusion::logical_expr::LogicalPlan;
use std::sync::Arc;

/// Rows of open windows, waiting for the watermark.
pub(crate) struct WindowRows {
    pub(crate) kept: KeptRows,
    close: WindowClose,
}

impl WindowRows {
    pub(crate) fn new(
        logical: LogicalPlan,
        table: Arc<MicroBatchTable>,
        close: WindowClose,
    ) -> Self {
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
