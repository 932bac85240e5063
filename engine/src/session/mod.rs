//! An engine session: one catalog of tables, the SQL run against it. The [`Engine`] is the
//! engine's façade: a cell's text is parsed here (`parse.rs`), each statement run here, and
//! the statements DataFusion does not plan are run by `ddl.rs`.

mod catalog;
mod connected;
mod context;
mod ddl;
mod flink_settings;
mod insert_into_stream;
pub(crate) mod kept_state;
mod options_hints;
mod parse;
mod statement_relations;
mod statement_set;
mod stream_view;
mod table_like;
mod windowed_subqueries;

pub use connected::Connected;
pub use parse::{parse, Statement};

use crate::batch::csv_locate;
use crate::batch::progress::ScanProgress;
use crate::config::EngineConfig;
use crate::connectors::ConnectorOptions;
use crate::error::EngineError;
use crate::result::{FirstRows, RowSet, StatementResult};
use crate::sql::completeness::{self, Completeness};
use crate::sql::flink_syntax::FlinkParts;
use crate::sql::{introspect, names};
use crate::stream::catalog::StreamRelations;
use crate::stream::query::{self as stream_query, StreamRequest};
use crate::{ObjectInfo, Vocabulary};
use catalog::Catalog;
use datafusion::common::TableReference;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::sql::parser::Statement as ParsedStatement;
use datafusion::sql::sqlparser::ast::{ObjectName, Statement as SqlStatement};
use futures::StreamExt;
use kept_state::KeptState;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

/// A DataFusion session made the first time it is used.
type LazyContext = LazyLock<SessionContext, Box<dyn FnOnce() -> SessionContext + Send>>;

/// One user's SQL session. Cheap to share: clones see the same catalog.
#[derive(Clone)]
pub struct Engine {
    /// Made on first use, not at start: registering DataFusion's few hundred functions
    /// brings megabytes of code into memory, which a kernel started and left idle (a
    /// JupyterHub keeps many) should not hold.
    ctx: Arc<LazyContext>,
    /// The session's state for planning, kept between statements.
    planning: Arc<KeptState>,
    /// What the engine keeps of each table beside DataFusion's catalog.
    catalog: Catalog,
    memory_limit: usize,
    /// Flink's `table.exec.state.ttl`, in ms (0: none), for queries started from now on.
    state_ttl: Arc<std::sync::atomic::AtomicU64>,
    /// The columns of file tables that queries decoded, kept for the next question.
    column_memory: Arc<crate::batch::column_memory::ColumnMemory>,
    /// Where statements run when not here (`%connect df://…`, `%connect flink://…`).
    connection: Arc<std::sync::Mutex<Option<connected::Connection>>>,
}

