//! The loop of a running continuous query: every tick it takes the rows that arrived,
//! runs the view a window reads, assigns windows and drops late rows, advances the
//! watermark, runs the tick's bounded plan, folds aggregate state, and emits closed
//! windows, snapshots or sink files.

use super::aggregate::{self, AggregatePlan, KeyedState};
use super::changed_keys::ChangedKeys;
use super::changelog;
use super::changelog_source;
use super::event_clock::EventClock;
use super::micro_batch::MicroBatchTable;
use super::over_aggregate::{self, OverState};
use super::session_window::SessionBuffer;
use super::shown_result::ShownResult;
use super::sink::Sink;
use super::source::StreamSource;
use super::stream_join::StreamJoin;
use super::tick_plan::physical_plan;
use super::top_n::{self, TopNState};
use super::updating_feed::{UpdatingFeed, WeightedInput};
use super::views::ViewStage;
use super::watermark::WatermarkSpec;
use super::window::{self, millis, WindowSpec};
use super::window_close::WindowClose;
use super::window_join::WindowJoin;
use super::{StreamEnd, StreamStats, StreamUpdate};
use crate::error::EngineError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::max;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::collect;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{self, error::TryRecvError};
use tokio_util::sync::CancellationToken;

/// How often the query looks for new rows. Short, so a closed window shows within a
/// display refresh; the display itself throttles redraws.
const TICK: Duration = Duration::from_millis(50);
/// At most this many rows go into one micro-batch; more wait for the next tick.
const MAX_TICK_ROWS: usize = 1 << 18;

/// What a query keeps between ticks.
#[derive(Debug)]
pub(crate) enum Shape {
    /// Projections, filters, lookups: each tick's rows map to output rows.
    Stateless,
    /// An aggregation over windows: state per window and key, emitted when the window
    /// closes.
    Windowed {
        state_schema: SchemaRef,
        close: WindowClose,
    },
    /// An aggregation without windows: state per key, the result updated in place; `key`
    /// names the output's grouping columns. `by_key`: the result is worked out for the keys
    /// that changed only (a GROUP BY with only projections and filters over it).
    Updating {
        state_schema: SchemaRef,
        key: Vec<String>,
        by_key: bool,
    },
    /// A Top-N (`ROW_NUMBER() OVER (PARTITION BY …)` and a filter on it): the first rows of
    /// each partition, the result updated in place; `key` names the output's partition and
    /// rank columns. A window Top-N (partitioned by its window, over a window table
    /// function's rows) has `close`: each window's ranks go out once, when it closes.
    TopN {
        key: Vec<String>,
        close: Option<WindowClose>,
    },
    /// Rows that come and go (an outer or anti join of streams, with projections and filters
    /// over it): inserts and deletes, no state of its own.
    Changelog,
    /// An OVER aggregation ordered by the time column `time`: each row goes out once, with
    /// its aggregate, when the watermark passes it, or at once for a processing time
    /// (`over_aggregate.rs`), with what the logical plan says of its functions.
    Over {
        time: String,
        processing_time: bool,
        facts: over_aggregate::OverFacts,
    },
}

pub(crate) struct Runner {
    /// What the source says of itself: here, the state it keeps (counted with the query's).
    pub(crate) source_report: Option<Arc<super::source_report::SourceReport>>,
    pub(crate) state: SessionState,
    pub(crate) logical: LogicalPlan,
    pub(crate) schema: SchemaRef,
    pub(crate) slot: Arc<MicroBatchTable>,
    /// The other streams' micro-batch tables, for a query over several (their rows are
    /// tagged with their input, `merged_source.rs`).
    pub(crate) other_slots: Vec<Arc<MicroBatchTable>>,
    pub(crate) shape: Shape,
    /// The sides of a join of two streams, and the rows each kept.
    pub(crate) join: Option<StreamJoin>,
    /// The inner aggregate of an aggregate over an aggregate: it runs over the stream, and
    /// the query's plan over its changes.
    pub(crate) feed: Option<UpdatingFeed>,
    /// An outer or anti join of streams, or a changelog source: the query over it gives
    /// weighted rows, which are the result (a changelog) or what an aggregate over it reads.
    pub(crate) weighted: Option<WeightedInput>,
    /// The source sends changes, each row weighted (`changelog_source.rs`): the query runs
    /// over the rows that came, then over those that went.
    pub(crate) changelog_input: bool,
    /// For a join of several streams, which inputs send changes (`changelog_source.rs`).
    pub(crate) changelog_inputs: Vec<bool>,
    /// A join of window aggregates: they fold the rows of their windows, and the query's plan
    /// runs over the rows of the windows the watermark closes.
    pub(crate) window_join: Option<WindowJoin>,
    /// Flink's state TTL: the state of a key no row touched for this long is dropped.
    pub(crate) state_ttl: Option<Duration>,
    /// The engine's memory limit: a query whose state grows past it fails, saying which
    /// operator holds how much, rather than the process running out of memory.
    pub(crate) memory_limit: usize,
    pub(crate) window: Option<WindowSpec>,
    pub(crate) sessions: Option<SessionBuffer>,
    pub(crate) watermark: Option<WatermarkSpec>,
    /// The event time seen of each input, which the watermark trails.
    pub(crate) clock: EventClock,
    /// What CURRENT_WATERMARK reads: the watermark before the tick's rows moved it.
    pub(crate) watermark_now: Arc<std::sync::atomic::AtomicI64>,
    /// The view a window function reads: it runs over the source's rows before windows are
    /// assigned.
    pub(crate) view: Option<ViewStage>,
    pub(crate) sink: Option<Box<dyn Sink>>,
    pub(crate) key_columns: Vec<usize>,
    pub(crate) stats: Arc<StreamStats>,
    pub(crate) emit_interval: Arc<AtomicU64>,
    pub(crate) updates: mpsc::Sender<StreamUpdate>,
    pub(crate) cancel: CancellationToken,
}

