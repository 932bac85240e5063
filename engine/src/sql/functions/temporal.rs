//! Flink's date-part functions: `YEAR`, `QUARTER`, `MONTH`, `WEEK`, `DAYOFYEAR`, `DAYOFMONTH`,
//! `DAYOFWEEK`, `HOUR`, `MINUTE`, `SECOND`: by integer arithmetic for times without a zone
//! (`calendar.rs`), otherwise with Arrow's `date_part` kernel.

use std::sync::Arc;

use super::calendar::part_without_zone;
use datafusion::arrow::compute::kernels::cast::cast;
use datafusion::arrow::compute::kernels::temporal::{date_part, DatePart};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::preimage::PreimageResult;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_DATETIME;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{
    lit, ColumnarValue, Documentation, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};

pub(super) fn functions() -> Vec<ScalarUDF> {
    use DatePart::*;
    [
        ("year", Year, "the year", "2024"),
        ("quarter", Quarter, "the quarter of the year (1 to 4)", "1"),
        ("month", Month, "the month of the year (1 to 12)", "1"),
        (
            "week",
            Week,
            "the ISO-8601 week of the year (1 to 53; weeks start on Monday)",
            "1",
        ),
        (
            "dayofyear",
            DayOfYear,
            "the day of the year (1 to 366)",
            "5",
        ),
        ("dayofmonth", Day, "the day of the month (1 to 31)", "5"),
        (
            "dayofweek",
            DayOfWeekSunday1,
            "the day of the week (1 = Sunday to 7 = Saturday)",
            "6",
        ),
        ("hour", Hour, "the hour of the day (0 to 23)", "10"),
        ("minute", Minute, "the minute of the hour (0 to 59)", "11"),
        ("second", Second, "the second of the minute (0 to 59)", "12"),
    ]
    .into_iter()
    .map(|(name, part, what, example)| {
        ScalarUDF::new_from_impl(DatePartFunc::new(name, part, what, example))
    })
    .collect()
}

/// One Flink date-part function: `NAME(date_or_timestamp) -> BIGINT`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DatePartFunc {
    name: &'static str,
    part: DatePartKey,
    signature: Signature,
    doc: Documentation,
}

/// [`DatePart`] is neither `Eq` nor `Hash`: keep its name beside it.
#[derive(Debug, Clone, Copy)]
struct DatePartKey(DatePart);

impl PartialEq for DatePartKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}
impl Eq for DatePartKey {}
impl std::hash::Hash for DatePartKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_string().hash(state)
    }
}

impl DatePartFunc {
    fn new(name: &'static str, part: DatePart, what: &str, example: &str) -> Self {
        let upper = name.to_uppercase();
        let doc = Documentation::builder(
            DOC_SECTION_DATETIME,
            format!(
                "Returns {what} of a DATE or TIMESTAMP as a BIGINT (Flink's `{upper}`). \
                 A string argument is cast to TIMESTAMP first. NULL in, NULL out."
            ),
            format!("{name}(date_or_timestamp)"),
        )
        .with_sql_example(format!(
            "```sql\n> SELECT {upper}(TIMESTAMP '2024-01-05 10:11:12');\n{example}\n```"
        ))
        .with_argument(
            "date_or_timestamp",
            "A DATE, TIMESTAMP, or a string that casts to TIMESTAMP.",
        )
        .with_related_udf("date_part")
        .build();
        Self {
            name,
            part: DatePartKey(part),
            signature: Signature::user_defined(Volatility::Immutable),
            doc,
        }
    }

    fn is_time_part(&self) -> bool {
        matches!(
            self.part.0,
            DatePart::Hour | DatePart::Minute | DatePart::Second
        )
    }
}

