//! `CREATE [TEMPORARY] VIEW v AS SELECT …` over a stream (or over another such view): the
//! engine keeps the statement, which each continuous query over `v` plans again (see
//! `stream/views.rs`), and DataFusion's catalog a placeholder with the view's schema and
//! definition. Views over ordinary tables stay DataFusion's own.

use super::{Engine, Statement};
use crate::error::EngineError;
use crate::result::StatementResult;
use crate::sql::names;
use crate::stream::catalog::{StreamPlaceholder, StreamRelations};
use crate::stream::views::{self, StreamView};
use datafusion::common::TableReference;
use datafusion::datasource::TableType;
use datafusion::sql::parser::Statement as ParsedStatement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use std::sync::Arc;

impl Engine {
    /// Creates the view `statement` declares; `mentioned` are the tables its query names,
    /// some of them streams.
    pub(super) async fn create_stream_view(
        &self,
        statement: Statement,
        mentioned: &[TableReference],
        relations: &StreamRelations,
    ) -> Result<StatementResult, EngineError> {
        let text = statement.text;
        let ParsedStatement::Statement(sql) = statement.parsed else {
            return Err(internal("a CREATE VIEW that is not a SQL statement"));
        };
        let SqlStatement::CreateView(mut create) = *sql else {
            return Err(internal("a CREATE VIEW that is not one"));
        };
        if create.materialized {
            return Err(EngineError::NotSupported {
                message: "CREATE MATERIALIZED VIEW over a stream: a view over a stream is \
                          planned again by each query that reads it; write CREATE VIEW"
                    .into(),
            });
        }
        if !statement.flink.windows.is_empty() {
            return Err(EngineError::NotSupported {
                message: "a window function inside a view; put the window in the query \
                          that reads the view: SELECT … FROM TABLE(TUMBLE(TABLE view, \
                          DESCRIPTOR(ts), …))"
                    .into(),
            });
        }
        let name = names::table_reference(create.name.clone())?;
        let TableReference::Bare { table } = &name else {
            return Err(EngineError::NotSupported {
                message: format!(
                    "a view over a stream lives in the current schema: write CREATE VIEW {} \
                     rather than {name}",
                    name.table()
                ),
            });
        };
        let key = table.to_string();
        let mut reads: Vec<String> = mentioned
            .iter()
            .map(ToString::to_string)
            .filter(|t| relations.contains(t))
            .collect();
        reads.sort_unstable();
        reads.dedup();
        if self.ctx.table_exist(name.clone())? {
            if create.if_not_exists {
                return Ok(StatementResult::Done {
                    message: format!("View {key} exists; left as it is."),
                });
            }
            if !create.or_replace {
                return Err(EngineError::Plan {
                    message: format!("{key} already exists"),
                    position: None,
                    hint: Some(format!("CREATE OR REPLACE VIEW {key} replaces it")),
                });
            }
            let existing = self.ctx.table_provider(name.clone()).await?;
            if existing.table_type() != TableType::View {
                return Err(EngineError::Plan {
                    message: format!("{key} is a table; a view does not replace it"),
                    position: None,
                    hint: Some(format!("DROP TABLE {key} first")),
                });
            }
        }
        if views::reads_itself(&key, &reads, relations) {
            return Err(EngineError::Plan {
                message: format!("view {key} would read itself"),
                position: None,
                hint: Some("a view reads tables and views created before it".into()),
            });
        }
        // DataFusion plans no IF NOT EXISTS; it has been dealt with above.
        create.if_not_exists = false;
        let statement = ParsedStatement::Statement(Box::new(SqlStatement::CreateView(create)));
        let schema = views::view_schema(&self.ctx, &statement, &reads, relations).await?;
        self.ctx.deregister_table(name.clone())?;
        self.ctx.register_table(
            name.clone(),
            Arc::new(StreamPlaceholder {
                name: key.clone(),
                schema,
                // `%table` shows the view as the user wrote it.
                definition: Some(text),
            }),
        )?;
        self.catalog
            .declare_view(&key, StreamView { statement, reads });
        self.planning.invalidate();
        Ok(StatementResult::Done {
            message: format!("Created view {key}."),
        })
    }
}

fn internal(message: &str) -> EngineError {
    EngineError::Internal {
        message: message.into(),
        source: None,
    }
}
