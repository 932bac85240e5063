//! Continuous queries end to end through the engine, over bounded inputs so that they
//! finish: windows over an ordinary table read as a stream.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use eddy_engine::{Engine, EngineConfig, StatementResult, StreamEnd, StreamKind, StreamUpdate};

async fn engine_with_clicks() -> Engine {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    run_done(
        &engine,
        "CREATE TABLE clicks AS SELECT * FROM (VALUES \
           ('ann', TIMESTAMP '2024-01-01 00:00:05'), \
           ('bob', TIMESTAMP '2024-01-01 00:00:15'), \
           ('ann', TIMESTAMP '2024-01-01 00:00:59'), \
           ('ann', TIMESTAMP '2024-01-01 00:01:10'), \
           ('bob', TIMESTAMP '2024-01-01 00:03:00')) AS t(name, ts)",
    )
    .await;
    engine
}

async fn run_done(engine: &Engine, sql: &str) {
    for statement in engine.parse(sql).unwrap() {
        match engine.run(statement, 100).await.unwrap() {
            StatementResult::Done { .. } | StatementResult::Rows(_) => {}
            StatementResult::Stream(_) => panic!("{sql} started a stream"),
        }
    }
}

/// Runs a continuous query to its end; returns its kind and every update's rows, printed.
async fn run_stream(engine: &Engine, sql: &str) -> (StreamKind, Vec<String>) {
    let statement = engine.parse(sql).unwrap().remove(0);
    let StatementResult::Stream(mut query) = engine.run(statement, 100).await.unwrap() else {
        panic!("{sql} did not start a stream");
    };
    let kind = query.kind().clone();
    let mut printed = Vec::new();
    while let Some(update) = query.next_update().await {
        let batches: Vec<RecordBatch> = match update {
            StreamUpdate::Rows(rows) => rows,
            StreamUpdate::Snapshot { rows, .. } => rows,
            StreamUpdate::Written { .. }
            | StreamUpdate::Discarded { .. }
            | StreamUpdate::Produced { .. }
            | StreamUpdate::Printed { .. }
            | StreamUpdate::Into { .. } => continue,
        };
        printed.push(pretty_format_batches(&batches).unwrap().to_string());
    }
    assert_eq!(query.finish().await.unwrap(), StreamEnd::Finished);
    (kind, printed)
}

#[tokio::test]
async fn tumbling_window_counts_per_minute() {
    let engine = engine_with_clicks().await;
    let (kind, updates) = run_stream(
        &engine,
        "SELECT window_start, window_end, COUNT(*) AS clicks \
         FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) \
         GROUP BY window_start, window_end ORDER BY window_start",
    )
    .await;
    assert_eq!(kind, StreamKind::Append);
    assert_eq!(
        updates.join("\n"),
        "+---------------------+---------------------+--------+\n\
         | window_start        | window_end          | clicks |\n\
         +---------------------+---------------------+--------+\n\
         | 2024-01-01T00:00:00 | 2024-01-01T00:01:00 | 3      |\n\
         | 2024-01-01T00:01:00 | 2024-01-01T00:02:00 | 1      |\n\
         | 2024-01-01T00:03:00 | 2024-01-01T00:04:00 | 1      |\n\
         +---------------------+---------------------+--------+"
    );
}

#[tokio::test]
async fn hop_and_session_windows() {
    let engine = engine_with_clicks().await;
    let (_, hop) = run_stream(
        &engine,
        "SELECT window_start, COUNT(*) AS n \
         FROM TABLE(HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE)) \
         GROUP BY window_start, window_end ORDER BY window_start",
    )
    .await;
    let hop = hop.join("\n");
    assert!(hop.contains("| 2023-12-31T23:59:00 | 3 |"), "{hop}");
    assert!(hop.contains("| 2024-01-01T00:00:00 | 4 |"), "{hop}");
    let (_, session) = run_stream(
        &engine,
        "SELECT name, window_start, window_end, COUNT(*) AS n \
         FROM TABLE(SESSION(TABLE clicks PARTITION BY name, DESCRIPTOR(ts), INTERVAL '30' SECOND)) \
         GROUP BY name, window_start, window_end ORDER BY name, window_start",
    )
    .await;
    let session = session.join("\n");
    assert!(
        session.contains("| ann  | 2024-01-01T00:00:59 | 2024-01-01T00:01:40 | 2 |"),
        "{session}"
    );
    assert!(
        session.contains("| ann  | 2024-01-01T00:00:05 | 2024-01-01T00:00:35 | 1 |"),
        "{session}"
    );
}

