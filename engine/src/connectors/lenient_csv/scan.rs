//! The scan of a lenient CSV table. DataFusion's listing table fails the whole scan on a
//! malformed record, so this scan reads the files itself: they are listed when a query scans
//! the table, as the listing table does, and their bytes cut into one range per partition,
//! so a large file is read by every core. Each range is read in regions of whole lines
//! (`regions.rs`), each decoded into typed batches of the columns the query reads, skipping
//! and counting the malformed records (`decode.rs`).

use super::decode::RegionDecoder;
use super::regions::for_each_region;
use crate::error::EngineError;
use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::config::CsvOptions;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::DataFusionError;
use datafusion::common::Statistics;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::datasource::source::{DataSource, DataSourceExec};
use datafusion::datasource::TableType;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::object_store::{GetResultPayload, ObjectStoreExt};
use datafusion::physical_expr::projection::ProjectionExprs;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::coop::make_cooperative;
use datafusion::physical_plan::execution_plan::SchedulingType;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet};
use datafusion::physical_plan::stream::RecordBatchReceiverStream;
use datafusion::physical_plan::{DisplayFormatType, ExecutionPlan};
use futures::TryStreamExt;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A range smaller than this is not worth a partition of its own.
const MIN_RANGE_BYTES: u64 = 4 << 20;

/// How the files are written, from the table's `csv.*` options.
#[derive(Debug, Clone)]
pub(crate) struct CsvSyntax {
    pub(super) delimiter: u8,
    pub(super) quote: u8,
    pub(super) escape: Option<u8>,
    pub(super) comment: Option<u8>,
    header: bool,
}

impl CsvSyntax {
    pub(crate) fn of(options: &CsvOptions) -> Self {
        CsvSyntax {
            delimiter: options.delimiter,
            quote: options.quote,
            escape: options.escape,
            comment: options.comment,
            header: options.has_header.unwrap_or(true),
        }
    }

    pub(super) fn reader<R: std::io::Read>(&self, input: R) -> csv::Reader<R> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            // Records of any length come back, to be counted instead of failing the read.
            .flexible(true)
            .delimiter(self.delimiter)
            .quote(self.quote)
            .escape(self.escape)
            .comment(self.comment)
            .from_reader(input)
    }
}

/// A table over CSV files that skips (and counts in `skipped`) the records whose number of
/// fields is not the number of columns, or whose values the query reads do not parse.
#[derive(Debug)]
pub(crate) struct LenientCsvTable {
    url: ListingTableUrl,
    /// The files of a directory or glob must end with this; "" for a file named outright.
    extension: String,
    /// The table's columns, with their declared types.
    schema: SchemaRef,
    syntax: CsvSyntax,
    /// `csv.null-literal`.
    null_literal: Option<String>,
    skipped: Arc<AtomicU64>,
}

impl LenientCsvTable {
    pub(crate) fn new(
        url: ListingTableUrl,
        extension: &str,
        schema: SchemaRef,
        syntax: CsvSyntax,
        null_literal: Option<String>,
        skipped: Arc<AtomicU64>,
    ) -> Self {
        LenientCsvTable {
            url,
            extension: extension.to_string(),
            schema,
            syntax,
            null_literal,
            skipped,
        }
    }

    /// The table's files now, in path order, with their sizes.
    async fn files(&self, state: &dyn Session) -> Result<Vec<FileSpan>, DataFusionError> {
        let store = state.runtime_env().object_store(&self.url)?;
        let mut listed: Vec<_> = self
            .url
            .list_all_files(state, store.as_ref(), &self.extension)
            .await?
            .try_collect()
            .await?;
        listed.sort_by(|a, b| a.location.cmp(&b.location));
        let mut files = Vec::with_capacity(listed.len());
        for meta in listed {
            match store.get(&meta.location).await?.payload {
                GetResultPayload::File(_, path) => files.push(FileSpan {
                    path: Arc::new(path),
                    len: meta.size,
                }),
                GetResultPayload::Stream(_) => {
                    return Err(DataFusionError::External(Box::new(
                        EngineError::NotSupported {
                            message: format!(
                                "'csv.ignore-parse-errors' reads local files only, and {} is not \
                             one",
                                meta.location
                            ),
                        },
                    )))
                }
            }
        }
        Ok(files)
    }
}

#[async_trait]
impl TableProvider for LenientCsvTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        // A hint: the LIMIT stays above the scan and stops it.
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let files = self.files(state).await?;
        let partitions = split(&files, state.config().target_partitions());
        let decoder = RegionDecoder::new(
            self.schema.clone(),
            projection.cloned(),
            self.syntax.clone(),
            self.null_literal.clone(),
            state.config().batch_size(),
        )?;
        Ok(DataSourceExec::from_data_source(LenientScan {
            partitions: Arc::new(partitions),
            schema: decoder.schema(),
            decoder,
            header: self.syntax.header,
            skipped: self.skipped.clone(),
            metrics: ExecutionPlanMetricsSet::new(),
        }))
    }
}

#[derive(Debug)]
struct FileSpan {
    path: Arc<PathBuf>,
    len: u64,
}

/// Bytes `start..end` of a file.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Range {
    pub(super) path: Arc<PathBuf>,
    pub(super) start: u64,
    pub(super) end: u64,
}

