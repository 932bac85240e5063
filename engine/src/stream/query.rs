//! Turning a statement over a stream into a running [`ContinuousQuery`]: which relation
//! the stream feeds, the per-query catalog and session, the plan's shape (stateless,
//! windowed aggregation, updating aggregation), and the source.

use super::aggregate;
use super::catalog::StreamRelations;
use super::changelog_source;
use super::event_clock::{EventClock, InputTime};
use super::explain::JoinInputKind;
use super::interval::interval_ms;
use super::micro_batch::MicroBatchTable;
use super::over_aggregate;
use super::runner::{Runner, Shape};
use super::session_window::{columns_read, SessionBuffer};
use super::sink::{self, SinkDecl};
use super::source::{BatchSender, StreamSource};
use super::stream_join::{self, StreamJoin};
use super::tick_plan::{check_per_batch, physical_plan};
use super::top_n;
use super::updating_feed::{self, UpdatingFeed, WeightedInput};
use super::views::{self, ViewStage};
use super::watermark::WatermarkSpec;
use super::window::{windowed_schema, WindowSpec};
use super::window_close::WindowClose;
use super::window_join::{JoinInput, StreamSide, WindowJoin, WindowSide};
use super::{ContinuousQuery, StreamKind, StreamStats};
use crate::error::EngineError;
use crate::sql::flink_syntax::{FlinkParts, WindowCall, WindowKind};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::execution::context::SessionContext;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{LogicalPlan, WriteOp};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::sql::parser::Statement as ParsedStatement;
use futures::future::BoxFuture;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Everything [`start`] needs from the engine session.
pub(crate) struct StreamRequest<'a> {
    pub(crate) ctx: &'a SessionContext,
    pub(crate) statement: ParsedStatement,
    pub(crate) parts: &'a FlinkParts,
    /// The tables the statement names.
    pub(crate) tables: &'a [TableReference],
    pub(crate) streams: StreamRelations,
    /// What the tables declared with a connector declare (an INSERT's sink), by name.
    pub(crate) sinks: HashMap<String, SinkDecl>,
    /// How long the state of a key no row touches is kept (Flink's `table.exec.state.ttl`).
    pub(crate) state_ttl: Option<std::time::Duration>,
    /// The engine's memory limit, which a query's state may not pass.
    pub(crate) memory_limit: usize,
}

/// Whether a statement, naming `tables`, must run as a continuous query.
pub(crate) fn is_continuous(
    tables: &[TableReference],
    parts: &FlinkParts,
    streams: &StreamRelations,
) -> bool {
    !parts.windows.is_empty() || tables.iter().any(|t| streams.contains(&t.to_string()))
}

fn plan_error(message: String, hint: Option<String>) -> EngineError {
    EngineError::Plan {
        message,
        position: None,
        hint,
    }
}

/// Starts the continuous query for a statement [`is_continuous`] accepted.
pub(crate) async fn start(request: StreamRequest<'_>) -> Result<ContinuousQuery, EngineError> {
    plan(request).await?.start()
}

/// What `EXPLAIN` shows of a continuous query: its stages, the state each keeps and whether
/// its output is append-only or updating; then the plan each micro-batch runs.
pub(crate) async fn explain(request: StreamRequest<'_>) -> Result<String, EngineError> {
    Ok(plan(request).await?.explain())
}

/// A continuous query planned and not started: its source is opened, not run.
struct Planned {
    input: StreamInput,
    state: datafusion::execution::session_state::SessionState,
    logical: LogicalPlan,
    schema: SchemaRef,
    slot: Arc<MicroBatchTable>,
    /// The micro-batch tables of the other streams a query over several reads.
    other_slots: Vec<Arc<MicroBatchTable>>,
    shape: Shape,
    /// The sides of a join of two streams.
    join: Option<StreamJoin>,
    /// The inner aggregate of an aggregate over an aggregate.
    feed: Option<UpdatingFeed>,
    /// An outer or anti join of streams: the query over it, whose rows are weighted.
    weighted: Option<WeightedInput>,
    /// A join of window aggregates: the aggregates, whose closed rows the query reads.
    window_join: Option<WindowJoin>,
    watermark_now: Arc<AtomicI64>,
    /// An INSERT INTO's table and the schema of the rows it takes.
    target: Option<(String, SchemaRef)>,
    sinks: HashMap<String, SinkDecl>,
    state_ttl: Option<std::time::Duration>,
    memory_limit: usize,
}

