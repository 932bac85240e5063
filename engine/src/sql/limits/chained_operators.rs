//! Chains of infix operators (`1 + 1 + … + 1`, `a = 1 OR a = 2 OR …`), counted on tokens.
//!
//! The parser builds such a chain in a loop, as a tree one level deeper per operator;
//! everything after it — DataFusion's planner and optimizer, and dropping the tree — walks
//! that tree recursively. Far enough down, that overflows the thread's stack, which aborts
//! the process: it cannot be caught like a panic.
//!
//! The bound is counted in one pass that keeps nothing but a stack of open parentheses:
//! within one list item (between commas at the same level) every operator token counts one,
//! and a parenthesised group adds its own deepest item. That is never less than the tree's
//! depth, so a statement under the limit is safe to plan.

use super::is_string_literal;
use crate::error::{EngineError, Position};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan};

/// Refuses a statement whose expressions chain more than `limit` operators, naming the place
/// where the count passed the limit and saying how to write the query instead.
pub(super) fn check(tokens: &[TokenWithSpan], limit: usize) -> Result<(), EngineError> {
    // One entry per open parenthesis or bracket (the first is the statement itself): the
    // operators in the current list item, and the deepest group already closed inside it.
    let mut levels: Vec<Level> = vec![Level::default()];
    for token in tokens {
        match &token.token {
            Token::LParen | Token::LBracket | Token::LBrace => {
                let base = levels.last().map_or(0, Level::depth);
                levels.push(Level {
                    base,
                    ..Level::default()
                });
            }
            Token::RParen | Token::RBracket | Token::RBrace if levels.len() > 1 => {
                let closed = levels.pop().unwrap_or_default();
                let depth = closed.deepest().saturating_add(1);
                if let Some(outer) = levels.last_mut() {
                    outer.inner = outer.inner.max(depth);
                }
            }
            Token::Comma | Token::SemiColon => {
                if let Some(level) = levels.last_mut() {
                    level.end_item();
                }
            }
            other if is_operator(other) => {
                let Some(level) = levels.last_mut() else {
                    continue;
                };
                level.operators += 1;
                if level.depth() > limit {
                    return Err(too_deep(limit, token.span.start));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[derive(Debug, Default, Clone, Copy)]
struct Level {
    /// The depth of the enclosing list items where this group opened.
    base: usize,
    /// Operator tokens in the current list item.
    operators: usize,
    /// The deepest group closed inside the current list item.
    inner: usize,
    /// The deepest list item already ended at this level.
    ended: usize,
}

impl Level {
    fn end_item(&mut self) {
        self.ended = self.deepest();
        self.operators = 0;
        self.inner = 0;
    }

    /// How deep the tree is here, counting the enclosing groups.
    fn depth(&self) -> usize {
        self.base + self.operators + self.inner
    }

    fn deepest(&self) -> usize {
        self.ended.max(self.operators + self.inner)
    }
}

/// A token that joins two expressions (or ends one, like `IS NULL`) in a loop of the
/// parser, making the tree one level deeper.
fn is_operator(token: &Token) -> bool {
    match token {
        Token::Word(word) => {
            word.quote_style.is_none()
                && matches!(
                    word.keyword,
                    Keyword::AND
                        | Keyword::OR
                        | Keyword::XOR
                        | Keyword::NOT
                        | Keyword::IS
                        | Keyword::LIKE
                        | Keyword::ILIKE
                        | Keyword::SIMILAR
                        | Keyword::BETWEEN
                        | Keyword::IN
                        | Keyword::COLLATE
                        | Keyword::AT
                        | Keyword::DIV
                        | Keyword::REGEXP
                        | Keyword::RLIKE
                        | Keyword::OVERLAPS
                )
        }
        token if is_string_literal(token) => false,
        Token::EOF
        | Token::Number(..)
        | Token::Char(_)
        | Token::Placeholder(_)
        | Token::Comma
        | Token::Whitespace(_)
        | Token::LParen
        | Token::RParen
        | Token::LBracket
        | Token::RBracket
        | Token::LBrace
        | Token::RBrace
        | Token::Period
        | Token::SemiColon => false,
        // Every other symbol is an operator of some dialect: counting one too many only
        // makes the bound looser.
        _ => true,
    }
}

fn too_deep(limit: usize, at: datafusion::sql::sqlparser::tokenizer::Location) -> EngineError {
    EngineError::Limit {
        message: format!(
            "an expression chains more than {limit} operators (AND, OR, +, =, …), more than \
             Eddy plans safely"
        ),
        position: (at.line > 0).then_some(Position {
            line: at.line as usize,
            column: at.column as usize,
        }),
        hint: Some(
            "write a long OR of equalities as `col IN (v1, v2, …)`, keep long lists of values \
             in a table (CREATE TABLE … AS VALUES, or %table with CSV lines) and JOIN it, or \
             add up many terms with SUM over such a table"
                .to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::limits::tokens;

    fn check_chained_operators(sql: &str, limit: usize) -> Result<(), EngineError> {
        check(&tokens(sql).expect("test SQL tokenizes"), limit)
    }

    fn chain(term: &str, op: &str, n: usize) -> String {
        vec![term; n].join(op)
    }

    #[test]
    fn a_chain_over_the_limit_is_refused_where_it_passes_the_limit() {
        let sql = format!("SELECT {}", chain("1", " + ", 101));
        let Err(error) = check_chained_operators(&sql, 99) else {
            panic!("101 terms (100 operators) passed a limit of 99");
        };
        assert!(matches!(error, EngineError::Limit { .. }), "{error:?}");
        assert!(
            error.to_string().contains("more than 99 operators"),
            "{error}"
        );
        // The 100th `+` is the first past the limit: "SELECT " + 99 × "1 + " + "1 ".
        assert_eq!(
            error.position(),
            Some(Position {
                line: 1,
                column: 8 + 99 * 4 + 2
            })
        );
        assert!(check_chained_operators(&sql, 100).is_ok());
    }

    #[test]
    fn list_items_count_apart_and_groups_add_their_deepest_item() {
        // Wide but shallow: 10,000 items of one operator each.
        let wide = format!("SELECT {}", chain("a + 1", ", ", 10_000));
        assert!(check_chained_operators(&wide, 2).is_ok());
        let in_list = format!("SELECT 1 WHERE x IN ({})", chain("-1", ", ", 100_000));
        assert!(check_chained_operators(&in_list, 3).is_ok());
        // Deep: each group holds a chain, and the chains add up through the nesting.
        let nested = "SELECT (1 + (2 + 3 + (4 + 5 + 6)))";
        assert!(check_chained_operators(nested, 5).is_ok());
        assert!(check_chained_operators(nested, 4).is_err());
        // Statements are counted apart.
        let two = format!("SELECT {0}; SELECT {0}", chain("1", "+", 6));
        assert!(check_chained_operators(&two, 5).is_ok());
    }

    #[test]
    fn or_chains_count_both_their_ors_and_their_comparisons() {
        let sql = format!("SELECT 1 WHERE {}", chain("x = 1", " OR ", 3_000));
        assert!(check_chained_operators(&sql, 5_999).is_ok());
        assert!(check_chained_operators(&sql, 5_998).is_err());
    }
}
