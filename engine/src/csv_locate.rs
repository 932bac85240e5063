//! Where a malformed CSV row is. DataFusion reads a file in byte ranges side by side, so
//! Arrow's error counts lines from the start of a range, and names no file. When a query
//! fails on a CSV value, the engine reads the files of the CSV tables the statement
//! mentions once more, each from its start and alone, to name the file and its line.

use datafusion::arrow::csv::reader::{Format, ReaderBuilder};
use datafusion::arrow::datatypes::SchemaRef;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether an error message is Arrow's complaint about a CSV row.
pub(crate) fn is_csv_row_error(message: &str) -> bool {
    message.contains("Error while parsing value") || message.contains("incorrect number of fields")
}

/// A CSV table as declared: the files to look in and how to read them.
pub(crate) struct CsvSource {
    pub(crate) files: Vec<PathBuf>,
    pub(crate) schema: SchemaRef,
    format: Format,
}

impl CsvSource {
    /// From a table's `WITH` options; `None` for other tables (and globs and URLs, which
    /// are not looked through).
    pub(crate) fn from_options(
        options: &BTreeMap<String, String>,
        schema: SchemaRef,
    ) -> Option<Self> {
        if !options.get("format")?.eq_ignore_ascii_case("csv")
            || options.contains_key("csv.ignore-parse-errors")
                && options["csv.ignore-parse-errors"].eq_ignore_ascii_case("true")
        {
            return None;
        }
        let path = options.get("path")?;
        if path.contains("://") || path.contains(['*', '?', '[']) {
            return None;
        }
        let byte = |key: &str| {
            options.get(key).and_then(|v| match v.as_str() {
                "\\t" => Some(b'\t'),
                other => other.as_bytes().first().copied(),
            })
        };
        let header = options
            .get("csv.header")
            .is_none_or(|v| v.eq_ignore_ascii_case("true"));
        let mut format = Format::default().with_header(header);
        if let Some(d) = byte("csv.field-delimiter") {
            format = format.with_delimiter(d);
        }
        if let Some(q) = byte("csv.quote-character") {
            format = format.with_quote(q);
        }
        if let Some(e) = byte("csv.escape-character") {
            format = format.with_escape(e);
        }
        let path = Path::new(path);
        let files = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "csv"))
                .collect();
            files.sort();
            files
        } else {
            vec![path.to_path_buf()]
        };
        Some(CsvSource {
            files,
            schema,
            format,
        })
    }

    /// The first malformed row: its file, line (from 1, the header included) and Arrow's
    /// message. Stops early when `stop` is set (the statement was cancelled).
    pub(crate) fn first_bad_row(&self, stop: &AtomicBool) -> Option<(PathBuf, usize, String)> {
        const BATCH: usize = 8192;
        for file in &self.files {
            let reader = ReaderBuilder::new(self.schema.clone())
                .with_format(self.format.clone())
                .with_batch_size(BATCH)
                .build(File::open(file).ok()?)
                .ok()?;
            for batch in reader {
                if stop.load(Ordering::Relaxed) {
                    return None;
                }
                if let Err(error) = batch {
                    let message = error.to_string();
                    return Some((file.clone(), self.file_line(&message)?, message));
                }
            }
        }
        None
    }

    /// The line of the file (from 1) an Arrow error from a reader over the whole file
    /// names. Arrow counts records from 0 for a bad value and from 1 for a row with the
    /// wrong number of fields, the header line among them either way.
    fn file_line(&self, message: &str) -> Option<usize> {
        let number_after = |marker: &str| -> Option<usize> {
            let rest = message.split(marker).nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        };
        if let Some(n) = number_after(" at line ") {
            return Some(n + 1);
        }
        number_after("for line ")
    }
}

/// Runs `first_bad_row` off the async threads; dropping the future stops the search.
pub(crate) async fn locate(sources: Vec<CsvSource>) -> Option<(PathBuf, usize, String)> {
    let stop = Arc::new(AtomicBool::new(false));
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let _guard = StopOnDrop(stop.clone());
    tokio::task::spawn_blocking(move || {
        sources
            .iter()
            .find_map(|source| source.first_bad_row(&stop))
    })
    .await
    .ok()
    .flatten()
}
