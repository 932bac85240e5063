//! The engine's SQL behaviour, as data: every `tests/sql/*.slt` file is a sqllogictest
//! script (the format DataFusion's own tests use) run against a fresh [`Engine`]. A new
//! function, window case or connector check is one new file, or a few lines in one.
//!
//! A query over a stream runs to its end (its sources are bounded) and its result is what
//! the stream ended with: every row of an append-only query, the last snapshot of an
//! updating one. A query whose SQL starts with the line `-- changelog` shows its changes
//! instead, one row per change with the change kind (`+I`, `-U`, `+U`, `-D`) first.
//!
//! `EDDY_SLT_COMPLETE=1 cargo test --workspace --test engine sql_scripts` writes the actual results into
//! the files, to review before committing (as DataFusion's `--complete`). `EDDY_SLT=nexmark`
//! runs only the scripts whose file name contains `nexmark`.

use async_trait::async_trait;
use eddy_engine::arrow::array::{Array, RecordBatch};
use eddy_engine::arrow::datatypes::DataType;
use eddy_engine::arrow::util::display::{ArrayFormatter, FormatOptions};
use eddy_engine::{Engine, EngineConfig, EngineError, StatementResult, StreamUpdate};
use sqllogictest::{DBOutput, DefaultColumnType};
use std::path::PathBuf;

/// One engine session per file.
struct EngineDb {
    engine: Engine,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SqlError(String);

impl From<EngineError> for SqlError {
    fn from(error: EngineError) -> Self {
        SqlError(error.to_string())
    }
}

#[async_trait]
impl sqllogictest::AsyncDB for EngineDb {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SqlError> {
        let changelog = sql.trim_start().starts_with("-- changelog");
        let mut output = DBOutput::StatementComplete(0);
        for statement in self.engine.parse(sql)? {
            output = match self.engine.run(statement, usize::MAX).await? {
                StatementResult::Done { .. } => DBOutput::StatementComplete(0),
                StatementResult::Rows(rows) => rows_output(&rows.batches)?,
                StatementResult::Stream(mut query) => {
                    let mut kept: Vec<RecordBatch> = Vec::new();
                    let mut written = 0;
                    let mut printed = Vec::new();
                    let mut written_into = std::collections::HashMap::new();
                    while let Some(update) = query.next_update().await {
                        match update {
                            StreamUpdate::Rows(rows) => kept.extend(rows),
                            StreamUpdate::Snapshot { changes, .. } if changelog => {
                                kept.push(changes)
                            }
                            StreamUpdate::Snapshot { rows, .. } => kept = rows,
                            StreamUpdate::Written { rows, .. }
                            | StreamUpdate::Discarded { rows }
                            | StreamUpdate::Produced { records: rows, .. } => written = rows,
                            // A print sink's lines are the statement's rows, one text column.
                            StreamUpdate::Printed { lines, .. } => printed.extend(lines),
                            // A statement set's INSERTs: rows written into all its tables.
                            StreamUpdate::Into { table, update } => match *update {
                                StreamUpdate::Written { rows, .. }
                                | StreamUpdate::Discarded { rows }
                                | StreamUpdate::Produced { records: rows, .. } => {
                                    written_into.insert(table, rows);
                                }
                                StreamUpdate::Printed { lines, .. } => printed.extend(lines),
                                _ => {}
                            },
                        }
                    }
                    query.finish().await?;
                    written += written_into.values().sum::<u64>();
                    if !printed.is_empty() {
                        DBOutput::Rows {
                            types: vec![DefaultColumnType::Text],
                            rows: printed.into_iter().map(|line| vec![line]).collect(),
                        }
                    } else if kept.is_empty() && written > 0 {
                        DBOutput::StatementComplete(written)
                    } else {
                        rows_output(&kept)?
                    }
                }
            };
        }
        Ok(output)
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "eddy"
    }

    async fn sleep(duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Rows as sqllogictest compares them: every value as text, `NULL` for nulls and
/// `(empty)` for an empty string (which a line of text could not show), a value of several
/// lines spread over as many rows.
fn rows_output(batches: &[RecordBatch]) -> Result<DBOutput<DefaultColumnType>, SqlError> {
    let Some(first) = batches.first() else {
        return Ok(DBOutput::Rows {
            types: Vec::new(),
            rows: Vec::new(),
        });
    };
    let types = first
        .schema()
        .fields()
        .iter()
        .map(|field| column_type(field.data_type()))
        .collect();
    let options = FormatOptions::default();
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SqlError(e.to_string()))?;
        for row in 0..batch.num_rows() {
            let values = batch
                .columns()
                .iter()
                .zip(&formatters)
                .map(|(column, formatter)| match column.is_null(row) {
                    true => "NULL".to_string(),
                    false => match formatter.value(row).to_string() {
                        text if text.is_empty() => "(empty)".to_string(),
                        text => text,
                    },
                })
                .collect::<Vec<String>>();
            // A value of several lines (an EXPLAIN's plan) takes a row per line, the other
            // columns repeated: sqllogictest compares a file line by line.
            let height = values.iter().map(|v| v.lines().count()).max().unwrap_or(1);
            if height <= 1 {
                rows.push(values);
                continue;
            }
            for line in 0..height {
                rows.push(
                    values
                        .iter()
                        .map(|value| match value.lines().count() {
                            0 | 1 => value.clone(),
                            _ => value.lines().nth(line).unwrap_or_default().to_string(),
                        })
                        .collect(),
                );
            }
        }
    }
    Ok(DBOutput::Rows { types, rows })
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    match data_type {
        t if t.is_integer() => DefaultColumnType::Integer,
        t if t.is_floating()
            || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) =>
        {
            DefaultColumnType::FloatingPoint
        }
        _ => DefaultColumnType::Text,
    }
}

fn scripts() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sql");
    let only = std::env::var("EDDY_SLT").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "slt"))
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().contains(only.as_str()))
        })
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_script_gives_its_expected_results() {
    let complete = std::env::var_os("EDDY_SLT_COMPLETE").is_some();
    let mut failures = Vec::new();
    let files = scripts();
    assert!(!files.is_empty(), "no .slt files");
    for file in &files {
        let mut runner = sqllogictest::Runner::new(|| async {
            let engine = Engine::new(EngineConfig::default()).map_err(SqlError::from)?;
            Ok(EngineDb { engine })
        });
        if complete {
            runner
                .update_test_file(
                    file,
                    " ",
                    sqllogictest::default_validator,
                    sqllogictest::default_normalizer,
                    sqllogictest::default_column_validator,
                )
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        } else if let Err(error) = runner.run_file_async(file).await {
            failures.push(format!("{}\n{error}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
