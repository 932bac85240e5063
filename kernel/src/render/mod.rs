//! Turns results into MIME bundles. Every bundle has `text/plain`, for consoles and for
//! viewers that render nothing else.

pub mod chart;
mod schema;
mod table;
mod types;

pub use schema::schema_rows;
pub use table::{rows_bundle, TableDisplay};
pub use types::sql_type_name;

use crate::server::protocol::MimeBundle;
use serde_json::json;

/// A bundle with only text.
pub fn plain(text: impl Into<String>) -> MimeBundle {
    let mut bundle = MimeBundle::new();
    bundle.insert("text/plain".into(), json!(text.into()));
    bundle
}

/// Markdown, rendered by the frontend; the source is the plain-text fallback.
pub fn markdown(source: &str) -> MimeBundle {
    let mut bundle = plain(source);
    bundle.insert("text/markdown".into(), json!(source));
    bundle
}

/// One line on where a table's rows come from and how many there are.
/// "1 row", "12 rows", or what stands for a count ("a stream …") as it is.
fn rows_text(row_count: &str) -> String {
    match row_count {
        "1" => "1 row".to_string(),
        n if n.parse::<u64>().is_ok() => format!("{n} rows"),
        other => other.to_string(),
    }
}

/// The line `%table` shows above a view's schema: its row count (or that it is a stream)
/// and its definition.
pub fn view_summary(name: &str, definition: &str, row_count: &str) -> MimeBundle {
    let rows = rows_text(row_count);
    let mut bundle = plain(format!("view {name}: {rows}\n{definition}"));
    bundle.insert(
        "text/markdown".into(),
        json!(format!(
            "**{name}** — view · {rows}\n\n```sql\n{definition}\n```"
        )),
    );
    bundle
}

/// What a declaration says beside its columns and options.
#[derive(Debug, Default)]
pub struct Declared {
    pub primary_key: Vec<String>,
    pub partitioned_by: Vec<String>,
}

pub fn table_summary(
    name: &str,
    source: &std::collections::BTreeMap<String, String>,
    declared: &Declared,
    row_count: &str,
    cached_bytes: Option<usize>,
    kept: Option<eddy_engine::KeptColumns>,
) -> MimeBundle {
    let mut rows = rows_text(row_count);
    let primary_key = &declared.primary_key;
    if !declared.partitioned_by.is_empty() {
        rows.push_str(&format!(
            " · PARTITIONED BY ({})",
            declared.partitioned_by.join(", ")
        ));
    }
    if !primary_key.is_empty() {
        // Flink's keys are declared, never checked: said as the user wrote it.
        rows.push_str(&format!(
            " · PRIMARY KEY ({}) NOT ENFORCED",
            primary_key.join(", ")
        ));
    }
    if let Some(bytes) = cached_bytes {
        rows.push_str(&format!(
            " · cached ({:.1} MiB in memory)",
            bytes as f64 / (1 << 20) as f64
        ));
    }
    if let Some(kept) = kept {
        let columns = match kept.columns.as_slice() {
            [] => "its row count".to_string(),
            columns => format!("columns {}", columns.join(", ")),
        };
        rows.push_str(&format!(
            " · {columns} served from memory ({:.1} MiB, while the files are unchanged)",
            kept.bytes as f64 / (1 << 20) as f64
        ));
    }
    let origin = match (
        source.get("connector"),
        source.get("path"),
        source.get("format"),
    ) {
        (Some(connector), Some(path), Some(format)) => format!("{connector} · {format} · {path}"),
        (Some(connector), _, _) => connector.clone(),
        _ => "in memory".to_string(),
    };
    let mut bundle = plain(format!("table {name}: {origin} · {rows}"));
    bundle.insert(
        "text/markdown".into(),
        json!(format!("**{name}** — {origin} · {rows}")),
    );
    bundle
}
