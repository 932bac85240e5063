//! The stream's own rows in a join with a window aggregate of the same stream, bounded in
//! event time (Nexmark q7: each bid met with the highest price of the ten seconds up to
//! it, `B.t BETWEEN B1.window_end - INTERVAL '10' SECOND AND B1.window_end`).
//!
//! What the query does to the stream's rows before the join (projections, filters) runs each
//! tick, and its rows are kept while a window row still to come may meet them; the join
//! (`window_join.rs`) reads all of them each time it meets window rows.

use super::kept_rows::KeptRows;
use super::micro_batch::MicroBatchTable;
use super::window::millis;
use crate::error::EngineError;
use datafusion::arrow::array::{Array, BooleanArray};
use datafusion::arrow::compute::filter_record_batch;
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
        StreamRows {
            kept: KeptRows::new(logical, table),
            time_column,
        }
    }

    /// Puts every kept row in the table, for the join to read.
    pub(crate) fn pass_all(&self) -> Result<(), EngineError> {
        self.kept.pass(&self.kept.batches)
    }

    /// Drops the rows whose event time is below `before_ms`: no window row to come meets
    /// them.
    pub(crate) fn expire(&mut self, before_ms: i64) -> Result<(), EngineError> {
        let mut kept = Vec::with_capacity(self.kept.batches.len());
        for batch in std::mem::take(&mut self.kept.batches) {
            let times = millis(batch.column(self.time_column))?;
            let keep: BooleanArray = (0..times.len())
                .map(|i| Some(times.is_valid(i) && times.value(i) >= before_ms))
                .collect();
            let rest = filter_record_batch(&batch, &keep)?;
            if rest.num_rows() > 0 {
                kept.push(rest);
            }
        }
        self.kept.batches = kept;
        Ok(())
    }
}