impl ScalarUDFImpl for DatePartFunc {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [arg] = arg_types else {
            return plan_err!(
                "{}() takes one argument (a DATE or TIMESTAMP), got {}",
                self.name.to_uppercase(),
                arg_types.len()
            );
        };
        let coerced = match arg {
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => arg.clone(),
            DataType::Time32(_) | DataType::Time64(_) if self.is_time_part() => arg.clone(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
                DataType::Timestamp(TimeUnit::Nanosecond, None)
            }
            other => {
                return plan_err!(
                    "{}() expects a DATE or TIMESTAMP, got {other}",
                    self.name.to_uppercase()
                )
            }
        };
        Ok(vec![coerced])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return plan_err!("{}() takes one argument", self.name.to_uppercase());
        };
        let (array, is_scalar) = match arg {
            ColumnarValue::Array(a) => (Arc::clone(a), false),
            ColumnarValue::Scalar(s) => (s.to_array()?, true),
        };
        // Arrow's kernel has no time of day for a date: take it as midnight.
        let array = match array.data_type() {
            DataType::Date32 | DataType::Date64 if self.is_time_part() => {
                cast(&array, &DataType::Timestamp(TimeUnit::Second, None))?
            }
            _ => array,
        };
        let result = match part_without_zone(&array, self.part.0) {
            Some(parts) => parts,
            None => cast(&date_part(&array, self.part.0)?, &DataType::Int64)?,
        };
        Ok(if is_scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?)
        } else {
            ColumnarValue::Array(result)
        })
    }

    /// `YEAR(ts) = 2019` (or `<`, `>=`, `BETWEEN`, …) holds for the times of a range: the
    /// optimizer compares the column with the range's ends instead of computing each row's
    /// year, as it does for `EXTRACT(YEAR FROM ts)` (whose preimage this is).
    fn preimage(
        &self,
        args: &[Expr],
        lit_expr: &Expr,
        info: &SimplifyContext,
    ) -> Result<PreimageResult> {
        if !matches!(self.part.0, DatePart::Year) {
            return Ok(PreimageResult::None);
        }
        let year = match lit_expr {
            Expr::Literal(ScalarValue::Int64(Some(year)), _) => i32::try_from(*year).ok(),
            Expr::Literal(ScalarValue::Int32(Some(year)), _) => Some(*year),
            _ => None,
        };
        let (Some(year), [arg]) = (year, args) else {
            return Ok(PreimageResult::None);
        };
        datafusion::functions::datetime::date_part().preimage(
            &[lit("year"), arg.clone()],
            &lit(year),
            info,
        )
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{column, context, data_type, error, one, printed};
    use datafusion::arrow::datatypes::DataType;

    #[tokio::test]
    async fn parts_of_a_timestamp() {
        let ts = "TIMESTAMP '2024-01-06 10:11:12.345'";
        for (f, want) in [
            ("YEAR", "2024"),
            ("QUARTER", "1"),
            ("MONTH", "1"),
            ("WEEK", "1"),
            ("DAYOFYEAR", "6"),
            ("DAYOFMONTH", "6"),
            ("DAYOFWEEK", "7"),
            ("HOUR", "10"),
            ("MINUTE", "11"),
            ("SECOND", "12"),
        ] {
            assert_eq!(one(&format!("SELECT {f}({ts})")).await, want, "{f}");
        }
        assert_eq!(
            data_type(&format!("SELECT year({ts})")).await,
            DataType::Int64
        );
    }

    #[tokio::test]
    async fn dayofweek_is_sunday_1() {
        // 1994-09-25 was a Sunday; 1994-09-27 (Flink's doc example) a Tuesday.
        assert_eq!(one("SELECT DAYOFWEEK(DATE '1994-09-25')").await, "1");
        assert_eq!(one("SELECT DAYOFWEEK(DATE '1994-09-27')").await, "3");
        assert_eq!(one("SELECT DAYOFWEEK(DATE '1994-10-01')").await, "7");
        // Flink's doc examples.
        assert_eq!(one("SELECT WEEK(DATE '1994-09-27')").await, "39");
        assert_eq!(one("SELECT DAYOFYEAR(DATE '1994-09-27')").await, "270");
        assert_eq!(one("SELECT QUARTER(DATE '1994-09-27')").await, "3");
    }

    #[tokio::test]
    async fn dates_strings_nulls_and_columns() {
        assert_eq!(one("SELECT HOUR(DATE '2024-01-05')").await, "0");
        assert_eq!(one("SELECT MONTH('2024-03-05 10:00:00')").await, "3");
        assert_eq!(one("SELECT YEAR(NULL)").await, "NULL");
        assert_eq!(one("SELECT MINUTE(CAST(NULL AS TIMESTAMP))").await, "NULL");
        let ctx = context();
        let got = column(
            &ctx,
            "SELECT DAYOFMONTH(d) FROM (VALUES (DATE '2024-01-31'), (NULL), (DATE '2024-02-29')) t(d)",
        )
        .await
        .unwrap();
        assert_eq!(got, ["31", "NULL", "29"]);
        assert_eq!(
            one("SELECT HOUR(arrow_cast('2024-01-05T10:00:00Z', 'Timestamp(Second, Some(\"+02:00\"))'))").await,
            "12"
        );
    }

    #[tokio::test]
    async fn a_comparison_with_year_compares_the_times_with_the_years_ends() {
        let ctx = context();
        let times = "(VALUES (TIMESTAMP '2017-12-31 23:59:59.999'), \
            (TIMESTAMP '2018-01-01 00:00:00'), (TIMESTAMP '2020-12-31 23:59:59.999'), \
            (TIMESTAMP '2021-01-01 00:00:00'), (NULL)) t(ts)";
        let between = format!("SELECT ts FROM {times} WHERE YEAR(ts) BETWEEN 2018 AND 2020");
        assert_eq!(
            column(&ctx, &between).await.unwrap(),
            ["2018-01-01T00:00:00", "2020-12-31T23:59:59.999"]
        );
        let not_2018 = format!("SELECT ts FROM {times} WHERE YEAR(ts) <> 2018");
        assert_eq!(column(&ctx, &not_2018).await.unwrap().len(), 3);
        // As for EXTRACT(YEAR FROM ts): no row's year is computed.
        let text = printed(&ctx, &format!("EXPLAIN {between}")).await;
        assert!(!text.to_lowercase().contains("year("), "{text}");
    }

    #[tokio::test]
    async fn errors() {
        let e = error("SELECT YEAR(42)").await;
        assert!(
            e.contains("YEAR() expects a DATE or TIMESTAMP, got Int64"),
            "{e}"
        );
        let e = error("SELECT MONTH('not a date')").await;
        assert!(e.contains("not a date"), "{e}");
    }
}
