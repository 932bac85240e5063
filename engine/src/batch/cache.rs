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
fn balanced(read: Vec<Vec<RecordBatch>>, partitions: usize) -> Vec<Vec<RecordBatch>> {
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

#[cfg(test)]
mod tests {
    use crate::{Engine, EngineConfig, StatementResult};
    use datafusion::arrow::util::pretty::pretty_format_batches;

    /// Every statement of `sql`, run in order; the printed rows of the last.
    async fn run(engine: &Engine, sql: &str) -> String {
        let mut printed = String::new();
        for statement in engine.parse(sql).unwrap() {
            if let StatementResult::Rows(rows) = engine.run(statement, 1000).await.unwrap() {
                printed = pretty_format_batches(&rows.batches).unwrap().to_string();
            }
        }
        printed
    }

    /// The row counts of the cached scan's partitions, as EXPLAIN shows them.
    fn partition_rows(explained: &str) -> Vec<usize> {
        let start = explained.find("rows=[").expect("a cached scan") + "rows=[".len();
        let end = start + explained[start..].find(']').unwrap();
        explained[start..end]
            .split(", ")
            .map(|n| n.parse().unwrap())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cached_table_is_spread_evenly_over_the_partitions() {
        let engine = Engine::new(EngineConfig::default()).unwrap();
        // One partition of 1M rows in, as a file read by one partition would be.
        run(
            &engine,
            "CREATE TABLE t AS SELECT value AS v FROM range(1000000); CACHE TABLE t",
        )
        .await;
        let explained = run(&engine, "EXPLAIN SELECT v FROM t").await;
        let rows = partition_rows(&explained);
        assert_eq!(rows.iter().sum::<usize>(), 1_000_000, "{explained}");
        let (least, most) = (rows.iter().min().unwrap(), rows.iter().max().unwrap());
        // Batches are not cut: partitions differ by at most one batch.
        assert!(most - least <= 8192, "{explained}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_join_on_keys_spanning_less_than_a_million_looks_them_up_by_index() {
        let engine = Engine::new(EngineConfig::default()).unwrap();
        run(
            &engine,
            "CREATE TABLE facts AS SELECT value AS id, value % 500000 AS k FROM range(1000000); \
             CREATE TABLE dims AS SELECT * FROM (VALUES (7, 'seven'), (400007, 'far')) \
               AS d(k, name); \
             CACHE TABLE facts",
        )
        .await;
        let sql = "SELECT d.name, COUNT(*) AS n, MIN(f.id) AS first FROM facts f \
                   JOIN dims d ON f.k = d.k GROUP BY d.name ORDER BY d.name";
        let result = run(&engine, sql).await;
        assert!(result.contains("| far   | 2 | 400007 |"), "{result}");
        assert!(result.contains("| seven | 2 | 7      |"), "{result}");
        // Two keys 400,000 apart: far below DataFusion's own density rule for a direct
        // lookup, within the engine's span of a million.
        let analyzed = run(&engine, &format!("EXPLAIN ANALYZE {sql}")).await;
        assert!(analyzed.contains("array_map_created_count=1"), "{analyzed}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn filters_limits_and_counts_over_a_cached_table_give_the_uncached_answers() {
        let engine = Engine::new(EngineConfig::default()).unwrap();
        run(
            &engine,
            "CREATE TABLE t AS SELECT value AS v, CASE WHEN value % 3 = 0 THEN NULL \
             ELSE value END AS maybe FROM range(100000)",
        )
        .await;
        let queries = [
            "SELECT COUNT(*), COUNT(maybe) FROM t",
            "SELECT COUNT(*), SUM(v) FROM t WHERE v % 7 = 1 AND maybe IS NOT NULL",
            "SELECT v FROM t WHERE v > 99990 ORDER BY v",
            "SELECT COUNT(*) FROM (SELECT v FROM t WHERE v % 2 = 0 LIMIT 12345)",
            "SELECT COUNT(*) FROM t WHERE v < 0",
        ];
        let mut uncached = Vec::new();
        for sql in queries {
            uncached.push(run(&engine, sql).await);
        }
        run(&engine, "CACHE TABLE t").await;
        for (sql, want) in queries.iter().zip(uncached) {
            assert_eq!(run(&engine, sql).await, want, "{sql}");
        }
    }
}
