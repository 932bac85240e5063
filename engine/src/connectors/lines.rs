//! Lines of csv or json text decoded into record batches of a table's schema: the shared
//! format of the socket and file-monitor sources.
//!
//! Options (Flink's names): `format` = csv | json; for csv `csv.field-delimiter` (default
//! `,`), `csv.quote-character` (default `"`), `csv.escape-character`, `csv.allow-comments`
//! (lines starting with `#`), `csv.null-literal` (a text read as NULL; an empty field is
//! NULL anyway) and `csv.ignore-parse-errors`; for json `json.ignore-parse-errors`. Lines from
//! files may start with a header line: `csv.header` (default `true`, as for a batch table over
//! the same file) skips each file's first line. Lines from a socket have none: every line is a
//! row, as in Flink's csv format.
//!
//! A chunk of lines is decoded at once by Arrow's readers. When that fails, the chunk is
//! split in halves until the lines that fail are found: with `*.ignore-parse-errors` they
//! are skipped and counted, otherwise the error names the line, shows it and says why.

use super::{bad_option, ConnectorOptions};
use crate::batch::csv_error::CsvRowError;
use crate::error::EngineError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::error::ArrowError;
use regex::Regex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How the lines of a table are written: csv or json, with the format's options.
#[derive(Debug, Clone)]
pub(crate) struct LineFormat {
    schema: SchemaRef,
    kind: Kind,
    ignore_errors: bool,
    /// Whether each origin's first line is a header, not a row.
    header: bool,
}

/// Whether the lines' origin can start with a header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origins {
    /// Files, each of which may start with a header (`csv.header`).
    Files,
    /// A stream of lines (a socket): no header, and no `csv.header` option.
    Lines,
}

#[derive(Debug, Clone)]
enum Kind {
    Csv(CsvOptions),
    Json,
}

#[derive(Debug, Clone)]
struct CsvOptions {
    delimiter: u8,
    quote: u8,
    escape: Option<u8>,
    comment: Option<u8>,
    /// `csv.null-literal`, or an empty field: what reads as NULL.
    null_regex: Option<Regex>,
}

/// A regex matching `literal` exactly, or an empty field (NULL as it is without a literal).
fn null_regex(literal: &str) -> Result<Regex, EngineError> {
    Regex::new(&format!("^(|{})$", regex::escape(literal))).map_err(|_| {
        bad_option(
            "csv.null-literal",
            "the text that reads as NULL, e.g. 'N/A'",
        )
    })
}

/// How many characters of a bad line an error shows.
const SHOWN_CHARS: usize = 120;

