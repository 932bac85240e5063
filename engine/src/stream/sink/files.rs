//! `INSERT INTO files SELECT … FROM stream`: a continuous query's rows written into a
//! filesystem table's directory. Each file is written under a hidden temporary name and
//! renamed when complete, so a reader never sees half a file, and a cancelled pipeline
//! leaves no partial file behind (its unwritten rows are dropped). A partitioned table's rows
//! go into a directory per partition (`partitions.rs`), committed with a success file.

use super::partitions::{PartitionSpec, Trigger};
use super::Sink;
use crate::error::EngineError;
use crate::stream::StreamUpdate;
use async_trait::async_trait;
use datafusion::arrow::array::{Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Formats the sink writes, as the filesystem connector reads them back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FileFormat {
    Csv,
    Json,
    Parquet,
}

impl FileFormat {
    pub(super) fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Some(FileFormat::Csv),
            "json" => Some(FileFormat::Json),
            "parquet" => Some(FileFormat::Parquet),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Json => "json",
            FileFormat::Parquet => "parquet",
        }
    }
}

/// The rows waiting for one directory's next file (the table's own, or a partition's).
struct Pending {
    batches: Vec<RecordBatch>,
    rows: usize,
    bytes: usize,
    /// The partition's column values, in the order of the spec's keys.
    values: Vec<Option<String>>,
    /// When its first row arrived (the process-time trigger counts from here).
    first_row: Instant,
    /// Whether a file has been written into it since it was last committed.
    uncommitted_files: bool,
    committed: bool,
}

/// Rows waiting for the next files, and the files written so far.
pub(super) struct FileSink {
    dir: PathBuf,
    format: FileFormat,
    /// The schema written into the files: without the partition columns.
    file_schema: SchemaRef,
    partitions: Option<Partitioned>,
    /// Distinguishes the files of this query from those of other runs.
    run_id: String,
    /// By directory relative to `dir` ("" when the table is not partitioned).
    pending: BTreeMap<String, Pending>,
    last_roll: Instant,
    roll_every: Duration,
    /// A file is rolled when this many bytes wait (`sink.rolling-policy.file-size`).
    roll_bytes: usize,
    files: u64,
    rows: u64,
}

/// A partitioned table's spec and where its key columns are in the query's rows.
struct Partitioned {
    spec: PartitionSpec,
    key_indices: Vec<usize>,
    kept_indices: Vec<usize>,
}

/// A file is rolled when this many rows wait, whatever the interval.
const MAX_PENDING_ROWS: usize = 1 << 20;

impl FileSink {
    pub(super) fn new(
        dir: &Path,
        format: FileFormat,
        schema: SchemaRef,
        partitions: Option<PartitionSpec>,
        roll_every: Duration,
        roll_bytes: usize,
    ) -> Result<Self, EngineError> {
        if dir.is_file() {
            return Err(EngineError::Io {
                message: format!(
                    "the sink's path '{}' is a file; a streaming INSERT writes files into a \
                     directory",
                    dir.display()
                ),
                source: None,
            });
        }
        std::fs::create_dir_all(dir).map_err(|e| EngineError::Io {
            message: format!("cannot create the sink directory '{}': {e}", dir.display()),
            source: Some(Box::new(e)),
        })?;
        let partitions = partitions
            .map(|spec| {
                let key_indices = spec
                    .keys
                    .iter()
                    .map(|key| schema.index_of(key))
                    .collect::<Result<Vec<_>, _>>()?;
                let kept_indices = (0..schema.fields().len())
                    .filter(|i| !key_indices.contains(i))
                    .collect();
                Ok::<_, datafusion::arrow::error::ArrowError>(Partitioned {
                    spec,
                    key_indices,
                    kept_indices,
                })
            })
            .transpose()?;
        let file_schema = match &partitions {
            Some(p) => Arc::new(schema.project(&p.kept_indices)?),
            None => schema.clone(),
        };
        Ok(FileSink {
            dir: dir.to_path_buf(),
            format,
            file_schema,
            partitions,
            run_id: format!("{:016x}", rand::random::<u64>()),
            pending: BTreeMap::new(),
            last_roll: Instant::now(),
            roll_every,
            roll_bytes,
            files: 0,
            rows: 0,
        })
    }

