//! `CACHE TABLE t` / `UNCACHE TABLE t`: a table's rows held in memory, columnar, so that
//! exploring one big file does not parse it again for every query.

use crate::error::EngineError;
use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::execution::context::SessionContext;
use futures::TryStreamExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A cached table: the rows, and the source they were read from (put back by UNCACHE).
pub(crate) struct Cached {
    pub(crate) original: Arc<dyn TableProvider>,
    pub(crate) bytes: usize,
}

/// Reads every partition of `source` into memory, counting bytes as they come: past
/// `budget` the reading stops with an error, before the machine runs out of memory.
pub(crate) async fn load(
    ctx: &SessionContext,
    name: &str,
    source: Arc<dyn TableProvider>,
    budget: usize,
) -> Result<(MemTable, usize, usize), EngineError> {
    let frame = ctx.read_table(source)?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let streams = frame.execute_stream_partitioned().await?;
    let used = Arc::new(AtomicUsize::new(0));
    let partitions = futures::future::try_join_all(streams.into_iter().map(|stream| {
        let used = used.clone();
        async move {
            stream
                .map_err(EngineError::from)
                .and_then(|batch: RecordBatch| {
                    let total = used.fetch_add(batch.get_array_memory_size(), Ordering::Relaxed)
                        + batch.get_array_memory_size();
                    async move {
                        if total > budget {
                            Err(over_budget(name, budget))
                        } else {
                            Ok(batch)
                        }
                    }
                })
                .try_collect::<Vec<_>>()
                .await
        }
    }))
    .await?;
    let rows = partitions.iter().flatten().map(RecordBatch::num_rows).sum();
    let table = MemTable::try_new(schema, partitions)?;
    Ok((table, rows, used.load(Ordering::Relaxed)))
}

fn over_budget(name: &str, budget: usize) -> EngineError {
    EngineError::ResourcesExhausted {
        message: format!(
            "CACHE TABLE {name} would hold more than the {} MiB left under the engine's memory \
             limit; the table is left uncached (start the kernel with a larger \
             EDDY_MEMORY_LIMIT, or cache a smaller table, e.g. \
             CREATE TABLE t2 AS SELECT needed columns FROM t)",
            budget >> 20
        ),
    }
}
