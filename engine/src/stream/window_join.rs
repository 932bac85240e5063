//! Window joins: two (or more) window table functions over one stream, each aggregated per
//! window (Nexmark's q5 and q8) or taken row by row (Flink's window join), and a query that
//! meets their rows window by window (`ON l.window_end = r.window_end AND …`, an aggregate
//! grouped by the window).
//!
//! Each window aggregate runs as its own inner query over its window function's rows
//! (`updating_feed.rs`, a window feed): its state is folded tick by tick, and its rows go on
//! once, when the watermark passes their window's end. A window's own rows wait the same way
//! (`window_rows.rs`). The windows are the same function of the same event time, so the
//! watermark closes the same windows of every input in the same tick: the rows that reach the query then are every row of those windows, and the
//! query runs over them as a batch. That is only right if the query never meets rows of
//! different windows, so every join of two aggregates must equate their windows and every
//! aggregate over them must group by the window; anything else fails at once, naming why.
//!
//! The stream itself may be joined with a window aggregate of it when the join bounds the
//! stream's event time by the window's (Nexmark q7, `stream_rows.rs`): the aggregate's
//! closed rows then wait until the watermark shows every stream row they may meet has come,
//! and meet the stream's rows kept that long.

use super::aggregate::fired_windows;
use super::interval_join::{passes_event_time, time_bounds};
use super::micro_batch::MicroBatchTable;
use super::stream_rows::StreamRows;
use super::updating_feed::{weighted_rows_scan, FeedPlan, UpdatingFeed};
use super::views::ViewStage;
use super::window::{self, WindowSpec};
use super::window_close::WindowClose;
use super::window_rows::WindowRows;
use crate::error::EngineError;
use crate::sql::flink_syntax::WindowKind;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::{filter_record_batch, not};
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::execution::session_state::SessionState;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan, TableScan};
use std::sync::Arc;

/// Another window function of the query: its rows (through its own view, if it reads one)
/// go into its own micro-batch table.
pub(crate) struct WindowSide {
    pub(crate) relation: String,
    pub(crate) slot: Arc<MicroBatchTable>,
    pub(crate) spec: WindowSpec,
    pub(crate) view: Option<ViewStage>,
}

/// The stream itself, read beside its window (Nexmark q7): its rows go into a table of
/// their own.
pub(crate) struct StreamSide {
    pub(crate) relation: String,
    pub(crate) slot: Arc<MicroBatchTable>,
    /// The stream's event-time column: where it is in the stream's rows, and its name.
    pub(crate) time_index: usize,
    pub(crate) event_time: String,
}

/// What a query joins window by window, and the other window functions' inputs.
pub(crate) struct WindowJoin {
    pub(crate) inputs: Vec<JoinInput>,
    pub(crate) sides: Vec<WindowSide>,
    stream: Option<StreamSide>,
    timed: Option<TimedJoin>,
}

/// One input of a window join: a window aggregate, a window's own rows, or the stream's.
pub(crate) enum JoinInput {
    Aggregate(Box<UpdatingFeed>),
    Rows(Box<WindowRows>),
    Stream(Box<StreamRows>),
}

impl JoinInput {
    /// Its plan over the micro-batch's rows.
    pub(crate) fn logical(&self) -> &LogicalPlan {
        match self {
            JoinInput::Aggregate(feed) => &feed.logical,
            JoinInput::Rows(rows) => &rows.kept.logical,
            JoinInput::Stream(rows) => &rows.kept.logical,
        }
    }
}

/// A join of the stream's rows with a window input's, bounded in event time:
/// `lo_ms <= S.t - W.t <= hi_ms`, where `W.t` is a bound of the window rows' windows.
struct TimedJoin {
    stream_input: usize,
    /// The window input's table, and the column of its rows that holds `W.t`.
    window_table: Arc<MicroBatchTable>,
    window_time: usize,
    lo_ms: i64,
    hi_ms: i64,
    /// Added to `W.t` to get the end of the window (its size, when `W.t` is its start).
    to_end_ms: i64,
    /// Closed window rows waiting until the watermark passes `W.t + hi_ms`: then every
    /// stream row they may meet has come (a later one is late, and dropped).
    held: Vec<RecordBatch>,
}