async fn plan(request: StreamRequest<'_>) -> Result<Planned, EngineError> {
    let StreamRequest {
        ctx,
        statement,
        parts,
        tables,
        streams,
        sinks,
        state_ttl,
        memory_limit,
    } = request;
    // The watermark CURRENT_WATERMARK reads: set by the runner before each tick's plan.
    let watermark_now = Arc::new(AtomicI64::new(i64::MIN));
    let read = crate::sql::names::tables_read(&statement, tables);
    let mut input = stream_input(ctx, &read, parts, &streams, watermark_now.clone()).await?;
    let sides = std::mem::take(&mut input.sides);
    let stream_side = input.stream_side.take();
    let mut extra: HashMap<String, Arc<dyn TableProvider>> = HashMap::new();
    let slot = Arc::new(MicroBatchTable::new(input.relation_schema.clone()));
    extra.insert(input.relation.clone(), slot.clone());
    for side in &sides {
        extra.insert(side.relation.clone(), side.slot.clone());
    }
    if let Some(side) = &stream_side {
        extra.insert(side.relation.clone(), side.slot.clone());
    }
    let mut other_slots = Vec::with_capacity(input.others.len());
    for (relation, schema) in &input.others {
        let other = Arc::new(MicroBatchTable::new(schema.clone()));
        extra.insert(relation.clone(), other.clone());
        other_slots.push(other);
    }
    let state = views::query_state(ctx, extra, watermark_now.clone())?;
    // The views the query names, planned over the stream's micro-batch table.
    let named = tables.iter().map(ToString::to_string).collect::<Vec<_>>();
    views::register(
        &state,
        &views::views_needed(named.iter().map(String::as_str), &streams)?,
        &streams,
    )
    .await?;

    let plan = state.statement_to_plan(statement).await?;
    // An INSERT INTO's target, and the schema of the rows it takes.
    let (query_plan, target) = match plan {
        LogicalPlan::Dml(dml) if matches!(dml.op, WriteOp::Insert(_)) => (
            dml.input.as_ref().clone(),
            Some((
                dml.table_name.to_string(),
                dml.input.schema().inner().clone(),
            )),
        ),
        LogicalPlan::Dml(_) => {
            return Err(EngineError::NotSupported {
                message: "only INSERT INTO writes a stream into a table".into(),
            })
        }
        LogicalPlan::Ddl(_) => {
            return Err(EngineError::NotSupported {
                message: "CREATE TABLE … AS SELECT over a stream is not supported; declare \
                          a filesystem table and INSERT INTO it, or CREATE VIEW"
                    .into(),
            })
        }
        other => (other, None),
    };
    let relations: Vec<&str> = std::iter::once(input.relation.as_str())
        .chain(input.others.iter().map(|(r, _)| r.as_str()))
        .collect();
    // A join of two streams: its sides (optimized first, so filters on a side run before
    // its rows are kept) run on their own, the query over what they meet.
    let event_time = input
        .watermark
        .as_ref()
        .filter(|w| !w.processing_time)
        .map(|w| w.column.clone());
    let (logical, mut join) = stream_join::split(
        state.optimize(&query_plan)?,
        &relations,
        event_time.as_deref(),
    )?;
    // An updating input among several streams: a join of them only.
    if input.changelog_inputs.iter().any(|c| *c) {
        match join.as_mut() {
            Some(join) => join.over_updating_inputs()?,
            None => {
                return Err(EngineError::NotSupported {
                    message: format!(
                        "{} reads an updating table (debezium-json, canal-json, upsert-kafka) \
                         beside another stream without joining them; a UNION with an updating \
                         table is not run yet",
                        input.stream
                    ),
                })
            }
        }
    }
    match &join {
        None => check_one_scan(&query_plan, &relations)?,
        Some(join) => {
            check_one_scan(&logical, &relations)?;
            for side in join.stream_sides() {
                check_one_scan(&side.plan, &relations)?;
                let probe = physical_plan(&state, &side.plan).await?;
                check_per_batch(&probe, "on a side of a join of streams")?;
            }
        }
    }
    if join.is_some() && input.window.is_some() {
        return Err(EngineError::NotSupported {
            message: "a window over one side of a join of streams (a window join, as in \
                      Nexmark's q7 and q8) is not run yet; a regular join of the two streams \
                      is"
            .into(),
        });
    }
    let staged = match (join.as_ref().filter(|j| j.is_updating()), &input.window) {
        (_, Some(window)) if !sides.is_empty() || stream_side.is_some() => {
            let relations: Vec<String> = std::iter::once(input.relation.clone())
                .chain(sides.iter().map(|side| side.relation.clone()))
                .collect();
            let (logical, window_join) =
                WindowJoin::plan(&state, logical, &relations, window, sides, stream_side).await?;
            Staged {
                logical,
                // Each run is over every row of the windows it closed: its rows are final.
                shape: Shape::Stateless,
                feed: None,
                weighted: None,
                window_join: Some(window_join),
            }
        }
        (Some(updating), _) => {
            over_updating_join(&state, logical, updating, input.window.clone()).await?
        }
        (None, None) if input.changelog => over_changelog(&state, logical).await?,
        (None, _) => {
            // The time columns an OVER aggregation may be ordered by: the event time, and
            // the processing-time attributes.
            let times: Vec<(String, bool)> = event_time
                .iter()
                .map(|t| (t.clone(), false))
                .chain(input.proctime.iter().map(|t| (t.clone(), true)))
                .collect();
            over_stream(&state, logical, input.window.clone(), &times).await?
        }
    };
    let schema: SchemaRef = Arc::new(staged.logical.schema().as_arrow().clone());
    if let Some(sessions) = input.sessions.as_mut() {
        // Rows wait in a session for as long as it lasts: only the columns the tick's plan
        // reads are kept (an aggregate above an updating feed reads through another plan).
        let read = match staged.feed {
            None => columns_read(&staged.logical, &input.relation),
            Some(_) => None,
        };
        sessions.keep(read.as_deref())?;
    }
    Ok(Planned {
        input,
        state,
        logical: staged.logical,
        schema,
        slot,
        other_slots,
        shape: staged.shape,
        join,
        feed: staged.feed,
        weighted: staged.weighted,
        window_join: staged.window_join,
        watermark_now,
        target,
        sinks,
        state_ttl,
        memory_limit,
    })
}

/// The plan each tick runs after the split of a join of streams, its shape, and the stage
/// that feeds it updating rows, if any.
struct Staged {
    logical: LogicalPlan,
    shape: Shape,
    feed: Option<UpdatingFeed>,
    weighted: Option<WeightedInput>,
    window_join: Option<WindowJoin>,
}

