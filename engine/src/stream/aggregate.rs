//! Keyed aggregate state across micro-batches, on DataFusion's aggregate modes.
//!
//! Each tick's plan has a `Final` aggregate over a `Partial` one. The engine runs the
//! `Partial` part over the tick's rows only, folds the partial states into the kept state
//! with a `PartialReduce` aggregate (so each key keeps one row of accumulator state), and
//! computes results by running the `Final` aggregate, and whatever the query does after it,
//! over the kept state.

use crate::error::EngineError;
use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit, TimestampMillisecondType};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::{collect, ExecutionPlan};
use std::sync::Arc;

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
        message: "a query over a stream may aggregate once (one GROUP BY, or one DISTINCT); \
                  nested aggregations keep no state across micro-batches"
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

/// The accumulator state of every key seen (and not yet emitted, for windows).
pub(crate) struct KeyedState {
    schema: SchemaRef,
    rows: Vec<RecordBatch>,
}

impl KeyedState {
    pub(crate) fn new(schema: SchemaRef) -> Self {
        KeyedState {
            schema,
            rows: Vec::new(),
        }
    }

    pub(crate) fn keys(&self) -> usize {
        self.rows.iter().map(RecordBatch::num_rows).sum()
    }

    /// Folds the partial states of a tick into the kept state.
    pub(crate) async fn fold(
        &mut self,
        plan: &AggregatePlan,
        partials: Vec<RecordBatch>,
        task: Arc<TaskContext>,
    ) -> Result<(), EngineError> {
        let Some(final_agg) = aggregate(&plan.final_agg) else {
            return Err(EngineError::Internal {
                message: "the final aggregate went missing".into(),
                source: None,
            });
        };
        let mut input = std::mem::take(&mut self.rows);
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
        self.rows = collect(Arc::new(reduce), task).await?;
        Ok(())
    }

    /// Takes out the keys `closed` selects (windows the watermark passed), leaving the rest.
    pub(crate) fn take_where(
        &mut self,
        closed: impl Fn(&RecordBatch) -> Result<BooleanArray, EngineError>,
    ) -> Result<Vec<RecordBatch>, EngineError> {
        let mut taken = Vec::new();
        let mut kept = Vec::new();
        for batch in std::mem::take(&mut self.rows) {
            let mask = closed(&batch)?;
            let out = filter_record_batch(&batch, &mask)?;
            let rest = filter_record_batch(&batch, &datafusion::arrow::compute::not(&mask)?)?;
            if out.num_rows() > 0 {
                taken.push(out);
            }
            if rest.num_rows() > 0 {
                kept.push(rest);
            }
        }
        self.rows = kept;
        Ok(taken)
    }

    pub(crate) fn all(&self) -> Vec<RecordBatch> {
        self.rows.clone()
    }
}

/// Runs the query's plan from its `Final` aggregate up, over the given state rows.
pub(crate) async fn results(
    plan: &AggregatePlan,
    state_schema: SchemaRef,
    state: Vec<RecordBatch>,
    task: Arc<TaskContext>,
) -> Result<Vec<RecordBatch>, EngineError> {
    let source = MemorySourceConfig::try_new_exec(&[state], state_schema, None)?;
    let final_agg = plan.final_agg.clone().replace_children(
        vec![source],
        ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
    )?;
    let target = plan.final_agg.clone();
    let root = plan
        .root
        .clone()
        .transform_down(|node| {
            Ok(if Arc::ptr_eq(&node, &target) {
                Transformed::yes(final_agg.clone())
            } else {
                Transformed::no(node)
            })
        })?
        .data;
    Ok(collect(root, task).await?)
}

/// A mask of the state rows whose window has fired: `window_end - 1 <= watermark`
/// (`window_end` is the column at `end_index` plus `end_offset_ms`).
pub(crate) fn fired_windows(
    batch: &RecordBatch,
    end_index: usize,
    end_offset_ms: i64,
    watermark: i64,
) -> Result<BooleanArray, EngineError> {
    let column = batch.column(end_index);
    let tz = match column.data_type() {
        DataType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    let ends = cast(column, &DataType::Timestamp(TimeUnit::Millisecond, tz))?;
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
