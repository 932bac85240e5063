//! Continuous queries over unbounded sources, by micro-batches over bounded DataFusion
//! plans (see ARCHITECTURE.md: DataFusion's own unbounded plans hold rows back and have no
//! watermarks or retractions).
//!
//! A query is started by [`crate::Engine::run`] and handed out as a [`ContinuousQuery`]:
//! the caller reads its [`StreamUpdate`]s, watches its [`StreamFigures`], and cancels it.

pub(crate) mod aggregate;
pub(crate) mod catalog;
mod changed_keys;
pub(crate) mod changelog;
pub(crate) mod changelog_source;
mod counted_multiset;
mod event_clock;
mod explain;
mod interval;
mod interval_join;
mod kept_rows;
pub(crate) mod keyed_rows;
mod live_groups;
mod merged_source;
pub(crate) mod micro_batch;
mod over_aggregate;
pub(crate) mod query;
mod retracting_aggregate;
mod runner;
mod running_aggregates;
mod session_window;
mod shown_result;
pub(crate) mod sink;
pub(crate) mod source;
pub(crate) mod source_report;
pub(crate) mod statement_set;
mod stream_join;
mod stream_rows;
pub(crate) mod tee;
mod tick_plan;
mod top_n;
mod updating_feed;
pub(crate) mod views;
pub(crate) mod watermark;
pub(crate) mod window;
mod window_close;
mod window_join;
mod window_rows;

use crate::error::EngineError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use changelog::changelog_schema;

/// How a continuous query's result changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamKind {
    /// Rows are only ever added: projections, filters, lookups, window aggregations.
    Append,
    /// Rows change as more input arrives: a `GROUP BY` without windows. Each update is the
    /// whole current result; `key` names the grouping columns that identify a row.
    Updating { key: Vec<String> },
    /// `INSERT INTO table SELECT …`: rows go into the table's sink (files, a blackhole,
    /// printed lines), not to the caller as a result.
    Sink { table: String },
    /// A statement set: several INSERTs run as one job reading each source once. Its
    /// updates are [`StreamUpdate::Into`] one of `tables`.
    StatementSet { tables: Vec<String> },
}

/// What a running query reports.
#[derive(Debug)]
pub enum StreamUpdate {
    /// New rows of an append-only result.
    Rows(Vec<RecordBatch>),
    /// The current result of an updating query, and the changelog rows (schema:
    /// [`changelog_schema`]) that led to it from the previous snapshot.
    Snapshot {
        rows: Vec<RecordBatch>,
        changes: RecordBatch,
    },
    /// A filesystem sink wrote another file: the files and rows written so far.
    Written { files: u64, rows: u64 },
    /// A kafka sink sent more records: the records sent into its topic so far.
    Produced { topic: String, records: u64 },
    /// A blackhole sink dropped more rows: the rows dropped so far.
    Discarded { rows: u64 },
    /// A print sink's new lines (`+I[…]`), and the rows printed so far.
    Printed { lines: Vec<String>, rows: u64 },
    /// What one INSERT of a statement set reports of its table.
    Into {
        table: String,
        update: Box<StreamUpdate>,
    },
}

/// Figures of a running query, updated as it runs.
#[derive(Debug)]
pub(crate) struct StreamStats {
    pub(crate) rows_in: AtomicU64,
    pub(crate) late_rows: AtomicU64,
    pub(crate) rows_out: AtomicU64,
    /// Milliseconds since the epoch; `i64::MIN` before the first watermark.
    pub(crate) watermark: AtomicI64,
    /// Keys held in aggregate state.
    pub(crate) keys: AtomicU64,
    /// Bytes of state the query holds (aggregates, kept join rows, Top-N rows, the result
    /// kept for display).
    pub(crate) state_bytes: AtomicU64,
    /// Micro-batches that took rows, the time they took in all, and the slowest one's.
    pub(crate) micro_batches: AtomicU64,
    pub(crate) micro_batch_nanos: AtomicU64,
    pub(crate) slowest_micro_batch_nanos: AtomicU64,
}