/// A query over the stream (or over an INNER or semi join of streams): an aggregate over
/// another aggregate's result is split, the inner one running first and its changes being
/// the outer one's input.
async fn over_stream(
    state: &SessionState,
    logical: LogicalPlan,
    window: Option<WindowSpec>,
    times: &[(String, bool)],
) -> Result<Staged, EngineError> {
    let (logical, feed) = updating_feed::split(logical)?;
    let feed = match feed {
        Some(feed) => Some(UpdatingFeed::plan(state, feed, window.as_ref()).await?),
        None => None,
    };
    // The rewritten outer aggregate's expressions are typed (coerced) and simplified here,
    // once: each tick plans the logical plan as it is.
    let logical = match &feed {
        Some(_) => state.optimize(&logical)?,
        None => logical,
    };
    let schema: SchemaRef = Arc::new(logical.schema().as_arrow().clone());
    // The plan's shape, from a plan over no rows.
    let probe = physical_plan(state, &logical).await?;
    let facts = over_aggregate::facts(&logical)?;
    let shape = shape_of(&probe, window.as_ref(), &schema, times, facts)?;
    Ok(Staged {
        logical,
        shape,
        feed,
        weighted: None,
        window_join: None,
    })
}

/// A query over an outer or anti join of streams: its result is updating, and what the
/// query does over it reads weighted rows — an aggregate over the join is split off and
/// rewritten to fold them; without one, the query's rows are a changelog.
async fn over_updating_join(
    state: &SessionState,
    logical: LogicalPlan,
    join: &StreamJoin,
    window: Option<WindowSpec>,
) -> Result<Staged, EngineError> {
    let (outer, over) = updating_feed::split_at_aggregate(logical.clone())?;
    let (over_join, table, outer) = match over {
        Some(feed) => (feed.inner, Some(feed.table), Some(state.optimize(&outer)?)),
        None => (logical.clone(), None, None),
    };
    if !updating_feed::row_wise_over_join(&over_join) {
        return Err(EngineError::NotSupported {
            message: "over an outer or anti join of streams (an updating result), Eddy runs \
                      projections and filters, and one GROUP BY over them; not another \
                      aggregate, a Top-N or a window under that GROUP BY"
                .into(),
        });
    }
    let probe = physical_plan(state, &over_join).await?;
    check_per_batch(&probe, "over an outer join of streams")?;
    let pairs_only = stream_join::pairs_only(&over_join, join)?;
    let weighted = WeightedInput {
        row_wise: over_join,
        pairs_only: Some(pairs_only),
        table,
    };
    over_weighted(state, logical, outer, weighted, window.as_ref()).await
}

/// The stage of a query over weighted rows: the aggregate over them (`outer`), or, without
/// one, the query itself, whose rows are a changelog.
async fn over_weighted(
    state: &SessionState,
    logical: LogicalPlan,
    outer: Option<LogicalPlan>,
    weighted: WeightedInput,
    window: Option<&WindowSpec>,
) -> Result<Staged, EngineError> {
    let (logical, shape) = match outer {
        Some(outer) => {
            let probe = physical_plan(state, &outer).await?;
            let schema = Arc::new(outer.schema().as_arrow().clone());
            let shape = shape_of(&probe, window, &schema, &[], Default::default())?;
            (outer, shape)
        }
        None => (logical, Shape::Changelog),
    };
    Ok(Staged {
        logical,
        shape,
        feed: None,
        weighted: Some(weighted),
        window_join: None,
    })
}

/// A query over a changelog source (`changelog_source.rs`): as over an outer join, what the
/// query does row by row keeps each row's weight, and an aggregate over that is split off
/// and rewritten to fold weighted rows; without one, the query's rows are a changelog.
async fn over_changelog(state: &SessionState, logical: LogicalPlan) -> Result<Staged, EngineError> {
    let (outer, over) = updating_feed::split_at_aggregate(logical.clone())?;
    let (row_wise, table, outer) = match over {
        Some(feed) => (feed.inner, Some(feed.table), Some(state.optimize(&outer)?)),
        None => (logical.clone(), None, None),
    };
    if !updating_feed::row_wise_over_stream(&row_wise) {
        return Err(EngineError::NotSupported {
            message: "over an updating table (a source of changes: debezium-json, canal-json, \
                      upsert-kafka), Eddy runs projections and filters, and one GROUP BY over \
                      them; not a join, another aggregate, a Top-N, an OVER window, a DISTINCT \
                      or a LIMIT under that GROUP BY yet"
                .into(),
        });
    }
    let probe = physical_plan(state, &row_wise).await?;
    check_per_batch(&probe, "over an updating table")?;
    let weighted = WeightedInput {
        row_wise,
        pairs_only: None,
        table,
    };
    over_weighted(state, logical, outer, weighted, None).await
}

