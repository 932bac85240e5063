//! One source read by several queries of a statement set: opened once, run once, and each
//! batch it gives sent to every query, as Flink's statement set reads each source once.
//!
//! Each query opens a branch. When the last branch starts, one task runs the source and
//! hands each batch to every branch still reading; every branch's `run` returns when that
//! task ends, with its outcome. A query that stops (cancelled, or failed) stops taking
//! batches; the others go on.

use super::catalog::SourceFactory;
use super::source::{BatchSender, StreamSource};
use super::source_report::SourceReport;
use crate::error::EngineError;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::context::SessionContext;
use futures::future::BoxFuture;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

/// A stream table's factory shared by `readers` queries.
pub(crate) struct TeeFactory {
    inner: Arc<dyn SourceFactory>,
    readers: usize,
    tee: Mutex<Option<Arc<Tee>>>,
}

impl TeeFactory {
    pub(crate) fn new(inner: Arc<dyn SourceFactory>, readers: usize) -> Self {
        TeeFactory {
            inner,
            readers,
            tee: Mutex::new(None),
        }
    }
}

impl SourceFactory for TeeFactory {
    fn open(&self, ctx: &SessionContext) -> Result<Box<dyn StreamSource>, EngineError> {
        // A panic while the lock was held leaves nothing half-done: it is one assignment.
        let mut shared = self.tee.lock().unwrap_or_else(|p| p.into_inner());
        let tee = match shared.as_ref() {
            Some(tee) => tee.clone(),
            None => {
                let source = self.inner.open(ctx)?;
                let tee = Arc::new(Tee::new(source, self.readers));
                *shared = Some(tee.clone());
                tee
            }
        };
        Ok(Box::new(Branch { tee }))
    }

    fn is_changelog(&self) -> bool {
        self.inner.is_changelog()
    }
}

/// The source and the branches waiting for it.
struct Tee {
    schema: SchemaRef,
    bounded: bool,
    /// What the source says of itself (a Kafka source's lag and partitions' times): every
    /// branch's query hears it.
    report: Option<Arc<SourceReport>>,
    state: Mutex<Waiting>,
    /// The source's outcome once its task has ended (an error as text: every branch gets it).
    done: watch::Sender<Option<Result<(), String>>>,
}

struct Waiting {
    source: Option<Box<dyn StreamSource>>,
    senders: Vec<BatchSender>,
    readers: usize,
}

impl Tee {
    fn new(source: Box<dyn StreamSource>, readers: usize) -> Self {
        Tee {
            schema: source.schema(),
            bounded: source.is_bounded(),
            report: source.report(),
            state: Mutex::new(Waiting {
                source: Some(source),
                senders: Vec::new(),
                readers,
            }),
            done: watch::channel(None).0,
        }
    }

    /// Registers a branch's sender; the last one starts the source.
    fn join(self: &Arc<Self>, out: BatchSender) {
        let start = {
            let mut waiting = self.state.lock().unwrap_or_else(|p| p.into_inner());
            waiting.senders.push(out);
            if waiting.senders.len() < waiting.readers {
                None
            } else {
                waiting
                    .source
                    .take()
                    .map(|source| (source, std::mem::take(&mut waiting.senders)))
            }
        };
        let Some((source, senders)) = start else {
            return;
        };
        let tee = self.clone();
        tokio::spawn(async move {
            let outcome = match tokio::spawn(distribute(source, senders)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(error.to_string()),
                Err(error) => Err(format!("the shared source stopped: {error}")),
            };
            tee.done.send_replace(Some(outcome));
        });
    }
}

/// Runs the source and sends each batch to every branch still reading.
async fn distribute(
    source: Box<dyn StreamSource>,
    mut senders: Vec<BatchSender>,
) -> Result<(), EngineError> {
    let (tx, mut rx) = mpsc::channel(4);
    let producer = tokio::spawn(source.run(tx));
    while let Some(batch) = rx.recv().await {
        let mut reading = Vec::with_capacity(senders.len());
        for sender in senders {
            if sender.send(batch.clone()).await.is_ok() {
                reading.push(sender);
            }
        }
        senders = reading;
        if senders.is_empty() {
            break;
        }
    }
    // The branches' channels close before their `run` returns.
    drop(senders);
    drop(rx);
    match producer.await {
        Ok(outcome) => outcome,
        Err(error) => Err(EngineError::Internal {
            message: format!("the shared source stopped: {error}"),
            source: Some(Box::new(error)),
        }),
    }
}

/// What one query of the set reads.
struct Branch {
    tee: Arc<Tee>,
}

impl StreamSource for Branch {
    fn schema(&self) -> SchemaRef {
        self.tee.schema.clone()
    }

    fn is_bounded(&self) -> bool {
        self.tee.bounded
    }

    fn report(&self) -> Option<Arc<SourceReport>> {
        self.tee.report.clone()
    }

    fn run(self: Box<Self>, out: BatchSender) -> BoxFuture<'static, Result<(), EngineError>> {
        Box::pin(async move {
            let mut done = self.tee.done.subscribe();
            self.tee.join(out);
            loop {
                if let Some(outcome) = done.borrow_and_update().clone() {
                    return outcome.map_err(|message| EngineError::Execution {
                        message,
                        source: None,
                    });
                }
                if done.changed().await.is_err() {
                    return Ok(());
                }
            }
        })
    }
}
