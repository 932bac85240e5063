//! `'connector' = 'filesystem'` with `'source.monitor-interval'`: a directory (or a single
//! file) watched for new rows, as Flink's filesystem source does in streaming mode.
//!
//! Options: `path` (a directory, read non-recursively, or one file), `source.monitor-interval`
//! (e.g. '1 s' or '500 ms') and the lines options (`format` = csv | json, see
//! [`super::lines`]). At the start and then at every interval, the directory is listed:
//! files not seen before are read whole, and files seen before are read from where the last
//! read stopped, so lines appended to them become rows too. Only complete lines are read: a
//! last line without its line break waits for the next look. Files are read in name order.
//!
//! Left out of the listing: names starting with '.' or '_' and names ending in
//! '.inprogress' or '.tmp' (files still being written, by Flink's and Eddy's sinks). Each csv
//! file's first line is a header, as a batch table over the same file reads it, unless
//! `'csv.header' = 'false'`. A file that shrinks is taken as replaced and read again from its
//! start, header included; a file rewritten in place at the same size is not noticed.

use super::connector::CountedSource;
use super::lines::{complete_len, LineDecoder, LineFormat, Origins};
use super::{parse_duration, ConnectorOptions};
use crate::error::EngineError;
use crate::stream::catalog::SourceFactory;
use crate::stream::source::{BatchSender, StreamSource};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::context::SessionContext;
use futures::future::BoxFuture;
use std::collections::{BTreeSet, HashMap};
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// The most bytes read from a file at once.
const CHUNK: u64 = 4 << 20;
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// The monitored-directory source of table `table`, and the count of lines it skipped
/// (with `'csv.ignore-parse-errors'` or `'json.ignore-parse-errors'`).
pub(crate) fn source(
    table: &str,
    schema: SchemaRef,
    options: &mut ConnectorOptions,
) -> Result<CountedSource, EngineError> {
    options.get("connector");
    let path = options.require("path", "the directory (or file) to watch for new lines")?;
    let interval = options.require(
        "source.monitor-interval",
        "how often to look for new files and lines, e.g. '1 s'",
    )?;
    let interval = parse_duration("source.monitor-interval", &interval)?.max(MIN_INTERVAL);
    let format = LineFormat::from_options(options, schema.clone(), Origins::Files)?;
    options.finish("filesystem")?;
    let skipped = Arc::new(AtomicU64::new(0));
    let counted = format.ignores_errors().then(|| skipped.clone());
    Ok(CountedSource {
        factory: Arc::new(MonitorFactory {
            table: table.to_string(),
            schema,
            path: PathBuf::from(path),
            interval,
            format: Arc::new(format),
            skipped,
        }),
        skipped: counted,
    })
}

struct MonitorFactory {
    table: String,
    schema: SchemaRef,
    path: PathBuf,
    interval: Duration,
    format: Arc<LineFormat>,
    skipped: Arc<AtomicU64>,
}

impl SourceFactory for MonitorFactory {
    fn open(&self, _ctx: &SessionContext) -> Result<Box<dyn StreamSource>, EngineError> {
        let metadata = std::fs::metadata(&self.path).map_err(|e| EngineError::Io {
            message: format!(
                "table {} watches '{}', which cannot be read: {e} (create the directory \
                 first; relative paths start at the notebook's folder)",
                self.table,
                self.path.display()
            ),
            source: Some(Box::new(e)),
        })?;
        Ok(Box::new(MonitorSource {
            schema: self.schema.clone(),
            path: self.path.clone(),
            is_dir: metadata.is_dir(),
            interval: self.interval,
            format: self.format.clone(),
            skipped: self.skipped.clone(),
        }))
    }
}

struct MonitorSource {
    schema: SchemaRef,
    path: PathBuf,
    is_dir: bool,
    interval: Duration,
    format: Arc<LineFormat>,
    skipped: Arc<AtomicU64>,
}

/// A file seen before: how far it has been read (up to the end of its last whole line).
struct Tracked {
    offset: u64,
    decoder: LineDecoder,
}

impl StreamSource for MonitorSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn is_bounded(&self) -> bool {
        false
    }

    fn run(self: Box<Self>, out: BatchSender) -> BoxFuture<'static, Result<(), EngineError>> {
        Box::pin(async move {
            let mut files = HashMap::new();
            loop {
                if !self.scan(&mut files, &out).await? {
                    return Ok(());
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.interval) => {}
                    _ = out.closed() => return Ok(()),
                }
            }
        })
    }
}