impl Planned {
    fn start(self) -> Result<ContinuousQuery, EngineError> {
        let Planned {
            input,
            state,
            logical,
            schema,
            slot,
            other_slots,
            shape,
            join,
            feed,
            weighted,
            window_join,
            watermark_now,
            target,
            sinks,
            state_ttl,
            memory_limit,
        } = self;
        let updating_key = match &shape {
            Shape::Updating { key, .. } | Shape::TopN { key, close: None } => Some(key.clone()),
            // Rows come and go, none updated in place: no key pairs them.
            Shape::Changelog => Some(Vec::new()),
            _ => None,
        };
        let sink = match target {
            Some((table, rows)) => {
                let opened = sink::open(&table, sinks.get(&table), rows, updating_key.is_some())?;
                Some((table, opened))
            }
            None => None,
        };
        let kind = match (&sink, &updating_key) {
            (Some((table, _)), _) => StreamKind::Sink {
                table: table.clone(),
            },
            (None, Some(key)) => StreamKind::Updating { key: key.clone() },
            (None, None) => StreamKind::Append,
        };
        // The columns that pair an updating result's old and new rows.
        let key_columns = updating_key
            .iter()
            .flatten()
            .filter_map(|k| schema.index_of(k).ok())
            .collect();

        let source = input.source;
        let skipped = input.skipped.map(|count| {
            let before = count.load(std::sync::atomic::Ordering::Relaxed);
            (count, before)
        });
        if source.schema().fields() != input.source_schema.fields() {
            return Err(EngineError::Internal {
                message: "the stream's source gives rows of another shape than its table".into(),
                source: None,
            });
        }
        let bounded = source.is_bounded();
        let report = source.report();
        let cancel = CancellationToken::new();
        let stats = Arc::new(StreamStats::default());
        let emit_interval = Arc::new(AtomicU64::new(super::DEFAULT_EMIT_INTERVAL_MS));
        let (updates_tx, updates_rx) = mpsc::channel(16);
        let runner = Runner {
            state,
            logical,
            schema: schema.clone(),
            slot,
            other_slots,
            shape,
            join,
            feed,
            weighted,
            changelog_input: input.changelog || input.changelog_inputs.iter().any(|c| *c),
            changelog_inputs: input.changelog_inputs,
            window_join,
            state_ttl,
            memory_limit,
            window: input.window,
            sessions: input.sessions,
            watermark: input.watermark,
            clock: EventClock::new(input.event_times).bounded_by(source.input_reports()),
            source_report: report.clone(),
            watermark_now,
            view: input.view,
            sink: sink.map(|(_, sink)| sink),
            key_columns,
            stats: stats.clone(),
            emit_interval: emit_interval.clone(),
            updates: updates_tx,
            cancel: cancel.clone(),
        };
        let task = tokio::spawn(runner.run(source));
        Ok(ContinuousQuery {
            schema,
            kind,
            bounded,
            updates: updates_rx,
            cancel,
            stats,
            started: Instant::now(),
            emit_interval,
            skipped,
            report,
            task: Some(task),
            parts: Vec::new(),
            ran_on: None,
        })
    }
}

impl Planned {
    fn explain(&self) -> String {
        let input = &self.input;
        let target = self.target.as_ref().map(|(table, _)| {
            let connector = self
                .sinks
                .get(table)
                .and_then(|decl| decl.options.get("connector"))
                .cloned()
                .unwrap_or_default();
            (table.clone(), connector)
        });
        super::explain::describe(&super::explain::Stages {
            stream: &input.stream,
            bounded: input.source.is_bounded(),
            watermark: input.watermark.as_ref(),
            view: input.view.is_some(),
            window: input.window.as_ref(),
            shape: &self.shape,
            join: self
                .join
                .iter()
                .flat_map(|j| j.all_sides())
                .map(|side| (side.name.as_str(), &side.plan))
                .collect(),
            feed: self
                .feed
                .as_ref()
                .map(|feed| (&feed.logical, feed.is_windowed())),
            window_inputs: self
                .window_join
                .iter()
                .flat_map(|join| &join.inputs)
                .map(|input| {
                    let kind = match input {
                        JoinInput::Aggregate(_) => JoinInputKind::Aggregate,
                        JoinInput::Rows(_) => JoinInputKind::WindowRows,
                        JoinInput::Stream(_) => JoinInputKind::StreamRows,
                    };
                    (input.logical(), kind)
                })
                .collect(),
            updating_join: self.weighted.is_some(),
            changelog_source: input.changelog,
            join_kind: self.join.as_ref().map_or("", StreamJoin::describe),
            target,
            micro_batch: &self.logical,
        })
    }
}

/// Refuses a plan whose reads of the stream's relation meet in a join or a subquery: a join
/// of the stream with itself (directly, through two views, or in a subquery) would meet only
/// rows of the same tick, a wrong answer; joining streams needs state across ticks. Reads
/// that meet in a UNION ALL are right: each tick's rows go through both branches.
fn check_one_scan(plan: &LogicalPlan, relations: &[&str]) -> Result<(), EngineError> {
    use datafusion::common::tree_node::TreeNodeRecursion;
    let scans = |plan: &LogicalPlan| {
        let mut scans = 0;
        let _ = plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                if relations.contains(&scan.table_name.table()) {
                    scans += 1;
                }
            }
            Ok(TreeNodeRecursion::Continue)
        });
        scans
    };
    let total = scans(plan);
    if total <= 1 {
        return Ok(());
    }
    let mut meet = false;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::Join(join) = node {
            meet |= stream_join::reads_stream(&join.left, relations)
                && stream_join::reads_stream(&join.right, relations);
        }
        node.apply_subqueries(|subquery| {
            meet |= stream_join::reads_stream(subquery, relations);
            Ok(TreeNodeRecursion::Continue)
        })?;
        Ok(TreeNodeRecursion::Continue)
    })?;
    if meet {
        let what = match relations {
            [one] => format!("the stream {one} {total} times"),
            several => format!("the streams {} {total} times", several.join(", ")),
        };
        return Err(EngineError::NotSupported {
            message: format!(
                "this query reads {what} (a join of streams, of a stream with itself, of two \
                 views over it, or a subquery over it); joining streams needs state kept \
                 across micro-batches, which Eddy does not have yet"
            ),
        });
    }
    Ok(())
}

