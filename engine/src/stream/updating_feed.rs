//! An aggregate over another aggregate's updating result, as Nexmark's q4 writes it: the
//! highest bid of each auction (which rises as bids come), then their average per category.
//!
//! The query is split once, on its logical plan, at the input of its outer aggregate. The
//! inner query (everything under the outer aggregate) runs as an updating aggregate of its
//! own: each tick folds the stream's rows into its keyed state and works out which of its
//! result rows went and which came, for the keys the tick touched (`changed_keys.rs`). Those
//! changes are the outer query's input, as weighted rows (-1 went, +1 came) in a table of
//! their own; the outer aggregate is rewritten to fold weighted rows
//! (`retracting_aggregate.rs`), and from there the query runs as any updating aggregate does.

use super::aggregate::{self, AggregatePlan, KeyedState};
use super::changed_keys::ChangedKeys;
use super::changelog;
use super::micro_batch::MicroBatchTable;
use super::retracting_aggregate::{self, WEIGHT};
use super::tick_plan::{check_per_batch, physical_plan};
use super::top_n::{self, TopNState};
use super::window::WindowSpec;
use super::window_close::WindowClose;
use crate::error::EngineError;
use datafusion::arrow::array::{AsArray, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Column;
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::execution::session_state::SessionState;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::{collect, ExecutionPlan};
use std::sync::Arc;

/// The name the outer query reads the inner query's changes by.
const FEED: &str = "__eddy_feed";

/// Whether `plan` reads rows of the stream (any micro-batch table: the stream's, a join
/// side's).
fn reads_micro_batch(plan: &LogicalPlan) -> bool {
    any_node(plan, |node| match node {
        LogicalPlan::TableScan(scan) => {
            source_as_provider(&scan.source).is_ok_and(|p| p.is::<MicroBatchTable>())
        }
        _ => false,
    })
}

/// Whether an updating operator over the stream's rows is in `plan`: an aggregate, or the
/// ranking of a Top-N.
fn updates_stream(plan: &LogicalPlan) -> bool {
    any_node(plan, |node| match node {
        LogicalPlan::Aggregate(aggregate) => reads_micro_batch(&aggregate.input),
        LogicalPlan::Window(window) => reads_micro_batch(&window.input),
        _ => false,
    })
}

/// Whether a node of `plan` is `wanted`.
fn any_node(plan: &LogicalPlan, wanted: impl Fn(&LogicalPlan) -> bool) -> bool {
    plan.exists(|node| Ok(wanted(node))).unwrap_or(false)
}

/// The inner query of an aggregate over an updating aggregate, and the table its changes go
/// into.
pub(crate) struct FeedPlan {
    pub(crate) inner: LogicalPlan,
    pub(crate) table: Arc<MicroBatchTable>,
}

/// Splits a query at its outermost aggregate over an updating result of the stream (another
/// aggregate, a Top-N): returns the query over the inner query's changes, and the inner
/// query. `None` when no aggregate is over one.
pub(crate) fn split(plan: LogicalPlan) -> Result<(LogicalPlan, Option<FeedPlan>), EngineError> {
    split_where(plan, updates_stream)
}

/// Splits a query over an updating join of streams at its outermost aggregate: returns the
/// aggregate over the join's weighted rows, and the query under it. `None` when the query
/// does not aggregate.
pub(crate) fn split_at_aggregate(
    plan: LogicalPlan,
) -> Result<(LogicalPlan, Option<FeedPlan>), EngineError> {
    split_where(plan, reads_micro_batch)
}

/// Splits a query at its outermost aggregate whose input `splits`.
fn split_where(
    plan: LogicalPlan,
    splits: impl Fn(&LogicalPlan) -> bool,
) -> Result<(LogicalPlan, Option<FeedPlan>), EngineError> {
    let mut feed: Option<FeedPlan> = None;
    let mut error: Option<EngineError> = None;
    let rewritten = plan
        .transform_down(|node| {
            if feed.is_some() || error.is_some() {
                return Ok(Transformed::new(node, false, TreeNodeRecursion::Jump));
            }
            let LogicalPlan::Aggregate(outer) = &node else {
                return Ok(Transformed::no(node));
            };
            if !splits(&outer.input) {
                return Ok(Transformed::no(node));
            }
            match over_feed(outer) {
                Ok((replaced, plan)) => {
                    feed = Some(plan);
                    Ok(Transformed::new(replaced, true, TreeNodeRecursion::Jump))
                }
                Err(e) => {
                    error = Some(e);
                    Ok(Transformed::no(node))
                }
            }
        })?
        .data;
    match error {
        Some(error) => Err(error),
        None => Ok((rewritten, feed)),
    }
}

/// The outer aggregate over a table of its input's changes.
fn over_feed(
    outer: &datafusion::logical_expr::Aggregate,
) -> Result<(LogicalPlan, FeedPlan), EngineError> {
    let inner = outer.input.as_ref().clone();
    // Changes may retract a row whose columns were NULL: every column may be.
    let (input, table) = weighted_rows_scan(inner.schema(), FEED, false, true)?;
    let replaced = retracting_aggregate::over_weighted_rows(outer, input)?;
    Ok((replaced, FeedPlan { inner, table }))
}

/// A table for weighted rows with `columns` (numbered: a plan's names may repeat under
/// different qualifiers) and the weight last, and a scan of it named `name` that gives the
/// columns their names back (and passes the weight on, when `with_weight`). Each column is as
/// nullable as in `columns` when `as_declared`, else nullable.
pub(crate) fn weighted_rows_scan(
    columns: &datafusion::common::DFSchema,
    name: &str,
    as_declared: bool,
    with_weight: bool,
) -> datafusion::error::Result<(LogicalPlan, Arc<MicroBatchTable>)> {
    let mut fields: Vec<Field> = columns
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let nullable = !as_declared || f.is_nullable();
            Field::new(format!("c{i}"), f.data_type().clone(), nullable)
        })
        .collect();
    fields.push(Field::new(WEIGHT, DataType::Int64, false));
    let table = Arc::new(MicroBatchTable::new(Arc::new(Schema::new(fields))));
    let mut named: Vec<Expr> = columns
        .iter()
        .enumerate()
        .map(|(i, (qualifier, field))| {
            Expr::Column(Column::new(Some(name), format!("c{i}")))
                .alias_qualified(qualifier.cloned(), field.name())
        })
        .collect();
    if with_weight {
        named.push(Expr::Column(Column::new(Some(name), WEIGHT)).alias(WEIGHT));
    }
    let plan = LogicalPlanBuilder::scan(
        name,
        provider_as_source(table.clone() as Arc<dyn TableProvider>),
        None,
    )?
    .project(named)?
    .build()?;
    Ok((plan, table))
}

