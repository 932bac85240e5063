//! Flink SQL that DataFusion's parser does not know: `WATERMARK FOR ts AS …` and computed
//! columns in a CREATE TABLE (`columns.rs`), the window table functions
//! `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), …))` (`windows.rs`), and nested type names
//! `ROW<…>`, `MAP<K, V>` (`types.rs`, rewritten on each statement's tokens), a CREATE
//! TABLE's `LIKE source (…)` (`like.rs`), `/*+ OPTIONS(…) */` hints (`hints.rs`) and
//! `FOR SYSTEM_TIME AS OF` (`temporal_joins.rs`). Flink statements Eddy cannot run (Java
//! functions, jars) are refused by name (`unsupported.rs`).
//!
//! They are cut out of the cell's text before it is parsed and kept beside the statement
//! they belong to. The text keeps its length and line breaks (a clause is blanked, a window
//! call becomes the name of a relation padded with spaces), so the positions in parse and
//! plan errors still point into what the user typed.

mod columns;
mod explain_details;
mod hints;
mod like;
mod statement_sets;
mod temporal_joins;
mod types;
mod unsupported;
mod windows;

use crate::error::{EngineError, Position};
use columns::cut_column_clauses;
use datafusion::sql::sqlparser::ast::Ident;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::Span;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};
pub(crate) use hints::OptionsHint;
use hints::{cut_hints, HintComment};
use like::cut_like;
pub(crate) use like::{LikeClause, LikeFeature, LikeStrategy};
pub(crate) use statement_sets::SetMarker;
use temporal_joins::cut_temporal_joins;
pub(crate) use temporal_joins::TemporalJoin;
pub(crate) use types::rewrite_nested_types;
use windows::cut_windows;

/// `WATERMARK FOR column AS expression`, as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WatermarkDecl {
    /// The time column, as the table names it (quotes removed, unquoted names folded).
    pub(crate) column: String,
    /// The expression after `AS`, as written.
    pub(crate) expression: String,
    /// When the expression starts with the time column itself (however quoted), what follows
    /// it: `- INTERVAL '5' SECOND`, or nothing.
    pub(crate) after_column: Option<String>,
    pub(crate) position: Position,
}

/// Which window table function a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowKind {
    Tumble,
    Hop,
    Cumulate,
    Session,
}

impl WindowKind {
    fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "TUMBLE" => Some(WindowKind::Tumble),
            "HOP" => Some(WindowKind::Hop),
            "CUMULATE" => Some(WindowKind::Cumulate),
            "SESSION" => Some(WindowKind::Session),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            WindowKind::Tumble => "TUMBLE",
            WindowKind::Hop => "HOP",
            WindowKind::Cumulate => "CUMULATE",
            WindowKind::Session => "SESSION",
        }
    }

    /// The interval arguments after the table and the time column, in order.
    /// Whether the call takes an offset after its intervals, shifting where windows start
    /// (Flink's window TVFs: TUMBLE, HOP and CUMULATE do; SESSION does not).
    pub(crate) fn takes_offset(self) -> bool {
        self != WindowKind::Session
    }

    fn interval_names(self) -> &'static [&'static str] {
        match self {
            WindowKind::Tumble => &["SIZE"],
            WindowKind::Hop => &["SLIDE", "SIZE"],
            WindowKind::Cumulate => &["STEP", "SIZE"],
            WindowKind::Session => &["GAP"],
        }
    }
}

/// A window table function call, replaced in the text by `relation`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WindowCall {
    pub(crate) kind: WindowKind,
    /// The name the call was replaced with; the query reads the windowed rows from it.
    pub(crate) relation: String,
    /// The table the windows are over, as written (`TABLE clicks`).
    pub(crate) table: String,
    /// `SESSION(TABLE t PARTITION BY k, …)`: sessions are kept per key.
    pub(crate) partition_by: Vec<String>,
    /// `DESCRIPTOR(ts)`.
    pub(crate) time_column: String,
    /// The interval arguments as SQL text, in the order of `WindowKind::interval_names`.
    pub(crate) intervals: Vec<String>,
    /// The optional offset after them, as SQL text (`INTERVAL '1' MINUTE`).
    pub(crate) offset: Option<String>,
    pub(crate) position: Position,
}

/// A computed column of a CREATE TABLE, `name AS expression`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ComputedColumn {
    /// The column's name (quotes removed).
    pub(crate) name: String,
    /// The expression, as written.
    pub(crate) expression: String,
    /// Where it is among the table's columns (computed or not), from 0.
    pub(crate) index: usize,
    /// Where the expression starts.
    pub(crate) position: Position,
}

