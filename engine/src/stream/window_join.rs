//! Window joins: two (or more) window table functions over one stream, each aggregated per
//! window (Nexmark's q5 and q8) or taken row by row (Flink's window join), and a query that
//! meets their rows window by window (`ON l.window_end = r.window_end AND …`, an aggregate
//! grouped by the window).
//!
//! Each window aggregate runs as its own inner query over its window function's rows
//! (`updating_feed.rs`, a window feed): its state is folded tick by tick, and its rows go on
//! once, when the watermark passes their window's end. A window's own rows wait the same way
//! (`window_rows.rs`). The windows are the same function of
//! the same event time, so the watermark closes the same windows of every aggregate in the
//! same tick: the rows that reach the query then are every row of those windows, and the
//! query runs over them as a batch. That is only right if the query never meets rows of
//! different windows, so every join of two aggregates must equate their windows and every
//! aggregate over them must group by the window; anything else fails at once, naming why.

use super::micro_batch::MicroBatchTable;
use super::updating_feed::{FeedPlan, UpdatingFeed};
use super::views::ViewStage;
use super::window::{self, WindowSpec};
use super::window_rows::{RowsClose, WindowRows};
use crate::error::EngineError;
use crate::sql::flink_syntax::WindowKind;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Column;
use datafusion::datasource::provider_as_source;
use datafusion::execution::session_state::SessionState;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan, LogicalPlanBuilder, TableScan};
use std::sync::Arc;

/// Another window function of the query: its rows (through its own view, if it reads one)
/// go into its own micro-batch table.
pub(crate) struct WindowSide {
    pub(crate) relation: String,
    pub(crate) slot: Arc<MicroBatchTable>,
    pub(crate) spec: WindowSpec,
    pub(crate) view: Option<ViewStage>,
}

/// What a query joins window by window, and the other window functions' inputs.
pub(crate) struct WindowJoin {
    pub(crate) inputs: Vec<JoinInput>,
    pub(crate) sides: Vec<WindowSide>,
}

/// One input of a window join: a window aggregate, or a window's own rows.
pub(crate) enum JoinInput {
    Aggregate(Box<UpdatingFeed>),
    Rows(Box<WindowRows>),
}

