//! What bounded queries need beyond DataFusion: tables cached in memory and their scan, the
//! columns of file tables kept as queries read them, tables
//! read from CSV typed into a cell, the location of a malformed CSV row, a running scan's progress, and how Eddy's scans show in
//! EXPLAIN.

pub(crate) mod cache;
pub(crate) mod cached_scan;
pub(crate) mod column_memory;
pub(crate) mod csv_error;
pub(crate) mod csv_locate;
pub(crate) mod evicting_pool;
pub(crate) mod inline_csv;
pub(crate) mod progress;
pub(crate) mod remembered_table;
pub(crate) mod scan_display;