/// Aborts the source's task when the query ends, whichever way.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The moving parts of a running query.
struct Progress {
    aggregate: Option<AggregatePlan>,
    keyed: Option<KeyedState>,
    /// An updating result worked out key by key: the keys changed since it was last shown.
    pending: ChangedKeys,
    /// The updating result as last shown, when it is worked out key by key.
    results: ShownResult,
    /// The updating result as last shown, when it is worked out whole.
    previous: Vec<RecordBatch>,
    top_n: TopNState,
    /// The Top-N's plan, from the last tick that ran it.
    top_n_plan: Option<top_n::TopNPlan>,
    /// An OVER aggregation's waiting and kept rows, and where it sits in the plan.
    over: OverState,
    over_plan: Option<over_aggregate::OverPlan>,
    /// A changelog result's rows that went and came since it was last shown.
    went: Vec<RecordBatch>,
    came: Vec<RecordBatch>,
    dirty: bool,
    last_snapshot: Instant,
    /// The latest processing time seen, in ms (event time is kept by the runner's clock).
    max_time: Option<i64>,
    /// No window of a window aggregate's state ends before this: a tick whose watermark is
    /// below it closes none, and the state is not read to find out.
    next_close: Option<i64>,
    watermark: Option<i64>,
    last_row_at: Instant,
}

