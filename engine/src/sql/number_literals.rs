//! Number literals as Flink types them: `0.908` is a DECIMAL(3, 3) (the session parses
//! literals with a decimal point as decimals, `session/context.rs`), and a literal with an
//! exponent, `1e3`, is a DOUBLE. DataFusion would make `1e3` a decimal of negative scale,
//! which Parquet and several kernels do not take: it is cast to DOUBLE before planning.

use datafusion::sql::parser::Statement as ParsedStatement;
use datafusion::sql::sqlparser::ast::{
    CastKind, DataType, ExactNumberInfo, Expr, Value, VisitMut, VisitorMut,
};
use std::ops::ControlFlow;

/// Makes every exponent literal of `statement` a DOUBLE.
pub(crate) fn type_exponent_literals(statement: &mut ParsedStatement) {
    match statement {
        ParsedStatement::Statement(statement) => {
            let _ = statement.visit(&mut ExponentLiterals);
        }
        ParsedStatement::Explain(explain) => type_exponent_literals(&mut explain.statement),
        _ => {}
    }
}

struct ExponentLiterals;

impl VisitorMut for ExponentLiterals {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let is_exponent = matches!(expr, Expr::Value(value)
            if matches!(&value.value, Value::Number(text, _) if text.contains(['e', 'E'])));
        if is_exponent {
            let literal = std::mem::replace(expr, Expr::value(Value::Null));
            *expr = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(literal),
                data_type: DataType::Double(ExactNumberInfo::None),
                array: false,
                format: None,
            };
        }
        ControlFlow::Continue(())
    }
}
