//! `FROM t /*+ OPTIONS('k' = 'v') */`: Flink's dynamic table options. For each hint the
//! statement reads (or writes) a relation declared like `t` with the hint's options put in
//! place of `t`'s, for that statement only (`statement_relations.rs`).

use super::statement_relations::StatementRelations;
use super::{is_create_view, Engine};
use crate::connectors::ConnectorOptions;
use crate::error::EngineError;
use crate::sql::flink_syntax::OptionsHint;
use crate::sql::names;
use datafusion::sql::parser::Statement as ParsedStatement;
use datafusion::sql::sqlparser::ast::{Ident, ObjectName};

impl Engine {
    /// Declares the relation of every OPTIONS hint of a statement into `declared`.
    pub(super) fn declare_hinted_tables(
        &self,
        hints: &[OptionsHint],
        parsed: &ParsedStatement,
        declared: &mut StatementRelations<'_>,
    ) -> Result<(), EngineError> {
        let Some(first) = hints.first() else {
            return Ok(());
        };
        if is_create_view(parsed) {
            return Err(EngineError::Plan {
                message: "a view cannot keep an OPTIONS hint".into(),
                position: Some(first.position),
                hint: Some(
                    "declare a table with those options, CREATE TEMPORARY TABLE t2 WITH (…) \
                     LIKE t, and make the view over it"
                        .into(),
                ),
            });
        }
        for hint in hints {
            let table = names::table_reference(ObjectName::from(hint.table.clone()))?;
            let about = |message: String| EngineError::Plan {
                message: format!("the OPTIONS hint on {table}: {message}"),
                position: Some(hint.position),
                hint: None,
            };
            let Some((ddl, options)) = self.catalog.ddl(&table.to_string()) else {
                return Err(about(if self.ctx.table_exist(table.clone())? {
                    format!(
                        "{table} was not declared with CREATE TABLE … WITH ('connector' = …), \
                         so it has no options to change"
                    )
                } else {
                    format!("there is no table {table}")
                }));
            };
            let options = options.into_iter().chain(hint.options.clone()).collect();
            let mut create = ddl.create.clone();
            create.name = ObjectName::from(vec![Ident::new(&hint.relation)]);
            create.or_replace = true;
            create.if_not_exists = false;
            self.create_connector_table(&create, ConnectorOptions::new(options), &ddl.flink)
                .map_err(|error| {
                    about(
                        error
                            .to_string()
                            .replace(&hint.relation, &table.to_string()),
                    )
                })?;
            declared.declared(&hint.relation);
        }
        self.planning.invalidate();
        Ok(())
    }
}
