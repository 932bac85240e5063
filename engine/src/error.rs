//! The engine's errors: what went wrong, where in the SQL, and what to try.

use crate::batch::csv_error::CsvRowError;
use datafusion::error::DataFusionError;
use std::fmt;

/// A place in the SQL text of a cell, both counted from 1 (columns in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Everything that can go wrong running SQL. Each variant is the user's to fix (or, for
/// `Internal`, ours); none of them leaves the engine unusable.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The text is not SQL the parser understands.
    #[error("{message}")]
    Syntax {
        message: String,
        position: Option<Position>,
    },
    /// The SQL parses but cannot be planned: an unknown table, column or function, a type
    /// mismatch.
    #[error("{message}")]
    Plan {
        message: String,
        position: Option<Position>,
        hint: Option<String>,
    },
    /// The plan failed while running: bad data, a failed cast, an arithmetic error.
    #[error("{message}")]
    Execution {
        message: String,
        #[source]
        source: Option<Source>,
    },
    /// A file or directory could not be read or written.
    #[error("{message}")]
    Io {
        message: String,
        #[source]
        source: Option<Source>,
    },
    /// The query needs more memory than the engine may use.
    #[error("{message}")]
    ResourcesExhausted { message: String },
    /// A statement larger or deeper than the engine runs safely; the hint says how to write
    /// it instead.
    #[error("{message}")]
    Limit {
        message: String,
        position: Option<Position>,
        hint: Option<String>,
    },
    /// A Ballista cluster (`%connect df://…`) could not be reached, or failed a job.
    #[error("{message}")]
    Cluster {
        message: String,
        #[source]
        source: Option<Source>,
    },
    /// A Flink SQL Gateway (`%connect flink://…`) could not be reached, or Flink refused or
    /// failed a statement; the message is Flink's own.
    #[error("{message}")]
    Flink {
        message: String,
        hint: Option<String>,
    },
    /// Valid SQL that the engine does not (yet) do.
    #[error("{message}")]
    NotSupported { message: String },
    /// A bug in Eddy or DataFusion; the message says where.
    #[error("{message}")]
    Internal {
        message: String,
        #[source]
        source: Option<Source>,
    },
}

/// What an error came from (DataFusion's or Arrow's error, an I/O error), kept so that the
/// whole chain can be shown or logged; the message says it in the user's terms.
pub type Source = Box<dyn std::error::Error + Send + Sync>;

impl EngineError {
    /// Where in the SQL the error was found, if the parser or planner said.
    pub fn position(&self) -> Option<Position> {
        match self {
            EngineError::Syntax { position, .. }
            | EngineError::Plan { position, .. }
            | EngineError::Limit { position, .. } => *position,
            _ => None,
        }
    }

