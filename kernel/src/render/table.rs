//! Rows as an aligned text table (like datafusion-cli) and an HTML table with column types
//! in the header.

use super::sql_type_name;
use crate::protocol::MimeBundle;
use eddy_engine::arrow::array::RecordBatch;
use eddy_engine::arrow::datatypes::SchemaRef;
use eddy_engine::arrow::util::display::{ArrayFormatter, FormatOptions};
use eddy_engine::arrow::util::pretty::{
    pretty_format_batches_with_options, pretty_format_batches_with_schema,
};
use eddy_engine::RowSet;
use serde_json::json;
use std::fmt::Write;

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

/// `text/plain` and `text/html` for a result.
pub fn rows_bundle(rows: &RowSet) -> MimeBundle {
    let mut bundle = MimeBundle::new();
    bundle.insert("text/plain".into(), json!(text_table(rows)));
    bundle.insert("text/html".into(), json!(html_table(rows)));
    bundle
}

fn footer(rows: &RowSet) -> Option<String> {
    let kept = rows.kept_rows();
    (kept < rows.total_rows).then(|| format!("showing first {kept} of {} rows", rows.total_rows))
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

fn text_table(rows: &RowSet) -> String {
    let options = FormatOptions::default().with_null(NULL);
    let table = if rows.batches.is_empty() {
        pretty_format_batches_with_schema(rows.schema.clone(), &[]).map(|t| t.to_string())
    } else {
        pretty_format_batches_with_options(&rows.batches, &options).map(|t| t.to_string())
    };
    let mut text = table.unwrap_or_else(|error| format!("(rows cannot be shown: {error})"));
    for note in [footer(rows), skipped_note(rows)].into_iter().flatten() {
        text.push('\n');
        text.push_str(&note);
    }
    text
}

fn html_table(rows: &RowSet) -> String {
    let mut html = String::from("<table class=\"eddy-table\">\n<thead>\n<tr>");
    header_cells(&mut html, &rows.schema);
    html.push_str("</tr>\n</thead>\n<tbody>\n");
    let options = FormatOptions::default().with_null(NULL);
    for batch in &rows.batches {
        body_rows(&mut html, batch, &options);
    }
    html.push_str("</tbody>\n</table>\n");
    let summary = footer(rows).unwrap_or_else(|| match rows.total_rows {
        1 => "1 row".to_string(),
        n => format!("{n} rows"),
    });
    let _ = write!(html, "<p><small>{summary}</small></p>");
    if let Some(note) = skipped_note(rows) {
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

fn body_rows(html: &mut String, batch: &RecordBatch, options: &FormatOptions) {
    let formatters: Vec<_> = batch
        .columns()
        .iter()
        .map(|column| ArrayFormatter::try_new(column.as_ref(), options))
        .collect();
    for row in 0..batch.num_rows() {
        html.push_str("<tr>");
        for formatter in &formatters {
            let value = match formatter {
                Ok(formatter) => formatter.value(row).to_string(),
                Err(error) => format!("({error})"),
            };
            let _ = write!(html, "<td>{}</td>", html_escape::encode_text(&value));
        }
        html.push_str("</tr>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::arrow::array::{Int64Array, StringArray};
    use eddy_engine::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

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
        }
    }

    #[test]
    fn text_is_an_aligned_table_with_nulls_spelled_out() {
        let text = text_table(&rows(2));
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
        let html = html_table(&rows(2));
        assert!(html.contains("&lt;b&gt;Amélie&lt;/b&gt;"));
        assert!(html.contains("BIGINT"));
        assert!(html.contains("STRING"));
        assert!(html.contains("2 rows"));
    }

    #[test]
    fn a_truncated_result_says_how_many_rows_there_were() {
        let rows = rows(5000);
        assert!(text_table(&rows).ends_with("showing first 2 of 5000 rows"));
        assert!(html_table(&rows).contains("showing first 2 of 5000 rows"));
    }
}
