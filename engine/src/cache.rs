//! `CACHE TABLE t` / `UNCACHE TABLE t`: a table's rows held in memory, columnar, so that
//! exploring one big file does not parse it again for every query.

use crate::error::EngineError;
use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::TableType;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use futures::TryStreamExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A cached table: the rows, and the source they were read from (put back by UNCACHE).
pub(crate) struct Cached {
    pub(crate) original: Arc<dyn TableProvider>,
    pub(crate) bytes: usize,
}

/// The rows of a cached table, partition by partition, as they were read.
///
/// Unlike DataFusion's `MemTable`, a scan clones only the columns the query reads: a
/// cached file of millions of rows is a few thousand batches, and copying every column
/// of each for `SELECT COUNT(*)` cost milliseconds per query.
#[derive(Debug)]
pub(crate) struct CachedTable {
    schema: SchemaRef,
    partitions: Vec<Vec<RecordBatch>>,
}

#[async_trait]
impl TableProvider for CachedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let Some(columns) = projection else {
            return Ok(MemorySourceConfig::try_new_exec(
                &self.partitions,
                self.schema.clone(),
                None,
            )?);
        };
        // One projected schema for every batch (RecordBatch::project would make one each).
        let schema = Arc::new(self.schema.project(columns)?);
        let project = |batch: &RecordBatch| {
            let arrays = columns.iter().map(|&i| batch.column(i).clone()).collect();
            // The row count keeps `SELECT COUNT(*)`, which reads no column, counting.
            let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
            RecordBatch::try_new_with_options(schema.clone(), arrays, &options)
        };
        let partitions = self
            .partitions
            .iter()
            .map(|batches| batches.iter().map(project).collect::<Result<Vec<_>, _>>())
            .collect::<Result<Vec<_>, _>>()?;
        let source = MemorySourceConfig::try_new(&partitions, schema, None)?;
        Ok(DataSourceExec::from_data_source(source))
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
    let table = CachedTable { schema, partitions };
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
