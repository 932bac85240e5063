//! `INSERT INTO files SELECT … FROM stream`: a continuous query's rows written into a
//! filesystem table's directory. Each file is written under a hidden temporary name and
//! renamed when complete, so a reader never sees half a file, and a cancelled pipeline
//! leaves no partial file behind (its unwritten rows are dropped).

use super::Sink;
use crate::error::EngineError;
use crate::stream::StreamUpdate;
use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use std::path::{Path, PathBuf};
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

/// Rows waiting for the next file, and the files written so far.
pub(super) struct FileSink {
    dir: PathBuf,
    format: FileFormat,
    schema: SchemaRef,
    /// Distinguishes the files of this query from those of other runs.
    run_id: String,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    last_roll: Instant,
    roll_every: Duration,
    files: u64,
    rows: u64,
}

/// A file is rolled when this many rows wait, whatever the interval.
const MAX_PENDING_ROWS: usize = 1 << 20;

impl FileSink {
    pub(super) fn new(
        dir: &Path,
        format: FileFormat,
        schema: SchemaRef,
        roll_every: Duration,
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
        Ok(FileSink {
            dir: dir.to_path_buf(),
            format,
            schema,
            run_id: format!("{:016x}", rand::random::<u64>()),
            pending: Vec::new(),
            pending_rows: 0,
            last_roll: Instant::now(),
            roll_every,
            files: 0,
            rows: 0,
        })
    }

    /// Writes the waiting rows into a new file if the roll interval has passed (or
    /// `force`, at the end of a bounded stream). Returns whether a file appeared.
    async fn roll(&mut self, force: bool) -> Result<bool, EngineError> {
        let due = force
            || self.last_roll.elapsed() >= self.roll_every
            || self.pending_rows >= MAX_PENDING_ROWS;
        if !due || self.pending_rows == 0 {
            return Ok(false);
        }
        self.last_roll = Instant::now();
        let batches = std::mem::take(&mut self.pending);
        let rows = std::mem::take(&mut self.pending_rows);
        let name = format!(
            "part-{}-{:05}.{}",
            self.run_id,
            self.files,
            self.format.extension()
        );
        let final_path = self.dir.join(&name);
        let temp_path = self.dir.join(format!(".{name}.inprogress"));
        let (format, schema) = (self.format, self.schema.clone());
        tokio::task::spawn_blocking(move || {
            let written = write_file(&temp_path, format, &schema, &batches)
                .and_then(|()| std::fs::rename(&temp_path, &final_path).map_err(io_error));
            if written.is_err() {
                let _ = std::fs::remove_file(&temp_path);
            }
            written
        })
        .await
        .map_err(|e| EngineError::Internal {
            message: format!("the sink's writer stopped: {e}"),
            source: Some(Box::new(e)),
        })??;
        self.files += 1;
        self.rows += rows as u64;
        Ok(true)
    }
}

#[async_trait]
impl Sink for FileSink {
    fn append(&mut self, batches: Vec<RecordBatch>) {
        for batch in batches {
            if batch.num_rows() > 0 {
                self.pending_rows += batch.num_rows();
                self.pending.push(batch);
            }
        }
    }

    /// Never called: [`super::open`] refuses an updating result for files.
    fn change(&mut self, _changes: RecordBatch) {}

    async fn flush(&mut self, end: bool) -> Result<Option<StreamUpdate>, EngineError> {
        Ok(self.roll(end).await?.then_some(StreamUpdate::Written {
            files: self.files,
            rows: self.rows,
        }))
    }
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
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(&format!(".part-{}", self.run_id))
                    && name.ends_with(".inprogress")
                {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
}
