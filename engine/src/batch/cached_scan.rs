//! How a query reads a cached table: straight from the batches in memory, with only the
//! columns it needs.
//!
//! DataFusion's `MemorySourceConfig` would do the reading, but it copies every batch into
//! the plan and walks them all for statistics while planning: a cached file of millions of
//! rows is a few thousand batches, and that walk was most of a cached `SELECT COUNT(*)`.
//! Here planning takes constant time: row counts, null counts and sizes are counted once,
//! when the table is cached, and a batch's columns are picked out as it is read.
//!
//! Of the filters pushed to a scan, only dynamic ones are taken: a hash join's build-side
//! keys, or a Top-K's bound. A static filter stays in its `FilterExec`, which evaluates it
//! as well as the scan would. A dynamic filter matters when an aggregate stands between the
//! join and the scan (ratings averaged per film, then joined with one year's films): the
//! filter passes through the aggregate on its grouping columns, and the rows of groups the
//! join drops are never aggregated. Right under the join it repeats the join's own lookup.

use datafusion::arrow::array::{Array, RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNode;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{ColumnStatistics, Result, Statistics};
use datafusion::datasource::source::DataSource;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::expressions::DynamicFilterPhysicalExpr;
use datafusion::physical_expr::projection::ProjectionExprs;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::coop::cooperative;
use datafusion::physical_plan::execution_plan::SchedulingType;
use datafusion::physical_plan::filter_pushdown::{FilterPushdownPropagation, PushedDown};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayFormatType, SendableRecordBatchStream};
use std::fmt;
use std::sync::Arc;

/// A cached table's rows, partition by partition, with what planning needs to know of
/// them counted up front.
#[derive(Debug)]
pub(crate) struct CachedRows {
    schema: SchemaRef,
    partitions: Vec<CachedPartition>,
}

#[derive(Debug)]
struct CachedPartition {
    batches: Vec<RecordBatch>,
    rows: usize,
    /// Per column of the table: (null count, bytes in memory).
    columns: Vec<(usize, usize)>,
}

impl CachedRows {
    pub(crate) fn new(schema: SchemaRef, partitions: Vec<Vec<RecordBatch>>) -> Self {
        let partitions = partitions
            .into_iter()
            .map(|batches| {
                let mut columns = vec![(0, 0); schema.fields().len()];
                for batch in &batches {
                    for (counts, array) in columns.iter_mut().zip(batch.columns()) {
                        counts.0 += array.null_count();
                        counts.1 += array.get_array_memory_size();
                    }
                }
                let rows = batches.iter().map(RecordBatch::num_rows).sum();
                CachedPartition {
                    batches,
                    rows,
                    columns,
                }
            })
            .collect();
        CachedRows { schema, partitions }
    }

    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub(crate) fn rows(&self) -> usize {
        self.partitions.iter().map(|p| p.rows).sum()
    }
}

/// One scan of a cached table, as DataFusion plans it: which columns, how many rows at most.
#[derive(Debug, Clone)]
pub(crate) struct CachedScan {
    rows: Arc<CachedRows>,
    columns: Vec<usize>,
    schema: SchemaRef,
    fetch: Option<usize>,
    /// Dynamic filters over the scan's columns: rows that fail one are not read.
    filters: Vec<Arc<dyn PhysicalExpr>>,
    metrics: ExecutionPlanMetricsSet,
}

impl CachedScan {
    /// A scan of `columns` (every column when `None`) of `rows`, at most `fetch` rows.
    pub(crate) fn new(
        rows: Arc<CachedRows>,
        columns: Option<&Vec<usize>>,
        fetch: Option<usize>,
    ) -> Result<Self> {
        let columns = match columns {
            Some(columns) => columns.clone(),
            None => (0..rows.schema.fields().len()).collect(),
        };
        let schema = Arc::new(rows.schema.project(&columns)?);
        Ok(CachedScan {
            rows,
            columns,
            schema,
            fetch,
            filters: Vec::new(),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The rows of `batch` that pass the dynamic filters, in their current state.
    fn filtered(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let mut batch = batch;
        for filter in &self.filters {
            if batch.num_rows() == 0 {
                break;
            }
            let keep = filter.evaluate(&batch)?.into_array(batch.num_rows())?;
            let keep = datafusion::common::cast::as_boolean_array(&keep)?;
            if keep.true_count() < batch.num_rows() {
                batch = filter_record_batch(&batch, keep)?;
            }
        }
        Ok(batch)
    }

    /// Exact statistics of the scan's columns over `partitions`, before the fetch.
    fn statistics_of<'a>(
        &self,
        partitions: impl Iterator<Item = &'a CachedPartition>,
    ) -> Statistics {
        let mut rows = 0;
        let mut columns = vec![(0, 0); self.columns.len()];
        for partition in partitions {
            rows += partition.rows;
            for (sum, &column) in columns.iter_mut().zip(&self.columns) {
                sum.0 += partition.columns[column].0;
                sum.1 += partition.columns[column].1;
            }
        }
        Statistics {
            num_rows: Precision::Exact(rows),
            total_byte_size: Precision::Exact(columns.iter().map(|c| c.1).sum()),
            column_statistics: columns
                .iter()
                .map(|&(nulls, bytes)| ColumnStatistics {
                    null_count: Precision::Exact(nulls),
                    byte_size: Precision::Exact(bytes),
                    ..ColumnStatistics::new_unknown()
                })
                .collect(),
        }
    }
}

impl DataSource for CachedScan {
    fn open(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let reader = PartitionReader {
            scan: self.clone(),
            partition,
            next: 0,
            remaining: self.fetch,
            metrics: BaselineMetrics::new(&self.metrics, partition),
        };
        Ok(Box::pin(cooperative(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::iter(reader),
        ))))
    }

    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let rows: Vec<usize> = self.rows.partitions.iter().map(|p| p.rows).collect();
        write!(f, "CachedTable: partitions={}, rows={rows:?}", rows.len())?;
        crate::batch::scan_display::write_projection(f, format, &self.schema)?;
        if let Some(fetch) = self.fetch {
            write!(f, ", fetch={fetch}")?;
        }
        for filter in &self.filters {
            write!(f, ", filter={filter}")?;
        }
        Ok(())
    }

