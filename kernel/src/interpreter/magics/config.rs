//! `%config [name=value]`: shows the settings, or changes one. The settings are the
//! interpreter's display settings and, read-only, the engine's memory limit.

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
    if !cell.args.is_empty() {
        configure(interpreter, cell.args)?;
    }
    out.display(render::plain(settings(interpreter)));
    Ok(())
}

/// `%config name=value`.
fn configure(interpreter: &mut SqlInterpreter, assignment: &str) -> Result<(), CellError> {
    let usage = |message: String| CellError::Usage {
        magic: "%config",
        message,
    };
    let (name, value) = assignment
        .split_once('=')
        .ok_or_else(|| usage("write %config name=value, e.g. %config max_rows=50".into()))?;
    match name.trim() {
        "max_rows" => {
            interpreter.display.max_rows = value
                .trim()
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| usage("max_rows is a whole number above 0".into()))?;
            Ok(())
        }
        "progress_after_ms" => {
            let millis: u64 = value
                .trim()
                .parse()
                .map_err(|_| usage("progress_after_ms is a whole number of milliseconds".into()))?;
            interpreter.display.progress_after = std::time::Duration::from_millis(millis);
            Ok(())
        }
        other => Err(usage(format!(
            "{other} is not a setting; the settings are: max_rows, progress_after_ms"
        ))),
    }
}

fn settings(interpreter: &SqlInterpreter) -> String {
    format!(
        "max_rows = {}    (rows shown of a result; the rest are counted)\n\
         progress_after_ms = {}    (a statement running longer shows a progress line)\n\
         memory_limit = {}    (for queries; set EDDY_MEMORY_LIMIT before the kernel starts)",
        interpreter.display.max_rows,
        interpreter.display.progress_after.as_millis(),
        bytesize::ByteSize::b(interpreter.engine.memory_limit() as u64)
            .display()
            .iec(),
    )
}
