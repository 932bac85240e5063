//! How Eddy's own scans (cached tables, lenient CSV) show in EXPLAIN.

use datafusion::arrow::datatypes::Schema;
use datafusion::physical_plan::DisplayFormatType;
use std::fmt;

/// `, projection=[a, b]`: the columns a scan reads. Left out of the tree view, where the
/// operators above show them.
pub(crate) fn write_projection(
    f: &mut fmt::Formatter,
    format: DisplayFormatType,
    schema: &Schema,
) -> fmt::Result {
    if matches!(format, DisplayFormatType::TreeRender) {
        return Ok(());
    }
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    write!(f, ", projection=[{}]", names.join(", "))
}
