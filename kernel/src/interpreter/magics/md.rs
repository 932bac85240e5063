//! `%md`: the rest of the cell is Markdown, with `${name}` parameters filled in.

use crate::interpreter::cell::Cell;
use crate::interpreter::error::CellError;
use crate::interpreter::SqlInterpreter;
use crate::render;
use crate::server::Outputs;

pub(super) fn run(
    interpreter: &SqlInterpreter,
    cell: &Cell<'_>,
    out: &Outputs<'_>,
) -> Result<(), CellError> {
    // Prose is not a computed result: it carries no `Out[n]` (as IPython's
    // display(Markdown(…))). `%md # Title` on one line is Markdown too.
    let source = match (cell.args, cell.body) {
        ("", body) => body.to_string(),
        (line, "") => line.to_string(),
        (line, body) => format!("{line}\n{body}"),
    };
    let source = interpreter.parameters.fill_text(&source)?;
    out.display(render::markdown(&source));
    Ok(())
}
