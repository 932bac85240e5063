//! OVER aggregations over a stream, as Flink runs them: `agg(…) OVER (PARTITION BY … ORDER BY
//! rowtime ROWS|RANGE BETWEEN … PRECEDING AND CURRENT ROW)`, and `LAG`. Each row is emitted
//! once, with its aggregate over the rows of its partition up to it in event time, when the
//! watermark has passed it — so every row that comes before it has come (a later one is late
//! and dropped, as in Flink). Ordered by a processing-time attribute (`PROCTIME()`), rows are
//! taken as they come, each tick's at once. The result is append-only.
//!
//! Rows wait (`pending`) until the watermark passes them. Then the rows the watermark passed
//! are run through DataFusion's own window operator together with the rows each partition
//! still needs from before (`history`): the last N rows for `ROWS N PRECEDING` (or a `LAG` of
//! N), the rows within the interval for `RANGE INTERVAL … PRECEDING`, all of them for
//! `UNBOUNDED PRECEDING` (kept rows are counted against the memory limit). Rows are put in the
//! window's order by partition, event time and arrival, so rows of equal time are taken in
//! the order they came, as Flink does; the window operator keeps its input's order, so the
//! ready rows' results are picked out by position.

use super::running_aggregates::RunningAggregates;
use super::tick_plan::replace_node;
use super::window::millis;
use crate::error::EngineError;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::{
    concat, concat_batches, filter_record_batch, lexsort_to_indices, partition, take,
    take_record_batch, SortColumn, SortOptions,
};
use datafusion::arrow::datatypes::{Int64Type, SchemaRef};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::ScalarValue;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::logical_expr::{WindowFrameBound, WindowFrameUnits};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::window::StandardWindowExpr;
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use datafusion::physical_plan::{collect, ExecutionPlan};
use std::sync::Arc;

/// Where an OVER aggregation sits in one tick's physical plan.
pub(crate) struct OverPlan {
    root: Arc<dyn ExecutionPlan>,
    /// The window operator.
    window: Arc<dyn ExecutionPlan>,
    /// Its input (a sort by partition and time), replaced by the rows in that order.
    window_input: Arc<dyn ExecutionPlan>,
    /// The order the rows are given to the window operator in: by partition, then time.
    ordering: Option<LexOrdering>,
    /// How the window orders its time column (ascending; where NULLs go).
    time_options: SortOptions,
    /// What the window reads, per row: the part of the plan run over each tick's rows.
    pub(crate) lower: Arc<dyn ExecutionPlan>,
    /// The event-time column and the partition columns, in `lower`'s rows.
    time_index: usize,
    partition_columns: Vec<usize>,
    needs: History,
    /// Every function is an aggregate from the partition's start: kept as accumulators
    /// (`running_aggregates.rs`), not as rows.
    running: bool,
}

/// What each partition must keep of its rows for the rows to come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct History {
    /// The last rows (ROWS N PRECEDING, LAG(…, N)).
    rows: usize,
    /// The rows less than this many ms before the next row (RANGE … PRECEDING).
    range_ms: Option<i64>,
    /// Every row (UNBOUNDED PRECEDING, ROW_NUMBER, RANK, …).
    all: bool,
}

fn not_run(why: &str) -> EngineError {
    EngineError::NotSupported {
        message: format!(
            "OVER (…) over a stream runs as Flink runs it — agg(…) OVER (PARTITION BY … ORDER \
             BY the event-time column ROWS|RANGE BETWEEN … PRECEDING AND CURRENT ROW), or LAG — \
             or as a Top-N (WHERE rank <= N around it); {why}"
        ),
    }
}

/// What the logical plan says of an OVER aggregation's functions that the physical plan
/// keeps to itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct OverFacts {
    /// How many rows back the `LAG`s reach (1 without an offset).
    pub(crate) lag_rows: usize,
    /// Whether a function has a FILTER (then it is not kept as a running aggregate).
    pub(crate) filtered: bool,
}