impl Runner {
    pub(crate) async fn run(
        mut self,
        source: Box<dyn StreamSource>,
    ) -> Result<StreamEnd, EngineError> {
        let (rows_tx, mut rows) = mpsc::channel(16);
        let mut source_task = tokio::spawn(source.run(rows_tx));
        let _abort = AbortOnDrop(source_task.abort_handle());
        let cancel = self.cancel.clone();
        let mut progress = Progress {
            aggregate: None,
            keyed: match &self.shape {
                Shape::Stateless | Shape::TopN { .. } | Shape::Changelog | Shape::Over { .. } => {
                    None
                }
                Shape::Windowed { state_schema, .. } | Shape::Updating { state_schema, .. } => {
                    Some(KeyedState::new(state_schema.clone()))
                }
            },
            pending: ChangedKeys::default(),
            results: ShownResult::default(),
            previous: Vec::new(),
            top_n: TopNState::new(),
            top_n_plan: None,
            over: OverState::default(),
            over_plan: None,
            went: Vec::new(),
            came: Vec::new(),
            dirty: false,
            last_snapshot: Instant::now(),
            max_time: None,
            next_close: None,
            watermark: None,
            last_row_at: Instant::now(),
        };
        let mut behind = false;
        loop {
            if !behind {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(StreamEnd::Cancelled),
                    _ = tokio::time::sleep(TICK) => {}
                }
            }
            let mut batches = Vec::new();
            let mut taken = 0;
            let mut ended = false;
            behind = false;
            loop {
                match rows.try_recv() {
                    Ok(batch) => {
                        taken += batch.num_rows();
                        batches.push(batch);
                        if taken >= MAX_TICK_ROWS {
                            behind = true;
                            break;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        ended = true;
                        break;
                    }
                }
            }
            if ended {
                // The source stopped: the end of a bounded source, or its error.
                match (&mut source_task).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => return Err(error),
                    Err(e) => {
                        return Err(EngineError::Internal {
                            message: format!("the stream's source stopped unexpectedly: {e}"),
                            source: Some(Box::new(e)),
                        })
                    }
                }
            }
            let started = Instant::now();
            let step = self.step(&mut progress, batches, ended);
            let stepped = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(StreamEnd::Cancelled),
                stepped = step => stepped,
            };
            if taken > 0 {
                self.count_micro_batch(started.elapsed());
            }
            match stepped {
                Ok(()) => {}
                Err(StepError::Abandoned) => return Ok(StreamEnd::Cancelled),
                Err(StepError::Failed(error)) => return Err(error),
            }
            if ended {
                return Ok(StreamEnd::Finished);
            }
        }
    }

    /// Counts a micro-batch that took rows, and the time it took.
    fn count_micro_batch(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.stats.micro_batches.fetch_add(1, Ordering::Relaxed);
        self.stats
            .micro_batch_nanos
            .fetch_add(nanos, Ordering::Relaxed);
        self.stats
            .slowest_micro_batch_nanos
            .fetch_max(nanos, Ordering::Relaxed);
    }

    /// One micro-batch.
    async fn step(
        &mut self,
        progress: &mut Progress,
        batches: Vec<RecordBatch>,
        ended: bool,
    ) -> Result<(), StepError> {
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        self.stats.rows_in.fetch_add(rows as u64, Ordering::Relaxed);
        if rows > 0 {
            progress.last_row_at = Instant::now();
        }
        let watermark_before = progress.watermark;
        let processing_time = self.watermark.as_ref().is_some_and(|w| w.processing_time);
        if !processing_time {
            // The source's times, as in Flink: rows a view filters out still move time on.
            self.clock.observe(&batches)?;
        }
        // (An input's end mark has done its work.)
        let batches: Vec<RecordBatch> = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
        // The other window functions of a join of window aggregates read the source's rows
        // through their own views.
        let admitted = match &self.window_join {
            Some(window_join) => Some(window_join.admit(&batches, watermark_before).await?),
            None => None,
        };
        let batches = match &self.view {
            Some(view) => view.rows(batches).await?,
            None => batches,
        };
        if processing_time {
            self.observe_processing_times(progress, &batches)?;
        }
        let mut input = self.admit(progress, batches)?;
        let effective = self.advance_watermark(progress, rows, ended);
        if let (Some(sessions), Some(w)) = (&mut self.sessions, effective) {
            let closed = sessions.close(Some(w))?;
            if closed.num_rows() > 0 {
                input.push(closed);
            }
        }
        let side_input = admitted.as_ref().is_some_and(|a| !a.is_empty());
        if !input.is_empty() || side_input {
            self.watermark_now
                .store(watermark_before.unwrap_or(i64::MIN), Ordering::Relaxed);
            match (&mut self.window_join, admitted) {
                (Some(window_join), Some(admitted)) => {
                    window_join
                        .fold(&self.state, &self.slot, input, admitted)
                        .await?
                }
                _ => self.run_plan(progress, input).await?,
            }
        }
        if let Some(w) = effective {
            self.flush_windowed_feed(progress, w).await?;
            self.flush_window_join(progress, w).await?;
        }
        // An interval join's kept rows that no row to come can meet go.
        if let (Some(join), Some(w)) = (&mut self.join, effective) {
            if join.is_interval() {
                join.clean(w)?;
                self.stats
                    .keys
                    .store(join.rows_kept() as u64, Ordering::Relaxed);
            }
        }
        self.emit(progress, effective, ended).await?;
        if let Some(written_before) = self
            .state_ttl
            .and_then(|ttl| Instant::now().checked_sub(ttl))
        {
            self.expire(progress, written_before)?;
        }
        self.check_state(progress)
    }

    /// Counts the bytes of state the query holds, and fails it once they pass the memory
    /// limit, naming what holds them.
    fn check_state(&self, progress: &Progress) -> Result<(), StepError> {
        let parts = [
            (
                "the GROUP BY's state",
                progress.keyed.as_ref().map_or(0, KeyedState::bytes),
            ),
            (
                "the inner GROUP BY's state",
                self.feed.as_ref().map_or(0, UpdatingFeed::bytes),
            ),
            (
                "the window aggregates' state",
                self.window_join.as_ref().map_or(0, WindowJoin::bytes),
            ),
            (
                "the rows the join of streams keeps",
                self.join.as_ref().map_or(0, StreamJoin::bytes),
            ),
            ("the Top-N's rows", progress.top_n.bytes()),
            ("the rows the OVER aggregation keeps", progress.over.bytes()),
            (
                "the rows of open session windows",
                self.sessions.as_ref().map_or(0, SessionBuffer::bytes),
            ),
            ("the result kept for display", progress.results.bytes()),
            (
                "the latest row of each key its upsert source keeps",
                self.source_report
                    .as_ref()
                    .map_or(0, |report| report.state_bytes()),
            ),
        ];
        let total: usize = parts.iter().map(|(_, bytes)| bytes).sum();
        self.stats
            .state_bytes
            .store(total as u64, Ordering::Relaxed);
        if total <= self.memory_limit {
            return Ok(());
        }
        let held: Vec<String> = parts
            .iter()
            .filter(|(_, bytes)| *bytes > 0)
            .map(|(what, bytes)| format!("{what} {}", mebibytes(*bytes)))
            .collect();
        Err(StepError::Failed(EngineError::ResourcesExhausted {
            message: format!(
                "the query's state grew to {} (past the memory limit of {}): {}; bound it \
                 with SET 'table.exec.state.ttl' = '…' (and start the query again) or a \
                 window, or give the kernel more memory (EDDY_MEMORY_LIMIT)",
                mebibytes(total),
                mebibytes(self.memory_limit),
                held.join(", ")
            ),
        }))
    }

    /// Drops the state no row has touched since `written_before` (a state TTL): an updating
    /// aggregate's idle keys, a Top-N's idle partitions, a join's old rows. Windows are
    /// dropped by the watermark instead.
    fn expire(
        &mut self,
        progress: &mut Progress,
        written_before: Instant,
    ) -> Result<(), StepError> {
        if let (Shape::Updating { .. }, Some(keyed)) = (&self.shape, &mut progress.keyed) {
            keyed.expire(written_before)?;
        }
        progress.top_n.expire(written_before)?;
        if let Some(join) = &mut self.join {
            join.expire(written_before)?;
        }
        if let Some(feed) = &mut self.feed {
            feed.expire(written_before)?;
        }
        Ok(())
    }

    /// Keeps the latest processing time of the rows the window gets (a `PROCTIME()` column
    /// of the table, or of the view the window reads).
    fn observe_processing_times(
        &self,
        progress: &mut Progress,
        batches: &[RecordBatch],
    ) -> Result<(), StepError> {
        let Some(spec) = &self.watermark else {
            return Ok(());
        };
        for batch in batches {
            let column = batch.schema().index_of(&spec.column)?;
            let times = millis(batch.column(column))?;
            if let Some(m) = max(&times) {
                progress.max_time = Some(progress.max_time.map_or(m, |t| t.max(m)));
            }
        }
        Ok(())
    }

    /// The rows of a tick that go into its plan: windows assigned (or session windows
    /// buffered), and rows behind the watermark dropped as late from windows.
    fn admit(
        &mut self,
        progress: &mut Progress,
        batches: Vec<RecordBatch>,
    ) -> Result<Vec<RecordBatch>, StepError> {
        let watermark_before = progress.watermark;
        let mut late = 0;
        let mut input = Vec::new();
        match (&self.window, &mut self.sessions) {
            (Some(_), Some(sessions)) => {
                for batch in &batches {
                    late += sessions.push(batch, watermark_before)?;
                }
            }
            (Some(spec), None) => {
                let schema = self.slot_schema();
                for batch in &batches {
                    let assigned = window::assign(spec, batch, &schema, watermark_before)?;
                    late += assigned.late;
                    if assigned.batch.num_rows() > 0 {
                        input.push(assigned.batch);
                    }
                }
            }
            // An interval join waits on event time: rows behind the watermark are late for
            // it (the rows they could meet may be gone), as in Flink.
            (None, _) if self.join.as_ref().is_some_and(StreamJoin::is_interval) => {
                match (self.clock.time_index(0), watermark_before) {
                    (Some(time_index), Some(w)) => {
                        for batch in &batches {
                            let kept = window::at_or_after(batch, time_index, w)?;
                            late += (batch.num_rows() - kept.num_rows()) as u64;
                            if kept.num_rows() > 0 {
                                input.push(kept);
                            }
                        }
                    }
                    _ => input.extend(batches.into_iter().filter(|b| b.num_rows() > 0)),
                }
            }
            // Without windows or an interval join no operator waits on event time: as in
            // Flink, rows behind the watermark are not late there (a filter, a GROUP BY, a
            // regular join keeps them).
            (None, _) => input.extend(batches.into_iter().filter(|b| b.num_rows() > 0)),
        }
        self.stats.late_rows.fetch_add(late, Ordering::Relaxed);
        Ok(input)
    }

    /// Moves the watermark on from the rows seen so far; returns the watermark windows
    /// close by (the end of time once a bounded stream has ended).
    fn advance_watermark(
        &mut self,
        progress: &mut Progress,
        rows: usize,
        ended: bool,
    ) -> Option<i64> {
        // Processing time: the latest row's, or, once no row has come for a moment, the
        // clock (less that moment, for rows already stamped and on their way), so windows
        // close when their time has passed although no row comes to say so.
        if self.watermark.as_ref().is_some_and(|w| w.processing_time) {
            let mut next = progress.max_time;
            if rows == 0 && progress.last_row_at.elapsed() >= PROCESSING_TIME_SETTLE {
                let clock = clock_ms() - PROCESSING_TIME_SETTLE.as_millis() as i64;
                next = Some(next.map_or(clock, |t| t.max(clock)));
            }
            if let Some(next) = next {
                let w = progress.watermark.map_or(next, |w| w.max(next));
                progress.watermark = Some(w);
                self.stats.watermark.store(w, Ordering::Relaxed);
            }
            return if ended {
                Some(i64::MAX)
            } else {
                progress.watermark
            };
        }
        // The watermark trails the largest event time by the declared delay. A source
        // quiet for its idle timeout closes every window holding a row seen so far (rows
        // for those windows that come later are late).
        let window = self.window.as_ref();
        let next = self.clock.watermark(|max_time| match window {
            Some(window) => window::last_end(window, max_time) - 1,
            None => max_time,
        });
        if let Some(next) = next {
            let w = progress.watermark.map_or(next, |w| w.max(next));
            progress.watermark = Some(w);
            self.stats.watermark.store(w, Ordering::Relaxed);
        }
        // At the end of a bounded stream every window closes.
        if ended {
            Some(i64::MAX)
        } else {
            progress.watermark
        }
    }

    /// Runs the tick's plan over `input`: a stateless query's rows go out; an aggregate's
    /// partial results are folded into the keyed state. Over a join of streams the plan runs
    /// twice, once per half of what the tick's rows meet. Under an aggregate over an
    /// aggregate, the inner one's plan runs over `input`, and the query's over its changes.
    async fn run_plan(
        &mut self,
        progress: &mut Progress,
        input: Vec<RecordBatch>,
    ) -> Result<(), StepError> {
        let (over_stream, pairs_only) = match (&self.weighted, &self.feed) {
            (Some(weighted), _) => (weighted.row_wise.clone(), weighted.pairs_only.clone()),
            (None, Some(feed)) => (feed.logical.clone(), None),
            (None, None) => (self.logical.clone(), None),
        };
        let plans = match (self.join.is_some(), self.changelog_input) {
            (false, false) => {
                self.fill_slots(input)?;
                let plan = physical_plan(&self.state, &over_stream).await;
                self.clear_slots();
                vec![(plan?, 1)]
            }
            (false, true) => {
                let (came, went) = changelog_source::runs(input, &self.slot_schema())?;
                let mut plans = Vec::with_capacity(2);
                for (rows, weight) in [(came, 1), (went, -1)] {
                    if rows.is_empty() {
                        continue;
                    }
                    self.fill_slots(rows)?;
                    let plan = physical_plan(&self.state, &over_stream).await;
                    self.clear_slots();
                    plans.push((plan?, weight));
                }
                plans
            }
            (true, _) => {
                self.join_plans(&over_stream, pairs_only.as_ref(), input)
                    .await?
            }
        };
        if self.weighted.is_some() {
            return self.run_weighted(progress, plans).await;
        }
        let plans = plans.into_iter().map(|(plan, _)| plan);
        let Some(feed) = &mut self.feed else {
            for plan in plans {
                self.run_one(progress, plan).await?;
            }
            return Ok(());
        };
        let task = self.state.task_ctx();
        for plan in plans {
            feed.fold(plan, task.clone()).await?;
        }
        // A window aggregate's rows go on when the watermark closes their windows
        // (`flush_windowed_feed`).
        if feed.is_windowed() || !feed.pass_changes(task).await? {
            return Ok(());
        }
        self.run_over_feed(progress).await
    }

    /// The rows of the inner window aggregate's windows the watermark closed go to the
    /// query's plan over them.
    async fn flush_windowed_feed(
        &mut self,
        progress: &mut Progress,
        watermark: i64,
    ) -> Result<(), StepError> {
        let Some(feed) = &mut self.feed else {
            return Ok(());
        };
        if !feed.is_windowed() || !feed.pass_closed(watermark, self.state.task_ctx()).await? {
            return Ok(());
        }
        self.run_over_feed(progress).await
    }

    /// The rows of the windows the watermark closed, of every input of a window join (and
    /// the stream's kept rows, when it meets them), go to the query's plan over them.
    async fn flush_window_join(
        &mut self,
        progress: &mut Progress,
        watermark: i64,
    ) -> Result<(), StepError> {
        let Some(window_join) = &mut self.window_join else {
            return Ok(());
        };
        let closed = window_join
            .pass_closed(watermark, self.state.task_ctx())
            .await?;
        self.stats
            .keys
            .store(window_join.keys() as u64, Ordering::Relaxed);
        if !closed {
            return Ok(());
        }
        // A plan reads its tables' rows when it is made.
        let plan = physical_plan(&self.state, &self.logical).await;
        window_join.clear();
        self.run_one(progress, plan?).await
    }

    /// Runs the query's plan over the rows the inner query put in its table.
    async fn run_over_feed(&mut self, progress: &mut Progress) -> Result<(), StepError> {
        // A plan reads its tables' rows when it is made.
        let plan = physical_plan(&self.state, &self.logical).await;
        if let Some(feed) = &self.feed {
            feed.clear();
        }
        self.run_one(progress, plan?).await
    }

    /// The runs of the query over an outer or anti join: their rows, weighted, go to the
    /// aggregate over the join, or are the result's inserts and deletes.
    async fn run_weighted(
        &mut self,
        progress: &mut Progress,
        plans: Vec<(Arc<dyn datafusion::physical_plan::ExecutionPlan>, i64)>,
    ) -> Result<(), StepError> {
        let task = self.state.task_ctx();
        let mut weighted = Vec::new();
        for (plan, weight) in plans {
            let rows = collect(plan, task.clone())
                .await
                .map_err(EngineError::from)?;
            for batch in rows.into_iter().filter(|b| b.num_rows() > 0) {
                weighted.push((batch, weight));
            }
        }
        let Some(join) = &self.weighted else {
            return Ok(());
        };
        let Some(table) = &join.table else {
            for (batch, weight) in weighted {
                match weight < 0 {
                    true => progress.went.push(batch),
                    false => progress.came.push(batch),
                }
                progress.dirty = true;
            }
            return Ok(());
        };
        if weighted.is_empty() {
            return Ok(());
        }
        let rows = weighted
            .iter()
            .map(|(batch, weight)| WeightedInput::weighted(table, batch, *weight))
            .collect::<Result<Vec<_>, _>>()?;
        table.set(rows);
        let plan = physical_plan(&self.state, &self.logical).await;
        table.set(Vec::new());
        self.run_one(progress, plan?).await
    }

    /// One run of the tick's plan, as the query's shape wants it.
    async fn run_one(
        &mut self,
        progress: &mut Progress,
        plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    ) -> Result<(), StepError> {
        let task = self.state.task_ctx();
        match &self.shape {
            // Its runs are weighted: `run_weighted` takes them.
            Shape::Changelog => {}
            Shape::Over {
                time,
                processing_time,
                facts,
            } => {
                let found = over_aggregate::find(&plan, Some(time), *facts)?
                    .ok_or_else(|| missing("OVER aggregation"))?;
                let rows = collect(found.lower.clone(), task.clone())
                    .await
                    .map_err(EngineError::from)?;
                let late = progress.over.push(&found, rows, *processing_time)?;
                self.stats.late_rows.fetch_add(late, Ordering::Relaxed);
                progress.over_plan = Some(found);
            }
            Shape::Stateless => {
                let out = collect(plan, task.clone())
                    .await
                    .map_err(EngineError::from)?;
                self.emit_rows(out).await?;
            }
            Shape::TopN { close, .. } => {
                let found = top_n::find(&plan)?.ok_or_else(|| missing("Top-N"))?;
                let rows = collect(found.lower.clone(), task.clone())
                    .await
                    .map_err(EngineError::from)?;
                let changes = close.is_none();
                let keep_result = self.sink.is_none() && changes;
                progress
                    .top_n
                    .step(
                        &found,
                        rows,
                        &self.schema,
                        &self.key_columns,
                        keep_result,
                        changes,
                        task.clone(),
                    )
                    .await?;
                progress.top_n_plan = Some(found);
                progress.dirty = true;
            }
            Shape::Windowed { .. } | Shape::Updating { .. } => {
                let found = aggregate::find(&plan)?.ok_or_else(|| missing("aggregation"))?;
                let partials = collect(found.partial.clone(), task.clone())
                    .await
                    .map_err(EngineError::from)?;
                if let Shape::Windowed { close, .. } = &self.shape {
                    for batch in &partials {
                        let end =
                            aggregate::earliest_end(batch, close.column, close.offset_ms, None)?;
                        progress.next_close = match (progress.next_close, end) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                    }
                }
                if let Some(keyed) = &mut progress.keyed {
                    let folded = keyed.fold(&found, partials, task.clone()).await?;
                    // Only a result worked out key by key needs to know which keys changed.
                    if matches!(self.shape, Shape::Updating { by_key: true, .. }) {
                        progress.pending.note(keyed, folded)?;
                    }
                }
                progress.aggregate = Some(found);
                progress.dirty = true;
            }
        }
        Ok(())
    }

    /// A tick of a join of streams: each side's new rows, then the query's plans over what
    /// they meet (new left rows with the right rows so far, the left rows kept with the new
    /// right rows).
    async fn join_plans(
        &mut self,
        logical: &LogicalPlan,
        pairs_only: Option<&LogicalPlan>,
        input: Vec<RecordBatch>,
    ) -> Result<Vec<(Arc<dyn datafusion::physical_plan::ExecutionPlan>, i64)>, StepError> {
        let task = self.state.task_ctx();
        let runs = match self.changelog_inputs.iter().any(|c| *c) {
            false => {
                let (left, right) = self.side_rows(input, task.clone()).await?;
                let Some(join) = &mut self.join else {
                    return Ok(Vec::new());
                };
                join.inputs(left, right)?
            }
            // An updating input: each side's rows that came, then those that went.
            true => {
                let (came, went) = changelog_source::runs_by_input(input, &self.changelog_inputs)?;
                let (left_came, right_came) = self.side_rows(came, task.clone()).await?;
                let (left_went, right_went) = self.side_rows(went, task.clone()).await?;
                let Some(join) = &mut self.join else {
                    return Ok(Vec::new());
                };
                join.weighted_inputs(left_came, left_went, right_came, right_went)?
            }
        };
        let Some(join) = &mut self.join else {
            return Ok(Vec::new());
        };
        let mut plans = Vec::with_capacity(runs.len());
        for run in runs {
            let (left, right) = run.input;
            // A plan reads its tables' rows when it is made.
            join.left.table.set(left);
            join.right.table.set(right);
            let logical = match (run.pairs_only, pairs_only) {
                (true, Some(pairs)) => pairs,
                _ => logical,
            };
            let plan = physical_plan(&self.state, logical).await;
            join.left.table.set(Vec::new());
            join.right.table.set(Vec::new());
            plans.push((plan?, run.weight));
        }
        self.stats
            .keys
            .store(join.rows_kept() as u64, Ordering::Relaxed);
        Ok(plans)
    }

    /// Each side's new rows from `input` (a side that is a join of streams makes its pairs
    /// first).
    async fn side_rows(
        &mut self,
        input: Vec<RecordBatch>,
        task: Arc<datafusion::execution::TaskContext>,
    ) -> Result<(Vec<RecordBatch>, Vec<RecordBatch>), StepError> {
        self.fill_slots(input)?;
        let state = &self.state;
        let Some(join) = &mut self.join else {
            return Ok((Vec::new(), Vec::new()));
        };
        let left = join.left.new_rows(state, task.clone()).await;
        let right = join.right.new_rows(state, task).await;
        self.clear_slots();
        Ok((left?, right?))
    }

    fn clear_slots(&self) {
        self.slot.set(Vec::new());
        for other in &self.other_slots {
            other.set(Vec::new());
        }
    }

    /// What the tick has to show: windows the watermark closed, a snapshot of an updating
    /// result with its changelog, or the files a sink finished.
    async fn emit(
        &mut self,
        progress: &mut Progress,
        effective: Option<i64>,
        ended: bool,
    ) -> Result<(), StepError> {
        let task = self.state.task_ctx();
        match &self.shape {
            Shape::Stateless => {}
            Shape::Over {
                processing_time, ..
            } => {
                // Rows ordered by processing time are taken as they come.
                let w = match processing_time {
                    true => Some(i64::MAX),
                    false => effective,
                };
                if let (Some(found), Some(w)) = (&progress.over_plan, w) {
                    let out = progress.over.take_ready(found, w, task.clone()).await?;
                    self.stats
                        .keys
                        .store(progress.over.rows_kept() as u64, Ordering::Relaxed);
                    self.emit_rows(out).await?;
                }
            }
            Shape::Changelog => {
                let interval = Duration::from_millis(self.emit_interval.load(Ordering::Relaxed));
                let due = ended || progress.last_snapshot.elapsed() >= interval;
                if progress.dirty && due {
                    progress.dirty = false;
                    progress.last_snapshot = Instant::now();
                    let went = std::mem::take(&mut progress.went);
                    let came = std::mem::take(&mut progress.came);
                    let (gone, new, changes) = changelog::net(&self.schema, &went, &came)?;
                    if changes.num_rows() > 0 {
                        self.stats
                            .rows_out
                            .fetch_add(changes.num_rows() as u64, Ordering::Relaxed);
                        match &mut self.sink {
                            Some(sink) => sink.change(changes),
                            None => {
                                let whole =
                                    progress.results.replace(&self.schema, &[gone], vec![new])?;
                                // Over a changelog source, a row may be taken back whose
                                // insert came before the reading started: there is nothing
                                // to take back (as in Flink).
                                if !whole && !self.changelog_input {
                                    return Err(StepError::Failed(EngineError::Internal {
                                        message: "a row the outer join retracted is not in its \
                                                  result: the query computes a column over the \
                                                  join from the clock or chance (PROCTIME(), \
                                                  RAND()), so a retraction cannot name the row \
                                                  it takes back"
                                            .into(),
                                        source: None,
                                    }));
                                }
                                let rows = progress.results.batches()?;
                                self.send(StreamUpdate::Snapshot { rows, changes }).await?
                            }
                        }
                    }
                }
            }
            Shape::TopN {
                close: Some(close), ..
            } => {
                if let (Some(found), Some(w)) = (&progress.top_n_plan, effective) {
                    let out = progress
                        .top_n
                        .take_closed(found, *close, w, task.clone())
                        .await?;
                    self.emit_rows(out).await?;
                }
            }
            Shape::TopN { close: None, .. } => {
                let interval = Duration::from_millis(self.emit_interval.load(Ordering::Relaxed));
                let due = ended || progress.last_snapshot.elapsed() >= interval;
                if progress.dirty && due {
                    progress.dirty = false;
                    progress.last_snapshot = Instant::now();
                    if let Some((changes, rows)) = progress.top_n.take_changes(&self.schema)? {
                        self.stats
                            .rows_out
                            .fetch_add(changes.num_rows() as u64, Ordering::Relaxed);
                        match &mut self.sink {
                            Some(sink) => sink.change(changes),
                            None => self.send(StreamUpdate::Snapshot { rows, changes }).await?,
                        }
                    }
                }
            }
            Shape::Windowed { close, .. } => {
                let closes = match (progress.next_close, effective) {
                    (Some(end), Some(w)) => end.saturating_sub(1) <= w,
                    _ => false,
                };
                if let (true, Some(found), Some(keyed), Some(w)) =
                    (closes, &progress.aggregate, &mut progress.keyed, effective)
                {
                    // The earliest end among the windows that stay open, found on the way.
                    let still_open = std::cell::Cell::new(None::<i64>);
                    let closed = keyed.take_where(|b| {
                        let fired = aggregate::fired_windows(b, close.column, close.offset_ms, w)?;
                        let open = datafusion::arrow::compute::not(&fired)?;
                        let end =
                            aggregate::earliest_end(b, close.column, close.offset_ms, Some(&open))?;
                        still_open.set(match (still_open.get(), end) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        });
                        Ok(fired)
                    })?;
                    progress.next_close = still_open.get();
                    if !closed.is_empty() {
                        let out = keyed.results(found, closed, task.clone()).await?;
                        self.emit_rows(out).await?;
                    }
                }
            }
            Shape::Updating { by_key, .. } => {
                let interval = Duration::from_millis(self.emit_interval.load(Ordering::Relaxed));
                let due = ended || progress.last_snapshot.elapsed() >= interval;
                if let (true, true, Some(found), Some(keyed)) = (
                    progress.dirty,
                    due,
                    &progress.aggregate,
                    &mut progress.keyed,
                ) {
                    let (rows, changes) = if *by_key {
                        let changed = self
                            .changed_results(
                                found,
                                keyed,
                                &mut progress.pending,
                                &mut progress.results,
                            )
                            .await?;
                        (changed.rows, changed.changes)
                    } else {
                        let all = keyed.all()?;
                        let rows = keyed.results(found, all, task.clone()).await?;
                        let changes = changelog::diff(
                            &self.schema,
                            &progress.previous,
                            &rows,
                            &self.key_columns,
                        )?;
                        if changes.num_rows() > 0 {
                            progress.previous = rows.clone();
                        }
                        (Some(rows), changes)
                    };
                    progress.dirty = false;
                    progress.last_snapshot = Instant::now();
                    if changes.num_rows() > 0 {
                        self.stats
                            .rows_out
                            .fetch_add(changes.num_rows() as u64, Ordering::Relaxed);
                        match (&mut self.sink, rows) {
                            (Some(sink), _) => sink.change(changes),
                            (None, Some(rows)) => {
                                self.send(StreamUpdate::Snapshot { rows, changes }).await?
                            }
                            (None, None) => {}
                        }
                    }
                }
            }
        }
        if let Some(keyed) = &progress.keyed {
            let inner = self.feed.as_ref().map_or(0, UpdatingFeed::keys);
            self.stats
                .keys
                .store((keyed.keys() + inner) as u64, Ordering::Relaxed);
        }
        if matches!(self.shape, Shape::TopN { .. }) {
            self.stats
                .keys
                .store(progress.top_n.rows_kept() as u64, Ordering::Relaxed);
        }
        if let Some(sink) = &mut self.sink {
            let watermark = self.stats.watermark.load(Ordering::Relaxed);
            let watermark = (watermark != i64::MIN).then_some(watermark);
            if let Some(update) = sink.flush(ended, watermark).await? {
                self.send(update).await?;
            }
        }
        Ok(())
    }

    /// The changes of an updating result since it was last shown, worked out from the state
    /// rows of the keys that changed only, and the whole result for a display (a sink
    /// needs only the changes).
    async fn changed_results(
        &self,
        found: &AggregatePlan,
        keyed: &mut KeyedState,
        pending: &mut ChangedKeys,
        shown: &mut ShownResult,
    ) -> Result<ChangedResults, StepError> {
        let task = self.state.task_ctx();
        let after = keyed.get(pending.keys.iter().map(|k| k.as_ref()))?;
        let before = std::mem::take(&mut pending.before);
        pending.keys.clear();
        let old = keyed.results(found, before, task.clone()).await?;
        let new = keyed.results(found, after, task.clone()).await?;
        let changes = changelog::diff(&self.schema, &old, &new, &self.key_columns)?;
        if self.sink.is_some() {
            // A sink takes the changes only.
            return Ok(ChangedResults {
                rows: None,
                changes,
            });
        }
        // The result as shown: the changed keys' old rows out, their new rows in.
        let result_schema = found.root.schema();
        if !shown.replace(&result_schema, &old, new)? {
            let all = keyed.all()?;
            let all = keyed.results(found, all, task).await?;
            shown.reset(&result_schema, all)?;
        }
        Ok(ChangedResults {
            rows: Some(shown.batches()?),
            changes,
        })
    }

    /// Puts a tick's rows in the micro-batch table of the stream each came from.
    fn fill_slots(&self, input: Vec<RecordBatch>) -> Result<(), StepError> {
        let slots: Vec<&MicroBatchTable> = std::iter::once(self.slot.as_ref())
            .chain(self.other_slots.iter().map(AsRef::as_ref))
            .collect();
        Ok(super::merged_source::fill_by_input(&slots, input)?)
    }

    fn slot_schema(&self) -> SchemaRef {
        use datafusion::catalog::TableProvider;
        self.slot.schema()
    }

    async fn emit_rows(&mut self, out: Vec<RecordBatch>) -> Result<(), StepError> {
        let out: Vec<RecordBatch> = out.into_iter().filter(|b| b.num_rows() > 0).collect();
        if out.is_empty() {
            return Ok(());
        }
        let rows: usize = out.iter().map(RecordBatch::num_rows).sum();
        self.stats
            .rows_out
            .fetch_add(rows as u64, Ordering::Relaxed);
        match &mut self.sink {
            Some(sink) => Ok(sink.append(out)?),
            None => self.send(StreamUpdate::Rows(out)).await,
        }
    }

    async fn send(&self, update: StreamUpdate) -> Result<(), StepError> {
        self.updates
            .send(update)
            .await
            .map_err(|_| StepError::Abandoned)
    }
}

struct ChangedResults {
    /// The whole result, for a display.
    rows: Option<Vec<RecordBatch>>,
    changes: RecordBatch,
}

enum StepError {
    /// The receiver of updates went away: the caller dropped the query.
    Abandoned,
    Failed(EngineError),
}

impl From<EngineError> for StepError {
    fn from(error: EngineError) -> Self {
        StepError::Failed(error)
    }
}

impl From<datafusion::arrow::error::ArrowError> for StepError {
    fn from(error: datafusion::arrow::error::ArrowError) -> Self {
        StepError::Failed(error.into())
    }
}

/// The operator a query's shape was planned around is not in a tick's plan of it.
fn missing(what: &str) -> EngineError {
    EngineError::Internal {
        message: format!("the stream's {what} went missing from its plan"),
        source: None,
    }
}

/// How long a processing-time window waits, once rows stop coming, for rows already stamped
/// with a processing time to arrive before the clock closes their window.
const PROCESSING_TIME_SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

/// Milliseconds since the epoch, by the system clock (what `PROCTIME()` reads).
fn clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// `12.3 MiB`.
fn mebibytes(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
