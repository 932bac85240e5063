//! Where a continuous query's rows come from.
//!
//! A source is opened once per query (two queries over one datagen table each get their
//! own generator, as in Flink), runs as its own task, and sends record batches in the
//! table's declared schema until it ends (a bounded source) or the query drops it.

use super::source_report::SourceReport;
use crate::error::EngineError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use futures::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Rows produced by a source, in the declared schema of its table.
pub(crate) type BatchSender = mpsc::Sender<RecordBatch>;

/// A running source of rows. `run` returns `Ok(())` when a bounded source has sent all its
/// rows, an error when it cannot go on (the query fails with that error), and never for an
/// unbounded source. When the receiver is dropped (the query ended or was cancelled),
/// `send` fails and the source returns `Ok(())` quietly.
pub(crate) trait StreamSource: Send + 'static {
    /// The schema of every batch sent: the table's declared columns.
    fn schema(&self) -> SchemaRef;

    /// Whether the source ends by itself (`number-of-rows`, a replayed file, a socket the
    /// peer closes). Unbounded queries run until cancelled.
    fn is_bounded(&self) -> bool;

    fn run(self: Box<Self>, out: BatchSender) -> BoxFuture<'static, Result<(), EngineError>>;

    /// What the source will say of itself while it runs (lag, trouble), if anything.
    fn report(&self) -> Option<Arc<SourceReport>> {
        None
    }

    /// What each input's source will say, by input: one for a source of one input; one per
    /// merged source for a query over several streams (`merged_source.rs`).
    fn input_reports(&self) -> Vec<Option<Arc<SourceReport>>> {
        vec![self.report()]
    }
}
