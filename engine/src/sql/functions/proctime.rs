//! `PROCTIME()`: the processing time, the wall clock when the row is computed. Flink declares
//! it as a computed column (`pt AS PROCTIME()`) or selects it in a view, and windows and
//! lookups run on it. Unlike `now()`, which DataFusion fixes once per statement, it is read
//! for every batch: a continuous query's rows get the time they went through.
//!
//! Its type is `TIMESTAMP(3)` on the UTC clock, as event times here are (Flink's is
//! `TIMESTAMP_LTZ(3)`, shown in the session's time zone).

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::logical_expr::{create_udf, ColumnarValue, ScalarUDF, Volatility};
use datafusion::scalar::ScalarValue;
use std::sync::Arc;

pub(crate) fn functions() -> Vec<ScalarUDF> {
    let proctime = create_udf(
        "proctime",
        vec![],
        DataType::Timestamp(TimeUnit::Millisecond, None),
        // Volatile: read when it runs, never folded into a constant while planning.
        Volatility::Volatile,
        Arc::new(|_args: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::TimestampMillisecond(
                Some(now_millis()),
                None,
            )))
        }),
    );
    vec![proctime]
}

/// Milliseconds since the epoch, by the system clock.
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{data_type, one};
    use super::now_millis;

    #[tokio::test]
    async fn proctime_is_the_clock_now_in_milliseconds() {
        let before = now_millis();
        let value = one("SELECT PROCTIME()").await;
        let after = now_millis();
        let read = chrono::NaiveDateTime::parse_from_str(&value, "%Y-%m-%dT%H:%M:%S%.f")
            .unwrap_or_else(|e| panic!("{value}: {e}"))
            .and_utc()
            .timestamp_millis();
        assert!(before <= read && read <= after, "{value}");
        assert_eq!(
            data_type("SELECT PROCTIME()").await,
            datafusion::arrow::datatypes::DataType::Timestamp(
                datafusion::arrow::datatypes::TimeUnit::Millisecond,
                None
            )
        );
    }
}