#[tokio::test]
async fn group_by_without_windows_is_an_updating_result() {
    let engine = engine_with_clicks().await;
    let (kind, updates) = run_stream(
        &engine,
        "SELECT name, COUNT(*) AS n, window_start IS NOT NULL AS w \
         FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY name, \
         window_start IS NOT NULL ORDER BY name",
    )
    .await;
    assert_eq!(
        kind,
        StreamKind::Updating {
            key: vec!["name".into()]
        }
    );
    let last = updates.last().unwrap();
    assert!(last.contains("| ann  | 3 | true |"), "{last}");
    assert!(last.contains("| bob  | 2 | true |"), "{last}");
}

#[tokio::test]
async fn a_window_needs_a_timestamp_column() {
    let engine = engine_with_clicks().await;
    let statement = engine
        .parse("SELECT * FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(name), INTERVAL '1' MINUTE))")
        .unwrap()
        .remove(0);
    let error = engine.run(statement, 10).await.unwrap_err();
    assert!(error.to_string().contains("TIMESTAMP"), "{error}");
}

#[tokio::test]
async fn cache_table_may_be_followed_by_more_statements() {
    let engine = engine_with_clicks().await;
    let statements = engine
        .parse("CACHE TABLE clicks;\nSELECT COUNT(*) FROM clicks;\nSELECT 1")
        .unwrap();
    assert_eq!(statements.len(), 3);
    let error = engine.parse("SELECT 1;\nSELEC 2").unwrap_err();
    assert_eq!(error.position().map(|p| p.line), Some(2), "{error}");
}

#[tokio::test]
async fn a_hop_with_too_many_windows_per_row_is_refused() {
    let engine = engine_with_clicks().await;
    let statement = engine
        .parse(
            "SELECT * FROM TABLE(HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND, \
             INTERVAL '1' DAY))",
        )
        .unwrap()
        .remove(0);
    let error = engine.run(statement, 10).await.unwrap_err();
    assert!(error.to_string().contains("86400 windows"), "{error}");
}

/// `CURRENT_WATERMARK(ts)` is the watermark the query had when a row's micro-batch arrived:
/// NULL in the first, then the latest event time seen before (the watermark trails it by
/// nothing here), so always behind the rows it goes with. 40 rows at 100 a second make
/// several micro-batches of 50 ms.
#[tokio::test]
async fn current_watermark_is_the_watermark_before_each_micro_batch() {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::TimestampMillisecondType;
    let engine = Engine::new(EngineConfig::default()).unwrap();
    run_done(
        &engine,
        "CREATE TABLE events (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH (
           'connector' = 'datagen', 'rows-per-second' = '100', 'number-of-rows' = '40',
           'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '40',
           'fields.ts.kind' = 'sequence', 'fields.ts.start' = '2024-01-01 00:00:00',
           'fields.ts.step' = '1 s')",
    )
    .await;
    let statement = engine
        .parse("SELECT id, ts, CURRENT_WATERMARK(ts) AS wm FROM events")
        .unwrap()
        .remove(0);
    let StatementResult::Stream(mut query) = engine.run(statement, 100).await.unwrap() else {
        panic!("not a stream");
    };
    let (mut rows, mut with_watermark) = (0, 0);
    let mut last_watermark = i64::MIN;
    while let Some(update) = query.next_update().await {
        let StreamUpdate::Rows(batches) = update else {
            continue;
        };
        for batch in batches {
            let ts = batch.column(1).as_primitive::<TimestampMillisecondType>();
            let wm = batch.column(2).as_primitive::<TimestampMillisecondType>();
            for i in 0..batch.num_rows() {
                rows += 1;
                if wm.is_null(i) {
                    assert_eq!(with_watermark, 0, "a NULL watermark after a real one");
                    continue;
                }
                with_watermark += 1;
                assert!(
                    wm.value(i) < ts.value(i),
                    "row {i}: {} ≥ {}",
                    wm.value(i),
                    ts.value(i)
                );
                assert!(wm.value(i) >= last_watermark, "the watermark went back");
                last_watermark = wm.value(i);
            }
        }
    }
    assert_eq!(query.finish().await.unwrap(), StreamEnd::Finished);
    assert_eq!(rows, 40);
    assert!(
        with_watermark > 0,
        "every row came in the first micro-batch"
    );
}
