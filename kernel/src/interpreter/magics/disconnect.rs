//! `%disconnect`: queries run in this kernel again.

use crate::interpreter::error::CellError;
use crate::interpreter::SqlInterpreter;
use crate::render;
use crate::server::Outputs;

pub(super) fn run(interpreter: &SqlInterpreter, out: &Outputs<'_>) -> Result<(), CellError> {
    let text = match interpreter.engine.disconnect() {
        Some(cluster) => {
            format!(
                "Disconnected from the Ballista cluster at {cluster}: queries run in this kernel."
            )
        }
        None => "Not connected to a cluster: queries run in this kernel.".to_string(),
    };
    out.display(render::plain(text));
    Ok(())
}
