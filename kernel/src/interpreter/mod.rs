//! The interpreter: what each request means for SQL. The channels (shell.rs) deal with
//! messages; this file deals with cells, in the spirit of xeus's `xinterpreter`.

use crate::cell::{self, Magic, MAGICS};
use crate::complete;
use crate::error::CellError;
use crate::history::History;
use crate::iopub::Iopub;
use crate::jobs::Jobs;
use crate::live::{self, Ended, FigureReport, LiveMode, LiveOutput, LiveState, LiveView};
use crate::params::Parameters;
use crate::progress::{self, ProgressLine};
use crate::protocol::{HistoryRequest, MimeBundle};
use crate::render::chart::{chart_bundle, ChartKind, ChartOptions, MAX_CHART_ROWS};
use crate::render::{self, sql_type_name, TableDisplay};
use crate::sql_args::{self, SqlArgs, SqlLine};
use crate::wire::Message;
use eddy_engine::arrow::array::{ArrayRef, RecordBatch, StringArray};
use eddy_engine::arrow::datatypes::{DataType, Field, Schema};
use eddy_engine::arrow::util::display::ArrayFormatter;
use eddy_engine::{
    Completeness, ContinuousQuery, Engine, FunctionInfo, ObjectInfo, RowSet, ScanProgress,
    StatementResult,
};
use serde_json::{json, Map, Value};
use std::future::Future;
use std::sync::Arc;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// Rows `%table` shows of a table.
const PREVIEW_ROWS: usize = 10;

/// Where a cell's outputs go: IOPub, under the request that ran the cell.
pub struct Outputs<'a> {
    iopub: &'a Iopub,
    parent: &'a Message,
    execution_count: u64,
    silent: bool,
}

impl<'a> Outputs<'a> {
    pub fn new(iopub: &'a Iopub, parent: &'a Message, execution_count: u64, silent: bool) -> Self {
        Outputs {
            iopub,
            parent,
            execution_count,
            silent,
        }
    }

    /// An output of the cell that is not its final result.
    pub fn display(&self, data: MimeBundle) {
        self.publish_display("display_data", json!({}), data);
    }

    /// An output that later updates replace in place (`transient.display_id`).
    pub fn display_with_id(&self, display_id: &str, data: MimeBundle) {
        let transient = json!({ "display_id": display_id });
        self.publish_display("display_data", transient, data);
    }

    /// Replaces every output shown under `display_id`.
    pub fn update(&self, display_id: &str, data: MimeBundle) {
        let transient = json!({ "display_id": display_id });
        self.publish_display("update_display_data", transient, data);
    }

    fn publish_display(&self, msg_type: &str, transient: Value, data: MimeBundle) {
        if !self.silent {
            let content = json!({ "data": data, "metadata": {}, "transient": transient });
            self.iopub.publish(self.parent, msg_type, content);
        }
    }

    /// The cell's result, numbered like the cell.
    pub fn result(&self, data: MimeBundle) {
        if !self.silent {
            let content = json!({
                "execution_count": self.execution_count,
                "data": data,
                "metadata": {},
            });
            self.iopub.publish(self.parent, "execute_result", content);
        }
    }
}

impl LiveOutput for Outputs<'_> {
    fn show(&self, display_id: &str, bundle: MimeBundle) {
        self.display_with_id(display_id, bundle);
    }

    fn replace(&self, display_id: &str, bundle: MimeBundle) {
        self.update(display_id, bundle);
    }
}

impl Outputs<'_> {
    /// Outputs that outlive the request: a background query's display updates.
    fn detach(&self) -> DetachedOutputs {
        DetachedOutputs {
            iopub: self.iopub.clone(),
            parent: self.parent.clone(),
            silent: self.silent,
        }
    }
}

/// A cell's display, kept by a background query after the cell has finished.
struct DetachedOutputs {
    iopub: Iopub,
    parent: Message,
    silent: bool,
}

impl LiveOutput for DetachedOutputs {
    fn show(&self, display_id: &str, bundle: MimeBundle) {
        self.replace_or_show("display_data", display_id, bundle);
    }

    fn replace(&self, display_id: &str, bundle: MimeBundle) {
        self.replace_or_show("update_display_data", display_id, bundle);
    }
}

impl DetachedOutputs {
    fn replace_or_show(&self, msg_type: &str, display_id: &str, bundle: MimeBundle) {
        if !self.silent {
            let content = json!({
                "data": bundle,
                "metadata": {},
                "transient": { "display_id": display_id },
            });
            self.iopub.publish(&self.parent, msg_type, content);
        }
    }
}

