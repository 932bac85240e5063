//! `%sql` (and a cell without a magic): runs each statement of the cell in turn and shows
//! each result, the last as the cell's result. A query over a stream is shown live until it
//! ends, is interrupted or its `--duration` passes; with `--background` it becomes a job.

use crate::interpreter::cell::Cell;
use crate::interpreter::error::CellError;
use crate::interpreter::jobs::Jobs;
use crate::interpreter::live::{self, Ended, FigureReport, LiveState, LiveView};
use crate::interpreter::progress::ProgressLine;
use crate::interpreter::sql_args::{self, SqlArgs, SqlLine};
use crate::interpreter::SqlInterpreter;
use crate::render;
use crate::render::chart::{chart_bundle, ChartKind, ChartOptions, MAX_CHART_ROWS};
use crate::server::Outputs;
use eddy_engine::{ContinuousQuery, ScanProgress, StatementResult};
use tokio_util::sync::CancellationToken;

/// Redraws of a live display when the cell does not say (`--refresh`).
const DEFAULT_REFRESH: std::time::Duration = std::time::Duration::from_millis(500);

pub(super) async fn run(
    interpreter: &SqlInterpreter,
    cell: &Cell<'_>,
    out: &Outputs<'_>,
    cancel: &CancellationToken,
) -> Result<(), CellError> {
    let args = match sql_args::parse(cell.args)? {
        SqlLine::Run(args) => args,
        SqlLine::Help(help) => {
            out.display(render::plain(help));
            return Ok(());
        }
    };
    let sql = interpreter.parameters.bind_sql(cell.body)?;
    run_sql(interpreter, &sql, cell.body_line_offset, &args, out, cancel).await
}

/// Runs each statement of the cell in turn and shows each result; the last one is the
/// cell's result.
async fn run_sql(
    interpreter: &SqlInterpreter,
    sql: &str,
    line_offset: usize,
    args: &SqlArgs,
    out: &Outputs<'_>,
    cancel: &CancellationToken,
) -> Result<(), CellError> {
    let statements = match interpreter.engine.on_flink() {
        // Flink parses what it runs: the cell is only cut into statements here.
        true => eddy_engine::split_statements(sql)
            .into_iter()
            .map(Work::Flink)
            .collect::<Vec<_>>(),
        false => interpreter
            .engine
            .parse(sql)
            .map_err(|e| CellError::sql(e, sql, line_offset))?
            .into_iter()
            .map(|statement| Work::Here(Box::new(statement)))
            .collect(),
    };
    let count = statements.len();
    for (index, statement) in statements.into_iter().enumerate() {
        let engine = interpreter.engine.clone();
        let chart = chart_options(args);
        let max_rows = match chart {
            Some(_) => MAX_CHART_ROWS,
            None => args.max_rows.unwrap_or(interpreter.display.max_rows),
        };
        let scan = ScanProgress::default();
        let mut progress = ProgressLine::new(index, count, scan.clone());
        // Kept to name the statement should the engine panic while running it.
        let running = statement.to_string();
        let result = interpreter
            .on_engine_with_progress(
                async move {
                    match statement {
                        Work::Here(statement) => {
                            engine.run_observed(*statement, max_rows, scan).await
                        }
                        Work::Flink(statement) => {
                            engine.run_on_flink(&statement.text, max_rows).await
                        }
                    }
                },
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
                run_stream(
                    interpreter,
                    query,
                    sql,
                    line_offset,
                    args,
                    chart,
                    out,
                    cancel,
                )
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

/// One statement of a cell, and where it runs.
enum Work {
    /// In this kernel, parsed by Eddy (boxed: a parsed statement is large).
    Here(Box<eddy_engine::Statement>),
    /// On the Flink SQL Gateway the session is connected to, as written.
    Flink(eddy_engine::FlinkStatement),
}

impl std::fmt::Display for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Work::Here(statement) => statement.fmt(f),
            Work::Flink(statement) => f.write_str(&statement.text),
        }
    }
}

/// Shows a continuous query live until it ends, is interrupted or its `--duration`
/// passes; with `--background`, hands it to a job and returns at once.
#[allow(clippy::too_many_arguments)]
async fn run_stream(
    interpreter: &SqlInterpreter,
    mut query: ContinuousQuery,
    sql: &str,
    line_offset: usize,
    args: &SqlArgs,
    chart: Option<ChartOptions>,
    out: &Outputs<'_>,
    cancel: &CancellationToken,
) -> Result<(), CellError> {
    let mode = args
        .mode
        .unwrap_or_else(|| LiveView::default_mode(query.kind()));
    let refresh = args.refresh.unwrap_or(DEFAULT_REFRESH);
    let max_rows = match chart {
        Some(_) => MAX_CHART_ROWS,
        None => args.max_rows.unwrap_or(interpreter.display.max_rows),
    };
    let mut view = LiveView::new(mode, query.kind().clone(), query.schema(), max_rows, chart);
    let display_id = format!("eddy-live-{}", uuid::Uuid::new_v4());
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    if args.background {
        let jobs = interpreter.jobs.clone();
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

/// The chart a `%sql` or `%table` line asks for: `--chart KIND`, or any of the chart
/// options alone (which means `--chart auto`).
pub(super) fn chart_options(args: &SqlArgs) -> Option<ChartOptions> {
    let wants_chart = args.chart.is_some()
        || args.x.is_some()
        || args.y.is_some()
        || args.color.is_some()
        || args.title.is_some();
    wants_chart.then(|| ChartOptions {
        kind: args.chart.unwrap_or(ChartKind::Auto),
        x: args.x.clone(),
        y: args.y.clone(),
        color: args.color.clone(),
        title: args.title.clone(),
    })
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
