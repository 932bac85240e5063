//! Flink's string <-> date/time functions, with Java date patterns: `DATE_FORMAT`,
//! `TO_TIMESTAMP`, `TO_DATE`, `FROM_UNIXTIME`, `UNIX_TIMESTAMP`.
//!
//! Formatting goes through Arrow's `ArrayFormatter` (chrono underneath) with the Java pattern
//! translated once per batch; parsing is a vectorized loop over the string array.

use std::sync::Arc;

use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Int64Array, StringArray, StringBuilder,
    TimestampMillisecondArray,
};
use datafusion::arrow::compute::kernels::cast::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampSecondType};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_DATETIME;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use super::pattern::{
    epoch_seconds, session_time_zone, to_strftime, DateTimeParser, DEFAULT_DATE_PATTERN,
    DEFAULT_TIMESTAMP_PATTERN,
};

pub(super) fn functions(config: &ConfigOptions) -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(DateFormatFunc::new()),
        ScalarUDF::new_from_impl(ParseFunc::new(Target::Timestamp, config)),
        ScalarUDF::new_from_impl(ParseFunc::new(Target::Date, config)),
        ScalarUDF::new_from_impl(FromUnixtimeFunc::new()),
        ScalarUDF::new_from_impl(UnixTimestampFunc::new()),
    ]
}

const PATTERN_HELP: &str = "A Java date pattern (SimpleDateFormat letters: yyyy, yy, MM, M, MMM, \
    MMMM, dd, d, D, EEE, EEEE, HH, H, hh, a, mm, ss, SSS, Z, XXX; 'text' is literal). \
    A pattern containing '%' is taken as a chrono strftime format instead.";

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Coerces an optional pattern argument to Utf8, or names the function and type in an error.
fn coerce_pattern(name: &str, t: &DataType) -> Result<DataType> {
    if is_string(t) || t == &DataType::Null {
        Ok(DataType::Utf8)
    } else {
        plan_err!("{name}() takes its pattern as a string, got {t}")
    }
}

/// The arguments as arrays of `number_rows` rows, and whether all of them were scalars.
fn to_arrays(args: &[ColumnarValue], number_rows: usize) -> Result<(Vec<ArrayRef>, bool)> {
    let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let rows = if all_scalar { 1 } else { number_rows };
    let arrays = args
        .iter()
        .map(|a| a.to_array(rows))
        .collect::<Result<Vec<_>>>()?;
    Ok((arrays, all_scalar))
}

fn output(array: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    Ok(if scalar {
        ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
    } else {
        ColumnarValue::Array(array)
    })
}

/// A Utf8 view of a string (or NULL) array.
fn utf8(array: &ArrayRef) -> Result<ArrayRef> {
    Ok(if array.data_type() == &DataType::Utf8 {
        Arc::clone(array)
    } else {
        cast(array, &DataType::Utf8)?
    })
}

/// The pattern column: `Ok(Some(p))` when the same on every row (or absent: `default`),
/// `Ok(None)` when it varies by row.
fn constant_pattern<'a>(
    arrays: &'a [ArrayRef],
    index: usize,
    scalar: bool,
    default: &'a str,
) -> Option<Option<&'a str>> {
    match arrays.get(index) {
        None => Some(Some(default)),
        Some(a) if scalar => {
            let a = a.as_string::<i32>();
            Some(a.is_valid(0).then(|| a.value(0)))
        }
        Some(_) => None,
    }
}

/// Formats a timestamp array with a Java (or strftime) pattern per row or for all rows.
fn format_timestamps(
    timestamps: &dyn Array,
    patterns: Option<&StringArray>,
    constant: Option<&str>,
) -> Result<ArrayRef> {
    let len = timestamps.len();
    let mut builder = StringBuilder::with_capacity(len, len * 24);
    match patterns {
        None => {
            let Some(pattern) = constant else {
                return Ok(Arc::new(StringArray::new_null(len)));
            };
            let strftime = to_strftime(pattern)?;
            let options = FormatOptions::new()
                .with_timestamp_format(Some(&strftime))
                .with_timestamp_tz_format(Some(&strftime));
            let formatter = ArrayFormatter::try_new(timestamps, &options)?;
            for i in 0..len {
                if timestamps.is_null(i) {
                    builder.append_null();
                } else {
                    formatter.value(i).write(&mut builder)?;
                    builder.append_value("");
                }
            }
        }
        Some(patterns) => {
            // Rare: a pattern column. Translate each distinct run once.
            let mut last: Option<(&str, String)> = None;
            for i in 0..len {
                if timestamps.is_null(i) || patterns.is_null(i) {
                    builder.append_null();
                    continue;
                }
                let pattern = patterns.value(i);
                if last.as_ref().map(|(p, _)| *p) != Some(pattern) {
                    last = Some((pattern, to_strftime(pattern)?));
                }
                let strftime = &last.as_ref().expect("set above").1;
                let options = FormatOptions::new()
                    .with_timestamp_format(Some(strftime))
                    .with_timestamp_tz_format(Some(strftime));
                let formatter = ArrayFormatter::try_new(timestamps, &options)?;
                formatter.value(i).write(&mut builder)?;
                builder.append_value("");
            }
        }
    }
    Ok(Arc::new(builder.finish()))
}