impl LineFormat {
    /// Reads `format` and the `csv.*` / `json.*` options (leaving the connector's own
    /// options, and the final `finish`, to the caller).
    pub(crate) fn from_options(
        options: &mut ConnectorOptions,
        schema: SchemaRef,
        origins: Origins,
    ) -> Result<Self, EngineError> {
        let format = options.require("format", "the lines are 'csv' or 'json'")?;
        let header = match origins {
            Origins::Files => options.flag("csv.header", true)?,
            Origins::Lines => false,
        };
        let delimiter = options.get("csv.field-delimiter");
        let quote = options.get("csv.quote-character");
        let escape = options.get("csv.escape-character");
        let comments = options.flag("csv.allow-comments", false)?;
        let null_literal = options.get("csv.null-literal");
        let csv_lenient = options.flag("csv.ignore-parse-errors", false)?;
        let json_lenient = options.flag("json.ignore-parse-errors", false)?;
        let csv_given = [
            "csv.field-delimiter",
            "csv.quote-character",
            "csv.escape-character",
            "csv.allow-comments",
            "csv.null-literal",
            "csv.ignore-parse-errors",
            "csv.header",
        ]
        .into_iter()
        .find(|key| options.has(key));
        let (kind, ignore_errors) = match format.to_ascii_lowercase().as_str() {
            "csv" => {
                if options.has("json.ignore-parse-errors") {
                    return Err(bad_option(
                        "json.ignore-parse-errors",
                        "the json.* options apply to 'format' = 'json'; for csv use \
                         'csv.ignore-parse-errors'",
                    ));
                }
                if let Some(field) = schema
                    .fields()
                    .iter()
                    .find(|f| matches!(f.data_type(), DataType::Binary | DataType::LargeBinary))
                {
                    return Err(EngineError::NotSupported {
                        message: format!(
                            "column {} is BYTES, which csv lines cannot hold; declare it as \
                             STRING",
                            field.name()
                        ),
                    });
                }
                let csv = CsvOptions {
                    delimiter: match delimiter {
                        Some(d) => single_byte("csv.field-delimiter", &d)?,
                        None => b',',
                    },
                    quote: match quote {
                        Some(q) => single_byte("csv.quote-character", &q)?,
                        None => b'"',
                    },
                    escape: escape
                        .map(|e| single_byte("csv.escape-character", &e))
                        .transpose()?,
                    comment: comments.then_some(b'#'),
                    null_regex: null_literal.as_deref().map(null_regex).transpose()?,
                };
                (Kind::Csv(csv), csv_lenient)
            }
            "json" => {
                if let Some(key) = csv_given {
                    return Err(bad_option(
                        key,
                        "the csv.* options apply to 'format' = 'csv'; for json the option is \
                         'json.ignore-parse-errors'",
                    ));
                }
                (Kind::Json, json_lenient)
            }
            _ => {
                return Err(bad_option(
                    "format",
                    "the formats of lines are 'csv' and 'json'",
                ))
            }
        };
        let header = header && matches!(kind, Kind::Csv(_));
        Ok(LineFormat {
            schema,
            kind,
            ignore_errors,
            header,
        })
    }

    /// The csv field delimiter (`,` for json, which has none).
    pub(crate) fn delimiter(&self) -> u8 {
        match &self.kind {
            Kind::Csv(csv) => csv.delimiter,
            Kind::Json => b',',
        }
    }

    /// Whether bad lines are skipped (and counted) rather than failing the query.
    pub(crate) fn ignores_errors(&self) -> bool {
        self.ignore_errors
    }