/// The facts of the OVER functions of `plan`.
pub(crate) fn facts(plan: &LogicalPlan) -> Result<OverFacts, EngineError> {
    let mut most = 0usize;
    let mut bad = false;
    let mut filtered = false;
    plan.apply(|node| {
        if let LogicalPlan::Window(window) = node {
            for expr in &window.window_expr {
                let mut expr = expr;
                while let Expr::Alias(alias) = expr {
                    expr = &alias.expr;
                }
                let Expr::WindowFunction(function) = expr else {
                    continue;
                };
                filtered |= function.params.filter.is_some();
                if !function.fun.name().eq_ignore_ascii_case("lag") {
                    continue;
                }
                let offset = match function.params.args.get(1) {
                    None => Some(1),
                    Some(Expr::Literal(value, _)) => match value {
                        ScalarValue::Int64(Some(n)) => usize::try_from(*n).ok(),
                        ScalarValue::Int32(Some(n)) => usize::try_from(*n).ok(),
                        ScalarValue::UInt64(Some(n)) => usize::try_from(*n).ok(),
                        _ => None,
                    },
                    Some(_) => None,
                };
                match offset {
                    Some(offset) => most = most.max(offset),
                    None => bad = true,
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    match bad {
        true => Err(not_run(
            "LAG's offset must be a number of rows back (a LAG with a negative one is a LEAD)",
        )),
        false => Ok(OverFacts {
            lag_rows: most,
            filtered,
        }),
    }
}

/// Finds an OVER aggregation in a plan without an aggregate, its rows ordered by `time` (the
/// stream's event-time column): `None` if its window operator has no function ordered by
/// time (then it may be a Top-N); an error naming what does not fit otherwise.
pub(crate) fn find(
    root: &Arc<dyn ExecutionPlan>,
    time: Option<&str>,
    facts: OverFacts,
) -> Result<Option<OverPlan>, EngineError> {
    let Some(window) = window_operator(root) else {
        return Ok(None);
    };
    let (exprs, window_input) = match (
        window.as_ref().downcast_ref::<BoundedWindowAggExec>(),
        window.as_ref().downcast_ref::<WindowAggExec>(),
    ) {
        (Some(w), _) => (w.window_expr(), w.input().clone()),
        (None, Some(w)) => (w.window_expr(), w.input().clone()),
        (None, None) => return Ok(None),
    };
    let ordered_by_time = |sort: &[PhysicalSortExpr]| match (sort, time) {
        ([only], Some(time)) => only
            .expr
            .as_ref()
            .downcast_ref::<Column>()
            .is_some_and(|c| c.name() == time),
        _ => false,
    };
    if !exprs.iter().any(|e| ordered_by_time(e.order_by())) {
        return Ok(None);
    }
    let Some(time) = time else {
        return Ok(None);
    };
    let mut needs = History::default();
    let mut time_options = SortOptions::default();
    let mut partition_by: Option<Vec<usize>> = None;
    let mut time_index = None;
    for expr in exprs {
        let [sort] = expr.order_by() else {
            return Err(not_run(&format!(
                "{} must be ordered by {time} alone",
                expr.name()
            )));
        };
        let column = sort
            .expr
            .as_ref()
            .downcast_ref::<Column>()
            .filter(|c| c.name() == time)
            .ok_or_else(|| not_run(&format!("{} must be ordered by {time}", expr.name())))?;
        if sort.options.descending {
            return Err(not_run(&format!("{time} must be in ascending order")));
        }
        time_index = Some(column.index());
        time_options = sort.options;
        let partitions = expr
            .partition_by()
            .iter()
            .map(|e| e.as_ref().downcast_ref::<Column>().map(Column::index))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| not_run("PARTITION BY an expression rather than columns"))?;
        match &partition_by {
            Some(first) if *first != partitions => {
                return Err(not_run(
                    "every function OVER a window of one query must have the same PARTITION BY",
                ))
            }
            _ => partition_by = Some(partitions),
        }
        let name = expr.name().to_ascii_lowercase();
        if expr.as_any().is::<StandardWindowExpr>() {
            if name.starts_with("lead") {
                return Err(not_run("LEAD needs rows that come later"));
            }
            if name.starts_with("lag") {
                needs.rows = needs.rows.max(facts.lag_rows);
                continue;
            }
            if ["first_value", "last_value", "nth_value"]
                .iter()
                .all(|f| !name.starts_with(f))
            {
                // ROW_NUMBER, RANK and the like count from the partition's first row.
                needs.all = true;
                continue;
            }
        }
        let frame = expr.get_window_frame();
        if frame.end_bound != WindowFrameBound::CurrentRow {
            return Err(not_run(&format!(
                "{} must end at CURRENT ROW (rows after it have not come)",
                expr.name()
            )));
        }
        if frame.start_bound.is_unbounded() {
            needs.all = true;
            continue;
        }
        let WindowFrameBound::Preceding(value) = &frame.start_bound else {
            return Err(not_run("a window must start at or before its current row"));
        };
        match frame.units {
            WindowFrameUnits::Rows => {
                let rows = match value {
                    ScalarValue::UInt64(Some(n)) => usize::try_from(*n).ok(),
                    ScalarValue::Int64(Some(n)) => usize::try_from(*n).ok(),
                    _ => None,
                }
                .ok_or_else(|| not_run("ROWS … PRECEDING takes a number of rows"))?;
                needs.rows = needs.rows.max(rows);
            }
            WindowFrameUnits::Range => {
                let ms = range_millis(value).ok_or_else(|| {
                    not_run("RANGE … PRECEDING takes an interval of days, hours, … or seconds")
                })?;
                needs.range_ms = Some(needs.range_ms.map_or(ms, |r| r.max(ms)));
            }
            WindowFrameUnits::Groups => return Err(not_run("GROUPS frames are not run")),
        }
    }
    if !super::aggregate::row_wise_above(root, &window) {
        return Err(not_run(
            "only projections and filters may be over its result (each row is emitted once)",
        ));
    }
    let lower = match window_input
        .as_ref()
        .downcast_ref::<datafusion::physical_plan::sorts::sort::SortExec>()
    {
        Some(sort) => sort.input().clone(),
        None => window_input.clone(),
    };
    let partition_columns = partition_by.unwrap_or_default();
    let time_index = time_index.unwrap_or(0);
    // The order the rows are put in, declared in full: the plan's own sort may have left out
    // a partition column a filter below made constant, which the window then cannot see.
    let schema = lower.schema();
    let ordering = LexOrdering::new(
        partition_columns
            .iter()
            .map(|i| (*i, SortOptions::default()))
            .chain(std::iter::once((time_index, time_options)))
            .map(|(i, options)| {
                PhysicalSortExpr::new(Arc::new(Column::new(schema.field(i).name(), i)), options)
            }),
    );
    let running = !facts.filtered && RunningAggregates::of(&window).is_some();
    Ok(Some(OverPlan {
        root: root.clone(),
        window,
        window_input,
        ordering,
        time_options,
        lower,
        time_index,
        partition_columns,
        needs,
        running,
    }))
}

/// The first window operator in `node`, if any.
fn window_operator(node: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    if matches!(node.name(), "BoundedWindowAggExec" | "WindowAggExec") {
        return Some(node.clone());
    }
    node.children().into_iter().find_map(window_operator)
}

/// A RANGE frame's interval in milliseconds.
fn range_millis(value: &ScalarValue) -> Option<i64> {
    match value {
        ScalarValue::IntervalDayTime(Some(v)) => {
            Some(i64::from(v.days) * 86_400_000 + i64::from(v.milliseconds))
        }
        ScalarValue::IntervalMonthDayNano(Some(v)) if v.months == 0 => {
            Some(i64::from(v.days) * 86_400_000 + v.nanoseconds / 1_000_000)
        }
        ScalarValue::DurationMillisecond(Some(ms)) => Some(*ms),
        ScalarValue::DurationSecond(Some(s)) => Some(s * 1000),
        ScalarValue::DurationMicrosecond(Some(us)) => Some(us / 1000),
        _ => None,
    }
}

/// Rows with their arrival numbers (the order rows of equal time are taken in), and which
/// of them the watermark has just passed (the rows whose results go out).
struct Numbered {
    rows: RecordBatch,
    arrival: Int64Array,
    ready: BooleanArray,
}

/// The rows waiting for the watermark, and those each partition keeps from before.
#[derive(Default)]
pub(crate) struct OverState {
    pending: Vec<Numbered>,
    history: Option<Numbered>,
    next_arrival: i64,
    /// The watermark the last ready rows were taken at: rows at or before it are late
    /// (event time only: rows ordered by processing time are never late).
    taken_at: Option<i64>,
    /// The accumulators of aggregates from the partition's start, in place of history.
    running: Option<RunningAggregates>,
}

impl OverState {
    /// Keeps a tick's rows until the watermark passes them; returns how many were late (at
    /// or before a watermark whose rows have gone out, or without a time).
    pub(crate) fn push(
        &mut self,
        plan: &OverPlan,
        rows: Vec<RecordBatch>,
        processing_time: bool,
    ) -> Result<u64, EngineError> {
        let mut late = 0;
        for batch in rows.into_iter().filter(|b| b.num_rows() > 0) {
            // A row without a time has no place in the order, and is dropped as late.
            let after = self
                .taken_at
                .filter(|_| !processing_time)
                .unwrap_or(i64::MIN);
            let times = millis(batch.column(plan.time_index))?;
            let keep: BooleanArray = times
                .iter()
                .map(|t| Some(t.is_some_and(|t| t > after)))
                .collect();
            let batch = match keep.true_count() == batch.num_rows() {
                true => batch,
                false => {
                    late += (batch.num_rows() - keep.true_count()) as u64;
                    filter_record_batch(&batch, &keep)?
                }
            };
            if batch.num_rows() == 0 {
                continue;
            }
            let n = batch.num_rows() as i64;
            let arrival = Int64Array::from_iter_values(self.next_arrival..self.next_arrival + n);
            self.next_arrival += n;
            self.pending.push(Numbered {
                ready: BooleanArray::from(vec![false; batch.num_rows()]),
                rows: batch,
                arrival,
            });
        }
        Ok(late)
    }

    /// The result rows of the rows the watermark `w` has passed, each with its aggregate over
    /// its partition up to it.
    pub(crate) async fn take_ready(
        &mut self,
        plan: &OverPlan,
        w: i64,
        task: Arc<TaskContext>,
    ) -> Result<Vec<RecordBatch>, EngineError> {
        let schema = plan.lower.schema();
        let mut ready = Vec::new();
        let mut waiting = Vec::new();
        for part in std::mem::take(&mut self.pending) {
            let times = millis(part.rows.column(plan.time_index))?;
            let passed: BooleanArray = times
                .iter()
                .map(|t| Some(t.is_some_and(|t| t <= w)))
                .collect();
            if passed.true_count() == 0 {
                waiting.push(part);
                continue;
            }
            let left = datafusion::arrow::compute::not(&passed)?;
            let mut taken = select(&part, &passed)?;
            taken.ready = BooleanArray::from(vec![true; taken.rows.num_rows()]);
            ready.push(taken);
            if left.true_count() > 0 {
                waiting.push(select(&part, &left)?);
            }
        }
        self.pending = waiting;
        if ready.is_empty() {
            return Ok(Vec::new());
        }
        self.taken_at = Some(self.taken_at.map_or(w, |b| b.max(w)));
        if plan.running {
            let ready: Vec<&Numbered> = ready.iter().collect();
            let sorted = self.in_window_order(plan, &join(&schema, &ready)?)?;
            let running = match &mut self.running {
                Some(running) => running,
                None => self
                    .running
                    .insert(RunningAggregates::of(&plan.window).ok_or_else(|| {
                        EngineError::Internal {
                            message: "the OVER aggregation's functions are no longer running \
                                  aggregates"
                                .into(),
                            source: None,
                        }
                    })?),
            };
            let window_schema = plan.window.schema();
            let windowed = running.results(
                &sorted.rows,
                &plan.partition_columns,
                plan.time_index,
                &window_schema,
            )?;
            let above: Arc<dyn ExecutionPlan> =
                MemorySourceConfig::try_new_exec(&[vec![windowed]], window_schema, None)?;
            return Ok(collect(replace_node(&plan.root, &plan.window, above)?, task).await?);
        }
        // The partitions' rows from before, then the ready ones, in the window's order.
        let mut all: Vec<&Numbered> = self.history.iter().collect();
        all.extend(ready.iter());
        let combined = join(&schema, &all)?;
        let sorted = self.in_window_order(plan, &combined)?;
        // In the order the window wants (its sort replaced by rows already in it).
        let config = MemorySourceConfig::try_new(&[vec![sorted.rows.clone()]], schema, None)?;
        let config = match &plan.ordering {
            Some(ordering) => config.try_with_sort_information(vec![ordering.clone()])?,
            None => config,
        };
        let source: Arc<dyn ExecutionPlan> = DataSourceExec::from_data_source(config);
        let windowed = collect(
            replace_node(&plan.window, &plan.window_input, source)?,
            task.clone(),
        )
        .await?;
        let windowed = concat_batches(&plan.window.schema(), &windowed)?;
        // Only the ready rows' results: the window keeps its input's order.
        if windowed.num_rows() != sorted.ready.len() {
            return Err(EngineError::Internal {
                message: "the OVER aggregation's window gave another number of rows than it \
                          read"
                    .into(),
                source: None,
            });
        }
        let fresh = filter_record_batch(&windowed, &sorted.ready)?;
        let window_schema = plan.window.schema();
        let above: Arc<dyn ExecutionPlan> =
            MemorySourceConfig::try_new_exec(&[vec![fresh]], window_schema, None)?;
        let out = collect(replace_node(&plan.root, &plan.window, above)?, task).await?;
        self.history = Some(self.keep(plan, sorted)?);
        Ok(out)
    }

    /// `rows` sorted by partition, event time and arrival.
    fn in_window_order(&self, plan: &OverPlan, rows: &Numbered) -> Result<Numbered, EngineError> {
        let mut columns: Vec<SortColumn> = plan
            .partition_columns
            .iter()
            .map(|i| SortColumn {
                values: rows.rows.column(*i).clone(),
                options: None,
            })
            .collect();
        columns.push(SortColumn {
            values: rows.rows.column(plan.time_index).clone(),
            options: Some(plan.time_options),
        });
        columns.push(SortColumn {
            values: Arc::new(rows.arrival.clone()),
            options: Some(SortOptions::default()),
        });
        let order = lexsort_to_indices(&columns, None)?;
        Ok(Numbered {
            rows: take_record_batch(&rows.rows, &order)?,
            arrival: longs(take(&rows.arrival, &order, None)?),
            ready: take(&rows.ready, &order, None)?.as_boolean().clone(),
        })
    }

    /// What each partition of `sorted` (in window order) keeps for the rows to come, whose
    /// times are at least the latest time among these.
    fn keep(&self, plan: &OverPlan, sorted: Numbered) -> Result<Numbered, EngineError> {
        let needs = plan.needs;
        if needs.all {
            return Ok(Numbered {
                ready: BooleanArray::from(vec![false; sorted.rows.num_rows()]),
                ..sorted
            });
        }
        let times = millis(sorted.rows.column(plan.time_index))?;
        let latest = datafusion::arrow::compute::max(&times).unwrap_or(i64::MIN);
        let partition_values: Vec<ArrayRef> = plan
            .partition_columns
            .iter()
            .map(|i| sorted.rows.column(*i).clone())
            .collect();
        let ranges = match partition_values.is_empty() {
            true => std::iter::once(0..sorted.rows.num_rows()).collect(),
            false => partition(&partition_values)?.ranges(),
        };
        let mut kept: Vec<u32> = Vec::new();
        for range in ranges {
            let last_rows = range.end.saturating_sub(needs.rows).max(range.start);
            for i in range {
                let in_rows = i >= last_rows;
                let in_range = needs.range_ms.is_some_and(|r| {
                    times.is_valid(i) && times.value(i) >= latest.saturating_sub(r)
                });
                if in_rows || in_range {
                    kept.push(i as u32);
                }
            }
        }
        let indices = datafusion::arrow::array::UInt32Array::from(kept);
        let rows = take_record_batch(&sorted.rows, &indices)?;
        Ok(Numbered {
            ready: BooleanArray::from(vec![false; rows.num_rows()]),
            rows,
            arrival: longs(take(&sorted.arrival, &indices, None)?),
        })
    }

    /// Rows kept: waiting for the watermark, and each partition's from before.
    pub(crate) fn rows_kept(&self) -> usize {
        self.pending
            .iter()
            .map(|p| p.rows.num_rows())
            .sum::<usize>()
            + self.history.as_ref().map_or(0, |h| h.rows.num_rows())
    }

    pub(crate) fn bytes(&self) -> usize {
        self.pending
            .iter()
            .chain(self.history.iter())
            .map(|p| p.rows.get_array_memory_size() + p.arrival.get_array_memory_size())
            .sum::<usize>()
            + self.running.as_ref().map_or(0, RunningAggregates::bytes)
    }
}

fn select(part: &Numbered, mask: &BooleanArray) -> Result<Numbered, EngineError> {
    Ok(Numbered {
        rows: filter_record_batch(&part.rows, mask)?,
        arrival: longs(datafusion::arrow::compute::filter(&part.arrival, mask)?),
        ready: datafusion::arrow::compute::filter(&part.ready, mask)?
            .as_boolean()
            .clone(),
    })
}

fn join(schema: &SchemaRef, parts: &[&Numbered]) -> Result<Numbered, EngineError> {
    let rows = parts
        .iter()
        .map(|p| RecordBatch::try_new(schema.clone(), p.rows.columns().to_vec()))
        .collect::<Result<Vec<_>, _>>()?;
    let arrivals: Vec<&dyn Array> = parts.iter().map(|p| &p.arrival as &dyn Array).collect();
    let ready: Vec<&dyn Array> = parts.iter().map(|p| &p.ready as &dyn Array).collect();
    Ok(Numbered {
        rows: concat_batches(schema, &rows)?,
        arrival: longs(concat(&arrivals)?),
        ready: concat(&ready)?.as_boolean().clone(),
    })
}

/// Arrival numbers taken, filtered or joined (always longs).
fn longs(array: ArrayRef) -> Int64Array {
    array.as_primitive::<Int64Type>().clone()
}
