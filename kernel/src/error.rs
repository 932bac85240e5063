//! Why a cell failed, and how that is shown: one `error` message with a traceback that
//! points into the cell.

use crate::cell::MAGICS;
use crate::protocol::ErrorContent;
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
        error: EngineError,
        /// The SQL the position refers to.
        sql: String,
        /// Lines of the cell above `sql`.
        line_offset: usize,
    },
    #[error("{0}")]
    Chart(crate::render::chart::ChartError),
    #[error("interrupted")]
    Interrupted,
    #[error("internal error: {0}")]
    Internal(String),
}

impl CellError {
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
            CellError::Sql { error, .. } => (error.kind(), error.to_string()),
            CellError::Interrupted => (
                "Interrupted",
                "The cell was interrupted; the session and its tables are intact.".to_string(),
            ),
            CellError::Internal(_) => ("InternalError", self.to_string()),
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
                lines.extend(
                    MAGICS
                        .iter()
                        .map(|(name, what)| format!("  {name:<10} {what}")),
                );
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

/// The offending line with a caret under the column, numbered as in the cell.
fn pointer(sql: &str, line: usize, column: usize, line_offset: usize) -> Vec<String> {
    let Some(text) = sql.lines().nth(line.saturating_sub(1)) else {
        return Vec::new();
    };
    let number = (line + line_offset).to_string();
    let gutter = " ".repeat(number.len());
    // Columns count characters; the caret line must count the same way.
    let indent: String = text
        .chars()
        .take(column.saturating_sub(1))
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
    fn an_unknown_magic_lists_the_magics() {
        let content = CellError::UnknownMagic {
            name: "%python".to_string(),
        }
        .to_content();
        assert!(content.traceback.iter().any(|l| l.contains("%lsmagic")));
    }
}
