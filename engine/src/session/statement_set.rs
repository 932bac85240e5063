//! `EXECUTE STATEMENT SET BEGIN INSERT …; INSERT …; END;`: the INSERTs run as one job that
//! reads each source once. A stream read by several INSERTs is opened once and shared
//! (`stream/tee.rs`); the INSERTs' queries are combined into one (`stream/statement_set.rs`),
//! shown in one cell, cancelled together.

use super::parse::Statement;
use super::statement_relations::StatementRelations;
use super::Engine;
use crate::error::EngineError;
use crate::result::StatementResult;
use crate::stream::query::{self as stream_query, StreamRequest};
use crate::stream::statement_set;
use crate::stream::tee::TeeFactory;
use crate::stream::{views, StreamKind};
use std::collections::HashMap;
use std::sync::Arc;

impl Engine {
    pub(super) async fn run_statement_set(
        &self,
        inserts: Vec<Statement>,
    ) -> Result<StatementResult, EngineError> {
        let mut declared = StatementRelations::new(self);
        for insert in &inserts {
            if !insert.flink.windowed_subqueries.is_empty() {
                return Err(EngineError::NotSupported {
                    message: format!(
                        "a group window over a subquery in a statement set; make the subquery \
                         a view: {}",
                        insert.text
                    ),
                });
            }
            self.declare_hinted_tables(&insert.flink.hints, &insert.parsed, &mut declared)?;
        }
        let streams = self.catalog.streams();
        // The tables each INSERT names, and how many INSERTs read each stream.
        let planning = self.planning.take(&self.ctx);
        let mut mentioned = Vec::with_capacity(inserts.len());
        let mut readers: HashMap<String, usize> = HashMap::new();
        for insert in &inserts {
            let tables = planning
                .state
                .resolve_table_references(&insert.parsed)
                .unwrap_or_default();
            if !stream_query::is_continuous(&tables, &insert.flink, &streams) {
                self.planning.give_back(planning);
                return Err(EngineError::NotSupported {
                    message: format!(
                        "a statement set runs INSERTs over streams; this one reads none, so run \
                         it on its own: {}",
                        insert.text
                    ),
                });
            }
            let names: Vec<String> =
                crate::sql::names::tables_read(&insert.parsed, &tables)
                    .iter()
                    .map(ToString::to_string)
                    .chain(insert.flink.windows.iter().map(|w| {
                        crate::sql::names::table_reference_from_text(&w.table).to_string()
                    }))
                    .filter(|name| streams.contains(name))
                    .collect();
            for stream in views::streams_read(names.iter().map(String::as_str), &streams) {
                *readers.entry(stream).or_default() += 1;
            }
            mentioned.push(tables);
        }
        self.planning.give_back(planning);
        // A stream read by several INSERTs is opened once, its rows sent to each.
        let mut shared = streams.clone();
        for (stream, count) in &readers {
            if let (true, Some(table)) = (*count > 1, shared.tables.get_mut(stream)) {
                table.factory = Arc::new(TeeFactory::new(table.factory.clone(), *count));
            }
        }
        let sinks = self.catalog.all_sink_decls();
        let mut queries = Vec::with_capacity(inserts.len());
        for (insert, tables) in inserts.iter().zip(&mentioned) {
            // An INSERT that fails to start drops (and so stops) those started before it.
            let query = stream_query::start(StreamRequest {
                ctx: &self.ctx,
                statement: insert.parsed.clone(),
                parts: &insert.flink,
                tables,
                streams: shared.clone(),
                sinks: sinks.clone(),
                state_ttl: self.state_ttl(),
                memory_limit: self.memory_limit,
            })
            .await?;
            let StreamKind::Sink { table } = query.kind().clone() else {
                return Err(EngineError::Internal {
                    message: format!(
                        "an INSERT of the statement set gave no sink: {}",
                        insert.text
                    ),
                    source: None,
                });
            };
            queries.push((table, query));
        }
        Ok(StatementResult::Stream(statement_set::combine(queries)))
    }
}
