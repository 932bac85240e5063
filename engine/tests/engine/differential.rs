//! The streaming answer against the batch answer, over generated inputs: for several seeds, a
//! stream of rows whose keys, values and event times come from the seed — event times out of
//! order within the watermark's bound, rows arriving over many micro-batches — and, for each
//! operator, the final result of the continuous query (its changelog replayed from empty, or
//! its appended rows) must be the result of the same question asked as a batch query of the
//! same rows. This is the oracle for retractions, kept state and the watermark.

use crate::printed::texts;
use datafusion::arrow::array::AsArray;
use eddy_engine::{Engine, EngineConfig, StatementResult, StreamEnd, StreamUpdate};
use std::collections::BTreeMap;
use std::time::Duration;

/// Rows per seed, and how fast they come: about eight micro-batches of 50 ms.
const ROWS: u64 = 2_400;
const RATE: u64 = 6_000;
/// Event times stray up to this many seconds from the row's place in the stream; the
/// watermark trails by twice that, so no row is late.
const STRAY: u64 = 4;

/// The columns of the generated rows from `id`, the same for the stream and the batch.
fn columns(seed: u64) -> [(&'static str, String); 3] {
    [
        ("k", format!("(id * 7919 + {seed}) % 11")),
        ("v", format!("((id * 104729 + {seed} * 31) % 201) - 100")),
        (
            "ts",
            format!(
                "CAST(to_timestamp_millis((1704067200 + id + ((id * 2654435761 + {seed}) % \
                 {span}) - {STRAY}) * 1000) AS TIMESTAMP(3))",
                span = 2 * STRAY + 1
            ),
        ),
    ]
}

/// Declares, for `seed`, the stream `s` and the same rows as the batch view `b`, and views
/// over each: `hi` and `lo` (rows of high and low values), `mid`.
async fn declare(engine: &Engine, seed: u64) {
    let computed: Vec<String> = columns(seed)
        .iter()
        .map(|(name, expr)| format!("{name} AS {expr}"))
        .collect();
    let selected: Vec<String> = columns(seed)
        .iter()
        .map(|(name, expr)| format!("{} AS {name}", expr.replace("id", "value")))
        .collect();
    let mut statements = vec![
        format!(
            "CREATE TABLE s (id BIGINT, {}, WATERMARK FOR ts AS ts - INTERVAL '{}' SECOND) WITH \
             ('connector' = 'datagen', 'number-of-rows' = '{ROWS}', 'rows-per-second' = \
             '{RATE}', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', \
             'fields.id.end' = '{ROWS}')",
            computed.join(", "),
            2 * STRAY
        ),
        format!(
            "CREATE VIEW b AS SELECT value AS id, {} FROM generate_series(1, {ROWS})",
            selected.join(", ")
        ),
    ];
    for t in ["s", "b"] {
        statements.push(format!(
            "CREATE VIEW hi_{t} AS SELECT id, k, v, ts FROM {t} WHERE v > 40"
        ));
        statements.push(format!(
            "CREATE VIEW lo_{t} AS SELECT id, k, v, ts FROM {t} WHERE v < -40"
        ));
        statements.push(format!(
            "CREATE VIEW mid_{t} AS SELECT id, k, v, ts FROM {t} WHERE v BETWEEN -5 AND 5"
        ));
    }
    for sql in statements {
        let statement = engine.parse(&sql).unwrap().remove(0);
        engine.run(statement, 10).await.unwrap();
    }
}

/// The final rows of a continuous query: its appended rows, or its changelog applied from
/// empty (a retraction of a row that is not there fails the test), which must also be its
/// last snapshot.
async fn streamed(engine: &Engine, sql: &str) -> Vec<String> {
    let statement = engine.parse(sql).unwrap().remove(0);
    let result = engine.run(statement, 100).await;
    let StatementResult::Stream(mut query) = result.unwrap_or_else(|e| panic!("{sql}: {e}")) else {
        panic!("{sql} did not start a stream");
    };
    query.set_emit_interval(Duration::from_millis(100));
    let mut appended = Vec::new();
    let mut rows: BTreeMap<String, i64> = BTreeMap::new();
    let mut last: Option<Vec<String>> = None;
    while let Some(update) = query.next_update().await {
        match update {
            StreamUpdate::Rows(batches) => {
                appended.extend(batches.iter().flat_map(|b| texts(b, 0)));
            }
            StreamUpdate::Snapshot {
                rows: shown,
                changes,
            } => {
                let ops = changes.column(0).as_string::<i32>().clone();
                for (i, row) in texts(&changes, 1).into_iter().enumerate() {
                    let count = rows.entry(row.clone()).or_default();
                    match ops.value(i) {
                        "+I" | "+U" => *count += 1,
                        _ => {
                            assert!(
                                *count > 0,
                                "{sql}: {} {row} is not in the result",
                                ops.value(i)
                            );
                            *count -= 1;
                        }
                    }
                }
                last = Some(shown.iter().flat_map(|b| texts(b, 0)).collect());
            }
            _ => {}
        }
    }
    assert_eq!(query.finish().await.unwrap(), StreamEnd::Finished, "{sql}");
    let Some(mut last) = last else {
        appended.sort();
        return appended;
    };
    let mut replayed: Vec<String> = rows
        .into_iter()
        .flat_map(|(row, n)| std::iter::repeat_n(row, usize::try_from(n).unwrap_or(0)))
        .collect();
    replayed.sort();
    last.sort();
    assert_eq!(
        replayed, last,
        "{sql}: the changelog replayed is not the last snapshot"
    );
    replayed
}

/// The rows of a batch query, sorted.
async fn batch(engine: &Engine, sql: &str) -> Vec<String> {
    let statement = engine.parse(sql).unwrap().remove(0);
    let result = engine.run(statement, 1_000_000).await;
    let StatementResult::Rows(rows) = result.unwrap_or_else(|e| panic!("{sql}: {e}")) else {
        panic!("{sql} is not a batch query");
    };
    let mut out: Vec<String> = rows.batches.iter().flat_map(|b| texts(b, 0)).collect();
    out.sort();
    out
}

/// Each question, with `{t}` for the stream (`s`) or the batch view (`b`), as the stream's
/// query and, where they differ, as the batch query (a window by `date_bin`).
const QUESTIONS: &[(&str, Option<&str>)] = &[
    // An updating GROUP BY whose groups leave and come back through HAVING.
    (
        "SELECT k, COUNT(*) AS n, SUM(v) AS total, MIN(v) AS low, MAX(v) AS high, \
         COUNT(DISTINCT v) AS values FROM {t} GROUP BY k HAVING SUM(v) > 0",
        None,
    ),
    // An aggregate over an updating aggregate: each key's count moves between counts.
    (
        "SELECT n, COUNT(*) AS keys FROM (SELECT k, COUNT(*) AS n FROM {t} WHERE v > 0 \
         GROUP BY k) GROUP BY n",
        None,
    ),
    // A window aggregate, its rows out of order within the watermark's bound.
    (
        "SELECT window_start, k, COUNT(*) AS n, SUM(v) AS total FROM TABLE(TUMBLE(TABLE {t}, \
         DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, k",
        Some(
            "SELECT date_bin(INTERVAL '10 seconds', ts, TIMESTAMP '1970-01-01 00:00:00') AS \
             window_start, k, COUNT(*) AS n, SUM(v) AS total FROM {t} GROUP BY 1, 2",
        ),
    ),
    // A Top-N: the three highest values of each key (ties broken by id).
    (
        "SELECT k, id, v, rn FROM (SELECT k, id, v, ROW_NUMBER() OVER (PARTITION BY k ORDER \
         BY v DESC, id ASC) AS rn FROM {t}) WHERE rn <= 3",
        None,
    ),
    // A join of two views of the stream, each row meeting rows of other micro-batches.
    (
        "SELECT h.k, COUNT(*) AS pairs, SUM(h.v - l.v) AS spread FROM hi_{t} h JOIN lo_{t} l \
         ON h.k = l.k GROUP BY h.k",
        None,
    ),
    // A LEFT join: padded rows taken back when their first match comes.
    (
        "SELECT h.k, COUNT(*) AS rows_out, COUNT(l.id) AS matched FROM hi_{t} h LEFT JOIN \
         (SELECT * FROM lo_{t} WHERE v < -95) l ON h.k = l.k GROUP BY h.k",
        None,
    ),
    // A join of three views.
    (
        "SELECT h.k, COUNT(*) AS triples FROM hi_{t} h JOIN lo_{t} l ON h.k = l.k JOIN \
         mid_{t} m ON l.k = m.k GROUP BY h.k",
        None,
    ),
    // An interval join: rows of the other view within thirty seconds.
    (
        "SELECT h.id, l.id FROM hi_{t} h JOIN lo_{t} l ON h.k = l.k AND l.ts BETWEEN \
         h.ts - INTERVAL '30' SECOND AND h.ts + INTERVAL '30' SECOND",
        None,
    ),
    // An OVER aggregation: each row with its key's rows of the last twenty seconds.
    (
        "SELECT * FROM (SELECT id, k, COUNT(*) OVER w AS n, SUM(v) OVER w AS total FROM {t} \
         WINDOW w AS (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '20' SECOND \
         PRECEDING AND CURRENT ROW)) WHERE id % 7 = 0",
        None,
    ),
    // Running aggregates from each key's first row (rows of equal time are peers).
    (
        "SELECT * FROM (SELECT id, k, SUM(v) OVER (PARTITION BY k ORDER BY ts) AS running, \
         MAX(v) OVER (PARTITION BY k ORDER BY ts) AS high, COUNT(*) OVER (PARTITION BY k \
         ORDER BY ts) AS n FROM {t}) WHERE id % 5 = 0",
        None,
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_answers_equal_batch_answers_over_generated_streams() {
    for seed in [3, 17, 101] {
        let engine = Engine::new(EngineConfig::default()).unwrap();
        declare(&engine, seed).await;
        for (question, batch_form) in QUESTIONS {
            let stream_sql = question.replace("{t}", "s");
            let batch_sql = batch_form.unwrap_or(question).replace("{t}", "b");
            let expected = batch(&engine, &batch_sql).await;
            assert!(!expected.is_empty(), "seed {seed}: {batch_sql} has no rows");
            let got = streamed(&engine, &stream_sql).await;
            assert_eq!(got, expected, "seed {seed}: {stream_sql}");
        }
    }
}
