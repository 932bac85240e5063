//! `CACHE TABLE t` / `UNCACHE TABLE t`: a table's rows held in memory, columnar, so that
//! exploring one big file does not parse it again for every query.

use crate::batch::cached_scan::{CachedRows, CachedScan};
use crate::error::EngineError;
use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::runtime::SpawnedTask;
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::TableType;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use futures::{StreamExt, TryStreamExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A cached table: the rows, and the source they were read from (put back by UNCACHE).
pub(crate) struct Cached {
    pub(crate) original: Arc<dyn TableProvider>,
    pub(crate) bytes: usize,
}

/// A cached table, as the catalog holds it in place of the table it was read from.
#[derive(Debug)]
pub(crate) struct CachedTable {
    rows: Arc<CachedRows>,
}

#[async_trait]
impl TableProvider for CachedTable {
    fn schema(&self) -> SchemaRef {
        self.rows.schema().clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let scan = CachedScan::new(self.rows.clone(), projection, limit)?;
        Ok(DataSourceExec::from_data_source(scan))
    }
}

/// Reads every partition of `source` into memory, counting bytes as they come: past
/// `budget` the reading stops with an error, before the machine runs out of memory.
pub(crate) async fn load(
    ctx: &SessionContext,
    name: &str,
    source: Arc<dyn TableProvider>,
    budget: usize,
) -> Result<(CachedTable, usize, usize), EngineError> {
    let frame = ctx.read_table(source)?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let streams = frame.execute_stream_partitioned().await?;
    let used = Arc::new(AtomicUsize::new(0));
    // Each partition is read on a task of its own, so every core parses. (Dropping the
    // tasks, when the statement is cancelled, stops them.)
    let tasks = streams.into_iter().map(|stream| {
        let used = used.clone();
        let name = name.to_string();
        SpawnedTask::spawn(async move {
            stream
                .map(|batch| {
                    let batch = batch?;
                    let size = batch.get_array_memory_size();
                    if used.fetch_add(size, Ordering::Relaxed) + size > budget {
                        return Err(over_budget(&name, budget));
                    }
                    Ok(batch)
                })
                .try_collect::<Vec<_>>()
                .await
        })
    });
    let read = futures::future::try_join_all(tasks.map(|task| async move {
        task.join_unwind()
            .await
            .map_err(|e| EngineError::Internal {
                message: format!("reading a partition of {name} into memory failed: {e}"),
                source: Some(Box::new(e)),
            })?
    }))
    .await?;
    let partitions = balanced(read, ctx.copied_config().target_partitions());
    let rows = CachedRows::new(schema, partitions);
    let count = rows.rows();
    let table = CachedTable {
        rows: Arc::new(rows),
    };
    Ok((table, count, used.load(Ordering::Relaxed)))
}

/// The batches cut into `partitions` runs of about equal row counts, in their order.
///
/// A file's partitions share their work (DataFusion lets an idle partition take a file
/// range from a busy one), so one partition may have read almost everything. Queries on
/// the cached table run one thread per partition: left uneven, one core would do the work.
pub(crate) fn balanced(read: Vec<Vec<RecordBatch>>, partitions: usize) -> Vec<Vec<RecordBatch>> {
    let batches: Vec<RecordBatch> = read.into_iter().flatten().collect();
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let partitions = partitions.clamp(1, batches.len().max(1));
    let mut balanced = vec![Vec::new(); partitions];
    let mut seen = 0;
    for batch in batches {
        // The partition whose share of the rows holds this batch's middle row.
        let middle = seen + batch.num_rows() / 2;
        let share = (middle * partitions / total.max(1)).min(partitions - 1);
        seen += batch.num_rows();
        balanced[share].push(batch);
    }
    balanced
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
