//! A file table whose decoded columns are kept in memory as queries read them
//! (`column_memory.rs`): each scan lists the table's files, answers from memory when the
//! files are unchanged and their columns kept, and otherwise reads the files and keeps what
//! it read once every partition has read to its end (a scan stopped early by a LIMIT or a
//! cancel keeps nothing).

use crate::batch::cache::balanced;
use crate::batch::cached_scan::{CachedRows, CachedScan};
use crate::batch::column_memory::{ColumnMemory, FileStamp};
use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, Statistics};
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::datasource::source::{DataSource, DataSourceExec};
use datafusion::datasource::TableType;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::projection::ProjectionExprs;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::SchedulingType;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet};
use datafusion::physical_plan::{
    displayable, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties,
};
use futures::{Stream, StreamExt, TryStreamExt};
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Where a file table's files are: what is listed to see whether they changed.
#[derive(Debug, Clone)]
pub(crate) struct FileListing {
    pub(crate) url: ListingTableUrl,
    /// The files of a directory or glob end with this; "" for a file named outright.
    pub(crate) extension: String,
}

/// A file table, its columns kept in memory as they are read.
#[derive(Debug)]
pub(crate) struct RememberedTable {
    inner: Arc<dyn TableProvider>,
    listing: FileListing,
    memory: Arc<ColumnMemory>,
    id: u64,
}

impl RememberedTable {
    pub(crate) fn new(
        inner: Arc<dyn TableProvider>,
        listing: FileListing,
        memory: Arc<ColumnMemory>,
    ) -> Self {
        let id = memory.new_table_id();
        RememberedTable {
            inner,
            listing,
            memory,
            id,
        }
    }

    /// The table as read from its files, for `CACHE TABLE` (which keeps every column
    /// itself).
    pub(crate) fn files(&self) -> Arc<dyn TableProvider> {
        self.inner.clone()
    }

    /// The number that names this table's kept columns.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The table's files now, by name, with their sizes and modification times.
    async fn stamps(&self, state: &dyn Session) -> Result<Vec<FileStamp>> {
        let store = state.runtime_env().object_store(&self.listing.url)?;
        let mut stamps: Vec<FileStamp> = self
            .listing
            .url
            .list_all_files(state, store.as_ref(), &self.listing.extension)
            .await?
            .map_ok(|meta| FileStamp {
                path: meta.location.to_string(),
                size: meta.size,
                modified: Some(meta.last_modified.into()),
            })
            .try_collect()
            .await?;
        stamps.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(stamps)
    }
}

impl Drop for RememberedTable {
    fn drop(&mut self) {
        self.memory.forget(self.id);
    }
}

#[async_trait]
impl TableProvider for RememberedTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !self.memory.is_enabled() {
            return self.inner.scan(state, projection, filters, limit).await;
        }
        let wanted: Vec<usize> = match projection {
            Some(columns) => columns.clone(),
            None => (0..self.schema().fields().len()).collect(),
        };
        let files = self.stamps(state).await?;
        if let Some((rows, positions)) = self.memory.lookup(self.id, &files, &wanted) {
            let scan = CachedScan::new(rows, Some(&positions), limit)?;
            return Ok(DataSourceExec::from_data_source(scan));
        }
        // A scan a LIMIT stops reads only part of the files: nothing to keep.
        if limit.is_some() {
            return self.inner.scan(state, projection, filters, limit).await;
        }
        let width = self.schema().fields().len();
        let read = self.memory.columns_to_read(self.id, &files, &wanted, width);
        let inner = self
            .inner
            .scan(state, Some(&read.columns), filters, None)
            .await?;
        // The files cut into byte ranges, one per core (what the optimizer does to a file
        // scan it sees; this one it does not).
        let config = state.config_options();
        let inner = inner
            .repartitioned(config.execution.target_partitions, config)?
            .unwrap_or(inner);
        let partitions = inner.output_partitioning().partition_count();
        let output: Vec<usize> = (0..wanted.len()).collect();
        let schema = Arc::new(inner.schema().project(&output)?);
        let keeping = Keeping {
            memory: self.memory.clone(),
            table: self.id,
            files,
            columns: read.columns,
            needed: read.needed,
            schema: inner.schema(),
            read: Mutex::new(vec![None; partitions]),
            bytes: AtomicUsize::new(0),
            needed_bytes: AtomicUsize::new(0),
            whole: AtomicBool::new(true),
            abandoned: AtomicBool::new(false),
        };
        Ok(DataSourceExec::from_data_source(KeepingScan {
            inner,
            output,
            schema,
            keeping: Arc::new(keeping),
            metrics: ExecutionPlanMetricsSet::new(),
        }))
    }
}

