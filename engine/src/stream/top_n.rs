//! Top-N over a stream: `ROW_NUMBER()` (or `RANK()`, `DENSE_RANK()`) `OVER (PARTITION BY …
//! ORDER BY …)` kept to the first N of each partition by a filter on the rank, as Flink users
//! write it (Nexmark q18 keeps each bidder's last bid per auction, q19 the ten highest bids of
//! each auction).
//!
//! Over an append-only input, a row the filter drops can never come back: new rows only push
//! it further down. So the state is what the filter kept, per partition; a tick ranks its new
//! rows together with the kept rows of the partitions they fall in (DataFusion's own window
//! operator, over those rows only), keeps what passes the filter, and emits the difference in
//! those partitions' results. The filter must bound the rank from above (`rn <= N`,
//! `rn < N`, `rn = 1`); any other use of OVER over a stream still needs the whole stream.

use super::keyed_rows::KeyedRows;
use super::shown_result::ShownResult;
use super::window_close::WindowClose;
use crate::error::EngineError;
use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ScalarValue;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use datafusion::physical_plan::{collect, ExecutionPlan};
use std::sync::Arc;
use std::time::Instant;

/// Where a Top-N sits in one tick's physical plan.
pub(crate) struct TopNPlan {
    root: Arc<dyn ExecutionPlan>,
    /// The window operator that ranks rows.
    window: Arc<dyn ExecutionPlan>,
    /// What the filter on the rank reads: the window, or projections of it.
    ranked: Arc<dyn ExecutionPlan>,
    /// The filter's condition, on `ranked`'s rows.
    predicate: Arc<dyn PhysicalExpr>,
    /// What the window ranks, per row: the part of the plan run over each tick's rows.
    pub(crate) lower: Arc<dyn ExecutionPlan>,
    /// The partition columns, in `lower`'s rows (and in the window's, which add the rank).
    partition_columns: Vec<usize>,
}

/// Finds a Top-N in a plan without an aggregate: `None` if it has no window operator; an
/// error naming what is missing if it has one that is not a Top-N.
pub(crate) fn find(root: &Arc<dyn ExecutionPlan>) -> Result<Option<TopNPlan>, EngineError> {
    let mut path = Vec::new();
    if !path_to_window(root, &mut path) {
        return Ok(None);
    }
    let not_top_n = |why: &str| EngineError::NotSupported {
        message: format!(
            "OVER (…) over a stream needs the whole stream, which never ends, unless it is a \
             Top-N: ROW_NUMBER(), RANK() or DENSE_RANK() OVER (PARTITION BY … ORDER BY …) in a \
             subquery, with WHERE rank <= N around it ({why})"
        ),
    };
    // path: root … window. The filter is the first node above the window past projections.
    let window = path[path.len() - 1].clone();
    let mut at = path.len() - 1;
    while at > 0 && path[at - 1].name() == "ProjectionExec" {
        at -= 1;
    }
    let ranked = path[at].clone();
    let filter = match at.checked_sub(1).map(|f| path[f].clone()) {
        Some(filter) if filter.name() == "FilterExec" => filter,
        _ => return Err(not_top_n("no WHERE on the rank")),
    };
    let (exprs, input) = match (
        window.as_ref().downcast_ref::<BoundedWindowAggExec>(),
        window.as_ref().downcast_ref::<WindowAggExec>(),
    ) {
        (Some(w), _) => (w.window_expr(), w.input()),
        (None, Some(w)) => (w.window_expr(), w.input()),
        (None, None) => return Err(not_top_n("an unknown window operator")),
    };
    let [expr] = exprs else {
        return Err(not_top_n("more than one function OVER a window"));
    };
    let name = expr.name().to_ascii_lowercase();
    if !["row_number()", "rank()", "dense_rank()"]
        .iter()
        .any(|f| name.starts_with(f))
    {
        return Err(not_top_n(&format!(
            "`{}` is not a ranking function",
            name.split(' ').next().unwrap_or_default()
        )));
    }
    let partition_columns = expr
        .partition_by()
        .iter()
        .map(|e| e.as_ref().downcast_ref::<Column>().map(Column::index))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| not_top_n("PARTITION BY an expression rather than columns"))?;
    let Some(filter_exec) = filter.as_ref().downcast_ref::<FilterExec>() else {
        return Err(not_top_n("no WHERE on the rank"));
    };
    let rank = positions_above(&ranked, &window, &[input.schema().fields().len()]);
    if !bounds_rank_from_above(filter_exec.predicate(), &rank) {
        return Err(not_top_n(
            "the WHERE around it must keep the first ranks only: rank <= N, rank < N or \
             rank = 1",
        ));
    }
    if !super::aggregate::row_wise_above(root, &filter) {
        return Err(not_top_n(
            "ORDER BY or LIMIT over its result would need all of it at each change",
        ));
    }
    // The rows' order for the window is the window's business: what it ranks is what is
    // below its sort.
    let lower = match input.name() {
        "SortExec" => input.children().first().map(|c| (*c).clone()),
        _ => Some(input.clone()),
    }
    .ok_or_else(|| not_top_n("a sort without input"))?;
    Ok(Some(TopNPlan {
        root: root.clone(),
        window,
        ranked,
        predicate: filter_exec.predicate().clone(),
        lower,
        partition_columns,
    }))
}

