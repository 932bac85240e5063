//! `TIMESTAMPDIFF(DAY, t1, t2)` and `TIMESTAMPADD(MONTH, n, t)` take a time unit as their first
//! argument, a bare word the parser reads as a column name. Before planning, that word becomes
//! a string literal (`'DAY'`), which Flink's functions (`sql/functions/timestamp_units.rs`)
//! read.

use crate::sql::names::function_name;
use datafusion::sql::parser::Statement as ParsedStatement;
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Value, VisitMut, VisitorMut,
};
use std::ops::ControlFlow;

/// The units the two functions take, as Flink names them.
pub(crate) const UNITS: &[&str] = &[
    "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR",
];

/// Turns the unit word of every `TIMESTAMPDIFF` and `TIMESTAMPADD` call into a string.
pub(crate) fn quote_time_units(statement: &mut ParsedStatement) {
    match statement {
        ParsedStatement::Statement(statement) => {
            let _ = statement.visit(&mut TimeUnits);
        }
        ParsedStatement::Explain(explain) => quote_time_units(&mut explain.statement),
        _ => {}
    }
}

struct TimeUnits;

impl VisitorMut for TimeUnits {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(function) = expr else {
            return ControlFlow::Continue(());
        };
        let name = function_name(function).to_ascii_uppercase();
        if name != "TIMESTAMPDIFF" && name != "TIMESTAMPADD" {
            return ControlFlow::Continue(());
        }
        let FunctionArguments::List(list) = &mut function.args else {
            return ControlFlow::Continue(());
        };
        if let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(first))) = list.args.first_mut() {
            if let Expr::Identifier(ident) = first {
                let unit = ident.value.to_ascii_uppercase();
                if ident.quote_style.is_none() && UNITS.contains(&unit.as_str()) {
                    *first = Expr::value(Value::SingleQuotedString(unit));
                }
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParserBuilder;

    fn quoted(sql: &str) -> String {
        let mut statement = DFParserBuilder::new(sql)
            .build()
            .unwrap()
            .parse_statements()
            .unwrap()
            .pop_front()
            .unwrap();
        quote_time_units(&mut statement);
        statement.to_string()
    }

    #[test]
    fn the_unit_word_becomes_a_string() {
        assert_eq!(
            quoted("SELECT TIMESTAMPDIFF(day, a, b), timestampadd(MONTH, 1, a) FROM t"),
            "SELECT TIMESTAMPDIFF('DAY', a, b), timestampadd('MONTH', 1, a) FROM t"
        );
        // A column that happens to be called like a unit elsewhere stays a column.
        assert_eq!(quoted("SELECT day FROM t"), "SELECT day FROM t");
    }
}