impl Default for StreamStats {
    /// No rows yet, and no watermark.
    fn default() -> Self {
        StreamStats {
            rows_in: AtomicU64::default(),
            late_rows: AtomicU64::default(),
            rows_out: AtomicU64::default(),
            watermark: AtomicI64::new(i64::MIN),
            keys: AtomicU64::default(),
            state_bytes: AtomicU64::default(),
            micro_batches: AtomicU64::default(),
            micro_batch_nanos: AtomicU64::default(),
            slowest_micro_batch_nanos: AtomicU64::default(),
        }
    }
}

/// How often an updating query recomputes what it shows until the display says (ms).
pub(crate) const DEFAULT_EMIT_INTERVAL_MS: u64 = 500;

/// A copy of a query's figures at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamFigures {
    pub elapsed: Duration,
    pub rows_in: u64,
    /// Rows dropped because they came after the watermark had passed their windows.
    pub late_rows: u64,
    pub rows_out: u64,
    /// The watermark in milliseconds since the epoch, once there is one.
    pub watermark_ms: Option<i64>,
    /// Keys (groups or open windows) the query holds state for.
    pub state_keys: u64,
    /// Bytes of state the query holds.
    pub state_bytes: u64,
    /// Malformed lines the source skipped (`*.ignore-parse-errors`), or rows without an
    /// event time a replay dropped.
    pub skipped_rows: u64,
    /// Micro-batches that took rows, and the time they took in all: whether the work of a
    /// micro-batch grows with the state shows here.
    pub micro_batches: u64,
    pub micro_batch_time: Duration,
    pub slowest_micro_batch: Duration,
    /// Records the source is behind the end of its input (a Kafka consumer's lag), when it
    /// knows.
    pub source_lag: Option<u64>,
    /// What the source is riding out (a broker that went away), while it lasts.
    pub source_trouble: Option<String>,
    /// Where the query runs when not in this process (`Flink job … at flink://…`); its
    /// rows in are then the result's rows received.
    pub ran_on: Option<String>,
}

/// How a query ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// Its bounded sources ended and every open window was flushed.
    Finished,
    /// It was cancelled; what it had emitted stands.
    Cancelled,
}

/// Cancels a running query from anywhere (an interrupt, `%cancel`, shutdown).
#[derive(Debug, Clone)]
pub struct Canceller(CancellationToken);

