//! A statement set's INSERTs as one job: their queries (reading shared sources, `tee.rs`)
//! combined into one [`ContinuousQuery`] whose updates say which table they are about, which
//! ends when every INSERT has ended, and which a cancel stops as a whole.

use super::{ContinuousQuery, StreamEnd, StreamFigures, StreamKind, StreamStats, StreamUpdate};
use crate::error::EngineError;
use futures::StreamExt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One query for the INSERTs `queries` (by target table), started in that order.
pub(crate) fn combine(queries: Vec<(String, ContinuousQuery)>) -> ContinuousQuery {
    // Two INSERTs into one table are told apart: `t`, then `t (2)`.
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let queries: Vec<(String, ContinuousQuery)> = queries
        .into_iter()
        .map(|(table, query)| {
            let count = seen.entry(table.clone()).or_default();
            *count += 1;
            match *count {
                1 => (table, query),
                n => (format!("{table} ({n})"), query),
            }
        })
        .collect();
    let tables = queries.iter().map(|(table, _)| table.clone()).collect();
    let bounded = queries.iter().all(|(_, query)| query.bounded);
    let schema = queries
        .first()
        .map(|(_, query)| query.schema.clone())
        .unwrap_or_else(|| Arc::new(datafusion::arrow::datatypes::Schema::empty()));
    let cancel = CancellationToken::new();
    let mut parts = Vec::with_capacity(queries.len());
    let mut updates = Vec::with_capacity(queries.len());
    let mut tasks = Vec::with_capacity(queries.len());
    let mut cancellers = Vec::with_capacity(queries.len());
    for (table, mut query) in queries {
        // The part keeps its figures; its updates and its end go to the set's task.
        let (_, closed) = mpsc::channel(1);
        updates.push((table, std::mem::replace(&mut query.updates, closed)));
        tasks.extend(query.task.take());
        cancellers.push(query.cancel.clone());
        parts.push(query);
    }
    let (tx, rx) = mpsc::channel(16);
    let stop = cancel.clone();
    let task = tokio::spawn(async move {
        let mut merged = futures::stream::select_all(updates.into_iter().map(|(table, rx)| {
            futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|update| (update, rx))
            })
            .map(move |update| StreamUpdate::Into {
                table: table.clone(),
                update: Box::new(update),
            })
            .boxed()
        }));
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                next = merged.next() => match next {
                    Some(update) => {
                        if tx.send(update).await.is_err() {
                            break;
                        }
                    }
                    None => break,
                },
            }
        }
        // A cancel, or the caller gone: every INSERT stops. Otherwise all have ended.
        if stop.is_cancelled() || tx.is_closed() {
            for canceller in &cancellers {
                canceller.cancel();
            }
        }
        let mut end = StreamEnd::Finished;
        for task in tasks {
            match task.await {
                Ok(Ok(StreamEnd::Finished)) => {}
                Ok(Ok(StreamEnd::Cancelled)) => end = StreamEnd::Cancelled,
                Ok(Err(error)) => {
                    for canceller in &cancellers {
                        canceller.cancel();
                    }
                    return Err(error);
                }
                Err(error) => {
                    return Err(EngineError::Internal {
                        message: format!("an INSERT of the statement set stopped: {error}"),
                        source: Some(Box::new(error)),
                    })
                }
            }
        }
        Ok(end)
    });
    ContinuousQuery {
        schema,
        kind: StreamKind::StatementSet { tables },
        bounded,
        updates: rx,
        cancel,
        stats: Arc::new(StreamStats::default()),
        started: Instant::now(),
        emit_interval: Arc::new(AtomicU64::new(super::DEFAULT_EMIT_INTERVAL_MS)),
        skipped: None,
        report: None,
        task: Some(task),
        parts,
        ran_on: None,
    }
}

/// The set's figures: rows read as the busiest part read them (parts that share a source
/// each see all its rows), rows written and state summed, the slowest watermark.
pub(super) fn figures(parts: &[ContinuousQuery], started: Instant) -> StreamFigures {
    let each: Vec<StreamFigures> = parts.iter().map(ContinuousQuery::figures).collect();
    StreamFigures {
        elapsed: started.elapsed(),
        rows_in: each.iter().map(|f| f.rows_in).max().unwrap_or(0),
        late_rows: each.iter().map(|f| f.late_rows).sum(),
        rows_out: each.iter().map(|f| f.rows_out).sum(),
        watermark_ms: each.iter().filter_map(|f| f.watermark_ms).min(),
        state_keys: each.iter().map(|f| f.state_keys).sum(),
        state_bytes: each.iter().map(|f| f.state_bytes).sum(),
        skipped_rows: each.iter().map(|f| f.skipped_rows).max().unwrap_or(0),
        micro_batches: each.iter().map(|f| f.micro_batches).sum(),
        micro_batch_time: each.iter().map(|f| f.micro_batch_time).sum(),
        slowest_micro_batch: each
            .iter()
            .map(|f| f.slowest_micro_batch)
            .max()
            .unwrap_or_default(),
        source_lag: each.iter().filter_map(|f| f.source_lag).max(),
        source_trouble: each.iter().find_map(|f| f.source_trouble.clone()),
        ran_on: None,
    }
}
