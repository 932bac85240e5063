//! Statements run through the engine, their last result printed as a table.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::arrow::util::pretty::pretty_format_batches;
use eddy_engine::{Engine, StatementResult};

/// Every statement of `sql`, run in order; the printed rows of the last.
pub(crate) async fn run(engine: &Engine, sql: &str) -> String {
    let mut printed = String::new();
    for statement in engine.parse(sql).unwrap() {
        if let StatementResult::Rows(rows) = engine.run(statement, 1000).await.unwrap() {
            printed = pretty_format_batches(&rows.batches).unwrap().to_string();
        }
    }
    printed
}

/// Each row of `batch` from column `from` on, as `a|b|c`.
pub(crate) fn texts(batch: &RecordBatch, from: usize) -> Vec<String> {
    (0..batch.num_rows())
        .map(|row| {
            (from..batch.num_columns())
                .map(|c| array_value_to_string(batch.column(c), row).unwrap())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}