    pub(crate) fn name(&self) -> &'static str {
        match self.kind {
            Kind::Csv(_) => "csv",
            Kind::Json => "json",
        }
    }

    /// Decodes `text` (whole lines; an unterminated last line counts as one) in one go.
    fn decode_all(&self, text: &[u8], rows: usize) -> Result<RecordBatch, ArrowError> {
        match &self.kind {
            Kind::Csv(csv) => self.decode_csv(csv, text, rows),
            Kind::Json => self.decode_json(text, rows),
        }
    }

    fn decode_csv(
        &self,
        csv: &CsvOptions,
        text: &[u8],
        rows: usize,
    ) -> Result<RecordBatch, ArrowError> {
        use datafusion::arrow::csv::ReaderBuilder;
        let mut builder = ReaderBuilder::new(self.schema.clone())
            .with_header(false)
            .with_delimiter(csv.delimiter)
            .with_quote(csv.quote)
            .with_batch_size(rows.max(1));
        if let Some(escape) = csv.escape {
            builder = builder.with_escape(escape);
        }
        if let Some(comment) = csv.comment {
            builder = builder.with_comment(comment);
        }
        if let Some(null) = &csv.null_regex {
            builder = builder.with_null_regex(null.clone());
        }
        let mut decoder = builder.build_decoder();
        let mut batches = Vec::new();
        let mut rest = text;
        loop {
            let read = decoder.decode(rest)?;
            rest = &rest[read..];
            if read == 0 || decoder.capacity() == 0 {
                let flushed = decoder.flush()?;
                let got = flushed.as_ref().is_some_and(|b| b.num_rows() > 0);
                batches.extend(flushed.filter(|b| b.num_rows() > 0));
                // An empty `rest` was the end of input, which the decoder needs to see once.
                if read == 0 && (rest.is_empty() || !got) {
                    break;
                }
            }
        }
        concat_batches(&self.schema, &batches)
    }

    fn decode_json(&self, text: &[u8], rows: usize) -> Result<RecordBatch, ArrowError> {
        use datafusion::arrow::json::ReaderBuilder;
        let mut decoder = ReaderBuilder::new(self.schema.clone())
            .with_batch_size(rows.max(1))
            .build_decoder()?;
        let mut batches = Vec::new();
        let mut rest = text;
        let mut stalled = false;
        while !rest.is_empty() {
            let read = decoder.decode(rest)?;
            rest = &rest[read..];
            if read == 0 {
                // The batch is full: flush it and go on; twice in a row means no progress.
                if stalled {
                    return Err(ArrowError::JsonError(
                        "the json decoder made no progress".into(),
                    ));
                }
                stalled = true;
                batches.extend(decoder.flush()?);
            } else {
                stalled = false;
            }
        }
        batches.extend(decoder.flush()?);
        concat_batches(&self.schema, &batches)
    }

    /// Decodes `records` (each one row's text, labelled for messages), halving the run
    /// until the records that fail are found: the rows of the others go to `batches`; with
    /// `*.ignore-parse-errors` the bad ones are counted in `skipped`, otherwise the first
    /// is returned.
    pub(crate) fn decode_by_halves<'a, L: Copy>(
        &self,
        records: &[(L, &'a [u8])],
        batches: &mut Vec<RecordBatch>,
        skipped: &mut u64,
    ) -> Result<(), BadRecord<'a, L>> {
        if records.is_empty() {
            return Ok(());
        }
        let length = records.iter().map(|(_, record)| record.len() + 1).sum();
        let text = records
            .iter()
            .fold(Vec::with_capacity(length), |mut text, (_, record)| {
                text.extend_from_slice(record);
                text.push(b'\n');
                text
            });
        match self.decode_all(&text, records.len()) {
            Ok(batch) => {
                batches.push(batch);
                Ok(())
            }
            Err(_) if records.len() > 1 => {
                let (left, right) = records.split_at(records.len() / 2);
                self.decode_by_halves(left, batches, skipped)?;
                self.decode_by_halves(right, batches, skipped)
            }
            Err(_) if self.ignore_errors => {
                *skipped += 1;
                Ok(())
            }
            Err(error) => {
                let (label, text) = records[0];
                Err(BadRecord { label, text, error })
            }
        }
    }

    /// Arrow's message, with its batch-relative positions replaced by column names.
    pub(crate) fn reason(&self, error: &ArrowError) -> String {
        let message = match error {
            ArrowError::ParseError(m)
            | ArrowError::CsvError(m)
            | ArrowError::JsonError(m)
            | ArrowError::CastError(m)
            | ArrowError::InvalidArgumentError(m) => m.clone(),
            other => other.to_string(),
        };
        match CsvRowError::parse(&message) {
            Some(CsvRowError::BadValue {
                value,
                arrow_type,
                column,
                ..
            }) => match self.schema.fields().get(column) {
                Some(field) => format!(
                    "'{value}' is not a valid {arrow_type} for column {}",
                    field.name()
                ),
                None => message,
            },
            Some(CsvRowError::FieldCount { expected }) => format!(
                "it has a different number of fields than the table has columns (expected \
                 {expected}; check 'csv.field-delimiter')"
            ),
            None => message,
        }
    }
}

/// A record that does not decode: its label (a line number, a partition and offset), its
/// text and Arrow's error.
pub(crate) struct BadRecord<'a, L> {
    pub(crate) label: L,
    pub(crate) text: &'a [u8],
    pub(crate) error: ArrowError,
}