/// The rows of a tick for each other window function, and for the stream itself.
pub(crate) struct Admitted {
    sides: Vec<Vec<RecordBatch>>,
    stream: Vec<RecordBatch>,
}

impl Admitted {
    pub(crate) fn is_empty(&self) -> bool {
        self.stream.is_empty() && self.sides.iter().all(Vec::is_empty)
    }
}

/// Which bound of a window a column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Start,
    End,
}

/// An input as the plan is cut: its plan over the window's rows and the table its closed
/// rows go into.
enum Cut {
    Aggregate(FeedPlan),
    Rows(WindowRows),
    Stream(StreamRows),
}

/// The table a window input's closed rows go into, which input it is, and where its window
/// columns are.
struct Fed {
    table_name: String,
    input: usize,
    table: Arc<MicroBatchTable>,
    bounds: Vec<Option<Bound>>,
}

fn not_supported(why: &str) -> EngineError {
    EngineError::NotSupported {
        message: format!(
            "{why}; Eddy joins windows (a window table function's rows, or their GROUP BY by \
             window) when the query meets their rows window by window"
        ),
    }
}

/// Cuts a query's plan at its window inputs, bottom up (`WindowJoin::plan`).
struct Cutter<'a> {
    relations: &'a [String],
    window: &'a WindowSpec,
    stream: Option<&'a StreamSide>,
    /// The inputs as they are cut out, in the order their tables are numbered.
    cut: Vec<Cut>,
    feds: Vec<Fed>,
    timed: Option<TimedJoin>,
    /// Why the query cannot run, once a cut finds out.
    problem: Option<EngineError>,
}

impl Cutter<'_> {
    /// A window function's own window_start or window_end.
    fn window_column(&self, scan: &TableScan, column: usize) -> Option<(usize, Bound)> {
        if !self.relations.iter().any(|r| r == scan.table_name.table()) {
            return None;
        }
        let bound = match scan.source.schema().field(column).name().as_str() {
            "window_start" => Bound::Start,
            "window_end" => Bound::End,
            _ => return None,
        };
        Some((0, bound))
    }

    fn node(&mut self, node: LogicalPlan) -> datafusion::error::Result<Transformed<LogicalPlan>> {
        match &node {
            LogicalPlan::Join(_) => self.join(node),
            LogicalPlan::Aggregate(aggregate) if reads_any(&aggregate.input, self.relations) => {
                self.aggregate(node)
            }
            _ => Ok(Transformed::no(node)),
        }
    }

    /// An aggregate right over a window's rows keeps state per window (one over it reads
    /// its closed rows).
    fn aggregate(
        &mut self,
        node: LogicalPlan,
    ) -> datafusion::error::Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(aggregate) = &node else {
            return Ok(Transformed::no(node));
        };
        let bounds = (0..aggregate.group_expr.len())
            .map(|i| bound_of(&node, i, &|s, c| self.window_column(s, c)).map(|(_, b)| b))
            .chain(aggregate.aggr_expr.iter().map(|_| None))
            .collect();
        let (replaced, table) = self.fed(&node, bounds)?;
        self.cut
            .push(Cut::Aggregate(FeedPlan { inner: node, table }));
        Ok(Transformed::yes(replaced))
    }

    /// A join's side that takes a window's rows one by one keeps them until their window
    /// closes; a side that takes the stream's rows, met with a window input's within a time
    /// bound, keeps them for that bound.
    fn join(&mut self, node: LogicalPlan) -> datafusion::error::Result<Transformed<LogicalPlan>> {
        let mapped = node.map_children(|side| {
            if !row_wise_over(&side, self.relations) {
                return Ok(Transformed::no(side));
            }
            let bounds: Vec<Option<Bound>> = (0..side.schema().fields().len())
                .map(|i| bound_of(&side, i, &|s, c| self.window_column(s, c)).map(|(_, b)| b))
                .collect();
            let Some(close) = rows_close(&bounds, self.window) else {
                // (The plan reads no window bound of these rows: the query does not use it.)
                self.problem = Some(not_supported(
                    "this query joins a window's rows without equating their windows \
                     (ON a.window_end = b.window_end, or window_start)",
                ));
                return Ok(Transformed::no(side));
            };
            let (replaced, table) = self.fed(&side, bounds)?;
            self.cut
                .push(Cut::Rows(WindowRows::new(side, table, close)));
            Ok(Transformed::yes(replaced))
        })?;
        let Some(stream) = self.stream else {
            return Ok(mapped);
        };
        let (node, changed) = (mapped.data, mapped.transformed);
        Ok(
            match stream_side_of(&node, stream, &self.feds, self.window, self.cut.len()) {
                Err(why) => {
                    self.problem = Some(why);
                    Transformed::no(node)
                }
                Ok(None) => Transformed::new(node, changed, TreeNodeRecursion::Continue),
                Ok(Some((node, rows, join))) => {
                    if self.timed.is_some() {
                        self.problem = Some(not_supported(
                            "this query joins the stream with window aggregates of it more \
                             than once",
                        ));
                    }
                    self.cut.push(Cut::Stream(rows));
                    self.timed = Some(join);
                    Transformed::yes(node)
                }
            },
        )
    }

    /// The table the next input's closed rows go into, and a scan of it in the input's place.
    fn fed(
        &mut self,
        input: &LogicalPlan,
        bounds: Vec<Option<Bound>>,
    ) -> datafusion::error::Result<(LogicalPlan, Arc<MicroBatchTable>)> {
        let name = format!("__eddy_window_rows_{}", self.cut.len());
        let (replaced, table) = over_closed_rows(input, &name)?;
        self.feds.push(Fed {
            table_name: name,
            input: self.cut.len(),
            table: table.clone(),
            bounds,
        });
        Ok((replaced, table))
    }
}

