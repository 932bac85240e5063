//! Flink's `TIMESTAMPDIFF(unit, t1, t2)`, the whole units from `t1` to `t2` (negative when
//! `t2` is earlier), and `TIMESTAMPADD(unit, n, t)`, `t` moved by `n` units. The unit is
//! SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER or YEAR (`sql/time_units.rs` makes the bare
//! word a string).
//!
//! Months are calendar months, as Flink (Calcite) counts them: from Jan 31 to Feb 29 is one
//! month, and adding a month to Jan 31 gives the month's last day. Time units count
//! milliseconds, truncated toward zero. TIMESTAMPDIFF returns INT, as Flink does; a
//! difference too large for it is an error.

use super::{argument_arrays, result_value, type_list};
use crate::sql::time_units::UNITS;
use chrono::{DateTime, Months, NaiveDateTime};
use datafusion::arrow::array::{Array, AsArray, Int32Builder, TimestampMillisecondBuilder};
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMillisecondType};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_DATETIME;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use std::sync::Arc;

pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(TimestampUnits::new(Kind::Diff)),
        ScalarUDF::new_from_impl(TimestampUnits::new(Kind::Add)),
    ]
}

const MILLIS_TIMESTAMP: DataType = DataType::Timestamp(TimeUnit::Millisecond, None);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Diff,
    Add,
}

/// A unit: a fixed number of milliseconds, or of calendar months.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Millis(i64),
    Months(i64),
}

