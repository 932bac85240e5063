//! How deep an expression may be, decided from the tokens before anything is parsed.
//!
//! The parser builds a chain of infix operators (`1 + 1 + … + 1`, `a = 1 OR a = 2 OR …`) in a
//! loop, as a tree one level deeper per operator; everything after it — DataFusion's planner
//! and optimizer, and dropping the tree — walks that tree recursively. Far enough down, that
//! overflows the thread's stack, which aborts the process: it cannot be caught like a panic.
//! Nesting by parentheses, function calls and subqueries is bounded by the parser itself (its
//! recursion limit); chains of operators are not, so they are bounded here.
//!
//! The bound is counted on tokens, in one pass that keeps nothing but a stack of open
//! parentheses: within one list item (between commas at the same level) every operator
//! token counts one, and a parenthesised group adds its own deepest item. That is never less
//! than the tree's depth, so a statement under the limit is safe to plan.
//!
//! Subqueries used as expressions (`(SELECT …)`, `IN (SELECT …)`, `EXISTS (SELECT …)`) nested
//! in one another are bounded too, on the parsed statement: DataFusion's planning time doubles
//! with each level ([`MAX_NESTED_SUBQUERIES`]). Subqueries in FROM nest cheaply, up to the
//! parser's recursion limit.

use crate::error::{EngineError, Position};
use datafusion::sql::sqlparser::ast::{Expr, Spanned, Visit, Visitor};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use std::ops::ControlFlow;

/// Operators one expression may chain (nesting included). Below the stack, time sets it:
/// DataFusion works out the type of each node of a chain from its whole subtree, so planning
/// a chain of n arithmetic operators takes time quadratic in n — a 3,000-term sum plans in
/// about 24 s in a debug build and 3 s in a release build here; 6,000 comparisons joined by
/// OR, typed without that walk, in well under that. 3,000 `col = v` terms joined by OR
/// (5,999 operators) fit.
pub const MAX_CHAINED_OPERATORS: usize = 6_000;

/// The stack a thread needs to parse, plan and run statements up to
/// [`MAX_CHAINED_OPERATORS`], with room to spare in a debug build: whoever drives the engine
/// runs it on threads this large (the memory is reserved, and only touched when used).
/// `tests/kernel_limits.rs` runs a chain one operator under the limit through the kernel.
pub const STACK_SIZE: usize = 256 << 20;

/// Subqueries one expression may nest in one another. Planning time doubles with each level:
/// through the kernel's debug build, 12 levels planned in 0.3 s, 14 in 1.3 s, 16 in 4.7 s and
/// 18 in 19 s (each level a scalar subquery; `IN (SELECT …)` the same).
pub const MAX_NESTED_SUBQUERIES: usize = 16;

/// Refuses a parsed statement with subqueries nested more than `limit` deep in its
/// expressions, pointing at the first one past the limit.
pub(crate) fn check_nested_subqueries(
    statement: &datafusion::sql::sqlparser::ast::Statement,
    limit: usize,
) -> Result<(), EngineError> {
    let mut depth = SubqueryDepth {
        limit,
        open: 0,
        too_deep: None,
    };
    let _ = statement.visit(&mut depth);
    match depth.too_deep {
        None => Ok(()),
        Some(at) => Err(EngineError::Limit {
            message: format!(
                "subqueries are nested more than {limit} deep in an expression: DataFusion's \
                 planning time doubles with each level"
            ),
            position: (at.line > 0).then_some(Position {
                line: at.line as usize,
                column: at.column as usize,
            }),
            hint: Some(
                "write the inner queries as joins (or as WITH … AS (…) tables that are \
                 joined), or compute the inner results into a table first"
                    .to_string(),
            ),
        }),
    }
}

/// Counts the subqueries open around each expression while a statement is walked.
struct SubqueryDepth {
    limit: usize,
    open: usize,
    too_deep: Option<datafusion::sql::sqlparser::tokenizer::Location>,
}

fn is_subquery(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Subquery(_) | Expr::InSubquery { .. } | Expr::Exists { .. }
    )
}

impl Visitor for SubqueryDepth {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if is_subquery(expr) {
            self.open += 1;
            if self.open > self.limit {
                self.too_deep = Some(expr.span().start);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if is_subquery(expr) {
            self.open -= 1;
        }
        ControlFlow::Continue(())
    }
}

/// Refuses a statement whose expressions chain more than `limit` operators, naming the place
/// where the count passed the limit and saying how to write the query instead. Text the
/// tokenizer rejects passes: the parser reports that error with its position.
pub(crate) fn check_chained_operators(sql: &str, limit: usize) -> Result<(), EngineError> {
    let dialect = GenericDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize_with_location() else {
        return Ok(());
    };
    // One entry per open parenthesis or bracket (the first is the statement itself): the
    // operators in the current list item, and the deepest group already closed inside it.
    let mut levels: Vec<Level> = vec![Level::default()];
    for token in &tokens {
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
        Token::EOF
        | Token::Number(..)
        | Token::Char(_)
        | Token::SingleQuotedString(_)
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
    use datafusion::sql::parser::DFParserBuilder;

    fn nested(depth: usize) -> String {
        format!(
            "SELECT 1 WHERE 1 IN {}(SELECT 1){}",
            "(SELECT 1 WHERE 1 IN ".repeat(depth - 1),
            ")".repeat(depth - 1)
        )
    }

    fn check_nesting(sql: &str, limit: usize) -> Result<(), EngineError> {
        let mut statements = DFParserBuilder::new(sql)
            .build()
            .unwrap()
            .parse_statements()
            .unwrap();
        let Some(datafusion::sql::parser::Statement::Statement(statement)) = statements.pop_front()
        else {
            panic!("{sql}");
        };
        check_nested_subqueries(&statement, limit)
    }

    #[test]
    fn subqueries_nest_up_to_the_limit_and_one_more_is_refused_where_it_starts() {
        assert!(check_nesting(&nested(4), 4).is_ok());
        let error = check_nesting(&nested(5), 4).unwrap_err();
        assert!(error.to_string().contains("more than 4 deep"), "{error}");
        // The error points at the fifth subquery expression: `1 IN (SELECT 1)`.
        let column = nested(5).match_indices("1 IN (SELECT 1)").next().unwrap().0 + 1;
        assert_eq!(
            error.position().map(|p| p.column),
            Some(column),
            "{error:?}"
        );
        // Side by side is not nested; nor are subqueries in FROM.
        let wide = format!("SELECT {}", ["(SELECT 1)"; 10].join(", "));
        assert!(check_nesting(&wide, 4).is_ok());
        let from = format!(
            "{}SELECT 1 AS x{}",
            "SELECT * FROM (".repeat(8),
            ") t".repeat(8)
        );
        assert!(check_nesting(&from, 4).is_ok());
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

    #[test]
    fn text_the_tokenizer_rejects_is_left_to_the_parser() {
        assert!(check_chained_operators("SELECT 'open", 1).is_ok());
    }
}
