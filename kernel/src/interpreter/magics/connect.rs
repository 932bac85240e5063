//! `%connect`: what follows runs elsewhere. `df://HOST:PORT` sends the batch queries to a
//! Ballista cluster (a scheduler started with `eddy cluster scheduler`); tables stay declared
//! in this kernel and the cluster's executors read their files, so their paths must be
//! readable there too. `flink://HOST:PORT` sends every statement, as written, to a Flink SQL
//! Gateway: Flink keeps the tables declared through it, and runs the queries as jobs whose
//! results are shown live here.

use crate::interpreter::cell::Cell;
use crate::interpreter::error::CellError;
use crate::interpreter::SqlInterpreter;
use crate::render;
use crate::server::Outputs;
use eddy_engine::Connected;
use tokio_util::sync::CancellationToken;

pub(super) async fn run(
    interpreter: &SqlInterpreter,
    cell: &Cell<'_>,
    out: &Outputs<'_>,
    cancel: &CancellationToken,
) -> Result<(), CellError> {
    let usage = |message: String| CellError::Usage {
        magic: "%connect",
        message,
    };
    let address = match (cell.args.trim(), cell.body.trim()) {
        ("", body) => body,
        (args, _) => args,
    }
    .to_string();
    if address.is_empty() {
        return Err(usage(
            "say where: %connect df://HOST:PORT (a Ballista scheduler) or %connect \
             flink://HOST:PORT (a Flink SQL Gateway)"
                .to_string(),
        ));
    }
    let engine = interpreter.engine.clone();
    let url = address.clone();
    let connected = interpreter
        .on_engine(async move { engine.connect(&url).await }, cancel)
        .await?
        .map_err(|error| CellError::Sql {
            error,
            sql: address,
            line_offset: 0,
        })?;
    out.display(render::plain(match connected {
        Connected::Ballista { url } => format!(
            "Connected to the Ballista cluster at {url}: batch queries run there until \
             %disconnect. Tables stay declared here; the cluster's executors read their files, \
             so the paths must be readable on every machine of the cluster."
        ),
        Connected::Flink { url, product } => format!(
            "Connected to the Flink SQL Gateway at {url} ({product}): every statement runs on \
             Flink until %disconnect, as Flink SQL. Tables declared now are Flink's, kept in \
             this gateway session; queries run as Flink jobs, shown live here (interrupt or \
             %cancel cancels the job)."
        ),
    }));
    Ok(())
}
