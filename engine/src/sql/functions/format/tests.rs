//! The date and time functions with Java patterns, through SQL.

use crate::sql::functions::test_util::{column, context, data_type, error, one};
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
        one("SELECT UNIX_TIMESTAMP('2024-01-05 12:11:12 +02:00', 'yyyy-MM-dd HH:mm:ss XXX')").await,
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