/// What a scan of the files collects to keep, partition by partition.
#[derive(Debug)]
struct Keeping {
    memory: Arc<ColumnMemory>,
    table: u64,
    files: Vec<FileStamp>,
    /// The table's columns read, in the order of the batches' columns.
    columns: Vec<usize>,
    /// How many of `columns`, from the first, are kept if the rest, read ahead, do not fit.
    needed: usize,
    schema: SchemaRef,
    /// Each partition's batches, once it has read to its end.
    read: Mutex<Vec<Option<Vec<RecordBatch>>>>,
    /// The bytes of every column read, and of the needed ones.
    bytes: AtomicUsize,
    needed_bytes: AtomicUsize,
    /// Every column is still to be kept: none was read ahead, or they fit so far.
    whole: AtomicBool,
    /// The needed columns are past the budget: nothing is kept.
    abandoned: AtomicBool,
}

/// What becomes of a batch read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collect {
    /// Kept with every column read.
    Whole,
    /// Kept with the needed columns only: the ones read ahead did not fit.
    Needed,
    /// Nothing is kept.
    Nothing,
}

impl Keeping {
    /// Counts a batch read, and says what is collected of it from now on.
    fn count(&self, batch: &RecordBatch) -> Collect {
        if self.abandoned.load(Ordering::Relaxed) {
            return Collect::Nothing;
        }
        let budget = self.memory.budget();
        let needed: usize = batch.columns()[..self.needed]
            .iter()
            .map(|column| column.get_array_memory_size())
            .sum();
        if self.needed_bytes.fetch_add(needed, Ordering::Relaxed) + needed > budget {
            self.abandoned.store(true, Ordering::Relaxed);
            return Collect::Nothing;
        }
        let size = batch.get_array_memory_size();
        if self.bytes.fetch_add(size, Ordering::Relaxed) + size > budget {
            self.whole.store(false, Ordering::Relaxed);
        }
        if self.whole.load(Ordering::Relaxed) {
            Collect::Whole
        } else {
            Collect::Needed
        }
    }

    /// `batch` with the needed columns only.
    fn narrow(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if batch.num_columns() == self.needed {
            return Ok(batch.clone());
        }
        let needed: Vec<usize> = (0..self.needed).collect();
        Ok(batch.project(&needed)?)
    }

    /// A partition read to its end: when it is the last, what was read is kept — every
    /// column if they fit, else the needed ones.
    fn finished(&self, partition: usize, batches: Vec<RecordBatch>) {
        if self.abandoned.load(Ordering::Relaxed) {
            return;
        }
        let mut read = self
            .read
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = read.get_mut(partition) {
            *slot = Some(batches);
        }
        if read.iter().any(Option::is_none) {
            return;
        }
        let partitions = read.len();
        let all: Vec<Vec<RecordBatch>> = read.iter_mut().filter_map(Option::take).collect();
        drop(read);
        if self.whole.load(Ordering::Relaxed) {
            let rows = CachedRows::new(self.schema.clone(), balanced(all.clone(), partitions));
            let kept = self.memory.keep(
                self.table,
                self.files.clone(),
                self.columns.clone(),
                rows,
                self.bytes.load(Ordering::Relaxed),
            );
            if kept || self.needed == self.columns.len() {
                return;
            }
        }
        // Partitions that ended before the read-ahead columns went past the budget still
        // hold them.
        let Ok(narrowed) = all
            .iter()
            .map(|batches| batches.iter().map(|b| self.narrow(b)).collect())
            .collect::<Result<Vec<Vec<RecordBatch>>>>()
        else {
            return;
        };
        let needed: Vec<usize> = (0..self.needed).collect();
        let Ok(schema) = self.schema.project(&needed) else {
            return;
        };
        let rows = CachedRows::new(Arc::new(schema), balanced(narrowed, partitions));
        self.memory.keep(
            self.table,
            self.files.clone(),
            self.columns[..self.needed].to_vec(),
            rows,
            self.needed_bytes.load(Ordering::Relaxed),
        );
    }
}

