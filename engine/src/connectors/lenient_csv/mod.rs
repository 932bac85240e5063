//! `'csv.ignore-parse-errors'`: malformed rows are skipped and counted, never dropped
//! silently, and never fail the query. Two kinds of malformed:
//! - a record with more or fewer fields than the table has columns;
//! - a value the query reads that does not fit its column's type.
//!
//! [`scan`] cuts the files into ranges, one share per core; [`regions`] reads a range as
//! regions of whole lines; [`decode`] decodes a region with Arrow's CSV decoder and reads it
//! again record by record only when it holds a malformed record.

mod decode;
mod regions;
mod scan;

pub(crate) use scan::{CsvSyntax, LenientCsvTable};