    /// Files `batch`'s rows under their partitions' directories, without the key columns.
    fn add(&mut self, batch: RecordBatch) -> Result<(), EngineError> {
        let Some(partitioned) = &self.partitions else {
            let entry = self
                .pending
                .entry(String::new())
                .or_insert_with(|| Pending::new(Vec::new()));
            entry.push(batch);
            return Ok(());
        };
        // Each row's partition, as the text of its key columns.
        let options = FormatOptions::default();
        let formatters = partitioned
            .key_indices
            .iter()
            .map(|&i| ArrayFormatter::try_new(batch.column(i).as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rows_of: BTreeMap<Vec<Option<String>>, Vec<u32>> = BTreeMap::new();
        for row in 0..batch.num_rows() {
            let values = partitioned
                .key_indices
                .iter()
                .zip(&formatters)
                .map(|(&i, formatter)| {
                    (!batch.column(i).is_null(row)).then(|| formatter.value(row).to_string())
                })
                .collect();
            rows_of.entry(values).or_default().push(row as u32);
        }
        let kept = batch.project(&partitioned.kept_indices)?;
        for (values, rows) in rows_of {
            let indices = UInt32Array::from(rows);
            let columns = kept
                .columns()
                .iter()
                .map(|c| take(c.as_ref(), &indices, None))
                .collect::<Result<Vec<_>, _>>()?;
            let part = RecordBatch::try_new(self.file_schema.clone(), columns)?;
            let directory = partitioned.spec.directory(&values);
            self.pending
                .entry(directory)
                .or_insert_with(|| Pending::new(values))
                .push(part);
        }
        Ok(())
    }

    /// Writes the waiting rows into new files if the roll interval has passed (or `force`,
    /// at the end of a bounded stream), then commits the partitions that are due. Returns
    /// whether a file appeared.
    async fn roll(&mut self, force: bool, watermark: Option<i64>) -> Result<bool, EngineError> {
        let waiting_rows: usize = self.pending.values().map(|p| p.rows).sum();
        let waiting_bytes: usize = self.pending.values().map(|p| p.bytes).sum();
        let due = force
            || self.last_roll.elapsed() >= self.roll_every
            || waiting_rows >= MAX_PENDING_ROWS
            || waiting_bytes >= self.roll_bytes;
        let mut wrote = false;
        if due && waiting_rows > 0 {
            self.last_roll = Instant::now();
            for (directory, pending) in self.pending.iter_mut() {
                if pending.rows == 0 {
                    continue;
                }
                let batches = std::mem::take(&mut pending.batches);
                let rows = std::mem::take(&mut pending.rows);
                pending.bytes = 0;
                let name = format!(
                    "part-{}-{:05}.{}",
                    self.run_id,
                    self.files,
                    self.format.extension()
                );
                let dir = self.dir.join(directory);
                let (format, schema) = (self.format, self.file_schema.clone());
                tokio::task::spawn_blocking(move || {
                    write_atomically(&dir, &name, format, &schema, &batches)
                })
                .await
                .map_err(|e| EngineError::Internal {
                    message: format!("the sink's writer stopped: {e}"),
                    source: Some(Box::new(e)),
                })??;
                pending.uncommitted_files = true;
                self.files += 1;
                self.rows += rows as u64;
                wrote = true;
            }
        }
        self.commit(force, watermark)?;
        Ok(wrote)
    }

    /// Writes the success file of every partition whose trigger has fired and whose rows are
    /// all in files (every partition, at the end of a bounded stream).
    fn commit(&mut self, end: bool, watermark: Option<i64>) -> Result<(), EngineError> {
        let Some(partitioned) = &self.partitions else {
            return Ok(());
        };
        let Some(success_file) = &partitioned.spec.success_file else {
            return Ok(());
        };
        let delay_ms = partitioned.spec.delay.as_millis() as i64;
        for (directory, pending) in self.pending.iter_mut() {
            if !pending.uncommitted_files || pending.rows > 0 {
                continue;
            }
            let due = end
                || match partitioned.spec.trigger {
                    Trigger::ProcessTime => pending.first_row.elapsed() >= partitioned.spec.delay,
                    Trigger::PartitionTime => {
                        match (watermark, partitioned.spec.time_ms(&pending.values)) {
                            (Some(watermark), Some(time)) => {
                                watermark >= time.saturating_add(delay_ms)
                            }
                            _ => false,
                        }
                    }
                };
            if due {
                let path = self.dir.join(directory).join(success_file);
                std::fs::write(&path, b"").map_err(|e| EngineError::Io {
                    message: format!("cannot write the success file '{}': {e}", path.display()),
                    source: Some(Box::new(e)),
                })?;
                pending.uncommitted_files = false;
                pending.committed = true;
            }
        }
        Ok(())
    }
}

impl Pending {
    fn new(values: Vec<Option<String>>) -> Self {
        Pending {
            batches: Vec::new(),
            rows: 0,
            bytes: 0,
            values,
            first_row: Instant::now(),
            uncommitted_files: false,
            committed: false,
        }
    }

    fn push(&mut self, batch: RecordBatch) {
        if self.rows == 0 && !self.uncommitted_files && !self.committed {
            self.first_row = Instant::now();
        }
        self.rows += batch.num_rows();
        self.bytes += batch.get_array_memory_size();
        self.batches.push(batch);
    }
}

#[async_trait]
impl Sink for FileSink {
    fn append(&mut self, batches: Vec<RecordBatch>) -> Result<(), EngineError> {
        for batch in batches {
            if batch.num_rows() > 0 {
                self.add(batch)?;
            }
        }
        Ok(())
    }

    /// Never called: [`super::open`] refuses an updating result for files.
    fn change(&mut self, _changes: RecordBatch) {}

    async fn flush(
        &mut self,
        end: bool,
        watermark: Option<i64>,
    ) -> Result<Option<StreamUpdate>, EngineError> {
        Ok(self
            .roll(end, watermark)
            .await?
            .then_some(StreamUpdate::Written {
                files: self.files,
                rows: self.rows,
            }))
    }
}

/// Writes `batches` into `dir/name` under a hidden temporary name, renamed when complete.
fn write_atomically(
    dir: &Path,
    name: &str,
    format: FileFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(), EngineError> {
    std::fs::create_dir_all(dir).map_err(io_error)?;
    let final_path = dir.join(name);
    let temp_path = dir.join(format!(".{name}.inprogress"));
    let written = write_file(&temp_path, format, schema, batches)
        .and_then(|()| std::fs::rename(&temp_path, &final_path).map_err(io_error));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp_path);
    }
    written
}

fn io_error(e: impl std::fmt::Display) -> EngineError {
    EngineError::Io {
        message: format!("writing a sink file failed: {e}"),
        source: None,
    }
}

fn write_file(
    path: &Path,
    format: FileFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(), EngineError> {
    let file = std::fs::File::create(path).map_err(io_error)?;
    let file = std::io::BufWriter::new(file);
    match format {
        FileFormat::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(file);
            for batch in batches {
                writer.write(batch)?;
            }
        }
        FileFormat::Json => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(file);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
        FileFormat::Parquet => {
            let mut writer =
                datafusion::parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None)
                    .map_err(io_error)?;
            for batch in batches {
                writer.write(batch).map_err(io_error)?;
            }
            writer.close().map_err(io_error)?;
        }
    }
    Ok(())
}