/// A scan of the files that keeps what it reads.
#[derive(Debug, Clone)]
struct KeepingScan {
    inner: Arc<dyn ExecutionPlan>,
    /// The columns of the inner scan's batches the query reads.
    output: Vec<usize>,
    schema: SchemaRef,
    keeping: Arc<Keeping>,
    metrics: ExecutionPlanMetricsSet,
}

impl DataSource for KeepingScan {
    fn open(&self, partition: usize, ctx: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        Ok(Box::pin(KeepingStream {
            input: self.inner.execute(partition, ctx)?,
            output: self.output.clone(),
            schema: self.schema.clone(),
            keeping: self.keeping.clone(),
            partition,
            read: Some(Vec::new()),
            narrowed: false,
            metrics: BaselineMetrics::new(&self.metrics, partition),
        }))
    }

    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "KeepInMemory: ")?;
        match format {
            DisplayFormatType::TreeRender => write!(f, "{}", self.inner.name()),
            _ => write!(f, "{}", displayable(self.inner.as_ref()).one_line()),
        }
    }

    fn output_partitioning(&self) -> Partitioning {
        Partitioning::UnknownPartitioning(self.inner.output_partitioning().partition_count())
    }

    fn eq_properties(&self) -> EquivalenceProperties {
        EquivalenceProperties::new(self.schema.clone())
    }

    fn scheduling_type(&self) -> SchedulingType {
        self.inner.properties().scheduling_type
    }

    fn partition_statistics(&self, _partition: Option<usize>) -> Result<Arc<Statistics>> {
        Ok(Arc::new(Statistics::new_unknown(&self.schema)))
    }

    fn with_fetch(&self, _limit: Option<usize>) -> Option<Arc<dyn DataSource>> {
        // A LIMIT stays above the scan, which reads everything to keep it.
        None
    }

    fn fetch(&self) -> Option<usize> {
        None
    }

    fn metrics(&self) -> ExecutionPlanMetricsSet {
        self.metrics.clone()
    }

    fn try_swapping_with_projection(
        &self,
        _projection: &ProjectionExprs,
    ) -> Result<Option<Arc<dyn DataSource>>> {
        Ok(None)
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }
}

/// One partition of a [`KeepingScan`]: the inner scan's batches, kept as they pass.
struct KeepingStream {
    input: SendableRecordBatchStream,
    output: Vec<usize>,
    schema: SchemaRef,
    keeping: Arc<Keeping>,
    partition: usize,
    /// `None` once the batches are not to be kept.
    read: Option<Vec<RecordBatch>>,
    /// The batches collected hold the needed columns only.
    narrowed: bool,
    /// The rows read, for the progress line.
    metrics: BaselineMetrics,
}

impl KeepingStream {
    /// Collects `batch` as the keeping says; once the columns read ahead no longer fit,
    /// the batches collected before give them up too.
    fn gather(&mut self, collect: Collect, batch: &RecordBatch) {
        let Some(read) = self.read.as_mut() else {
            return;
        };
        let kept = match collect {
            Collect::Whole => Ok(batch.clone()),
            Collect::Needed => {
                if !self.narrowed {
                    self.narrowed = true;
                    match read.iter().map(|b| self.keeping.narrow(b)).collect() {
                        Ok(narrowed) => *read = narrowed,
                        Err(_) => {
                            self.read = None;
                            return;
                        }
                    }
                }
                self.keeping.narrow(batch)
            }
            Collect::Nothing => {
                self.read = None;
                return;
            }
        };
        match kept {
            Ok(kept) => read.push(kept),
            Err(_) => self.read = None,
        }
    }
}

impl Stream for KeepingStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.input.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(batch))) => {
                self.metrics.record_output(batch.num_rows());
                let collect = self.keeping.count(&batch);
                self.gather(collect, &batch);
                Poll::Ready(Some(batch.project(&self.output).map_err(Into::into)))
            }
            Poll::Ready(Some(Err(error))) => {
                self.read = None;
                Poll::Ready(Some(Err(error)))
            }
            Poll::Ready(None) => {
                if let Some(read) = self.read.take() {
                    self.keeping.finished(self.partition, read);
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl RecordBatchStream for KeepingStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
