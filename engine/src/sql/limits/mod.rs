//! How big or deep a statement may be, decided before the parser or the planner can take the
//! process down (a stack overflow aborts it; it cannot be caught like a panic) or hold a cell
//! for minutes. Each limit names itself in its error and says how to write the query instead.
//!
//! Nesting by parentheses, function calls and subqueries in FROM is bounded by the parser
//! itself (its recursion limit). What it does not bound is bounded here: chains of operators
//! and dotted names with brackets on the tokens, before parsing; subqueries nested as
//! expressions on the parsed statement, before planning.

mod chained_operators;
mod dotted_names;
mod nested_subqueries;

use crate::error::EngineError;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

pub(crate) use nested_subqueries::check_nested_subqueries;

/// Operators one expression may chain (nesting included). Below the stack, time sets it:
/// DataFusion works out the type of each node of a chain from its whole subtree, so planning
/// a chain of n arithmetic operators takes time quadratic in n. Through the kernel's debug
/// build (`dev/bench-limits --debug`): a sum of 1,000 terms in 2.6 s, 3,000 in 19 s, 6,001
/// (the longest allowed) in 78 s; an OR of 3,000 comparisons, typed without that walk, in
/// 4.5 s. 3,000 `col = v` terms joined by OR (5,999 operators) fit.
pub const MAX_CHAINED_OPERATORS: usize = 6_000;

/// The stack a thread needs to parse, plan and run statements up to
/// [`MAX_CHAINED_OPERATORS`], with room to spare in a debug build: whoever drives the engine
/// runs it on threads this large (the memory is reserved, and only touched when used).
/// `tests/kernel_limits.rs` runs a chain one operator under the limit through the kernel.
pub const STACK_SIZE: usize = 256 << 20;

/// Subqueries one expression may nest in one another. Planning time doubles with each level:
/// through the kernel's debug build (`dev/bench-limits --debug`), 12 levels of
/// `IN (SELECT …)` plan in 0.12 s, 14 in 0.42 s, 16 in 1.5 s; an earlier ad hoc run saw 19 s at
/// 18 and over 60 s at 21.
pub const MAX_NESTED_SUBQUERIES: usize = 16;

/// The parser's work a cell may cost on its dotted names, in tokens read (see
/// `dotted_names`): this many readings of each token, plus [`SPARE_PARSE_WORK`].
pub const PARSE_WORK_PER_TOKEN: u64 = 8;

/// Parser work any cell may spend on its dotted names, however short: enough for a name of
/// 14 parts (`a.b.….n`) with an unclosed `[` after it. One more part doubles it.
pub const SPARE_PARSE_WORK: u64 = 1 << 18;

/// The limits counted on a cell's tokens, checked before it is parsed: chained operators and
/// dotted names. Text the tokenizer rejects passes: the parser reports that error with its
/// position.
pub(crate) fn check_text(sql: &str) -> Result<(), EngineError> {
    let Some(tokens) = tokens(sql) else {
        return Ok(());
    };
    chained_operators::check(&tokens, MAX_CHAINED_OPERATORS)?;
    dotted_names::check(&tokens, PARSE_WORK_PER_TOKEN, SPARE_PARSE_WORK)
}

/// A string literal of any of the tokenizer's kinds (quoted, raw, byte, national, …).
fn is_string_literal(token: &Token) -> bool {
    matches!(
        token,
        Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
    )
}

/// The cell's tokens without whitespace and comments, or `None` when the tokenizer rejects it.
fn tokens(sql: &str) -> Option<Vec<TokenWithSpan>> {
    let dialect = GenericDialect {};
    let mut tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .ok()?;
    tokens.retain(|token| !matches!(token.token, Token::Whitespace(_)));
    Some(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_the_tokenizer_rejects_is_left_to_the_parser() {
        assert!(check_text("SELECT 'open").is_ok());
    }
}