impl Drop for FileSink {
    /// A cancelled query's temporary files (a write cut short) do not stay behind.
    fn drop(&mut self) {
        let prefix = format!(".part-{}", self.run_id);
        for directory in self.pending.keys() {
            let Ok(entries) = std::fs::read_dir(self.dir.join(directory)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(&prefix) && name.ends_with(".inprogress") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn at(time: &str) -> Option<i64> {
        chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|t| t.and_utc().timestamp_millis())
    }

    #[tokio::test]
    async fn a_partition_is_committed_once_the_watermark_passes_its_time_and_delay() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("dt", DataType::Utf8, true),
            Field::new("hm", DataType::Utf8, true),
        ]));
        let options = [
            ("sink.partition-commit.trigger", "partition-time"),
            ("partition.time-extractor.timestamp-pattern", "$dt $hm:00"),
            ("sink.partition-commit.delay", "1 min"),
            ("sink.partition-commit.policy.kind", "success-file"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let keys = ["dt".to_string(), "hm".to_string()];
        let spec = PartitionSpec::from_options(&keys, &options).unwrap();
        let mut sink = FileSink::new(
            dir.path(),
            FileFormat::Csv,
            schema.clone(),
            Some(spec),
            Duration::ZERO,
            usize::MAX,
        )
        .unwrap();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec!["2024-01-01"; 3])),
                Arc::new(StringArray::from(vec!["10:00", "10:01", "10:00"])),
            ],
        )
        .unwrap();
        sink.append(vec![batch]).unwrap();
        let committed = |minute: &str| {
            dir.path()
                .join(format!("dt=2024-01-01/hm=10%3A{minute}/_SUCCESS"))
                .is_file()
        };
        sink.flush(false, at("2024-01-01 10:00:30")).await.unwrap();
        assert!(!committed("00") && !committed("01"));
        sink.flush(false, at("2024-01-01 10:01:00")).await.unwrap();
        assert!(committed("00") && !committed("01"));
        // The end of a bounded stream commits what is left.
        sink.flush(true, None).await.unwrap();
        assert!(committed("01"));
        let file = std::fs::read_dir(dir.path().join("dt=2024-01-01/hm=10%3A00"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "csv"))
            .unwrap();
        assert_eq!(std::fs::read_to_string(file).unwrap(), "id\n1\n3\n");
    }
}