impl MonitorSource {
    fn tracked(&self, path: &Path) -> Tracked {
        Tracked {
            offset: 0,
            decoder: LineDecoder::new(
                self.format.clone(),
                format!("file {}", path.display()),
                self.skipped.clone(),
            ),
        }
    }

    /// Reads what is new; false when the query no longer wants rows.
    async fn scan(
        &self,
        files: &mut HashMap<PathBuf, Tracked>,
        out: &BatchSender,
    ) -> Result<bool, EngineError> {
        let paths = self.list().await?;
        files.retain(|path, _| paths.contains(path));
        for path in paths {
            let length = match tokio::fs::metadata(&path).await {
                Ok(metadata) if metadata.is_file() => metadata.len(),
                // Gone since the listing, or not a file: nothing to read.
                _ => continue,
            };
            let tracked = files
                .entry(path.clone())
                .or_insert_with(|| self.tracked(&path));
            if length < tracked.offset {
                // Shorter than what was read: a new file under the old name.
                *tracked = self.tracked(&path);
            }
            if length == tracked.offset {
                continue;
            }
            if !self.read_new(&path, tracked, out).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The files to look at, in name order.
    async fn list(&self) -> Result<BTreeSet<PathBuf>, EngineError> {
        if !self.is_dir {
            // A single file may be missing for a moment while it is replaced.
            return Ok(BTreeSet::from([self.path.clone()]));
        }
        let io_error = |e: std::io::Error| EngineError::Io {
            message: format!(
                "cannot list the directory '{}' watched for new files: {e}",
                self.path.display()
            ),
            source: Some(Box::new(e)),
        };
        let mut entries = tokio::fs::read_dir(&self.path).await.map_err(io_error)?;
        let mut paths = BTreeSet::new();
        while let Some(entry) = entries.next_entry().await.map_err(io_error)? {
            if is_visible(&entry.file_name().to_string_lossy()) {
                paths.insert(entry.path());
            }
        }
        Ok(paths)
    }

    /// Reads the whole lines after `tracked.offset` and sends their rows; false when the
    /// query no longer wants rows.
    async fn read_new(
        &self,
        path: &Path,
        tracked: &mut Tracked,
        out: &BatchSender,
    ) -> Result<bool, EngineError> {
        let io_error = |e: std::io::Error| EngineError::Io {
            message: format!("cannot read the file '{}': {e}", path.display()),
            source: Some(Box::new(e)),
        };
        let mut file = match tokio::fs::File::open(path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(io_error(e)),
        };
        file.seek(SeekFrom::Start(tracked.offset))
            .await
            .map_err(io_error)?;
        // `chunk` always starts at `tracked.offset`: a partial line is kept and completed
        // by the next read.
        let mut chunk = Vec::new();
        loop {
            let read = (&mut file)
                .take(CHUNK)
                .read_to_end(&mut chunk)
                .await
                .map_err(io_error)?;
            if read == 0 {
                return Ok(true);
            }
            let whole = complete_len(&chunk);
            if whole == 0 {
                continue;
            }
            let batch = tracked.decoder.decode(&chunk[..whole])?;
            tracked.offset += whole as u64;
            chunk.drain(..whole);
            if let Some(batch) = batch {
                if out.send(batch).await.is_err() {
                    return Ok(false);
                }
            }
            if out.is_closed() {
                return Ok(false);
            }
        }
    }
}

/// Whether a file is read: not hidden, and not one still being written.
fn is_visible(name: &str) -> bool {
    !(name.starts_with('.')
        || name.starts_with('_')
        || name.ends_with(".inprogress")
        || name.ends_with(".tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::lines::test_options;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema};
    use std::io::Write;
    use tokio::sync::mpsc;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, true),
            Field::new("name", DataType::Utf8, true),
        ]))
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("eddy-file-monitor-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn make(path: &Path, format: &str) -> CountedSource {
        make_with(path, format, &[])
    }

    fn make_with(path: &Path, format: &str, more: &[(&str, &str)]) -> CountedSource {
        let path = path.to_string_lossy().to_string();
        let mut options = vec![
            ("connector", "filesystem"),
            ("path", &path),
            ("format", format),
            ("source.monitor-interval", "30 ms"),
        ];
        options.extend_from_slice(more);
        source("t", schema(), &mut test_options(&options)).unwrap()
    }