/// Parses each string with its row's pattern (or the constant one), mapping each parsed
/// local date-time and offset with `f`; unparsable strings give `f(None)`.
fn parse_each<T>(
    strings: &StringArray,
    patterns: Option<&StringArray>,
    constant: Option<Option<&str>>,
    mut f: impl FnMut(Option<(chrono::NaiveDateTime, Option<i32>)>) -> Option<T>,
) -> Result<Vec<Option<T>>> {
    let mut out = Vec::with_capacity(strings.len());
    match (constant, patterns) {
        (Some(None), _) => out.resize_with(strings.len(), || None),
        (Some(Some(pattern)), _) => {
            let parser = DateTimeParser::new(Some(pattern))?;
            for s in strings.iter() {
                out.push(s.and_then(|s| f(parser.parse(s))));
            }
        }
        (None, Some(patterns)) => {
            let mut last: Option<(&str, DateTimeParser)> = None;
            for (s, p) in strings.iter().zip(patterns.iter()) {
                let (Some(s), Some(p)) = (s, p) else {
                    out.push(None);
                    continue;
                };
                if last.as_ref().map(|(lp, _)| *lp) != Some(p) {
                    last = Some((p, DateTimeParser::new(Some(p))?));
                }
                out.push(f(last.as_ref().expect("set above").1.parse(s)));
            }
        }
        (None, None) => unreachable!("a varying pattern is an array"),
    }
    Ok(out)
}

/// Parses strings as Flink's default timestamp format to TIMESTAMP(3); NULL when unparsable.
fn parse_default_timestamps(strings: &StringArray) -> Result<TimestampMillisecondArray> {
    let values = parse_each(strings, None, Some(Some(DEFAULT_TIMESTAMP_PATTERN)), |r| {
        r.map(|(dt, _)| dt.and_utc().timestamp_millis())
    })?;
    Ok(TimestampMillisecondArray::from(values))
}

// ---------------------------------------------------------------------------------------------

/// `DATE_FORMAT(timestamp_or_string, pattern)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DateFormatFunc {
    signature: Signature,
    doc: Documentation,
}

impl DateFormatFunc {
    fn new() -> Self {
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

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Timestamp,
    Date,
}

/// `TO_TIMESTAMP(string [, pattern])` and `TO_DATE(string [, pattern])` with Flink's semantics
/// for strings; other arguments go to DataFusion's function of the same name.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ParseFunc {
    target: Target,
    /// DataFusion's own function, for arguments Flink's does not take.
    inner: Arc<ScalarUDF>,
    signature: Signature,
    doc: Documentation,
}

