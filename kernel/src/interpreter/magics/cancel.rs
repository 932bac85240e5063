//! `%cancel ID|all`: stops background queries (the id may also be the cell's body).

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
    let which = if cell.args.is_empty() {
        cell.body.trim()
    } else {
        cell.args
    };
    let cancelled = interpreter
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