/// Decodes the lines of one origin (a socket, a file), numbering them for messages and
/// counting those it skips.
pub(crate) struct LineDecoder {
    format: Arc<LineFormat>,
    origin: String,
    /// Lines decoded so far from the origin, blank ones included.
    lines: u64,
    skipped: Arc<AtomicU64>,
}

impl LineDecoder {
    /// `origin` says where the lines come from in errors, e.g. "file /data/x.csv".
    pub(crate) fn new(
        format: Arc<LineFormat>,
        origin: impl Into<String>,
        skipped: Arc<AtomicU64>,
    ) -> Self {
        LineDecoder {
            format,
            origin: origin.into(),
            lines: 0,
            skipped,
        }
    }

    /// The rows of `chunk`, a run of whole lines (an unterminated last line counts as a
    /// line: give it only at the end of the input). `None` when no line held a row.
    pub(crate) fn decode(&mut self, chunk: &[u8]) -> Result<Option<RecordBatch>, EngineError> {
        let mut chunk = chunk;
        if self.format.header && self.lines == 0 && !chunk.is_empty() {
            // The origin's first line names the columns: it is not a row.
            self.lines = 1;
            match chunk.iter().position(|b| *b == b'\n') {
                Some(end) => chunk = &chunk[end + 1..],
                None => return Ok(None),
            }
        }
        let first_line = self.lines + 1;
        let line_count = count_lines(chunk);
        self.lines += line_count;
        if chunk.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if let Ok(batch) = self.format.decode_all(chunk, line_count as usize + 1) {
            return Ok((batch.num_rows() > 0).then_some(batch));
        }
        // Some line does not parse: find it (or them) by halves.
        let lines: Vec<(u64, &[u8])> = chunk
            .split(|b| *b == b'\n')
            .zip(first_line..)
            .map(|(line, number)| (number, line.strip_suffix(b"\r").unwrap_or(line)))
            .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
            .collect();
        let mut batches = Vec::new();
        let mut skipped = 0;
        let result = self
            .format
            .decode_by_halves(&lines, &mut batches, &mut skipped);
        self.skipped.fetch_add(skipped, Ordering::Relaxed);
        result.map_err(|bad| self.line_error(bad.label, bad.text, &bad.error))?;
        let batch = concat_batches(&self.format.schema, &batches)?;
        Ok((batch.num_rows() > 0).then_some(batch))
    }

    fn line_error(&self, number: u64, line: &[u8], error: &ArrowError) -> EngineError {
        let shown = shown(line);
        let format = self.format.name();
        EngineError::Execution {
            message: format!(
                "line {number} of {} is not valid {format} for the table's columns: {}. \
                 The line is: {shown} (fix the line, or set \
                 '{format}.ignore-parse-errors' = 'true' to skip and count bad lines)",
                self.origin,
                self.format.reason(error)
            ),
            source: None,
        }
    }
}

/// A record's text as an error shows it: lossy UTF-8, cut at `SHOWN_CHARS` with an ellipsis.
pub(crate) fn shown(record: &[u8]) -> String {
    let text = String::from_utf8_lossy(record);
    let mut shown: String = text.chars().take(SHOWN_CHARS).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

/// The number of lines in `chunk`: its line breaks, plus one for an unterminated tail.
fn count_lines(chunk: &[u8]) -> u64 {
    let breaks = chunk.iter().filter(|b| **b == b'\n').count() as u64;
    breaks + u64::from(chunk.last().is_some_and(|b| *b != b'\n'))
}

/// The length of the whole lines at the start of `buffer`: up to and including its last
/// line break (0 when there is none yet).
pub(crate) fn complete_len(buffer: &[u8]) -> usize {
    buffer
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |last| last + 1)
}

/// One character, written plainly or as Flink's escapes `\t` and `\n`.
fn single_byte(key: &str, value: &str) -> Result<u8, EngineError> {
    let unescaped = match value {
        "\\t" => "\t",
        other => other,
    };
    match unescaped.as_bytes() {
        [byte] if *byte != b'\n' && *byte != b'\r' => Ok(*byte),
        _ => Err(bad_option(
            key,
            "the value is a single ASCII character (not a line break), e.g. ';' or '\\t'",
        )),
    }
}