    fn append(path: &Path, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    /// The ids of the next rows, until `count` have come.
    async fn ids(
        rx: &mut mpsc::Receiver<datafusion::arrow::array::RecordBatch>,
        count: usize,
    ) -> Vec<i32> {
        let mut ids = Vec::new();
        while ids.len() < count {
            let batch = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("rows in time")
                .expect("the source is running");
            ids.extend(batch.column(0).as_primitive::<Int32Type>().values().iter());
        }
        ids
    }

    /// No rows for a few intervals.
    async fn quiet(rx: &mut mpsc::Receiver<datafusion::arrow::array::RecordBatch>) {
        let next = tokio::time::timeout(Duration::from_millis(150), rx.recv()).await;
        assert!(next.is_err(), "unexpected rows: {next:?}");
    }

    #[tokio::test]
    async fn new_files_and_appended_lines_become_rows() {
        let dir = scratch("dir");
        append(&dir.join("a.csv"), "id,name\n1,a\n2,b\n");
        let source = make(&dir, "csv")
            .factory
            .open(&SessionContext::new())
            .unwrap();
        assert!(!source.is_bounded());
        let (tx, mut rx) = mpsc::channel(4);
        let task = tokio::spawn(source.run(tx));
        assert_eq!(ids(&mut rx, 2).await, vec![1, 2]);

        append(&dir.join("b.csv"), "id,name\n3,c\n");
        append(&dir.join(".hidden.csv"), "100,x\n");
        append(&dir.join("_meta"), "101,x\n");
        append(&dir.join("c.csv.inprogress"), "102,x\n");
        append(&dir.join("d.tmp"), "103,x\n");
        assert_eq!(ids(&mut rx, 1).await, vec![3]);

        // A partial last line waits until its line break is written.
        append(&dir.join("a.csv"), "4,d\n5,");
        assert_eq!(ids(&mut rx, 1).await, vec![4]);
        quiet(&mut rx).await;
        append(&dir.join("a.csv"), "e\n");
        assert_eq!(ids(&mut rx, 1).await, vec![5]);

        // A file replaced by a shorter one is read again, header first.
        std::fs::write(dir.join("a.csv"), "id,name\n6,f\n").unwrap();
        assert_eq!(ids(&mut rx, 1).await, vec![6]);

        drop(rx);
        let stopped = tokio::time::timeout(Duration::from_millis(200), task).await;
        assert!(stopped.unwrap().unwrap().is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_single_json_file_is_followed() {
        let dir = scratch("file");
        let file = dir.join("events.json");
        append(&file, "{\"id\": 1, \"name\": \"a\"}\n");
        let source = make(&file, "json")
            .factory
            .open(&SessionContext::new())
            .unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let task = tokio::spawn(source.run(tx));
        assert_eq!(ids(&mut rx, 1).await, vec![1]);
        append(&file, "{\"id\": 2}\n{\"id\": 3}\n");
        assert_eq!(ids(&mut rx, 2).await, vec![2, 3]);
        // A bad line fails the query, naming the file and the line.
        append(&file, "{\"id\": \"four\"}\n");
        let error = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 4 of file"), "{error}");
        assert!(error.contains("events.json"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn without_a_header_every_line_is_a_row() {
        let dir = scratch("headerless");
        append(&dir.join("a.csv"), "1,a\n2,b\n");
        let source = make_with(&dir, "csv", &[("csv.header", "false")])
            .factory
            .open(&SessionContext::new())
            .unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let task = tokio::spawn(source.run(tx));
        assert_eq!(ids(&mut rx, 2).await, vec![1, 2]);
        drop(rx);
        let _ = tokio::time::timeout(Duration::from_millis(200), task).await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn csv_header_is_an_option_of_csv_files_only() {
        let dir = scratch("json-header");
        let path = dir.to_string_lossy().to_string();
        let error = source(
            "t",
            schema(),
            &mut test_options(&[
                ("connector", "filesystem"),
                ("path", &path),
                ("format", "json"),
                ("source.monitor-interval", "30 ms"),
                ("csv.header", "false"),
            ]),
        )
        .err()
        .unwrap();
        assert!(error.to_string().contains("csv.header"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_path_fails_at_open() {
        let counted = make(Path::new("/nonexistent/eddy/dir"), "csv");
        let error = counted.factory.open(&SessionContext::new()).err().unwrap();
        assert!(error.to_string().contains("/nonexistent/eddy/dir"));
    }

    #[test]
    fn hidden_and_unfinished_files_are_left_out() {
        assert!(is_visible("part-0.csv"));
        assert!(!is_visible(".part-0.csv"));
        assert!(!is_visible("_SUCCESS"));
        assert!(!is_visible("part-0.csv.inprogress"));
        assert!(!is_visible("part-0.tmp"));
    }
}
