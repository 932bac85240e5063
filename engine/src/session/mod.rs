//! An engine session: one catalog of tables, the SQL run against it.

use crate::cache::{self, Cached};
use crate::completeness::{self, Completeness};
use crate::config::EngineConfig;
use crate::connectors::lines::CountedSource;
use crate::connectors::{self, ConnectorOptions};
use crate::csv_locate;
use crate::error::EngineError;
use crate::flink_sql::{self, FlinkParts};
use crate::flink_types::arrow_type;
use crate::introspect;
use crate::kept_state::KeptState;
use crate::limits;
use crate::progress::ScanProgress;
use crate::result::{RowSet, StatementResult};
use crate::stream::catalog::{StreamPlaceholder, StreamTable};
use crate::stream::query::{self as stream_query, StreamRequest};
use crate::stream::watermark::WatermarkSpec;
use crate::{ObjectInfo, Vocabulary};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::common::TableReference;
use datafusion::execution::context::SessionContext;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::prelude::SessionConfig;
use datafusion::sql::parser::{DFParserBuilder, Statement as ParsedStatement};
use datafusion::sql::planner::object_name_to_table_reference;
use datafusion::sql::sqlparser::ast::{
    ColumnOption, CreateTable, Ident, Statement as SqlStatement,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

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
    /// The `WITH` options of tables declared with a connector, by table name.
    sources: Arc<RwLock<HashMap<String, BTreeMap<String, String>>>>,
    /// Tables held in memory by CACHE TABLE, by table name.
    cached: Arc<RwLock<HashMap<String, Cached>>>,
    /// Rows skipped as malformed so far, by table (tables that ignore parse errors).
    skipped: Arc<RwLock<HashMap<String, Arc<AtomicU64>>>>,
    /// Tables whose rows arrive over time, by table name.
    streams: Arc<RwLock<HashMap<String, StreamTable>>>,
    memory_limit: usize,
}

/// One parsed statement of a cell, ready to [`Engine::run`].
#[derive(Debug, Clone)]
pub struct Statement {
    parsed: ParsedStatement,
    /// The Flink parts the parser does not know (a WATERMARK, window functions).
    flink: FlinkParts,
}

impl std::fmt::Display for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.parsed.fmt(f)
    }
}

