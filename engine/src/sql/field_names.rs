//! The name a selected field of a ROW column gets: in Flink, `SELECT person.id FROM t` gives a
//! column `id` — Nexmark's views rely on it (`CREATE VIEW person AS SELECT person.id, …`,
//! then `SELECT id FROM person`). DataFusion would name it `t.person[id]`.
//!
//! So before planning, a selected compound name that reaches into a ROW (`person.id`,
//! `t.person.id`) gets its last part as alias. `t.id`, a table's column, keeps DataFusion's
//! naming (qualified, so `SELECT a.id, b.id` stays valid): a name whose first part is a
//! table or alias of the SELECT's FROM, with two parts, is a column.

use datafusion::sql::parser::Statement as ParsedStatement;
use datafusion::sql::sqlparser::ast::{
    Expr, Query, Select, SelectItem, SetExpr, TableFactor, TableWithJoins, VisitMut, VisitorMut,
};
use std::ops::ControlFlow;

/// Names every selected ROW field of `statement` after the field.
pub(crate) fn name_selected_fields(statement: &mut ParsedStatement) {
    match statement {
        ParsedStatement::Statement(statement) => {
            let _ = statement.visit(&mut FieldNames);
        }
        ParsedStatement::Explain(explain) => name_selected_fields(&mut explain.statement),
        _ => {}
    }
}

struct FieldNames;

impl VisitorMut for FieldNames {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        name_in_set_expr(&mut query.body);
        ControlFlow::Continue(())
    }
}

fn name_in_set_expr(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => name_in_select(select),
        SetExpr::SetOperation { left, right, .. } => {
            name_in_set_expr(left);
            name_in_set_expr(right);
        }
        // Nested queries are visited as queries of their own.
        _ => {}
    }
}

fn name_in_select(select: &mut Select) {
    let relations = relation_names(&select.from);
    for item in &mut select.projection {
        let SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) = item else {
            continue;
        };
        let first_is_relation = parts
            .first()
            .is_some_and(|first| relations.iter().any(|r| r == &first.value));
        let is_field = parts.len() > 2 || (parts.len() == 2 && !first_is_relation);
        if let (true, Some(last)) = (is_field, parts.last().cloned()) {
            let expr = Expr::CompoundIdentifier(std::mem::take(parts));
            *item = SelectItem::ExprWithAlias { expr, alias: last };
        }
    }
}

/// The names a SELECT's FROM gives its relations: aliases, or tables' last name parts.
fn relation_names(from: &[TableWithJoins]) -> Vec<String> {
    let mut names = Vec::new();
    for table in from {
        relation_name(&table.relation, &mut names);
        for join in &table.joins {
            relation_name(&join.relation, &mut names);
        }
    }
    names
}

fn relation_name(factor: &TableFactor, names: &mut Vec<String>) {
    match factor {
        TableFactor::Table { name, alias, .. } => match alias {
            Some(alias) => names.push(alias.name.value.clone()),
            None => {
                if let Some(last) = name.0.last().and_then(|part| part.as_ident()) {
                    names.push(last.value.clone());
                }
            }
        },
        TableFactor::NestedJoin {
            table_with_joins,
            alias,
        } => {
            if let Some(alias) = alias {
                names.push(alias.name.value.clone());
            }
            names.extend(relation_names(std::slice::from_ref(table_with_joins)));
        }
        other => {
            // Derived tables, table functions, UNNEST …: only an alias names them.
            if let Some(alias) = table_factor_alias(other) {
                names.push(alias);
            }
        }
    }
}

fn table_factor_alias(factor: &TableFactor) -> Option<String> {
    match factor {
        TableFactor::Derived { alias, .. }
        | TableFactor::TableFunction { alias, .. }
        | TableFactor::Function { alias, .. }
        | TableFactor::UNNEST { alias, .. } => alias.as_ref().map(|a| a.name.value.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParserBuilder;

    fn named(sql: &str) -> String {
        let mut statements = DFParserBuilder::new(sql)
            .build()
            .unwrap()
            .parse_statements()
            .unwrap();
        let mut statement = statements.pop_front().unwrap();
        name_selected_fields(&mut statement);
        statement.to_string()
    }

    #[test]
    fn a_selected_row_field_is_named_after_the_field() {
        assert_eq!(
            named("SELECT person.id, t.person.name, bid FROM t"),
            "SELECT person.id AS id, t.person.name AS name, bid FROM t"
        );
        assert_eq!(
            named("CREATE VIEW b AS SELECT bid.price FROM datagen WHERE event_type = 2"),
            "CREATE VIEW b AS SELECT bid.price AS price FROM datagen WHERE event_type = 2"
        );
    }

    #[test]
    fn a_tables_column_keeps_its_name() {
        for sql in [
            "SELECT a.id, b.id FROM t AS a JOIN s AS b ON a.k = b.k",
            "SELECT t.id, s.x FROM t, db.s",
            "SELECT q.n FROM (SELECT 1 AS n) AS q",
            "SELECT person.id AS pid FROM t",
        ] {
            assert_eq!(named(sql), sql);
        }
    }

    #[test]
    fn subqueries_and_unions_are_named_too() {
        assert_eq!(
            named("SELECT x FROM (SELECT p.id FROM t) UNION ALL SELECT p.id FROM t"),
            "SELECT x FROM (SELECT p.id AS id FROM t) UNION ALL SELECT p.id AS id FROM t"
        );
    }
}
