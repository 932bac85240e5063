//! The nexmark source of one query: events cut into chunks of consecutive event numbers,
//! each chunk generated on a blocking thread (one chunk in flight per core), and the
//! batches sent in event order.

use super::batch::batch;
use super::schema::Column;
use crate::error::EngineError;
use crate::stream::catalog::SourceFactory;
use crate::stream::source::{BatchSender, StreamSource};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::context::SessionContext;
use futures::future::BoxFuture;
use futures::stream::{FuturesOrdered, StreamExt};
use nexmark::config::NexmarkConfig;
use nexmark::EventGenerator;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Events in a chunk when they go as fast as the query takes them.
const CHUNK: u64 = 8192;

/// When events are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pacing {
    /// As soon as they are made (and the query takes them).
    AsFastAsTaken,
    /// Each when its event time comes (`'rate.limited' = 'true'`).
    EventTime,
}

pub(super) struct NexmarkFactory {
    pub(super) config: NexmarkConfig,
    pub(super) columns: Vec<Column>,
    pub(super) schema: SchemaRef,
    /// `events.num`; `None` never ends.
    pub(super) events: Option<u64>,
    pub(super) pacing: Pacing,
    /// The first event's time (ms since the epoch); `None`: when the query starts.
    pub(super) base_time: Option<u64>,
}

impl SourceFactory for NexmarkFactory {
    fn open(&self, _ctx: &SessionContext) -> Result<Box<dyn StreamSource>, EngineError> {
        let mut config = self.config.clone();
        config.base_time = self.base_time.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64)
        });
        Ok(Box::new(NexmarkSource {
            config: Arc::new(config),
            columns: Arc::new(self.columns.clone()),
            schema: self.schema.clone(),
            events: self.events,
            pacing: self.pacing,
        }))
    }
}

struct NexmarkSource {
    config: Arc<NexmarkConfig>,
    columns: Arc<Vec<Column>>,
    schema: SchemaRef,
    events: Option<u64>,
    pacing: Pacing,
}

impl StreamSource for NexmarkSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn is_bounded(&self) -> bool {
        self.events.is_some()
    }

    fn run(self: Box<Self>, out: BatchSender) -> BoxFuture<'static, Result<(), EngineError>> {
        Box::pin(async move {
            let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
            // Paced events go out about every 10 ms; the rest in large chunks.
            let chunk = match self.pacing {
                Pacing::AsFastAsTaken => CHUNK,
                Pacing::EventTime => (self.config.first_rate as u64 / 100).clamp(1, CHUNK),
            };
            let started = Instant::now();
            let mut next_start = 0u64;
            let mut in_flight = FuturesOrdered::new();
            loop {
                while in_flight.len() < workers {
                    let remaining = self.events.map(|total| total.saturating_sub(next_start));
                    if remaining == Some(0) {
                        break;
                    }
                    let len = remaining.map_or(chunk, |r| r.min(chunk));
                    let (config, columns, schema) = (
                        self.config.clone(),
                        self.columns.clone(),
                        self.schema.clone(),
                    );
                    let start = next_start;
                    in_flight.push_back(tokio::task::spawn_blocking(move || {
                        generate(&config, start, len, &columns, &schema)
                    }));
                    next_start += len;
                }
                let Some(made) = in_flight.next().await else {
                    // Every event of a bounded table went out.
                    return Ok(());
                };
                let (batch, last_time) = made.map_err(|e| EngineError::Internal {
                    message: format!("the nexmark generator stopped: {e}"),
                    source: Some(Box::new(e)),
                })??;
                if self.pacing == Pacing::EventTime {
                    let due =
                        Duration::from_millis(last_time.saturating_sub(self.config.base_time));
                    tokio::time::sleep_until((started + due).into()).await;
                }
                if out.send(batch).await.is_err() {
                    return Ok(());
                }
            }
        })
    }
}

/// Events `start` to `start + len` as a batch, and the last one's time.
fn generate(
    config: &NexmarkConfig,
    start: u64,
    len: u64,
    columns: &[Column],
    schema: &SchemaRef,
) -> Result<(RecordBatch, u64), EngineError> {
    let events: Vec<_> = EventGenerator::new(config.clone())
        .with_offset(start)
        .take(len as usize)
        .collect();
    let last_time = events.last().map_or(config.base_time, |e| e.timestamp());
    Ok((batch(&events, columns, schema)?, last_time))
}