impl WindowJoin {
    /// Splits `plan`, which reads the window functions `relations` (the first is the query's
    /// own window, the others `sides`), at each aggregate over a window's rows and each side
    /// of a join that takes a window's rows (or the stream's) as they are: the aggregates run
    /// as window feeds, the rows wait for their windows, and the plan returned reads their
    /// closed rows.
    pub(crate) async fn plan(
        state: &SessionState,
        plan: LogicalPlan,
        relations: &[String],
        window: &WindowSpec,
        sides: Vec<WindowSide>,
        stream: Option<StreamSide>,
    ) -> Result<(LogicalPlan, WindowJoin), EngineError> {
        let mut cutter = Cutter {
            relations,
            window,
            stream: stream.as_ref(),
            cut: Vec::new(),
            feds: Vec::new(),
            timed: None,
            problem: None,
        };
        let outer = plan.transform_up(|node| cutter.node(node))?.data;
        let Cutter {
            cut,
            feds,
            timed,
            problem,
            ..
        } = cutter;
        if let Some(problem) = problem {
            return Err(problem);
        }
        if reads_any(&outer, relations) {
            return Err(not_supported(
                "this query reads a window table function's rows other than through a join \
                 of windows or an aggregate per window",
            ));
        }
        if let Some(stream) = &stream {
            if reads_any(&outer, std::slice::from_ref(&stream.relation)) {
                return Err(not_supported(&format!(
                    "this query reads the stream {} beside a window over it other than in a \
                     join whose condition bounds the stream's event time by the window's \
                     (S.t BETWEEN w.window_end - INTERVAL … AND w.window_end)",
                    stream.relation
                )));
            }
            if timed.is_some() && cut.len() != 2 {
                return Err(not_supported(
                    "this query joins the stream with a window aggregate of it and has other \
                     window inputs besides",
                ));
            }
        }
        check_per_window(&outer, &feds)?;
        let mut inputs = Vec::with_capacity(cut.len());
        for input in cut {
            inputs.push(match input {
                Cut::Rows(rows) => JoinInput::Rows(Box::new(rows)),
                Cut::Stream(rows) => JoinInput::Stream(Box::new(rows)),
                Cut::Aggregate(aggregate) => {
                    let feed = UpdatingFeed::plan(state, aggregate, Some(window)).await?;
                    JoinInput::Aggregate(Box::new(feed))
                }
            });
        }
        Ok((
            outer,
            WindowJoin {
                inputs,
                sides,
                stream,
                timed,
            },
        ))
    }

