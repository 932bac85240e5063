//! The SQL interpreter: what a cell means. The protocol core (`server/`) deals with
//! messages; this module deals with cells, as xeus's `xinterpreter` does. Each magic is one
//! file of `magics/`.

pub mod cell;
pub mod complete;
mod engine_work;
pub mod error;
mod inspect;
pub mod jobs;
pub mod live;
pub mod magic;
mod magics;
pub mod params;
pub mod progress;
pub mod sql_args;

use crate::render::TableDisplay;
use crate::server::protocol::ErrorContent;
use crate::server::{Interpreter, Outputs};
use eddy_engine::{Completeness, Engine};
use error::CellError;
use jobs::Jobs;
use magic::Magic;
use params::Parameters;
use serde_json::{json, Map, Value};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// Eddy's interpreter: one engine session, with the parameters, settings and background
/// queries of the notebook.
pub struct SqlInterpreter {
    engine: Engine,
    jobs: Jobs,
    parameters: Parameters,
    /// Queries run here, apart from the runtime that serves the sockets, so that a busy
    /// query never delays control or heartbeat.
    engine_runtime: Handle,
    display: TableDisplay,
}

impl Drop for SqlInterpreter {
    /// Shutdown stops every background query.
    fn drop(&mut self) {
        self.jobs.cancel_all();
    }
}

impl SqlInterpreter {
    pub fn new(engine: Engine, engine_runtime: Handle) -> Self {
        SqlInterpreter {
            engine,
            jobs: Jobs::default(),
            parameters: Parameters::default(),
            engine_runtime,
            display: TableDisplay::default(),
        }
    }

    /// Runs a cell: its first line picks the magic that runs it.
    pub async fn run_cell(
        &mut self,
        code: &str,
        out: &Outputs<'_>,
        cancel: &CancellationToken,
    ) -> Result<(), CellError> {
        let cell = cell::parse(code)?;
        magics::run(self, cell, out, cancel).await
    }
}

impl Interpreter for SqlInterpreter {
    async fn execute(
        &mut self,
        code: &str,
        out: &Outputs<'_>,
        cancel: &CancellationToken,
    ) -> Result<(), ErrorContent> {
        self.run_cell(code, out, cancel)
            .await
            .map_err(|error| error.to_content())
    }

    /// Evaluates each user expression as `SELECT <expression>`.
    async fn user_expressions(
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

    async fn complete(&self, code: &str, cursor: usize) -> Value {
        let vocabulary = self.engine.vocabulary().await;
        complete::complete(code, cursor, &vocabulary)
    }

    async fn inspect(&self, code: &str, cursor: usize, detail_level: u8) -> Value {
        inspect::inspect(&self.engine, code, cursor, detail_level).await
    }

    fn is_complete(&self, code: &str) -> Value {
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
}
