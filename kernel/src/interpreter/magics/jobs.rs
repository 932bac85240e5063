//! `%jobs`: the queries over streams running in the background, with their figures.

use crate::interpreter::error::CellError;
use crate::interpreter::SqlInterpreter;
use crate::render;
use crate::server::Outputs;

pub(super) fn run(interpreter: &SqlInterpreter, out: &Outputs<'_>) -> Result<(), CellError> {
    out.display(render::plain(interpreter.jobs.listing()));
    Ok(())
}
