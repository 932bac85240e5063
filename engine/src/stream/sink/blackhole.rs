//! Flink's `blackhole` sink: rows are counted and dropped. A query runs in full (its
//! figures show how fast), with nothing kept or shown; Nexmark's queries all write into one.

use super::Sink;
use crate::error::EngineError;
use crate::stream::StreamUpdate;
use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;

#[derive(Default)]
pub(super) struct Blackhole {
    rows: u64,
    reported: u64,
}

#[async_trait]
impl Sink for Blackhole {
    fn append(&mut self, batches: Vec<RecordBatch>) -> Result<(), EngineError> {
        self.rows += batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        Ok(())
    }

    fn change(&mut self, changes: RecordBatch) {
        self.rows += changes.num_rows() as u64;
    }

    async fn flush(
        &mut self,
        _end: bool,
        _watermark: Option<i64>,
    ) -> Result<Option<StreamUpdate>, EngineError> {
        if self.rows == self.reported {
            return Ok(None);
        }
        self.reported = self.rows;
        Ok(Some(StreamUpdate::Discarded { rows: self.rows }))
    }
}
