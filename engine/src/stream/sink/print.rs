//! Flink's `print` sink: each row becomes a line with its change kind, `+I[1, ann]` (or
//! `id> +I[1, ann]` with `'print-identifier' = 'id'`). Flink writes them to a task
//! manager's standard output; Eddy shows them in the cell.

use super::Sink;
use crate::error::EngineError;
use crate::stream::StreamUpdate;
use async_trait::async_trait;
use datafusion::arrow::array::{Array, RecordBatch, StringArray};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

pub(super) struct Print {
    identifier: Option<String>,
    /// Lines not yet handed to the display.
    pending: Vec<String>,
    rows: u64,
    /// The first failure to format a row, reported at the next flush.
    failed: Option<EngineError>,
}

impl Print {
    pub(super) fn new(identifier: Option<String>) -> Self {
        Print {
            identifier,
            pending: Vec::new(),
            rows: 0,
            failed: None,
        }
    }

    /// Adds a line per row of `batch`, whose columns from `first` on are the row's values.
    fn print(&mut self, batch: &RecordBatch, first: usize, kinds: Option<&StringArray>) {
        if let Err(error) = self.lines(batch, first, kinds) {
            self.failed.get_or_insert(error);
        }
    }

    fn lines(
        &mut self,
        batch: &RecordBatch,
        first: usize,
        kinds: Option<&StringArray>,
    ) -> Result<(), EngineError> {
        // Flink prints a NULL as `null`.
        let options = FormatOptions::default().with_null("null");
        let formatters = batch.columns()[first..]
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let kind = kinds.map_or("+I", |k| k.value(row));
            let values = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let line = match &self.identifier {
                Some(id) => format!("{id}> {kind}[{values}]"),
                None => format!("{kind}[{values}]"),
            };
            self.pending.push(line);
            self.rows += 1;
        }
        Ok(())
    }
}

#[async_trait]
impl Sink for Print {
    fn append(&mut self, batches: Vec<RecordBatch>) -> Result<(), EngineError> {
        for batch in &batches {
            self.print(batch, 0, None);
        }
        Ok(())
    }

    fn change(&mut self, changes: RecordBatch) {
        let kinds = changes
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .cloned();
        self.print(&changes, 1, kinds.as_ref());
    }

    async fn flush(
        &mut self,
        _end: bool,
        _watermark: Option<i64>,
    ) -> Result<Option<StreamUpdate>, EngineError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        if self.pending.is_empty() {
            return Ok(None);
        }
        Ok(Some(StreamUpdate::Printed {
            lines: std::mem::take(&mut self.pending),
            rows: self.rows,
        }))
    }
}
