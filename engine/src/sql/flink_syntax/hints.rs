//! Flink's hints, written as comments: `FROM t /*+ OPTIONS('k' = 'v') */` reads `t` with
//! options of its declaration put in place for this statement only (dynamic table options),
//! and `INSERT INTO t /*+ OPTIONS(…) */` writes it so. DataFusion's parser skips comments,
//! so without this a hint would be dropped silently: each `OPTIONS` hint is cut out here with
//! the table it follows, and that table reference becomes the name of a relation the session
//! declares for the statement (`session/options_hints.rs`).
//!
//! Join strategy hints (`BROADCAST`, `SHUFFLE_HASH`, `SHUFFLE_MERGE`, `NEST_LOOP`) change how
//! Flink runs a join, not its result, and are left alone; a hint that would change results and
//! that Eddy does not apply (`STATE_TTL`, `LOOKUP`) fails the statement, naming it.

use super::{blank, name_ending_at, syntax, Tok};
use crate::error::{EngineError, Position};
use datafusion::sql::sqlparser::ast::Ident;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Whitespace};
use std::collections::BTreeMap;

/// A `/*+ … */` comment, where it is in the text.
pub(super) struct HintComment {
    /// What follows the `+`.
    pub(super) body: String,
    pub(super) end: usize,
    pub(super) position: Position,
    /// How many tokens (whitespace and comments not counted) come before it.
    pub(super) after_tokens: usize,
}

impl HintComment {
    /// The comment, if `token` is a hint.
    pub(super) fn of(token: &Token) -> Option<String> {
        match token {
            Token::Whitespace(Whitespace::MultiLineComment(body)) => {
                body.strip_prefix('+').map(str::to_string)
            }
            _ => None,
        }
    }
}

/// `table /*+ OPTIONS('k' = 'v', …) */`, replaced in the text by `relation`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OptionsHint {
    /// The table the hint follows, part by part.
    pub(crate) table: Vec<Ident>,
    /// The options, keys in lower case as a WITH clause's.
    pub(crate) options: BTreeMap<String, String>,
    /// The name the table reference was replaced with.
    pub(crate) relation: String,
    pub(crate) position: Position,
}

/// Hints that choose how a join runs, not what it gives: safe to leave to the engine.
const JOIN_STRATEGY_HINTS: [&str; 4] = ["BROADCAST", "SHUFFLE_HASH", "SHUFFLE_MERGE", "NEST_LOOP"];

/// Cuts every OPTIONS hint of a statement (the segment `toks[first..]` of the cell's tokens)
/// out of `text`, with the table name before it.
pub(super) fn cut_hints(
    toks: &[Tok],
    segment_range: std::ops::Range<usize>,
    comments: &[HintComment],
    text: &mut String,
    count: &mut usize,
) -> Result<Vec<OptionsHint>, EngineError> {
    let mut hints = Vec::new();
    for comment in comments
        .iter()
        .filter(|c| segment_range.contains(&c.after_tokens) || c.after_tokens == segment_range.end)
    {
        for (name, arguments) in hint_calls(comment)? {
            let upper = name.to_ascii_uppercase();
            if JOIN_STRATEGY_HINTS.contains(&upper.as_str()) {
                continue;
            }
            if upper != "OPTIONS" {
                return Err(EngineError::NotSupported {
                    message: format!(
                        "the hint {upper} is not supported (Eddy applies OPTIONS hints, and \
                         leaves join strategy hints to its planner)"
                    ),
                });
            }
            let options = options(&arguments, comment.position)?;
            let (table, first) = table_before(toks, segment_range.start, comment)?;
            let relation = format!("__eddy_hint_{count}");
            *count += 1;
            // `FROM t /*+ … */` keeps `t` as the name the query uses, unless an alias follows;
            // an INSERT's target takes no alias.
            let follower = toks.get(comment.after_tokens);
            let has_alias = follower.is_some_and(|t| match &t.token {
                Token::Word(w) => {
                    w.quote_style.is_some()
                        || t.is_word("AS")
                        || datafusion::sql::sqlparser::keywords::RESERVED_FOR_TABLE_ALIAS
                            .iter()
                            .all(|k| *k != w.keyword)
                }
                _ => false,
            });
            let is_target = first > 0 && toks[first - 1].is_word("INTO");
            let replacement = if has_alias || is_target {
                relation.clone()
            } else {
                let short = table
                    .last()
                    .map(|part| part.to_string())
                    .unwrap_or_default();
                format!("{relation} AS {short}")
            };
            blank(text, toks[first].start, comment.end, &replacement);
            hints.push(OptionsHint {
                table,
                options,
                relation,
                position: comment.position,
            });
        }
    }
    Ok(hints)
}

/// The table name right before a hint: words joined by periods, after FROM, JOIN, INTO, a
/// comma or a parenthesis. Returns its parts and the index of its first token.
fn table_before(
    toks: &[Tok],
    segment_start: usize,
    comment: &HintComment,
) -> Result<(Vec<Ident>, usize), EngineError> {
    let misplaced = || {
        syntax(
            "an OPTIONS hint follows the name of a table: FROM t /*+ OPTIONS('k' = 'v') */".into(),
            comment.position,
        )
    };
    let (parts, at) =
        name_ending_at(toks, segment_start, comment.after_tokens).ok_or_else(misplaced)?;
    let before_ok = at > segment_start
        && (["FROM", "JOIN", "INTO"]
            .iter()
            .any(|w| toks[at - 1].is_word(w))
            || toks[at - 1].token == Token::Comma);
    if !before_ok {
        return Err(misplaced());
    }
    Ok((parts, at))
}

