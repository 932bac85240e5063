//! `'csv.ignore-parse-errors' = 'true'`: malformed rows are skipped and counted, never
//! dropped silently, and never fail the query. Two kinds of malformed:
//! - a record with more or fewer fields than the table has columns ([`scan`], which reads
//!   the files as text record by record);
//! - a value that does not fit its column's type ([`row_check`], a filter over that text).

mod row_check;
mod scan;

pub(crate) use row_check::row_check;
pub(crate) use scan::{CsvSyntax, LenientCsvTable};
