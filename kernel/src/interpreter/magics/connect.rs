//! `%connect df://HOST:PORT`: the batch queries that follow run on a Ballista cluster (a
//! scheduler started with `eddy cluster scheduler`). Tables stay declared in this kernel;
//! the cluster's executors read their files, so their paths must be readable there too.

use crate::interpreter::cell::Cell;
use crate::interpreter::error::CellError;
use crate::interpreter::SqlInterpreter;
use crate::render;
use crate::server::Outputs;
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
            "name the cluster's scheduler: %connect df://HOST:PORT".to_string(),
        ));
    }
    if address.starts_with("flink://") {
        return Err(usage(format!(
            "{address}: connecting to a Flink SQL Gateway is not supported yet; df://HOST:PORT \
             connects to a Ballista cluster"
        )));
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
    out.display(render::plain(format!(
        "Connected to the Ballista cluster at {connected}: batch queries run there until \
         %disconnect. Tables stay declared here; the cluster's executors read their files, \
         so the paths must be readable on every machine of the cluster."
    )));
    Ok(())
}
