//! Views over streams: `CREATE VIEW bid AS SELECT … FROM events WHERE event_type = 2`.
//!
//! DataFusion plans a view once, when it is created, against the tables of that moment: a
//! view over a stream would read the stream's placeholder for ever. So the engine keeps the
//! view's statement and plans it again in each continuous query's own session state, where
//! the stream is the table of the current micro-batch. DataFusion inlines a view where a
//! query names it, so a query over a view runs as if the view's SELECT were written in its
//! place: the filters, projections and aggregates of both are one tick plan.
//!
//! A window function over a view (`TUMBLE(TABLE bid, …)`) needs the view's rows before
//! windows are assigned. The view then runs first in each tick, as a stage of its own
//! ([`ViewStage`]), and the time column the window names must be the stream's event time
//! passed through unchanged (as Flink keeps a time attribute through a view only when the
//! view selects it as it is).

use super::aggregate;
use super::catalog::StreamRelations;
use super::merged_source::fill_by_input;
use super::micro_batch::MicroBatchTable;
use super::tick_plan::{check_per_batch, physical_plan, streaming_state};
use crate::error::EngineError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::Column;
use datafusion::datasource::ViewTable;
use datafusion::execution::context::SessionContext;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{DdlStatement, Expr, LogicalPlan};
use datafusion::physical_plan::collect;
use datafusion::sql::parser::Statement as ParsedStatement;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

/// A view whose query reads a stream (directly or through another such view).
#[derive(Clone)]
pub(crate) struct StreamView {
    /// The `CREATE VIEW` statement, planned again by each query that reads the view.
    pub(crate) statement: ParsedStatement,
    /// The streams and views over streams its query names.
    pub(crate) reads: Vec<String>,
}

fn not_supported(message: String) -> EngineError {
    EngineError::NotSupported { message }
}

/// The stream tables a statement naming `names` reads, through any views.
pub(crate) fn streams_read<'a>(
    names: impl IntoIterator<Item = &'a str>,
    relations: &StreamRelations,
) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut pending: Vec<&str> = names.into_iter().collect();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.to_string()) {
            continue;
        }
        if relations.tables.contains_key(name) {
            found.insert(name.to_string());
        } else if let Some(view) = relations.views.get(name) {
            pending.extend(view.reads.iter().map(String::as_str));
        }
    }
    found
}

