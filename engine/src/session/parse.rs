//! A cell's text split into statements, each parsed with its Flink parts.

use super::Engine;
use crate::error::EngineError;
use crate::sql::flink_syntax::{self, FlinkParts, SetMarker};
use crate::sql::limits;
use crate::sql::{cast_types, field_names, group_windows, similar_to, time_units};
use datafusion::sql::parser::{DFParserBuilder, Statement as ParsedStatement};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
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
    /// A statement set's INSERTs (empty for any other statement).
    pub(super) set: Vec<Statement>,
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
    // The open statement set: where it starts and its INSERTs so far.
    let mut set: Option<(usize, Vec<Statement>)> = None;
    for ((tokens, flink), range) in segments
        .into_iter()
        .zip(rewritten.statements)
        .zip(rewritten.ranges)
    {
        let marker = flink.set_marker;
        match marker {
            Some(SetMarker::Begin | SetMarker::BeginWith) if set.is_some() => {
                return Err(set_error(
                    "a statement set cannot hold another",
                    &range,
                    sql,
                ));
            }
            Some(SetMarker::Begin) => {
                set = Some((range.start, Vec::new()));
                continue;
            }
            Some(SetMarker::End) => {
                let Some((start, inserts)) = set.take() else {
                    return Err(set_error(
                        "END closes a statement set, and none is open (BEGIN STATEMENT SET)",
                        &range,
                        sql,
                    ));
                };
                let text = sql.get(start..range.end).unwrap_or_default().to_string();
                statements.push(statement_set(inserts, text)?);
                continue;
            }
            Some(SetMarker::BeginWith) => set = Some((range.start, Vec::new())),
            None => {}
        }
        let tokens = flink_syntax::rewrite_nested_types(tokens);
        let mut parsed = DFParserBuilder::new(tokens).build()?.parse_statements()?;
        let Some(parsed) = parsed.pop_front() else {
            continue;
        };
        // The rewritten text keeps every byte where it was, so the range is the user's text.
        let text = sql
            .get(range)
            .map_or_else(|| parsed.to_string(), |t| t.trim().to_string());
        let statement = finish_statement(parsed, flink, text)?;
        match &mut set {
            Some((_, inserts)) => inserts.push(statement),
            None => statements.push(statement),
        }
    }
    if let Some((start, _)) = set {
        return Err(set_error(
            "the statement set is not closed: END; ends it",
            &(start..sql.len()),
            sql,
        ));
    }
    Ok(statements)
}

/// One statement running a statement set's INSERTs, which must all be INSERTs.
fn statement_set(inserts: Vec<Statement>, text: String) -> Result<Statement, EngineError> {
    let Some(first) = inserts.first() else {
        return Err(EngineError::Plan {
            message:
                "the statement set is empty: put INSERT INTO statements between its BEGIN and END"
                    .into(),
            position: None,
            hint: None,
        });
    };
    if let Some(other) = inserts.iter().find(|s| {
        !matches!(&s.parsed, ParsedStatement::Statement(sql) if matches!(sql.as_ref(), SqlStatement::Insert(_)))
    }) {
        return Err(EngineError::Plan {
            message: format!(
                "a statement set holds INSERT INTO statements; this is not one: {}",
                other.text
            ),
            position: None,
            hint: None,
        });
    }
    Ok(Statement {
        parsed: first.parsed.clone(),
        flink: FlinkParts::default(),
        text,
        set: inserts,
    })
}

fn set_error(message: &str, range: &std::ops::Range<usize>, sql: &str) -> EngineError {
    let line = sql[..range.start.min(sql.len())].matches('\n').count() + 1;
    EngineError::Syntax {
        message: format!("{message} (line {line})"),
        position: None,
    }
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
    cast_types::rewrite_cast_types(&mut parsed);
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
        set: Vec::new(),
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
