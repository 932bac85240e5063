//! An engine session: one catalog of tables, the SQL run against it.

use crate::completeness::{self, Completeness};
use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::introspect;
use crate::result::{RowSet, StatementResult};
use crate::{ObjectInfo, Vocabulary};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::prelude::SessionConfig;
use datafusion::sql::parser::{DFParserBuilder, Statement as ParsedStatement};
use futures::StreamExt;

/// One user's SQL session. Cheap to share: clones see the same catalog.
#[derive(Clone)]
pub struct Engine {
    ctx: SessionContext,
}

/// One parsed statement of a cell, ready to [`Engine::run`].
#[derive(Debug, Clone)]
pub struct Statement {
    parsed: ParsedStatement,
}

impl std::fmt::Display for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.parsed.fmt(f)
    }
}

impl Engine {
    pub fn new(config: EngineConfig) -> Self {
        let mut session_config = SessionConfig::new()
            .with_information_schema(true)
            .set_bool("datafusion.sql_parser.collect_spans", true);
        if let Some(partitions) = config.target_partitions {
            session_config = session_config.with_target_partitions(partitions);
        }
        Engine {
            ctx: SessionContext::new_with_config(session_config),
        }
    }

    /// Splits a cell into statements. The whole text is parsed before anything runs, so a
    /// syntax error in the third statement does not leave the first two half-applied.
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>, EngineError> {
        let statements = DFParserBuilder::new(sql).build()?.parse_statements()?;
        Ok(statements
            .into_iter()
            .map(|parsed| Statement { parsed })
            .collect())
    }

    /// Runs one statement. A query keeps its first `max_rows` rows and counts the rest, so
    /// a huge result costs no memory to show. Dropping the returned future cancels the
    /// statement.
    pub async fn run(
        &self,
        statement: Statement,
        max_rows: usize,
    ) -> Result<StatementResult, EngineError> {
        let plan = self.ctx.state().statement_to_plan(statement.parsed).await?;
        let done_message = done_message(&plan);
        let frame = self.ctx.execute_logical_plan(plan).await?;
        if let Some(message) = done_message {
            // DataFusion applies catalog changes while planning them; there is nothing to
            // stream.
            return Ok(StatementResult::Done { message });
        }
        let mut stream = frame.execute_stream().await?;
        let schema = stream.schema();
        let mut batches = Vec::new();
        let mut kept = 0;
        let mut total_rows = 0;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            total_rows += batch.num_rows();
            if kept < max_rows {
                let take = batch.num_rows().min(max_rows - kept);
                kept += take;
                batches.push(batch.slice(0, take));
            }
        }
        Ok(StatementResult::Rows(RowSet {
            schema,
            batches,
            total_rows,
        }))
    }

    /// Whether `sql` is a complete statement list.
    pub fn completeness(&self, sql: &str) -> Completeness {
        completeness::completeness(sql)
    }

    /// Names a user may type: keywords, functions, tables and their columns.
    pub async fn vocabulary(&self) -> Vocabulary {
        introspect::vocabulary(&self.ctx).await
    }

    /// What `name` is: a table (with its schema) or a function (with its documentation).
    pub async fn describe(&self, name: &str) -> Option<ObjectInfo> {
        introspect::describe(&self.ctx, name).await
    }
}

/// The acknowledgement for statements that change the catalog or session, `None` for
/// statements with rows to show.
fn done_message(plan: &LogicalPlan) -> Option<String> {
    let message = match plan {
        LogicalPlan::Ddl(ddl) => match ddl {
            DdlStatement::CreateExternalTable(create) => format!("Created table {}.", create.name),
            DdlStatement::CreateMemoryTable(create) => format!("Created table {}.", create.name),
            DdlStatement::CreateView(create) => format!("Created view {}.", create.name),
            DdlStatement::CreateCatalogSchema(create) => {
                format!("Created schema {}.", create.schema_name)
            }
            DdlStatement::CreateCatalog(create) => {
                format!("Created catalog {}.", create.catalog_name)
            }
            DdlStatement::DropTable(drop) => format!("Dropped table {}.", drop.name),
            DdlStatement::DropView(drop) => format!("Dropped view {}.", drop.name),
            other => format!("{} done.", other.name()),
        },
        LogicalPlan::Statement(statement) => format!("{} done.", statement.name()),
        _ => return None,
    };
    Some(message)
}