    /// The rows of each other window function from a tick's rows (as the source gave them):
    /// through its view, with its windows assigned and rows behind `watermark` dropped; and
    /// the stream's own rows, when the query reads them, those behind `watermark` dropped
    /// too (a window row may already have met the rows of their time).
    pub(crate) async fn admit(
        &self,
        batches: &[RecordBatch],
        watermark: Option<i64>,
    ) -> Result<Admitted, EngineError> {
        let mut sides = Vec::with_capacity(self.sides.len());
        for side in &self.sides {
            let rows = match &side.view {
                Some(view) => view.rows(batches.to_vec()).await?,
                None => batches.to_vec(),
            };
            let schema = side.slot.schema();
            let mut assigned = Vec::with_capacity(rows.len());
            for batch in &rows {
                let batch = window::assign(&side.spec, batch, &schema, watermark)?.batch;
                if batch.num_rows() > 0 {
                    assigned.push(batch);
                }
            }
            sides.push(assigned);
        }
        let mut stream = Vec::new();
        if let Some(side) = &self.stream {
            for batch in batches {
                let kept = match watermark {
                    Some(w) => window::at_or_after(batch, side.time_index, w)?,
                    None => batch.clone(),
                };
                if kept.num_rows() > 0 {
                    stream.push(kept);
                }
            }
        }
        Ok(Admitted { sides, stream })
    }

    /// Folds a tick's rows into every input: the query's own window relation, each side's
    /// table and the stream's hold the tick's rows while the inputs' plans are made.
    pub(crate) async fn fold(
        &mut self,
        state: &SessionState,
        slot: &MicroBatchTable,
        rows: Vec<RecordBatch>,
        admitted: Admitted,
    ) -> Result<(), EngineError> {
        slot.set(rows);
        for (side, rows) in self.sides.iter().zip(admitted.sides) {
            side.slot.set(rows);
        }
        if let Some(stream) = &self.stream {
            stream.slot.set(admitted.stream);
        }
        let mut plans = Vec::with_capacity(self.inputs.len());
        for input in &self.inputs {
            plans.push(super::tick_plan::physical_plan(state, input.logical()).await);
        }
        slot.set(Vec::new());
        for side in &self.sides {
            side.slot.set(Vec::new());
        }
        if let Some(stream) = &self.stream {
            stream.slot.set(Vec::new());
        }
        let task = state.task_ctx();
        for (input, plan) in self.inputs.iter_mut().zip(plans) {
            match input {
                JoinInput::Aggregate(feed) => feed.fold(plan?, task.clone()).await?,
                JoinInput::Rows(rows) => rows.kept.fold(plan?, task.clone()).await?,
                JoinInput::Stream(rows) => rows.kept.fold(plan?, task.clone()).await?,
            }
        }
        Ok(())
    }

    /// Puts the rows of the windows `watermark` closed in each input's table (with the
    /// stream, the window rows whose stream rows have all come, and the stream's rows); false
    /// when there are none.
    pub(crate) async fn pass_closed(
        &mut self,
        watermark: i64,
        task: Arc<TaskContext>,
    ) -> Result<bool, EngineError> {
        let mut any = false;
        for input in &mut self.inputs {
            any |= match input {
                JoinInput::Aggregate(feed) => feed.pass_closed(watermark, task.clone()).await?,
                JoinInput::Rows(rows) => rows.pass_closed(watermark)?,
                JoinInput::Stream(_) => false,
            };
        }
        let Some(timed) = &mut self.timed else {
            return Ok(any);
        };
        let Some(JoinInput::Stream(stream)) = self.inputs.get_mut(timed.stream_input) else {
            return Err(EngineError::Internal {
                message: "a window join's stream rows went missing".into(),
                source: None,
            });
        };
        timed.held.extend(timed.window_table.take());
        // W.t + hi_ms <= watermark: `fired_windows` reads `column + offset - 1`.
        let mut released = Vec::new();
        for batch in std::mem::take(&mut timed.held) {
            let ready = fired_windows(&batch, timed.window_time, timed.hi_ms + 1, watermark)?;
            let out = filter_record_batch(&batch, &ready)?;
            if out.num_rows() < batch.num_rows() {
                timed.held.push(filter_record_batch(&batch, &not(&ready)?)?);
            }
            if out.num_rows() > 0 {
                released.push(out);
            }
        }
        let met = !released.is_empty();
        if met {
            timed.window_table.set(released);
            stream.pass_all()?;
        }
        // The window rows still to come (held, or of windows not closed) have W.t above
        // both of these; a stream row below the lesser plus lo_ms meets none of them.
        let earliest = watermark
            .saturating_sub(timed.hi_ms)
            .min(watermark.saturating_sub(timed.to_end_ms));
        stream.expire(earliest.saturating_add(timed.lo_ms))?;
        Ok(met)
    }