/// The relation a query reads the stream through, and how rows get there.
struct StreamInput {
    /// The stream (or, for a window over one, the table) the rows come from.
    stream: String,
    /// The other streams a query over several reads (a UNION ALL of two streams), with their
    /// schemas; their rows come through the same source, tagged (`merged_source.rs`).
    others: Vec<(String, SchemaRef)>,
    /// The table name (or window relation) the query's SQL reads.
    relation: String,
    relation_schema: SchemaRef,
    /// The schema of the source's rows (before a view or windows apply).
    source_schema: SchemaRef,
    skipped: Option<Arc<std::sync::atomic::AtomicU64>>,
    source: Box<dyn StreamSource>,
    watermark: Option<WatermarkSpec>,
    /// Where each input's rows carry their event time, which the watermark trails.
    event_times: Vec<InputTime>,
    window: Option<WindowSpec>,
    sessions: Option<SessionBuffer>,
    /// A view the window function reads, run over the source's rows first.
    view: Option<ViewStage>,
    /// The query's other window functions, over the same stream (a join of window
    /// aggregates, `window_join.rs`).
    sides: Vec<WindowSide>,
    /// The stream itself, when the query reads it beside a window over it.
    stream_side: Option<StreamSide>,
    /// The source sends changes, each row weighted (`changelog_source.rs`).
    changelog: bool,
    /// For a query over several streams, which of its inputs send changes.
    changelog_inputs: Vec<bool>,
    /// The stream's processing-time attributes (`pt AS PROCTIME()`), which an OVER
    /// aggregation may be ordered by.
    proctime: Vec<String>,
}

async fn stream_input(
    ctx: &SessionContext,
    tables: &[TableReference],
    parts: &FlinkParts,
    streams: &StreamRelations,
    watermark_now: Arc<AtomicI64>,
) -> Result<StreamInput, EngineError> {
    let named: Vec<String> = tables
        .iter()
        .map(ToString::to_string)
        .filter(|t| streams.contains(t))
        .collect();
    let read: Vec<String> = views::streams_read(named.iter().map(String::as_str), streams)
        .into_iter()
        .collect();
    let Some(call) = parts.windows.first() else {
        if read.len() > 1 {
            return several_streams(ctx, &read, streams);
        }
        let [name] = read.as_slice() else {
            return Err(too_many_streams(&named, &read));
        };
        let table = &streams.tables[name];
        let event_times = match &table.watermark {
            Some(w) => input_time(0, &table.schema, w)?.into_iter().collect(),
            None => Vec::new(),
        };
        let changelog = table.factory.is_changelog();
        return Ok(StreamInput {
            stream: name.clone(),
            others: Vec::new(),
            relation: name.clone(),
            relation_schema: table.schema.clone(),
            source_schema: match changelog {
                true => changelog_source::weighted_schema(&table.schema),
                false => table.schema.clone(),
            },
            skipped: table.skipped.clone(),
            source: table.factory.open(ctx)?,
            watermark: table.watermark.clone(),
            event_times,
            window: None,
            sessions: None,
            view: None,
            sides: Vec::new(),
            stream_side: None,
            changelog,
            changelog_inputs: Vec::new(),
            proctime: table.proctime.clone(),
        });
    };
    let (windowed, spec) = window_input(ctx, call, streams, watermark_now.clone()).await?;
    // The stream itself, beside a window over it (Nexmark q7): its rows go into a table of
    // their own, for a join bounded by the window's time (`window_join.rs`).
    let stream_side = match read.as_slice() {
        [] => None,
        [stream] if *stream == windowed.stream => Some(stream_beside_window(stream, streams)?),
        _ => {
            return Err(EngineError::NotSupported {
                message: format!(
                    "this query reads the stream {} besides a window over {}; a query reads \
                     the stream its windows are over, and no other",
                    read.join(", "),
                    call.table
                ),
            })
        }
    };
    let schema = windowed.schema;
    let time_index = spec.time_index;
    let relation_schema = windowed_schema(&schema, time_index);
    let sessions = match call.kind {
        WindowKind::Session => Some(SessionBuffer::new(
            spec.clone(),
            schema.clone(),
            relation_schema.clone(),
        )?),
        _ => None,
    };
    let mut sides = Vec::with_capacity(parts.windows.len().saturating_sub(1));
    for other in &parts.windows[1..] {
        let (side, side_spec) = window_input(ctx, other, streams, watermark_now.clone()).await?;
        same_window(
            (call, &windowed.stream, &windowed.watermark, &spec),
            (other, &side.stream, &side.watermark, &side_spec),
        )?;
        sides.push(WindowSide {
            relation: other.relation.clone(),
            slot: Arc::new(MicroBatchTable::new(windowed_schema(
                &side.schema,
                side_spec.time_index,
            ))),
            spec: side_spec,
            view: side.view,
        });
    }
    let source_schema = windowed.source_schema;
    // The watermark follows the source's event time, whatever the view does with the rows;
    // a processing time is read from the rows the window gets. (A window over an ordinary
    // table has neither: it closes every window at the table's end.)
    Ok(StreamInput {
        stream: windowed.stream,
        others: Vec::new(),
        relation: call.relation.clone(),
        relation_schema,
        source_schema,
        skipped: windowed.skipped,
        source: (windowed.open)()?,
        watermark: windowed.watermark,
        event_times: windowed.event_times,
        window: Some(spec),
        sessions,
        view: windowed.view,
        sides,
        stream_side,
        changelog: false,
        changelog_inputs: Vec::new(),
        proctime: Vec::new(),
    })
}

