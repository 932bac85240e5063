//! Turning a statement over a stream into a running [`ContinuousQuery`]: which relation
//! the stream feeds, the per-query catalog and session, the plan's shape (stateless,
//! windowed aggregation, updating aggregation), and the source.

use super::aggregate;
use super::catalog::StreamTable;
use super::interval::interval_ms;
use super::micro_batch::MicroBatchTable;
use super::runner::{Runner, Shape, WindowClose};
use super::sink::{FileFormat, FileSink};
use super::source::{BatchSender, StreamSource};
use super::tick_plan::{check_per_batch, physical_plan, streaming_state};
use super::watermark::WatermarkSpec;
use super::window::{windowed_schema, SessionBuffer, WindowSpec};
use super::{ContinuousQuery, StreamKind, StreamStats};
use crate::error::EngineError;
use crate::sql::flink_syntax::{FlinkParts, WindowKind};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{LogicalPlan, WriteOp};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::sql::parser::Statement as ParsedStatement;
use futures::future::BoxFuture;
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Everything [`start`] needs from the engine session.
pub(crate) struct StreamRequest<'a> {
    pub(crate) ctx: &'a SessionContext,
    pub(crate) statement: ParsedStatement,
    pub(crate) parts: &'a FlinkParts,
    /// The tables the statement names.
    pub(crate) tables: &'a [TableReference],
    pub(crate) streams: HashMap<String, StreamTable>,
    /// The `WITH` options of tables declared with a connector (a sink's path and format).
    pub(crate) sources: HashMap<String, BTreeMap<String, String>>,
}

/// Whether a statement, naming `tables`, must run as a continuous query.
pub(crate) fn is_continuous(
    tables: &[TableReference],
    parts: &FlinkParts,
    streams: &HashMap<String, StreamTable>,
) -> bool {
    !parts.windows.is_empty() || tables.iter().any(|t| streams.contains_key(&t.to_string()))
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
    let StreamRequest {
        ctx,
        statement,
        parts,
        tables,
        streams,
        sources,
    } = request;
    let input = stream_input(ctx, tables, parts, &streams).await?;
    let base = ctx.state();
    let options = base.config().options().clone();
    let mut extra: HashMap<String, Arc<dyn TableProvider>> = HashMap::new();
    let slot = Arc::new(MicroBatchTable::new(input.relation_schema.clone()));
    extra.insert(input.relation.clone(), slot.clone());
    let state = streaming_state(
        base,
        &options.catalog.default_catalog,
        &options.catalog.default_schema,
        extra,
    )?;

    let plan = state.statement_to_plan(statement).await?;
    let (query_plan, sink) = match plan {
        LogicalPlan::Dml(dml) if matches!(dml.op, WriteOp::Insert(_)) => {
            let sink = sink_for(
                &dml.table_name,
                &sources,
                dml.input.schema().inner().clone(),
            )?;
            (
                dml.input.as_ref().clone(),
                Some((dml.table_name.to_string(), sink)),
            )
        }
        LogicalPlan::Dml(_) => {
            return Err(EngineError::NotSupported {
                message: "only INSERT INTO writes a stream into a table".into(),
            })
        }
        LogicalPlan::Ddl(_) => {
            return Err(EngineError::NotSupported {
                message: "views and CREATE TABLE … AS SELECT over streams are not supported; \
                          query the stream directly"
                    .into(),
            })
        }
        other => (other, None),
    };
    let logical = state.optimize(&query_plan)?;
    let schema: SchemaRef = Arc::new(logical.schema().as_arrow().clone());

    // The plan's shape, from a plan over no rows.
    let probe = physical_plan(&state, &logical).await?;
    let shape = shape_of(&probe, &input, &schema)?;
    let kind = match (&shape, &sink) {
        (_, Some((table, _))) if !matches!(shape, Shape::Updating { .. }) => StreamKind::Sink {
            table: table.clone(),
        },
        (Shape::Updating { .. }, Some((table, _))) => {
            return Err(EngineError::NotSupported {
                message: format!(
                    "{table} is a filesystem table, which takes appended rows only; this \
                     query's result changes (a GROUP BY without windows)"
                ),
            })
        }
        (Shape::Updating { key, .. }, None) => StreamKind::Updating { key: key.clone() },
        _ => StreamKind::Append,
    };
    let key_columns = match &kind {
        StreamKind::Updating { key } => {
            key.iter().filter_map(|k| schema.index_of(k).ok()).collect()
        }
        _ => Vec::new(),
    };

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
    let cancel = CancellationToken::new();
    let stats = Arc::new(StreamStats {
        watermark: AtomicI64::new(i64::MIN),
        ..StreamStats::default()
    });
    let emit_interval = Arc::new(AtomicU64::new(500));
    let (updates_tx, updates_rx) = mpsc::channel(16);
    let runner = Runner {
        state,
        logical,
        schema: schema.clone(),
        slot,
        shape,
        window: input.window,
        sessions: input.sessions,
        watermark: input.watermark,
        time_index: input.time_index,
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
        task: Some(task),
    })
}

