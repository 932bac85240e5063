//! `%config [name=value]`: shows the settings, or changes one. The settings are the
//! interpreter's display settings, whether file tables keep the columns queries decode in
//! memory, and, read-only, the engine's memory limit.

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
        "keep_file_columns" => {
            let on = match value.trim().to_ascii_lowercase().as_str() {
                "on" | "true" => true,
                "off" | "false" => false,
                _ => return Err(usage("keep_file_columns is on or off".into())),
            };
            interpreter.engine.set_column_memory(on);
            Ok(())
        }
        other => Err(usage(format!(
            "{other} is not a setting; the settings are: max_rows, progress_after_ms, \
             keep_file_columns"
        ))),
    }
}

fn settings(interpreter: &SqlInterpreter) -> String {
    let bytes = |n: usize| bytesize::ByteSize::b(n as u64).display().iec().to_string();
    let kept = interpreter.engine.column_memory();
    format!(
        "max_rows = {}    (rows shown of a result; the rest are counted)\n\
         progress_after_ms = {}    (a statement running longer shows a progress line)\n\
         keep_file_columns = {}    (columns of CSV and JSON tables that queries decoded, kept \
         for the next question while the files are unchanged: {} of {} in {} tables)\n\
         memory_limit = {}    (for queries; set EDDY_MEMORY_LIMIT before the kernel starts)",
        interpreter.display.max_rows,
        interpreter.display.progress_after.as_millis(),
        if kept.enabled { "on" } else { "off" },
        bytes(kept.bytes),
        bytes(kept.budget),
        kept.tables,
        bytes(interpreter.engine.memory_limit()),
    )
}