/// An updating input: an outer or anti join of streams, or a changelog source
/// (`changelog_source.rs`). Each tick's runs of the query over it give rows weighted +1 or -1.
pub(crate) struct WeightedInput {
    /// The query over the input: projections and filters over its rows.
    pub(crate) row_wise: LogicalPlan,
    /// Over an outer join, the same with the join turned INNER (the runs that give pairs
    /// only).
    pub(crate) pairs_only: Option<LogicalPlan>,
    /// The table an aggregate over the join reads its weighted rows from; `None` when the
    /// weighted rows are the query's result (a changelog of inserts and deletes).
    pub(crate) table: Option<Arc<MicroBatchTable>>,
}

impl WeightedInput {
    /// `rows` (what a run of the query over the join gave) with their weight, in the table's
    /// schema.
    pub(crate) fn weighted(
        table: &MicroBatchTable,
        rows: &RecordBatch,
        weight: i64,
    ) -> Result<RecordBatch, EngineError> {
        let mut columns = rows.columns().to_vec();
        columns.push(Arc::new(Int64Array::from(vec![weight; rows.num_rows()])));
        Ok(RecordBatch::try_new(table.schema(), columns)?)
    }
}

/// Whether `plan` maps the rows of a join one by one (projections, filters, aliases down to
/// the join): what the query over an updating join may do before it aggregates.
pub(crate) fn row_wise_over_join(plan: &LogicalPlan) -> bool {
    row_wise_down_to(plan, &|node| matches!(node, LogicalPlan::Join(_)))
}

/// Whether `plan` maps the stream's rows one by one (projections, filters, aliases down to
/// its micro-batch table): what the query over a changelog source may do before it
/// aggregates.
pub(crate) fn row_wise_over_stream(plan: &LogicalPlan) -> bool {
    row_wise_down_to(plan, &|node| match node {
        LogicalPlan::TableScan(scan) => {
            source_as_provider(&scan.source).is_ok_and(|p| p.is::<MicroBatchTable>())
        }
        _ => false,
    })
}

/// Whether `plan` is projections, filters and aliases down to a node that is `input`.
fn row_wise_down_to(plan: &LogicalPlan, input: &dyn Fn(&LogicalPlan) -> bool) -> bool {
    if input(plan) {
        return true;
    }
    match plan {
        LogicalPlan::Projection(_) | LogicalPlan::Filter(_) | LogicalPlan::SubqueryAlias(_) => {
            match plan.inputs().as_slice() {
                [only] => row_wise_down_to(only, input),
                _ => false,
            }
        }
        _ => false,
    }
}