    /// A suggestion for the user, when one helps.
    pub fn hint(&self) -> Option<&str> {
        match self {
            EngineError::Plan { hint, .. }
            | EngineError::Limit { hint, .. }
            | EngineError::Flink { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }

    /// Shifts the position by `lines`, for SQL that was cut out of a larger text.
    pub fn offset_lines(mut self, lines: usize) -> Self {
        if let EngineError::Syntax { position, .. }
        | EngineError::Plan { position, .. }
        | EngineError::Limit { position, .. } = &mut self
        {
            if let Some(p) = position {
                p.line += lines;
            }
        }
        self
    }
}

impl From<DataFusionError> for EngineError {
    fn from(error: DataFusionError) -> Self {
        let diagnostic_position = error.diagnostic().and_then(|d| d.span).and_then(|span| {
            (span.start.line > 0).then_some(Position {
                line: span.start.line as usize,
                column: span.start.column as usize,
            })
        });
        let root = error.find_root();
        let message = root.message().trim().to_string();
        let class = match root {
            DataFusionError::SQL(..) => Class::Syntax,
            DataFusionError::Plan(_) | DataFusionError::SchemaError(..) => Class::Plan,
            DataFusionError::NotImplemented(_) => Class::NotSupported,
            DataFusionError::IoError(_) | DataFusionError::ObjectStore(_) => Class::Io,
            DataFusionError::ResourcesExhausted(_) => Class::ResourcesExhausted,
            DataFusionError::Internal(_) => Class::Internal,
            _ => Class::Execution,
        };
        let source = Some(Box::new(error) as Source);
        match class {
            Class::Syntax => {
                let (message, position) = split_parser_position(&message);
                EngineError::Syntax {
                    message,
                    position: position.or(diagnostic_position),
                }
            }
            Class::Plan => {
                let message = without_case_advice(&message);
                let hint = plan_hint(&message);
                EngineError::Plan {
                    message,
                    position: diagnostic_position,
                    hint,
                }
            }
            Class::NotSupported => EngineError::NotSupported { message },
            Class::Io => EngineError::Io { message, source },
            Class::ResourcesExhausted => EngineError::ResourcesExhausted {
                message: format!(
                    "{message} (the query needs more memory than the engine may use: \
                     start the kernel with a larger EDDY_MEMORY_LIMIT, or reduce the data the \
                     query holds at once)"
                ),
            },
            Class::Internal => EngineError::Internal { message, source },
            Class::Execution => EngineError::Execution {
                message: explain_csv_error(&message).unwrap_or(message),
                source,
            },
        }
    }
}

/// Which of the engine's errors a DataFusion error becomes.
enum Class {
    Syntax,
    Plan,
    NotSupported,
    Io,
    ResourcesExhausted,
    Internal,
    Execution,
}

impl From<datafusion::arrow::error::ArrowError> for EngineError {
    fn from(error: datafusion::arrow::error::ArrowError) -> Self {
        EngineError::Execution {
            message: error.to_string(),
            source: Some(Box::new(error)),
        }
    }
}

/// Arrow's complaint about a CSV row, said plainly, with what to do about it.
fn explain_csv_error(message: &str) -> Option<String> {
    const ADVICE: &str = "fix the file, or declare the column as STRING and convert it \
                          with TRY_CAST in a query";
    Some(match CsvRowError::parse(message)? {
        CsvRowError::BadValue {
            value,
            arrow_type,
            column,
            row,
        } => format!(
            "a CSV row could not be read: the value '{value}' in column {} is not a valid \
             {arrow_type}; the row is {row}. ({ADVICE})",
            column + 1
        ),
        CsvRowError::FieldCount { expected } => format!(
            "a CSV row has a different number of fields than the table's columns \
             (expected {expected}). (fix the file, or check 'csv.field-delimiter' and \
             'csv.quote-character')"
        ),
    })
}

/// sqlparser appends " at Line: L, Column: C" to its messages; the caret under the SQL
/// says that better, so the position is taken out of the text.
fn split_parser_position(message: &str) -> (String, Option<Position>) {
    let Some(at) = message.rfind(" at Line: ") else {
        return (message.to_string(), None);
    };
    let tail = &message[at + " at Line: ".len()..];
    let mut parts = tail.splitn(2, ", Column: ");
    let line = parts.next().and_then(|l| l.trim().parse().ok());
    let column = parts.next().and_then(|c| {
        c.trim_end_matches(|ch: char| !ch.is_ascii_digit())
            .parse()
            .ok()
    });
    match (line, column) {
        (Some(line), Some(column)) => (message[..at].to_string(), Some(Position { line, column })),
        _ => (message.to_string(), None),
    }
}

/// DataFusion follows "Did you mean …?" with advice to quote the name or to turn on a setting
/// that folds names to lower case. Names keep their case here, as in Flink, so the advice
/// would mislead: the suggestion is kept, the advice left out (the hint says why).
fn without_case_advice(message: &str) -> String {
    match message.find("Column names are case sensitive.") {
        Some(at) => message[..at].trim_end().to_string(),
        None => message.to_string(),
    }
}

fn plan_hint(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    if lower.contains("no field named") && lower.contains("did you mean") {
        Some(
            "Names keep the case they were declared with, as in Flink: write the column as \
             the suggestion does."
                .to_string(),
        )
    } else if lower.contains("table") && lower.contains("not found") {
        Some(
            "SHOW TABLES lists the tables of this session (names keep their case, as in \
             Flink)."
                .to_string(),
        )
    } else if lower.contains("invalid function") {
        Some("SHOW FUNCTIONS lists the functions the engine knows.".to_string())
    } else if lower.contains("no field named") {
        Some("DESCRIBE <table> lists a table's columns.".to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn an_error_keeps_what_it_came_from() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "no access");
        let error = EngineError::from(DataFusionError::IoError(io));
        assert!(matches!(error, EngineError::Io { .. }), "{error:?}");
        let source = error.source().expect("the DataFusion error is kept");
        assert!(source.to_string().contains("no access"), "{source}");

        let arrow = datafusion::arrow::error::ArrowError::DivideByZero;
        let error = EngineError::from(arrow);
        assert!(error.source().is_some());
    }

    #[test]
    fn parser_position_is_taken_out_of_the_message() {
        let (message, position) =
            split_parser_position("Expected: an expression, found: FROM at Line: 2, Column: 8");
        assert_eq!(message, "Expected: an expression, found: FROM");
        assert_eq!(position, Some(Position { line: 2, column: 8 }));
    }

    #[test]
    fn a_message_without_position_is_kept_whole() {
        let (message, position) = split_parser_position("Unexpected EOF");
        assert_eq!(message, "Unexpected EOF");
        assert_eq!(position, None);
    }
}
