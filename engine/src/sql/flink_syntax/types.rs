//! Flink's nested type names, as DataFusion's parser reads them: `ROW<name TYPE, …>` and
//! `ROW(name TYPE, …)` become `STRUCT<…>`, and `MAP<K, V>` becomes `MAP(K, V)` (the
//! parser's generic dialect knows `ARRAY<T>` as it is). The rewrite is on a statement's
//! tokens, each kept at its place in the cell, so positions in errors do not move.
//!
//! `ROW(` is a type only where a field list follows (`ROW(id BIGINT, …)`); `ROW(1, 'a')` and
//! `ROW(a, b)` are Flink's row constructor and stay as they are.

use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan};

/// An open bracket of a type, and how it closes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    /// `STRUCT<`, `ARRAY<` (and `ROW<`, written as `STRUCT<`): closes with `>`.
    Angle,
    /// `MAP<`, written as `MAP(`: its `>` is written `)`.
    Map,
    /// `ROW(`, written as `STRUCT<`: its `)` is written `>`.
    Row,
    /// A parenthesis inside a type (`DECIMAL(10, 2)`, `TIMESTAMP(3)`).
    Paren,
}

/// The statement's tokens with Flink's nested type names written as the parser reads them.
pub(crate) fn rewrite_nested_types(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    if !tokens
        .iter()
        .any(|t| is_word(&t.token, "ROW") || is_word(&t.token, "MAP"))
    {
        return tokens;
    }
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
        .collect();
    // The next and previous significant token of each token.
    let mut next_of = vec![None; tokens.len()];
    let mut previous_of = vec![None; tokens.len()];
    for pair in significant.windows(2) {
        next_of[pair[0]] = Some(pair[1]);
        previous_of[pair[1]] = Some(pair[0]);
    }
    let mut out = Vec::with_capacity(tokens.len());
    let mut stack: Vec<Open> = Vec::new();
    let mut pending: Option<Open> = None;
    for (i, item) in tokens.iter().enumerate() {
        let next = next_of[i].map(|n| &tokens[n].token);
        let mut emit = |token: Token| {
            out.push(TokenWithSpan {
                token,
                span: item.span,
            })
        };
        match &item.token {
            Token::Word(_)
                if next == Some(&Token::Lt)
                    && type_word(&item.token).is_some()
                    && (!stack.is_empty()
                        || in_type_position(previous_of[i].map(|p| &tokens[p].token))) =>
            {
                let (word, open) = type_word(&item.token).unwrap_or(("STRUCT", Open::Angle));
                pending = Some(open);
                emit(Token::make_keyword(word));
            }
            Token::Word(_)
                if is_word(&item.token, "ROW")
                    && next == Some(&Token::LParen)
                    && field_list_follows(&tokens, &next_of, i) =>
            {
                pending = Some(Open::Row);
                emit(Token::make_keyword("STRUCT"));
            }
            Token::Lt if pending.is_some() => {
                let open = pending.take().unwrap_or(Open::Angle);
                stack.push(open);
                emit(if open == Open::Map {
                    Token::LParen
                } else {
                    Token::Lt
                });
            }
            Token::LParen if pending == Some(Open::Row) => {
                pending = None;
                stack.push(Open::Row);
                emit(Token::Lt);
            }
            Token::LParen if !stack.is_empty() => {
                stack.push(Open::Paren);
                emit(Token::LParen);
            }
            Token::RParen if matches!(stack.last(), Some(Open::Row | Open::Paren)) => {
                let open = stack.pop();
                emit(if open == Some(Open::Row) {
                    Token::Gt
                } else {
                    Token::RParen
                });
            }
            Token::Gt if matches!(stack.last(), Some(Open::Angle | Open::Map)) => {
                let open = stack.pop();
                emit(close_angle(open));
            }
            // `ARRAY<MAP<K, V>>`: the tokenizer reads the two closing brackets as one.
            Token::ShiftRight if matches!(stack.last(), Some(Open::Angle | Open::Map)) => {
                let inner = stack.pop();
                emit(close_angle(inner));
                match stack.last() {
                    Some(Open::Angle | Open::Map) => {
                        let outer = stack.pop();
                        emit(close_angle(outer));
                    }
                    _ => emit(Token::Gt),
                }
            }
            Token::Whitespace(_) => emit(item.token.clone()),
            other => {
                pending = None;
                emit(other.clone());
            }
        }
    }
    out
}

