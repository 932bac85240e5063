//! CACHE TABLE through the engine: how a cached table is spread and joined, and that every
//! query over it gives the uncached answer.

use crate::printed::run;
use eddy_engine::{Engine, EngineConfig};

/// The row counts of the cached scan's partitions, as EXPLAIN shows them.
fn partition_rows(explained: &str) -> Vec<usize> {
    let start = explained.find("rows=[").expect("a cached scan") + "rows=[".len();
    let end = start + explained[start..].find(']').unwrap();
    explained[start..end]
        .split(", ")
        .map(|n| n.parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_table_is_spread_evenly_over_the_partitions() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    // One partition of 1M rows in, as a file read by one partition would be.
    run(
        &engine,
        "CREATE TABLE t AS SELECT value AS v FROM range(1000000); CACHE TABLE t",
    )
    .await;
    let explained = run(&engine, "EXPLAIN SELECT v FROM t").await;
    let rows = partition_rows(&explained);
    assert_eq!(rows.iter().sum::<usize>(), 1_000_000, "{explained}");
    let (least, most) = (rows.iter().min().unwrap(), rows.iter().max().unwrap());
    // Batches are not cut: partitions differ by at most one batch.
    assert!(most - least <= 8192, "{explained}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_on_keys_spanning_less_than_a_million_looks_them_up_by_index() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    run(
        &engine,
        "CREATE TABLE facts AS SELECT value AS id, value % 500000 AS k FROM range(1000000); \
         CREATE TABLE dims AS SELECT * FROM (VALUES (7, 'seven'), (400007, 'far')) \
           AS d(k, name); \
         CACHE TABLE facts",
    )
    .await;
    let sql = "SELECT d.name, COUNT(*) AS n, MIN(f.id) AS first FROM facts f \
               JOIN dims d ON f.k = d.k GROUP BY d.name ORDER BY d.name";
    let result = run(&engine, sql).await;
    assert!(result.contains("| far   | 2 | 400007 |"), "{result}");
    assert!(result.contains("| seven | 2 | 7      |"), "{result}");
    // Two keys 400,000 apart: far below DataFusion's own density rule for a direct
    // lookup, within the engine's span of a million.
    let analyzed = run(&engine, &format!("EXPLAIN ANALYZE {sql}")).await;
    assert!(analyzed.contains("array_map_created_count=1"), "{analyzed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_limits_and_counts_over_a_cached_table_give_the_uncached_answers() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    run(
        &engine,
        "CREATE TABLE t AS SELECT value AS v, CASE WHEN value % 3 = 0 THEN NULL \
         ELSE value END AS maybe FROM range(100000)",
    )
    .await;
    let queries = [
        "SELECT COUNT(*), COUNT(maybe) FROM t",
        "SELECT COUNT(*), SUM(v) FROM t WHERE v % 7 = 1 AND maybe IS NOT NULL",
        "SELECT v FROM t WHERE v > 99990 ORDER BY v",
        "SELECT COUNT(*) FROM (SELECT v FROM t WHERE v % 2 = 0 LIMIT 12345)",
        "SELECT COUNT(*) FROM t WHERE v < 0",
    ];
    let mut uncached = Vec::new();
    for sql in queries {
        uncached.push(run(&engine, sql).await);
    }
    run(&engine, "CACHE TABLE t").await;
    for (sql, want) in queries.iter().zip(uncached) {
        assert_eq!(run(&engine, sql).await, want, "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_after_an_aggregate_keeps_the_groups_it_drops_from_being_aggregated() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    run(
        &engine,
        "CREATE TABLE ratings AS SELECT value % 1000 AS film, value % 5 AS score \
           FROM range(1000000); \
         CREATE TABLE films AS SELECT value AS film, 2000 + value % 20 AS year \
           FROM range(1000); \
         CACHE TABLE ratings",
    )
    .await;
    // The same question phrased two ways: the year's films joined, then aggregated; and
    // every film aggregated, then joined with the year's.
    let join_first = "SELECT f.film, AVG(r.score) AS avg_score, COUNT(*) AS n FROM ratings r \
        JOIN films f ON r.film = f.film WHERE f.year = 2019 GROUP BY f.film \
        ORDER BY f.film";
    let aggregate_first = "SELECT f.film, r.avg_score, r.n FROM (SELECT film, \
        AVG(score) AS avg_score, COUNT(*) AS n FROM ratings GROUP BY film) r \
        JOIN films f ON r.film = f.film WHERE f.year = 2019 ORDER BY f.film";
    let want = run(&engine, join_first).await;
    assert_eq!(run(&engine, aggregate_first).await, want);
    assert!(want.contains("| 19   | 4.0       | 1000 |"), "{want}");
    // The join's build-side keys reach the cached scan through the aggregate: 50 films of
    // 1,000, so 50,000 of the million ratings are aggregated.
    let analyzed = run(&engine, &format!("EXPLAIN ANALYZE {aggregate_first}")).await;
    let scan = analyzed
        .lines()
        .find(|l| l.contains("CachedTable"))
        .expect("a cached scan");
    assert!(scan.contains("filter=DynamicFilter"), "{scan}");
    let partial = analyzed
        .lines()
        .find(|l| l.contains("AggregateExec: mode=Partial"))
        .expect("a partial aggregate");
    // Its reduction factor: groups out of rows in.
    assert!(partial.contains("/50.00 K)"), "{partial}");
}
