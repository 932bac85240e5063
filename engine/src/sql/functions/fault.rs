//! `eddy_fault_panic(text)`: a function that panics with `text` when it runs, registered only
//! when an engine is made with [`crate::EngineConfig::fault_functions`]. Tests use it to show
//! that a panic inside a query — Eddy's bug or a library's — fails that statement and leaves
//! the session intact.

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{create_udf, ColumnarValue, ScalarUDF, Volatility};
use datafusion::scalar::ScalarValue;
use std::sync::Arc;

pub(crate) fn functions() -> Vec<ScalarUDF> {
    let panic = create_udf(
        "eddy_fault_panic",
        vec![DataType::Utf8],
        DataType::Utf8,
        // Volatile, so that it runs with the query and is not folded while planning.
        Volatility::Volatile,
        Arc::new(|args: &[ColumnarValue]| {
            let text = match args.first() {
                Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(text)))) => text.clone(),
                _ => "eddy_fault_panic".to_string(),
            };
            panic!("{text}")
        }),
    );
    vec![panic]
}