/// Whether a type name can stand after `previous`: after a column's name (a CREATE TABLE's
/// column list) or `AS` (a CAST), not where an expression starts — so a column named `map`
/// compared with `<` (`WHERE map < 3`) stays a comparison.
fn in_type_position(previous: Option<&Token>) -> bool {
    const EXPRESSION_STARTS: &[Keyword] = &[
        Keyword::SELECT,
        Keyword::WHERE,
        Keyword::AND,
        Keyword::OR,
        Keyword::NOT,
        Keyword::ON,
        Keyword::WHEN,
        Keyword::THEN,
        Keyword::ELSE,
        Keyword::HAVING,
        Keyword::BY,
        Keyword::RETURN,
        Keyword::DISTINCT,
        Keyword::ALL,
        Keyword::CASE,
        Keyword::IN,
        Keyword::IS,
        Keyword::LIKE,
        Keyword::BETWEEN,
    ];
    match previous {
        Some(Token::Word(w)) => w.quote_style.is_some() || !EXPRESSION_STARTS.contains(&w.keyword),
        _ => false,
    }
}

fn close_angle(open: Option<Open>) -> Token {
    if open == Some(Open::Map) {
        Token::RParen
    } else {
        Token::Gt
    }
}

/// A type name followed by `<`: the name the parser reads, and how its bracket closes.
fn type_word(token: &Token) -> Option<(&'static str, Open)> {
    if is_word(token, "ROW") || is_word(token, "STRUCT") {
        Some(("STRUCT", Open::Angle))
    } else if is_word(token, "ARRAY") {
        Some(("ARRAY", Open::Angle))
    } else if is_word(token, "MAP") {
        Some(("MAP", Open::Map))
    } else {
        None
    }
}

fn is_word(token: &Token, word: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// Whether `ROW(` at `row` opens a list of fields, `name TYPE` (not values: `ROW(1, a)`).
fn field_list_follows(tokens: &[TokenWithSpan], next_of: &[Option<usize>], row: usize) -> bool {
    let Some(paren) = next_of[row] else {
        return false;
    };
    let Some(name) = next_of[paren] else {
        return false;
    };
    let Some(kind) = next_of[name] else {
        return false;
    };
    matches!(tokens[name].token, Token::Word(_))
        && matches!(&tokens[kind].token, Token::Word(w) if w.keyword != Keyword::AS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::Tokenizer;

    /// The text the parser reads once `sql` is rewritten.
    fn rewritten(sql: &str) -> String {
        let tokens = Tokenizer::new(&GenericDialect {}, sql)
            .tokenize_with_location()
            .unwrap();
        rewrite_nested_types(tokens)
            .iter()
            .map(|t| t.token.to_string())
            .collect()
    }

    #[test]
    fn flink_nested_types_become_the_parsers() {
        assert_eq!(
            rewritten("person ROW<id BIGINT, name VARCHAR>"),
            "person STRUCT<id BIGINT, name VARCHAR>"
        );
        assert_eq!(
            rewritten("p ROW(id BIGINT, at TIMESTAMP(3))"),
            "p STRUCT<id BIGINT, at TIMESTAMP(3)>"
        );
        assert_eq!(rewritten("m MAP<STRING, INT>"), "m MAP(STRING, INT)");
        assert_eq!(
            rewritten("a ARRAY<MAP<STRING, ROW<x DECIMAL(10, 2)>>>"),
            "a ARRAY<MAP(STRING, STRUCT<x DECIMAL(10, 2)>)>"
        );
        assert_eq!(
            rewritten("a ARRAY<ROW(x INT, y ARRAY<INT>)>"),
            "a ARRAY<STRUCT<x INT, y ARRAY<INT>>>"
        );
    }

    #[test]
    fn row_values_and_comparisons_stay() {
        for sql in [
            "SELECT ROW(1, 'a'), ROW(a, b) FROM t",
            "SELECT * FROM t WHERE (a, b) IN (ROW(1, 2))",
            "SELECT x < 3, y > 2 FROM t",
            "SELECT map < 3, map > 2 FROM t WHERE map < 4 AND (map < 5)",
            "SELECT ARRAY[1] FROM t WHERE row < 2",
        ] {
            assert_eq!(rewritten(sql), sql);
        }
    }
}