/// Fills `path` with the nodes from `node` down to the first window operator; false if there
/// is none.
fn path_to_window(node: &Arc<dyn ExecutionPlan>, path: &mut Vec<Arc<dyn ExecutionPlan>>) -> bool {
    path.push(node.clone());
    if matches!(node.name(), "BoundedWindowAggExec" | "WindowAggExec") {
        return true;
    }
    for child in node.children() {
        if path_to_window(child, path) {
            return true;
        }
    }
    path.pop();
    false
}

/// Where the columns at `columns` of `target`'s output are in `node`'s output, through the
/// row-wise nodes between them (projections that pass a column on as it is, filters and
/// their projections); columns dropped on the way are left out.
fn positions_above(
    node: &Arc<dyn ExecutionPlan>,
    target: &Arc<dyn ExecutionPlan>,
    columns: &[usize],
) -> Vec<usize> {
    if Arc::ptr_eq(node, target) {
        return columns.to_vec();
    }
    let Some(child) = node.children().first().map(|c| (*c).clone()) else {
        return Vec::new();
    };
    let below = positions_above(&child, target, columns);
    if let Some(projection) = node.as_ref().downcast_ref::<ProjectionExec>() {
        return projection
            .expr()
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                e.expr
                    .as_ref()
                    .downcast_ref::<Column>()
                    .is_some_and(|c| below.contains(&c.index()))
            })
            .map(|(j, _)| j)
            .collect();
    }
    if let Some(filter) = node.as_ref().downcast_ref::<FilterExec>() {
        if let Some(projection) = filter.projection() {
            return projection
                .iter()
                .enumerate()
                .filter(|(_, i)| below.contains(i))
                .map(|(j, _)| j)
                .collect();
        }
    }
    below
}

/// `rank <= N`, `rank < N`, `N >= rank`, `N > rank`, or `rank = 1`, where the rank is one of
/// the columns at `rank`.
fn bounds_rank_from_above(predicate: &Arc<dyn PhysicalExpr>, rank: &[usize]) -> bool {
    let Some(binary) = predicate.as_ref().downcast_ref::<BinaryExpr>() else {
        return false;
    };
    let is_rank = |e: &Arc<dyn PhysicalExpr>| {
        e.as_ref()
            .downcast_ref::<Column>()
            .is_some_and(|c| rank.contains(&c.index()))
    };
    let literal = |e: &Arc<dyn PhysicalExpr>| {
        e.as_ref()
            .downcast_ref::<Literal>()
            .map(|l| l.value().clone())
    };
    let is_one = |v: &ScalarValue| {
        v.cast_to(&datafusion::arrow::datatypes::DataType::Int64)
            .is_ok_and(|v| v == ScalarValue::Int64(Some(1)))
    };
    match (binary.op(), literal(binary.left()), literal(binary.right())) {
        (Operator::LtEq | Operator::Lt, None, Some(_)) => is_rank(binary.left()),
        (Operator::GtEq | Operator::Gt, Some(_), None) => is_rank(binary.right()),
        (Operator::Eq, None, Some(v)) => is_rank(binary.left()) && is_one(&v),
        (Operator::Eq, Some(v), None) => is_rank(binary.right()) && is_one(&v),
        _ => false,
    }
}