/// What `%config` shows of the columns file tables keep in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnMemoryState {
    pub enabled: bool,
    pub tables: usize,
    pub bytes: usize,
    pub budget: usize,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Result<Self, EngineError> {
        let (session_config, runtime, memory_limit, column_memory) =
            context::session_setup(&config)?;
        let faults = config.fault_functions;
        let ctx: Box<dyn FnOnce() -> SessionContext + Send> =
            Box::new(move || context::new_context(session_config, runtime, faults));
        Ok(Engine {
            ctx: Arc::new(LazyLock::new(ctx)),
            planning: Arc::default(),
            catalog: Catalog::default(),
            memory_limit,
            state_ttl: Arc::default(),
            column_memory,
            connection: Arc::default(),
        })
    }

    /// Bytes the engine's queries may hold.
    pub fn memory_limit(&self) -> usize {
        self.memory_limit
    }

    /// The state TTL continuous queries start with (`SET 'table.exec.state.ttl'`).
    fn state_ttl(&self) -> Option<std::time::Duration> {
        match self.state_ttl.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            ms => Some(std::time::Duration::from_millis(ms)),
        }
    }

    /// Runs one statement. A query keeps its first `max_rows` rows and counts the rest, so
    /// a huge result costs no memory to show. Dropping the returned future cancels the
    /// statement.
    pub async fn run(
        &self,
        statement: Statement,
        max_rows: usize,
    ) -> Result<StatementResult, EngineError> {
        self.run_observed(statement, max_rows, ScanProgress::default())
            .await
    }

    /// [`Self::run`], reporting the rows its scans read into `progress` as it goes.
    pub async fn run_observed(
        &self,
        statement: Statement,
        max_rows: usize,
        progress: ScanProgress,
    ) -> Result<StatementResult, EngineError> {
        let mut statement = statement;
        if !statement.set.is_empty() {
            for insert in &mut statement.set {
                self.name_written_columns(&mut insert.parsed);
            }
            self.refuse_on_cluster(
                "A statement set",
                "its INSERTs write through this kernel's connectors",
            )?;
            return self.run_statement_set(statement.set).await;
        }
        self.name_written_columns(&mut statement.parsed);
        // Dropped when the statement is done, taking the relations it declared with it.
        let mut declared = statement_relations::StatementRelations::new(self);
        self.declare_hinted_tables(&statement.flink.hints, &statement.parsed, &mut declared)?;
        self.declare_windowed_subqueries(&statement.flink.windowed_subqueries, &mut declared)
            .await?;
        if let ParsedStatement::Statement(sql) = &statement.parsed {
            match sql.as_ref() {
                SqlStatement::CreateTable(create) => {
                    if let Some(like) = &statement.flink.like {
                        return self.create_table_like(create, like, &statement.flink);
                    }
                    if let Some(options) = ConnectorOptions::from_create(&create.table_options)? {
                        return self.create_connector_table(create, options, &statement.flink);
                    }
                    if let Some(column) = statement.flink.computed.first() {
                        return Err(EngineError::Plan {
                            message: format!(
                                "the computed column {} belongs to a table with a source",
                                column.name
                            ),
                            position: Some(column.position),
                            hint: Some(
                                "declare the source: WITH ('connector' = 'datagen', …)".into(),
                            ),
                        });
                    }
                    if let Some(watermark) = &statement.flink.watermark {
                        return Err(EngineError::Plan {
                            message: "a WATERMARK belongs to a table with a source".into(),
                            position: Some(watermark.position),
                            hint: Some(
                                "declare the source: WITH ('connector' = 'datagen', …)".into(),
                            ),
                        });
                    }
                }
                SqlStatement::Cache {
                    table_name, query, ..
                } => {
                    let name = names::table_reference(table_name.clone())?;
                    self.refuse_on_cluster(
                        "CACHE TABLE",
                        "it keeps a table's rows in this kernel's memory",
                    )?;
                    return self.cache_table(name, query.is_some()).await;
                }
                SqlStatement::UNCache {
                    table_name,
                    if_exists,
                } => {
                    let name = names::table_reference(table_name.clone())?;
                    return self.uncache_table(name, *if_exists);
                }
                _ => {}
            }
        }
        let planning = self.planning.take(&self.ctx);
        let state = &planning.state;
        // A name the resolver rejects is reported by the planner, with its position.
        let mentioned = state
            .resolve_table_references(&statement.parsed)
            .unwrap_or_default();
        let streams = self.catalog.streams();
        check_temporal_joins(&statement.flink, &streams)?;
        let is_insert = matches!(&statement.parsed,
            ParsedStatement::Statement(sql) if matches!(sql.as_ref(), SqlStatement::Insert(_)));
        if is_insert {
            self.refuse_on_cluster("INSERT", "it writes through this kernel's connectors")?;
        }
        if is_insert && statement.flink.windows.is_empty() {
            let sinks = self.catalog.all_sink_decls();
            let target = insert_into_stream::batch_insert_target(
                &statement.parsed,
                &mentioned,
                &streams,
                &sinks,
            );
            if let Some(target) = target {
                let result = insert_into_stream::insert_rows(
                    &planning,
                    statement.parsed,
                    &target,
                    sinks.get(&target),
                )
                .await;
                self.planning.give_back(planning);
                return result;
            }
        }
        if stream_query::is_continuous(&mentioned, &statement.flink, &streams) {
            self.planning.give_back(planning);
            if is_create_view(&statement.parsed) {
                return self
                    .create_stream_view(statement, &mentioned, &streams)
                    .await;
            }
            self.refuse_on_cluster(
                "A query over streams",
                "a Ballista cluster runs batch queries, and this one reads rows as they arrive",
            )?;
            let sinks = self.catalog.all_sink_decls();
            // EXPLAIN plans the continuous query without starting it.
            let (explain, parsed) = match statement.parsed {
                ParsedStatement::Explain(explain) => (true, *explain.statement),
                parsed => (false, parsed),
            };
            let request = StreamRequest {
                ctx: &self.ctx,
                statement: parsed,
                parts: &statement.flink,
                tables: &mentioned,
                streams,
                sinks,
                state_ttl: self.state_ttl(),
                memory_limit: self.memory_limit,
            };
            if explain {
                let text = stream_query::explain(request).await?;
                return Ok(StatementResult::Rows(explained(&text)?));
            }
            let query = stream_query::start(request).await?;
            return Ok(StatementResult::Stream(query));
        }
        let skipped_before = self.catalog.skipped_total();
        let plan = state.statement_to_plan(statement.parsed).await?;
        if let Some(answer) = flink_setting(&plan, &self.state_ttl) {
            self.planning.give_back(planning);
            return Ok(StatementResult::Done { message: answer? });
        }
        if makes_rows_here(&plan) {
            self.refuse_on_cluster(
                "CREATE TABLE … AS SELECT",
                "its rows would be kept in this kernel's memory",
            )?;
        }
        if let Some(mut message) = done_message(&plan) {
            // Catalog and session changes are applied by the context, not by a statement's
            // view of it (which they make stale); there is nothing to stream.
            let replaced = replaced_table(&plan);
            let applied = self.ctx.execute_logical_plan(plan).await;
            self.planning.invalidate();
            if let Err(error) = applied {
                return Err(self.with_csv_location(error, &mentioned).await);
            }
            // Only once the drop or replacement succeeded does the old table's source go.
            if let Some(replaced) = replaced {
                self.catalog.forget(&replaced.to_string());
            }
            let skipped = self.catalog.skipped_total().saturating_sub(skipped_before);
            if skipped > 0 {
                message.push_str(&format!(" {skipped} malformed CSV rows were skipped."));
            }
            return Ok(StatementResult::Done { message });
        }
        if let Some(cluster) = self.connected_cluster() {
            if !crate::cluster::Cluster::answers_here(&plan) {
                self.planning.give_back(planning);
                if matches!(plan, LogicalPlan::Dml(_) | LogicalPlan::Copy(_)) {
                    self.refuse_on_cluster("INSERT or COPY", "it writes files from this kernel")?;
                }
                let why_not = |table: &TableReference| self.why_not_on_cluster(table);
                return Ok(StatementResult::Rows(
                    cluster.run(plan, max_rows, &why_not, &progress).await?,
                ));
            }
        }
        let physical = state.create_physical_plan(&plan).await?;
        let task = planning.task.clone();
        self.planning.give_back(planning);
        progress.watch(physical.clone());
        let mut stream = datafusion::physical_plan::execute_stream(physical, task)?;
        let schema = stream.schema();
        let mut rows = FirstRows::default();
        while let Some(batch) = stream.next().await {
            match batch {
                Ok(batch) => rows.push(batch, max_rows),
                Err(error) => return Err(self.with_csv_location(error, &mentioned).await),
            }
        }
        let mut rows = rows.into_rows(schema, None);
        rows.skipped_rows = self.catalog.skipped_total().saturating_sub(skipped_before);
        Ok(StatementResult::Rows(rows))
    }

    /// An error of a statement; a malformed CSV row also gets its file and line, found by
    /// reading the CSV tables the statement mentions from their start.
    async fn with_csv_location(
        &self,
        error: datafusion::error::DataFusionError,
        mentioned: &[TableReference],
    ) -> EngineError {
        let original = error.to_string();
        let mut error = EngineError::from(error);
        if !csv_locate::is_csv_row_error(&original) {
            return error;
        }
        let mut sources = Vec::new();
        for table in mentioned {
            if let Ok(provider) = self.ctx.table_provider(table.clone()).await {
                sources.extend(csv_locate::CsvSource::of(&provider));
            }
        }
        if let (Some((file, line, _)), EngineError::Execution { message, .. }) =
            (csv_locate::locate(sources).await, &mut error)
        {
            message.push_str(&format!(" The row is line {line} of {}.", file.display()));
        }
        error
    }

    /// Whether a table's rows arrive over time (queries over it run continuously).
    pub fn is_stream(&self, name: &str) -> bool {
        self.catalog.is_stream(name)
    }

    /// The columns of a file table kept in memory as queries read them, and their bytes;
    /// `None` when none are.
    pub async fn kept_columns(
        &self,
        name: &str,
    ) -> Option<crate::batch::column_memory::KeptColumns> {
        let provider = self
            .ctx
            .table_provider(crate::sql::names::table_reference_from_text(name))
            .await
            .ok()?;
        let table = provider
            .as_ref()
            .downcast_ref::<crate::batch::remembered_table::RememberedTable>()?;
        self.column_memory.kept(table.id())
    }

    /// Whether file tables keep the columns queries decode in memory, the tables that have
    /// some, the bytes they hold, and at most how many.
    pub fn column_memory(&self) -> ColumnMemoryState {
        let (tables, bytes) = self.column_memory.held();
        ColumnMemoryState {
            enabled: self.column_memory.is_enabled(),
            tables,
            bytes,
            budget: self.column_memory.budget(),
        }
    }

    /// Turns keeping decoded columns of file tables in memory on or off (off drops what is
    /// kept).
    pub fn set_column_memory(&self, on: bool) {
        self.column_memory.set_enabled(on);
    }

    /// Bytes a cached table holds in memory; `None` for a table that is not cached.
    pub fn cached_bytes(&self, name: &str) -> Option<usize> {
        self.catalog.cached_bytes(name)
    }

    /// Gives an INSERT without a column list the columns its table takes, when that is not
    /// all of them (Flink leaves a table's VIRTUAL metadata columns out).
    fn name_written_columns(&self, parsed: &mut ParsedStatement) {
        if let Some(target) = names::insert_target(parsed) {
            if let Some(columns) = self.catalog.written_columns(&target.to_string()) {
                insert_into_stream::name_written_columns(parsed, columns);
            }
        }
    }

    /// What a stream table's source is like right now (a Kafka table's partitions, offsets
    /// and lag), as rows; `None` for a source with nothing to say. Asks the source's server
    /// off the async threads, within the source's deadline.
    pub async fn source_state(&self, name: &str) -> Option<Result<RowSet, EngineError>> {
        let factory = self.catalog.streams().tables.get(name)?.factory.clone();
        let described = tokio::task::spawn_blocking(move || factory.describe())
            .await
            .ok()??;
        Some(described.map(|batch| RowSet {
            schema: batch.schema(),
            total_rows: batch.num_rows(),
            batches: vec![batch],
            skipped_rows: 0,
            ran_on: None,
        }))
    }

    /// The `WITH` options a table was declared with (empty for other tables).
    pub fn table_source(&self, name: &str) -> BTreeMap<String, String> {
        self.catalog.options(name)
    }

    /// The columns of a table's `PRIMARY KEY (…) NOT ENFORCED`, as declared (empty without
    /// one). Flink does not check a key either: it tells upsert sinks and temporal joins
    /// which columns identify a row.
    pub fn primary_key(&self, name: &str) -> Vec<String> {
        self.catalog
            .ddl(name)
            .map(|(ddl, _)| table_like::primary_key(&ddl.create))
            .unwrap_or_default()
    }

    /// The `PARTITIONED BY` columns of a filesystem table (empty for other tables).
    pub fn partition_keys(&self, name: &str) -> Vec<String> {
        self.catalog
            .ddl(name)
            .map(|(ddl, _)| table_like::partition_keys(&ddl.create))
            .unwrap_or_default()
    }

    /// Whether `sql` is a complete statement list.
    pub fn completeness(&self, sql: &str) -> Completeness {
        completeness::completeness(sql)
    }

    /// Names a user may type: keywords, functions, tables and their columns.
    pub async fn vocabulary(&self) -> Vocabulary {
        introspect::vocabulary(&self.ctx).await
    }

    /// What `name` is: a table (with its schema) or a function (with its documentation).
    pub async fn describe(&self, name: &str) -> Option<ObjectInfo> {
        introspect::describe(&self.ctx, name).await
    }
}