/// The inner query running, and the changes of its result not yet passed on.
pub(crate) struct UpdatingFeed {
    /// The inner query, over the stream's micro-batch tables.
    pub(crate) logical: LogicalPlan,
    table: Arc<MicroBatchTable>,
    inner: Inner,
    dirty: bool,
}

/// The updating operator of the inner query.
enum Inner {
    Aggregate(AggregateFeed),
    TopN(TopNFeed),
}

/// A GROUP BY's state.
struct AggregateFeed {
    /// A window aggregate's closing column: its rows go to the outer query when the
    /// watermark closes their windows, and never change after.
    close: Option<WindowClose>,
    /// The inner result's changes are worked out from the keys that changed only (the inner
    /// query maps its aggregate's rows one by one); otherwise from its whole result.
    by_key: bool,
    aggregate: Option<AggregatePlan>,
    keyed: KeyedState,
    changed: ChangedKeys,
    /// The whole inner result as last passed on, when it is worked out whole.
    passed: Vec<RecordBatch>,
}

/// A Top-N's kept rows and changes.
struct TopNFeed {
    state: TopNState,
    /// The inner query's output, and its columns that pair old and new rows.
    output: SchemaRef,
    key_columns: Vec<usize>,
}

fn missing(what: &str) -> EngineError {
    EngineError::Internal {
        message: format!("the stream's inner {what} went missing from its plan"),
        source: None,
    }
}

impl UpdatingFeed {
    pub(crate) async fn plan(
        state: &SessionState,
        feed: FeedPlan,
        window: Option<&WindowSpec>,
    ) -> Result<Self, EngineError> {
        let probe = physical_plan(state, &feed.inner).await?;
        let inner = match aggregate::find(&probe)? {
            Some(found) => {
                check_per_batch(&found.partial, "before a stream's GROUP BY")?;
                let close = match window {
                    Some(window) => {
                        Some(WindowClose::of_aggregate(&found, window).ok_or_else(|| {
                            EngineError::NotSupported {
                                message: "an aggregate over a window table function's rows that \
                                      does not group by window_start or window_end, under \
                                      another aggregate, is not run; group the inner query by \
                                      its window"
                                    .into(),
                            }
                        })?)
                    }
                    None => None,
                };
                // A window's rows are passed on once, when it closes: no changes to track.
                let by_key = close.is_none()
                    && !aggregate::group_names(&found).is_empty()
                    && aggregate::row_wise_above_final(&found);
                let state_schema = found.partial.schema();
                Inner::Aggregate(AggregateFeed {
                    keyed: KeyedState::new(state_schema),
                    close,
                    by_key,
                    aggregate: None,
                    changed: ChangedKeys::default(),
                    passed: Vec::new(),
                })
            }
            None => {
                let top = top_n::find(&probe)?.ok_or_else(|| missing("GROUP BY or Top-N"))?;
                check_per_batch(&top.lower, "below a Top-N over a stream")?;
                let output = probe.schema();
                let key_columns = top_n::key_names(&top)
                    .iter()
                    .filter_map(|name| output.index_of(name).ok())
                    .collect();
                Inner::TopN(TopNFeed {
                    state: TopNState::new(),
                    output,
                    key_columns,
                })
            }
        };
        Ok(UpdatingFeed {
            logical: feed.inner,
            table: feed.table,
            inner,
            dirty: false,
        })
    }

    /// Folds one run of the inner query's plan over a tick's rows into its state.
    pub(crate) async fn fold(
        &mut self,
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
    ) -> Result<(), EngineError> {
        match &mut self.inner {
            Inner::Aggregate(feed) => {
                let found = aggregate::find(&plan)?.ok_or_else(|| missing("aggregation"))?;
                let partials = collect(found.partial.clone(), task.clone()).await?;
                let folded = feed.keyed.fold(&found, partials, task).await?;
                if feed.by_key {
                    feed.changed.note(&feed.keyed, folded)?;
                }
                feed.aggregate = Some(found);
            }
            Inner::TopN(feed) => {
                let found = top_n::find(&plan)?.ok_or_else(|| missing("Top-N"))?;
                let rows = collect(found.lower.clone(), task.clone()).await?;
                feed.state
                    .step(
                        &found,
                        rows,
                        &feed.output,
                        &feed.key_columns,
                        false,
                        true,
                        task,
                    )
                    .await?;
            }
        }
        self.dirty = true;
        Ok(())
    }

    /// Whether the inner query is a window aggregate, whose rows go on as the watermark
    /// closes their windows ([`pass_closed`](Self::pass_closed)) rather than as they change.
    pub(crate) fn is_windowed(&self) -> bool {
        matches!(&self.inner, Inner::Aggregate(feed) if feed.close.is_some())
    }

