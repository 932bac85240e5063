//! Keyed aggregate state across micro-batches, on DataFusion's aggregate modes.
//!
//! Each tick's plan has a `Final` aggregate over a `Partial` one. The engine runs the
//! `Partial` part over the tick's rows only, folds the partial states of the keys they
//! touched into the kept state with a `PartialReduce` aggregate (so each key keeps one row of
//! accumulator state, found by its key in `keyed_rows`), and computes results by running the
//! `Final` aggregate, and whatever the query does after it, over state rows: those of the
//! keys that changed when the query maps result rows one by one, all of them otherwise.
//!
//! Aggregates whose state grows with their input (distinct sets, lists) keep live
//! accumulators per group instead (`live_groups.rs`); their rows are then the `Final`
//! aggregate's output, and [`KeyedState::results`] runs the query from above it.

use super::keyed_rows::KeyedRows;
use super::live_groups::{self, LiveGroups};
use crate::error::EngineError;
use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{cast, concat_batches, filter_record_batch, not};
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit, TimestampMillisecondType};
use datafusion::arrow::row::Rows;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::{collect, ExecutionPlan};
use std::sync::Arc;
use std::time::Instant;

/// Where the aggregation sits in one tick's physical plan.
pub(crate) struct AggregatePlan {
    /// The whole plan of the tick.
    pub(crate) root: Arc<dyn ExecutionPlan>,
    /// The `Final` aggregate node inside `root`.
    pub(crate) final_agg: Arc<dyn ExecutionPlan>,
    /// The `Partial` aggregate below it: runs over the tick's rows.
    pub(crate) partial: Arc<dyn ExecutionPlan>,
}

fn aggregate(plan: &Arc<dyn ExecutionPlan>) -> Option<&AggregateExec> {
    plan.as_ref().downcast_ref::<AggregateExec>()
}

/// Finds the aggregation of a plan: `None` if it has none, an error if it has more than
/// one level (state for nested aggregations over a stream is not kept).
pub(crate) fn find(root: &Arc<dyn ExecutionPlan>) -> Result<Option<AggregatePlan>, EngineError> {
    let mut aggregates = Vec::new();
    collect_aggregates(root, &mut aggregates);
    if aggregates.is_empty() {
        return Ok(None);
    }
    let not_supported = || EngineError::NotSupported {
        message: "this query aggregates a stream's rows at more than two levels, or in two \
                  places; Eddy keeps state for one aggregate (a GROUP BY or a DISTINCT) over \
                  the stream and one aggregate over its result"
            .into(),
    };
    if aggregates.len() != 2 {
        return Err(not_supported());
    }
    let final_agg = aggregates[0].clone();
    let partial = aggregates[1].clone();
    let modes = (
        aggregate(&final_agg).map(|a| *a.mode()),
        aggregate(&partial).map(|a| *a.mode()),
    );
    match modes {
        (
            Some(AggregateMode::Final | AggregateMode::FinalPartitioned),
            Some(AggregateMode::Partial),
        ) => Ok(Some(AggregatePlan {
            root: root.clone(),
            final_agg,
            partial,
        })),
        _ => Err(not_supported()),
    }
}

fn collect_aggregates(plan: &Arc<dyn ExecutionPlan>, out: &mut Vec<Arc<dyn ExecutionPlan>>) {
    if aggregate(plan).is_some() {
        out.push(plan.clone());
    }
    for child in plan.children() {
        collect_aggregates(child, out);
    }
}