/// The output columns that identify a Top-N's rows (its partition columns and its rank, as
/// far as the query shows them), for pairing a changed row's old and new versions.
/// The column of the kept rows (the ranking's rows) that is the partition column `name`.
pub(crate) fn partition_column(plan: &TopNPlan, name: &str) -> Option<usize> {
    let schema = plan.window.schema();
    plan.partition_columns
        .iter()
        .copied()
        .find(|&i| schema.field(i).name() == name)
}

pub(crate) fn key_names(plan: &TopNPlan) -> Vec<String> {
    let mut keyed = plan.partition_columns.clone();
    keyed.push(plan.window.schema().fields().len() - 1);
    let schema = plan.root.schema();
    positions_above(&plan.root, &plan.window, &keyed)
        .into_iter()
        .map(|i| schema.field(i).name().clone())
        .collect()
}

/// The rows a Top-N keeps, and its result as last computed.
pub(crate) struct TopNState {
    /// The window's rows (ranked) that passed the filter, by partition.
    kept: Option<KeyedRows>,
    /// The result as last computed.
    shown: ShownResult,
    /// Changes not yet emitted.
    pending: Vec<RecordBatch>,
}

impl TopNState {
    pub(crate) fn new() -> Self {
        TopNState {
            kept: None,
            shown: ShownResult::default(),
            pending: Vec::new(),
        }
    }

    pub(crate) fn rows_kept(&self) -> usize {
        self.kept.as_ref().map_or(0, KeyedRows::len)
    }

    /// Bytes the kept rows and the result as shown hold.
    pub(crate) fn bytes(&self) -> usize {
        self.kept.as_ref().map_or(0, KeyedRows::bytes) + self.shown.bytes()
    }

    /// Drops the kept rows of partitions no row has touched since `written_before` (a state
    /// TTL): a row that comes for one later is ranked as the partition's first.
    pub(crate) fn expire(&mut self, written_before: Instant) -> Result<usize, EngineError> {
        match &mut self.kept {
            Some(kept) => kept.expire(written_before),
            None => Ok(0),
        }
    }

