//! Why a cell failed, and how that is shown: one `error` message with a traceback that
//! points into the cell.

use super::magic::Magic;
use crate::server::panic::{bug_report, panic_message};
use crate::server::protocol::ErrorContent;
use eddy_engine::EngineError;

#[derive(Debug, thiserror::Error)]
pub enum CellError {
    #[error("{name} is not a magic")]
    UnknownMagic { name: String },
    #[error("{magic}: {message}")]
    Usage {
        magic: &'static str,
        message: String,
    },
    #[error("no table named {name}")]
    UnknownTable { name: String },
    #[error("{error}")]
    Sql {
        #[source]
        error: EngineError,
        /// The SQL the position refers to.
        sql: String,
        /// Lines of the cell above `sql`.
        line_offset: usize,
    },
    #[error("{0}")]
    Chart(#[source] crate::render::chart::ChartError),
    #[error("interrupted")]
    Interrupted,
    #[error("internal error: {0}")]
    Internal(String),
    /// A panic in Eddy or a library it uses, caught before it could end the kernel.
    #[error("{}", bug_report(during, message))]
    Panicked { during: String, message: String },
}

impl CellError {
    /// A caught panic, from the payload `catch_unwind` or a `JoinError` gave.
    pub fn panicked(during: impl Into<String>, payload: &(dyn std::any::Any + Send)) -> Self {
        CellError::Panicked {
            during: during.into(),
            message: panic_message(payload),
        }
    }

    /// Names the statement a caught panic interrupted (its first line, shortened).
    pub fn while_running(self, statement: &impl std::fmt::Display) -> Self {
        match self {
            CellError::Panicked { message, .. } => {
                let text = statement.to_string();
                let mut shown: String = text.chars().take(120).collect();
                if shown.len() < text.len() {
                    shown.push('…');
                }
                CellError::Panicked {
                    during: format!("running `{shown}`"),
                    message,
                }
            }
            other => other,
        }
    }

    pub fn sql(error: EngineError, sql: &str, line_offset: usize) -> Self {
        CellError::Sql {
            error,
            sql: sql.to_string(),
            line_offset,
        }
    }

    pub fn to_content(&self) -> ErrorContent {
        let (ename, evalue) = match self {
            CellError::UnknownMagic { .. } => ("UnknownMagic", self.to_string()),
            CellError::Usage { .. } => ("UsageError", self.to_string()),
            CellError::UnknownTable { .. } => ("UnknownTable", self.to_string()),
            CellError::Chart(_) => ("ChartError", self.to_string()),
            CellError::Sql { error, .. } => (exception_name(error), error.to_string()),
            CellError::Interrupted => (
                "Interrupted",
                "The cell was interrupted; the session and its tables are intact.".to_string(),
            ),
            CellError::Internal(_) | CellError::Panicked { .. } => {
                ("InternalError", self.to_string())
            }
        };
        ErrorContent {
            ename: ename.to_string(),
            evalue: evalue.clone(),
            traceback: self.traceback(ename, &evalue),
        }
    }

    fn traceback(&self, ename: &str, evalue: &str) -> Vec<String> {
        let mut lines = vec![format!("{ename}: {evalue}")];
        match self {
            CellError::UnknownMagic { .. } => {
                lines.push("The magics are:".to_string());
                lines.extend(Magic::listing().into_iter().map(|line| format!("  {line}")));
            }
            CellError::UnknownTable { .. } => {
                lines.push("hint: SHOW TABLES lists the tables of this session.".to_string())
            }
            CellError::Sql {
                error,
                sql,
                line_offset,
            } => {
                if let Some(position) = error.position() {
                    lines.extend(pointer(sql, position.line, position.column, *line_offset));
                }
                if let Some(hint) = error.hint() {
                    lines.push(format!("hint: {hint}"));
                }
            }
            _ => {}
        }
        lines
    }
}

/// The name a notebook shows for an engine error, in the style of an exception class (the
/// kernel's choice: the engine only says what went wrong).
fn exception_name(error: &EngineError) -> &'static str {
    match error {
        EngineError::Syntax { .. } => "SyntaxError",
        EngineError::Plan { .. } => "PlanError",
        EngineError::Execution { .. } => "ExecutionError",
        EngineError::Io { .. } => "IoError",
        EngineError::ResourcesExhausted { .. } => "ResourcesExhausted",
        EngineError::Limit { .. } => "LimitExceeded",
        EngineError::NotSupported { .. } => "NotSupported",
        EngineError::Cluster { .. } => "ClusterError",
        EngineError::Flink { .. } => "FlinkError",
        EngineError::Internal { .. } => "InternalError",
    }
}

