//! Work the interpreter hands to the engine's runtime: a statement (with its progress line),
//! or a query the kernel writes itself around a name or an expression the user gave. An
//! interrupt aborts the work; a panic in it becomes the cell's error.

use super::error::CellError;
use super::progress::{self, ProgressLine};
use super::SqlInterpreter;
use crate::render;
use crate::server::Outputs;
use eddy_engine::arrow::util::display::ArrayFormatter;
use eddy_engine::{RowSet, StatementResult};
use serde_json::{json, Value};
use std::future::Future;
use tokio_util::sync::CancellationToken;

impl SqlInterpreter {
    /// Runs `work` on the engine runtime until it ends or `cancel` fires. A panic in the
    /// engine becomes an error for this cell, not the end of the kernel.
    pub(super) async fn on_engine<T: Send + 'static>(
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
    pub(super) async fn on_engine_with_progress<T: Send + 'static>(
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

    /// Runs one query the kernel writes around a name or expression the user gave (for
    /// `%table` and user expressions), on the engine runtime, keeping `max_rows`. Anything
    /// but exactly one query is refused: the user's part cannot add a statement.
    pub(super) async fn query(
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

    /// A user expression's value, or its error, as `user_expressions` reports them.
    pub(super) async fn evaluate(&self, expression: &str, cancel: &CancellationToken) -> Value {
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

/// The first value of a result, as text.
pub(super) fn first_value(rows: &RowSet) -> String {
    let Some(batch) = rows.batches.first().filter(|b| b.num_rows() > 0) else {
        return "NULL".to_string();
    };
    let options = Default::default();
    ArrayFormatter::try_new(batch.column(0).as_ref(), &options)
        .map(|f| f.value(0).to_string())
        .unwrap_or_default()
}

/// Why an engine task ended without its result: a panic in the engine or a library it uses
/// (the statement's error, not the kernel's end), or the runtime shutting down.
fn engine_task_failed(error: tokio::task::JoinError) -> CellError {
    match error.try_into_panic() {
        Ok(payload) => CellError::panicked("running a statement", payload.as_ref()),
        Err(error) => CellError::Internal(error.to_string()),
    }
}