/// A background job's figures, for `%jobs`.
struct JobReport {
    jobs: Jobs,
    id: u32,
}

impl FigureReport for JobReport {
    fn report(&self, figures: eddy_engine::StreamFigures, state: LiveState) {
        self.jobs.report(self.id, figures, state);
    }
}

/// Redraws of a live display when the cell does not say (`--refresh`).
const DEFAULT_REFRESH: std::time::Duration = std::time::Duration::from_millis(500);

impl Drop for Interpreter {
    /// Shutdown stops every background query.
    fn drop(&mut self) {
        self.jobs.cancel_all();
    }
}

pub struct Interpreter {
    engine: Engine,
    jobs: Jobs,
    parameters: Parameters,
    /// Queries run here, apart from the runtime that serves the sockets, so that a busy
    /// query never delays control or heartbeat.
    engine_runtime: Handle,
    history: History,
    display: TableDisplay,
}

impl Interpreter {
    pub fn new(engine: Engine, engine_runtime: Handle, history: History) -> Self {
        Interpreter {
            engine,
            jobs: Jobs::default(),
            parameters: Parameters::default(),
            engine_runtime,
            history,
            display: TableDisplay::default(),
        }
    }

    pub async fn execute(
        &mut self,
        code: &str,
        out: &Outputs<'_>,
        cancel: &CancellationToken,
    ) -> Result<(), CellError> {
        let cell = cell::parse(code)?;
        match cell.magic {
            Magic::Sql => {
                let args = match sql_args::parse(cell.args)? {
                    SqlLine::Run(args) => args,
                    SqlLine::Help(help) => {
                        out.display(render::plain(help));
                        return Ok(());
                    }
                };
                // Checked before anything runs, whatever the statements turn out to be.
                for text in [&args.refresh, &args.duration].into_iter().flatten() {
                    live::parse_duration(text).map_err(|message| CellError::Usage {
                        magic: "%sql",
                        message,
                    })?;
                }
                let sql = self.parameters.bind_sql(cell.body)?;
                self.run_sql(&sql, cell.body_line_offset, &args, out, cancel)
                    .await
            }
            Magic::Markdown => {
                // Prose is not a computed result: it carries no `Out[n]` (as IPython's
                // display(Markdown(…))). `%md # Title` on one line is Markdown too.
                let source = match (cell.args, cell.body) {
                    ("", body) => body.to_string(),
                    (line, "") => line.to_string(),
                    (line, body) => format!("{line}\n{body}"),
                };
                let source = self.parameters.fill_text(&source)?;
                out.display(render::markdown(&source));
                Ok(())
            }
            Magic::Table => self.show_table(cell.args, cell.body, out, cancel).await,
            Magic::Set => {
                let text = match cell.args {
                    "" => self.parameters.listing(),
                    assignment => {
                        let (name, value) = self.parameters.set(assignment)?;
                        format!("{name} = {value}")
                    }
                };
                out.display(render::plain(text));
                Ok(())
            }
            Magic::Config => {
                if !cell.args.is_empty() {
                    self.configure(cell.args)?;
                }
                out.display(render::plain(self.settings()));
                Ok(())
            }
            Magic::ListMagics => {
                out.result(magics_bundle());
                Ok(())
            }
            Magic::Jobs => {
                out.display(render::plain(self.jobs.listing()));
                Ok(())
            }
            Magic::Cancel => {
                let which = if cell.args.is_empty() {
                    cell.body.trim()
                } else {
                    cell.args
                };
                let cancelled = self
                    .jobs
                    .cancel(which)
                    .map_err(|message| CellError::Usage {
                        magic: "%cancel",
                        message,
                    })?;
                let text = match cancelled.as_slice() {
                    [] => "No background query was running.".to_string(),
                    ids => format!(
                        "Cancelled {}.",
                        ids.iter()
                            .map(|id| format!("job {id}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                out.display(render::plain(text));
                Ok(())
            }
        }
    }

    /// Runs each statement of the cell in turn and shows each result; the last one is the
    /// cell's result.
    async fn run_sql(
        &self,
        sql: &str,
        line_offset: usize,
        args: &SqlArgs,
        out: &Outputs<'_>,
        cancel: &CancellationToken,
    ) -> Result<(), CellError> {
        let statements = self
            .engine
            .parse(sql)
            .map_err(|e| CellError::sql(e, sql, line_offset))?;
        let count = statements.len();
        for (index, statement) in statements.into_iter().enumerate() {
            let engine = self.engine.clone();
            let chart = chart_options(args)?;
            let max_rows = match chart {
                Some(_) => MAX_CHART_ROWS,
                None => args.max_rows.unwrap_or(self.display.max_rows),
            };
            let scan = ScanProgress::default();
            let mut progress = ProgressLine::new(index, count, scan.clone());
            // Kept to name the statement should the engine panic while running it.
            let running = statement.clone();
            let result = self
                .on_engine_with_progress(
                    async move { engine.run_observed(statement, max_rows, scan).await },
                    cancel,
                    &mut progress,
                    out,
                )
                .await
                .map_err(|e| e.while_running(&running))?
                .map_err(|e| CellError::sql(e, sql, line_offset))?;
            let last = index + 1 == count;
            let result = match result {
                StatementResult::Stream(query) => {
                    if let Some(line) = progress.display_id() {
                        out.update(line, render::plain("started a continuous query"));
                    }
                    self.run_stream(query, sql, line_offset, args, chart, out, cancel)
                        .await?;
                    continue;
                }
                other => other,
            };
            let bundle = match (&result, chart) {
                // The chart is of the cell's last result; earlier results are tables.
                (StatementResult::Rows(rows), Some(options)) if last => {
                    chart_bundle(rows, &options).map_err(CellError::Chart)?
                }
                (StatementResult::Rows(rows), _) => render::rows_bundle(rows),
                (StatementResult::Done { message }, _) => render::plain(message.as_str()),
                (StatementResult::Stream(_), _) => unreachable!("streams are shown above"),
            };
            if let Some(line) = progress.display_id() {
                // The result takes the place of its progress line.
                out.update(line, bundle);
            } else if last {
                out.result(bundle);
            } else {
                out.display(bundle);
            }
        }
        Ok(())
    }

    /// Shows a continuous query live until it ends, is interrupted or its `--duration`
    /// passes; with `--background`, hands it to a job and returns at once.
    #[allow(clippy::too_many_arguments)]
    async fn run_stream(
        &self,
        mut query: ContinuousQuery,
        sql: &str,
        line_offset: usize,
        args: &SqlArgs,
        chart: Option<ChartOptions>,
        out: &Outputs<'_>,
        cancel: &CancellationToken,
    ) -> Result<(), CellError> {
        let usage = |message: String| CellError::Usage {
            magic: "%sql",
            message,
        };
        let mode = match &args.mode {
            Some(mode) => mode.parse::<LiveMode>().map_err(usage)?,
            None => LiveView::default_mode(query.kind()),
        };
        let refresh = match &args.refresh {
            Some(text) => live::parse_duration(text).map_err(usage)?,
            None => DEFAULT_REFRESH,
        };
        let duration = match &args.duration {
            Some(text) => Some(live::parse_duration(text).map_err(usage)?),
            None => None,
        };
        let max_rows = match chart {
            Some(_) => MAX_CHART_ROWS,
            None => args.max_rows.unwrap_or(self.display.max_rows),
        };
        let mut view = LiveView::new(mode, query.kind().clone(), query.schema(), max_rows, chart);
        let display_id = format!("eddy-live-{}", uuid::Uuid::new_v4());
        let deadline = duration.map(|d| tokio::time::Instant::now() + d);
        if args.background {
            let jobs = self.jobs.clone();
            let id = jobs.add(sql, query.canceller(), query.figures());
            let detached = out.detach();
            out.display(render::plain(format!(
                "Started job {id}: it runs in the background (%jobs lists it, %cancel {id} stops it)."
            )));
            tokio::spawn(async move {
                let report = JobReport { jobs, id };
                // Only %cancel (or shutdown) stops a background query, not an interrupt.
                let never = CancellationToken::new();
                live::drive(
                    &mut query,
                    &mut view,
                    &detached,
                    &display_id,
                    refresh,
                    deadline,
                    &never,
                    &report,
                )
                .await;
            });
            return Ok(());
        }
        match live::drive(
            &mut query,
            &mut view,
            out,
            &display_id,
            refresh,
            deadline,
            cancel,
            &(),
        )
        .await
        {
            Ended::Finished | Ended::TimedOut => Ok(()),
            Ended::Cancelled => Err(CellError::Interrupted),
            Ended::Failed(error) => Err(CellError::sql(error, sql, line_offset)),
        }
    }

    /// Runs `work` on the engine runtime until it ends or `cancel` fires. A panic in the
    /// engine becomes an error for this cell, not the end of the kernel.
    async fn on_engine<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
        cancel: &CancellationToken,
    ) -> Result<T, CellError> {
        let mut task = self.engine_runtime.spawn(work);
        tokio::select! {
            joined = &mut task => joined.map_err(engine_task_failed),
            _ = cancel.cancelled() => {
                task.abort();
                Err(CellError::Interrupted)
            }
        }
    }

    /// `on_engine`, showing a progress line once the work has run for the configured
    /// delay. An interrupt leaves the line saying how long the statement had run.
    async fn on_engine_with_progress<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
        cancel: &CancellationToken,
        progress: &mut ProgressLine,
        out: &Outputs<'_>,
    ) -> Result<T, CellError> {
        let mut task = self.engine_runtime.spawn(work);
        let mut first = tokio::time::Instant::now() + self.display.progress_after;
        if self.display.progress_after.is_zero() {
            // Shown before anything else happens: a timer due "now" may fire after a quick
            // statement has already finished.
            progress.tick(out);
            first += progress::REFRESH;
        }
        let mut ticks = tokio::time::interval_at(first, progress::REFRESH);
        loop {
            tokio::select! {
                // In this order: an interrupt wins, and a due progress line is shown even if
                // the work finished meanwhile (its result then replaces the line).
                biased;
                _ = cancel.cancelled() => {
                    task.abort();
                    if let Some(line) = progress.display_id() {
                        let text = format!(
                            "interrupted after {:.1} s",
                            progress.elapsed().as_secs_f64()
                        );
                        out.update(line, render::plain(text));
                    }
                    return Err(CellError::Interrupted);
                }
                _ = ticks.tick() => progress.tick(out),
                joined = &mut task => {
                    return joined.map_err(engine_task_failed);
                }
            }
        }
    }

    /// `%table NAME`: where the table's data comes from (with CSV lines below, the cell
    /// first makes the table from them), how many rows it has, its schema
    /// and its first rows.
    async fn show_table(
        &self,
        args: &str,
        body: &str,
        out: &Outputs<'_>,
        cancel: &CancellationToken,
    ) -> Result<(), CellError> {
        let (name, options) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        if name.is_empty() {
            return Err(CellError::Usage {
                magic: "%table",
                message: "name a table: %table NAME [--chart KIND --x COL --y COL]".to_string(),
            });
        }
        let chart = match sql_args::parse(options)? {
            SqlLine::Run(args) => chart_options(&args)?,
            SqlLine::Help(help) => {
                out.display(render::plain(help));
                return Ok(());
            }
        };
        if !body.trim().is_empty() {
            // CSV lines below the magic: the cell defines the table.
            self.engine
                .create_table_from_csv(name, body.trim())
                .map_err(|e| CellError::sql(e, body, 1))?;
        }
        let Some(ObjectInfo::Table(table)) = self.engine.describe(name).await else {
            return Err(CellError::UnknownTable {
                name: name.to_string(),
            });
        };
        let source = self.engine.table_source(&table.name);
        if self.engine.is_stream(&table.name) {
            // A stream has no row count and no "first rows": show what it is and how to
            // watch it.
            let count = "a stream (rows arrive over time)";
            out.display(render::table_summary(&table.name, &source, count, None));
            out.result(render::rows_bundle(&schema_rows(&table.schema)));
            return Ok(());
        }
        let count = self
            .query(&format!("SELECT count(*) FROM {name}"), 1, cancel)
            .await?;
        let count = first_value(&count);
        let cached = self.engine.cached_bytes(&table.name);
        out.display(render::table_summary(&table.name, &source, &count, cached));
        out.display(render::rows_bundle(&schema_rows(&table.schema)));
        match chart {
            Some(options) => {
                let rows = self
                    .query(&format!("SELECT * FROM {name}"), MAX_CHART_ROWS, cancel)
                    .await?;
                out.result(chart_bundle(&rows, &options).map_err(CellError::Chart)?);
            }
            None => {
                let preview = self
                    .query(&format!("SELECT * FROM {name}"), PREVIEW_ROWS, cancel)
                    .await?;
                out.result(render::rows_bundle(&preview));
            }
        }
        Ok(())
    }

    /// Runs one query the kernel writes around a name or expression the user gave (for
    /// `%table` and user expressions), on the engine runtime, keeping `max_rows`. Anything
    /// but exactly one query is refused: the user's part cannot add a statement.
    async fn query(
        &self,
        sql: &str,
        max_rows: usize,
        cancel: &CancellationToken,
    ) -> Result<RowSet, CellError> {
        let mut statements = self
            .engine
            .parse(sql)
            .map_err(|e| CellError::sql(e, sql, 0))?;
        let (Some(statement), None) = (statements.pop(), statements.pop()) else {
            return Err(CellError::Usage {
                magic: "expression",
                message: format!("'{sql}' must be exactly one query"),
            });
        };
        let engine = self.engine.clone();
        let result = self
            .on_engine(async move { engine.run(statement, max_rows).await }, cancel)
            .await?
            .map_err(|e| CellError::sql(e, sql, 0))?;
        match result {
            StatementResult::Rows(rows) => Ok(rows),
            StatementResult::Done { .. } => Err(CellError::Usage {
                magic: "expression",
                message: format!("'{sql}' gives no rows"),
            }),
            StatementResult::Stream(_) => Err(CellError::Usage {
                magic: "expression",
                message: format!("'{sql}' reads a stream, whose rows never end"),
            }),
        }
    }

    /// `%config name=value`.
    fn configure(&mut self, assignment: &str) -> Result<(), CellError> {
        let usage = |message: String| CellError::Usage {
            magic: "%config",
            message,
        };
        let (name, value) = assignment
            .split_once('=')
            .ok_or_else(|| usage("write %config name=value, e.g. %config max_rows=50".into()))?;
        match name.trim() {
            "max_rows" => {
                self.display.max_rows = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| usage("max_rows is a whole number above 0".into()))?;
                Ok(())
            }
            "progress_after_ms" => {
                let millis: u64 = value.trim().parse().map_err(|_| {
                    usage("progress_after_ms is a whole number of milliseconds".into())
                })?;
                self.display.progress_after = std::time::Duration::from_millis(millis);
                Ok(())
            }
            other => Err(usage(format!(
                "{other} is not a setting; the settings are: max_rows, progress_after_ms"
            ))),
        }
    }

    fn settings(&self) -> String {
        format!(
            "max_rows = {}    (rows shown of a result; the rest are counted)\n\
             progress_after_ms = {}    (a statement running longer shows a progress line)\n\
             memory_limit = {}    (for queries; set EDDY_MEMORY_LIMIT before the kernel starts)",
            self.display.max_rows,
            self.display.progress_after.as_millis(),
            bytesize::ByteSize::b(self.engine.memory_limit() as u64)
                .display()
                .iec(),
        )
    }

    pub async fn complete(&self, code: &str, cursor: usize) -> Value {
        let vocabulary = self.engine.vocabulary().await;
        complete::complete(code, cursor, &vocabulary)
    }

    pub async fn inspect(&self, code: &str, cursor: usize, _detail_level: u8) -> Value {
        let word = complete::word_around(code, cursor);
        let found = if word.is_empty() {
            None
        } else {
            self.engine.describe(&word).await
        };
        let data = match found {
            Some(ObjectInfo::Table(table)) => {
                let mut bundle = render::rows_bundle(&schema_rows(&table.schema));
                let text = bundle
                    .get("text/plain")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let text = format!("table {}\n{text}", table.name);
                bundle.insert("text/plain".into(), json!(text));
                bundle
            }
            Some(ObjectInfo::Function(function)) => render::markdown(&function_doc(&function)),
            None => MimeBundle::new(),
        };
        json!({
            "status": "ok",
            "found": !data.is_empty(),
            "data": data,
            "metadata": {},
        })
    }

    pub fn is_complete(&self, code: &str) -> Value {
        let sql = match cell::parse(code) {
            Ok(cell) if cell.magic == Magic::Sql => cell.body,
            Ok(_) => return json!({ "status": "complete" }),
            Err(_) => return json!({ "status": "invalid" }),
        };
        match self.engine.completeness(sql) {
            Completeness::Complete => json!({ "status": "complete" }),
            Completeness::Incomplete => json!({ "status": "incomplete", "indent": "" }),
            Completeness::Invalid => json!({ "status": "invalid" }),
        }
    }

    pub fn history(&self, request: &HistoryRequest) -> Value {
        self.history.reply(request)
    }

    pub fn remember(&mut self, line: u64, code: &str) {
        self.history.record(line, code);
    }

    /// Evaluates each user expression as `SELECT <expression>`.
    pub async fn user_expressions(
        &self,
        expressions: &Map<String, Value>,
        cancel: &CancellationToken,
    ) -> Value {
        let mut results = Map::new();
        for (name, expression) in expressions {
            let expression = expression.as_str().unwrap_or_default();
            results.insert(name.clone(), self.evaluate(expression, cancel).await);
        }
        Value::Object(results)
    }

    async fn evaluate(&self, expression: &str, cancel: &CancellationToken) -> Value {
        match self.query(&format!("SELECT {expression}"), 1, cancel).await {
            Ok(rows) => {
                json!({ "status": "ok", "data": render::plain(first_value(&rows)), "metadata": {} })
            }
            Err(error) => {
                let mut value = json!(error.to_content());
                value["status"] = json!("error");
                value
            }
        }
    }
}

/// The chart a `%sql` or `%table` line asks for: `--chart KIND`, or any of the chart
/// options alone (which means `--chart auto`).
fn chart_options(args: &SqlArgs) -> Result<Option<ChartOptions>, CellError> {
    let wants_chart = args.chart.is_some()
        || args.x.is_some()
        || args.y.is_some()
        || args.color.is_some()
        || args.title.is_some();
    if !wants_chart {
        return Ok(None);
    }
    let kind = match &args.chart {
        Some(kind) => kind.parse::<ChartKind>().map_err(CellError::Chart)?,
        None => ChartKind::Auto,
    };
    Ok(Some(ChartOptions {
        kind,
        x: args.x.clone(),
        y: args.y.clone(),
        color: args.color.clone(),
        title: args.title.clone(),
    }))
}

fn first_value(rows: &RowSet) -> String {
    let Some(batch) = rows.batches.first().filter(|b| b.num_rows() > 0) else {
        return "NULL".to_string();
    };
    let options = Default::default();
    ArrayFormatter::try_new(batch.column(0).as_ref(), &options)
        .map(|f| f.value(0).to_string())
        .unwrap_or_default()
}

/// A table's schema as rows of (column, type, nullable), shown like any result.
fn schema_rows(schema: &Schema) -> RowSet {
    let text_column = |values: Vec<String>| Arc::new(StringArray::from(values)) as ArrayRef;
    let columns: Vec<ArrayRef> = vec![
        text_column(schema.fields().iter().map(|f| f.name().clone()).collect()),
        text_column(
            schema
                .fields()
                .iter()
                .map(|f| sql_type_name(f.data_type()))
                .collect(),
        ),
        text_column(
            schema
                .fields()
                .iter()
                .map(|f| if f.is_nullable() { "YES" } else { "NO" }.to_string())
                .collect(),
        ),
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("column", DataType::Utf8, false),
        Field::new("type", DataType::Utf8, false),
        Field::new("nullable", DataType::Utf8, false),
    ]));
    let total_rows = columns[0].len();
    let batches = RecordBatch::try_new(schema.clone(), columns)
        .map(|b| vec![b])
        .unwrap_or_default();
    RowSet {
        schema,
        batches,
        total_rows,
        skipped_rows: 0,
    }
}

