//! The stream's own rows in a join with a window aggregate of the same stream, bounded in
//! event time (Nexmark q7: each bid met with the highest price of the ten seconds up to
//! it, `B.t BETWEEN B1.window_end - INTERVAL '10' SECOND AND B1.window_end`).
//!
//! What the query does to the stream's rows before the join (projections, filters) runs each
//! tick, and its rows are kept while a window row still to come may meet them; the join
//! (`window_join.rs`) reads all of them each time it meets window rows.

use super::kept_rows::KeptRows;
use super::micro_batch::MicroBatchTable;
use super::window::at_or_after;
use super::window_close::WindowClose;
use crate::error::EngineError;
use datafusion::logical_expr::LogicalPlan;
use std::sync::Arc;

/// The stream's rows a window join still needs.
pub(crate) struct StreamRows {
    pub(crate) kept: KeptRows,
    /// The column of the kept rows that holds their event time.
    time_column: usize,
}

impl StreamRows {
    pub(crate) fn new(
        logical: LogicalPlan,
        table: Arc<MicroBatchTable>,
        time_column: usize,
    ) -> Self {
        let time = WindowClose {
            column: time_column,
            offset_ms: 0,
        };
        StreamRows {
            kept: KeptRows::new(logical, table, time),
            time_column,
        }
    }

    /// Puts every kept row in the table, for the join to read.
    pub(crate) fn pass_all(&self) -> Result<(), EngineError> {
        self.kept.pass(self.kept.batches())
    }

    /// Drops the rows whose event time is below `before_ms`: no window row to come meets
    /// them.
    pub(crate) fn expire(&mut self, before_ms: i64) -> Result<(), EngineError> {
        if self.kept.earliest().is_none_or(|t| t >= before_ms) {
            return Ok(());
        }
        for batch in self.kept.take() {
            self.kept
                .keep(at_or_after(&batch, self.time_column, before_ms)?)?;
        }
        Ok(())
    }
}
