//! A region of whole CSV lines turned into typed batches of the columns a query reads.
//!
//! The clean path is Arrow's vectorised CSV decoder, the one a table without
//! `'csv.ignore-parse-errors'` reads with: it parses only the columns the query reads, a
//! batch of records at a time, and fails on a record with the wrong number of fields or a
//! value that does not parse. Only then are that batch's records read again record by record
//! ([`TextRows`] and a cast per column), to find the malformed ones, skip them and count
//! them. So a file without malformed rows costs what a strict table costs, and one with a
//! few costs a batch read twice for each.
//!
//! As in Flink, whose CSV format also parses only the fields a query reads, a value is
//! checked when the query reads its column; a record's number of fields is always checked.

use super::scan::CsvSyntax;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, StringArray, StringBuilder};
use datafusion::arrow::compute::{cast_with_options, filter_record_batch, CastOptions};
use datafusion::arrow::csv::reader::{Decoder, Format, ReaderBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use std::sync::Arc;

/// How a scan decodes regions: the table's columns, the ones read, and how values are
/// written.
#[derive(Debug, Clone)]
pub(super) struct RegionDecoder {
    /// The table's columns with their declared types.
    table_schema: SchemaRef,
    /// The columns read (all when `None`) and their schema.
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    syntax: CsvSyntax,
    /// `csv.null-literal`: the text that stands for NULL (besides an empty value).
    null_literal: Option<String>,
    batch_size: usize,
}

impl RegionDecoder {
    pub(super) fn new(
        table_schema: SchemaRef,
        projection: Option<Vec<usize>>,
        syntax: CsvSyntax,
        null_literal: Option<String>,
        batch_size: usize,
    ) -> Result<Self, ArrowError> {
        let schema = match &projection {
            Some(columns) => Arc::new(table_schema.project(columns)?),
            None => table_schema.clone(),
        };
        Ok(RegionDecoder {
            table_schema,
            projection,
            schema,
            syntax,
            null_literal,
            batch_size: batch_size.max(1),
        })
    }

    /// The region's rows as typed batches, and how many of its records were skipped. A
    /// batch of lines that holds a malformed record is read again record by record; the
    /// batches around it stay as Arrow's decoder made them.
    pub(super) fn decode(&self, region: &[u8]) -> Result<(Vec<RecordBatch>, u64), ArrowError> {
        let mut batches = Vec::new();
        let mut skipped = 0;
        let mut decoder = self.arrow_decoder()?;
        let mut at = 0;
        while at < region.len() {
            // One batch of records: Arrow's decoder reads whole records until it has a
            // batch's worth or the region ends.
            let start = at;
            let mut failed = false;
            loop {
                match decoder.decode(&region[at..]) {
                    Ok(0) => break,
                    Ok(used) => {
                        at += used;
                        if decoder.capacity() == 0 {
                            break;
                        }
                    }
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            if at >= region.len() && !failed {
                // The last record may lack its line break: an empty read ends it.
                failed = decoder.decode(&[]).is_err();
            }
            let batch = match failed {
                false => decoder.flush(),
                true => Err(ArrowError::CsvError("a malformed record".into())),
            };
            match batch {
                Ok(Some(batch)) => batches.push(match self.schema.fields().is_empty() {
                    true => self.rows_only(batch.num_rows())?,
                    false => batch,
                }),
                // Nothing decoded and nothing read: what is left is read record by record
                // (rather than loop).
                Ok(None) if at == start => {
                    let (rows, bad) = self.decode_record_by_record(&region[start..])?;
                    batches.extend(rows);
                    skipped += bad;
                    break;
                }
                Ok(None) => {}
                Err(_) => {
                    // The records from `start`: those decoded (when the values failed), or a
                    // batch's worth of lines (when the records did, wherever the decoder
                    // stopped).
                    let end = match failed {
                        false => at,
                        true => {
                            start
                                + batches_of_lines(&region[start..], self.batch_size)
                                    .next()
                                    .map_or(0, <[u8]>::len)
                        }
                    };
                    let (rows, bad) = self.decode_record_by_record(&region[start..end])?;
                    batches.extend(rows);
                    skipped += bad;
                    at = end;
                    decoder = self.arrow_decoder()?;
                }
            }
        }
        Ok((batches, skipped))
    }

    fn arrow_decoder(&self) -> Result<Decoder, ArrowError> {
        let syntax = &self.syntax;
        let mut format = Format::default()
            .with_header(false)
            .with_delimiter(syntax.delimiter)
            .with_quote(syntax.quote);
        if let Some(escape) = syntax.escape {
            format = format.with_escape(escape);
        }
        if let Some(comment) = syntax.comment {
            format = format.with_comment(comment);
        }
        if let Some(null) = &self.null_literal {
            let pattern = format!("^(|{})$", regex::escape(null));
            let null = regex::Regex::new(&pattern)
                .map_err(|e| ArrowError::InvalidArgumentError(e.to_string()))?;
            format = format.with_null_regex(null);
        }
        let builder = match self.projection.as_deref() {
            // No column read (COUNT(*)): the records are still split into fields and
            // counted, the first field as text standing in for the row.
            Some([]) => ReaderBuilder::new(Arc::new(Schema::new(
                self.table_schema
                    .fields()
                    .iter()
                    .map(|f| Field::new(f.name(), DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            )))
            .with_projection(vec![0]),
            Some(columns) => {
                ReaderBuilder::new(self.table_schema.clone()).with_projection(columns.to_vec())
            }
            None => ReaderBuilder::new(self.table_schema.clone()),
        };
        Ok(builder
            .with_format(format)
            .with_batch_size(self.batch_size)
            .build_decoder())
    }

    /// The region record by record: records with the wrong number of fields or bytes that
    /// are not UTF-8 are skipped, then rows with a value that does not parse.
    fn decode_record_by_record(
        &self,
        region: &[u8],
    ) -> Result<(Vec<RecordBatch>, u64), ArrowError> {
        let read: Vec<usize> = match &self.projection {
            Some(columns) => columns.clone(),
            None => (0..self.table_schema.fields().len()).collect(),
        };
        let mut text = TextRows::new(self.table_schema.fields().len(), read);
        let mut skipped = 0;
        let mut batches = Vec::new();
        let mut reader = self.syntax.reader(region);
        let mut record = csv::ByteRecord::new();
        while reader
            .read_byte_record(&mut record)
            .map_err(|e| ArrowError::CsvError(e.to_string()))?
        {
            if !text.push(&mut record) {
                skipped += 1;
            }
            if text.rows >= self.batch_size {
                let rows = text.rows;
                let (batch, bad) = self.typed(text.finish(), rows)?;
                skipped += bad;
                batches.push(batch);
            }
        }
        if text.rows > 0 {
            let rows = text.rows;
            let (batch, bad) = self.typed(text.finish(), rows)?;
            skipped += bad;
            batches.push(batch);
        }
        Ok((batches, skipped))
    }

    /// Text columns cast to the columns' types, without the rows where a value does not
    /// parse; how many those were.
    fn typed(&self, text: Vec<StringArray>, rows: usize) -> Result<(RecordBatch, u64), ArrowError> {
        let mut fits = vec![true; rows];
        // A failed cast gives NULL instead of an error.
        let options = CastOptions {
            safe: true,
            ..Default::default()
        };
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(text.len());
        for (raw, field) in text.iter().zip(self.schema.fields()) {
            let raw = match &self.null_literal {
                Some(null) => raw
                    .iter()
                    .map(|v| v.filter(|v| v != null))
                    .collect::<StringArray>(),
                None => raw.clone(),
            };
            let typed = cast_with_options(&raw, field.data_type(), &options)?;
            for (row, fits) in fits.iter_mut().enumerate() {
                if !raw.is_null(row) && typed.is_null(row) {
                    *fits = false;
                }
            }
            columns.push(typed);
        }
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        let bad = fits.iter().filter(|fits| !**fits).count() as u64;
        if bad == 0 {
            return Ok((batch, 0));
        }
        Ok((filter_record_batch(&batch, &BooleanArray::from(fits))?, bad))
    }

    /// A batch of `rows` rows and no columns.
    fn rows_only(&self, rows: usize) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            Vec::new(),
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
    }

    /// The schema of the batches it gives.
    pub(super) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// `region` cut after every `lines`-th line break.
fn batches_of_lines(region: &[u8], lines: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = region;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = rest
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .nth(lines.max(1) - 1)
            .map_or(rest.len(), |(at, _)| at + 1);
        let (batch, after) = rest.split_at(cut);
        rest = after;
        Some(batch)
    })
}

/// The read columns as text, a record at a time.
struct TextRows {
    /// How many fields a record has.
    fields: usize,
    /// The fields read, in the order of the columns given.
    read: Vec<usize>,
    columns: Vec<StringBuilder>,
    rows: usize,
}

impl TextRows {
    fn new(fields: usize, read: Vec<usize>) -> Self {
        let columns = read.iter().map(|_| StringBuilder::new()).collect();
        TextRows {
            fields,
            read,
            columns,
            rows: 0,
        }
    }

    /// Adds the record as a row; false (and nothing added) when its number of fields is
    /// wrong or a field read is not UTF-8.
    fn push(&mut self, record: &mut csv::ByteRecord) -> bool {
        if record.len() != self.fields {
            return false;
        }
        let mut values = Vec::with_capacity(self.read.len());
        for &field in &self.read {
            match std::str::from_utf8(&record[field]) {
                Ok(value) => values.push(value),
                Err(_) => return false,
            }
        }
        for (column, value) in self.columns.iter_mut().zip(values) {
            match value {
                "" => column.append_null(),
                value => column.append_value(value),
            }
        }
        self.rows += 1;
        true
    }

    fn finish(&mut self) -> Vec<StringArray> {
        self.rows = 0;
        self.columns.iter_mut().map(StringBuilder::finish).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::common::config::CsvOptions;

    fn decoder(projection: Option<Vec<usize>>, null: Option<&str>) -> RegionDecoder {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("day", DataType::Date32, true),
        ]));
        let syntax = CsvSyntax::of(&CsvOptions::default());
        RegionDecoder::new(schema, projection, syntax, null.map(String::from), 2)
            .expect("a decoder")
    }

    fn shown(batches: &[RecordBatch]) -> String {
        pretty_format_batches(batches).expect("a table").to_string()
    }

    const CLEAN: &[u8] = b"1,a,2024-01-01\n2,\"b, c\",2024-01-02\n3,,2024-01-03\n";

    #[test]
    fn a_clean_region_decodes_as_it_does_record_by_record() {
        for projection in [None, Some(vec![2, 0]), Some(vec![1])] {
            let decoder = decoder(projection, None);
            let (clean, skipped) = decoder.decode(CLEAN).expect("decoded");
            assert_eq!(skipped, 0);
            assert_eq!(clean.iter().map(RecordBatch::num_rows).sum::<usize>(), 3);
            let (slow, skipped) = decoder.decode_record_by_record(CLEAN).expect("decoded");
            assert_eq!(skipped, 0);
            assert_eq!(shown(&clean), shown(&slow));
        }
    }

    #[test]
    fn only_the_malformed_records_of_a_region_are_skipped_and_counted() {
        let region = b"1,a,2024-01-01\nx,b,2024-01-02\n3,c,not a day\n4,d\n5,e,2024-01-05,more\n\
                       6,\xff,2024-01-06\n7,g,2024-01-07\n";
        // Every column read: rows x, 3 (its day), 4 and 5 (their fields) and 6 (not UTF-8).
        let (rows, skipped) = decoder(None, None).decode(region).expect("decoded");
        assert_eq!(skipped, 5);
        let ids: Vec<String> = shown(&rows)
            .lines()
            .filter_map(|line| line.split('|').nth(1).map(|id| id.trim().to_string()))
            .filter(|id| id.parse::<i32>().is_ok())
            .collect();
        assert_eq!(ids, ["1", "7"]);
        // Only the ids read: a day or a name that does not parse is not looked at.
        let (rows, skipped) = decoder(Some(vec![0]), None)
            .decode(region)
            .expect("decoded");
        assert_eq!(
            skipped, 3,
            "x, and the two records with the wrong number of fields"
        );
        assert_eq!(rows.iter().map(RecordBatch::num_rows).sum::<usize>(), 4);
        // No column read (COUNT(*)): the records are still counted.
        let (rows, skipped) = decoder(Some(vec![]), None).decode(region).expect("decoded");
        assert_eq!(skipped, 2);
        assert_eq!(rows.iter().map(RecordBatch::num_rows).sum::<usize>(), 5);
    }

    #[test]
    fn a_last_record_without_a_line_break_is_read_clean_or_not() {
        let decoder = decoder(None, None);
        let (rows, skipped) = decoder
            .decode(b"1,a,2024-01-01\n2,b,2024-01-02")
            .expect("decoded");
        assert_eq!(
            (
                rows.iter().map(RecordBatch::num_rows).sum::<usize>(),
                skipped
            ),
            (2, 0)
        );
        let (rows, skipped) = decoder
            .decode(b"1,a,2024-01-01\n2,b,never")
            .expect("decoded");
        assert_eq!(
            (
                rows.iter().map(RecordBatch::num_rows).sum::<usize>(),
                skipped
            ),
            (1, 1)
        );
    }

    #[test]
    fn a_region_is_cut_into_batches_of_lines() {
        let cut: Vec<&[u8]> = batches_of_lines(b"1\n2\n3\n4\n5", 2).collect();
        assert_eq!(cut, [&b"1\n2\n"[..], b"3\n4\n", b"5"]);
    }

    #[test]
    fn the_null_text_is_null_on_both_paths() {
        let decoder = decoder(None, Some("-"));
        let (clean, _) = decoder.decode(b"1,-,-\n").expect("decoded");
        let (slow, _) = decoder
            .decode_record_by_record(b"1,-,-\n")
            .expect("decoded");
        assert_eq!(shown(&clean), shown(&slow));
        assert_eq!(clean[0].column(1).null_count(), 1);
        assert_eq!(clean[0].column(2).null_count(), 1);
    }
}