/// Names of the grouping columns as the `Final` aggregate outputs them.
pub(crate) fn group_names(plan: &AggregatePlan) -> Vec<String> {
    aggregate(&plan.final_agg)
        .map(|agg| {
            agg.group_expr()
                .expr()
                .iter()
                .map(|(_, name)| name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The accumulator state of every key seen (and not yet emitted, for windows): one row per
/// key, found by its grouping columns, so a tick folds in the keys it touched and leaves the
/// others where they are.
pub(crate) struct KeyedState {
    schema: SchemaRef,
    rows: StateRows,
}

enum StateRows {
    /// Before the first tick: how many grouping columns there are is not known yet.
    Empty,
    /// An aggregate without GROUP BY: its one row.
    Single(Vec<RecordBatch>),
    /// An aggregate by key.
    Keyed(KeyedRows),
    /// Groups with live accumulators: their rows are result rows, not state rows.
    Live(LiveGroups),
}

/// What a fold changed: the rows of the keys it touched from before, and those keys.
pub(crate) struct Folded {
    /// The rows before the fold of the keys it touched that had one.
    pub(crate) before: RecordBatch,
    /// Every group it touched.
    pub(crate) touched: Touched,
}

/// The groups a fold touched, as the state has them at hand (their keys are worked out
/// only by those who need them, `changed_keys.rs`).
pub(crate) enum Touched {
    /// Their state rows after the fold.
    Rows(Vec<RecordBatch>),
    /// Their keys (live groups; none without grouping columns).
    Keys(Vec<Rows>),
}

impl KeyedState {
    pub(crate) fn new(schema: SchemaRef) -> Self {
        KeyedState {
            schema,
            rows: StateRows::Empty,
        }
    }

    pub(crate) fn keys(&self) -> usize {
        match &self.rows {
            StateRows::Empty => 0,
            StateRows::Single(rows) => rows.iter().map(RecordBatch::num_rows).sum(),
            StateRows::Keyed(rows) => rows.len(),
            StateRows::Live(groups) => groups.len(),
        }
    }

    /// The grouping-column keys of its rows, as [`KeyedState::get`] finds them.
    pub(crate) fn keys_of(&self, rows: &RecordBatch) -> Result<Option<Rows>, EngineError> {
        match &self.rows {
            StateRows::Keyed(keyed) => Ok(Some(keyed.keys_of(rows)?)),
            StateRows::Live(groups) if groups.group_columns() > 0 => {
                Ok(Some(groups.keys_of(rows)?))
            }
            _ => Ok(None),
        }
    }

    /// The rows of `keys`.
    pub(crate) fn get<'a>(
        &mut self,
        keys: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<RecordBatch>, EngineError> {
        match &mut self.rows {
            StateRows::Keyed(keyed) => Ok(vec![keyed.get(keys)?]),
            StateRows::Live(groups) if groups.group_columns() > 0 => Ok(vec![groups.get(keys)?]),
            _ => self.all(),
        }
    }

    /// Folds the partial states of a tick into the kept state: the state rows of the keys
    /// the tick touched are taken out, reduced with the tick's, and put back.
    pub(crate) async fn fold(
        &mut self,
        plan: &AggregatePlan,
        partials: Vec<RecordBatch>,
        task: Arc<TaskContext>,
    ) -> Result<Folded, EngineError> {
        let Some(final_agg) = aggregate(&plan.final_agg) else {
            return Err(EngineError::Internal {
                message: "the final aggregate went missing".into(),
                source: None,
            });
        };
        if matches!(self.rows, StateRows::Empty) {
            let groups = final_agg.group_expr().num_group_exprs();
            let live = final_agg.group_expr().is_single()
                && final_agg
                    .aggr_expr()
                    .iter()
                    .any(|a| live_groups::state_grows(a));
            self.rows = match groups {
                _ if live => StateRows::Live(LiveGroups::new(final_agg)?),
                0 => StateRows::Single(Vec::new()),
                n => StateRows::Keyed(KeyedRows::new(self.schema.clone(), (0..n).collect())?),
            };
        }
        let partials: Vec<RecordBatch> =
            partials.into_iter().filter(|b| b.num_rows() > 0).collect();
        let before = match &mut self.rows {
            StateRows::Live(groups) => {
                let (before, keys) = groups.fold(&partials)?;
                return Ok(Folded {
                    before,
                    touched: Touched::Keys(keys),
                });
            }
            StateRows::Empty => RecordBatch::new_empty(self.schema.clone()),
            StateRows::Single(rows) => concat_batches(&self.schema, &std::mem::take(rows))?,
            StateRows::Keyed(keyed) => {
                let mut before = Vec::with_capacity(partials.len());
                for partial in &partials {
                    let keys = keyed.keys_of(partial)?;
                    before.push(keyed.take(keys.iter().map(|k| k.data()))?);
                }
                concat_batches(&self.schema, &before)?
            }
        };
        let mut input = vec![before.clone()];
        input.extend(partials);
        let source = MemorySourceConfig::try_new_exec(&[input], self.schema.clone(), None)?;
        let reduce = AggregateExec::try_new(
            AggregateMode::PartialReduce,
            final_agg.group_expr().clone(),
            final_agg.aggr_expr().to_vec(),
            final_agg.filter_expr().to_vec(),
            source,
            final_agg.input_schema(),
        )?;
        let after: Vec<RecordBatch> = collect(Arc::new(reduce), task)
            .await?
            .into_iter()
            .filter(|b| b.num_rows() > 0)
            .collect();
        match &mut self.rows {
            StateRows::Empty | StateRows::Live(_) => {}
            StateRows::Single(rows) => rows.extend(after.iter().cloned()),
            StateRows::Keyed(keyed) => {
                for batch in &after {
                    keyed.insert(batch.clone())?;
                }
            }
        }
        Ok(Folded {
            before,
            touched: Touched::Rows(after),
        })
    }

    /// Takes out the keys `closed` selects (windows the watermark passed), leaving the rest.
    pub(crate) fn take_where(
        &mut self,
        closed: impl Fn(&RecordBatch) -> Result<BooleanArray, EngineError>,
    ) -> Result<Vec<RecordBatch>, EngineError> {
        match &mut self.rows {
            StateRows::Empty => Ok(Vec::new()),
            StateRows::Keyed(keyed) => keyed.take_where(closed),
            StateRows::Live(groups) => {
                let taken = groups.take_where(closed)?;
                Ok(if taken.num_rows() > 0 {
                    vec![taken]
                } else {
                    Vec::new()
                })
            }
            StateRows::Single(rows) => {
                let mut taken = Vec::new();
                let mut kept = Vec::new();
                for batch in std::mem::take(rows) {
                    let mask = closed(&batch)?;
                    let out = filter_record_batch(&batch, &mask)?;
                    let rest = filter_record_batch(&batch, &not(&mask)?)?;
                    if out.num_rows() > 0 {
                        taken.push(out);
                    }
                    if rest.num_rows() > 0 {
                        kept.push(rest);
                    }
                }
                *rows = kept;
                Ok(taken)
            }
        }
    }

    /// Bytes the state holds.
    pub(crate) fn bytes(&self) -> usize {
        match &self.rows {
            StateRows::Empty => 0,
            StateRows::Single(rows) => rows.iter().map(RecordBatch::get_array_memory_size).sum(),
            StateRows::Keyed(keyed) => keyed.bytes(),
            StateRows::Live(groups) => groups.bytes(),
        }
    }

    /// Drops the state of the keys no row has touched since `written_before` (a state TTL):
    /// a row that comes for one later starts its aggregate afresh, as in Flink.
    pub(crate) fn expire(&mut self, written_before: Instant) -> Result<usize, EngineError> {
        match &mut self.rows {
            StateRows::Keyed(keyed) => keyed.expire(written_before),
            StateRows::Live(groups) if groups.group_columns() > 0 => {
                Ok(groups.expire(written_before))
            }
            StateRows::Empty | StateRows::Single(_) | StateRows::Live(_) => Ok(0),
        }
    }

    pub(crate) fn all(&mut self) -> Result<Vec<RecordBatch>, EngineError> {
        match &mut self.rows {
            StateRows::Empty => Ok(Vec::new()),
            StateRows::Single(rows) => Ok(rows.clone()),
            StateRows::Keyed(keyed) => keyed.batches(),
            StateRows::Live(groups) => Ok(vec![groups.all()?]),
        }
    }

    /// Runs the query's plan over rows this state handed out: from its `Final` aggregate up
    /// over state rows, from above it over the result rows of live groups.
    pub(crate) async fn results(
        &self,
        plan: &AggregatePlan,
        rows: Vec<RecordBatch>,
        task: Arc<TaskContext>,
    ) -> Result<Vec<RecordBatch>, EngineError> {
        let replacement = match &self.rows {
            StateRows::Live(_) => {
                MemorySourceConfig::try_new_exec(&[rows], plan.final_agg.schema(), None)?
            }
            _ => {
                let source = MemorySourceConfig::try_new_exec(&[rows], self.schema.clone(), None)?;
                plan.final_agg.clone().replace_children(
                    vec![source],
                    ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
                )?
            }
        };
        let target = plan.final_agg.clone();
        let root = plan
            .root
            .clone()
            .transform_down(|node| {
                Ok(if Arc::ptr_eq(&node, &target) {
                    Transformed::yes(replacement.clone())
                } else {
                    Transformed::no(node)
                })
            })?
            .data;
        Ok(collect(root, task).await?)
    }
}

/// Whether the plan above the `Final` aggregate maps each of its rows on its own
/// (projections, filters such as HAVING): then the result rows of the keys a tick touched
/// can be worked out from their state rows alone. A sort, a limit, another aggregate or a
/// window over the result needs all of it.
pub(crate) fn row_wise_above_final(plan: &AggregatePlan) -> bool {
    row_wise_above(&plan.root, &plan.final_agg)
}

/// Whether every node from `root` down to `target` maps rows one by one.
pub(crate) fn row_wise_above(
    root: &Arc<dyn ExecutionPlan>,
    target: &Arc<dyn ExecutionPlan>,
) -> bool {
    if Arc::ptr_eq(root, target) {
        return true;
    }
    let per_row = matches!(
        root.name(),
        "ProjectionExec"
            | "FilterExec"
            | "CoalesceBatchesExec"
            | "CoalescePartitionsExec"
            | "RepartitionExec"
            | "CooperativeExec"
    );
    match root.children().as_slice() {
        [child] if per_row => row_wise_above(child, target),
        _ => false,
    }
}

/// The column at `end_index` (a window's end, or its start) in milliseconds.
fn window_ends(
    batch: &RecordBatch,
    end_index: usize,
) -> Result<datafusion::arrow::array::ArrayRef, EngineError> {
    let column = batch.column(end_index);
    let tz = match column.data_type() {
        DataType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    Ok(cast(
        column,
        &DataType::Timestamp(TimeUnit::Millisecond, tz),
    )?)
}

/// The earliest end of the windows of `batch` (`end_index` plus `end_offset_ms`), among the
/// rows `keep` marks (all when `None`).
pub(crate) fn earliest_end(
    batch: &RecordBatch,
    end_index: usize,
    end_offset_ms: i64,
    keep: Option<&BooleanArray>,
) -> Result<Option<i64>, EngineError> {
    let ends = window_ends(batch, end_index)?;
    let ends = ends.as_primitive::<TimestampMillisecondType>();
    Ok((0..batch.num_rows())
        .filter(|&i| !ends.is_null(i) && keep.is_none_or(|k| k.is_valid(i) && k.value(i)))
        .map(|i| ends.value(i).saturating_add(end_offset_ms))
        .min())
}

/// A mask of the state rows whose window has fired: `window_end - 1 <= watermark`
/// (`window_end` is the column at `end_index` plus `end_offset_ms`).
pub(crate) fn fired_windows(
    batch: &RecordBatch,
    end_index: usize,
    end_offset_ms: i64,
    watermark: i64,
) -> Result<BooleanArray, EngineError> {
    let ends = window_ends(batch, end_index)?;
    let ends = ends.as_primitive::<TimestampMillisecondType>();
    Ok((0..batch.num_rows())
        .map(|i| {
            Some(
                !ends.is_null(i)
                    && ends
                        .value(i)
                        .saturating_add(end_offset_ms)
                        .saturating_sub(1)
                        <= watermark,
            )
        })
        .collect())
}