impl Canceller {
    pub fn cancel(&self) {
        self.0.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// A continuous query running on the engine's runtime.
pub struct ContinuousQuery {
    schema: SchemaRef,
    kind: StreamKind,
    bounded: bool,
    updates: mpsc::Receiver<StreamUpdate>,
    cancel: CancellationToken,
    stats: Arc<StreamStats>,
    started: Instant,
    emit_interval: Arc<AtomicU64>,
    /// The table's count of skipped rows, and its value when the query started.
    skipped: Option<(Arc<AtomicU64>, u64)>,
    /// What the source says of itself (lag, trouble), if it says anything.
    report: Option<Arc<source_report::SourceReport>>,
    task: Option<JoinHandle<Result<StreamEnd, EngineError>>>,
    /// A statement set's queries, whose figures are the set's (their updates and ends go
    /// through `updates` and `task`).
    parts: Vec<ContinuousQuery>,
    /// Where the query runs when not in this process (a Flink job).
    ran_on: Option<String>,
}

/// What a query run elsewhere (a Flink job whose result is fetched) reports through: the
/// task that fetches its result feeds these, as a runner of this process would.
pub(crate) struct RemoteFeed {
    pub(crate) updates: mpsc::Sender<StreamUpdate>,
    pub(crate) cancel: CancellationToken,
    pub(crate) stats: Arc<StreamStats>,
    pub(crate) emit_interval: Arc<AtomicU64>,
}

impl ContinuousQuery {
    /// A query that runs elsewhere (`ran_on` says where), its result fed by the task `feed`
    /// makes; the task sees the cancel and ends.
    pub(crate) fn run_elsewhere<F, Fut>(
        schema: SchemaRef,
        kind: StreamKind,
        ran_on: String,
        feed: F,
    ) -> ContinuousQuery
    where
        F: FnOnce(RemoteFeed) -> Fut,
        Fut: std::future::Future<Output = Result<StreamEnd, EngineError>> + Send + 'static,
    {
        let (updates_tx, updates_rx) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        let stats = Arc::new(StreamStats::default());
        let emit_interval = Arc::new(AtomicU64::new(DEFAULT_EMIT_INTERVAL_MS));
        let task = tokio::spawn(feed(RemoteFeed {
            updates: updates_tx,
            cancel: cancel.clone(),
            stats: stats.clone(),
            emit_interval: emit_interval.clone(),
        }));
        ContinuousQuery {
            schema,
            kind,
            bounded: false,
            updates: updates_rx,
            cancel,
            stats,
            started: Instant::now(),
            emit_interval,
            skipped: None,
            report: None,
            task: Some(task),
            parts: Vec::new(),
            ran_on: Some(ran_on),
        }
    }

    /// The schema of the result rows (of the sink's rows, for `INSERT INTO`).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn kind(&self) -> &StreamKind {
        &self.kind
    }

    /// Whether every source ends by itself, so the query finishes without a cancel.
    pub fn is_bounded(&self) -> bool {
        self.bounded
    }

    /// The next update; `None` once the query has ended (then [`Self::finish`] says how).
    pub async fn next_update(&mut self) -> Option<StreamUpdate> {
        self.updates.recv().await
    }

    /// How often an updating query recomputes its snapshot (the display's refresh rate).
    pub fn set_emit_interval(&self, interval: Duration) {
        self.emit_interval
            .store(interval.as_millis() as u64, Ordering::Relaxed);
        for part in &self.parts {
            part.set_emit_interval(interval);
        }
    }

    pub fn canceller(&self) -> Canceller {
        Canceller(self.cancel.clone())
    }

    pub fn figures(&self) -> StreamFigures {
        if !self.parts.is_empty() {
            return statement_set::figures(&self.parts, self.started);
        }
        let watermark = self.stats.watermark.load(Ordering::Relaxed);
        StreamFigures {
            elapsed: self.started.elapsed(),
            rows_in: self.stats.rows_in.load(Ordering::Relaxed),
            late_rows: self.stats.late_rows.load(Ordering::Relaxed),
            rows_out: self.stats.rows_out.load(Ordering::Relaxed),
            watermark_ms: (watermark != i64::MIN).then_some(watermark),
            state_keys: self.stats.keys.load(Ordering::Relaxed),
            state_bytes: self.stats.state_bytes.load(Ordering::Relaxed),
            skipped_rows: self.skipped.as_ref().map_or(0, |(count, before)| {
                count.load(Ordering::Relaxed).saturating_sub(*before)
            }),
            micro_batches: self.stats.micro_batches.load(Ordering::Relaxed),
            micro_batch_time: Duration::from_nanos(
                self.stats.micro_batch_nanos.load(Ordering::Relaxed),
            ),
            slowest_micro_batch: Duration::from_nanos(
                self.stats.slowest_micro_batch_nanos.load(Ordering::Relaxed),
            ),
            source_lag: self.report.as_ref().and_then(|r| r.lag()),
            source_trouble: self.report.as_ref().and_then(|r| r.trouble()),
            ran_on: self.ran_on.clone(),
        }
    }

    /// Waits for the query to end (call after `next_update` returned `None`, or after
    /// cancelling).
    pub async fn finish(&mut self) -> Result<StreamEnd, EngineError> {
        let Some(task) = self.task.take() else {
            return Ok(StreamEnd::Cancelled);
        };
        match task.await {
            Ok(outcome) => outcome,
            Err(e) => {
                let reason = match e.try_into_panic() {
                    Ok(payload) => match (
                        payload.downcast_ref::<&str>(),
                        payload.downcast_ref::<String>(),
                    ) {
                        (Some(text), _) => format!("Eddy hit a bug (a panic: {text})"),
                        (_, Some(text)) => format!("Eddy hit a bug (a panic: {text})"),
                        _ => "Eddy hit a bug (a panic)".to_string(),
                    },
                    Err(e) => e.to_string(),
                };
                Err(EngineError::Internal {
                    message: format!(
                        "the continuous query stopped: {reason}. The session and its other \
                         queries are intact; please report this, with the query"
                    ),
                    source: None,
                })
            }
        }
    }
}

impl std::fmt::Debug for ContinuousQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContinuousQuery")
            .field("kind", &self.kind)
            .field("bounded", &self.bounded)
            .finish_non_exhaustive()
    }
}

impl Drop for ContinuousQuery {
    /// Dropping the handle stops the query.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