    /// Puts the rows of the inner window aggregate's windows the watermark `watermark`
    /// closed in the table the outer query reads; false when none closed.
    pub(crate) async fn pass_closed(
        &mut self,
        watermark: i64,
        task: Arc<TaskContext>,
    ) -> Result<bool, EngineError> {
        self.table.set(Vec::new());
        let Inner::Aggregate(feed) = &mut self.inner else {
            return Ok(false);
        };
        let (Some(found), Some(close)) = (&feed.aggregate, feed.close) else {
            return Ok(false);
        };
        let closed = feed.keyed.take_where(|b| {
            aggregate::fired_windows(b, close.column, close.offset_ms, watermark)
        })?;
        if closed.is_empty() {
            return Ok(false);
        }
        let rows = feed.keyed.results(found, closed, task).await?;
        let out = self.table.schema();
        match changelog::weighted(&found.root.schema(), &[], &rows, &out)? {
            Some(rows) => {
                self.table.set(vec![rows]);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Puts the inner result's changes since the last call in the table the outer query
    /// reads; false when nothing changed.
    pub(crate) async fn pass_changes(
        &mut self,
        task: Arc<TaskContext>,
    ) -> Result<bool, EngineError> {
        self.table.set(Vec::new());
        if !self.dirty {
            return Ok(false);
        }
        self.dirty = false;
        let out = self.table.schema();
        let rows = match &mut self.inner {
            // A window aggregate's rows go on when their windows close.
            Inner::Aggregate(feed) if feed.close.is_some() => None,
            Inner::Aggregate(feed) => feed.changes(task, &out).await?,
            Inner::TopN(feed) => match feed.state.take_changes(&feed.output)? {
                Some((changes, _)) => Some(weighted_changes(&changes, &out)?),
                None => None,
            },
        };
        match rows {
            Some(rows) if rows.num_rows() > 0 => {
                self.table.set(vec![rows]);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Empties the table the outer query reads, once its plan is made.
    pub(crate) fn clear(&self) {
        self.table.set(Vec::new());
    }

    /// Bytes the inner operator's state holds.
    pub(crate) fn bytes(&self) -> usize {
        match &self.inner {
            Inner::Aggregate(feed) => feed.keyed.bytes(),
            Inner::TopN(feed) => feed.state.bytes(),
        }
    }

    /// Drops the inner operator's idle keys (a state TTL).
    pub(crate) fn expire(
        &mut self,
        written_before: std::time::Instant,
    ) -> Result<usize, EngineError> {
        match &mut self.inner {
            // A window aggregate's windows go when the watermark passes them.
            Inner::Aggregate(feed) if feed.close.is_some() => Ok(0),
            Inner::Aggregate(feed) => feed.keyed.expire(written_before),
            Inner::TopN(feed) => feed.state.expire(written_before),
        }
    }

    /// How many keys (or kept Top-N rows) the inner operator keeps.
    pub(crate) fn keys(&self) -> usize {
        match &self.inner {
            Inner::Aggregate(feed) => feed.keyed.keys(),
            Inner::TopN(feed) => feed.state.rows_kept(),
        }
    }
}

impl AggregateFeed {
    /// The inner result's changes since they were last worked out, as weighted rows in
    /// `out`'s schema.
    async fn changes(
        &mut self,
        task: Arc<TaskContext>,
        out: &SchemaRef,
    ) -> Result<Option<RecordBatch>, EngineError> {
        let Some(found) = &self.aggregate else {
            return Ok(None);
        };
        let (old, new) = if self.by_key {
            let after = self
                .keyed
                .get(self.changed.keys.iter().map(|k| k.as_ref()))?;
            let before = std::mem::take(&mut self.changed.before);
            self.changed.keys.clear();
            let old = self.keyed.results(found, before, task.clone()).await?;
            let new = self.keyed.results(found, after, task).await?;
            (old, new)
        } else {
            let all = self.keyed.all()?;
            let new = self.keyed.results(found, all, task).await?;
            (std::mem::replace(&mut self.passed, new.clone()), new)
        };
        changelog::weighted(&found.root.schema(), &old, &new, out)
    }
}

/// A changelog's rows (`op`, then the result's columns) as weighted rows in `out`'s schema:
/// `-U` and `-D` weigh -1, `+I` and `+U` +1.
fn weighted_changes(changes: &RecordBatch, out: &SchemaRef) -> Result<RecordBatch, EngineError> {
    let ops = changes.column(0).as_string::<i32>();
    let weights: Int64Array = (0..changes.num_rows())
        .map(|row| {
            Some(if ops.value(row).starts_with('-') {
                -1
            } else {
                1
            })
        })
        .collect();
    let mut columns = changes.columns()[1..].to_vec();
    columns.push(Arc::new(weights));
    Ok(RecordBatch::try_new(out.clone(), columns)?)
}
