//! One file per magic, as mini-redis has one file per command: each says what its magic does
//! with the rest of its line and the cell below it.

mod cancel;
mod config;
mod connect;
mod disconnect;
mod jobs;
mod lsmagic;
mod md;
mod set;
mod sql;
mod table;

use super::cell::Cell;
use super::error::CellError;
use super::magic::Magic;
use super::SqlInterpreter;
use crate::server::Outputs;
use tokio_util::sync::CancellationToken;

/// Runs a parsed cell with its magic.
pub(super) async fn run(
    interpreter: &mut SqlInterpreter,
    cell: Cell<'_>,
    out: &Outputs<'_>,
    cancel: &CancellationToken,
) -> Result<(), CellError> {
    match cell.magic {
        Magic::Sql => sql::run(interpreter, &cell, out, cancel).await,
        Magic::Table => table::run(interpreter, &cell, out, cancel).await,
        Magic::Markdown => md::run(interpreter, &cell, out),
        Magic::Set => set::run(interpreter, &cell, out),
        Magic::Config => config::run(interpreter, &cell, out),
        Magic::Jobs => jobs::run(interpreter, out),
        Magic::Cancel => cancel::run(interpreter, &cell, out),
        Magic::Connect => connect::run(interpreter, &cell, out, cancel).await,
        Magic::Disconnect => disconnect::run(interpreter, out),
        Magic::ListMagics => lsmagic::run(out),
    }
}
