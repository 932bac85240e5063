//! Whether a piece of SQL is ready to run, as a console asks before it sends a line.

use crate::sql::limits;
use datafusion::sql::parser::DFParserBuilder;

/// The answer to "is this SQL complete?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    /// It parses: run it.
    Complete,
    /// It is a good start that ran out of text (an open parenthesis, a dangling keyword, an
    /// unterminated string or comment): wait for more lines.
    Incomplete,
    /// More text cannot fix it.
    Invalid,
}

/// Decides completeness by asking the parser: errors at the end of the input mean the
/// statement was cut short, any other error means it is wrong.
pub fn completeness(sql: &str) -> Completeness {
    if sql.trim().is_empty() {
        return Completeness::Complete;
    }
    // Too deep or too costly to parse: running it says why.
    if limits::check_text(sql).is_err() {
        return Completeness::Complete;
    }
    let parsed = DFParserBuilder::new(sql)
        .build()
        .and_then(|mut parser| parser.parse_statements());
    match parsed {
        Ok(_) => Completeness::Complete,
        Err(error) if ran_out_of_text(&error.to_string()) => Completeness::Incomplete,
        Err(_) => Completeness::Invalid,
    }
}

fn ran_out_of_text(message: &str) -> bool {
    message.contains("found: EOF")
        || message.contains("Unterminated")
        || message.contains("Unexpected EOF")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_that_parse_are_complete() {
        assert_eq!(completeness("SELECT 1"), Completeness::Complete);
        assert_eq!(completeness("SELECT 1; SELECT 2;"), Completeness::Complete);
        assert_eq!(completeness("  "), Completeness::Complete);
    }

    #[test]
    fn statements_cut_short_are_incomplete() {
        assert_eq!(completeness("SELECT"), Completeness::Incomplete);
        assert_eq!(completeness("SELECT (1"), Completeness::Incomplete);
        assert_eq!(completeness("SELECT 'abc"), Completeness::Incomplete);
        assert_eq!(completeness("SELECT 1 /* note"), Completeness::Incomplete);
    }

    #[test]
    fn statements_more_text_cannot_fix_are_invalid() {
        assert_eq!(completeness("SELEC 1"), Completeness::Invalid);
        assert_eq!(completeness("SELECT ) FROM t"), Completeness::Invalid);
    }
}
