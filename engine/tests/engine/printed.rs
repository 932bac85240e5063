//! Statements run through the engine, their last result printed as a table.

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
