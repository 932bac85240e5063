//! SQL text to statements: the limit on chained operators, the extraction of Flink's syntax
//! (WATERMARK clauses, window table functions) and DataFusion's parser, for any text.

#![no_main]

use eddy_engine::{Engine, EngineConfig};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static ENGINE: LazyLock<Engine> =
    LazyLock::new(|| Engine::new(EngineConfig::default()).expect("an engine"));

fuzz_target!(|sql: &str| {
    if let Ok(statements) = ENGINE.parse(sql) {
        // A parsed statement can be shown (the kernel names it in an error).
        for statement in &statements {
            let _ = statement.to_string();
        }
    }
});
