//! `DATE_FORMAT`: a timestamp (or a string read as one) written with a Java date pattern.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::kernels::cast::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_DATETIME;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{
    coerce_pattern, constant_pattern, format_timestamps, is_string, output,
    parse_default_timestamps, to_arrays, PATTERN_HELP,
};

/// `DATE_FORMAT(timestamp_or_string, pattern)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct DateFormatFunc {
    signature: Signature,
    doc: Documentation,
}

impl DateFormatFunc {
    pub(super) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            doc: Documentation::builder(
                DOC_SECTION_DATETIME,
                "Formats a TIMESTAMP or DATE as a string with a Java date pattern (Flink's \
                 `DATE_FORMAT`). A string first argument is parsed as a timestamp in Flink's \
                 format 'yyyy-MM-dd HH:mm:ss' (NULL when it does not parse). Unlike \
                 DataFusion's `date_format` (an alias of `to_char`), the pattern is Java's; \
                 patterns containing '%' are still taken as chrono's.",
                "date_format(timestamp, pattern)",
            )
            .with_sql_example(
                "```sql\n> SELECT DATE_FORMAT(TIMESTAMP '2024-01-05 10:11:12', 'EEE dd MMM yyyy, HH:mm');\nFri 05 Jan 2024, 10:11\n```",
            )
            .with_argument(
                "timestamp",
                "A TIMESTAMP, DATE, or a string in the format 'yyyy-MM-dd HH:mm:ss'.",
            )
            .with_argument("pattern", PATTERN_HELP)
            .with_related_udf("to_char")
            .build(),
        }
    }
}

impl ScalarUDFImpl for DateFormatFunc {
    fn name(&self) -> &str {
        "date_format"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [value, pattern] = arg_types else {
            return plan_err!(
                "DATE_FORMAT() takes two arguments (timestamp, pattern), got {}",
                arg_types.len()
            );
        };
        let value = match value {
            DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => value.clone(),
            t if is_string(t) || t == &DataType::Null => DataType::Utf8,
            other => return plan_err!("DATE_FORMAT() formats a TIMESTAMP or DATE, got {other}"),
        };
        Ok(vec![value, coerce_pattern("DATE_FORMAT", pattern)?])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = to_arrays(&args.args, args.number_rows)?;
        let [value, pattern] = arrays.as_slice() else {
            return exec_err!("DATE_FORMAT() takes two arguments");
        };
        let timestamps: ArrayRef = match value.data_type() {
            DataType::Utf8 => Arc::new(parse_default_timestamps(value.as_string::<i32>())?),
            DataType::Date32 | DataType::Date64 => {
                cast(value, &DataType::Timestamp(TimeUnit::Millisecond, None))?
            }
            _ => Arc::clone(value),
        };
        let result = match constant_pattern(&arrays, 1, scalar, "") {
            Some(p) => format_timestamps(timestamps.as_ref(), None, p)?,
            None => format_timestamps(timestamps.as_ref(), Some(pattern.as_string()), None)?,
        };
        output(result, scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}