/// The views a statement naming `names` needs, each after the views it reads. A view that
/// reads itself (possible only through `CREATE OR REPLACE`, which [`reads_itself`] refuses)
/// is an error rather than a loop.
pub(crate) fn views_needed<'a>(
    names: impl IntoIterator<Item = &'a str>,
    relations: &StreamRelations,
) -> Result<Vec<String>, EngineError> {
    fn visit(
        name: &str,
        relations: &StreamRelations,
        visiting: &mut Vec<String>,
        order: &mut Vec<String>,
    ) -> Result<(), EngineError> {
        let Some(view) = relations.views.get(name) else {
            return Ok(());
        };
        if order.iter().any(|n| n == name) {
            return Ok(());
        }
        if visiting.iter().any(|n| n == name) {
            return Err(not_supported(format!(
                "view {name} reads itself ({} → {name})",
                visiting.join(" → ")
            )));
        }
        visiting.push(name.to_string());
        for read in &view.reads {
            visit(read, relations, visiting, order)?;
        }
        visiting.pop();
        order.push(name.to_string());
        Ok(())
    }
    let mut order = Vec::new();
    for name in names {
        visit(name, relations, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}

/// Whether a view named `name` that reads `reads` would read itself.
pub(crate) fn reads_itself(name: &str, reads: &[String], relations: &StreamRelations) -> bool {
    let mut seen = BTreeSet::new();
    let mut pending: Vec<&str> = reads.iter().map(String::as_str).collect();
    while let Some(next) = pending.pop() {
        if next == name {
            return true;
        }
        if seen.insert(next) {
            if let Some(view) = relations.views.get(next) {
                pending.extend(view.reads.iter().map(String::as_str));
            }
        }
    }
    false
}

/// Plans each view of `order` (as [`views_needed`] gives them) in `state` and adds it to the
/// state's tables, where the streams they read are already micro-batch tables. Returns each
/// view's plan by name.
pub(crate) async fn register(
    state: &SessionState,
    order: &[String],
    relations: &StreamRelations,
) -> Result<HashMap<String, LogicalPlan>, EngineError> {
    let options = state.config().options();
    let schema = state
        .catalog_list()
        .catalog(&options.catalog.default_catalog)
        .and_then(|catalog| catalog.schema(&options.catalog.default_schema))
        .ok_or_else(|| EngineError::Internal {
            message: "the query's default schema went missing".into(),
            source: None,
        })?;
    let mut plans = HashMap::new();
    for name in order {
        let Some(view) = relations.views.get(name) else {
            continue;
        };
        let (plan, definition) = plan_statement(state, &view.statement).await?;
        let table: Arc<dyn TableProvider> = Arc::new(ViewTable::new(plan.clone(), definition));
        schema.register_table(name.clone(), table)?;
        plans.insert(name.clone(), plan);
    }
    Ok(plans)
}

/// A `CREATE VIEW` statement's query plan and definition, planned in `state`.
async fn plan_statement(
    state: &SessionState,
    statement: &ParsedStatement,
) -> Result<(LogicalPlan, Option<String>), EngineError> {
    match state.statement_to_plan(statement.clone()).await? {
        LogicalPlan::Ddl(DdlStatement::CreateView(create)) => {
            Ok((create.input.as_ref().clone(), create.definition))
        }
        _ => Err(EngineError::Internal {
            message: "a view's statement did not plan as CREATE VIEW".into(),
            source: None,
        }),
    }
}

/// The schema of a `CREATE VIEW` over streams, planned as a query would plan it: every stream
/// it reads an (empty) micro-batch table, the views it needs planned over them. Planning it
/// is also the check that the view is sound.
pub(crate) async fn view_schema(
    ctx: &SessionContext,
    statement: &ParsedStatement,
    reads: &[String],
    relations: &StreamRelations,
) -> Result<SchemaRef, EngineError> {
    let mut slots: HashMap<String, Arc<dyn TableProvider>> = HashMap::new();
    for stream in streams_read(reads.iter().map(String::as_str), relations) {
        let table = &relations.tables[&stream];
        slots.insert(stream, Arc::new(MicroBatchTable::new(table.schema.clone())));
    }
    let state = query_state(ctx, slots, Arc::new(AtomicI64::new(i64::MIN)))?;
    register(
        &state,
        &views_needed(reads.iter().map(String::as_str), relations)?,
        relations,
    )
    .await?;
    let (plan, _) = plan_statement(&state, statement).await?;
    Ok(Arc::new(plan.schema().as_arrow().clone()))
}

/// The session state a continuous query plans in, with `tables` over the session's own and
/// `CURRENT_WATERMARK` reading `watermark`.
pub(crate) fn query_state(
    ctx: &SessionContext,
    tables: HashMap<String, Arc<dyn TableProvider>>,
    watermark: Arc<AtomicI64>,
) -> Result<SessionState, EngineError> {
    let base = ctx.state();
    let options = base.config().options().clone();
    streaming_state(
        base,
        &options.catalog.default_catalog,
        &options.catalog.default_schema,
        tables,
        watermark,
    )
}

/// A view a window function reads, run over each tick's rows of the streams it reads before
/// windows are assigned.
pub(crate) struct ViewStage {
    state: SessionState,
    logical: LogicalPlan,
    /// The micro-batch table of each stream the view reads, in the order of the query's
    /// inputs (a view over a UNION ALL of two streams reads two).
    slots: Vec<Arc<MicroBatchTable>>,
}

/// What a window over a view reads: the stage, and the view's rows' schema.
pub(crate) struct StagedView {
    pub(crate) stage: ViewStage,
    pub(crate) schema: SchemaRef,
    /// Whether the window's time column is a processing-time attribute (`PROCTIME()` in
    /// the view, or a table's `pt AS PROCTIME()` passed through) rather than event time.
    pub(crate) processing_time: bool,
}

impl ViewStage {
    /// Plans the stage for `view`, over the rows of `streams` (the streams it reads, each an
    /// input of the query in this order), checking that `time_column` is, in every branch of
    /// the view, its stream's event time passed through, or a processing time.
    pub(crate) async fn plan(
        ctx: &SessionContext,
        view: &str,
        streams: &[String],
        time_column: &str,
        relations: &StreamRelations,
        watermark: Arc<AtomicI64>,
    ) -> Result<StagedView, EngineError> {
        let mut tables: HashMap<String, Arc<dyn TableProvider>> = HashMap::new();
        let mut slots = Vec::with_capacity(streams.len());
        for stream in streams {
            let slot = Arc::new(MicroBatchTable::new(
                relations.tables[stream].schema.clone(),
            ));
            tables.insert(stream.clone(), slot.clone());
            slots.push(slot);
        }
        let state = query_state(ctx, tables, watermark)?;
        let plans = register(&state, &views_needed([view], relations)?, relations).await?;
        let plan = plans.get(view).ok_or_else(|| EngineError::Internal {
            message: format!("view {view} went missing while planning"),
            source: None,
        })?;
        // What the view does to rows first (an aggregate has no rows to window), then
        // whether its time column is the stream's.
        let logical = state.optimize(plan)?;
        let probe = physical_plan(&state, &logical).await?;
        let read = streams.join(", ");
        if aggregate::find(&probe)?.is_some() {
            return Err(not_supported(format!(
                "a window over view {view}, whose rows change (it aggregates): window the \
                 stream it reads ({read}) and aggregate in the same query"
            )));
        }
        check_per_batch(&probe, &format!("in view {view}, which a window reads,"))?;
        let schema: SchemaRef = Arc::new(plan.schema().as_arrow().clone());
        if schema.index_of(time_column).is_err() {
            return Err(EngineError::Plan {
                message: format!("view {view} has no column {time_column}"),
                position: None,
                hint: None,
            });
        }
        let event_time = |table: &str| {
            relations
                .tables
                .get(table)
                .and_then(|t| t.watermark.as_ref())
                .filter(|w| !w.processing_time)
                .map(|w| w.column.as_str())
        };
        let is_proctime = |origin: &TimeOrigin| match origin {
            TimeOrigin::ProcessingTime => true,
            TimeOrigin::Column { table, column } => relations
                .tables
                .get(table)
                .is_some_and(|t| t.proctime.contains(column)),
        };
        let is_event_time = |origin: &TimeOrigin| match origin {
            TimeOrigin::Column { table, column } => {
                streams.contains(table) && event_time(table) == Some(column.as_str())
            }
            TimeOrigin::ProcessingTime => false,
        };
        let origins = time_origins(plan, &Column::from_name(time_column)).unwrap_or_default();
        let processing_time = match origins.as_slice() {
            [] => None,
            all if all.iter().all(is_proctime) => Some(true),
            all if all.iter().all(is_event_time) => Some(false),
            _ => None,
        };
        let Some(processing_time) = processing_time else {
            let example = &streams[0];
            let example_time = event_time(example).unwrap_or("ts");
            let what = match streams {
                [one] => format!(
                    "neither {one}'s event time {} as it is",
                    event_time(one).unwrap_or("(none declared)")
                ),
                several => format!(
                    "not, in every branch, the event time of the stream it reads as it is ({})",
                    several
                        .iter()
                        .map(|s| format!("{s}'s {}", event_time(s).unwrap_or("(none declared)")))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(EngineError::Plan {
                message: format!(
                    "DESCRIPTOR({time_column}) must name a time attribute: view {view}'s \
                     {time_column} is {what} nor PROCTIME()"
                ),
                position: None,
                hint: Some(format!(
                    "select the event time unchanged in the view (SELECT …, {example_time} \
                     FROM {example}), or PROCTIME() AS {time_column}, and name it in \
                     DESCRIPTOR"
                )),
            });
        };
        Ok(StagedView {
            stage: ViewStage {
                state,
                logical,
                slots,
            },
            schema,
            processing_time,
        })
    }

    /// The view's rows for a tick's rows of its streams (each batch tagged with its input
    /// when there are several).
    pub(crate) async fn rows(
        &self,
        batches: Vec<RecordBatch>,
    ) -> Result<Vec<RecordBatch>, EngineError> {
        if batches.iter().all(|b| b.num_rows() == 0) {
            return Ok(Vec::new());
        }
        let slots: Vec<&MicroBatchTable> = self.slots.iter().map(AsRef::as_ref).collect();
        fill_by_input(&slots, batches)?;
        let plan = physical_plan(&self.state, &self.logical).await;
        for slot in &self.slots {
            slot.set(Vec::new());
        }
        let out = collect(plan?, self.state.task_ctx()).await?;
        Ok(out.into_iter().filter(|b| b.num_rows() > 0).collect())
    }
}

/// Where a view's time column comes from.
#[derive(PartialEq)]
enum TimeOrigin {
    /// A table's column, passed through unchanged.
    Column { table: String, column: String },
    /// `PROCTIME()`, computed in the view.
    ProcessingTime,
}

/// The table and column that `column` of `plan`'s output is, when the plan passes it
/// through unchanged (projections, renames, filters, joins), or `PROCTIME()` when the view
/// computes it so; one per branch of a UNION ALL; `None` when it is computed otherwise.
fn time_origins(plan: &LogicalPlan, column: &Column) -> Option<Vec<TimeOrigin>> {
    match plan {
        LogicalPlan::Projection(projection) => {
            let index = projection.schema.index_of_column(column).ok()?;
            let mut expr = projection.expr.get(index)?;
            while let Expr::Alias(alias) = expr {
                expr = &alias.expr;
            }
            match expr {
                Expr::Column(inner) => time_origins(&projection.input, inner),
                Expr::ScalarFunction(call) if call.name() == "proctime" => {
                    Some(vec![TimeOrigin::ProcessingTime])
                }
                _ => None,
            }
        }
        LogicalPlan::Filter(filter) => time_origins(&filter.input, column),
        LogicalPlan::SubqueryAlias(alias) => {
            let index = alias.schema.index_of_column(column).ok()?;
            let (qualifier, field) = alias.input.schema().qualified_field(index);
            time_origins(&alias.input, &Column::new(qualifier.cloned(), field.name()))
        }
        LogicalPlan::Join(join) => [&join.left, &join.right]
            .into_iter()
            .find(|side| side.schema().has_column(column))
            .and_then(|side| time_origins(side, column)),
        // A UNION ALL's column is each branch's column at its place.
        LogicalPlan::Union(union) => {
            let index = union.schema.index_of_column(column).ok()?;
            let mut origins = Vec::new();
            for input in &union.inputs {
                let (qualifier, field) = input.schema().qualified_field(index);
                origins.extend(time_origins(
                    input,
                    &Column::new(qualifier.cloned(), field.name()),
                )?);
            }
            Some(origins)
        }
        LogicalPlan::TableScan(scan) => {
            let index = scan.projected_schema.index_of_column(column).ok()?;
            let name = scan.projected_schema.field(index).name().clone();
            Some(vec![TimeOrigin::Column {
                table: scan.table_name.table().to_string(),
                column: name,
            }])
        }
        _ => None,
    }
}