impl ParseFunc {
    fn new(target: Target, config: &ConfigOptions) -> Self {
        let inner = match target {
            Target::Timestamp => datafusion::functions::datetime::to_timestamp(config),
            Target::Date => datafusion::functions::datetime::to_date(),
        };
        let doc = match target {
            Target::Timestamp => Documentation::builder(
                DOC_SECTION_DATETIME,
                "Parses a string to a TIMESTAMP(3) with a Java date pattern, by default \
                 'yyyy-MM-dd HH:mm:ss' (Flink's `TO_TIMESTAMP`; the default also takes a date \
                 alone and a fraction of second). Returns NULL when the string does not parse. \
                 Non-string arguments keep DataFusion's `to_timestamp` behaviour (e.g. an \
                 integer is seconds since the epoch), as do three or more arguments (several \
                 chrono formats).",
                "to_timestamp(string [, pattern])",
            )
            .with_sql_example(
                "```sql\n> SELECT TO_TIMESTAMP('05/01/2024 10:11', 'dd/MM/yyyy HH:mm');\n2024-01-05T10:11:00\n> SELECT TO_TIMESTAMP('garbage');\nNULL\n```",
            )
            .with_argument("string", "The string to parse.")
            .with_argument("pattern", PATTERN_HELP)
            .build(),
            Target::Date => Documentation::builder(
                DOC_SECTION_DATETIME,
                "Parses a string to a DATE with a Java date pattern, by default 'yyyy-MM-dd' \
                 (Flink's `TO_DATE`). Returns NULL when the string does not parse. Non-string \
                 arguments keep DataFusion's `to_date` behaviour (e.g. an integer is days \
                 since the epoch), as do three or more arguments.",
                "to_date(string [, pattern])",
            )
            .with_sql_example(
                "```sql\n> SELECT TO_DATE('05/01/2024', 'dd/MM/yyyy');\n2024-01-05\n```",
            )
            .with_argument("string", "The string to parse.")
            .with_argument("pattern", PATTERN_HELP)
            .build(),
        };
        Self {
            target,
            inner,
            signature: Signature::user_defined(Volatility::Immutable),
            doc,
        }
    }

    fn upper(&self) -> &'static str {
        match self.target {
            Target::Timestamp => "TO_TIMESTAMP",
            Target::Date => "TO_DATE",
        }
    }

    /// Whether these (coerced) argument types take Flink's path.
    fn is_flink(arg_types: &[DataType]) -> bool {
        matches!(arg_types.len(), 1 | 2)
            && (is_string(&arg_types[0]) || arg_types[0] == DataType::Null)
    }
}

impl ScalarUDFImpl for ParseFunc {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.is_empty() {
            return plan_err!("{}() takes a string and an optional pattern", self.upper());
        }
        if !Self::is_flink(arg_types) {
            return Ok(arg_types.to_vec());
        }
        let mut types = vec![DataType::Utf8];
        if let Some(pattern) = arg_types.get(1) {
            types.push(coerce_pattern(self.upper(), pattern)?);
        }
        Ok(types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !Self::is_flink(arg_types) {
            return self.inner.return_type(arg_types);
        }
        Ok(match self.target {
            Target::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
            Target::Date => DataType::Date32,
        })
    }