impl JoinInput {
    /// Its plan over the micro-batch's window rows.
    pub(crate) fn logical(&self) -> &LogicalPlan {
        match self {
            JoinInput::Aggregate(feed) => &feed.logical,
            JoinInput::Rows(rows) => &rows.logical,
        }
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
}

/// The table an input's closed rows go into, and where its window columns are.
struct Fed {
    table_name: String,
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

impl WindowJoin {
    /// Splits `plan`, which reads the window functions `relations` (the first is the query's
    /// own window, the others `sides`), at each aggregate over a window's rows and each side
    /// of a join that takes a window's rows as they are: the aggregates run as window feeds,
    /// the rows wait for their windows, and the plan returned reads their closed rows.
    pub(crate) async fn plan(
        state: &SessionState,
        plan: LogicalPlan,
        relations: &[String],
        window: &WindowSpec,
        sides: Vec<WindowSide>,
    ) -> Result<(LogicalPlan, WindowJoin), EngineError> {
        // The inputs as they are cut out, in the order their tables are numbered.
        let mut cut: Vec<Cut> = Vec::new();
        let mut feds: Vec<Fed> = Vec::new();
        let reads_window = |plan: &LogicalPlan| reads_any(plan, relations);
        // A window function's own window_start or window_end.
        let window_column = |scan: &TableScan, column: usize| {
            if !relations.iter().any(|r| r == scan.table_name.table()) {
                return None;
            }
            let bound = match scan.source.schema().field(column).name().as_str() {
                "window_start" => Bound::Start,
                "window_end" => Bound::End,
                _ => return None,
            };
            Some((0, bound))
        };
        // Bottom up: the aggregate right over a window's rows is the one that keeps state
        // per window; one over it reads its closed rows. A join's side that takes a window's
        // rows one by one keeps them until their window closes.
        let mut problem: Option<EngineError> = None;
        let outer = plan
            .transform_up(|node| {
                if let LogicalPlan::Join(_) = &node {
                    return node.map_children(|side| {
                        if !row_wise_over(&side, relations) {
                            return Ok(Transformed::no(side));
                        }
                        let name = format!("__eddy_window_rows_{}", feds.len());
                        let bounds: Vec<Option<Bound>> = (0..side.schema().fields().len())
                            .map(|i| bound_of(&side, i, &window_column).map(|(_, b)| b))
                            .collect();
                        let Some(close) = rows_close(&bounds, window) else {
                            // (The plan reads no window bound of these rows: the query
                            // does not use it.)
                            problem = Some(not_supported(
                                "this query joins a window's rows without equating their \
                                 windows (ON a.window_end = b.window_end, or window_start)",
                            ));
                            return Ok(Transformed::no(side));
                        };
                        let (replaced, table) = over_closed_rows(&side, &name)?;
                        feds.push(Fed {
                            table_name: name,
                            bounds,
                        });
                        cut.push(Cut::Rows(WindowRows::new(side, table, close)));
                        Ok(Transformed::yes(replaced))
                    });
                }
                let LogicalPlan::Aggregate(aggregate) = &node else {
                    return Ok(Transformed::no(node));
                };
                if !reads_window(&aggregate.input) {
                    return Ok(Transformed::no(node));
                }
                let name = format!("__eddy_window_rows_{}", feds.len());
                let bounds = (0..aggregate.group_expr.len())
                    .map(|i| bound_of(&node, i, &window_column).map(|(_, b)| b))
                    .chain(aggregate.aggr_expr.iter().map(|_| None))
                    .collect();
                let (replaced, table) = over_closed_rows(&node, &name)?;
                feds.push(Fed {
                    table_name: name,
                    bounds,
                });
                cut.push(Cut::Aggregate(FeedPlan { inner: node, table }));
                Ok(Transformed::yes(replaced))
            })?
            .data;
        if let Some(problem) = problem {
            return Err(problem);
        }
        if reads_window(&outer) {
            return Err(not_supported(
                "this query reads a window table function's rows other than through a join \
                 of windows or an aggregate per window",
            ));
        }
        check_per_window(&outer, &feds)?;
        let mut inputs = Vec::with_capacity(cut.len());
        for input in cut {
            inputs.push(match input {
                Cut::Rows(rows) => JoinInput::Rows(Box::new(rows)),
                Cut::Aggregate(aggregate) => {
                    let feed = UpdatingFeed::plan(state, aggregate, Some(window)).await?;
                    JoinInput::Aggregate(Box::new(feed))
                }
            });
        }
        Ok((outer, WindowJoin { inputs, sides }))
    }

    /// The rows of each other window function from a tick's rows (as the source gave them):
    /// through its view, with its windows assigned and rows behind `watermark` dropped.
    pub(crate) async fn admit(
        &self,
        batches: &[RecordBatch],
        watermark: Option<i64>,
    ) -> Result<Vec<Vec<RecordBatch>>, EngineError> {
        let mut out = Vec::with_capacity(self.sides.len());
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
            out.push(assigned);
        }
        Ok(out)
    }

    /// Folds a tick's rows into every window aggregate: the query's own window relation
    /// and each side's table hold the tick's rows while the aggregates' plans are made.
    pub(crate) async fn fold(
        &mut self,
        state: &SessionState,
        slot: &MicroBatchTable,
        rows: Vec<RecordBatch>,
        side_rows: Vec<Vec<RecordBatch>>,
    ) -> Result<(), EngineError> {
        slot.set(rows);
        for (side, rows) in self.sides.iter().zip(side_rows) {
            side.slot.set(rows);
        }
        let mut plans = Vec::with_capacity(self.inputs.len());
        for input in &self.inputs {
            plans.push(super::tick_plan::physical_plan(state, input.logical()).await);
        }
        slot.set(Vec::new());
        for side in &self.sides {
            side.slot.set(Vec::new());
        }
        let task = state.task_ctx();
        for (input, plan) in self.inputs.iter_mut().zip(plans) {
            match input {
                JoinInput::Aggregate(feed) => feed.fold(plan?, task.clone()).await?,
                JoinInput::Rows(rows) => rows.fold(plan?, task.clone()).await?,
            }
        }
        Ok(())
    }