    /// Empties the inputs' tables, once the query's plan over them is made.
    pub(crate) fn clear(&self) {
        for input in &self.inputs {
            match input {
                JoinInput::Aggregate(feed) => feed.clear(),
                JoinInput::Rows(rows) => rows.kept.clear(),
                JoinInput::Stream(rows) => rows.kept.clear(),
            }
        }
        if let Some(timed) = &self.timed {
            timed.window_table.set(Vec::new());
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        let held = self.timed.as_ref().map_or(0, |timed| {
            timed
                .held
                .iter()
                .map(RecordBatch::get_array_memory_size)
                .sum()
        });
        held + self
            .inputs
            .iter()
            .map(|input| match input {
                JoinInput::Aggregate(feed) => feed.bytes(),
                JoinInput::Rows(rows) => rows.kept.bytes(),
                JoinInput::Stream(rows) => rows.kept.bytes(),
            })
            .sum::<usize>()
    }

    /// The keys of the aggregates and the rows waiting for their windows.
    pub(crate) fn keys(&self) -> usize {
        self.inputs
            .iter()
            .map(|input| match input {
                JoinInput::Aggregate(feed) => feed.keys(),
                JoinInput::Rows(rows) => rows.kept.rows(),
                JoinInput::Stream(rows) => rows.kept.rows(),
            })
            .sum()
    }
}

/// Whether `plan` takes the rows of one of the window `relations` one by one (projections,
/// filters and aliases over its scan).
fn row_wise_over(plan: &LogicalPlan, relations: &[String]) -> bool {
    match plan {
        LogicalPlan::TableScan(scan) => relations.iter().any(|r| r == scan.table_name.table()),
        LogicalPlan::Projection(_) | LogicalPlan::Filter(_) | LogicalPlan::SubqueryAlias(_) => {
            match plan.inputs().as_slice() {
                [input] => row_wise_over(input, relations),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Which of a window's rows' columns closes their window.
fn rows_close(bounds: &[Option<Bound>], window: &WindowSpec) -> Option<WindowClose> {
    let at = |bound| bounds.iter().position(|b| *b == Some(bound));
    WindowClose::from_columns(at(Bound::End), at(Bound::Start), window)
}

/// Whether `plan` scans one of `relations`.
fn reads_any(plan: &LogicalPlan, relations: &[String]) -> bool {
    plan.exists(|node| {
        Ok(matches!(node, LogicalPlan::TableScan(scan)
            if relations.iter().any(|r| r == scan.table_name.table())))
    })
    .unwrap_or(false)
}

fn unalias(expr: &Expr) -> &Expr {
    match expr {
        Expr::Alias(alias) => unalias(&alias.expr),
        other => other,
    }
}

/// A scan of the table an input's closed rows go into, with the input's column names, in
/// place of the input. Each column is as nullable as the input's (the plan above was typed
/// with them); the rows' weight is always +1 (a closed window's rows never change).
fn over_closed_rows(
    input: &LogicalPlan,
    name: &str,
) -> datafusion::error::Result<(LogicalPlan, Arc<MicroBatchTable>)> {
    weighted_rows_scan(input.schema(), name, true, false)
}

/// Which window bound the output column `index` of `plan` is (and of which input), followed
/// down through projections, aliases, filters, joins and grouping columns to a table scan,
/// where `leaf` says (given the scanned table's column).
fn bound_of(plan: &LogicalPlan, index: usize, leaf: &Leaf<'_>) -> Option<(usize, Bound)> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let column = match &scan.projection {
                Some(projection) => *projection.get(index)?,
                None => index,
            };
            leaf(scan, column)
        }
        LogicalPlan::Projection(projection) => {
            let Expr::Column(column) = unalias(projection.expr.get(index)?) else {
                return None;
            };
            let at = projection.input.schema().index_of_column(column).ok()?;
            bound_of(&projection.input, at, leaf)
        }
        LogicalPlan::Aggregate(aggregate) => {
            let Expr::Column(column) = unalias(aggregate.group_expr.get(index)?) else {
                return None;
            };
            let at = aggregate.input.schema().index_of_column(column).ok()?;
            bound_of(&aggregate.input, at, leaf)
        }
        LogicalPlan::Join(join) => {
            let left = join.left.schema().fields().len();
            match join.join_type {
                JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => {
                    bound_of(&join.left, index, leaf)
                }
                JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => {
                    bound_of(&join.right, index, leaf)
                }
                _ if index < left => bound_of(&join.left, index, leaf),
                _ => bound_of(&join.right, index - left, leaf),
            }
        }
        LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Filter(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Repartition(_) => match plan.inputs().as_slice() {
            [input] => bound_of(input, index, leaf),
            _ => None,
        },
        _ => None,
    }
}

/// A window input's window_start or window_end, in the table of its closed rows: which
/// input, and which bound.
fn fed_bound(feds: &[Fed], scan: &TableScan, column: usize) -> Option<(usize, Bound)> {
    let fed = feds
        .iter()
        .find(|f| f.table_name == scan.table_name.table())?;
    fed.bounds
        .get(column)
        .copied()
        .flatten()
        .map(|bound| (fed.input, bound))
}

/// A join of the stream's own rows (row by row, on one side) with a window input's closed
/// rows (on the other), whose condition bounds the stream's event time by a bound of the
/// windows: the join with the stream's side cut out (it becomes input `input` of the
/// window join), and how the two sides wait for each other. `None` when `node` is no such
/// join; an error when the bounds are missing.
fn stream_side_of(
    node: &LogicalPlan,
    stream: &StreamSide,
    feds: &[Fed],
    window: &WindowSpec,
    input: usize,
) -> Result<Option<(LogicalPlan, StreamRows, TimedJoin)>, EngineError> {
    let LogicalPlan::Join(join) = node else {
        return Ok(None);
    };
    let relation = std::slice::from_ref(&stream.relation);
    let names: Vec<String> = feds.iter().map(|f| f.table_name.clone()).collect();
    let stream_left = row_wise_over(&join.left, relation) && reads_any(&join.right, &names);
    let stream_right = row_wise_over(&join.right, relation) && reads_any(&join.left, &names);
    if stream_left == stream_right {
        return Ok(None);
    }
    let (rows, windows) = match stream_left {
        true => (&join.left, &join.right),
        false => (&join.right, &join.left),
    };
    let leaf = |scan: &TableScan, column: usize| fed_bound(feds, scan, column);
    let stream_time = |at: usize| passes_event_time(rows, at, &stream.event_time);
    let window_time = |at: usize| bound_of(windows, at, &leaf).is_some();
    let bounds = join.filter.as_ref().and_then(|filter| match stream_left {
        true => time_bounds(filter, &join.left, &join.right, &stream_time, &window_time),
        false => time_bounds(filter, &join.left, &join.right, &window_time, &stream_time),
    });
    let Some(bounds) = bounds else {
        return Err(not_supported(&format!(
            "this query joins the stream {} with a window aggregate of it without bounding the \
             stream's event time by the window's from below and above (S.t BETWEEN \
             w.window_end - INTERVAL … AND w.window_end)",
            stream.relation
        )));
    };
    // lo_ms <= S.t - W.t <= hi_ms.
    let (stream_column, window_column, lo_ms, hi_ms) = match stream_left {
        true => (bounds.left, bounds.right, bounds.lo_ms, bounds.hi_ms),
        false => (bounds.right, bounds.left, -bounds.hi_ms, -bounds.lo_ms),
    };
    let missing = || EngineError::Internal {
        message: "a window join lost track of its window's time column".into(),
        source: None,
    };
    let (fed_input, bound) = bound_of(windows, window_column, &leaf).ok_or_else(missing)?;
    let fed = feds
        .iter()
        .find(|f| f.input == fed_input)
        .ok_or_else(missing)?;
    let window_time = fed
        .bounds
        .iter()
        .position(|b| *b == Some(bound))
        .ok_or_else(missing)?;
    let to_end_ms = match bound {
        Bound::End => 0,
        Bound::Start if window.kind != WindowKind::Cumulate => window.size_ms,
        Bound::Start => {
            return Err(not_supported(
                "this query bounds the stream's event time by a CUMULATE window's start, \
                 which does not say when the window ends",
            ))
        }
    };
    let (replaced, table) = over_closed_rows(rows, &format!("__eddy_window_rows_{input}"))?;
    let kept = StreamRows::new(rows.as_ref().clone(), table, stream_column);
    let mut join = join.clone();
    match stream_left {
        true => join.left = Arc::new(replaced),
        false => join.right = Arc::new(replaced),
    }
    let timed = TimedJoin {
        stream_input: input,
        window_table: fed.table.clone(),
        window_time,
        lo_ms,
        hi_ms,
        to_end_ms,
        held: Vec::new(),
    };
    Ok(Some((LogicalPlan::Join(join), kept, timed)))
}

/// Says which window bound a table's column is: `(input, bound)`.
type Leaf<'a> = dyn Fn(&TableScan, usize) -> Option<(usize, Bound)> + 'a;

/// Refuses a query over closed windows' rows that could meet rows of different windows.
fn check_per_window(plan: &LogicalPlan, feds: &[Fed]) -> Result<(), EngineError> {
    let names: Vec<String> = feds.iter().map(|f| f.table_name.clone()).collect();
    let fed_column = |scan: &TableScan, column: usize| fed_bound(feds, scan, column);
    let leaf: &Leaf<'_> = &fed_column;
    let reads_fed = |plan: &LogicalPlan| reads_any(plan, &names);
    let mut error = None;
    plan.apply_with_subqueries(|node| {
        let problem = match node {
            LogicalPlan::Join(join) if reads_fed(&join.left) && reads_fed(&join.right) => {
                let same_window = join.on.iter().any(|(l, r)| {
                    let side = |e: &Expr, plan: &LogicalPlan| match unalias(e) {
                        Expr::Column(c) => plan
                            .schema()
                            .index_of_column(c)
                            .ok()
                            .and_then(|i| bound_of(plan, i, leaf)),
                        _ => None,
                    };
                    matches!((side(l, &join.left), side(r, &join.right)),
                        (Some((_, a)), Some((_, b))) if a == b)
                });
                (!same_window).then_some(
                    "this query joins window aggregates without equating their windows \
                     (ON a.window_end = b.window_end, or window_start)",
                )
            }
            LogicalPlan::Aggregate(aggregate) if reads_fed(&aggregate.input) => {
                let by_window =
                    (0..aggregate.group_expr.len()).any(|i| bound_of(node, i, leaf).is_some());
                (!by_window).then_some(
                    "this query aggregates window aggregates' rows across windows (group them \
                     by window_start or window_end)",
                )
            }
            LogicalPlan::Window(window) if reads_fed(&window.input) => {
                Some("this query runs an OVER window over window aggregates' rows")
            }
            LogicalPlan::Limit(limit) if reads_fed(&limit.input) => {
                Some("this query limits window aggregates' rows (LIMIT)")
            }
            LogicalPlan::Distinct(_) if reads_fed(node) => {
                Some("this query takes DISTINCT rows of window aggregates")
            }
            _ => None,
        };
        if let Some(why) = problem {
            error = Some(not_supported(why));
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    match error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}
