//! A cell's text split into statements, each parsed with its Flink parts.

use super::Engine;
use crate::error::EngineError;
use crate::sql::flink_syntax::{self, FlinkParts};
use crate::sql::limits;
use crate::sql::{field_names, group_windows, similar_to, time_units};
use datafusion::sql::parser::{DFParserBuilder, Statement as ParsedStatement};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// One parsed statement of a cell, ready to [`Engine::run`].
#[derive(Debug, Clone)]
pub struct Statement {
    pub(super) parsed: ParsedStatement,
    /// The Flink parts the parser does not know (a WATERMARK, window functions).
    pub(super) flink: FlinkParts,
    /// The statement as the user wrote it (a view's definition shows it).
    pub(super) text: String,
}

impl std::fmt::Display for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.parsed.fmt(f)
    }
}

impl Engine {
    /// Splits a cell into statements (see [`parse`]).
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>, EngineError> {
        parse(sql)
    }
}

/// Splits a cell into statements. The whole text is parsed before anything runs, so a syntax
/// error in the third statement does not leave the first two half-applied. Parsing needs no
/// session: a tool (or a fuzzer) can check SQL without DataFusion's execution in sight.
pub fn parse(sql: &str) -> Result<Vec<Statement>, EngineError> {
    limits::check_text(sql)?;
    let rewritten = flink_syntax::rewrite(sql)?;
    if rewritten.ranges.is_empty() {
        // Nothing to split (or text the tokenizer rejects: the parser says where).
        let statements = DFParserBuilder::new(rewritten.text.as_str())
            .build()?
            .parse_statements()?;
        return statements
            .into_iter()
            .map(|parsed| {
                let text = parsed.to_string();
                finish_statement(parsed, FlinkParts::default(), text)
            })
            .collect();
    }
    // Each statement is parsed on its own, from its own tokens: some statements' grammar
    // (CACHE TABLE t) does not stop at a ';'. The cell is tokenized once, so the tokens
    // keep their lines and columns in the cell, and a cell of thousands of statements
    // costs no more per statement than a cell of one.
    let dialect = GenericDialect {};
    let tokens = match Tokenizer::new(&dialect, &rewritten.text).tokenize_with_location() {
        Ok(tokens) => tokens,
        // The parser reports what the tokenizer rejects, with its position.
        Err(error) => {
            DFParserBuilder::new(rewritten.text.as_str()).build()?;
            return Err(EngineError::Internal {
                message: format!("the tokenizer rejected the cell ({error})"),
                source: None,
            });
        }
    };
    let mut segments = Vec::new();
    let mut segment = Vec::new();
    for token in tokens {
        if token.token == Token::SemiColon {
            segments.push(std::mem::take(&mut segment));
        } else {
            segment.push(token);
        }
    }
    segments.push(segment);
    segments.retain(|segment| {
        segment
            .iter()
            .any(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
    });
    if segments.len() != rewritten.statements.len() {
        return Err(EngineError::Internal {
            message: format!(
                "the cell splits into {} statements, but its Flink parts into {}",
                segments.len(),
                rewritten.statements.len()
            ),
            source: None,
        });
    }
    let mut statements = Vec::with_capacity(segments.len());
    for ((tokens, flink), range) in segments
        .into_iter()
        .zip(rewritten.statements)
        .zip(rewritten.ranges)
    {
        let tokens = flink_syntax::rewrite_nested_types(tokens);
        let mut parsed = DFParserBuilder::new(tokens).build()?.parse_statements()?;
        let Some(parsed) = parsed.pop_front() else {
            continue;
        };
        // The rewritten text keeps every byte where it was, so the range is the user's text.
        let text = sql
            .get(range)
            .map_or_else(|| parsed.to_string(), |t| t.trim().to_string());
        statements.push(finish_statement(parsed, flink, text)?);
    }
    Ok(statements)
}

/// A parsed statement checked against the limits, with the Flink forms DataFusion reads
/// differently rewritten: ROW fields named after the field, time-unit words quoted, SIMILAR
/// TO patterns made regular expressions, legacy group windows made window functions.
fn finish_statement(
    mut parsed: ParsedStatement,
    mut flink: FlinkParts,
    text: String,
) -> Result<Statement, EngineError> {
    check_shape(&parsed)?;
    field_names::name_selected_fields(&mut parsed);
    time_units::quote_time_units(&mut parsed);
    similar_to::rewrite_similar_to(&mut parsed)?;
    group_windows::rewrite_group_windows(
        &mut parsed,
        &mut flink.windows,
        &mut flink.windowed_subqueries,
    )?;
    Ok(Statement {
        parsed,
        flink,
        text,
    })
}

/// The limits on a parsed statement's shape (the operator chains were counted on its text).
fn check_shape(parsed: &ParsedStatement) -> Result<(), EngineError> {
    match parsed {
        ParsedStatement::Statement(statement) => {
            limits::check_nested_subqueries(statement, limits::MAX_NESTED_SUBQUERIES)
        }
        ParsedStatement::Explain(explain) => check_shape(&explain.statement),
        _ => Ok(()),
    }
}
