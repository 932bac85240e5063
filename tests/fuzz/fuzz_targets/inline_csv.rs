//! `%table NAME` with CSV lines below it: any text is read as a table (header, inferred
//! types, rows) or refused with an error. Reading needs no session, so the target links the
//! CSV reader and not DataFusion's execution, whose coverage counters libFuzzer would scan
//! after every input; registering what was read is the session's part, run by the kernel's
//! tests.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|csv: &str| {
    if let Ok(table) = eddy_engine::read_inline_csv(csv) {
        // Every batch has the schema's columns: what a query of the table would rely on.
        for batch in &table.batches {
            assert_eq!(batch.num_columns(), table.schema.fields().len());
        }
    }
});
