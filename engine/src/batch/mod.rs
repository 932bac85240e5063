//! What bounded queries need beyond DataFusion: tables cached in memory and their scan, tables
//! read from CSV typed into a cell, the location of a malformed CSV row, a running scan's progress, and how Eddy's scans show in
//! EXPLAIN.

pub(crate) mod cache;
pub(crate) mod cached_scan;
pub(crate) mod csv_error;
pub(crate) mod csv_locate;
pub(crate) mod inline_csv;
pub(crate) mod progress;
pub(crate) mod scan_display;
