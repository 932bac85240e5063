//! `%set name=value`: the value `${name}` stands for in later cells; `%set` alone lists them.

use crate::interpreter::cell::Cell;
use crate::interpreter::error::CellError;
use crate::interpreter::SqlInterpreter;
use crate::render;
use crate::server::Outputs;

pub(super) fn run(
    interpreter: &mut SqlInterpreter,
    cell: &Cell<'_>,
    out: &Outputs<'_>,
) -> Result<(), CellError> {
    let text = match cell.args {
        "" => interpreter.parameters.listing(),
        assignment => {
            let (name, value) = interpreter.parameters.set(assignment)?;
            format!("{name} = {value}")
        }
    };
    out.display(render::plain(text));
    Ok(())
}