    /// Ranks a tick's rows (`lower`'s output) with the kept rows of their partitions and
    /// notes the changes in those partitions' results; keeps the whole result up to date too
    /// when it is shown (`keep_result`; a sink takes the changes only). A window Top-N
    /// (`changes` false) only keeps the ranks: its windows go out when they close.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn step(
        &mut self,
        plan: &TopNPlan,
        rows: Vec<RecordBatch>,
        output: &SchemaRef,
        key_columns: &[usize],
        keep_result: bool,
        changes: bool,
        task: Arc<TaskContext>,
    ) -> Result<(), EngineError> {
        let rows: Vec<RecordBatch> = rows.into_iter().filter(|b| b.num_rows() > 0).collect();
        if rows.is_empty() {
            return Ok(());
        }
        let window_schema = plan.window.schema();
        let lower_schema = plan.lower.schema();
        let kept = match &mut self.kept {
            Some(kept) => kept,
            None => self.kept.insert(KeyedRows::new(
                window_schema.clone(),
                plan.partition_columns.clone(),
            )?),
        };
        // The kept rows of the partitions the tick's rows fall in: all of them without
        // PARTITION BY (one partition, the whole stream).
        let mut old = Vec::with_capacity(rows.len());
        if plan.partition_columns.is_empty() {
            old = kept.take_where(|b| Ok(BooleanArray::from(vec![true; b.num_rows()])))?;
        } else {
            for batch in &rows {
                let keys = kept.keys_of(batch)?;
                old.push(kept.take_all(keys.iter().map(|k| k.data()))?);
            }
        }
        let old = concat_batches(&window_schema, &old)?;
        // Ranked again with the new rows: the old rows without their rank, then the new.
        let mut input = vec![old.project(&(0..lower_schema.fields().len()).collect::<Vec<_>>())?];
        input.extend(rows);
        let input: Vec<RecordBatch> = input
            .into_iter()
            .map(|b| RecordBatch::try_new(lower_schema.clone(), b.columns().to_vec()))
            .collect::<Result<_, _>>()?;
        let windowed = collect(
            replace(&plan.window, &plan.lower, input, &lower_schema)?,
            task.clone(),
        )
        .await?;
        let windowed = concat_batches(&window_schema, &windowed)?;
        // The filter reads the window's rows through projections, which keep them in order.
        let ranked = collect(
            replace(
                &plan.ranked,
                &plan.window,
                vec![windowed.clone()],
                &window_schema,
            )?,
            task.clone(),
        )
        .await?;
        let ranked = concat_batches(&plan.ranked.schema(), &ranked)?;
        let mask = plan
            .predicate
            .evaluate(&ranked)?
            .into_array(ranked.num_rows())?;
        let passed = filter_record_batch(&windowed, mask.as_boolean())?;
        let new = vec![passed.clone()];
        kept.insert(passed)?;
        if !changes {
            return Ok(());
        }
        // The partitions' results before and after.
        let before = collect(
            replace(&plan.root, &plan.window, vec![old], &window_schema)?,
            task.clone(),
        )
        .await?;
        let after = collect(
            replace(&plan.root, &plan.window, new, &window_schema)?,
            task.clone(),
        )
        .await?;
        let changes = super::changelog::diff(output, &before, &after, key_columns)?;
        if changes.num_rows() > 0 {
            self.pending.push(changes);
        }
        if !keep_result {
            return Ok(());
        }
        // The result as shown: the partitions' old rows out, their new rows in.
        let result_schema = plan.root.schema();
        if !self.shown.replace(&result_schema, &before, after)? {
            let all = collect(
                replace(&plan.root, &plan.window, kept.batches()?, &window_schema)?,
                task,
            )
            .await?;
            self.shown.reset(&result_schema, all)?;
        }
        Ok(())
    }

    /// The result rows of the windows the watermark closed (a window Top-N, partitioned by
    /// its window): their ranks are final, and their rows are kept no more.
    pub(crate) async fn take_closed(
        &mut self,
        plan: &TopNPlan,
        close: WindowClose,
        watermark: i64,
        task: Arc<TaskContext>,
    ) -> Result<Vec<RecordBatch>, EngineError> {
        let Some(kept) = &mut self.kept else {
            return Ok(Vec::new());
        };
        let closed = kept.take_where(|b| {
            super::aggregate::fired_windows(b, close.column, close.offset_ms, watermark)
        })?;
        if closed.is_empty() {
            return Ok(Vec::new());
        }
        Ok(collect(
            replace(&plan.root, &plan.window, closed, &plan.window.schema())?,
            task,
        )
        .await?)
    }

    /// The changes since the last call, and the whole result.
    pub(crate) fn take_changes(
        &mut self,
        output: &SchemaRef,
    ) -> Result<Option<(RecordBatch, Vec<RecordBatch>)>, EngineError> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let changes = concat_batches(
            &super::changelog::changelog_schema(output),
            &std::mem::take(&mut self.pending),
        )?;
        Ok(Some((changes, self.shown.batches()?)))
    }
}

/// `plan` with `node` replaced by a scan of `rows`.
fn replace(
    plan: &Arc<dyn ExecutionPlan>,
    node: &Arc<dyn ExecutionPlan>,
    rows: Vec<RecordBatch>,
    schema: &SchemaRef,
) -> Result<Arc<dyn ExecutionPlan>, EngineError> {
    let source: Arc<dyn ExecutionPlan> =
        MemorySourceConfig::try_new_exec(&[rows], schema.clone(), None)?;
    super::tick_plan::replace_node(plan, node, source)
}
