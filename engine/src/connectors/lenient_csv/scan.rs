//! CSV files read record by record, so that a record with the wrong number of fields can be
//! skipped and counted. Arrow's CSV reader, under DataFusion's listing table, fails the whole
//! scan on a record with too many fields, and pads one with too few into a row that looks
//! like one with empty trailing values; neither is what `'csv.ignore-parse-errors'` promises.
//!
//! Every value is read as text (an empty one as NULL, as Arrow does); the row check casts
//! afterwards. The files are listed when a query scans the table, as the listing table does,
//! and their bytes are cut into one range per partition, so a large file is read by every
//! core. A range's first record is the one after the first line break at or past its start:
//! like DataFusion's own CSV reading, this assumes no line breaks inside quoted values.

use crate::error::EngineError;
use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::config::CsvOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Statistics;
use datafusion::common::{exec_datafusion_err, DataFusionError};
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
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A range smaller than this is not worth a partition of its own.
const MIN_RANGE_BYTES: u64 = 4 << 20;

/// How the files are written, from the table's `csv.*` options.
#[derive(Debug, Clone)]
pub(crate) struct CsvSyntax {
    delimiter: u8,
    quote: u8,
    escape: Option<u8>,
    comment: Option<u8>,
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

    fn reader<R: std::io::Read>(&self, input: R) -> csv::Reader<R> {
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

/// A table over CSV files whose every column is text, skipping (and counting in
/// `skipped`) the records whose number of fields is not the number of columns, or whose
/// bytes are not UTF-8.
#[derive(Debug)]
pub(crate) struct LenientCsvTable {
    url: ListingTableUrl,
    /// The files of a directory or glob must end with this; "" for a file named outright.
    extension: String,
    schema: SchemaRef,
    syntax: CsvSyntax,
    skipped: Arc<AtomicU64>,
}

impl LenientCsvTable {
    pub(crate) fn new(
        url: ListingTableUrl,
        extension: &str,
        schema: SchemaRef,
        syntax: CsvSyntax,
        skipped: Arc<AtomicU64>,
    ) -> Self {
        LenientCsvTable {
            url,
            extension: extension.to_string(),
            schema,
            syntax,
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
        let schema = match projection {
            Some(columns) => Arc::new(self.schema.project(columns)?),
            None => self.schema.clone(),
        };
        Ok(DataSourceExec::from_data_source(LenientScan {
            partitions: Arc::new(partitions),
            table_schema: self.schema.clone(),
            projection: projection.cloned(),
            schema,
            syntax: self.syntax.clone(),
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
struct Range {
    path: Arc<PathBuf>,
    start: u64,
    end: u64,
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
/// batches of text columns. A data source of its own rather than DataFusion's streaming
/// table, which counts no rows: this one counts what it reads, as the listing table's
/// scans do, so the progress line can show it.
#[derive(Debug, Clone)]
struct LenientScan {
    /// Per partition, the byte ranges it reads.
    partitions: Arc<Vec<Vec<Range>>>,
    table_schema: SchemaRef,
    /// The table's columns the query reads (all when `None`), and their schema.
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    syntax: CsvSyntax,
    skipped: Arc<AtomicU64>,
    metrics: ExecutionPlanMetricsSet,
}

impl DataSource for LenientScan {
    fn open(
        &self,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> datafusion::error::Result<SendableRecordBatchStream> {
        let ranges = self.partitions.get(partition).cloned().unwrap_or_default();
        let mut builder = RecordBatchReceiverStream::builder(self.schema.clone(), 2);
        let tx = builder.tx();
        let batch_size = ctx.session_config().batch_size();
        let mut rows = TextRows::new(self.table_schema.clone(), batch_size);
        let syntax = self.syntax.clone();
        let skipped = self.skipped.clone();
        let projection = self.projection.clone();
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        builder.spawn_blocking(move || {
            // A send fails when the query no longer wants rows (cancelled, or a LIMIT met).
            let mut emit = |batch: RecordBatch| {
                let batch = match &projection {
                    Some(columns) => batch.project(columns).map_err(Into::into),
                    None => Ok(batch),
                };
                if let Ok(batch) = &batch {
                    metrics.record_output(batch.num_rows());
                }
                tx.blocking_send(batch).is_ok()
            };
            for range in &ranges {
                if !read_range(range, &syntax, &mut rows, &skipped, &mut emit)? {
                    return Ok(());
                }
            }
            if rows.len() > 0 {
                emit(rows.finish()?);
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
        _partition: Option<usize>,
    ) -> datafusion::error::Result<Arc<Statistics>> {
        // Unknown until read: malformed records are only found by reading them.
        Ok(Arc::new(Statistics::new_unknown(&self.schema)))
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

/// Reads the records that start in `range` into `rows`, handing each full batch to `emit`.
/// False when `emit` says to stop.
fn read_range(
    range: &Range,
    syntax: &CsvSyntax,
    rows: &mut TextRows,
    skipped: &AtomicU64,
    emit: &mut impl FnMut(RecordBatch) -> bool,
) -> datafusion::error::Result<bool> {
    let io_error =
        |e: std::io::Error| exec_datafusion_err!("could not read {}: {e}", range.path.display());
    let mut file = File::open(range.path.as_ref()).map_err(io_error)?;
    let mut offset = range.start;
    let mut input = if range.start == 0 {
        BufReader::new(file)
    } else {
        // The record under way at `start` belongs to the range before: this range's first
        // record begins after the line break at or after `start - 1`.
        file.seek(SeekFrom::Start(range.start - 1))
            .map_err(io_error)?;
        let mut input = BufReader::new(file);
        let mut rest_of_line = Vec::new();
        let read = input
            .read_until(b'\n', &mut rest_of_line)
            .map_err(io_error)?;
        offset = range.start - 1 + read as u64;
        input
    };
    let mut header = range.start == 0 && syntax.header;
    let mut csv = syntax.reader(&mut input);
    let mut record = csv::ByteRecord::new();
    loop {
        let more = csv
            .read_byte_record(&mut record)
            .map_err(|e| exec_datafusion_err!("could not read {}: {e}", range.path.display()))?;
        if !more {
            return Ok(true);
        }
        let starts_at = offset + record.position().map_or(0, |p| p.byte());
        if starts_at >= range.end {
            return Ok(true);
        }
        if std::mem::take(&mut header) {
            continue;
        }
        if !rows.push(&mut record) {
            skipped.fetch_add(1, Ordering::Relaxed);
        }
        if rows.len() >= rows.batch_size && !emit(rows.finish()?) {
            return Ok(false);
        }
    }
}

/// Text columns being filled, a record at a time.
struct TextRows {
    schema: SchemaRef,
    columns: Vec<StringBuilder>,
    batch_size: usize,
    rows: usize,
}

impl TextRows {
    fn new(schema: SchemaRef, batch_size: usize) -> Self {
        let columns = schema
            .fields()
            .iter()
            .map(|_| StringBuilder::new())
            .collect();
        TextRows {
            schema,
            columns,
            batch_size: batch_size.max(1),
            rows: 0,
        }
    }

    fn len(&self) -> usize {
        self.rows
    }

    /// Adds the record as a row; false (and nothing added) when its number of fields is
    /// wrong or it is not UTF-8.
    fn push(&mut self, record: &mut csv::ByteRecord) -> bool {
        if record.len() != self.columns.len() {
            return false;
        }
        // Checked once for the whole record; the bytes go back to `record` for reuse.
        let text = match csv::StringRecord::from_byte_record(std::mem::take(record)) {
            Ok(text) => text,
            Err(not_utf8) => {
                *record = not_utf8.into_byte_record();
                return false;
            }
        };
        for (column, value) in self.columns.iter_mut().zip(text.iter()) {
            match value {
                "" => column.append_null(),
                value => column.append_value(value),
            }
        }
        *record = text.into_byte_record();
        self.rows += 1;
        true
    }

    fn finish(&mut self) -> datafusion::error::Result<RecordBatch> {
        let columns = self
            .columns
            .iter_mut()
            .map(|c| Arc::new(c.finish()) as ArrayRef)
            .collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
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

    #[test]
    fn every_record_is_read_once_whichever_byte_the_ranges_are_cut_at() {
        use datafusion::arrow::array::AsArray;
        use datafusion::arrow::datatypes::{DataType, Field, Schema};

        let dir = std::env::temp_dir().join(format!("eddy-lenient-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cut.csv");
        let text = "id,name\n1,a\n2,\"b, quoted\"\n3,c,extra\n4\n5,e\n";
        std::fs::write(&path, text).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        let syntax = CsvSyntax::of(&CsvOptions::default().with_has_header(true));
        let path = Arc::new(path);
        for cut in 0..=text.len() as u64 {
            let skipped = AtomicU64::new(0);
            let mut rows = TextRows::new(schema.clone(), 2);
            let mut ids = Vec::new();
            let mut keep = |batch: RecordBatch| {
                ids.extend(
                    batch
                        .column(0)
                        .as_string::<i32>()
                        .iter()
                        .map(|v| v.unwrap().to_string()),
                );
                true
            };
            for (start, end) in [(0, cut), (cut, text.len() as u64)] {
                let range = Range {
                    path: path.clone(),
                    start,
                    end,
                };
                read_range(&range, &syntax, &mut rows, &skipped, &mut keep).unwrap();
            }
            let last = rows.finish().unwrap();
            keep(last);
            assert_eq!(ids, vec!["1", "2", "5"], "cut at byte {cut}");
            assert_eq!(skipped.load(Ordering::Relaxed), 2, "cut at byte {cut}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
