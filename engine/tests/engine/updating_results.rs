//! Results over a stream worked out key by key: an updating GROUP BY, a Top-N, a join of
//! two streams, an aggregate over an aggregate and a LEFT join, over many micro-batches, with keys leaving and coming back through HAVING,
//! results that repeat, rows that drop out of the first ranks and rows that meet rows of
//! other micro-batches. Each updating result's changelog replayed from empty gives its last
//! snapshot, and each result equals the answer computed from the stream's rows.

use crate::printed::texts;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int32Type;
use eddy_engine::{Engine, EngineConfig, StatementResult, StreamEnd, StreamUpdate};
use std::collections::BTreeMap;
use std::time::Duration;

/// 6,000 rows of 300 keys, 12,000 a second: about ten micro-batches of 50 ms, and several
/// snapshots at the 100 ms the test asks for. Values from -5 to 5, so a key's sum goes up
/// and down across zero.
const EVENTS: &str = "CREATE TABLE events (k INT, v INT) WITH ('connector' = 'datagen', \
    'seed' = '42', 'number-of-rows' = '6000', 'rows-per-second' = '12000', \
    'fields.k.min' = '1', 'fields.k.max' = '300', 'fields.v.min' = '-5', 'fields.v.max' = '5')";

async fn engine() -> Engine {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let statement = engine.parse(EVENTS).unwrap().remove(0);
    assert!(matches!(
        engine.run(statement, 10).await.unwrap(),
        StatementResult::Done { .. }
    ));
    engine
}

/// Runs statements that declare tables and views, or set settings.
async fn declare(engine: &Engine, statements: &[&str]) {
    for sql in statements {
        let statement = engine.parse(sql).unwrap().remove(0);
        engine.run(statement, 10).await.unwrap();
    }
}

/// What a continuous query sent: each snapshot and every change, as rows of text.
struct Run {
    /// Keys (or kept rows) the query held when it ended.
    state_keys: u64,
    snapshots: usize,
    last: Vec<String>,
    changes: Vec<(String, String)>,
    rows: Vec<RecordBatch>,
}

async fn run(engine: &Engine, sql: &str) -> Run {
    let statement = engine.parse(sql).unwrap().remove(0);
    let StatementResult::Stream(mut query) = engine.run(statement, 100).await.unwrap() else {
        panic!("{sql} did not start a stream");
    };
    query.set_emit_interval(Duration::from_millis(100));
    let mut out = Run {
        state_keys: 0,
        snapshots: 0,
        last: Vec::new(),
        changes: Vec::new(),
        rows: Vec::new(),
    };
    while let Some(update) = query.next_update().await {
        match update {
            StreamUpdate::Snapshot { rows, changes } => {
                out.snapshots += 1;
                out.last = rows.iter().flat_map(|b| texts(b, 0)).collect();
                let ops = changes.column(0).as_string::<i32>().clone();
                for (i, row) in texts(&changes, 1).into_iter().enumerate() {
                    out.changes.push((ops.value(i).to_string(), row));
                }
            }
            StreamUpdate::Rows(rows) => out.rows.extend(rows),
            _ => {}
        }
    }
    out.state_keys = query.figures().state_keys;
    assert_eq!(query.finish().await.unwrap(), StreamEnd::Finished);
    out.last.sort();
    out
}

/// The rows a changelog leaves when applied from empty; a retraction of a row not there
/// fails the test.
fn replay(changes: &[(String, String)]) -> Vec<String> {
    let mut rows: BTreeMap<&str, usize> = BTreeMap::new();
    for (op, row) in changes {
        match op.as_str() {
            "+I" | "+U" => *rows.entry(row).or_default() += 1,
            "-U" | "-D" => {
                let count = rows.get_mut(row.as_str());
                let count = count.unwrap_or_else(|| panic!("{op} {row}: not in the result"));
                *count -= 1;
                if *count == 0 {
                    rows.remove(row.as_str());
                }
            }
            other => panic!("unknown change {other}"),
        }
    }
    rows.into_iter()
        .flat_map(|(row, n)| std::iter::repeat_n(row.to_string(), n))
        .collect()
}

/// The values of `v` per `k`, from the stream's own rows.
async fn values_by_key(engine: &Engine) -> BTreeMap<i32, Vec<i32>> {
    let rows = run(engine, "SELECT k, v FROM events").await.rows;
    let mut by_key: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for batch in &rows {
        let k = batch.column(0).as_primitive::<Int32Type>();
        let v = batch.column(1).as_primitive::<Int32Type>();
        for i in 0..batch.num_rows() {
            by_key.entry(k.value(i)).or_default().push(v.value(i));
        }
    }
    assert_eq!(by_key.values().map(Vec::len).sum::<usize>(), 6_000);
    by_key
}

