//! SQL text to statements: the limit on chained operators, the extraction of Flink's syntax
//! (WATERMARK clauses, window table functions) and DataFusion's parser, for any text.

#![no_main]

use libfuzzer_sys::fuzz_target;

// Parsing needs no engine session; without one, DataFusion's execution is not linked in and
// libFuzzer has a tenth of the coverage counters to scan after each input.
fuzz_target!(|sql: &str| {
    if let Ok(statements) = eddy_engine::parse(sql) {
        // A parsed statement can be shown (the kernel names it in an error).
        for statement in &statements {
            let _ = statement.to_string();
        }
    }
});
