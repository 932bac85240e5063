//! Turns results into MIME bundles. Every bundle has `text/plain`, for consoles and for
//! viewers that render nothing else.

mod table;
mod types;

pub use table::{rows_bundle, TableDisplay};
pub use types::sql_type_name;

use crate::protocol::MimeBundle;
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