/// The table a statement drops or replaces, whose declared source no longer applies.
fn replaced_table(plan: &LogicalPlan) -> Option<TableReference> {
    match plan {
        LogicalPlan::Ddl(DdlStatement::DropTable(drop)) => Some(drop.name.clone()),
        LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(create)) => Some(create.name.clone()),
        LogicalPlan::Ddl(DdlStatement::CreateExternalTable(create)) => Some(create.name.clone()),
        LogicalPlan::Ddl(DdlStatement::CreateView(create)) => Some(create.name.clone()),
        LogicalPlan::Ddl(DdlStatement::DropView(drop)) => Some(drop.name.clone()),
        _ => None,
    }
}

/// EXPLAIN's result for a continuous query: its stages, then each micro-batch's plan, as
/// DataFusion shows a plan (`plan_type`, `plan`).
fn explained(text: &str) -> Result<RowSet, EngineError> {
    use datafusion::arrow::array::{RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let (stages, micro_batch) = text
        .split_once("\n\n== Each micro-batch ==\n")
        .unwrap_or((text, ""));
    let schema = Arc::new(Schema::new(vec![
        Field::new("plan_type", DataType::Utf8, false),
        Field::new("plan", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec![
                "continuous_plan",
                "micro_batch_plan",
            ])),
            Arc::new(StringArray::from(vec![
                stages.trim_start_matches("== Continuous query ==\n"),
                micro_batch,
            ])),
        ],
    )?;
    Ok(RowSet {
        schema,
        batches: vec![batch],
        total_rows: 2,
        skipped_rows: 0,
        ran_on: None,
    })
}

/// `JOIN t FOR SYSTEM_TIME AS OF …` against a bounded table is a lookup join, which every
/// micro-batch runs against the table as it is. Against a stream it is Flink's event-time
/// join with a versioned table, which needs state kept across micro-batches: refused.
fn check_temporal_joins(flink: &FlinkParts, streams: &StreamRelations) -> Result<(), EngineError> {
    for join in &flink.temporal_joins {
        let table = names::table_reference(ObjectName::from(join.table.clone()))?;
        if streams.contains(&table.to_string()) {
            return Err(EngineError::NotSupported {
                message: format!(
                    "a temporal join against the stream {table} (FOR SYSTEM_TIME AS OF {}) \
                     needs a versioned table kept across micro-batches, which Eddy does not \
                     have yet; a stream joins bounded tables only (lookup joins)",
                    join.time
                ),
            });
        }
    }
    Ok(())
}

fn is_create_view(statement: &ParsedStatement) -> bool {
    matches!(statement, ParsedStatement::Statement(sql) if matches!(sql.as_ref(), SqlStatement::CreateView(_)))
}

/// The acknowledgement for statements that change the catalog or session, `None` for
/// statements with rows to show.
/// Flink's `SET 'key' = 'value'` or `RESET 'key'` for a setting that is not DataFusion's.
fn flink_setting(
    plan: &LogicalPlan,
    state_ttl: &std::sync::atomic::AtomicU64,
) -> Option<Result<String, EngineError>> {
    use datafusion::logical_expr::Statement;
    match plan {
        LogicalPlan::Statement(Statement::SetVariable(set)) => {
            flink_settings::answer(&set.variable, Some(&set.value), state_ttl)
        }
        LogicalPlan::Statement(Statement::ResetVariable(reset)) => {
            flink_settings::answer(&reset.variable, None, state_ttl)
        }
        _ => None,
    }
}

/// Whether `plan` makes a table of a query's rows in memory (`CREATE TABLE … AS SELECT`).
fn makes_rows_here(plan: &LogicalPlan) -> bool {
    matches!(plan, LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(create))
        if !matches!(create.input.as_ref(), LogicalPlan::EmptyRelation(_)))
}

fn done_message(plan: &LogicalPlan) -> Option<String> {
    let message = match plan {
        LogicalPlan::Ddl(ddl) => match ddl {
            DdlStatement::CreateExternalTable(create) => format!("Created table {}.", create.name),
            DdlStatement::CreateMemoryTable(create) => format!("Created table {}.", create.name),
            DdlStatement::CreateView(create) => format!("Created view {}.", create.name),
            DdlStatement::CreateCatalogSchema(create) => {
                format!("Created schema {}.", create.schema_name)
            }
            DdlStatement::CreateCatalog(create) => {
                format!("Created catalog {}.", create.catalog_name)
            }
            DdlStatement::DropTable(drop) => format!("Dropped table {}.", drop.name),
            DdlStatement::DropView(drop) => format!("Dropped view {}.", drop.name),
            other => format!("{} done.", other.name()),
        },
        LogicalPlan::Statement(statement) => format!("{} done.", statement.name()),
        _ => return None,
    };
    Some(message)
}