/// The relation a query reads the stream through, and how rows get there.
struct StreamInput {
    /// The table name (or window relation) the query's SQL reads.
    relation: String,
    relation_schema: SchemaRef,
    /// The schema of the source's rows (before windows are added).
    source_schema: SchemaRef,
    skipped: Option<Arc<std::sync::atomic::AtomicU64>>,
    source: Box<dyn StreamSource>,
    watermark: Option<WatermarkSpec>,
    /// The event-time column in the source's rows.
    time_index: Option<usize>,
    window: Option<WindowSpec>,
    sessions: Option<SessionBuffer>,
}

async fn stream_input(
    ctx: &SessionContext,
    tables: &[TableReference],
    parts: &FlinkParts,
    streams: &HashMap<String, StreamTable>,
) -> Result<StreamInput, EngineError> {
    if parts.windows.len() > 1 {
        return Err(EngineError::NotSupported {
            message: "one window function per query: joining or combining two windowed \
                      streams is not supported"
                .into(),
        });
    }
    let mut stream_tables: Vec<String> = tables
        .iter()
        .map(ToString::to_string)
        .filter(|t| streams.contains_key(t))
        .collect();
    stream_tables.sort_unstable();
    stream_tables.dedup();
    let Some(call) = parts.windows.first() else {
        let [name] = stream_tables.as_slice() else {
            return Err(EngineError::NotSupported {
                message: format!(
                    "this query reads {} streams ({}); a query reads one stream, joined with \
                     tables if needed",
                    stream_tables.len(),
                    stream_tables.join(", ")
                ),
            });
        };
        let table = &streams[name];
        let time_index = match &table.watermark {
            Some(w) => Some(table.schema.index_of(&w.column)?),
            None => None,
        };
        return Ok(StreamInput {
            relation: name.clone(),
            relation_schema: table.schema.clone(),
            source_schema: table.schema.clone(),
            skipped: table.skipped.clone(),
            source: table.factory.open(ctx)?,
            watermark: table.watermark.clone(),
            time_index,
            window: None,
            sessions: None,
        });
    };
    if !stream_tables.is_empty() {
        return Err(EngineError::NotSupported {
            message: format!(
                "this query reads the stream {} besides a window over {}; a query reads one \
                 stream",
                stream_tables.join(", "),
                call.table
            ),
        });
    }
    let name = crate::sql::names::table_reference_from_text(&call.table);
    let skipped = streams
        .get(&name.to_string())
        .and_then(|table| table.skipped.clone());
    let (schema, source, watermark) = match streams.get(&name.to_string()) {
        Some(table) => {
            let Some(watermark) = &table.watermark else {
                return Err(plan_error(
                    format!(
                        "{} windows need an event time, and {name} declares none",
                        call.kind.name()
                    ),
                    Some(format!(
                        "declare one in the table: WATERMARK FOR {} AS {} - INTERVAL '5' SECOND",
                        call.time_column, call.time_column
                    )),
                ));
            };
            if watermark.column != call.time_column {
                return Err(plan_error(
                    format!(
                        "DESCRIPTOR({}) must name {name}'s event-time column {}",
                        call.time_column, watermark.column
                    ),
                    Some(format!("write DESCRIPTOR({})", watermark.column)),
                ));
            }
            (
                table.schema.clone(),
                table.factory.open(ctx)?,
                Some(watermark.clone()),
            )
        }
        None => {
            // A window over an ordinary table: read it whole, then close every window.
            let provider = ctx.table_provider(name.clone()).await?;
            let schema = provider.schema();
            let source: Box<dyn StreamSource> = Box::new(TableScan {
                ctx: ctx.clone(),
                provider,
            });
            (schema, source, None)
        }
    };
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
    let relation_schema = windowed_schema(&schema, time_index);
    let sessions = (call.kind == WindowKind::Session)
        .then(|| SessionBuffer::new(spec.clone(), schema.clone(), relation_schema.clone()));
    Ok(StreamInput {
        relation: call.relation.clone(),
        relation_schema,
        source_schema: schema.clone(),
        skipped,
        source,
        watermark,
        time_index: Some(time_index),
        window: Some(spec),
        sessions,
    })
}