    fn output_partitioning(&self) -> Partitioning {
        Partitioning::UnknownPartitioning(self.rows.partitions.len())
    }

    fn eq_properties(&self) -> EquivalenceProperties {
        EquivalenceProperties::new(self.schema.clone())
    }

    fn scheduling_type(&self) -> SchedulingType {
        // The stream yields to tokio's budget (`cooperative` in `open`), so a long scan
        // can be cancelled.
        SchedulingType::Cooperative
    }

    fn partition_statistics(&self, partition: Option<usize>) -> Result<Arc<Statistics>> {
        let (statistics, partitions) = match partition {
            Some(i) => match self.rows.partitions.get(i) {
                Some(one) => (self.statistics_of(std::iter::once(one)), 1),
                None => return Ok(Arc::new(Statistics::new_unknown(&self.schema))),
            },
            None => (
                self.statistics_of(self.rows.partitions.iter()),
                self.rows.partitions.len(),
            ),
        };
        Ok(Arc::new(statistics.with_fetch(self.fetch, 0, partitions)?))
    }

    fn with_fetch(&self, limit: Option<usize>) -> Option<Arc<dyn DataSource>> {
        Some(Arc::new(CachedScan {
            fetch: limit,
            ..self.clone()
        }))
    }

    fn fetch(&self) -> Option<usize> {
        self.fetch
    }

    fn metrics(&self) -> ExecutionPlanMetricsSet {
        self.metrics.clone()
    }

    fn try_swapping_with_projection(
        &self,
        _projection: &ProjectionExprs,
    ) -> Result<Option<Arc<dyn DataSource>>> {
        // The table scan's projection is already applied; a projection above stays there.
        Ok(None)
    }

    fn try_pushdown_filters(
        &self,
        filters: Vec<Arc<dyn PhysicalExpr>>,
        _config: &ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn DataSource>>> {
        // Only dynamic filters (see the module's comment), and none under a fetch: the
        // fetch counts the rows before any filter.
        let taken: Vec<bool> = filters
            .iter()
            .map(|f| self.fetch.is_none() && is_dynamic(f))
            .collect();
        let pushed = taken
            .iter()
            .map(|&t| if t { PushedDown::Yes } else { PushedDown::No })
            .collect();
        if !taken.contains(&true) {
            return Ok(FilterPushdownPropagation::with_parent_pushdown_result(
                pushed,
            ));
        }
        let mut scan = self.clone();
        scan.filters.extend(
            filters
                .into_iter()
                .zip(taken)
                .filter_map(|(f, t)| t.then_some(f)),
        );
        Ok(
            FilterPushdownPropagation::with_parent_pushdown_result(pushed)
                .with_updated_node(Arc::new(scan) as Arc<dyn DataSource>),
        )
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        for filter in &self.filters {
            if f(filter)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }
}

/// One partition of a scan, read batch by batch.
struct PartitionReader {
    scan: CachedScan,
    partition: usize,
    /// The index of the next stored batch to read.
    next: usize,
    /// Rows still to give when the scan has a fetch.
    remaining: Option<usize>,
    metrics: BaselineMetrics,
}

impl Iterator for PartitionReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let batch = self.next_stored()?;
            let timer = self.metrics.elapsed_compute().timer();
            let batch = match self.scan.filters.is_empty() {
                true => batch,
                false => batch.and_then(|b| self.scan.filtered(b)),
            };
            timer.done();
            match batch {
                // A batch the filters emptied is not worth a message up the plan.
                Ok(b) if b.num_rows() == 0 && !self.scan.filters.is_empty() => continue,
                Ok(b) => {
                    self.metrics.record_output(b.num_rows());
                    return Some(Ok(b));
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl PartitionReader {
    /// The next stored batch's columns of the scan, up to the fetch.
    fn next_stored(&mut self) -> Option<Result<RecordBatch>> {
        if self.remaining == Some(0) {
            return None;
        }
        let scan = &self.scan;
        let stored = scan
            .rows
            .partitions
            .get(self.partition)?
            .batches
            .get(self.next)?;
        self.next += 1;
        let timer = self.metrics.elapsed_compute().timer();
        let rows = match self.remaining.as_mut() {
            Some(remaining) => {
                let kept = stored.num_rows().min(*remaining);
                *remaining -= kept;
                kept
            }
            None => stored.num_rows(),
        };
        let arrays = scan
            .columns
            .iter()
            .map(|&i| {
                if rows == stored.num_rows() {
                    stored.column(i).clone()
                } else {
                    stored.column(i).slice(0, rows)
                }
            })
            .collect();
        // The row count keeps `SELECT COUNT(*)`, which reads no column, counting.
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        let batch = RecordBatch::try_new_with_options(scan.schema.clone(), arrays, &options);
        timer.done();
        Some(batch.map_err(Into::into))
    }
}

/// Whether `filter` holds a dynamic filter (one an operator fills in as it runs).
fn is_dynamic(filter: &Arc<dyn PhysicalExpr>) -> bool {
    let mut dynamic = false;
    let _ = filter.apply(|e| {
        dynamic |= e.downcast_ref::<DynamicFilterPhysicalExpr>().is_some();
        Ok(if dynamic {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    dynamic
}