fn unit(name: &str) -> Result<Unit> {
    Ok(match name.to_ascii_uppercase().as_str() {
        "SECOND" => Unit::Millis(1_000),
        "MINUTE" => Unit::Millis(60_000),
        "HOUR" => Unit::Millis(3_600_000),
        "DAY" => Unit::Millis(86_400_000),
        "WEEK" => Unit::Millis(7 * 86_400_000),
        "MONTH" => Unit::Months(1),
        "QUARTER" => Unit::Months(3),
        "YEAR" => Unit::Months(12),
        other => {
            return exec_err!(
                "'{other}' is not a time unit; the units are {}",
                UNITS.join(", ")
            )
        }
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TimestampUnits {
    kind: Kind,
    signature: Signature,
    doc: Documentation,
}

impl TimestampUnits {
    fn new(kind: Kind) -> Self {
        let doc = match kind {
            Kind::Diff => Documentation::builder(
                DOC_SECTION_DATETIME,
                "The whole `unit`s from `t1` to `t2`, negative when `t2` is earlier (Flink's \
                 `TIMESTAMPDIFF`); months are calendar months.",
                "timestampdiff(unit, t1, t2)",
            )
            .with_sql_example(
                "```sql\n> SELECT TIMESTAMPDIFF(DAY, TIMESTAMP '2003-01-02 10:00:00', TIMESTAMP '2003-01-03 10:00:00');\n1\n```",
            )
            .with_argument("unit", "SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER or YEAR.")
            .with_argument("t1", "The earlier time.")
            .with_argument("t2", "The later time.")
            .build(),
            Kind::Add => Documentation::builder(
                DOC_SECTION_DATETIME,
                "`t` moved by `n` `unit`s (Flink's `TIMESTAMPADD`); a month added to the 31st \
                 gives the month's last day.",
                "timestampadd(unit, n, t)",
            )
            .with_sql_example(
                "```sql\n> SELECT TIMESTAMPADD(MONTH, 1, TIMESTAMP '2024-01-31 10:00:00');\n2024-02-29T10:00:00\n```",
            )
            .with_argument("unit", "SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER or YEAR.")
            .with_argument("n", "How many units (an integer, negative to go back).")
            .with_argument("t", "The time to move.")
            .build(),
        };
        TimestampUnits {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
            doc,
        }
    }

    fn usage(&self) -> &'static str {
        match self.kind {
            Kind::Diff => "TIMESTAMPDIFF(unit, t1, t2) takes a unit and two times",
            Kind::Add => "TIMESTAMPADD(unit, n, t) takes a unit, an integer and a time",
        }
    }
}

fn is_time(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 | DataType::Null
    )
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

impl ScalarUDFImpl for TimestampUnits {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Diff => "timestampdiff",
            Kind::Add => "timestampadd",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match (self.kind, arg_types) {
            (Kind::Diff, [u, a, b]) if is_text(u) && is_time(a) && is_time(b) => {
                Ok(vec![DataType::Utf8, MILLIS_TIMESTAMP, MILLIS_TIMESTAMP])
            }
            (Kind::Add, [u, n, t])
                if is_text(u) && (n.is_integer() || n == &DataType::Null) && is_time(t) =>
            {
                Ok(vec![DataType::Utf8, DataType::Int64, MILLIS_TIMESTAMP])
            }
            _ => plan_err!(
                "{}, got ({}); write the unit as a word: TIMESTAMPDIFF(DAY, t1, t2)",
                self.usage(),
                type_list(arg_types)
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::Diff => DataType::Int32,
            Kind::Add => MILLIS_TIMESTAMP,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, constant) = argument_arrays(&args)?;
        let [units, second, times] = arrays.as_slice() else {
            return exec_err!("{}", self.usage());
        };
        let units = units.as_string::<i32>();
        let times = times.as_primitive::<TimestampMillisecondType>();
        let rows = times.len();
        match self.kind {
            Kind::Diff => {
                let starts = second.as_primitive::<TimestampMillisecondType>();
                let mut out = Int32Builder::with_capacity(rows);
                for row in 0..rows {
                    if units.is_null(row) || starts.is_null(row) || times.is_null(row) {
                        out.append_null();
                        continue;
                    }
                    let units_between = match unit(units.value(row))? {
                        Unit::Millis(ms) => times
                            .value(row)
                            .checked_sub(starts.value(row))
                            .map(|d| d / ms),
                        Unit::Months(k) => {
                            months_between(starts.value(row), times.value(row)).map(|m| m / k)
                        }
                    };
                    match units_between.and_then(|n| i32::try_from(n).ok()) {
                        Some(n) => out.append_value(n),
                        None => return exec_err!("TIMESTAMPDIFF: the difference does not fit INT"),
                    }
                }
                result_value(Arc::new(out.finish()), constant)
            }
            Kind::Add => {
                let counts = second.as_primitive::<Int64Type>();
                let mut out = TimestampMillisecondBuilder::with_capacity(rows);
                for row in 0..rows {
                    if units.is_null(row) || counts.is_null(row) || times.is_null(row) {
                        out.append_null();
                        continue;
                    }
                    let (n, t) = (counts.value(row), times.value(row));
                    let moved = match unit(units.value(row))? {
                        Unit::Millis(ms) => n.checked_mul(ms).and_then(|d| t.checked_add(d)),
                        Unit::Months(k) => n.checked_mul(k).and_then(|m| add_months(t, m)),
                    };
                    match moved {
                        Some(moved) => out.append_value(moved),
                        None => return exec_err!("TIMESTAMPADD: the time is out of range"),
                    }
                }
                result_value(Arc::new(out.finish()), constant)
            }
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

fn naive(millis: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_millis(millis).map(|t| t.naive_utc())
}

/// `millis` moved by `months` calendar months, the day kept or clamped to the month's end.
fn add_months(millis: i64, months: i64) -> Option<i64> {
    let t = naive(millis)?;
    let shift = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
    let moved = if months >= 0 {
        t.checked_add_months(shift)?
    } else {
        t.checked_sub_months(shift)?
    };
    Some(moved.and_utc().timestamp_millis())
}

/// Whole calendar months from `from` to `to`: the largest m with `from` + m months ≤ `to`
/// (negated when `to` is earlier).
fn months_between(from: i64, to: i64) -> Option<i64> {
    if to < from {
        return months_between(to, from).map(|m| -m);
    }
    let (a, b) = (naive(from)?, naive(to)?);
    use chrono::Datelike;
    let mut m = (i64::from(b.year()) * 12 + i64::from(b.month0()))
        - (i64::from(a.year()) * 12 + i64::from(a.month0()));
    if add_months(from, m).is_some_and(|moved| moved > to) {
        m -= 1;
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::one;

    #[tokio::test]
    async fn timestampdiff_counts_whole_units() {
        for (sql, want) in [
            ("TIMESTAMPDIFF('DAY', TIMESTAMP '2003-01-02 10:00:00', TIMESTAMP '2003-01-03 10:00:00')", "1"),
            ("TIMESTAMPDIFF('DAY', TIMESTAMP '2003-01-02 10:00:00', TIMESTAMP '2003-01-03 09:59:59')", "0"),
            ("TIMESTAMPDIFF('HOUR', TIMESTAMP '2003-01-03 10:00:00', TIMESTAMP '2003-01-02 08:30:00')", "-25"),
            ("TIMESTAMPDIFF('MONTH', TIMESTAMP '2024-01-31 00:00:00', TIMESTAMP '2024-02-29 00:00:00')", "1"),
            ("TIMESTAMPDIFF('MONTH', TIMESTAMP '2024-01-15 10:00:00', TIMESTAMP '2024-03-15 09:00:00')", "1"),
            ("TIMESTAMPDIFF('MONTH', TIMESTAMP '2024-03-15 09:00:00', TIMESTAMP '2024-01-15 10:00:00')", "-1"),
            ("TIMESTAMPDIFF('YEAR', DATE '2000-02-29', DATE '2004-02-28')", "3"),
            ("TIMESTAMPDIFF('QUARTER', DATE '2024-01-01', DATE '2024-12-31')", "3"),
            ("TIMESTAMPDIFF('WEEK', DATE '2024-01-01', DATE '2024-01-15')", "2"),
            ("TIMESTAMPDIFF('SECOND', TIMESTAMP '2024-01-01 00:00:00', NULL)", "NULL"),
        ] {
            assert_eq!(one(&format!("SELECT {sql}")).await, want, "{sql}");
        }
    }

    #[tokio::test]
    async fn timestampadd_moves_by_units() {
        for (sql, want) in [
            (
                "TIMESTAMPADD('MONTH', 1, TIMESTAMP '2024-01-31 10:00:00')",
                "2024-02-29T10:00:00",
            ),
            (
                "TIMESTAMPADD('YEAR', -1, TIMESTAMP '2024-02-29 00:00:00')",
                "2023-02-28T00:00:00",
            ),
            (
                "TIMESTAMPADD('MINUTE', 90, TIMESTAMP '2024-01-01 23:00:00')",
                "2024-01-02T00:30:00",
            ),
            (
                "TIMESTAMPADD('WEEK', 1, DATE '2024-01-01')",
                "2024-01-08T00:00:00",
            ),
            (
                "TIMESTAMPADD('DAY', NULL, TIMESTAMP '2024-01-01 00:00:00')",
                "NULL",
            ),
        ] {
            assert_eq!(one(&format!("SELECT {sql}")).await, want, "{sql}");
        }
    }
}
