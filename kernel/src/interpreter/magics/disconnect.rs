//! `%disconnect`: statements run in this kernel again.

use crate::interpreter::error::CellError;
use crate::interpreter::SqlInterpreter;
use crate::render;
use crate::server::Outputs;
use eddy_engine::Connected;

pub(super) fn run(interpreter: &SqlInterpreter, out: &Outputs<'_>) -> Result<(), CellError> {
    let text = match interpreter.engine.disconnect() {
        Some(Connected::Ballista { url }) => {
            format!("Disconnected from the Ballista cluster at {url}: queries run in this kernel.")
        }
        Some(Connected::Flink { url, .. }) => format!(
            "Disconnected from the Flink SQL Gateway at {url}: statements run in this kernel. \
             The gateway session is closed, and the tables declared in it with it."
        ),
        None => "Not connected to a cluster: queries run in this kernel.".to_string(),
    };
    out.display(render::plain(text));
    Ok(())
}
