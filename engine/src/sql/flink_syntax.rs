//! Flink SQL that DataFusion's parser does not know: `WATERMARK FOR ts AS …` in a CREATE
//! TABLE, and the window table functions `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), …))`.
//!
//! Both are cut out of the cell's text before it is parsed and kept beside the statement
//! they belong to. The text keeps its length and line breaks (a clause is blanked, a window
//! call becomes the name of a relation padded with spaces), so the positions in parse and
//! plan errors still point into what the user typed.

use crate::error::{EngineError, Position};
use datafusion::sql::sqlparser::ast::Ident;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::Span;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

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

/// What one statement of a cell carries beside its (rewritten) SQL.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FlinkParts {
    pub(crate) watermark: Option<WatermarkDecl>,
    pub(crate) windows: Vec<WindowCall>,
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
    let toks = with_byte_ranges(sql, tokens);
    let mut text = sql.to_string();
    let mut statements = Vec::new();
    let mut ranges = Vec::new();
    let mut window_count = 0;
    let mut start = 0;
    while start < toks.len() {
        let end = toks[start..]
            .iter()
            .position(|t| t.token == Token::SemiColon)
            .map_or(toks.len(), |i| start + i);
        let segment = &toks[start..end];
        if !segment.is_empty() {
            let mut parts = FlinkParts::default();
            if segment.first().is_some_and(|t| t.is_word("CREATE")) {
                parts.watermark = cut_watermark(segment, &mut text)?;
            }
            parts.windows = cut_windows(segment, &mut text, &mut window_count)?;
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
/// the next one (whitespace included) starts.
fn with_byte_ranges(sql: &str, tokens: Vec<TokenWithSpan>) -> Vec<Tok> {
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
    tokens
        .into_iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
        .map(|(i, t)| Tok {
            position: Position {
                line: t.span.start.line as usize,
                column: t.span.start.column as usize,
            },
            start: starts[i],
            end: starts.get(i + 1).copied().unwrap_or(sql.len()),
            token: t.token,
        })
        .collect()
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

/// `WATERMARK FOR ts AS expr` inside the column list of a CREATE TABLE.
fn cut_watermark(segment: &[Tok], text: &mut String) -> Result<Option<WatermarkDecl>, EngineError> {
    let Some(open) = segment.iter().position(|t| t.token == Token::LParen) else {
        return Ok(None);
    };
    let Some(close) = closing_paren(segment, open) else {
        return Ok(None);
    };
    let original = text.clone();
    let columns = &segment[open + 1..close];
    let mut found = None;
    let mut offset = open + 1;
    for (index, part) in split_arguments(columns).into_iter().enumerate() {
        if part.first().is_some_and(|t| t.is_word("WATERMARK"))
            && part.get(1).is_some_and(|t| t.is_word("FOR"))
        {
            let position = part[0].position;
            if found.is_some() {
                return Err(syntax("a table has one WATERMARK".into(), position));
            }
            let column = part.get(2).and_then(identifier);
            let as_kw = part.get(3).is_some_and(|t| t.is_word("AS"));
            let (Some(column), true, Some(_)) = (column, as_kw, part.get(4)) else {
                return Err(syntax(
                    "WATERMARK is written WATERMARK FOR column AS column - INTERVAL '5' SECOND"
                        .into(),
                    position,
                ));
            };
            let expression = source_text(&original, &part[4..]).to_string();
            let after_column = (identifier(&part[4]).as_ref() == Some(&column))
                .then(|| source_text(&original, &part[5..]).to_string());
            // Blank the clause with the comma before it (or after it, when it comes first).
            let (from, to) = if index == 0 {
                let next = offset + part.len();
                let to = if segment.get(next).is_some_and(|t| t.token == Token::Comma) {
                    segment[next].end
                } else {
                    part[part.len() - 1].end
                };
                (part[0].start, to)
            } else {
                (segment[offset - 1].start, part[part.len() - 1].end)
            };
            blank(text, from, to, "");
            found = Some(WatermarkDecl {
                column,
                expression,
                after_column,
                position,
            });
        }
        offset += part.len() + 1;
    }
    Ok(found)
}

/// Every `TABLE(TUMBLE|HOP|CUMULATE|SESSION(…))` of a statement.
fn cut_windows(
    segment: &[Tok],
    text: &mut String,
    count: &mut usize,
) -> Result<Vec<WindowCall>, EngineError> {
    let original = text.clone();
    let mut calls = Vec::new();
    let mut i = 0;
    while i + 3 < segment.len() {
        let is_call = segment[i].is_word("TABLE")
            && segment[i + 1].token == Token::LParen
            && matches!(&segment[i + 2].token, Token::Word(w) if WindowKind::from_name(&w.value).is_some())
            && segment[i + 3].token == Token::LParen;
        if !is_call {
            i += 1;
            continue;
        }
        let position = segment[i].position;
        let Some(outer_close) = closing_paren(segment, i + 1) else {
            return Err(syntax(
                "the window call has no closing ')'".into(),
                position,
            ));
        };
        let Some(inner_close) = closing_paren(segment, i + 3) else {
            return Err(syntax(
                "the window call has no closing ')'".into(),
                position,
            ));
        };
        let Token::Word(name) = &segment[i + 2].token else {
            unreachable!("matched as a word above")
        };
        let Some(kind) = WindowKind::from_name(&name.value) else {
            unreachable!("matched as a window function above")
        };
        let call = window_call(
            kind,
            &segment[i + 4..inner_close],
            &original,
            position,
            format!("__eddy_window_{count}"),
        )?;
        *count += 1;
        blank(
            text,
            segment[i].start,
            segment[outer_close].end,
            &call.relation,
        );
        calls.push(call);
        i = outer_close + 1;
    }
    Ok(calls)
}

fn window_call(
    kind: WindowKind,
    args: &[Tok],
    sql: &str,
    position: Position,
    relation: String,
) -> Result<WindowCall, EngineError> {
    let usage = || {
        let intervals: Vec<String> = kind
            .interval_names()
            .iter()
            .map(|n| format!("<{}>", n.to_lowercase()))
            .collect();
        syntax(
            format!(
                "{} is called as {}(TABLE t{}, DESCRIPTOR(time_column), {}{}), e.g. \
                 TABLE({}(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE{}))",
                kind.name(),
                kind.name(),
                if kind == WindowKind::Session {
                    " [PARTITION BY key]"
                } else {
                    ""
                },
                intervals.join(", "),
                if kind.takes_offset() {
                    " [, <offset>]"
                } else {
                    ""
                },
                kind.name(),
                if intervals.len() > 1 {
                    ", INTERVAL '5' MINUTE"
                } else {
                    ""
                }
            ),
            position,
        )
    };
    let mut parts = split_arguments(args);
    // Named arguments (`DATA => TABLE t`) are taken in Flink's order.
    for part in parts.iter_mut() {
        if part.len() > 2 && part[1].token == Token::RArrow {
            *part = &part[2..];
        }
    }
    let interval_count = kind.interval_names().len();
    let with_offset = kind.takes_offset() && parts.len() == 3 + interval_count;
    if parts.len() != 2 + interval_count && !with_offset {
        return Err(usage());
    }
    let data = parts[0];
    if !data.first().is_some_and(|t| t.is_word("TABLE")) || data.len() < 2 {
        return Err(usage());
    }
    // `TABLE name` or `TABLE schema.name`, then an optional PARTITION BY.
    let partition_at = data
        .iter()
        .position(|t| t.is_word("PARTITION"))
        .unwrap_or(data.len());
    let table = source_text(sql, &data[1..partition_at]).to_string();
    if table.is_empty() {
        return Err(usage());
    }
    let mut partition_by = Vec::new();
    if partition_at < data.len() {
        if kind != WindowKind::Session {
            return Err(syntax(
                format!("{} takes no PARTITION BY; SESSION does", kind.name()),
                data[partition_at].position,
            ));
        }
        if !data.get(partition_at + 1).is_some_and(|t| t.is_word("BY")) {
            return Err(usage());
        }
        for key in split_arguments(&data[partition_at + 2..]) {
            match key {
                [one] => partition_by.push(identifier(one).ok_or_else(usage)?),
                _ => return Err(usage()),
            }
        }
    }
    let descriptor = parts[1];
    let time_column = match descriptor {
        [d, open, column, close]
            if d.is_word("DESCRIPTOR")
                && open.token == Token::LParen
                && close.token == Token::RParen =>
        {
            identifier(column).ok_or_else(usage)?
        }
        _ => return Err(usage()),
    };
    let intervals = parts[2..2 + interval_count]
        .iter()
        .map(|part| source_text(sql, part).to_string())
        .collect();
    let offset = with_offset.then(|| source_text(sql, parts[2 + interval_count]).to_string());
    Ok(WindowCall {
        kind,
        relation,
        table,
        partition_by,
        time_column,
        intervals,
        offset,
        position,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_time_column_is_the_column_in_the_expression_too() {
        let sql = "CREATE TABLE b (`dateTime` TIMESTAMP(3), \
                   WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) \
                   WITH ('connector' = 'datagen')";
        let wm = rewrite(sql).unwrap().statements[0]
            .watermark
            .clone()
            .unwrap();
        assert_eq!(wm.column, "dateTime");
        assert_eq!(wm.after_column.as_deref(), Some("- INTERVAL '4' SECOND"));
    }

    #[test]
    fn watermark_clause_is_cut_out_and_positions_stay() {
        let sql = "CREATE TABLE clicks (\n  user_id INT,\n  ts TIMESTAMP(3),\n  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND\n) WITH ('connector' = 'datagen')";
        let out = rewrite(sql).unwrap();
        assert_eq!(out.text.len(), sql.len());
        assert_eq!(out.text.lines().count(), sql.lines().count());
        assert!(!out.text.contains("WATERMARK"));
        assert!(out.text.contains("ts TIMESTAMP(3) "));
        let wm = out.statements[0].watermark.clone().unwrap();
        assert_eq!(wm.column, "ts");
        assert_eq!(wm.expression, "ts - INTERVAL '5' SECOND");
        assert_eq!(wm.after_column.as_deref(), Some("- INTERVAL '5' SECOND"));
        // What is left parses.
        datafusion::sql::parser::DFParserBuilder::new(out.text.as_str())
            .build()
            .unwrap()
            .parse_statements()
            .unwrap();
    }

    #[test]
    fn watermark_first_in_the_list_takes_the_comma_after_it() {
        let sql =
            "CREATE TABLE t (WATERMARK FOR ts AS ts, ts TIMESTAMP(3)) WITH ('connector'='datagen')";
        let out = rewrite(sql).unwrap();
        assert!(out
            .text
            .contains("(                        ts TIMESTAMP(3))"));
    }

    #[test]
    fn window_calls_become_relations() {
        let sql = "SELECT 1;\nSELECT window_start, COUNT(*) FROM TABLE(\n  TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start";
        let out = rewrite(sql).unwrap();
        assert_eq!(out.statements.len(), 2);
        assert!(out.statements[0].windows.is_empty());
        let call = &out.statements[1].windows[0];
        assert_eq!(call.kind, WindowKind::Tumble);
        assert_eq!(call.table, "clicks");
        assert_eq!(call.time_column, "ts");
        assert_eq!(call.intervals, vec!["INTERVAL '1' MINUTE"]);
        assert!(out.text.contains("FROM __eddy_window_0"));
        assert_eq!(out.text.len(), sql.len());
        assert!(out.text.ends_with(" GROUP BY window_start"));
    }

    #[test]
    fn hop_named_arguments_and_session_partitions() {
        let out = rewrite(
            "SELECT * FROM TABLE(HOP(DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), SLIDE => INTERVAL '5' SECOND, SIZE => INTERVAL '10' SECOND)) AS w",
        )
        .unwrap();
        let call = &out.statements[0].windows[0];
        assert_eq!(call.kind, WindowKind::Hop);
        assert_eq!(call.intervals.len(), 2);
        let out = rewrite(
            "SELECT * FROM TABLE(SESSION(TABLE t PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '30' SECOND))",
        )
        .unwrap();
        assert_eq!(out.statements[0].windows[0].partition_by, vec!["user_id"]);
    }

    #[test]
    fn a_wrong_window_call_says_how_to_write_it() {
        let err = rewrite("SELECT * FROM TABLE(TUMBLE(TABLE t, INTERVAL '1' MINUTE))").unwrap_err();
        assert!(err.to_string().contains("DESCRIPTOR(time_column)"), "{err}");
        assert!(err.position().is_some());
    }

    #[test]
    fn empty_statements_are_not_counted() {
        let out = rewrite(";; SELECT 1; ;SELECT 2;").unwrap();
        assert_eq!(out.statements.len(), 2);
    }
}
