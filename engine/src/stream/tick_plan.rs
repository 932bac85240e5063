//! The plan a continuous query runs each tick: planned once, in a session state whose
//! optimizer keeps the aggregate state between ticks apart, and checked for operators that
//! need the whole input.

use super::micro_batch::overlay_catalogs;
use crate::error::EngineError;
use crate::sql::functions::restore_flink_functions;
use crate::sql::functions::watermark::current_watermark;
use datafusion::catalog::TableProvider;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

/// Optimizer rules that are right for one bounded input but wrong when a plan is run once
/// per micro-batch and its aggregate state carried over.
const BATCH_ONLY_LOGICAL_RULES: &[&str] = &["single_distinct_aggregation_to_group_by"];
const BATCH_ONLY_PHYSICAL_RULES: &[&str] = &[
    // Partial and Final must stay apart: the state between them is what is kept.
    "CombinePartialFinalAggregate",
    // Answers COUNT(*) from the micro-batch's row count.
    "aggregate_statistics",
    "LimitedDistinctAggregation",
    "LimitAggregation",
];

/// Operators that would see one micro-batch at a time and give a wrong answer for the
/// stream as a whole.
const WHOLE_INPUT_OPERATORS: &[&str] = &[
    "SortExec",
    "SortPreservingMergeExec",
    "GlobalLimitExec",
    "LocalLimitExec",
    "BoundedWindowAggExec",
    "WindowAggExec",
];

/// The session state continuous queries plan in: the session's tables with the stream
/// relation laid over them, one partition (micro-batches are small, and the plan's shape
/// stays simple), and no optimizations that assume the whole input is at hand.
pub(crate) fn streaming_state(
    base: SessionState,
    default_catalog: &str,
    default_schema: &str,
    extra: HashMap<String, Arc<dyn TableProvider>>,
    watermark: Arc<AtomicI64>,
) -> Result<SessionState, EngineError> {
    let catalogs = overlay_catalogs(base.catalog_list(), default_catalog, default_schema, extra)?;
    let config = base
        .config()
        .clone()
        .with_target_partitions(1)
        // The overlay already holds the default catalog; a fresh one would hide it.
        .with_create_default_catalog_and_schema(false);
    let logical_rules = base
        .optimizers()
        .iter()
        .filter(|r| !BATCH_ONLY_LOGICAL_RULES.contains(&r.name()))
        .cloned()
        .collect();
    let physical_rules = base
        .physical_optimizers()
        .iter()
        .filter(|r| !BATCH_ONLY_PHYSICAL_RULES.contains(&r.name()))
        .cloned()
        .collect();
    let mut state = SessionStateBuilder::new_from_existing(base)
        .with_config(config)
        .with_catalog_list(catalogs)
        .with_optimizer_rules(logical_rules)
        .with_physical_optimizer_rules(physical_rules)
        .build();
    restore_flink_functions(&mut state)?;
    // CURRENT_WATERMARK reads this query's watermark.
    state.register_udf(Arc::new(current_watermark(Some(watermark))))?;
    Ok(state)
}

/// `plan` with `node` (one of its nodes) replaced by `source`.
pub(crate) fn replace_node(
    plan: &Arc<dyn ExecutionPlan>,
    node: &Arc<dyn ExecutionPlan>,
    source: Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>, EngineError> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    Ok(plan
        .clone()
        .transform_down(|n| {
            Ok(if Arc::ptr_eq(&n, node) {
                Transformed::yes(source.clone())
            } else {
                Transformed::no(n)
            })
        })?
        .data)
}

pub(crate) async fn physical_plan(
    state: &SessionState,
    logical: &LogicalPlan,
) -> Result<Arc<dyn ExecutionPlan>, EngineError> {
    Ok(state
        .query_planner()
        .create_physical_plan(logical, state)
        .await?)
}

fn operators(plan: &Arc<dyn ExecutionPlan>, out: &mut Vec<String>) {
    out.push(plan.name().to_string());
    for child in plan.children() {
        operators(child, out);
    }
}

pub(crate) fn check_per_batch(
    plan: &Arc<dyn ExecutionPlan>,
    what: &str,
) -> Result<(), EngineError> {
    let mut names = Vec::new();
    operators(plan, &mut names);
    if let Some(op) = names
        .iter()
        .find(|n| WHOLE_INPUT_OPERATORS.contains(&n.as_str()))
    {
        let clause = match op.as_str() {
            "GlobalLimitExec" | "LocalLimitExec" => "LIMIT",
            "BoundedWindowAggExec" | "WindowAggExec" => "OVER (…)",
            _ => "ORDER BY",
        };
        return Err(EngineError::NotSupported {
            message: format!("{clause} {what} needs the whole stream, which never ends"),
        });
    }
    Ok(())
}
