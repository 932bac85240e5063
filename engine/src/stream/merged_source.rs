//! The sources of a query that reads several streams (`SELECT … FROM a UNION ALL SELECT … FROM
//! b`), run side by side into one channel. Each batch is tagged with the stream it came from
//! (in its schema's metadata), so that each tick puts it in that stream's micro-batch table.
//! When one input ends, an empty batch marked as its end follows its last rows: a watermark
//! over several inputs stops waiting on it.

use super::micro_batch::MicroBatchTable;
use super::source::{BatchSender, StreamSource};
use crate::error::EngineError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The schema metadata key that says which input a batch is from.
pub(crate) const INPUT: &str = "eddy.stream.input";
/// The schema metadata key of the empty batch that says an input has ended.
const INPUT_END: &str = "eddy.stream.input_end";

/// Which of the query's inputs a batch came from (0 for an untagged batch).
pub(crate) fn input_of(batch: &RecordBatch) -> usize {
    batch
        .schema()
        .metadata()
        .get(INPUT)
        .and_then(|i| i.parse().ok())
        .unwrap_or(0)
}

/// Puts each of a tick's batches in the micro-batch table of the input it came from
/// (`slots[i]` for input `i`), without its tag: the tables' schemas have no metadata.
pub(crate) fn fill_by_input(
    slots: &[&MicroBatchTable],
    batches: Vec<RecordBatch>,
) -> Result<(), EngineError> {
    if let [only] = slots {
        only.set(batches);
        return Ok(());
    }
    let mut by_input: Vec<Vec<RecordBatch>> = vec![Vec::new(); slots.len()];
    for batch in batches {
        let at = input_of(&batch);
        let (Some(rows), Some(slot)) = (by_input.get_mut(at), slots.get(at)) else {
            return Err(EngineError::Internal {
                message: format!("rows of input {at}, which the query does not read"),
                source: None,
            });
        };
        rows.push(RecordBatch::try_new(
            slot.schema(),
            batch.columns().to_vec(),
        )?);
    }
    for (slot, rows) in slots.iter().zip(by_input) {
        slot.set(rows);
    }
    Ok(())
}

/// Whether `batch` is the mark that its input has ended.
pub(crate) fn is_input_end(batch: &RecordBatch) -> bool {
    batch.num_rows() == 0 && batch.schema().metadata().contains_key(INPUT_END)
}

/// The mark that `input`, whose rows have `schema`, has ended.
pub(crate) fn input_end(input: usize, schema: SchemaRef) -> RecordBatch {
    let marked = Schema::new_with_metadata(
        schema.fields().clone(),
        HashMap::from([
            (INPUT.to_string(), input.to_string()),
            (INPUT_END.to_string(), String::new()),
        ]),
    );
    RecordBatch::new_empty(Arc::new(marked))
}

/// Several sources as one.
pub(crate) struct MergedSource {
    sources: Vec<Box<dyn StreamSource>>,
}

impl MergedSource {
    pub(crate) fn new(sources: Vec<Box<dyn StreamSource>>) -> Self {
        MergedSource { sources }
    }
}

impl StreamSource for MergedSource {
    /// The first input's schema: the query checks its own inputs' schemas.
    fn schema(&self) -> SchemaRef {
        self.sources
            .first()
            .map_or_else(|| Arc::new(Schema::empty()), |s| s.schema())
    }

    fn is_bounded(&self) -> bool {
        self.sources.iter().all(|s| s.is_bounded())
    }

    /// The first input's report that says anything (one Kafka table among the inputs).
    fn report(&self) -> Option<Arc<crate::stream::source_report::SourceReport>> {
        self.sources.iter().find_map(|s| s.report())
    }

    fn input_reports(&self) -> Vec<Option<Arc<crate::stream::source_report::SourceReport>>> {
        self.sources.iter().map(|s| s.report()).collect()
    }

    fn run(self: Box<Self>, out: BatchSender) -> BoxFuture<'static, Result<(), EngineError>> {
        Box::pin(async move {
            let mut running = Vec::with_capacity(self.sources.len());
            for (input, source) in self.sources.into_iter().enumerate() {
                let out = out.clone();
                let tagged = Arc::new(Schema::new_with_metadata(
                    source.schema().fields().clone(),
                    HashMap::from([(INPUT.to_string(), input.to_string())]),
                ));
                let (tx, mut rx) = mpsc::channel::<RecordBatch>(4);
                let producer = tokio::spawn(source.run(tx));
                running.push(tokio::spawn(async move {
                    while let Some(batch) = rx.recv().await {
                        let batch = batch.with_schema(tagged.clone())?;
                        if out.send(batch).await.is_err() {
                            break;
                        }
                    }
                    drop(rx);
                    match producer.await {
                        Ok(Ok(())) => {
                            // The query may have stopped reading: then no one waits on it.
                            let _ = out.send(input_end(input, tagged)).await;
                            Ok(())
                        }
                        Ok(Err(error)) => Err(error),
                        Err(error) => Err(EngineError::Internal {
                            message: format!("a stream's source stopped: {error}"),
                            source: Some(Box::new(error)),
                        }),
                    }
                }));
            }
            drop(out);
            // Every input runs to its end; the first error ends the query.
            for task in running {
                match task.await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => return Err(error),
                    Err(error) => {
                        return Err(EngineError::Internal {
                            message: format!("a stream's source stopped: {error}"),
                            source: Some(Box::new(error)),
                        })
                    }
                }
            }
            Ok(())
        })
    }
}
