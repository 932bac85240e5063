//! Subqueries used as expressions (`(SELECT …)`, `IN (SELECT …)`, `EXISTS (SELECT …)`) nested
//! in one another, counted on the parsed statement: DataFusion's planning time doubles with
//! each level. Subqueries in FROM nest cheaply, up to the parser's recursion limit.

use crate::error::{EngineError, Position};
use datafusion::sql::sqlparser::ast::{Expr, Spanned, Visit, Visitor};
use std::ops::ControlFlow;

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
}
