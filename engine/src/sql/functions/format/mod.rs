//! Flink's string <-> date/time functions, with Java date patterns: `DATE_FORMAT`,
//! `TO_TIMESTAMP`, `TO_DATE`, `FROM_UNIXTIME`, `UNIX_TIMESTAMP`.
//!
//! Formatting goes through Arrow's `ArrayFormatter` (chrono underneath) with the Java pattern
//! translated once per batch; parsing is a vectorized loop over the string array.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, StringArray, StringBuilder, TimestampMillisecondArray,
};
use datafusion::arrow::compute::kernels::cast::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF};

use super::pattern::{to_strftime, DateTimeParser, DEFAULT_TIMESTAMP_PATTERN};

mod date_format;
mod parse;
#[cfg(test)]
mod tests;
mod unix;

use date_format::DateFormatFunc;
use parse::{ParseFunc, Target};
use unix::{FromUnixtimeFunc, UnixTimestampFunc};

pub(super) fn functions(config: &ConfigOptions) -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(DateFormatFunc::new()),
        ScalarUDF::new_from_impl(ParseFunc::new(Target::Timestamp, config)),
        ScalarUDF::new_from_impl(ParseFunc::new(Target::Date, config)),
        ScalarUDF::new_from_impl(FromUnixtimeFunc::new()),
        ScalarUDF::new_from_impl(UnixTimestampFunc::new()),
    ]
}

pub(super) const PATTERN_HELP: &str =
    "A Java date pattern (SimpleDateFormat letters: yyyy, yy, MM, M, MMM, \
    MMMM, dd, d, D, EEE, EEEE, HH, H, hh, a, mm, ss, SSS, Z, XXX; 'text' is literal). \
    A pattern containing '%' is taken as a chrono strftime format instead.";

pub(super) fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Coerces an optional pattern argument to Utf8, or names the function and type in an error.
pub(super) fn coerce_pattern(name: &str, t: &DataType) -> Result<DataType> {
    if is_string(t) || t == &DataType::Null {
        Ok(DataType::Utf8)
    } else {
        plan_err!("{name}() takes its pattern as a string, got {t}")
    }
}

/// The arguments as arrays of `number_rows` rows, and whether all of them were scalars.
pub(super) fn to_arrays(
    args: &[ColumnarValue],
    number_rows: usize,
) -> Result<(Vec<ArrayRef>, bool)> {
    let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let rows = if all_scalar { 1 } else { number_rows };
    let arrays = args
        .iter()
        .map(|a| a.to_array(rows))
        .collect::<Result<Vec<_>>>()?;
    Ok((arrays, all_scalar))
}

pub(super) fn output(array: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    Ok(if scalar {
        ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
    } else {
        ColumnarValue::Array(array)
    })
}

/// A Utf8 view of a string (or NULL) array.
pub(super) fn utf8(array: &ArrayRef) -> Result<ArrayRef> {
    Ok(if array.data_type() == &DataType::Utf8 {
        Arc::clone(array)
    } else {
        cast(array, &DataType::Utf8)?
    })
}

/// The pattern column: `Ok(Some(p))` when the same on every row (or absent: `default`),
/// `Ok(None)` when it varies by row.
pub(super) fn constant_pattern<'a>(
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
pub(super) fn format_timestamps(
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
pub(super) fn parse_each<T>(
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
pub(super) fn parse_default_timestamps(strings: &StringArray) -> Result<TimestampMillisecondArray> {
    let values = parse_each(strings, None, Some(Some(DEFAULT_TIMESTAMP_PATTERN)), |r| {
        r.map(|(dt, _)| dt.and_utc().timestamp_millis())
    })?;
    Ok(TimestampMillisecondArray::from(values))
}
