//! The second half of lenient reading: a row check keeps the rows whose every value casts
//! to its declared type, and counts the others.

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray};
use datafusion::arrow::compute::{cast, cast_with_options, CastOptions};
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{create_udf, ColumnarValue, ScalarUDF, Volatility};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A volatile function `check(raw columns…) -> bool` that is true for rows that parse, and
/// adds the rows that do not to `skipped`. Volatile, so that the planner neither folds it
/// nor pushes it into the scan.
pub(crate) fn row_check(
    name: &str,
    types: Vec<DataType>,
    null_literal: Option<String>,
    skipped: Arc<AtomicU64>,
) -> ScalarUDF {
    let inputs = vec![DataType::Utf8; types.len()];
    create_udf(
        name,
        inputs,
        DataType::Boolean,
        Volatility::Volatile,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let rows = arrays.first().map(|a| a.len()).unwrap_or(0);
            let mut ok = vec![true; rows];
            for (raw, data_type) in arrays.iter().zip(&types) {
                if matches!(data_type, DataType::Utf8) {
                    continue;
                }
                mark_unparsable(raw, data_type, null_literal.as_deref(), &mut ok)?;
            }
            let bad = ok.iter().filter(|fits| !**fits).count();
            skipped.fetch_add(bad as u64, Ordering::Relaxed);
            Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(ok))))
        }),
    )
}

/// Sets `ok[row]` to false where `raw` has a value that does not cast to `data_type`.
fn mark_unparsable(
    raw: &ArrayRef,
    data_type: &DataType,
    null_literal: Option<&str>,
    ok: &mut [bool],
) -> datafusion::error::Result<()> {
    let text = cast(raw, &DataType::Utf8)?;
    let text = text
        .as_any()
        .downcast_ref::<datafusion::arrow::array::StringArray>()
        .ok_or_else(|| datafusion::error::DataFusionError::Internal("not text".into()))?;
    // A failed cast gives NULL instead of an error.
    let options = CastOptions {
        safe: true,
        ..Default::default()
    };
    let typed = cast_with_options(raw, data_type, &options)?;
    for (row, fits) in ok.iter_mut().enumerate() {
        let blank = text.is_null(row) || Some(text.value(row)) == null_literal;
        if !blank && typed.is_null(row) {
            *fits = false;
        }
    }
    Ok(())
}