/// Characters of a long line shown on each side of the caret: a generated one-line
/// statement can be megabytes long.
const POINTER_CONTEXT: usize = 60;

/// The offending line with a caret under the column, numbered as in the cell. Of a long
/// line, only the part around the column is shown.
fn pointer(sql: &str, line: usize, column: usize, line_offset: usize) -> Vec<String> {
    let Some(text) = sql.lines().nth(line.saturating_sub(1)) else {
        return Vec::new();
    };
    let number = (line + line_offset).to_string();
    let gutter = " ".repeat(number.len());
    let caret_at = column.saturating_sub(1);
    let skip = caret_at.saturating_sub(POINTER_CONTEXT);
    let mut shown: String = text
        .chars()
        .skip(skip)
        .take(2 * POINTER_CONTEXT + 1)
        .collect();
    let cut_after = text.chars().count() > skip + 2 * POINTER_CONTEXT + 1;
    let mut indent_chars = caret_at - skip;
    if skip > 0 {
        shown.insert(0, '…');
        indent_chars += 1;
    }
    if cut_after {
        shown.push('…');
    }
    let text = shown.as_str();
    // Columns count characters; the caret line must count the same way.
    let indent: String = text
        .chars()
        .take(indent_chars)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    vec![
        format!("{gutter}--> line {}, column {column}", line + line_offset),
        format!("{gutter} |"),
        format!("{number} | {text}"),
        format!("{gutter} | {indent}^"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::Position;

    #[test]
    fn a_syntax_error_points_at_its_column_in_the_cell() {
        let error = CellError::sql(
            EngineError::Syntax {
                message: "Expected: an expression, found: FROM".to_string(),
                position: Some(Position { line: 2, column: 8 }),
            },
            "SELECT 1;\nSELECT FROM t",
            1,
        );
        let content = error.to_content();
        assert_eq!(content.ename, "SyntaxError");
        assert_eq!(content.evalue, "Expected: an expression, found: FROM");
        assert_eq!(
            content.traceback,
            vec![
                "SyntaxError: Expected: an expression, found: FROM",
                " --> line 3, column 8",
                "  |",
                "3 | SELECT FROM t",
                "  |        ^",
            ]
        );
    }

    #[test]
    fn a_long_line_is_shown_around_the_column() {
        let sql = format!("SELECT {}", "1 + ".repeat(10_000));
        let error = CellError::sql(
            EngineError::Syntax {
                message: "too long".to_string(),
                position: Some(Position {
                    line: 1,
                    column: 20_001,
                }),
            },
            &sql,
            0,
        );
        let traceback = error.to_content().traceback;
        let (code, caret) = (&traceback[3], &traceback[4]);
        assert!(code.len() < 200 && code.starts_with("1 | …") && code.ends_with('…'));
        // The caret stands under the character at the column.
        let caret_column = caret.chars().count() - 1;
        let under: String = code.chars().skip(caret_column).take(1).collect();
        let expected: String = sql.chars().skip(20_000).take(1).collect();
        assert_eq!(under, expected);
        assert_eq!(caret_column, "1 | …".chars().count() + 60);
    }

    #[test]
    fn a_panic_says_what_it_interrupted_and_asks_for_a_report() {
        let payload: Box<dyn std::any::Any + Send> = Box::new(String::from("index out of bounds"));
        let content = CellError::panicked("running SELECT 1", payload.as_ref()).to_content();
        assert_eq!(content.ename, "InternalError");
        assert!(content
            .evalue
            .contains("running SELECT 1: index out of bounds"));
        assert!(content.evalue.contains("please report this"));
    }

    #[test]
    fn an_unknown_magic_lists_the_magics() {
        let content = CellError::UnknownMagic {
            name: "%python".to_string(),
        }
        .to_content();
        for magic in Magic::ALL {
            assert!(
                content.traceback.iter().any(|l| l.contains(magic.name())),
                "{magic:?} is missing from {:?}",
                content.traceback
            );
        }
    }
}
