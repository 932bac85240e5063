//! `inspect_request` (Shift+Tab): what the word under the cursor is — a table's schema, or a
//! function's documentation.

use super::complete;
use crate::render::{self, schema_rows};
use crate::server::protocol::MimeBundle;
use eddy_engine::{Engine, FunctionInfo, ObjectInfo};
use serde_json::{json, Value};

pub(super) async fn inspect(
    engine: &Engine,
    code: &str,
    cursor: usize,
    _detail_level: u8,
) -> Value {
    let word = complete::word_around(code, cursor);
    let found = if word.is_empty() {
        None
    } else {
        engine.describe(&word).await
    };
    let data = match found {
        Some(ObjectInfo::Table(table)) => {
            let mut bundle = render::rows_bundle(&schema_rows(&table.schema));
            let text = bundle
                .get("text/plain")
                .and_then(Value::as_str)
                .unwrap_or("");
            let text = format!("table {}\n{text}", table.name);
            bundle.insert("text/plain".into(), json!(text));
            bundle
        }
        Some(ObjectInfo::Function(function)) => render::markdown(&function_doc(&function)),
        None => MimeBundle::new(),
    };
    json!({
        "status": "ok",
        "found": !data.is_empty(),
        "data": data,
        "metadata": {},
    })
}

fn function_doc(function: &FunctionInfo) -> String {
    let mut doc = format!("**{}** — {}\n\n", function.name, function.kind);
    if let Some(syntax) = &function.syntax {
        doc.push_str(&format!("```sql\n{syntax}\n```\n\n"));
    }
    if let Some(description) = &function.description {
        doc.push_str(description.trim());
        doc.push_str("\n\n");
    }
    for (argument, meaning) in &function.arguments {
        doc.push_str(&format!("- `{argument}`: {}\n", meaning.trim()));
    }
    if let Some(example) = &function.example {
        doc.push_str(&format!("\n{}\n", example.trim()));
    }
    doc
}
