//! What running one statement yields.

use crate::stream::ContinuousQuery;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

/// The outcome of one statement of a cell.
#[derive(Debug)]
pub enum StatementResult {
    /// A query's rows (also `SHOW`, `DESCRIBE`, `EXPLAIN`, and the row counts of `INSERT`
    /// and `COPY`).
    Rows(RowSet),
    /// A statement that changes the catalog or the session and has no rows to show.
    Done { message: String },
    /// A query over a stream, now running: its updates arrive until it ends or is
    /// cancelled.
    Stream(ContinuousQuery),
}

/// The first rows of a result, and how many rows there were in all.
#[derive(Debug)]
pub struct RowSet {
    pub schema: SchemaRef,
    /// At most the number of rows asked for; the rest were counted, not kept.
    pub batches: Vec<RecordBatch>,
    /// Exact number of rows the query produced.
    pub total_rows: usize,
    /// Malformed CSV rows that reading skipped (tables with
    /// `'csv.ignore-parse-errors' = 'true'`); shown with the result, never hidden.
    pub skipped_rows: u64,
    /// What ran the query when this process did not (`the Ballista cluster at
    /// df://HOST:PORT`, `Flink at flink://HOST:PORT`).
    pub ran_on: Option<String>,
}

impl RowSet {
    /// Rows kept in `batches`.
    pub fn kept_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// A query's first rows as its batches arrive, and the count of all of them: what a
/// [`RowSet`] holds, kept without holding the rest.
#[derive(Default)]
pub(crate) struct FirstRows {
    batches: Vec<RecordBatch>,
    kept: usize,
    total: usize,
}

impl FirstRows {
    /// Counts `batch`, keeping what of it fits in the first `max_rows` rows.
    pub(crate) fn push(&mut self, batch: RecordBatch, max_rows: usize) {
        self.total += batch.num_rows();
        if self.kept < max_rows {
            let take = batch.num_rows().min(max_rows - self.kept);
            self.kept += take;
            self.batches.push(batch.slice(0, take));
        }
    }

    /// The rows of a query that read no malformed rows, as `ran_on` ran it.
    pub(crate) fn into_rows(self, schema: SchemaRef, ran_on: Option<String>) -> RowSet {
        RowSet {
            schema,
            batches: self.batches,
            total_rows: self.total,
            skipped_rows: 0,
            ran_on,
        }
    }
}