/// The stream `name`'s own rows in a query with a window over it: the join that reads them
/// must bound their event time, so the stream must have one.
fn stream_beside_window(name: &str, streams: &StreamRelations) -> Result<StreamSide, EngineError> {
    let not_run = |why: &str| EngineError::NotSupported {
        message: format!(
            "this query reads the stream {name} besides a window over it, which Eddy runs as a \
             join bounded by the window's time; {why}"
        ),
    };
    let table = streams
        .tables
        .get(name)
        .ok_or_else(|| not_run("it is not a stream table"))?;
    let watermark = match &table.watermark {
        Some(w) if !w.processing_time => w,
        _ => return Err(not_run("it declares no event time (a WATERMARK)")),
    };
    Ok(StreamSide {
        relation: name.to_string(),
        slot: Arc::new(MicroBatchTable::new(table.schema.clone())),
        time_index: table.schema.index_of(&watermark.column)?,
        event_time: watermark.column.clone(),
    })
}

/// A window function, the stream it reads, its time attribute and its windows.
type WindowOf<'a> = (
    &'a WindowCall,
    &'a String,
    &'a Option<WatermarkSpec>,
    &'a WindowSpec,
);

/// Refuses a query's other window function unless it is the same function (kind, size,
/// slide, offset) over the same stream as the first: the watermark then closes the same
/// windows of both in the same tick (`window_join.rs`).
fn same_window(first: WindowOf<'_>, other: WindowOf<'_>) -> Result<(), EngineError> {
    let (call, stream, watermark, spec) = first;
    let (other_call, other_stream, other_watermark, other_spec) = other;
    let different = |what: String| EngineError::NotSupported {
        message: format!(
            "this query has two window functions, over {} and {}, {what}; Eddy joins windows \
             of one window function (the same kind, size, slide and offset) over one stream",
            call.table, other_call.table
        ),
    };
    if other_stream != stream {
        return Err(different(format!(
            "which read different streams ({stream} and {other_stream})"
        )));
    }
    if other_watermark != watermark {
        return Err(different("whose time attributes differ".into()));
    }
    let same = other_spec.kind == spec.kind
        && other_spec.size_ms == spec.size_ms
        && other_spec.step_ms == spec.step_ms
        && other_spec.offset_ms == spec.offset_ms;
    if !same || matches!(spec.kind, WindowKind::Session) {
        return Err(different(
            "which are not the same TUMBLE, HOP or CUMULATE window".into(),
        ));
    }
    Ok(())
}

