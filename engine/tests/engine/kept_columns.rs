//! The columns of a file table that queries decoded are kept in memory: the next question
//! over the unchanged file is answered from there, with the answer the file gives; a changed
//! file is read again.

use crate::printed::run;
use eddy_engine::{Engine, EngineConfig};
use std::io::Write;

/// Whether the plan of `sql` reads the files (and keeps what it reads) or memory.
async fn reads(engine: &Engine, sql: &str) -> &'static str {
    let plan = run(engine, &format!("EXPLAIN {sql}")).await;
    match (plan.contains("KeepInMemory"), plan.contains("CachedTable")) {
        (true, false) => "files",
        (false, true) => "memory",
        (false, false) => "files, keeping nothing",
        (true, true) => panic!("both: {plan}"),
    }
}

async fn kept(engine: &Engine) -> Vec<String> {
    engine
        .kept_columns("sales")
        .await
        .map(|k| k.columns)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_question_over_an_unchanged_file_is_answered_from_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.csv");
    let mut lines = String::from("region,amount,note\n");
    for i in 0..20_000 {
        lines.push_str(&format!("r{},{},n{i}\n", i % 7, i % 100));
    }
    std::fs::write(&path, &lines).unwrap();
    let engine = Engine::new(EngineConfig::default()).unwrap();
    run(
        &engine,
        &format!(
            "CREATE TABLE sales (region STRING, amount INT, note STRING) WITH (
               'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv')",
            path.display()
        ),
    )
    .await;
    let total = "SELECT SUM(amount) FROM sales";
    let by_region = "SELECT region, SUM(amount) AS s FROM sales GROUP BY region ORDER BY region";
    let first = run(&engine, total).await;
    assert!(first.contains("990000"), "{first}");
    assert_eq!(kept(&engine).await, ["amount"]);
    assert_eq!(reads(&engine, total).await, "memory");
    assert_eq!(run(&engine, total).await, first);

    // A question about another column reads it from the file with the kept one, and both
    // are kept; the answers are the file's.
    assert_eq!(reads(&engine, by_region).await, "files");
    let grouped = run(&engine, by_region).await;
    assert_eq!(kept(&engine).await, ["region", "amount"]);
    assert_eq!(reads(&engine, by_region).await, "memory");
    assert_eq!(run(&engine, by_region).await, grouped);
    assert_eq!(
        run(&engine, "SELECT COUNT(*) FROM sales")
            .await
            .matches("20000")
            .count(),
        1
    );

    // A LIMIT reads part of the file: nothing new is kept.
    run(&engine, "SELECT note FROM sales LIMIT 3").await;
    assert_eq!(kept(&engine).await, ["region", "amount"]);

    // The file changes: it is read again, and the answer is the new file's.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"r1,1000000,late\n").unwrap();
    drop(file);
    assert_eq!(reads(&engine, total).await, "files");
    let changed = run(&engine, total).await;
    assert!(changed.contains("1990000"), "{changed}");
    assert_eq!(reads(&engine, total).await, "memory");

    // Turned off, nothing is kept and every query reads the file.
    engine.set_column_memory(false);
    assert!(kept(&engine).await.is_empty());
    assert_eq!(reads(&engine, total).await, "files, keeping nothing");
    assert!(run(&engine, total).await.contains("1990000"));
    engine.set_column_memory(true);

    // A dropped table's columns go with it.
    run(&engine, total).await;
    assert_eq!(engine.column_memory().tables, 1);
    run(&engine, "DROP TABLE sales").await;
    assert_eq!(engine.column_memory().tables, 0);
}
