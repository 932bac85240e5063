//! Flink's byte-string types in a CAST: `CAST(s AS BYTES)`, `VARBINARY(n)`, `BINARY(n)`.
//! DataFusion's planner knows the type as `BYTEA` only (a table's columns are typed by
//! Eddy's own `types.rs`, which knows all four): before planning, a CAST to any of them
//! becomes a CAST to `BYTEA`, Arrow's Binary.

use datafusion::sql::parser::Statement as ParsedStatement;
use datafusion::sql::sqlparser::ast::{DataType, Expr, VisitMut, VisitorMut};
use std::ops::ControlFlow;

/// Makes every CAST to a byte string a CAST to `BYTEA`.
pub(crate) fn rewrite_cast_types(statement: &mut ParsedStatement) {
    match statement {
        ParsedStatement::Statement(statement) => {
            let _ = statement.visit(&mut ByteStrings);
        }
        ParsedStatement::Explain(explain) => rewrite_cast_types(&mut explain.statement),
        _ => {}
    }
}

struct ByteStrings;

impl VisitorMut for ByteStrings {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Cast { data_type, .. } = expr {
            if matches!(
                data_type,
                DataType::Bytes(_) | DataType::Varbinary(_) | DataType::Binary(_)
            ) {
                *data_type = DataType::Bytea;
            }
        }
        ControlFlow::Continue(())
    }
}
