//! `%table NAME` with CSV lines below it: any text becomes a table or an error, and a table
//! made from it can be queried.

#![no_main]

use eddy_engine::{Engine, EngineConfig};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static ENGINE: LazyLock<Engine> =
    LazyLock::new(|| Engine::new(EngineConfig::default()).expect("an engine"));

fuzz_target!(|csv: &str| {
    let _ = ENGINE.create_table_from_csv("fuzzed", csv);
});