    /// Puts the rows of the windows `watermark` closed in each aggregate's table; false when
    /// none closed.
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
            };
        }
        Ok(any)
    }

    /// Empties the inputs' tables, once the query's plan over them is made.
    pub(crate) fn clear(&self) {
        for input in &self.inputs {
            match input {
                JoinInput::Aggregate(feed) => feed.clear(),
                JoinInput::Rows(rows) => rows.clear(),
            }
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        self.inputs
            .iter()
            .map(|input| match input {
                JoinInput::Aggregate(feed) => feed.bytes(),
                JoinInput::Rows(rows) => rows.bytes(),
            })
            .sum()
    }

    /// The keys of the aggregates and the rows waiting for their windows.
    pub(crate) fn keys(&self) -> usize {
        self.inputs
            .iter()
            .map(|input| match input {
                JoinInput::Aggregate(feed) => feed.keys(),
                JoinInput::Rows(rows) => rows.rows(),
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

/// Which of a window's rows' columns ends their window: `window_end`, or `window_start`
/// plus the size (not for CUMULATE, whose windows share their start).
fn rows_close(bounds: &[Option<Bound>], window: &WindowSpec) -> Option<RowsClose> {
    let at = |bound| bounds.iter().position(|b| *b == Some(bound));
    match (at(Bound::End), at(Bound::Start)) {
        (Some(column), _) => Some(RowsClose {
            column,
            offset_ms: 0,
        }),
        (None, Some(column)) if window.kind != WindowKind::Cumulate => Some(RowsClose {
            column,
            offset_ms: window.size_ms,
        }),
        _ => None,
    }
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

/// A scan of the table an aggregate's closed rows go into, with the aggregate's column
/// names, in place of the aggregate.
fn over_closed_rows(
    aggregate: &LogicalPlan,
    name: &str,
) -> datafusion::error::Result<(LogicalPlan, Arc<MicroBatchTable>)> {
    let columns = aggregate.schema();
    // Numbered columns (names may repeat under different qualifiers; each as nullable as the
    // aggregate's, which the plan above was typed with), and the weight a window feed gives
    // each row (always +1: a closed window's rows never change).
    let mut fields: Vec<Field> = columns
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| Field::new(format!("c{i}"), f.data_type().clone(), f.is_nullable()))
        .collect();
    fields.push(Field::new(
        super::retracting_aggregate::WEIGHT,
        datafusion::arrow::datatypes::DataType::Int64,
        false,
    ));
    let table = Arc::new(MicroBatchTable::new(Arc::new(Schema::new(fields))));
    let named: Vec<Expr> = columns
        .iter()
        .enumerate()
        .map(|(i, (qualifier, field))| {
            Expr::Column(Column::new(Some(name), format!("c{i}")))
                .alias_qualified(qualifier.cloned(), field.name())
        })
        .collect();
    let plan = LogicalPlanBuilder::scan(
        name,
        provider_as_source(table.clone() as Arc<dyn TableProvider>),
        None,
    )?
    .project(named)?
    .build()?;
    Ok((plan, table))
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

/// Says which window bound a table's column is: `(input, bound)`.
type Leaf<'a> = dyn Fn(&TableScan, usize) -> Option<(usize, Bound)> + 'a;

/// Refuses a query over closed windows' rows that could meet rows of different windows.
fn check_per_window(plan: &LogicalPlan, feds: &[Fed]) -> Result<(), EngineError> {
    let names: Vec<String> = feds.iter().map(|f| f.table_name.clone()).collect();
    // A window aggregate's window_start or window_end, in the table of its closed rows.
    let fed_column = |scan: &TableScan, column: usize| {
        let fed = feds
            .iter()
            .position(|f| f.table_name == scan.table_name.table())?;
        feds[fed]
            .bounds
            .get(column)
            .copied()
            .flatten()
            .map(|b| (fed, b))
    };
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