/// The files' bytes cut into at most `partitions` shares of ranges, each share at least
/// [`MIN_RANGE_BYTES`] (but the last); always one share, if empty, so the plan has a
/// partition to run.
fn split(files: &[FileSpan], partitions: usize) -> Vec<Vec<Range>> {
    let total: u64 = files.iter().map(|f| f.len).sum();
    let share = total
        .div_ceil(partitions.max(1) as u64)
        .max(MIN_RANGE_BYTES);
    let mut shares = vec![Vec::new()];
    let mut room = share;
    for file in files {
        let mut start = 0;
        while start < file.len {
            if room == 0 {
                shares.push(Vec::new());
                room = share;
            }
            let end = file.len.min(start + room);
            if let Some(last) = shares.last_mut() {
                last.push(Range {
                    path: file.path.clone(),
                    start,
                    end,
                });
            }
            room -= end - start;
            start = end;
        }
    }
    shares
}

/// The scan of a lenient table: each partition's ranges read on a blocking thread into
/// typed batches. A data source of its own rather than DataFusion's streaming table, which
/// counts no rows: this one counts what it reads, as the listing table's scans do, so the
/// progress line can show it.
#[derive(Debug, Clone)]
struct LenientScan {
    /// Per partition, the byte ranges it reads.
    partitions: Arc<Vec<Vec<Range>>>,
    /// The schema of the columns the query reads.
    schema: SchemaRef,
    decoder: RegionDecoder,
    /// Whether the files start with a header line.
    header: bool,
    skipped: Arc<AtomicU64>,
    metrics: ExecutionPlanMetricsSet,
}

impl DataSource for LenientScan {
    fn open(
        &self,
        partition: usize,
        _ctx: Arc<TaskContext>,
    ) -> datafusion::error::Result<SendableRecordBatchStream> {
        let ranges = self.partitions.get(partition).cloned().unwrap_or_default();
        let mut builder = RecordBatchReceiverStream::builder(self.schema.clone(), 2);
        let tx = builder.tx();
        let decoder = self.decoder.clone();
        let header = self.header;
        let skipped = self.skipped.clone();
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        builder.spawn_blocking(move || {
            let mut each = |region: &[u8]| {
                let (batches, bad) = decoder.decode(region)?;
                skipped.fetch_add(bad, Ordering::Relaxed);
                for batch in batches {
                    metrics.record_output(batch.num_rows());
                    // A send fails when the query no longer wants rows (cancelled, or a
                    // LIMIT met).
                    if tx.blocking_send(Ok(batch)).is_err() {
                        return Ok(false);
                    }
                }
                Ok(true)
            };
            for range in &ranges {
                if !for_each_region(range, header, &mut each)? {
                    return Ok(());
                }
            }
            Ok(())
        });
        Ok(make_cooperative(builder.build()))
    }

    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "LenientCsvScan: partitions={}", self.partitions.len())?;
        crate::batch::scan_display::write_projection(f, format, &self.schema)
    }

    fn output_partitioning(&self) -> Partitioning {
        Partitioning::UnknownPartitioning(self.partitions.len())
    }

    fn eq_properties(&self) -> EquivalenceProperties {
        EquivalenceProperties::new(self.schema.clone())
    }

    fn scheduling_type(&self) -> SchedulingType {
        // The stream yields to tokio's budget (`make_cooperative` in `open`), so a long
        // scan can be cancelled.
        SchedulingType::Cooperative
    }

    fn partition_statistics(
        &self,
        partition: Option<usize>,
    ) -> datafusion::error::Result<Arc<Statistics>> {
        // Rows are unknown until read (malformed records are only found by reading them);
        // the bytes to read are known, as a strict table's scan knows them, so that a join
        // builds its hash table from the smaller table.
        let ranges: Vec<&Range> = match partition {
            Some(p) => self.partitions.get(p).into_iter().flatten().collect(),
            None => self.partitions.iter().flatten().collect(),
        };
        let bytes: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        let mut statistics = Statistics::new_unknown(&self.schema);
        statistics.total_byte_size = Precision::Inexact(bytes as usize);
        Ok(Arc::new(statistics))
    }

    fn with_fetch(&self, _limit: Option<usize>) -> Option<Arc<dyn DataSource>> {
        // A LIMIT stays above the scan, which stops when it is met.
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
    ) -> datafusion::error::Result<Option<Arc<dyn DataSource>>> {
        // The table scan's projection is already applied; a projection above stays there.
        Ok(None)
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> datafusion::error::Result<TreeNodeRecursion>,
    ) -> datafusion::error::Result<TreeNodeRecursion> {
        // No expressions: filters are applied above the scan, after the row check.
        Ok(TreeNodeRecursion::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, len: u64) -> FileSpan {
        FileSpan {
            path: Arc::new(PathBuf::from(name)),
            len,
        }
    }

    #[test]
    fn bytes_are_shared_between_partitions_in_ranges_of_at_least_the_minimum() {
        let mb = 1 << 20;
        let shares = split(&[file("a", 10 * mb), file("b", 6 * mb)], 2);
        let spans: Vec<Vec<(String, u64, u64)>> = shares
            .iter()
            .map(|share| {
                share
                    .iter()
                    .map(|r| (r.path.display().to_string(), r.start, r.end))
                    .collect()
            })
            .collect();
        assert_eq!(
            spans,
            vec![
                vec![("a".into(), 0, 8 * mb)],
                vec![("a".into(), 8 * mb, 10 * mb), ("b".into(), 0, 6 * mb)],
            ]
        );
        // Small files stay in one partition; no files still make one (empty) partition.
        assert_eq!(split(&[file("a", 10), file("b", 20)], 2).len(), 1);
        assert_eq!(split(&[], 2), vec![Vec::<Range>::new()]);
    }
}
