//! What a frontend asks while the user types: is the cell complete, what completes the word
//! at the cursor, what word is under it — at every cursor position, and past the end (a
//! client can send any `cursor_pos`).

#![no_main]

use eddy_engine::arrow::datatypes::{DataType, Field, Schema};
use eddy_engine::{TableInfo, Vocabulary};
use eddy_kernel::interpreter::cell;
use eddy_kernel::interpreter::complete;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, LazyLock};

static VOCABULARY: LazyLock<Vocabulary> = LazyLock::new(|| Vocabulary {
    keywords: ["SELECT", "FROM", "WHERE", "GROUP", "BY"]
        .map(String::from)
        .to_vec(),
    functions: ["count", "date_format", "year", "tumble"]
        .map(String::from)
        .to_vec(),
    tables: vec![TableInfo {
        name: "clicks".to_string(),
        schema: Arc::new(Schema::new(vec![
            Field::new("user_id", DataType::Int32, true),
            Field::new("Ünïcode column", DataType::Utf8, true),
        ])),
        definition: None,
    }],
});

fuzz_target!(|code: &str| {
    if let Ok(cell) = cell::parse(code) {
        let _ = eddy_engine::completeness(cell.body);
    }
    let chars = code.chars().count();
    for cursor in 0..=chars + 1 {
        let _ = complete::complete(code, cursor, &VOCABULARY);
        let _ = complete::word_around(code, cursor);
        let _ = complete::word_before(code, cursor);
    }
});
