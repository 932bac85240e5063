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
            kept: KeptRows::new(logical, table, close),
            close,
        }
    }

    /// Puts the rows of the windows `watermark` closed in the table; false when none closed.
    pub(crate) fn pass_closed(&mut self, watermark: i64) -> Result<bool, EngineError> {
        // No kept window ends by the watermark: nothing to read.
        if self
            .kept
            .earliest()
            .is_none_or(|end| end.saturating_sub(1) > watermark)
        {
            self.kept.pass(&[])?;
            return Ok(false);
        }
        let mut closed = Vec::new();
        for batch in self.kept.take() {
            let fired = fired_windows(&batch, self.close.column, self.close.offset_ms, watermark)?;
            let out = filter_record_batch(&batch, &fired)?;
            if out.num_rows() < batch.num_rows() {
                self.kept
                    .keep(filter_record_batch(&batch, &not(&fired)?)?)?;
            }
            if out.num_rows() > 0 {
                closed.push(out);
            }
        }
        self.kept.pass(&closed)?;
        Ok(!closed.is_empty())
    }
}
