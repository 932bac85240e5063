//! A Flink query's result, fetched page by page from the gateway into the updates a live
//! display reads: new rows of an append-only result, or the current result with the changes
//! that led to it (`+I`, `-U`, `+U`, `-D`, applied to a multiset of rows, as Flink's own
//! clients apply them).

use super::gateway::{GatewaySession, Operation, Page, Payload, POLL};
use super::result_rows::{JsonRow, RowDecoder, RowKind};
use crate::error::EngineError;
use crate::stream::keyed_rows::KeyedRows;
use crate::stream::{changelog_schema, RemoteFeed, StreamEnd, StreamUpdate};
use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::compute::{concat_batches, filter_record_batch, not};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the result stands when its feed starts: the first page's rows, and the next page.
pub(super) struct Started {
    pub(super) decoder: RowDecoder,
    pub(super) first_rows: Vec<JsonRow>,
    pub(super) next: Option<String>,
    /// Whether the result is shown as a table kept current (it has updates and deletes).
    pub(super) updating: bool,
}

/// Fetches the rest of the result into `feed` until it ends or is cancelled; on cancel,
/// the operation is closed, which cancels its Flink job.
pub(super) async fn run(
    session: Arc<GatewaySession>,
    operation: Operation,
    started: Started,
    feed: RemoteFeed,
) -> Result<StreamEnd, EngineError> {
    let Started {
        decoder,
        first_rows,
        next,
        updating,
    } = started;
    let mut result = FedResult::new(decoder, updating)?;
    let outcome = async {
        result.take(&first_rows)?;
        let mut next = next;
        while let Some(uri) = next.take() {
            let page = tokio::select! {
                _ = feed.cancel.cancelled() => return Ok(StreamEnd::Cancelled),
                page = session.fetch(&uri) => page?,
            };
            let wait = match page {
                Page::NotReady => {
                    next = Some(uri);
                    true
                }
                Page::End => false,
                Page::Payload(Payload {
                    rows, next: after, ..
                }) => {
                    result.take(&rows)?;
                    next = after;
                    rows.is_empty()
                }
            };
            result.emit_if_due(&feed, next.is_none()).await?;
            if wait {
                tokio::select! {
                    _ = feed.cancel.cancelled() => return Ok(StreamEnd::Cancelled),
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
        }
        result.emit_if_due(&feed, true).await?;
        Ok(StreamEnd::Finished)
    }
    .await;
    // Finished, cancelled or failed, the operation is closed; a job still running on Flink
    // (a cancel) is cancelled with it.
    let _ = session.close(&operation).await;
    outcome
}

/// The result as received so far, and the changes not yet sent.
struct FedResult {
    decoder: RowDecoder,
    /// An updating result's current rows, a multiset keyed by every column; `None` for an
    /// append-only result, whose rows are passed on as they come.
    current: Option<KeyedRows>,
    /// Changes (or appended rows) received since the last update sent.
    pending: Vec<RecordBatch>,
    pending_ops: Vec<&'static str>,
    last_emit: Instant,
}

impl FedResult {
    fn new(decoder: RowDecoder, updating: bool) -> Result<Self, EngineError> {
        let schema = decoder.schema();
        let current = match updating {
            true => Some(KeyedRows::new(
                schema.clone(),
                (0..schema.fields().len()).collect(),
            )?),
            false => None,
        };
        Ok(FedResult {
            decoder,
            current,
            pending: Vec::new(),
            pending_ops: Vec::new(),
            last_emit: Instant::now(),
        })
    }

    /// Takes in one page's rows.
    fn take(&mut self, rows: &[JsonRow]) -> Result<(), EngineError> {
        if rows.is_empty() {
            return Ok(());
        }
        let (batch, kinds) = self.decoder.decode(rows)?;
        if let Some(current) = &mut self.current {
            let retracts =
                BooleanArray::from(kinds.iter().map(|k| k.retracts()).collect::<Vec<_>>());
            let adds = not(&retracts)?;
            // A retraction takes out one row equal to it. Flink never retracts a row before
            // sending it, so putting a page's rows in before taking its retractions out
            // gives the multiset applying them one by one would.
            current.insert(filter_record_batch(&batch, &adds)?)?;
            let taken = filter_record_batch(&batch, &retracts)?;
            let keys = current.keys_of(&taken)?;
            current.take(keys.iter().map(|k| k.data()))?;
        } else if kinds.iter().any(|k| *k != RowKind::Insert) {
            return Err(EngineError::Flink {
                message: "Flink sent an update to a result it had said only grows (its plan's \
                          changelog mode was insert-only)"
                    .into(),
                hint: None,
            });
        }
        self.pending_ops.extend(kinds.iter().map(|k| k.op()));
        self.pending.push(batch);
        Ok(())
    }

    /// Sends what was received since the last update, if the display's interval has passed
    /// (the display's refresh, which it may change while the query runs), or `now`.
    async fn emit_if_due(&mut self, feed: &RemoteFeed, now: bool) -> Result<(), EngineError> {
        let interval = Duration::from_millis(feed.emit_interval.load(Ordering::Relaxed));
        if self.pending.is_empty() || (!now && self.last_emit.elapsed() < interval) {
            return Ok(());
        }
        let received: usize = self.pending.iter().map(RecordBatch::num_rows).sum();
        feed.stats
            .rows_in
            .fetch_add(received as u64, Ordering::Relaxed);
        let update = self.update()?;
        if let Some(current) = &self.current {
            feed.stats
                .rows_out
                .store(current.len() as u64, Ordering::Relaxed);
        } else {
            feed.stats
                .rows_out
                .fetch_add(received as u64, Ordering::Relaxed);
        }
        self.last_emit = Instant::now();
        // A display that went away has stopped reading; the cancel follows.
        let _ = feed.updates.send(update).await;
        Ok(())
    }

    fn update(&mut self) -> Result<StreamUpdate, EngineError> {
        let pending = std::mem::take(&mut self.pending);
        let ops = std::mem::take(&mut self.pending_ops);
        let Some(current) = &self.current else {
            return Ok(StreamUpdate::Rows(pending));
        };
        let schema = self.decoder.schema();
        let changed = concat_batches(&schema, &pending)?;
        let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(ops))];
        columns.extend(changed.columns().iter().cloned());
        let changes = RecordBatch::try_new(changelog_schema(&schema), columns)?;
        Ok(StreamUpdate::Snapshot {
            rows: current.batches()?,
            changes,
        })
    }
}
