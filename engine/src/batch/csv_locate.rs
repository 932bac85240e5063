//! Where a malformed CSV row is. DataFusion reads a file in byte ranges side by side, so
//! Arrow's error counts lines from the start of a range, and names no file. When a query
//! fails on a CSV value, the engine reads the files of the CSV tables the statement
//! mentions once more, each from its start and alone, to name the file and its line.

use super::csv_error::CsvRowError;
use crate::batch::remembered_table::RememberedTable;
use datafusion::arrow::csv::reader::{Format, ReaderBuilder};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::listing::ListingTable;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether an error message is Arrow's complaint about a CSV row.
pub(crate) fn is_csv_row_error(message: &str) -> bool {
    CsvRowError::parse(message).is_some()
}

/// A CSV table's files and how DataFusion reads them.
pub(crate) struct CsvSource {
    files: Vec<PathBuf>,
    schema: SchemaRef,
    format: Format,
}

impl CsvSource {
    /// The CSV reading of a table over local files; `None` for other tables (other formats,
    /// remote stores, globs, and the views that skip malformed rows).
    pub(crate) fn of(provider: &Arc<dyn TableProvider>) -> Option<Self> {
        if let Some(remembered) = provider.as_ref().downcast_ref::<RememberedTable>() {
            return Self::of(&remembered.files());
        }
        let listing = provider.as_ref().downcast_ref::<ListingTable>()?;
        let options = listing.options();
        let csv = options
            .format
            .as_ref()
            .downcast_ref::<CsvFormat>()?
            .options();
        let mut format = Format::default()
            .with_header(csv.has_header.unwrap_or(true))
            .with_delimiter(csv.delimiter)
            .with_quote(csv.quote);
        if let Some(escape) = csv.escape {
            format = format.with_escape(escape);
        }
        if let Some(comment) = csv.comment {
            format = format.with_comment(comment);
        }
        let mut files = Vec::new();
        for url in listing.table_paths() {
            if url.as_str().contains(['*', '?', '[']) {
                return None;
            }
            let path = url.get_url().to_file_path().ok()?;
            if path.is_dir() {
                let mut found: Vec<PathBuf> = std::fs::read_dir(&path)
                    .ok()?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.to_string_lossy().ends_with(&options.file_extension))
                    .collect();
                found.sort();
                files.extend(found);
            } else {
                files.push(path);
            }
        }
        Some(CsvSource {
            files,
            schema: provider.schema(),
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