/// A metadata column of a CREATE TABLE, `name TYPE METADATA [FROM 'key'] [VIRTUAL]`: a column
/// the connector fills from what it knows of each row (a Kafka record's timestamp, partition,
/// offset) rather than from the row's data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetadataColumn {
    /// The column's name (quotes removed).
    pub(crate) name: String,
    /// What it holds: the `FROM` key, or the column's name.
    pub(crate) key: String,
    /// `VIRTUAL`: read only, never written by an INSERT.
    pub(crate) is_virtual: bool,
    /// Where `METADATA` is.
    pub(crate) position: Position,
}

/// What one statement of a cell carries beside its (rewritten) SQL.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FlinkParts {
    pub(crate) watermark: Option<WatermarkDecl>,
    /// Computed columns, in the order declared.
    pub(crate) computed: Vec<ComputedColumn>,
    /// Metadata columns, in the order declared (they stay columns of the table).
    pub(crate) metadata: Vec<MetadataColumn>,
    pub(crate) windows: Vec<WindowCall>,
    /// `CREATE TABLE … LIKE source (…)`.
    pub(crate) like: Option<LikeClause>,
    /// `FROM t /*+ OPTIONS(…) */`, in the order written.
    pub(crate) hints: Vec<OptionsHint>,
    /// `JOIN t FOR SYSTEM_TIME AS OF …`.
    pub(crate) temporal_joins: Vec<TemporalJoin>,
    /// Where the statement stands in a statement set (`statement_sets.rs`).
    pub(crate) set_marker: Option<SetMarker>,
    /// Subqueries that legacy group windows read, declared as views while the statement runs.
    pub(crate) windowed_subqueries: Vec<crate::sql::group_windows::WindowedSubquery>,
}

/// A cell's text with the Flink parts cut out, and those parts for each non-empty statement
/// in order (the same order DataFusion's parser yields the statements in).
#[derive(Debug)]
pub(crate) struct Rewritten {
    pub(crate) text: String,
    pub(crate) statements: Vec<FlinkParts>,
    /// Where each of those statements is in `text` (without its `;`).
    pub(crate) ranges: Vec<std::ops::Range<usize>>,
}

/// A token with the byte range it covers in the text.
struct Tok {
    token: Token,
    start: usize,
    end: usize,
    position: Position,
}