/// The rows a window function reads and its windows, resolved against their schema.
async fn window_input(
    ctx: &SessionContext,
    call: &WindowCall,
    streams: &StreamRelations,
    watermark_now: Arc<AtomicI64>,
) -> Result<(WindowedSource, WindowSpec), EngineError> {
    let name = crate::sql::names::table_reference_from_text(&call.table);
    let key = name.to_string();
    let windowed = windowed_source(ctx, call, &key, streams, watermark_now).await?;
    let schema = windowed.schema.clone();
    let time_index = schema
        .index_of(&call.time_column)
        .map_err(|_| plan_error(format!("{name} has no column {}", call.time_column), None))?;
    if !matches!(
        schema.field(time_index).data_type(),
        DataType::Timestamp(..)
    ) {
        return Err(plan_error(
            format!(
                "DESCRIPTOR({}) must name a TIMESTAMP column; it is {}",
                call.time_column,
                schema.field(time_index).data_type()
            ),
            None,
        ));
    }
    let intervals = call
        .intervals
        .iter()
        .map(|text| interval_ms(ctx, text))
        .collect::<Result<Vec<_>, _>>()?;
    let offset_ms = match &call.offset {
        Some(text) => interval_ms(ctx, text)?,
        None => 0,
    };
    let (size_ms, step_ms) = match call.kind {
        WindowKind::Tumble | WindowKind::Session => (intervals[0], intervals[0]),
        WindowKind::Hop | WindowKind::Cumulate => (intervals[1], intervals[0]),
    };
    let partition_by = call
        .partition_by
        .iter()
        .map(|c| {
            schema
                .index_of(c)
                .map_err(|_| plan_error(format!("{name} has no column {c}"), None))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let spec = WindowSpec {
        kind: call.kind,
        size_ms,
        step_ms,
        offset_ms,
        time_index,
        partition_by,
    };
    spec.validate()?;
    Ok((windowed, spec))
}

/// A query over several streams and no window (a UNION ALL of two streams): their sources run
/// side by side. Without a window, no watermark is needed: each tick's rows go through.
fn several_streams(
    ctx: &SessionContext,
    read: &[String],
    streams: &StreamRelations,
) -> Result<StreamInput, EngineError> {
    let tables: Vec<&crate::stream::catalog::StreamTable> =
        read.iter().map(|name| &streams.tables[name]).collect();
    // An updating input is read by a join of streams only (the plan checks that).
    let changelog_inputs: Vec<bool> = tables.iter().map(|t| t.factory.is_changelog()).collect();
    let sources = tables
        .iter()
        .map(|table| table.factory.open(ctx))
        .collect::<Result<Vec<_>, _>>()?;
    let first = tables[0];
    Ok(StreamInput {
        stream: read.join(", "),
        others: read[1..]
            .iter()
            .zip(&tables[1..])
            .map(|(name, table)| (name.clone(), table.schema.clone()))
            .collect(),
        relation: read[0].clone(),
        relation_schema: first.schema.clone(),
        source_schema: match changelog_inputs.first() {
            Some(true) => changelog_source::weighted_schema(&first.schema),
            _ => first.schema.clone(),
        },
        skipped: None,
        source: Box::new(super::merged_source::MergedSource::new(sources)),
        watermark: None,
        event_times: Vec::new(),
        window: None,
        sessions: None,
        view: None,
        sides: Vec::new(),
        stream_side: None,
        changelog: false,
        changelog_inputs,
        proctime: Vec::new(),
    })
}

/// Refuses `what` over the stream `name` when its table is updating (a changelog source):
/// over one, Eddy runs projections, filters and a GROUP BY.
fn refuse_changelog(
    name: &str,
    table: &crate::stream::catalog::StreamTable,
    what: &str,
) -> Result<(), EngineError> {
    if !table.factory.is_changelog() {
        return Ok(());
    }
    Err(EngineError::NotSupported {
        message: format!(
            "{name} is an updating table (its source sends changes: debezium-json, canal-json, \
             upsert-kafka); over one Eddy runs projections, filters, one GROUP BY and INNER \
             joins with other streams, not {what} yet"
        ),
    })
}

/// Where input `input`'s rows (of `schema`) carry the event time `spec` declares; `None` for
/// a processing time.
fn input_time(
    input: usize,
    schema: &Schema,
    spec: &WatermarkSpec,
) -> Result<Option<InputTime>, EngineError> {
    if spec.processing_time {
        return Ok(None);
    }
    Ok(Some(InputTime {
        input,
        time_index: schema.index_of(&spec.column)?,
        delay_ms: spec.delay_ms,
        idle_timeout: spec.idle_timeout,
    }))
}

fn too_many_streams(named: &[String], read: &[String]) -> EngineError {
    if read.is_empty() {
        return plan_error(
            format!(
                "{} reads a stream that no longer exists (it was dropped)",
                named.join(", ")
            ),
            Some("declare the stream again, or CREATE OR REPLACE the view".into()),
        );
    }
    EngineError::NotSupported {
        message: format!(
            "this query reads {} streams ({}); a query reads one stream, joined with tables \
             if needed",
            read.len(),
            read.join(", ")
        ),
    }
}

/// What a window function reads its rows from, before windows are assigned.
struct WindowedSource {
    /// The stream read (or the table, for a window over one); the streams, for a view over
    /// several.
    stream: String,
    /// The rows' schema (a view's, when the window is over a view).
    schema: SchemaRef,
    /// The source's rows' schema, as its table declares it (the first stream's, when a view
    /// reads several).
    source_schema: SchemaRef,
    /// Opens the source when the query is to run (another window function over the same
    /// stream in the query does not open it again).
    open: Box<dyn FnOnce() -> Result<Box<dyn StreamSource>, EngineError> + Send>,
    watermark: Option<WatermarkSpec>,
    /// Where each stream's rows carry their event time (none for a processing time or an
    /// ordinary table).
    event_times: Vec<InputTime>,
    skipped: Option<Arc<std::sync::atomic::AtomicU64>>,
    view: Option<ViewStage>,
}

/// The rows under `TUMBLE(TABLE name, DESCRIPTOR(…), …)`: a stream with an event time, a
/// view over one or over a UNION ALL of several, or an ordinary table read whole.
async fn windowed_source(
    ctx: &SessionContext,
    call: &WindowCall,
    name: &str,
    streams: &StreamRelations,
    watermark_now: Arc<AtomicI64>,
) -> Result<WindowedSource, EngineError> {
    let under: Vec<String> = match streams.views.contains_key(name) {
        true => views::streams_read([name], streams).into_iter().collect(),
        false => vec![name.to_string()],
    };
    if under.len() > 1 {
        return windowed_streams(ctx, call, name, &under, streams, watermark_now).await;
    }
    let [stream] = under.as_slice() else {
        return Err(plan_error(
            format!("view {name} reads a stream that no longer exists (it was dropped)"),
            Some("declare the stream again, or CREATE OR REPLACE the view".into()),
        ));
    };
    let Some(table) = streams.tables.get(stream) else {
        // A window over an ordinary table: read it whole, then close every window.
        let provider = ctx
            .table_provider(crate::sql::names::table_reference_from_text(name))
            .await?;
        return Ok(WindowedSource {
            stream: name.to_string(),
            schema: provider.schema(),
            source_schema: provider.schema(),
            open: {
                let ctx = ctx.clone();
                Box::new(move || Ok(Box::new(TableScan { ctx, provider }) as Box<dyn StreamSource>))
            },
            watermark: None,
            event_times: Vec::new(),
            skipped: None,
            view: None,
        });
    };
    refuse_changelog(stream, table, "a window table function")?;
    let no_event_time = || no_time_attribute(call, stream);
    let (schema, view, watermark) = if stream == name {
        let watermark = if table.proctime.contains(&call.time_column) {
            WatermarkSpec::processing_time(&call.time_column)
        } else {
            let watermark = table.watermark.as_ref().ok_or_else(no_event_time)?;
            if watermark.column != call.time_column {
                return Err(plan_error(
                    format!(
                        "DESCRIPTOR({}) must name {name}'s event-time column {}",
                        call.time_column, watermark.column
                    ),
                    Some(format!("write DESCRIPTOR({})", watermark.column)),
                ));
            }
            watermark.clone()
        };
        (table.schema.clone(), None, watermark)
    } else {
        let staged = ViewStage::plan(
            ctx,
            name,
            std::slice::from_ref(stream),
            &call.time_column,
            streams,
            watermark_now,
        )
        .await?;
        let watermark = match staged.processing_time {
            true => WatermarkSpec::processing_time(&call.time_column),
            false => table.watermark.clone().ok_or_else(no_event_time)?,
        };
        (staged.schema, Some(staged.stage), watermark)
    };
    let event_times = input_time(0, &table.schema, &watermark)?
        .into_iter()
        .collect();
    Ok(WindowedSource {
        stream: stream.clone(),
        schema,
        source_schema: table.schema.clone(),
        open: {
            let (ctx, factory) = (ctx.clone(), table.factory.clone());
            Box::new(move || factory.open(&ctx))
        },
        watermark: Some(watermark),
        event_times,
        skipped: table.skipped.clone(),
        view,
    })
}

/// A window over a view that reads several streams (a UNION ALL of two): their sources run
/// side by side into the view's stage, and the watermark is the least of the streams' own.
async fn windowed_streams(
    ctx: &SessionContext,
    call: &WindowCall,
    name: &str,
    under: &[String],
    streams: &StreamRelations,
    watermark_now: Arc<AtomicI64>,
) -> Result<WindowedSource, EngineError> {
    let mut tables = Vec::with_capacity(under.len());
    for stream in under {
        let table = streams.tables.get(stream).ok_or_else(|| {
            plan_error(
                format!("view {name} reads {stream}, which is not a stream"),
                None,
            )
        })?;
        tables.push(table);
    }
    let staged =
        ViewStage::plan(ctx, name, under, &call.time_column, streams, watermark_now).await?;
    let (watermark, event_times) = if staged.processing_time {
        (
            WatermarkSpec::processing_time(&call.time_column),
            Vec::new(),
        )
    } else {
        let mut event_times = Vec::with_capacity(tables.len());
        for (input, (stream, table)) in under.iter().zip(&tables).enumerate() {
            let spec = table
                .watermark
                .as_ref()
                .ok_or_else(|| no_time_attribute(call, stream))?;
            event_times.extend(input_time(input, &table.schema, spec)?);
        }
        // The first stream's declaration stands for the rest in EXPLAIN.
        let first = tables[0].watermark.clone();
        (
            first.ok_or_else(|| no_time_attribute(call, &under[0]))?,
            event_times,
        )
    };
    let factories: Vec<_> = tables.iter().map(|table| table.factory.clone()).collect();
    let ctx = ctx.clone();
    Ok(WindowedSource {
        stream: under.join(", "),
        schema: staged.schema,
        source_schema: tables[0].schema.clone(),
        open: Box::new(move || {
            let sources = factories
                .iter()
                .map(|factory| factory.open(&ctx))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Box::new(super::merged_source::MergedSource::new(sources)) as Box<dyn StreamSource>)
        }),
        watermark: Some(watermark),
        event_times,
        skipped: None,
        view: Some(staged.stage),
    })
}

/// The error for a window over `stream`, which declares no time attribute.
fn no_time_attribute(call: &WindowCall, stream: &str) -> EngineError {
    plan_error(
        format!(
            "{} windows need an event time (a WATERMARK) or a processing time (PROCTIME()), \
             and {stream} declares neither",
            call.kind.name()
        ),
        Some(format!(
            "declare one in the table: WATERMARK FOR {} AS {} - INTERVAL '5' SECOND, or pt AS \
             PROCTIME()",
            call.time_column, call.time_column
        )),
    )
}

fn shape_of(
    probe: &Arc<dyn ExecutionPlan>,
    window: Option<&WindowSpec>,
    output: &SchemaRef,
    times: &[(String, bool)],
    facts: over_aggregate::OverFacts,
) -> Result<Shape, EngineError> {
    let Some(found) = aggregate::find(probe)? else {
        let top_n = match top_n::find(probe) {
            Ok(top_n) => top_n,
            // A window function ordered by the event time, not kept to its first ranks: an
            // OVER aggregation, if it is one Eddy runs.
            Err(not_top_n) => {
                for (time, processing_time) in times {
                    if let Some(over) = over_aggregate::find(probe, Some(time), facts)? {
                        check_per_batch(&over.lower, "below an OVER aggregation over a stream")?;
                        return Ok(Shape::Over {
                            time: time.clone(),
                            processing_time: *processing_time,
                            facts,
                        });
                    }
                }
                return Err(not_top_n);
            }
        };
        if let Some(top) = top_n {
            check_per_batch(&top.lower, "below a Top-N over a stream")?;
            // Partitioned by its window, over a window table function's rows: each window
            // is ranked for good when the watermark closes it.
            let close = window.and_then(|window| {
                WindowClose::from_columns(
                    top_n::partition_column(&top, "window_end"),
                    top_n::partition_column(&top, "window_start"),
                    window,
                )
            });
            return Ok(Shape::TopN {
                key: top_n::key_names(&top),
                close,
            });
        }
        check_per_batch(probe, "over a stream without GROUP BY")?;
        return Ok(Shape::Stateless);
    };
    check_per_batch(&found.partial, "before a stream's GROUP BY")?;
    let groups = aggregate::group_names(&found);
    let state_schema = found.partial.schema();
    if let Some(close) = window.and_then(|window| WindowClose::of_aggregate(&found, window)) {
        return Ok(Shape::Windowed {
            state_schema,
            close,
        });
    }
    // The output columns that identify an updating result's rows: its grouping columns.
    let groups_empty = groups.is_empty();
    let key = groups
        .into_iter()
        .filter(|g| output.index_of(g).is_ok())
        .collect();
    let by_key = !groups_empty && aggregate::row_wise_above_final(&found);
    Ok(Shape::Updating {
        state_schema,
        key,
        by_key,
    })
}

/// An ordinary table read whole as a bounded stream (a window function over it).
struct TableScan {
    ctx: SessionContext,
    provider: Arc<dyn TableProvider>,
}

impl StreamSource for TableScan {
    fn schema(&self) -> SchemaRef {
        self.provider.schema()
    }

    fn is_bounded(&self) -> bool {
        true
    }

    fn run(self: Box<Self>, out: BatchSender) -> BoxFuture<'static, Result<(), EngineError>> {
        Box::pin(async move {
            let frame = self.ctx.read_table(self.provider)?;
            let mut stream = frame.execute_stream().await?;
            while let Some(batch) = stream.next().await {
                if out.send(batch?).await.is_err() {
                    break;
                }
            }
            Ok(())
        })
    }
}