/// Count and sum of `v` per `k`, from the stream's own rows.
async fn sums_by_key(engine: &Engine) -> BTreeMap<i32, (i64, i64)> {
    values_by_key(engine)
        .await
        .into_iter()
        .map(|(k, vs)| (k, (vs.len() as i64, vs.iter().map(|&v| i64::from(v)).sum())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_leaving_and_coming_back_through_having_replay_to_the_batch_answer() {
    let engine = engine().await;
    let expected: Vec<String> = {
        let mut rows: Vec<String> = sums_by_key(&engine)
            .await
            .into_iter()
            .filter(|(_, (_, sum))| *sum > 0)
            .map(|(k, (n, sum))| format!("{k}|{n}|{sum}"))
            .collect();
        rows.sort();
        rows
    };
    let run = run(
        &engine,
        "SELECT k, COUNT(*) AS n, SUM(v) AS total FROM events GROUP BY k HAVING SUM(v) > 0",
    )
    .await;
    assert!(run.snapshots >= 3, "{} snapshots", run.snapshots);
    assert_eq!(run.last, expected);
    assert_eq!(replay(&run.changes), expected);
    // Keys left the result (their sum fell to zero or below) and came back.
    assert!(run.changes.iter().any(|(op, _)| op == "-D"));
    assert!(run.changes.iter().any(|(op, _)| op == "-U"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_counts_kept_live_by_key_replay_to_the_batch_answer() {
    let engine = engine().await;
    let expected: Vec<String> = {
        let mut rows: Vec<String> = values_by_key(&engine)
            .await
            .into_iter()
            .map(|(k, vs)| {
                let distinct: std::collections::BTreeSet<i32> = vs.iter().copied().collect();
                let positive = distinct.iter().filter(|&&v| v > 0).count();
                let sum: i64 = distinct.iter().map(|&v| i64::from(v)).sum();
                (k, distinct.len(), positive, sum, vs.len())
            })
            .filter(|&(_, _, positive, _, _)| positive > 3)
            .map(|(k, d, p, s, n)| format!("{k}|{d}|{p}|{s}|{n}"))
            .collect();
        rows.sort();
        rows
    };
    // Keys come into the result as their fourth positive value shows up, and their counts
    // change tick after tick.
    let run = run(
        &engine,
        "SELECT k, COUNT(DISTINCT v) AS d, COUNT(DISTINCT v) FILTER (WHERE v > 0) AS p, \
         SUM(DISTINCT v) AS s, COUNT(*) AS n FROM events GROUP BY k \
         HAVING COUNT(DISTINCT v) FILTER (WHERE v > 0) > 3",
    )
    .await;
    assert!(run.snapshots >= 3, "{} snapshots", run.snapshots);
    assert_eq!(run.last, expected);
    assert_eq!(replay(&run.changes), expected);
    assert!(run.changes.iter().any(|(op, _)| op == "-U"));
    assert_eq!(run.state_keys, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_without_their_key_are_kept_as_a_multiset() {
    let engine = engine().await;
    let mut expected: Vec<String> = sums_by_key(&engine)
        .await
        .values()
        .map(|(n, _)| n.to_string())
        .collect();
    expected.sort();
    // Many keys have the same count: the result holds the same row many times over.
    let run = run(&engine, "SELECT COUNT(*) AS n FROM events GROUP BY k").await;
    assert_eq!(run.last.len(), 300);
    assert_eq!(run.last, expected);
    assert_eq!(replay(&run.changes), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_top_n_replays_to_the_first_ranks_of_every_key() {
    let engine = engine().await;
    let mut expected: Vec<String> = values_by_key(&engine)
        .await
        .into_iter()
        .flat_map(|(k, mut vs)| {
            vs.sort_by(|a, b| b.cmp(a));
            vs.into_iter()
                .take(3)
                .enumerate()
                .map(move |(rank, v)| format!("{k}|{v}|{}", rank + 1))
        })
        .collect();
    expected.sort();
    let run = run(
        &engine,
        "SELECT k, v, rn FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) \
         AS rn FROM events) WHERE rn <= 3",
    )
    .await;
    assert!(run.snapshots >= 3, "{} snapshots", run.snapshots);
    assert_eq!(run.last.len(), 900);
    assert_eq!(run.last, expected);
    assert_eq!(replay(&run.changes), expected);
    // A rank got another row (-U/+U on the same key and rank) as higher values came.
    assert!(run.changes.iter().any(|(op, _)| op == "-U"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_of_two_views_meets_rows_across_micro_batches_as_a_batch_join_does() {
    let engine = engine().await;
    declare(
        &engine,
        &[
            "CREATE VIEW lows AS SELECT k, v FROM events WHERE v < 0",
            "CREATE VIEW highs AS SELECT k, v FROM events WHERE v > 3",
        ],
    )
    .await;
    // Every low value of a key with every high value of the same key, from the stream's rows.
    let mut expected: Vec<String> = values_by_key(&engine)
        .await
        .into_iter()
        .flat_map(|(k, vs)| {
            let lows: Vec<i32> = vs.iter().copied().filter(|v| *v < 0).collect();
            let highs: Vec<i32> = vs.iter().copied().filter(|v| *v > 3).collect();
            lows.into_iter()
                .flat_map(move |l| {
                    highs
                        .clone()
                        .into_iter()
                        .map(move |h| format!("{k}|{l}|{h}"))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    expected.sort();
    assert!(expected.len() > 6_000, "{} pairs", expected.len());
    let run = run(
        &engine,
        "SELECT l.k, l.v, h.v FROM lows l JOIN highs h ON l.k = h.k",
    )
    .await;
    let mut got: Vec<String> = run.rows.iter().flat_map(|b| texts(b, 0)).collect();
    got.sort();
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aggregate_over_an_updating_aggregate_takes_back_each_old_row() {
    let engine = engine().await;
    let sums = sums_by_key(&engine).await;
    // How many keys have each count: a count's row goes when its last key moves past it.
    let mut histogram: BTreeMap<i64, usize> = BTreeMap::new();
    for (n, _) in sums.values() {
        *histogram.entry(*n).or_default() += 1;
    }
    let mut expected: Vec<String> = histogram
        .iter()
        .map(|(n, keys)| format!("{n}|{keys}"))
        .collect();
    expected.sort();
    let run = run(
        &engine,
        "SELECT n, COUNT(*) AS keys FROM (SELECT k, COUNT(*) AS n FROM events GROUP BY k) \
         GROUP BY n",
    )
    .await;
    assert!(run.snapshots >= 3, "{} snapshots", run.snapshots);
    assert_eq!(run.last, expected);
    assert_eq!(replay(&run.changes), expected);
    assert!(run.changes.iter().any(|(op, _)| op == "-D"));
    // Sums go up and down: the largest and smallest are worked out again when one is
    // retracted (MIN and MAX over each value's count, not DataFusion's sliding retraction).
    let totals: Vec<i64> = sums.values().map(|(_, sum)| *sum).collect();
    let extremes = format!(
        "{}|{}",
        totals.iter().max().unwrap(),
        totals.iter().min().unwrap()
    );
    let run = run_extremes(&engine).await;
    assert_eq!(run.last, vec![extremes.clone()]);
    assert_eq!(replay(&run.changes), vec![extremes]);
}

async fn run_extremes(engine: &Engine) -> Run {
    run(
        engine,
        "SELECT MAX(total), MIN(total) FROM (SELECT k, SUM(v) AS total FROM events GROUP BY k)",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_left_join_retracts_each_padded_row_when_its_first_match_comes() {
    let engine = engine().await;
    declare(
        &engine,
        &[
            "CREATE VIEW lows AS SELECT k, v FROM events WHERE v = -5",
            "CREATE VIEW tops AS SELECT k, v FROM events WHERE v = 5",
        ],
    )
    .await;
    // Each -5 of a key with each 5 of the same key, or with NULL when the key has none.
    let mut expected: Vec<String> = values_by_key(&engine)
        .await
        .into_iter()
        .flat_map(|(k, vs)| {
            let lows = vs.iter().filter(|v| **v == -5).count();
            let tops = vs.iter().filter(|v| **v == 5).count();
            let pairs = match tops {
                0 => vec![format!("{k}|-5|")],
                n => vec![format!("{k}|-5|5"); n],
            };
            std::iter::repeat_n(pairs, lows)
                .flatten()
                .collect::<Vec<_>>()
        })
        .collect();
    expected.sort();
    let run = run(
        &engine,
        "SELECT l.k, l.v, t.v FROM lows l LEFT JOIN tops t ON l.k = t.k",
    )
    .await;
    assert!(run.snapshots >= 3, "{} snapshots", run.snapshots);
    assert!(
        expected.iter().any(|row| row.ends_with('|')),
        "no padded rows"
    );
    assert_eq!(run.last, expected);
    assert_eq!(replay(&run.changes), expected);
    // Padded rows went out and were taken back.
    assert!(run.changes.iter().any(|(op, _)| op == "-D"));
}

/// 40 rows at 10 a second: key 1 has rows 1 to 3 (the first 0.3 s), then none until rows 38
/// to 40 (after 3.7 s); key 2 has the rows between. The gap is long enough that a runner
/// slowed by a busy machine still sees key 1 idle for longer than the TTL below.
const COMEBACK: &str = "CREATE TABLE comeback (id BIGINT) WITH ('connector' = 'datagen', \
    'number-of-rows' = '40', 'rows-per-second' = '10', 'fields.id.kind' = 'sequence', \
    'fields.id.start' = '1', 'fields.id.end' = '40')";
const BY_COMEBACK: &str = "SELECT CASE WHEN id <= 3 OR id > 37 THEN 1 ELSE 2 END AS k, \
    COUNT(*) AS n FROM comeback GROUP BY CASE WHEN id <= 3 OR id > 37 THEN 1 ELSE 2 END";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_ttl_drops_a_key_idle_for_longer_and_it_starts_afresh() {
    let engine = engine().await;
    declare(&engine, &[COMEBACK]).await;
    // Without a TTL, key 1 counts all its rows.
    let kept = run(&engine, BY_COMEBACK).await;
    assert_eq!(kept.last, vec!["1|6", "2|34"]);
    // With one shorter than key 1's idle time, its state is dropped and it counts afresh
    // when it comes back: as in Flink, a new row for it (+I), the old one left as shown.
    declare(&engine, &["SET 'table.exec.state.ttl' = '500 ms'"]).await;
    let expired = run(&engine, BY_COMEBACK).await;
    assert!(
        expired.last.contains(&"1|3".to_string()),
        "{:?}",
        expired.last
    );
    assert!(
        expired.last.contains(&"2|34".to_string()),
        "{:?}",
        expired.last
    );
    assert!(
        !expired.last.contains(&"1|6".to_string()),
        "{:?}",
        expired.last
    );
    // The same with distinct counts, whose accumulators are kept live: key 1's set is
    // dropped as well, and its three later ids are counted afresh.
    let distinct = BY_COMEBACK.replace("COUNT(*)", "COUNT(DISTINCT id)");
    let expired = run(&engine, &distinct).await;
    assert!(
        expired.last.contains(&"1|3".to_string()) && !expired.last.contains(&"1|6".to_string()),
        "{:?}",
        expired.last
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_top_n_emits_each_window_once_when_it_closes() {
    let engine = engine().await;
    // 200 rows, one every 100 ms of event time, 400 a second: twenty 1-second windows
    // close over many micro-batches.
    let table = "CREATE TABLE ticks (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH \
        ('connector' = 'datagen', 'number-of-rows' = '200', 'rows-per-second' = '400', \
        'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '200', \
        'fields.ts.kind' = 'sequence', 'fields.ts.start' = '2024-01-01 00:00:00', \
        'fields.ts.step' = '100 ms')";
    declare(&engine, &[table]).await;
    let run = run(
        &engine,
        "SELECT id, rn FROM (SELECT window_start, window_end, id, ROW_NUMBER() OVER \
         (PARTITION BY window_start, window_end ORDER BY id DESC) AS rn FROM \
         TABLE(TUMBLE(TABLE ticks, DESCRIPTOR(ts), INTERVAL '1' SECOND))) WHERE rn <= 2",
    )
    .await;
    // Appended rows only, no updates: the last two ids of each second, once each.
    assert_eq!(run.snapshots, 0);
    let mut got: Vec<String> = run.rows.iter().flat_map(|b| texts(b, 0)).collect();
    got.sort();
    let mut expected: Vec<String> = (1..=20)
        .flat_map(|second| {
            [
                format!("{}|1", second * 10),
                format!("{}|2", second * 10 - 1),
            ]
        })
        .collect();
    expected.sort();
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interval_join_drops_the_rows_the_watermark_has_passed() {
    let engine = engine().await;
    declare(
        &engine,
        &[
            "CREATE TABLE timed (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH \
             ('connector' = 'datagen', 'number-of-rows' = '120', 'rows-per-second' = '400', \
             'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '120', \
             'fields.ts.kind' = 'sequence', 'fields.ts.start' = '2024-01-01 00:00:00', \
             'fields.ts.step' = '1 s')",
            "CREATE VIEW orders AS SELECT id, id % 4 AS k, ts FROM timed WHERE id % 3 = 0",
            "CREATE VIEW shipments AS SELECT id AS sid, id % 4 AS k, ts AS shipped FROM timed \
             WHERE id % 3 = 1",
        ],
    )
    .await;
    // The same rows met, with and without bounds on the event times: a regular join keeps
    // all 80 rows of its sides; the interval join none once the stream has ended.
    let regular = run(
        &engine,
        "SELECT o.id, s.sid FROM orders o JOIN shipments s ON o.k = s.k \
         WHERE s.sid BETWEEN o.id AND o.id + 10",
    )
    .await;
    let interval = run(
        &engine,
        "SELECT o.id, s.sid FROM orders o JOIN shipments s ON o.k = s.k \
         AND s.shipped BETWEEN o.ts AND o.ts + INTERVAL '10' SECOND",
    )
    .await;
    let rows = |run: &Run| {
        let mut rows: Vec<String> = run.rows.iter().flat_map(|b| texts(b, 0)).collect();
        rows.sort();
        rows
    };
    assert_eq!(rows(&regular).len(), 38);
    assert_eq!(rows(&interval), rows(&regular));
    assert_eq!(regular.state_keys, 80);
    assert_eq!(interval.state_keys, 0);
}

/// 100,000 rows of 200 characters, in sessions that do not close before the end, run under
/// an 8 MB memory limit: the session windows' rows wait until then.
async fn sessions_under_a_small_memory_limit(columns: &str) -> Result<(), String> {
    let engine = Engine::new(EngineConfig {
        memory_limit: Some(8 << 20),
        ..EngineConfig::default()
    })
    .unwrap();
    let table = "CREATE TABLE wide (k INT, pad STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) \
        WITH ('connector' = 'datagen', 'number-of-rows' = '100000', \
        'rows-per-second' = '1000000000', 'fields.k.min' = '1', 'fields.k.max' = '3', \
        'fields.pad.length' = '200', 'fields.ts.kind' = 'sequence', \
        'fields.ts.start' = '2024-01-01 00:00:00', 'fields.ts.step' = '1 ms')";
    declare(&engine, &[table]).await;
    let statement = engine
        .parse(&format!(
            "SELECT k, {columns} FROM TABLE(SESSION(TABLE wide PARTITION BY k, \
             DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY k, window_start, window_end"
        ))
        .unwrap()
        .remove(0);
    let StatementResult::Stream(mut query) = engine.run(statement, 100).await.unwrap() else {
        panic!("the session windows did not start a stream");
    };
    while query.next_update().await.is_some() {}
    query.finish().await.map(|_| ()).map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_past_the_memory_limit_fails_the_query_naming_what_holds_it() {
    // The query reads `pad`: about 20 MB of it waits in the sessions.
    let error = sessions_under_a_small_memory_limit("COUNT(*), MAX(pad)")
        .await
        .unwrap_err();
    assert!(
        error.contains("the rows of open session windows") && error.contains("memory limit"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_windows_keep_only_the_columns_the_query_reads() {
    // Without `pad`, the waiting rows are a key and a time each: well within the limit.
    sessions_under_a_small_memory_limit("COUNT(*)")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distinct_set_past_the_memory_limit_fails_the_query_naming_the_group_by() {
    // Two million distinct ids, a million a second (a tick's rows fit the limit many
    // times over): the one group's live set passes the limit after half a million or so.
    let engine = Engine::new(EngineConfig {
        memory_limit: Some(8 << 20),
        ..EngineConfig::default()
    })
    .unwrap();
    declare(
        &engine,
        &[
            "CREATE TABLE ids (id BIGINT) WITH ('connector' = 'datagen', \
           'number-of-rows' = '2000000', 'rows-per-second' = '1000000', \
           'fields.id.kind' = 'sequence', 'fields.id.start' = '1', \
           'fields.id.end' = '2000000')",
        ],
    )
    .await;
    let statement = engine
        .parse("SELECT COUNT(DISTINCT id) FROM ids")
        .unwrap()
        .remove(0);
    let StatementResult::Stream(mut query) = engine.run(statement, 100).await.unwrap() else {
        panic!("the distinct count did not start a stream");
    };
    while query.next_update().await.is_some() {}
    let error = query.finish().await.unwrap_err().to_string();
    assert!(
        error.contains("the GROUP BY's state") && error.contains("memory limit"),
        "{error}"
    );
}