impl Tok {
    fn is_word(&self, word: &str) -> bool {
        matches!(&self.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
    }
}

pub(crate) fn rewrite(sql: &str) -> Result<Rewritten, EngineError> {
    let dialect = GenericDialect {};
    let tokens = match Tokenizer::new(&dialect, sql).tokenize_with_location() {
        Ok(tokens) => tokens,
        // The parser reports the same error with its position; leave that to it.
        Err(_) => {
            return Ok(Rewritten {
                text: sql.to_string(),
                statements: Vec::new(),
                ranges: Vec::new(),
            })
        }
    };
    let (toks, comments) = with_byte_ranges(sql, tokens);
    let mut text = sql.to_string();
    let mut statements = Vec::new();
    let mut ranges = Vec::new();
    let mut window_count = 0;
    let mut hint_count = 0;
    let mut start = 0;
    while start < toks.len() {
        let end = toks[start..]
            .iter()
            .position(|t| t.token == Token::SemiColon)
            .map_or(toks.len(), |i| start + i);
        let segment = &toks[start..end];
        if !segment.is_empty() {
            unsupported::refuse(segment)?;
            explain_details::cut_explain_details(segment, &mut text)?;
            let mut parts = FlinkParts {
                set_marker: statement_sets::cut_set_marker(segment, &mut text),
                ..FlinkParts::default()
            };
            if segment.first().is_some_and(|t| t.is_word("CREATE")) {
                let clauses = cut_column_clauses(segment, &mut text)?;
                parts.watermark = clauses.watermark;
                parts.computed = clauses.computed;
                parts.metadata = clauses.metadata;
                parts.like = cut_like(segment, &mut text)?;
            }
            parts.windows = cut_windows(segment, &mut text, &mut window_count)?;
            parts.temporal_joins = cut_temporal_joins(segment, &mut text)?;
            parts.hints = cut_hints(&toks, start..end, &comments, &mut text, &mut hint_count)?;
            statements.push(parts);
            ranges.push(segment[0].start..segment[segment.len() - 1].end);
        }
        start = end + 1;
    }
    Ok(Rewritten {
        text,
        statements,
        ranges,
    })
}

/// Tokens without whitespace and comments, each with its byte range: a token ends where
/// the next one (whitespace included) starts. Hint comments (`/*+ … */`) come apart.
fn with_byte_ranges(sql: &str, tokens: Vec<TokenWithSpan>) -> (Vec<Tok>, Vec<HintComment>) {
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    // Tokens come in order, so one cursor walks the text once: finding each token's byte from
    // the start of its line would take time quadratic in a long line's length.
    let mut cursor = (1usize, 1usize, 0usize); // line, column, byte
    let mut byte_of = |line: u64, column: u64| -> usize {
        let (line, column) = (line as usize, column as usize);
        if line != cursor.0 {
            let Some(&line_start) = line_starts.get(line.saturating_sub(1)) else {
                return sql.len();
            };
            cursor = (line, 1, line_start);
        }
        if column < cursor.1 {
            let line_start = line_starts.get(line.saturating_sub(1)).copied();
            cursor = (line, 1, line_start.unwrap_or(sql.len()));
        }
        let rest = &sql[cursor.2..];
        let mut chars = rest.char_indices();
        while cursor.1 < column {
            match chars.next() {
                Some((_, c)) => {
                    cursor.1 += 1;
                    cursor.2 += c.len_utf8();
                }
                None => return sql.len(),
            }
        }
        cursor.2
    };
    let starts: Vec<usize> = tokens
        .iter()
        .map(|t| byte_of(t.span.start.line, t.span.start.column))
        .collect();
    let mut toks = Vec::new();
    let mut comments = Vec::new();
    for (i, t) in tokens.into_iter().enumerate() {
        let position = Position {
            line: t.span.start.line as usize,
            column: t.span.start.column as usize,
        };
        let (start, end) = (starts[i], starts.get(i + 1).copied().unwrap_or(sql.len()));
        if let Some(body) = HintComment::of(&t.token) {
            comments.push(HintComment {
                body,
                end,
                position,
                after_tokens: toks.len(),
            });
        }
        if matches!(t.token, Token::Whitespace(_) | Token::EOF) {
            continue;
        }
        toks.push(Tok {
            position,
            start,
            end,
            token: t.token,
        });
    }
    (toks, comments)
}

/// Replaces `text[start..end]` with `replacement` padded by spaces, keeping line breaks.
fn blank(text: &mut String, start: usize, end: usize, replacement: &str) {
    let original = &text[start..end];
    let mut out = String::with_capacity(original.len());
    out.push_str(replacement);
    let mut width = replacement.len();
    for c in original.chars() {
        if c == '\n' {
            out.push('\n');
        } else {
            for _ in 0..c.len_utf8() {
                if width > 0 {
                    width -= 1;
                } else {
                    out.push(' ');
                }
            }
        }
    }
    text.replace_range(start..end, &out);
}

fn syntax(message: String, position: Position) -> EngineError {
    EngineError::Syntax {
        message,
        position: Some(position),
    }
}

/// Index of the `)` closing the `(` at `open`.
fn closing_paren(toks: &[Tok], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(open) {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits `toks` at commas outside parentheses.
fn split_arguments(toks: &[Tok]) -> Vec<&[Tok]> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut from = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                parts.push(&toks[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&toks[from..]);
    parts
}

fn source_text<'a>(sql: &'a str, toks: &[Tok]) -> &'a str {
    match (toks.first(), toks.last()) {
        (Some(first), Some(last)) => sql[first.start..last.end].trim(),
        _ => "",
    }
}

/// A word token as an identifier, its quotes kept.
fn word_ident(tok: &Tok) -> Option<Ident> {
    match &tok.token {
        Token::Word(word) => Some(Ident {
            value: word.value.clone(),
            quote_style: word.quote_style,
            span: Span::empty(),
        }),
        _ => None,
    }
}

/// The dotted name (`db.t`) whose last word is `toks[end - 1]`, not reaching before `from`:
/// its parts and the index of its first token.
fn name_ending_at(toks: &[Tok], from: usize, end: usize) -> Option<(Vec<Ident>, usize)> {
    let mut parts = Vec::new();
    let mut at = end;
    loop {
        if at <= from {
            return None;
        }
        parts.push(word_ident(&toks[at - 1])?);
        at -= 1;
        if at > from && toks[at - 1].token == Token::Period {
            at -= 1;
        } else {
            break;
        }
    }
    parts.reverse();
    Some((parts, at))
}

fn identifier(tok: &Tok) -> Option<String> {
    match &tok.token {
        Token::Word(w) => Some(super::names::column_name(&Ident {
            value: w.value.clone(),
            quote_style: w.quote_style,
            span: Span::empty(),
        })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_statements_are_not_counted() {
        let out = rewrite(";; SELECT 1; ;SELECT 2;").unwrap();
        assert_eq!(out.statements.len(), 2);
    }
}
