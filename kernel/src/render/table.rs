//! Rows as an aligned text table (like datafusion-cli) and an HTML table with column types
//! in the header.

use super::sql_type_name;
use crate::server::protocol::MimeBundle;
use eddy_engine::arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use eddy_engine::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use eddy_engine::arrow::util::display::{ArrayFormatter, FormatOptions};
use eddy_engine::arrow::util::pretty::{
    pretty_format_batches_with_options, pretty_format_batches_with_schema,
};
use eddy_engine::RowSet;
use serde_json::json;
use std::fmt::Write;
use std::sync::Arc;

/// How rows are shown.
#[derive(Debug, Clone)]
pub struct TableDisplay {
    /// Rows kept and shown of a result; the rest are counted.
    pub max_rows: usize,
    /// A statement running longer than this shows a progress line.
    pub progress_after: std::time::Duration,
}

impl Default for TableDisplay {
    fn default() -> Self {
        TableDisplay {
            max_rows: 1000,
            progress_after: std::time::Duration::from_secs(1),
        }
    }
}

const NULL: &str = "NULL";

/// Characters of one value shown: a cell can hold a string of megabytes.
const MAX_VALUE_CHARS: usize = 1_000;

/// Characters of a result shown, about (each value counts its separators too): past it,
/// fewer rows are shown, so that a very wide result stays a message a browser can draw.
const MAX_SHOWN_CHARS: usize = 2_000_000;

/// `text/plain` and `text/html` for a result.
pub fn rows_bundle(rows: &RowSet) -> MimeBundle {
    let shown = Shown::of(rows);
    let mut bundle = MimeBundle::new();
    bundle.insert("text/plain".into(), json!(text_table(rows, &shown)));
    bundle.insert("text/html".into(), json!(html_table(rows, &shown)));
    bundle
}

/// The values of a result as they are shown: text, each cut at [`MAX_VALUE_CHARS`], in rows
/// that together stay within [`MAX_SHOWN_CHARS`] (one row at least).
struct Shown {
    /// The result's columns, every one as text (NULL stays NULL).
    batch: Option<RecordBatch>,
    rows: usize,
    /// Rows the engine kept that the size limit left out.
    cut_for_size: bool,
}

impl Shown {
    fn of(rows: &RowSet) -> Self {
        let columns = rows.schema.fields().len();
        let options = FormatOptions::default();
        let mut values: Vec<Vec<Option<String>>> = vec![Vec::new(); columns];
        let mut shown_rows = 0;
        let mut chars = 0;
        let mut cut_for_size = false;
        'batches: for batch in &rows.batches {
            let formatters: Vec<_> = batch
                .columns()
                .iter()
                .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
                .collect();
            for row in 0..batch.num_rows() {
                let line: Vec<Option<String>> = batch
                    .columns()
                    .iter()
                    .zip(&formatters)
                    .map(|(column, formatter)| match formatter {
                        _ if column.is_null(row) => None,
                        Ok(formatter) => Some(capped(|out| formatter.value(row).write(out))),
                        Err(error) => Some(format!("({error})")),
                    })
                    .collect();
                let cost: usize = line
                    .iter()
                    .map(|v| v.as_ref().map_or(NULL.len(), |v| v.chars().count()) + 3)
                    .sum();
                if shown_rows > 0 && chars + cost > MAX_SHOWN_CHARS {
                    cut_for_size = true;
                    break 'batches;
                }
                chars += cost;
                shown_rows += 1;
                for (column, value) in values.iter_mut().zip(line) {
                    column.push(value);
                }
            }
        }
        let fields: Vec<Field> = rows
            .schema
            .fields()
            .iter()
            .map(|field| Field::new(field.name(), DataType::Utf8, true))
            .collect();
        let arrays: Vec<ArrayRef> = values
            .into_iter()
            .map(|column| Arc::new(StringArray::from(column)) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).ok();
        Shown {
            batch,
            rows: shown_rows,
            cut_for_size,
        }
    }
}

/// A value's text, cut after [`MAX_VALUE_CHARS`] characters (formatting stops there too).
fn capped(
    write: impl FnOnce(&mut dyn std::fmt::Write) -> Result<(), eddy_engine::arrow::error::ArrowError>,
) -> String {
    struct Capped {
        text: String,
        chars: usize,
        cut: bool,
    }
    impl std::fmt::Write for Capped {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            for c in s.chars() {
                if self.chars == MAX_VALUE_CHARS {
                    self.cut = true;
                    return Err(std::fmt::Error);
                }
                self.text.push(c);
                self.chars += 1;
            }
            Ok(())
        }
    }
    let mut out = Capped {
        text: String::new(),
        chars: 0,
        cut: false,
    };
    // An error is either the cut (wanted) or a value that cannot be formatted, which
    // shows what was written before it.
    let _ = write(&mut out);
    if out.cut {
        out.text.push('…');
    }
    out.text
}

fn footer(rows: &RowSet, shown: &Shown) -> Option<String> {
    (shown.rows < rows.total_rows).then(|| {
        let mut line = format!("showing first {} of {} rows", shown.rows, rows.total_rows);
        if shown.cut_for_size {
            line.push_str(&format!(
                " (a result shows about {MAX_SHOWN_CHARS} characters at most)"
            ));
        }
        line
    })
}

/// Malformed rows skipped while reading, said under every result that skipped some.
fn skipped_note(rows: &RowSet) -> Option<String> {
    (rows.skipped_rows > 0).then(|| {
        format!(
            "{} malformed CSV rows skipped ('csv.ignore-parse-errors')",
            rows.skipped_rows
        )
    })
}

/// Where a query ran, said under its result when that was not this kernel.
fn ran_on_note(rows: &RowSet) -> Option<String> {
    rows.ran_on
        .as_ref()
        .map(|engine| format!("ran on {engine}"))
}