/// The calls of a hint comment: `OPTIONS('a' = 'b'), BROADCAST(t)` → name and argument tokens.
fn hint_calls(comment: &HintComment) -> Result<Vec<(String, Vec<Token>)>, EngineError> {
    let malformed = || {
        syntax(
            "a hint is written /*+ NAME(arguments) */, e.g. /*+ OPTIONS('k' = 'v') */".into(),
            comment.position,
        )
    };
    let tokens = Tokenizer::new(&GenericDialect {}, &comment.body)
        .tokenize()
        .map_err(|_| malformed())?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect::<Vec<_>>();
    let mut calls = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let Token::Word(name) = &tokens[i] else {
            return Err(malformed());
        };
        if tokens.get(i + 1) != Some(&Token::LParen) {
            return Err(malformed());
        }
        let mut depth = 0;
        let mut close = None;
        for (j, t) in tokens.iter().enumerate().skip(i + 1) {
            match t {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(j);
                        break;
                    }
                }
                _ => {}
            }
        }
        let close = close.ok_or_else(malformed)?;
        calls.push((name.value.clone(), tokens[i + 2..close].to_vec()));
        i = close + 1;
        if tokens.get(i) == Some(&Token::Comma) {
            i += 1;
        }
    }
    Ok(calls)
}

/// `'k' = 'v', …`.
fn options(
    arguments: &[Token],
    position: Position,
) -> Result<BTreeMap<String, String>, EngineError> {
    let malformed = || {
        syntax(
            "OPTIONS takes 'key' = 'value' pairs: /*+ OPTIONS('rows-per-second' = '10') */".into(),
            position,
        )
    };
    let mut options = BTreeMap::new();
    for pair in arguments.split(|t| *t == Token::Comma) {
        let [Token::SingleQuotedString(key), Token::Eq, value] = pair else {
            return Err(malformed());
        };
        let value = match value {
            Token::SingleQuotedString(v) => v.clone(),
            Token::Number(n, _) => n.clone(),
            Token::Word(w) if w.quote_style.is_none() => w.value.clone(),
            _ => return Err(malformed()),
        };
        options.insert(key.to_ascii_lowercase(), value);
    }
    if options.is_empty() {
        return Err(malformed());
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use crate::sql::flink_syntax::rewrite;

    fn left(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn an_options_hint_names_a_relation_in_the_tables_place() {
        let sql = "SELECT * FROM db.t /*+ OPTIONS('rows-per-second' = '5', 'Number-Of-Rows'='3') */ WHERE a = 1";
        let out = rewrite(sql).unwrap();
        assert_eq!(
            left(&out.text),
            "SELECT * FROM __eddy_hint_0 AS t WHERE a = 1"
        );
        let hint = &out.statements[0].hints[0];
        let table: Vec<&str> = hint.table.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(table, ["db", "t"]);
        assert_eq!(hint.options["number-of-rows"], "3");
        assert_eq!(hint.options["rows-per-second"], "5");
    }

    #[test]
    fn an_alias_and_an_insert_target_are_kept_as_written() {
        let out = rewrite(
            "INSERT INTO s /*+ OPTIONS('print-identifier' = 'x') */ SELECT * FROM t /*+ OPTIONS('a' = 'b') */ AS u JOIN v /*+ OPTIONS('c' = 'd') */ w ON u.k = w.k",
        )
        .unwrap();
        assert_eq!(
            left(&out.text),
            "INSERT INTO __eddy_hint_0 SELECT * FROM __eddy_hint_1 AS u JOIN __eddy_hint_2 w ON u.k = w.k"
        );
        assert_eq!(out.statements[0].hints.len(), 3);
    }

    #[test]
    fn join_strategy_hints_are_left_and_others_refused() {
        let out = rewrite("SELECT /*+ BROADCAST(t) */ * FROM t JOIN u ON t.k = u.k").unwrap();
        assert!(out.statements[0].hints.is_empty());
        for (sql, expected) in [
            (
                "SELECT /*+ STATE_TTL('t' = '1d') */ * FROM t",
                "the hint STATE_TTL is not supported",
            ),
            (
                "SELECT * FROM t /*+ OPTIONS() */",
                "OPTIONS takes 'key' = 'value' pairs",
            ),
            (
                "SELECT * FROM t /*+ OPTIONS('a') */",
                "OPTIONS takes 'key' = 'value' pairs",
            ),
            ("SELECT * FROM t /*+ OPTIONS */", "a hint is written"),
            (
                "SELECT 1 /*+ OPTIONS('a' = 'b') */",
                "an OPTIONS hint follows the name of a table",
            ),
        ] {
            let error = rewrite(sql).unwrap_err().to_string();
            assert!(error.contains(expected), "{sql}: {error}");
        }
    }

    #[test]
    fn a_plain_comment_is_not_a_hint() {
        let out = rewrite("SELECT * FROM t /* OPTIONS('a' = 'b') */").unwrap();
        assert!(out.statements[0].hints.is_empty());
    }
}
