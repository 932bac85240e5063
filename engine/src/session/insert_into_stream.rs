//! `INSERT INTO kafka_table SELECT …` over tables at rest or `VALUES`: the query runs once as
//! a batch query and its rows go through the stream table's sink, as Flink writes a bounded
//! query into Kafka. (An INSERT reading a stream is a continuous query instead.)

use super::kept_state::Planning;
use crate::error::EngineError;
use crate::result::StatementResult;
use crate::sql::names;
use crate::stream::catalog::StreamRelations;
use crate::stream::sink::{self, SinkDecl};
use crate::stream::StreamUpdate;
use datafusion::common::TableReference;
use datafusion::logical_expr::{LogicalPlan, WriteOp};
use datafusion::sql::parser::Statement as ParsedStatement;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;

/// The connectors whose stream tables take the rows of a batch INSERT.
const BATCH_WRITABLE: &[&str] = &["kafka", "upsert-kafka"];

/// Writes `columns` as the column list of an INSERT that has none (a table whose VIRTUAL
/// metadata columns the INSERT leaves out, as Flink does).
pub(super) fn name_written_columns(parsed: &mut ParsedStatement, columns: Vec<String>) {
    use datafusion::sql::sqlparser::ast::{Ident, ObjectName, Statement as SqlStatement};
    let ParsedStatement::Statement(sql) = parsed else {
        return;
    };
    if let SqlStatement::Insert(insert) = sql.as_mut() {
        if insert.columns.is_empty() {
            insert.columns = columns
                .into_iter()
                .map(|column| ObjectName::from(vec![Ident::new(column)]))
                .collect();
        }
    }
}

/// The stream table `parsed` inserts into, when it is one that takes a batch query's rows
/// and no other table the statement reads is a stream.
pub(super) fn batch_insert_target(
    parsed: &ParsedStatement,
    mentioned: &[TableReference],
    streams: &StreamRelations,
    sinks: &HashMap<String, SinkDecl>,
) -> Option<String> {
    let target = names::insert_target(parsed)?.to_string();
    let connector = sinks
        .get(&target)?
        .options
        .get("connector")?
        .to_ascii_lowercase();
    let reads_a_stream = mentioned
        .iter()
        .map(ToString::to_string)
        .any(|table| table != target && streams.contains(&table));
    (streams.contains(&target) && BATCH_WRITABLE.contains(&connector.as_str()) && !reads_a_stream)
        .then_some(target)
}

/// Runs the INSERT's query and writes its rows into `target`'s sink.
pub(super) async fn insert_rows(
    planning: &Planning,
    parsed: ParsedStatement,
    target: &str,
    decl: Option<&SinkDecl>,
) -> Result<StatementResult, EngineError> {
    let plan = planning.state.statement_to_plan(parsed).await?;
    let LogicalPlan::Dml(dml) = plan else {
        return Err(EngineError::Internal {
            message: format!("an INSERT INTO {target} did not plan as an insert"),
            source: None,
        });
    };
    if !matches!(dml.op, WriteOp::Insert(_)) {
        return Err(EngineError::NotSupported {
            message: format!("{target} takes new rows only (INSERT INTO)"),
        });
    }
    // The insert's input already has the table's columns, cast as the table declares them.
    let input = Arc::unwrap_or_clone(dml.input);
    let schema = Arc::new(input.schema().as_arrow().clone());
    let mut sink = sink::open(target, decl, schema, false)?;
    let physical = planning.state.create_physical_plan(&input).await?;
    let mut rows = datafusion::physical_plan::execute_stream(physical, planning.task.clone())?;
    while let Some(batch) = rows.next().await {
        sink.append(vec![batch?])?;
    }
    let message = match sink.flush(true, None).await? {
        Some(StreamUpdate::Produced { topic, records }) => {
            format!("{records} records sent to Kafka topic {topic}.")
        }
        _ => format!("No rows to insert into {target}."),
    };
    Ok(StatementResult::Done { message })
}