fn text_table(rows: &RowSet, shown: &Shown) -> String {
    let options = FormatOptions::default().with_null(NULL);
    let table = match &shown.batch {
        Some(batch) if shown.rows > 0 => {
            pretty_format_batches_with_options(std::slice::from_ref(batch), &options)
                .map(|t| t.to_string())
        }
        _ => pretty_format_batches_with_schema(rows.schema.clone(), &[]).map(|t| t.to_string()),
    };
    let mut text = table.unwrap_or_else(|error| format!("(rows cannot be shown: {error})"));
    for note in [footer(rows, shown), skipped_note(rows), ran_on_note(rows)]
        .into_iter()
        .flatten()
    {
        text.push('\n');
        text.push_str(&note);
    }
    text
}

fn html_table(rows: &RowSet, shown: &Shown) -> String {
    let mut html = String::from("<table class=\"eddy-table\">\n<thead>\n<tr>");
    header_cells(&mut html, &rows.schema);
    html.push_str("</tr>\n</thead>\n<tbody>\n");
    if let Some(batch) = &shown.batch {
        body_rows(&mut html, batch);
    }
    html.push_str("</tbody>\n</table>\n");
    let summary = footer(rows, shown).unwrap_or_else(|| match rows.total_rows {
        1 => "1 row".to_string(),
        n => format!("{n} rows"),
    });
    let _ = write!(html, "<p><small>{summary}</small></p>");
    for note in [skipped_note(rows), ran_on_note(rows)]
        .into_iter()
        .flatten()
    {
        let _ = write!(
            html,
            "<p><small>{}</small></p>",
            html_escape::encode_text(&note)
        );
    }
    html
}

fn header_cells(html: &mut String, schema: &SchemaRef) {
    for field in schema.fields() {
        let _ = write!(
            html,
            "<th>{}<br><small style=\"font-weight:normal;opacity:0.7\">{}</small></th>",
            html_escape::encode_text(field.name()),
            html_escape::encode_text(&sql_type_name(field.data_type())),
        );
    }
}

/// The rows of `batch`, whose columns are the shown text of each value.
fn body_rows(html: &mut String, batch: &RecordBatch) {
    let columns: Vec<&StringArray> = batch
        .columns()
        .iter()
        .filter_map(|column| column.as_any().downcast_ref::<StringArray>())
        .collect();
    for row in 0..batch.num_rows() {
        html.push_str("<tr>");
        for column in &columns {
            let value = if column.is_null(row) {
                NULL
            } else {
                column.value(row)
            };
            let _ = write!(html, "<td>{}</td>", html_escape::encode_text(value));
        }
        html.push_str("</tr>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::arrow::array::Int64Array;

    fn rows(total_rows: usize) -> RowSet {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("title", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("<b>Amélie</b>"), None])),
            ],
        )
        .unwrap();
        RowSet {
            schema,
            batches: vec![batch],
            total_rows,
            skipped_rows: 0,
            ran_on: None,
        }
    }

    #[test]
    fn text_is_an_aligned_table_with_nulls_spelled_out() {
        let text = text_table(&rows(2), &Shown::of(&rows(2)));
        assert_eq!(
            text,
            "+----+---------------+\n\
             | id | title         |\n\
             +----+---------------+\n\
             | 1  | <b>Amélie</b> |\n\
             | 2  | NULL          |\n\
             +----+---------------+"
        );
    }

    #[test]
    fn html_escapes_values_and_shows_types() {
        let html = html_table(&rows(2), &Shown::of(&rows(2)));
        assert!(html.contains("&lt;b&gt;Amélie&lt;/b&gt;"));
        assert!(html.contains("BIGINT"));
        assert!(html.contains("STRING"));
        assert!(html.contains("2 rows"));
    }

    #[test]
    fn a_truncated_result_says_how_many_rows_there_were() {
        let rows = rows(5000);
        let shown = Shown::of(&rows);
        assert!(text_table(&rows, &shown).ends_with("showing first 2 of 5000 rows"));
        assert!(html_table(&rows, &shown).contains("showing first 2 of 5000 rows"));
    }

    #[test]
    fn a_long_value_is_cut_and_a_wide_result_shows_fewer_rows() {
        let long = "é".repeat(3 * MAX_VALUE_CHARS);
        let columns = 100;
        let schema = Arc::new(Schema::new(
            (0..columns)
                .map(|i| Field::new(format!("c{i}"), DataType::Utf8, false))
                .collect::<Vec<_>>(),
        ));
        let column: ArrayRef = Arc::new(StringArray::from(vec![long.as_str(); 500]));
        let batch = RecordBatch::try_new(schema.clone(), vec![column; columns]).unwrap();
        let rows = RowSet {
            schema,
            batches: vec![batch],
            total_rows: 500,
            skipped_rows: 0,
            ran_on: None,
        };
        let bundle = rows_bundle(&rows);
        let text = bundle["text/plain"].as_str().unwrap();
        let html = bundle["text/html"].as_str().unwrap();
        let cut = format!("{}…", "é".repeat(MAX_VALUE_CHARS));
        assert!(html.contains(&format!("<td>{cut}</td>")));
        assert!(!html.contains(&"é".repeat(MAX_VALUE_CHARS + 1)));
        // A row of 100 values of 1,001 characters (and 3 for separators) is 100,400: 19 of
        // them fit in the 2,000,000 characters a result shows.
        let limit =
            "showing first 19 of 500 rows (a result shows about 2000000 characters at most)";
        assert!(text.ends_with(limit), "{}", &text[text.len() - 200..]);
        assert!(html.contains(limit));
        assert_eq!(html.matches("<tr>").count(), 20);
    }
}