fn function_doc(function: &FunctionInfo) -> String {
    let mut doc = format!("**{}** — {}\n\n", function.name, function.kind);
    if let Some(syntax) = &function.syntax {
        doc.push_str(&format!("```sql\n{syntax}\n```\n\n"));
    }
    if let Some(description) = &function.description {
        doc.push_str(description.trim());
        doc.push_str("\n\n");
    }
    for (argument, meaning) in &function.arguments {
        doc.push_str(&format!("- `{argument}`: {}\n", meaning.trim()));
    }
    if let Some(example) = &function.example {
        doc.push_str(&format!("\n{}\n", example.trim()));
    }
    doc
}

fn magics_bundle() -> MimeBundle {
    let text: Vec<String> = MAGICS
        .iter()
        .map(|(name, what)| format!("{name:<10} {what}"))
        .collect();
    let mut bundle = render::plain(text.join("\n"));
    let mut markdown = String::from("| magic | what it does |\n|---|---|\n");
    for (name, what) in MAGICS {
        markdown.push_str(&format!("| `{name}` | {what} |\n"));
    }
    bundle.insert("text/markdown".into(), json!(markdown));
    bundle
}

/// Why an engine task ended without its result: a panic in the engine or a library it uses
/// (the statement's error, not the kernel's end), or the runtime shutting down.
fn engine_task_failed(error: tokio::task::JoinError) -> CellError {
    match error.try_into_panic() {
        Ok(payload) => CellError::panicked("running a statement", payload.as_ref()),
        Err(error) => CellError::Internal(error.to_string()),
    }
}
