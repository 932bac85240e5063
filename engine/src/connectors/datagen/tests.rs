//! Datagen, through its options and its source.

use crate::error::EngineError;
use crate::stream::catalog::SourceFactory;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Field, Int32Type, SchemaRef, TimeUnit,
};
use datafusion::execution::context::SessionContext;
use std::sync::Arc;
use std::time::Duration;

use super::options::*;
use super::source::*;
use super::*;
use crate::connectors::lines::test_options;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Schema, TimestampMillisecondType};

fn schema(columns: &[(&str, DataType)]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, t)| Field::new(*name, t.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

fn make(
    columns: &[(&str, DataType)],
    pairs: &[(&str, &str)],
) -> Result<Arc<dyn SourceFactory>, EngineError> {
    let mut all = vec![("connector", "datagen")];
    all.extend_from_slice(pairs);
    factory("t", schema(columns), &mut test_options(&all))
}

/// Runs a bounded source to its end and returns its rows as one batch.
async fn collect(factory: &Arc<dyn SourceFactory>) -> RecordBatch {
    let source = factory.open(&SessionContext::new()).unwrap();
    let schema = source.schema();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let task = tokio::spawn(source.run(tx));
    let mut batches = Vec::new();
    while let Some(batch) = rx.recv().await {
        batches.push(batch);
    }
    task.await.unwrap().unwrap();
    concat_batches(&schema, &batches).unwrap()
}

fn millis() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

fn all_types() -> Vec<(&'static str, DataType)> {
    vec![
        ("a", DataType::Int8),
        ("b", DataType::Int16),
        ("c", DataType::Int32),
        ("d", DataType::Int64),
        ("e", DataType::Float32),
        ("f", DataType::Float64),
        ("g", DataType::Decimal128(10, 2)),
        ("h", DataType::Boolean),
        ("i", DataType::Utf8),
        ("j", millis()),
        ("k", DataType::Date32),
        (
            "l",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ),
    ]
}

#[tokio::test]
async fn a_seed_makes_the_same_rows_twice() {
    let options = [
        ("seed", "42"),
        ("number-of-rows", "5000"),
        ("rows-per-second", "1000000"),
        ("fields.i.length", "10"),
        ("fields.i.null-rate", "0.1"),
        ("fields.c.min", "1"),
        ("fields.c.max", "100"),
        ("fields.j.start", "2024-01-01 00:00:00"),
        ("fields.j.max-past", "5 s"),
        ("fields.k.start", "2024-01-01"),
        ("fields.l.start", "2024-01-01"),
    ];
    let one = collect(&make(&all_types(), &options).unwrap()).await;
    let two = collect(&make(&all_types(), &options).unwrap()).await;
    assert_eq!(one.num_rows(), 5000);
    assert_eq!(one, two);
    let c = one.column(2).as_primitive::<Int32Type>();
    assert!(c.values().iter().all(|v| (1..=100).contains(v)));
    let i = one.column(8).as_string::<i32>();
    assert!(
        i.null_count() > 200 && i.null_count() < 800,
        "{}",
        i.null_count()
    );
    assert!(i
        .iter()
        .flatten()
        .all(|s| s.len() == 10 && s.bytes().all(|b| b.is_ascii_alphanumeric())));
    let g = one.column(6).as_primitive::<Decimal128Type>();
    assert!(g.values().iter().all(|v| (0..=9_999_999_999).contains(v)));

    let other = collect(
        &make(
            &all_types(),
            &[
                ("seed", "43"),
                ("number-of-rows", "5000"),
                ("rows-per-second", "1e9"),
            ],
        )
        .unwrap(),
    )
    .await;
    assert_ne!(one.column(3), other.column(3));
}

#[tokio::test]
async fn number_of_rows_bounds_the_source() {
    let factory = make(
        &all_types(),
        &[("number-of-rows", "70000"), ("rows-per-second", "1e9")],
    )
    .unwrap();
    assert!(factory.open(&SessionContext::new()).unwrap().is_bounded());
    assert_eq!(collect(&factory).await.num_rows(), 70000);
    let unbounded = make(&all_types(), &[]).unwrap();
    assert!(!unbounded.open(&SessionContext::new()).unwrap().is_bounded());
}

#[tokio::test]
async fn a_sequence_ends_the_source() {
    let factory = make(
        &[
            ("id", DataType::Int32),
            ("name", DataType::Utf8),
            ("price", DataType::Decimal128(5, 2)),
            ("x", DataType::Float64),
        ],
        &[
            ("fields.id.kind", "sequence"),
            ("fields.id.start", "-2"),
            ("fields.id.end", "1000"),
            ("fields.name.kind", "sequence"),
            ("fields.name.start", "10"),
            ("fields.name.end", "20"),
            ("fields.price.kind", "sequence"),
            ("fields.price.start", "1.5"),
            ("fields.price.end", "100"),
            ("fields.x.kind", "sequence"),
            ("fields.x.start", "0.5"),
            ("fields.x.end", "100"),
            ("rows-per-second", "1e9"),
        ],
    )
    .unwrap();
    assert!(factory.open(&SessionContext::new()).unwrap().is_bounded());
    let batch = collect(&factory).await;
    assert_eq!(batch.num_rows(), 11);
    let ids: Vec<i32> = batch
        .column(0)
        .as_primitive::<Int32Type>()
        .values()
        .to_vec();
    assert_eq!(ids, (-2..9).collect::<Vec<_>>());
    let names = batch.column(1).as_string::<i32>();
    assert_eq!(names.value(0), "10");
    assert_eq!(names.value(10), "20");
    let prices = batch.column(2).as_primitive::<Decimal128Type>();
    assert_eq!(prices.value(1), 250);
    assert_eq!(
        batch
            .column(3)
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .value(2),
        2.5
    );
}

#[tokio::test]
async fn timestamps_from_a_start_are_exact() {
    let factory = make(
        &[
            ("ts", millis()),
            ("day", DataType::Date32),
            ("default_step", millis()),
        ],
        &[
            ("fields.ts.start", "2024-01-01 00:00:00"),
            ("fields.ts.step", "100 ms"),
            ("fields.ts.kind", "sequence"),
            ("fields.day.start", "2024-01-01"),
            ("fields.day.step", "12 hours"),
            ("fields.default_step.start", "2024-01-01T00:00:00"),
            ("rows-per-second", "4"),
            ("number-of-rows", "6"),
        ],
    )
    .unwrap();
    let batch = collect(&factory).await;
    let ts = batch.column(0).as_primitive::<TimestampMillisecondType>();
    let start = 1_704_067_200_000i64;
    assert_eq!(
        ts.values().to_vec(),
        (0..6).map(|i| start + i * 100).collect::<Vec<_>>()
    );
    let day = batch
        .column(1)
        .as_primitive::<datafusion::arrow::datatypes::Date32Type>();
    assert_eq!(
        day.values().to_vec(),
        vec![19723, 19723, 19724, 19724, 19725, 19725]
    );
    let default_step = batch.column(2).as_primitive::<TimestampMillisecondType>();
    assert_eq!(
        default_step.values().to_vec(),
        (0..6).map(|i| start + i * 250).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn max_past_puts_rows_out_of_order() {
    let factory = make(
        &[("ts", millis())],
        &[
            ("fields.ts.start", "2024-01-01 00:00:00"),
            ("fields.ts.step", "1 ms"),
            ("fields.ts.max-past", "5 s"),
            ("seed", "7"),
            ("number-of-rows", "2000"),
            ("rows-per-second", "1e9"),
        ],
    )
    .unwrap();
    let batch = collect(&factory).await;
    let ts = batch
        .column(0)
        .as_primitive::<TimestampMillisecondType>()
        .values()
        .to_vec();
    let start = 1_704_067_200_000i64;
    let mut out_of_order = 0;
    for (i, t) in ts.iter().enumerate() {
        let clock = start + i as i64;
        assert!((clock - 5000..=clock).contains(t), "row {i}: {t}");
        if i > 0 && *t < ts[i - 1] {
            out_of_order += 1;
        }
    }
    assert!(out_of_order > 500, "{out_of_order}");
}

#[tokio::test]
async fn the_wall_clock_is_used_without_a_start() {
    let before = wall_clock_nanos() / 1_000_000;
    let factory = make(
        &[("ts", millis())],
        &[("number-of-rows", "10"), ("rows-per-second", "1e9")],
    )
    .unwrap();
    let batch = collect(&factory).await;
    let after = wall_clock_nanos() / 1_000_000;
    let ts = batch.column(0).as_primitive::<TimestampMillisecondType>();
    assert!(ts.values().iter().all(|t| (before..=after).contains(t)));
}

#[tokio::test]
async fn rows_are_paced_by_the_rate() {
    let factory = make(
        &[("id", DataType::Int64)],
        &[("rows-per-second", "200"), ("number-of-rows", "40")],
    )
    .unwrap();
    let started = std::time::Instant::now();
    let batch = collect(&factory).await;
    let elapsed = started.elapsed();
    assert_eq!(batch.num_rows(), 40);
    assert!(elapsed >= Duration::from_millis(180), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn the_source_stops_when_the_query_drops_it() {
    let factory = make(&[("id", DataType::Int64)], &[("rows-per-second", "1")]).unwrap();
    let source = factory.open(&SessionContext::new()).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let task = tokio::spawn(source.run(tx));
    assert_eq!(rx.recv().await.unwrap().num_rows(), 1);
    drop(rx);
    let stopped = tokio::time::timeout(Duration::from_millis(100), task).await;
    assert!(stopped.unwrap().unwrap().is_ok());
}

#[test]
fn bad_options_are_errors_that_say_what_is_allowed() {
    let columns = [
        ("id", DataType::Int8),
        ("ts", millis()),
        ("name", DataType::Utf8),
    ];
    let hint = |pairs: &[(&str, &str)]| {
        let error = make(&columns, pairs).err().expect("an error");
        format!("{error} / {}", error.hint().unwrap_or(""))
    };
    let message = hint(&[("fields.nope.min", "1")]);
    assert!(
        message.contains("fields.nope.min") && message.contains("id, ts, name"),
        "{message}"
    );
    let message = hint(&[("fields.id.length", "1")]);
    assert!(message.contains("min, max"), "{message}");
    let message = hint(&[("fields.id.min", "-300")]);
    assert!(message.contains("-128 to 127"), "{message}");
    let message = hint(&[("fields.id.min", "5"), ("fields.id.max", "1")]);
    assert!(message.contains("above"), "{message}");
    let message = hint(&[("fields.id.kind", "sequence"), ("fields.id.start", "1")]);
    assert!(message.contains("fields.id.end"), "{message}");
    let message = hint(&[("fields.id.start", "1")]);
    assert!(message.contains("sequence"), "{message}");
    let message = hint(&[
        ("fields.ts.step", "1 parsec"),
        ("fields.ts.start", "2024-01-01"),
    ]);
    assert!(message.contains("duration"), "{message}");
    let message = hint(&[("fields.ts.start", "yesterday")]);
    assert!(message.contains("2024-01-01 00:00:00"), "{message}");
    let message = hint(&[("fields.name.null-rate", "2")]);
    assert!(message.contains("0 to 1"), "{message}");
    let message = hint(&[("rows-per-second", "fast")]);
    assert!(message.contains("rows-per-second"), "{message}");
    let message = hint(&[("speed", "1")]);
    assert!(
        message.contains("'speed'") && message.contains("rows-per-second"),
        "{message}"
    );
    let error = make(&[("b", DataType::Binary)], &[]).err().unwrap();
    assert!(error.to_string().contains("column b"));
}

#[test]
fn decimals_parse() {
    assert_eq!(parse_decimal("-12.5", 2), Some(-1250));
    assert_eq!(parse_decimal("3", 2), Some(300));
    assert_eq!(parse_decimal("1.234", 2), None);
    assert_eq!(parse_decimal("1e3", 2), None);
}

/// The rate of the benchmark's source: `cargo test --release -p eddy-engine --lib
/// datagen -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let columns = [
        ("id", DataType::Int32),
        ("name", DataType::Utf8),
        ("ts", millis()),
    ];
    let mut options = test_options(&[
        ("connector", "datagen"),
        ("rows-per-second", "1e9"),
        ("fields.name.length", "10"),
    ]);
    let plan = plan("t", schema(&columns), &mut options).unwrap();
    let mut source = DatagenSource::new(Arc::new(plan)).unwrap();
    let started = std::time::Instant::now();
    let mut rows = 0u64;
    while started.elapsed() < Duration::from_secs(2) {
        rows += source.batch(rows, FAST_BATCH).unwrap().num_rows() as u64;
    }
    let rate = rows as f64 / started.elapsed().as_secs_f64();
    println!(
        "datagen (INT, STRING(10), TIMESTAMP(3)): {:.1} million rows/s",
        rate / 1e6
    );
}
