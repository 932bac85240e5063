//! The datagen source: batches of rows, paced to the table's rate.

use super::columns::{generator, Column};
use super::options::Plan;
use super::TICK;
use crate::error::EngineError;
use crate::stream::catalog::SourceFactory;
use crate::stream::source::{BatchSender, StreamSource};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::context::SessionContext;
use futures::future::BoxFuture;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

pub(super) struct DatagenFactory {
    pub(super) plan: Arc<Plan>,
}

impl SourceFactory for DatagenFactory {
    fn open(&self, _ctx: &SessionContext) -> Result<Box<dyn StreamSource>, EngineError> {
        Ok(Box::new(DatagenSource::new(self.plan.clone())?))
    }
}

/// One query's generator.
pub(super) struct DatagenSource {
    pub(super) plan: Arc<Plan>,
    pub(super) columns: Vec<Box<dyn Column>>,
}

impl DatagenSource {
    pub(super) fn new(plan: Arc<Plan>) -> Result<Self, EngineError> {
        let seed = plan.seed.unwrap_or_else(rand::random);
        let columns = plan
            .columns
            .iter()
            .enumerate()
            .map(|(index, column)| {
                // Each column its own stream of random numbers, so that the values of one do
                // not depend on the batch sizes or on the other columns.
                let rng = SmallRng::seed_from_u64(
                    seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                generator(column, rng)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DatagenSource { plan, columns })
    }

    /// Rows `first .. first + rows` of the stream.
    pub(super) fn batch(&mut self, first: u64, rows: usize) -> Result<RecordBatch, EngineError> {
        let now = wall_clock_nanos();
        let arrays = self
            .columns
            .iter_mut()
            .map(|column| column.generate(first, rows, now))
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new(self.plan.schema.clone(), arrays).map_err(|e| EngineError::Internal {
            message: format!(
                "datagen for table {} made a bad batch: {e}",
                self.plan.table
            ),
            source: Some(Box::new(e)),
        })
    }

    async fn run_paced(mut self, out: BatchSender) -> Result<(), EngineError> {
        let plan = self.plan.clone();
        let started = Instant::now();
        let mut sent: u64 = 0;
        // Rows per send at the rate: about one send per tick.
        let target = plan
            .rate
            .map(|rate| ((rate * TICK.as_secs_f64()) as usize).clamp(1, plan.max_batch));
        loop {
            let remaining = plan.total.map_or(u64::MAX, |total| total - sent);
            if remaining == 0 {
                return Ok(());
            }
            let rows = match (plan.rate, target) {
                (Some(rate), Some(target)) => {
                    let want = (target as u64).min(remaining);
                    let due = (started.elapsed().as_secs_f64() * rate) as u64;
                    if due < sent + want {
                        // Ahead of the rate: wait until `want` more rows are due.
                        let due_in = Duration::try_from_secs_f64((sent + want) as f64 / rate);
                        let Some(at) = due_in.ok().and_then(|d| started.checked_add(d)) else {
                            // Not due within the clock's range: nothing more comes.
                            out.closed().await;
                            return Ok(());
                        };
                        tokio::select! {
                            _ = tokio::time::sleep_until(at) => continue,
                            _ = out.closed() => return Ok(()),
                        }
                    }
                    (due - sent).min(plan.max_batch as u64).min(remaining)
                }
                _ => (plan.max_batch as u64).min(remaining),
            };
            let batch = self.batch(sent, rows as usize)?;
            if out.send(batch).await.is_err() {
                return Ok(());
            }
            sent += rows;
            if plan.rate.is_none() {
                // Unthrottled: let the query's other tasks run between batches.
                tokio::task::yield_now().await;
            }
        }
    }
}

impl StreamSource for DatagenSource {
    fn schema(&self) -> SchemaRef {
        self.plan.schema.clone()
    }

    fn is_bounded(&self) -> bool {
        self.plan.total.is_some()
    }

    fn run(self: Box<Self>, out: BatchSender) -> BoxFuture<'static, Result<(), EngineError>> {
        Box::pin(self.run_paced(out))
    }
}

pub(super) fn wall_clock_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