fn shape_of(
    probe: &Arc<dyn ExecutionPlan>,
    input: &StreamInput,
    output: &SchemaRef,
) -> Result<Shape, EngineError> {
    let Some(found) = aggregate::find(probe)? else {
        check_per_batch(probe, "over a stream without GROUP BY")?;
        return Ok(Shape::Stateless);
    };
    check_per_batch(&found.partial, "before a stream's GROUP BY")?;
    let groups = aggregate::group_names(&found);
    let grouped = |name: &str| groups.iter().any(|g| g == name);
    let state_schema = found.partial.schema();
    if let Some(window) = &input.window {
        // The state row's window ends at window_end, or at window_start + size for the
        // windows whose size is fixed.
        let by_start = matches!(window.kind, WindowKind::Tumble | WindowKind::Hop);
        let close = match state_schema.index_of("window_end") {
            Ok(column) if grouped("window_end") => Some(WindowClose {
                column,
                offset_ms: 0,
            }),
            _ => match state_schema.index_of("window_start") {
                Ok(column) if grouped("window_start") && by_start => Some(WindowClose {
                    column,
                    offset_ms: window.size_ms,
                }),
                _ => None,
            },
        };
        if let Some(close) = close {
            return Ok(Shape::Windowed {
                state_schema,
                close,
            });
        }
    }
    // The output columns that identify an updating result's rows: its grouping columns.
    let key = groups
        .into_iter()
        .filter(|g| output.index_of(g).is_ok())
        .collect();
    Ok(Shape::Updating { state_schema, key })
}

/// The files a streaming INSERT writes: the target must be a filesystem table.
fn sink_for(
    table: &TableReference,
    sources: &HashMap<String, BTreeMap<String, String>>,
    schema: SchemaRef,
) -> Result<FileSink, EngineError> {
    let not_a_file_table = || EngineError::NotSupported {
        message: format!(
            "a stream is written into a table declared with 'connector' = 'filesystem' \
             (a directory and a format); {table} is not one"
        ),
    };
    let options = sources
        .get(&table.to_string())
        .ok_or_else(not_a_file_table)?;
    if options
        .get("connector")
        .map(|c| c.to_ascii_lowercase())
        .as_deref()
        != Some("filesystem")
    {
        return Err(not_a_file_table());
    }
    let path = options.get("path").ok_or_else(not_a_file_table)?;
    let format = options
        .get("format")
        .and_then(|f| FileFormat::parse(f))
        .ok_or_else(not_a_file_table)?;
    let roll_every = Duration::from_millis(1000);
    FileSink::new(std::path::Path::new(path), format, schema, roll_every)
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