/// `ConnectorOptions` from `key = value` pairs, as `CREATE TABLE … WITH (…)` gives them.
#[cfg(test)]
pub(crate) fn test_options(pairs: &[(&str, &str)]) -> ConnectorOptions {
    use datafusion::sql::sqlparser::ast::Statement;
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    let with = pairs
        .iter()
        .map(|(k, v)| format!("'{k}' = '{}'", v.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("CREATE TABLE t (x INT) WITH ({with})");
    let statement = Parser::parse_sql(&GenericDialect {}, &sql)
        .expect("test options parse")
        .remove(0);
    let Statement::CreateTable(create) = statement else {
        panic!("not a CREATE TABLE: {sql}");
    };
    ConnectorOptions::from_create(&create.table_options)
        .expect("test options are valid")
        .expect("test options name a connector")
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray, Int32Array};
    use datafusion::arrow::datatypes::{
        Field, Int32Type, Schema, TimeUnit, TimestampMillisecondType,
    };

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]))
    }

    fn make_decoder(pairs: &[(&str, &str)]) -> (LineDecoder, Arc<AtomicU64>) {
        let mut all = vec![("connector", "socket")];
        all.extend_from_slice(pairs);
        let mut options = test_options(&all);
        let format = LineFormat::from_options(&mut options, schema(), Origins::Lines).unwrap();
        options.get("connector");
        options.finish("test").unwrap();
        let skipped = Arc::new(AtomicU64::new(0));
        (
            LineDecoder::new(Arc::new(format), "the test", skipped.clone()),
            skipped,
        )
    }

    fn ids(batch: &RecordBatch) -> Vec<Option<i32>> {
        batch.column(0).as_primitive::<Int32Type>().iter().collect()
    }

    #[test]
    fn csv_lines_become_rows_with_timestamps() {
        let (mut decoder, _) = make_decoder(&[("format", "csv")]);
        let batch = decoder
            .decode(b"1,a,2024-01-01 00:00:05\n2,b,2024-01-01T00:00:05.123\r\n\n3,,2024-01-01\n")
            .unwrap()
            .unwrap();
        assert_eq!(ids(&batch), vec![Some(1), Some(2), Some(3)]);
        let ts = batch.column(2).as_primitive::<TimestampMillisecondType>();
        assert_eq!(ts.value(0), 1_704_067_205_000);
        assert_eq!(ts.value(1), 1_704_067_205_123);
        assert_eq!(ts.value(2), 1_704_067_200_000);
        assert!(batch.column(1).is_null(2));
    }

    #[test]
    fn blank_lines_do_not_need_the_line_by_line_path() {
        let (decoder, _) = make_decoder(&[("format", "csv")]);
        let batch = decoder
            .format
            .decode_all(b"1,a,2024-01-01\n\n2,b,2024-01-01\r\n\n", 4)
            .unwrap();
        assert_eq!(ids(&batch), vec![Some(1), Some(2)]);
    }

    #[test]
    fn an_unterminated_last_line_is_read() {
        let (mut decoder, _) = make_decoder(&[("format", "csv")]);
        let batch = decoder
            .decode(b"1,a,2024-01-01 00:00:05\n2,b,2024-01-01 00:00:06")
            .unwrap();
        assert_eq!(batch.unwrap().num_rows(), 2);
    }

    #[test]
    fn bad_csv_lines_are_skipped_and_counted_when_ignored() {
        let (mut decoder, skipped) =
            make_decoder(&[("format", "csv"), ("csv.ignore-parse-errors", "true")]);
        let batch = decoder
            .decode(
                b"1,a,2024-01-01 00:00:05\nx,b,2024-01-01 00:00:05\n3,c,2024-01-01 00:00:05\n\
                  4,d\n5,e,2024-01-01 00:00:05\n6,f,not a time\n",
            )
            .unwrap()
            .unwrap();
        assert_eq!(ids(&batch), vec![Some(1), Some(3), Some(5)]);
        assert_eq!(skipped.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_bad_csv_line_is_named_in_the_error() {
        let (mut decoder, _) = make_decoder(&[("format", "csv")]);
        decoder.decode(b"1,a,2024-01-01 00:00:05\n").unwrap();
        let error = decoder
            .decode(b"2,b,2024-01-01 00:00:05\nthree,c,2024-01-01 00:00:05\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 3 of the test"), "{error}");
        assert!(error.contains("three,c,2024-01-01 00:00:05"), "{error}");
        assert!(error.contains("column id"), "{error}");
        assert!(error.contains("csv.ignore-parse-errors"), "{error}");
    }

    #[test]
    fn json_lines_become_rows_and_bad_ones_are_counted() {
        let (mut decoder, skipped) =
            make_decoder(&[("format", "json"), ("json.ignore-parse-errors", "true")]);
        let batch = decoder
            .decode(
                b"{\"id\": 1, \"name\": \"a\", \"ts\": \"2024-01-01 00:00:05\"}\n\
                  {\"id\": 2, \"name\": \n\
                  {\"id\": \"x2\"}\n\
                  {\"id\": 3, \"ts\": \"2024-01-01T00:00:05.123\"}\n",
            )
            .unwrap()
            .unwrap();
        assert_eq!(ids(&batch), vec![Some(1), Some(3)]);
        let ts = batch.column(2).as_primitive::<TimestampMillisecondType>();
        assert_eq!(ts.value(1), 1_704_067_205_123);
        assert_eq!(skipped.load(Ordering::Relaxed), 2);

        let (mut strict, _) = make_decoder(&[("format", "json")]);
        let error = strict
            .decode(b"{\"id\": 1}\n{oops\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 2 of the test"), "{error}");
        assert!(error.contains("json.ignore-parse-errors"), "{error}");
    }

    #[test]
    fn csv_options_change_the_reading() {
        let (mut decoder, _) = make_decoder(&[
            ("format", "csv"),
            ("csv.field-delimiter", ";"),
            ("csv.null-literal", "N/A"),
        ]);
        let batch = decoder
            .decode(b"1;N/A;2024-01-01 00:00:05\nN/A;b;N/A\n")
            .unwrap()
            .unwrap();
        assert_eq!(ids(&batch), vec![Some(1), None]);
        assert!(batch.column(1).is_null(0));
        assert!(batch.column(2).is_null(1));
        let expected: Int32Array = vec![Some(1), None].into();
        assert_eq!(batch.column(0).as_primitive::<Int32Type>(), &expected);
    }

    #[test]
    fn format_options_are_checked() {
        let mut options = test_options(&[("connector", "socket"), ("format", "xml")]);
        let error = LineFormat::from_options(&mut options, schema(), Origins::Lines).unwrap_err();
        assert!(error.hint().unwrap().contains("csv"));
        let mut options = test_options(&[
            ("connector", "socket"),
            ("format", "json"),
            ("csv.field-delimiter", ";"),
        ]);
        let error = LineFormat::from_options(&mut options, schema(), Origins::Lines).unwrap_err();
        assert!(error.to_string().contains("csv.field-delimiter"));
        let mut options = test_options(&[
            ("connector", "socket"),
            ("format", "csv"),
            ("csv.field-delimiter", ";;"),
        ]);
        assert!(LineFormat::from_options(&mut options, schema(), Origins::Lines).is_err());
    }

    #[test]
    fn complete_len_stops_at_the_last_line_break() {
        assert_eq!(complete_len(b"ab\ncd"), 3);
        assert_eq!(complete_len(b"ab\ncd\n"), 6);
        assert_eq!(complete_len(b"abcd"), 0);
    }
}
