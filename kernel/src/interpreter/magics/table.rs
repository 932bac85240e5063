//! `%table NAME`: where a table's data comes from, how many rows it has, its schema and its
//! first rows (or a chart of it). With CSV lines below the magic, the cell first makes the
//! table from them.

use super::sql::chart_options;
use crate::interpreter::cell::Cell;
use crate::interpreter::engine_work::first_value;
use crate::interpreter::error::CellError;
use crate::interpreter::magic::Magic;
use crate::interpreter::sql_args::{self, SqlLine};
use crate::interpreter::SqlInterpreter;
use crate::render::chart::{chart_bundle, MAX_CHART_ROWS};
use crate::render::{self, schema_rows};
use crate::server::Outputs;
use eddy_engine::ObjectInfo;
use tokio_util::sync::CancellationToken;

/// Rows `%table` shows of a table.
const PREVIEW_ROWS: usize = 10;
/// What `%table` says of a stream's (or a view over one's) row count.
const STREAM_ROWS: &str = "a stream (rows arrive over time)";

pub(super) async fn run(
    interpreter: &SqlInterpreter,
    cell: &Cell<'_>,
    out: &Outputs<'_>,
    cancel: &CancellationToken,
) -> Result<(), CellError> {
    let (args, body) = (cell.args, cell.body);
    let (name, options) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    if name.is_empty() {
        return Err(CellError::Usage {
            magic: "%table",
            message: format!("name a table: {}", Magic::Table.syntax()),
        });
    }
    let chart = match sql_args::parse(options)? {
        SqlLine::Run(args) => chart_options(&args),
        SqlLine::Help(help) => {
            out.display(render::plain(help));
            return Ok(());
        }
    };
    if !body.trim().is_empty() {
        // CSV lines below the magic: the cell defines the table.
        interpreter
            .engine
            .create_table_from_csv(name, body.trim())
            .map_err(|e| CellError::sql(e, body, 1))?;
    }
    let Some(ObjectInfo::Table(table)) = interpreter.engine.describe(name).await else {
        return Err(CellError::UnknownTable {
            name: name.to_string(),
        });
    };
    let source = interpreter.engine.table_source(&table.name);
    let declared = render::Declared {
        primary_key: interpreter.engine.primary_key(&table.name),
        partitioned_by: interpreter.engine.partition_keys(&table.name),
    };
    let summary = |count: &str, cached, kept| match &table.definition {
        Some(definition) => render::view_summary(&table.name, definition, count),
        None => render::table_summary(&table.name, &source, &declared, count, cached, kept),
    };
    if interpreter.engine.is_stream(&table.name) {
        // A stream has no row count and no "first rows": show what it is and how to
        // watch it.
        out.display(summary(STREAM_ROWS, None, None));
        // What the source says of itself now (a Kafka table's partitions and offsets); a
        // source that cannot be reached is said, not an error: the table is still there.
        match interpreter.engine.source_state(&table.name).await {
            None => out.result(render::rows_bundle(&schema_rows(&table.schema))),
            Some(state) => {
                out.display(render::rows_bundle(&schema_rows(&table.schema)));
                match state {
                    Ok(rows) => out.result(render::rows_bundle(&rows)),
                    Err(error) => out.result(render::plain(format!("Its source now: {error}"))),
                }
            }
        }
        return Ok(());
    }
    let count = interpreter
        .query(&format!("SELECT count(*) FROM {name}"), 1, cancel)
        .await?;
    let count = first_value(&count);
    let cached = interpreter.engine.cached_bytes(&table.name);
    let kept = interpreter.engine.kept_columns(&table.name).await;
    out.display(summary(&count, cached, kept));
    out.display(render::rows_bundle(&schema_rows(&table.schema)));
    match chart {
        Some(options) => {
            let rows = interpreter
                .query(&format!("SELECT * FROM {name}"), MAX_CHART_ROWS, cancel)
                .await?;
            out.result(chart_bundle(&rows, &options).map_err(CellError::Chart)?);
        }
        None => {
            let preview = interpreter
                .query(&format!("SELECT * FROM {name}"), PREVIEW_ROWS, cancel)
                .await?;
            out.result(render::rows_bundle(&preview));
        }
    }
    Ok(())
}
