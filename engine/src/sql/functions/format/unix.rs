//! `FROM_UNIXTIME` and `UNIX_TIMESTAMP`: epoch seconds to text and back.

use std::sync::Arc;

use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{AsArray, Int64Array};
use datafusion::arrow::compute::kernels::cast::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampSecondType};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_DATETIME;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{
    coerce_pattern, constant_pattern, format_timestamps, is_string, output, parse_each, to_arrays,
    PATTERN_HELP,
};
use crate::sql::functions::pattern::{epoch_seconds, session_time_zone, DEFAULT_TIMESTAMP_PATTERN};

/// `FROM_UNIXTIME(seconds [, pattern])`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct FromUnixtimeFunc {
    signature: Signature,
    doc: Documentation,
}

impl FromUnixtimeFunc {
    pub(super) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            doc: Documentation::builder(
                DOC_SECTION_DATETIME,
                "Formats seconds since 1970-01-01 00:00:00 UTC as a string in the session time \
                 zone, with a Java date pattern, by default 'yyyy-MM-dd HH:mm:ss' (Flink's \
                 `FROM_UNIXTIME`). Unlike DataFusion's `from_unixtime`, which returns a \
                 TIMESTAMP and takes a time zone as second argument, this returns a STRING and \
                 takes a pattern.",
                "from_unixtime(seconds [, pattern])",
            )
            .with_sql_example(
                "```sql\n> SELECT FROM_UNIXTIME(44);\n1970-01-01 00:00:44\n> SELECT FROM_UNIXTIME(1704449472, 'yyyy/MM/dd');\n2024/01/05\n```",
            )
            .with_argument("seconds", "Seconds since the epoch (a number; fractions are dropped).")
            .with_argument("pattern", PATTERN_HELP)
            .with_related_udf("unix_timestamp")
            .build(),
        }
    }
}

impl ScalarUDFImpl for FromUnixtimeFunc {
    fn name(&self) -> &str {
        "from_unixtime"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (seconds, pattern) = match arg_types {
            [s] => (s, None),
            [s, p] => (s, Some(p)),
            _ => {
                return plan_err!(
                    "FROM_UNIXTIME() takes seconds and an optional pattern, got {} arguments",
                    arg_types.len()
                )
            }
        };
        if !(seconds.is_numeric() || seconds == &DataType::Null) {
            return plan_err!("FROM_UNIXTIME() takes seconds as a number, got {seconds}");
        }
        let mut types = vec![DataType::Int64];
        if let Some(p) = pattern {
            types.push(coerce_pattern("FROM_UNIXTIME", p)?);
        }
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = to_arrays(&args.args, args.number_rows)?;
        // Validate the zone; Arrow formats in it.
        session_time_zone(&args.config_options)?;
        let zone = args.config_options.execution.time_zone.clone();
        let seconds = cast(&arrays[0], &DataType::Timestamp(TimeUnit::Second, None))?;
        let timestamps = seconds
            .as_primitive::<TimestampSecondType>()
            .clone()
            .with_timezone_opt(zone.filter(|z| !z.is_empty()));
        let result = match constant_pattern(&arrays, 1, scalar, DEFAULT_TIMESTAMP_PATTERN) {
            Some(p) => format_timestamps(&timestamps, None, p)?,
            None => format_timestamps(&timestamps, Some(arrays[1].as_string()), None)?,
        };
        output(result, scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

// ---------------------------------------------------------------------------------------------

/// `UNIX_TIMESTAMP()` and `UNIX_TIMESTAMP(string [, pattern])`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct UnixTimestampFunc {
    signature: Signature,
    doc: Documentation,
}

impl UnixTimestampFunc {
    pub(super) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
            doc: Documentation::builder(
                DOC_SECTION_DATETIME,
                "With no argument, the current time in seconds since the epoch (the same for the \
                 whole query). With a string, parses it with a Java date pattern (by default \
                 'yyyy-MM-dd HH:mm:ss') as a time in the session time zone, or in the offset the \
                 string gives (pattern letters X/Z), and returns seconds since the epoch. As in \
                 Flink, a string that does not parse gives -9223372036854775808 \
                 (Long.MIN_VALUE), not NULL.",
                "unix_timestamp([string [, pattern]])",
            )
            .with_sql_example(
                "```sql\n> SELECT UNIX_TIMESTAMP('2024-01-05 10:11:12');\n1704449472\n> SELECT UNIX_TIMESTAMP('05/01/2024', 'dd/MM/yyyy');\n1704412800\n```",
            )
            .with_argument("string", "The date-time string to parse.")
            .with_argument("pattern", PATTERN_HELP)
            .with_related_udf("from_unixtime")
            .build(),
        }
    }
}

impl ScalarUDFImpl for UnixTimestampFunc {
    fn name(&self) -> &str {
        "unix_timestamp"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [] => Ok(vec![]),
            [s, rest @ ..] if rest.len() <= 1 => {
                if !(is_string(s) || s == &DataType::Null) {
                    return plan_err!("UNIX_TIMESTAMP() parses a string, got {s}");
                }
                let mut types = vec![DataType::Utf8];
                if let Some(p) = rest.first() {
                    types.push(coerce_pattern("UNIX_TIMESTAMP", p)?);
                }
                Ok(types)
            }
            _ => plan_err!(
                "UNIX_TIMESTAMP() takes at most a string and a pattern, got {} arguments",
                arg_types.len()
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        match (args.is_empty(), info.query_execution_start_time()) {
            (true, Some(now)) => Ok(ExprSimplifyResult::Simplified(Expr::Literal(
                ScalarValue::Int64(Some(now.timestamp())),
                None,
            ))),
            _ => Ok(ExprSimplifyResult::Original(args)),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.is_empty() {
            return Ok(ColumnarValue::Scalar(ScalarValue::Int64(Some(
                chrono::Utc::now().timestamp(),
            ))));
        }
        let tz: Option<Tz> = session_time_zone(&args.config_options)?;
        let (arrays, scalar) = to_arrays(&args.args, args.number_rows)?;
        let strings = arrays[0].as_string::<i32>();
        let constant = constant_pattern(&arrays, 1, scalar, DEFAULT_TIMESTAMP_PATTERN);
        let patterns = arrays.get(1).map(|a| a.as_string::<i32>());
        let values = parse_each(strings, patterns, constant, |r| {
            Some(
                r.and_then(|(dt, offset)| epoch_seconds(dt, offset, tz.as_ref()))
                    .unwrap_or(i64::MIN),
            )
        })?;
        output(Arc::new(Int64Array::from(values)), scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}