impl Engine {
    pub fn new(config: EngineConfig) -> Result<Self, EngineError> {
        let mut session_config = SessionConfig::new()
            .with_information_schema(true)
            .set_bool("datafusion.sql_parser.collect_spans", true)
            // A join whose smaller side is known to be small builds one hash table for every
            // thread instead of shuffling both sides by key: exploring joins a few thousand
            // dimension rows (films of a year) with millions of facts, and repartitioning
            // the facts cost more than the probe. DataFusion's defaults are 1 MiB / 128k rows.
            .set_usize(
                "datafusion.optimizer.hash_join_single_partition_threshold",
                32 << 20,
            )
            .set_usize(
                "datafusion.optimizer.hash_join_single_partition_threshold_rows",
                1 << 20,
            )
            // A join whose build-side keys are integers spanning less than a million values
            // looks them up in an array indexed by key instead of a hash table (a few bytes
            // per value of the span, counted against the memory limit). Film ids of one
            // year spread over all ids, below DataFusion's density rule (15%), yet the
            // lookup took the top-10 join from 64 to 45 ms over 15.5M cached ratings.
            .set_usize(
                "datafusion.execution.perfect_hash_join_small_build_threshold",
                1 << 20,
            );
        if let Some(partitions) = config.target_partitions {
            session_config = session_config.with_target_partitions(partitions);
        }
        let memory_limit = config.effective_memory_limit();
        // Each sorting partition sets this much aside up front to merge what it spilled
        // (DataFusion's default, 10 MiB): under a small limit the reservations alone would
        // exceed it and the sort fail instead of spilling. A quarter of each partition's
        // share is kept for them, at most the default.
        let partitions = session_config.target_partitions().max(1);
        let merge_reserve = (memory_limit / partitions / 4).min(10 << 20);
        session_config = session_config
            .set_usize(
                "datafusion.execution.sort_spill_reservation_bytes",
                merge_reserve,
            )
            .set_usize(
                "datafusion.execution.sort_in_place_threshold_bytes",
                merge_reserve.min(1 << 20),
            );
        // The fair pool shares the limit among the spilling operators of a query; the
        // default disk manager spills into the OS temporary directory.
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(memory_limit)))
            .build_arc()?;
        let faults = config.fault_functions;
        let ctx: Box<dyn FnOnce() -> SessionContext + Send> =
            Box::new(move || new_context(session_config, runtime, faults));
        Ok(Engine {
            ctx: Arc::new(LazyLock::new(ctx)),
            planning: Arc::default(),
            sources: Arc::default(),
            cached: Arc::default(),
            skipped: Arc::default(),
            streams: Arc::default(),
            memory_limit,
        })
    }

    /// Bytes the engine's queries may hold.
    pub fn memory_limit(&self) -> usize {
        self.memory_limit
    }

    /// Splits a cell into statements. The whole text is parsed before anything runs, so a
    /// syntax error in the third statement does not leave the first two half-applied.
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>, EngineError> {
        limits::check_chained_operators(sql, limits::MAX_CHAINED_OPERATORS)?;
        let rewritten = flink_sql::rewrite(sql)?;
        if rewritten.ranges.is_empty() {
            // Nothing to split (or text the tokenizer rejects: the parser says where).
            let statements = DFParserBuilder::new(rewritten.text.as_str())
                .build()?
                .parse_statements()?;
            return Ok(statements
                .into_iter()
                .map(|parsed| Statement {
                    parsed,
                    flink: FlinkParts::default(),
                })
                .collect());
        }
        // Each statement is parsed on its own, from its own tokens: some statements' grammar
        // (CACHE TABLE t) does not stop at a ';'. The cell is tokenized once, so the tokens
        // keep their lines and columns in the cell, and a cell of thousands of statements
        // costs no more per statement than a cell of one.
        let dialect = GenericDialect {};
        let tokens = match Tokenizer::new(&dialect, &rewritten.text).tokenize_with_location() {
            Ok(tokens) => tokens,
            // The parser reports what the tokenizer rejects, with its position.
            Err(error) => {
                DFParserBuilder::new(rewritten.text.as_str()).build()?;
                return Err(EngineError::Internal {
                    message: format!("the tokenizer rejected the cell ({error})"),
                });
            }
        };
        let mut segments = Vec::new();
        let mut segment = Vec::new();
        for token in tokens {
            if token.token == Token::SemiColon {
                segments.push(std::mem::take(&mut segment));
            } else {
                segment.push(token);
            }
        }
        segments.push(segment);
        segments.retain(|segment| {
            segment
                .iter()
                .any(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
        });
        if segments.len() != rewritten.statements.len() {
            return Err(EngineError::Internal {
                message: format!(
                    "the cell splits into {} statements, but its Flink parts into {}",
                    segments.len(),
                    rewritten.statements.len()
                ),
            });
        }
        let mut statements = Vec::with_capacity(segments.len());
        for (tokens, flink) in segments.into_iter().zip(rewritten.statements) {
            let mut parsed = DFParserBuilder::new(tokens).build()?.parse_statements()?;
            let Some(parsed) = parsed.pop_front() else {
                continue;
            };
            statements.push(Statement { parsed, flink });
        }
        Ok(statements)
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
        if let ParsedStatement::Statement(sql) = &statement.parsed {
            match sql.as_ref() {
                SqlStatement::CreateTable(create) => {
                    if let Some(options) = ConnectorOptions::from_create(&create.table_options)? {
                        return self.create_connector_table(create, options, &statement.flink);
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
                    let name = object_name_to_table_reference(table_name.clone(), true)?;
                    return self.cache_table(name, query.is_some()).await;
                }
                SqlStatement::UNCache {
                    table_name,
                    if_exists,
                } => {
                    let name = object_name_to_table_reference(table_name.clone(), true)?;
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
        let streams = self.streams_read().clone();
        if stream_query::is_continuous(&mentioned, &statement.flink, &streams) {
            self.planning.give_back(planning);
            let sources = self.sources.read().map(|s| s.clone()).unwrap_or_default();
            let query = stream_query::start(StreamRequest {
                ctx: &self.ctx,
                statement: statement.parsed,
                parts: &statement.flink,
                tables: &mentioned,
                streams,
                sources,
            })
            .await?;
            return Ok(StatementResult::Stream(query));
        }
        let skipped_before = self.skipped_total();
        let plan = state.statement_to_plan(statement.parsed).await?;
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
                self.forget_source(&replaced);
            }
            let skipped = self.skipped_total().saturating_sub(skipped_before);
            if skipped > 0 {
                message.push_str(&format!(" {skipped} malformed CSV rows were skipped."));
            }
            return Ok(StatementResult::Done { message });
        }
        let physical = state.create_physical_plan(&plan).await?;
        let task = planning.task.clone();
        self.planning.give_back(planning);
        progress.watch(physical.clone());
        let mut stream = datafusion::physical_plan::execute_stream(physical, task)?;
        let schema = stream.schema();
        let mut batches = Vec::new();
        let mut kept = 0;
        let mut total_rows = 0;
        while let Some(batch) = stream.next().await {
            let batch = match batch {
                Ok(batch) => batch,
                Err(error) => return Err(self.with_csv_location(error, &mentioned).await),
            };
            total_rows += batch.num_rows();
            if kept < max_rows {
                let take = batch.num_rows().min(max_rows - kept);
                kept += take;
                batches.push(batch.slice(0, take));
            }
        }
        Ok(StatementResult::Rows(RowSet {
            schema,
            batches,
            total_rows,
            skipped_rows: self.skipped_total().saturating_sub(skipped_before),
        }))
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
        if let (Some((file, line, _)), EngineError::Execution { message }) =
            (csv_locate::locate(sources).await, &mut error)
        {
            message.push_str(&format!(" The row is line {line} of {}.", file.display()));
        }
        error
    }

    /// `CREATE TABLE t (…) WITH ('connector' = …)`, Flink's DDL: DataFusion parses it but
    /// does not plan it, so the engine builds the table itself.
    fn create_connector_table(
        &self,
        create: &CreateTable,
        mut options: ConnectorOptions,
        flink: &FlinkParts,
    ) -> Result<StatementResult, EngineError> {
        let name = object_name_to_table_reference(create.name.clone(), true)?;
        if create.query.is_some() {
            return Err(EngineError::NotSupported {
                message: "CREATE TABLE … WITH (connector) AS SELECT is not supported; \
                          declare the columns"
                    .to_string(),
            });
        }
        if create.columns.is_empty() {
            return Err(EngineError::Plan {
                message: format!("table {name} declares no columns"),
                position: None,
                hint: Some(
                    "list the columns: CREATE TABLE t (id BIGINT, name STRING) WITH (…)".into(),
                ),
            });
        }
        if self.ctx.table_exist(name.clone())? {
            if create.if_not_exists {
                return Ok(StatementResult::Done {
                    message: format!("Table {name} exists; left as it is."),
                });
            }
            if !create.or_replace {
                return Err(EngineError::Plan {
                    message: format!("table {name} already exists"),
                    position: None,
                    hint: Some(format!(
                        "DROP TABLE {name} first, or use CREATE OR REPLACE TABLE"
                    )),
                });
            }
        }
        let fields = create
            .columns
            .iter()
            .map(|column| {
                let nullable = !column
                    .options
                    .iter()
                    .any(|o| matches!(o.option, ColumnOption::NotNull));
                Ok(Field::new(
                    normalize(&column.name),
                    arrow_type(&column.data_type)?,
                    nullable,
                ))
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        let schema = Arc::new(Schema::new(fields));
        let source = options.all().clone();
        let connector = options
            .get("connector")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let idle_timeout = options
            .get("scan.watermark.idle-timeout")
            .map(|v| connectors::parse_duration("scan.watermark.idle-timeout", &v))
            .transpose()?;
        let watermark = flink
            .watermark
            .as_ref()
            .map(|decl| WatermarkSpec::from_decl(&self.ctx, decl, &schema, idle_timeout))
            .transpose()?;
        if watermark.is_none() && idle_timeout.is_some() {
            return Err(connectors::bad_option(
                "scan.watermark.idle-timeout",
                "it applies to tables with a WATERMARK",
            ));
        }
        let table_name = name.table().to_string();
        let counted = match connector.as_str() {
            "datagen" => Some(CountedSource {
                factory: connectors::datagen::factory(&table_name, schema.clone(), &mut options)?,
                skipped: None,
            }),
            "socket" => Some(connectors::socket::source(
                &table_name,
                schema.clone(),
                &mut options,
            )?),
            "filesystem" if options.has("source.monitor-interval") => Some(
                connectors::file_monitor::source(&table_name, schema.clone(), &mut options)?,
            ),
            "filesystem" if options.has("source.replay-speed") => {
                let speed = options.get("source.replay-speed").unwrap_or_default();
                let Some(watermark) = &watermark else {
                    return Err(connectors::bad_option(
                        "source.replay-speed",
                        "a replay orders rows by event time: declare WATERMARK FOR ts AS ts",
                    ));
                };
                let file_table = connectors::filesystem::table(
                    &self.ctx,
                    name.table(),
                    schema.clone(),
                    &mut options,
                )?;
                Some(connectors::replay::source(
                    &table_name,
                    file_table.provider,
                    schema.clone(),
                    &watermark.column,
                    &speed,
                )?)
            }
            _ => None,
        };
        if let Some(CountedSource { factory, skipped }) = counted {
            self.ctx.deregister_table(name.clone())?;
            self.ctx.register_table(
                name.clone(),
                Arc::new(StreamPlaceholder {
                    name: name.to_string(),
                    schema: schema.clone(),
                }),
            )?;
            self.forget_source(&name);
            self.sources_mut().insert(name.to_string(), source);
            self.streams_mut().insert(
                name.to_string(),
                StreamTable {
                    schema,
                    watermark,
                    factory,
                    skipped,
                },
            );
            return Ok(StatementResult::Done {
                message: format!("Created stream table {name}."),
            });
        }
        if watermark.is_some() {
            return Err(EngineError::NotSupported {
                message: format!(
                    "a WATERMARK makes {name} an event-time stream, which this connector                      does not give"
                ),
            });
        }
        let table = match connector.as_str() {
            "filesystem" => {
                connectors::filesystem::table(&self.ctx, name.table(), schema, &mut options)?
            }
            other => {
                return Err(EngineError::NotSupported {
                    message: format!(
                        "connector '{other}' is not supported; the connectors are: \
                         filesystem, datagen, socket"
                    ),
                })
            }
        };
        self.forget_source(&name);
        self.ctx.deregister_table(name.clone())?;
        self.ctx.register_table(name.clone(), table.provider)?;
        self.sources_mut().insert(name.to_string(), source);
        if let Some(counter) = table.skipped {
            self.skipped_mut().insert(name.to_string(), counter);
        }
        Ok(StatementResult::Done {
            message: format!("Created table {name}."),
        })
    }

    /// A table made from CSV text with a header line (`%table NAME` with lines below),
    /// column types inferred from the values. Replaces a table of that name.
    pub fn create_table_from_csv(&self, name: &str, csv: &str) -> Result<usize, EngineError> {
        use datafusion::arrow::csv::reader::{Format, ReaderBuilder};
        use datafusion::datasource::MemTable;
        use std::io::Cursor;

        let name = TableReference::from(name);
        let format = Format::default().with_header(true);
        let (schema, _) = format.infer_schema(Cursor::new(csv.as_bytes()), None)?;
        let schema = Arc::new(schema);
        let reader = ReaderBuilder::new(schema.clone())
            .with_format(format)
            .build(Cursor::new(csv.as_bytes()))?;
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        let rows = batches.iter().map(|b| b.num_rows()).sum();
        let table = MemTable::try_new(schema, vec![batches])?;
        self.ctx.deregister_table(name.clone())?;
        self.ctx.register_table(name.clone(), Arc::new(table))?;
        self.forget_source(&name);
        Ok(rows)
    }

    /// `CACHE TABLE t`: reads t's rows into memory, within what the memory limit leaves,
    /// and answers later queries from there.
    async fn cache_table(
        &self,
        name: TableReference,
        with_query: bool,
    ) -> Result<StatementResult, EngineError> {
        if with_query {
            return Err(EngineError::NotSupported {
                message: "CACHE TABLE t AS SELECT … is not supported: CREATE TABLE t AS \
                          SELECT … keeps a query's rows in memory"
                    .to_string(),
            });
        }
        let key = name.to_string();
        if self.cached_read().contains_key(&key) {
            return Ok(StatementResult::Done {
                message: format!("Table {name} is already cached."),
            });
        }
        let source = self.ctx.table_provider(name.clone()).await?;
        let held: usize = self.cached_read().values().map(|c| c.bytes).sum();
        let budget = self.memory_limit.saturating_sub(held);
        let (table, rows, bytes) = cache::load(&self.ctx, &key, source.clone(), budget).await?;
        self.ctx.deregister_table(name.clone())?;
        self.ctx.register_table(name.clone(), Arc::new(table))?;
        self.cached_mut().insert(
            key,
            Cached {
                original: source,
                bytes,
            },
        );
        Ok(StatementResult::Done {
            message: format!(
                "Cached table {name}: {rows} rows, {:.1} MiB in memory.",
                bytes as f64 / (1 << 20) as f64
            ),
        })
    }

    /// `UNCACHE TABLE t`: frees the rows and reads t from its source again.
    fn uncache_table(
        &self,
        name: TableReference,
        if_exists: bool,
    ) -> Result<StatementResult, EngineError> {
        let Some(cached) = self.cached_mut().remove(&name.to_string()) else {
            if if_exists {
                return Ok(StatementResult::Done {
                    message: format!("Table {name} was not cached."),
                });
            }
            return Err(EngineError::Plan {
                message: format!("table {name} is not cached"),
                position: None,
                hint: Some(format!("CACHE TABLE {name} caches it")),
            });
        };
        self.ctx.deregister_table(name.clone())?;
        self.ctx.register_table(name.clone(), cached.original)?;
        Ok(StatementResult::Done {
            message: format!("Uncached table {name}."),
        })
    }

    /// Bytes a cached table holds in memory; `None` for a table that is not cached.
    pub fn cached_bytes(&self, name: &str) -> Option<usize> {
        self.cached_read().get(name).map(|c| c.bytes)
    }

    /// Malformed rows skipped by all tables so far; a statement's share is the difference.
    fn skipped_total(&self) -> u64 {
        self.skipped
            .read()
            .map(|all| all.values().map(|c| c.load(Ordering::Relaxed)).sum())
            .unwrap_or(0)
    }

    fn skipped_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<AtomicU64>>> {
        self.skipped
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cached_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Cached>> {
        self.cached
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cached_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Cached>> {
        self.cached
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sources_mut(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<String, BTreeMap<String, String>>> {
        self.sources
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn streams_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, StreamTable>> {
        self.streams
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn streams_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, StreamTable>> {
        self.streams
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a table's rows arrive over time (queries over it run continuously).
    pub fn is_stream(&self, name: &str) -> bool {
        self.streams_read().contains_key(name)
    }

    /// A table was dropped or replaced: its declared source and cached rows go with it.
    fn forget_source(&self, name: &TableReference) {
        self.streams_mut().remove(&name.to_string());
        self.sources_mut().remove(&name.to_string());
        self.cached_mut().remove(&name.to_string());
        self.skipped_mut().remove(&name.to_string());
    }

    /// The `WITH` options a table was declared with (empty for other tables).
    pub fn table_source(&self, name: &str) -> BTreeMap<String, String> {
        self.sources
            .read()
            .map(|sources| sources.get(name).cloned().unwrap_or_default())
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

/// Unquoted names are lower-cased, as DataFusion does for every other statement.
fn normalize(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// The table a statement drops or replaces, whose declared source no longer applies.
fn replaced_table(plan: &LogicalPlan) -> Option<TableReference> {
    match plan {
        LogicalPlan::Ddl(DdlStatement::DropTable(drop)) => Some(drop.name.clone()),
        LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(create)) => Some(create.name.clone()),
        LogicalPlan::Ddl(DdlStatement::CreateExternalTable(create)) => Some(create.name.clone()),
        LogicalPlan::Ddl(DdlStatement::CreateView(create)) => Some(create.name.clone()),
        _ => None,
    }
}

/// The acknowledgement for statements that change the catalog or session, `None` for
/// statements with rows to show.
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

/// The DataFusion session: its default functions and Flink's, and the time-grouping rule.
fn new_context(config: SessionConfig, runtime: Arc<RuntimeEnv>, faults: bool) -> SessionContext {
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    // Time grouping goes first: it must see `GROUP BY to_char(ts, …)` before the
    // single-distinct rewrite hides the expression under an alias of an inner grouping.
    let rules = std::iter::once(Arc::new(crate::time_grouping::GroupByTruncatedTime) as _)
        .chain(state.optimizers().iter().cloned())
        .collect();
    let state = SessionStateBuilder::new_from_existing(state)
        .with_optimizer_rules(rules)
        .build();
    let ctx = SessionContext::new_with_state(state);
    crate::functions::register_flink_functions(&ctx);
    if faults {
        for udf in crate::functions::fault::functions() {
            ctx.register_udf(udf);
        }
    }
    ctx
}