    fn with_updated_config(&self, config: &ConfigOptions) -> Option<ScalarUDF> {
        Some(ScalarUDF::new_from_impl(Self::new(self.target, config)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args.args.iter().map(|a| a.data_type()).collect();
        if !Self::is_flink(&types) {
            return self.inner.invoke_with_args(args);
        }
        let (arrays, scalar) = to_arrays(&args.args, args.number_rows)?;
        let strings = utf8(&arrays[0])?;
        let strings = strings.as_string::<i32>();
        let default = match self.target {
            Target::Timestamp => DEFAULT_TIMESTAMP_PATTERN,
            Target::Date => DEFAULT_DATE_PATTERN,
        };
        let constant = match constant_pattern(&arrays, 1, scalar, default) {
            // Flink's lenient default parses dates as well as timestamps.
            Some(Some(p)) if p == DEFAULT_DATE_PATTERN => Some(Some(DEFAULT_TIMESTAMP_PATTERN)),
            c => c,
        };
        let patterns = arrays.get(1).map(|a| a.as_string::<i32>());
        let result: ArrayRef = match self.target {
            Target::Timestamp => Arc::new(TimestampMillisecondArray::from(parse_each(
                strings,
                patterns,
                constant,
                |r| r.map(|(dt, _)| dt.and_utc().timestamp_millis()),
            )?)),
            Target::Date => {
                let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
                Arc::new(Date32Array::from(parse_each(
                    strings,
                    patterns,
                    constant,
                    |r| r.and_then(|(dt, _)| i32::try_from((dt.date() - epoch).num_days()).ok()),
                )?))
            }
        };
        output(result, scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

// ---------------------------------------------------------------------------------------------

/// `FROM_UNIXTIME(seconds [, pattern])`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct FromUnixtimeFunc {
    signature: Signature,
    doc: Documentation,
}

impl FromUnixtimeFunc {
    fn new() -> Self {
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
struct UnixTimestampFunc {
    signature: Signature,
    doc: Documentation,
}

impl UnixTimestampFunc {
    fn new() -> Self {
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

#[cfg(test)]
mod tests {
    use super::super::test_util::{column, context, data_type, error, one};
    use datafusion::arrow::datatypes::{DataType, TimeUnit};

    #[tokio::test]
    async fn date_format_java_patterns() {
        let ts = "TIMESTAMP '2024-01-05 09:08:07.123'";
        for (pattern, want) in [
            ("yyyy-MM-dd HH:mm:ss", "2024-01-05 09:08:07"),
            ("yy/M/d H:m:s.SSS", "24/1/5 9:8:7.123"),
            ("EEE, dd MMM yyyy", "Fri, 05 Jan 2024"),
            ("EEEE MMMM d ''at'' hh a", "Friday January 5 at 09 AM"),
            ("D", "5"),
            ("yyyyMMdd", "20240105"),
            ("%d.%m.%Y", "05.01.2024"),
        ] {
            assert_eq!(
                one(&format!("SELECT DATE_FORMAT({ts}, '{pattern}')")).await,
                want,
                "{pattern}"
            );
        }
        assert_eq!(
            one("SELECT DATE_FORMAT(DATE '2024-01-05', 'dd/MM/yyyy HH:mm')").await,
            "05/01/2024 00:00"
        );
        // A string is parsed as Flink's 'yyyy-MM-dd HH:mm:ss'; NULL when it does not parse.
        assert_eq!(
            one("SELECT DATE_FORMAT('2024-01-05 10:11:12', 'HH:mm')").await,
            "10:11"
        );
        assert_eq!(one("SELECT DATE_FORMAT('oops', 'HH:mm')").await, "NULL");
        assert_eq!(one("SELECT DATE_FORMAT(NULL, 'HH:mm')").await, "NULL");
        assert_eq!(
            data_type("SELECT DATE_FORMAT(now(), 'yyyy')").await,
            DataType::Utf8
        );
        let ctx = context();
        let got = column(
            &ctx,
            "SELECT DATE_FORMAT(t, p) FROM (VALUES (TIMESTAMP '2024-01-05 10:00:00', 'yyyy'), \
             (TIMESTAMP '2024-01-05 10:00:00', 'HH'), (NULL, 'yyyy')) v(t, p)",
        )
        .await
        .unwrap();
        assert_eq!(got, ["2024", "10", "NULL"]);
    }

    #[tokio::test]
    async fn date_format_errors() {
        let e = error("SELECT DATE_FORMAT(now(), 'yyyy-QQ')").await;
        assert!(
            e.contains("unsupported pattern letter 'Q' at position 6"),
            "{e}"
        );
        let e = error("SELECT DATE_FORMAT(42, 'yyyy')").await;
        assert!(
            e.contains("DATE_FORMAT() formats a TIMESTAMP or DATE, got Int64"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn to_timestamp_flink() {
        assert_eq!(
            one("SELECT TO_TIMESTAMP('2024-01-05 10:11:12')").await,
            "2024-01-05T10:11:12"
        );
        assert_eq!(
            one("SELECT TO_TIMESTAMP('2024-1-5 10:11:12.123456')").await,
            "2024-01-05T10:11:12.123"
        );
        assert_eq!(
            one("SELECT TO_TIMESTAMP('05/01/2024 10:11', 'dd/MM/yyyy HH:mm')").await,
            "2024-01-05T10:11:00"
        );
        assert_eq!(
            one("SELECT TO_TIMESTAMP('2024-01-05', '%Y-%m-%d')").await,
            "2024-01-05T00:00:00"
        );
        // Flink returns NULL, not an error, for what does not parse.
        assert_eq!(one("SELECT TO_TIMESTAMP('garbage')").await, "NULL");
        assert_eq!(
            one("SELECT TO_TIMESTAMP('2024-13-01 00:00:00')").await,
            "NULL"
        );
        assert_eq!(
            one("SELECT TO_TIMESTAMP('2024-01-05', 'dd/MM/yyyy')").await,
            "NULL"
        );
        assert_eq!(one("SELECT TO_TIMESTAMP(NULL)").await, "NULL");
        assert_eq!(
            data_type("SELECT TO_TIMESTAMP('2024-01-05 10:11:12')").await,
            DataType::Timestamp(TimeUnit::Millisecond, None)
        );
        let ctx = context();
        let got = column(
            &ctx,
            "SELECT TO_TIMESTAMP(s) FROM (VALUES ('2024-01-05 00:00:01'), ('x'), (NULL)) t(s)",
        )
        .await
        .unwrap();
        assert_eq!(got, ["2024-01-05T00:00:01", "NULL", "NULL"]);
    }

    #[tokio::test]
    async fn to_timestamp_keeps_datafusion_for_numbers() {
        assert_eq!(
            one("SELECT TO_TIMESTAMP(86400)").await,
            "1970-01-02T00:00:00"
        );
        assert_eq!(
            data_type("SELECT TO_TIMESTAMP(86400)").await,
            DataType::Timestamp(TimeUnit::Nanosecond, None)
        );
    }

    #[tokio::test]
    async fn to_timestamp_errors() {
        let e = error("SELECT TO_TIMESTAMP('2024', 'yyyy-QQ')").await;
        assert!(e.contains("unsupported pattern letter 'Q'"), "{e}");
        let e = error("SELECT TO_TIMESTAMP('2024', 5)").await;
        assert!(
            e.contains("TO_TIMESTAMP() takes its pattern as a string, got Int64"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn to_date_flink() {
        assert_eq!(one("SELECT TO_DATE('2024-01-05')").await, "2024-01-05");
        assert_eq!(
            one("SELECT TO_DATE('05/01/2024', 'dd/MM/yyyy')").await,
            "2024-01-05"
        );
        assert_eq!(one("SELECT TO_DATE('nope')").await, "NULL");
        assert_eq!(
            data_type("SELECT TO_DATE('2024-01-05')").await,
            DataType::Date32
        );
        // DataFusion's behaviour for integers: days since the epoch.
        assert_eq!(one("SELECT TO_DATE(1)").await, "1970-01-02");
    }

    #[tokio::test]
    async fn from_unixtime_and_unix_timestamp() {
        assert_eq!(one("SELECT FROM_UNIXTIME(44)").await, "1970-01-01 00:00:44");
        assert_eq!(
            one("SELECT FROM_UNIXTIME(1704449472, 'yyyy/MM/dd HH')").await,
            "2024/01/05 10"
        );
        assert_eq!(one("SELECT FROM_UNIXTIME(NULL)").await, "NULL");
        assert_eq!(
            one("SELECT UNIX_TIMESTAMP('2024-01-05 10:11:12')").await,
            "1704449472"
        );
        assert_eq!(
            one("SELECT UNIX_TIMESTAMP('05/01/2024', 'dd/MM/yyyy')").await,
            "1704412800"
        );
        assert_eq!(
            one("SELECT UNIX_TIMESTAMP('2024-01-05 12:11:12 +02:00', 'yyyy-MM-dd HH:mm:ss XXX')")
                .await,
            "1704449472"
        );
        // Flink: Long.MIN_VALUE when the string does not parse.
        assert_eq!(
            one("SELECT UNIX_TIMESTAMP('nope')").await,
            i64::MIN.to_string()
        );
        assert_eq!(one("SELECT UNIX_TIMESTAMP(NULL)").await, "NULL");
        let now: i64 = one("SELECT UNIX_TIMESTAMP()").await.parse().unwrap();
        let wall = chrono::Utc::now().timestamp();
        assert!((wall - now).abs() < 60, "{now} vs {wall}");
        assert_eq!(
            one("SELECT FROM_UNIXTIME(UNIX_TIMESTAMP('2024-01-05 10:11:12'))").await,
            "2024-01-05 10:11:12"
        );
    }

    #[tokio::test]
    async fn session_time_zone() {
        let ctx = context();
        ctx.sql("SET datafusion.execution.time_zone = '+02:00'")
            .await
            .unwrap();
        let got = column(&ctx, "SELECT FROM_UNIXTIME(0)").await.unwrap();
        assert_eq!(got, ["1970-01-01 02:00:00"]);
        let got = column(&ctx, "SELECT UNIX_TIMESTAMP('1970-01-01 02:00:00')")
            .await
            .unwrap();
        assert_eq!(got, ["0"]);
        // Still Flink's after the config change re-registers functions.
        let got = column(&ctx, "SELECT TO_TIMESTAMP('bad')").await.unwrap();
        assert_eq!(got, ["NULL"]);
    }

    #[tokio::test]
    async fn from_unixtime_errors() {
        let e = error("SELECT FROM_UNIXTIME('x')").await;
        assert!(
            e.contains("FROM_UNIXTIME() takes seconds as a number, got Utf8"),
            "{e}"
        );
        let e = error("SELECT FROM_UNIXTIME(1, 'yyyy-ii')").await;
        assert!(e.contains("unsupported pattern letter 'i'"), "{e}");
    }
}
