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

/// A CSV table over `path` named `sales`, in `engine`.
async fn declare_sales(engine: &Engine, path: &std::path::Path) {
    run(
        engine,
        &format!(
            "CREATE TABLE sales (region STRING, amount INT, note STRING) WITH (
               'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv')",
            path.display()
        ),
    )
    .await;
}

/// 20,000 sales, each note `note_width` characters or more.
fn sales_csv(note_width: usize) -> String {
    let mut lines = String::from("region,amount,note\n");
    for i in 0..20_000 {
        lines.push_str(&format!("r{},{},n{i:0note_width$}\n", i % 7, i % 100));
    }
    lines
}

const TOTAL: &str = "SELECT SUM(amount) FROM sales";
const BY_REGION: &str =
    "SELECT region, SUM(amount) AS s FROM sales GROUP BY region ORDER BY region";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_question_over_an_unchanged_file_is_answered_from_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.csv");
    std::fs::write(&path, sales_csv(1)).unwrap();
    let engine = Engine::new(EngineConfig::default()).unwrap();
    declare_sales(&engine, &path).await;
    // The first question decodes every column of a file that fits the budget, so the
    // next questions, about any column, are answered from memory.
    let first = run(&engine, TOTAL).await;
    assert!(first.contains("990000"), "{first}");
    assert_eq!(kept(&engine).await, ["region", "amount", "note"]);
    assert_eq!(reads(&engine, TOTAL).await, "memory");
    assert_eq!(run(&engine, TOTAL).await, first);
    assert_eq!(reads(&engine, BY_REGION).await, "memory");
    let grouped = run(&engine, BY_REGION).await;
    assert!(grouped.contains("| r6     | 141414 |"), "{grouped}");
    assert_eq!(
        run(&engine, "SELECT COUNT(*) FROM sales")
            .await
            .matches("20000")
            .count(),
        1
    );

    // The file changes: it is read again, and the answer is the new file's.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"r1,1000000,late\n").unwrap();
    drop(file);
    assert_eq!(reads(&engine, TOTAL).await, "files");
    let changed = run(&engine, TOTAL).await;
    assert!(changed.contains("1990000"), "{changed}");
    assert_eq!(reads(&engine, TOTAL).await, "memory");

    // Turned off, nothing is kept and every query reads the file.
    engine.set_column_memory(false);
    assert!(kept(&engine).await.is_empty());
    assert_eq!(reads(&engine, TOTAL).await, "files, keeping nothing");
    assert!(run(&engine, TOTAL).await.contains("1990000"));
    engine.set_column_memory(true);

    // A dropped table's columns go with it.
    run(&engine, TOTAL).await;
    assert_eq!(engine.column_memory().tables, 1);
    run(&engine, "DROP TABLE sales").await;
    assert_eq!(engine.column_memory().tables, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_too_big_to_keep_whole_keeps_the_columns_questions_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.csv");
    // About 2.2 MB of text (wide notes): more than the 2 MiB budget of an 8 MiB engine
    // once decoded, where region and amount alone take a tenth of it.
    std::fs::write(&path, sales_csv(100)).unwrap();
    let engine = Engine::new(EngineConfig {
        memory_limit: Some(8 << 20),
        ..EngineConfig::default()
    })
    .unwrap();
    declare_sales(&engine, &path).await;
    let first = run(&engine, TOTAL).await;
    assert!(first.contains("990000"), "{first}");
    assert_eq!(kept(&engine).await, ["amount"]);
    assert_eq!(reads(&engine, TOTAL).await, "memory");

    // A question about another column reads it from the file with the kept one, and both
    // are kept; the answers are the file's.
    assert_eq!(reads(&engine, BY_REGION).await, "files");
    let grouped = run(&engine, BY_REGION).await;
    assert!(grouped.contains("| r6     | 141414 |"), "{grouped}");
    assert_eq!(kept(&engine).await, ["region", "amount"]);
    assert_eq!(reads(&engine, BY_REGION).await, "memory");
    assert_eq!(run(&engine, BY_REGION).await, grouped);

    // A LIMIT reads part of the file: nothing new is kept.
    run(&engine, "SELECT note FROM sales LIMIT 3").await;
    assert_eq!(kept(&engine).await, ["region", "amount"]);
}

/// A join whose build side needs most of the engine's memory, over a table made in memory.
const BIG_JOIN: &str = "SELECT COUNT(*) AS n FROM big b1 JOIN big b2 ON b1.k = b2.k \
    WHERE length(b1.pad) + length(b2.pad) > 0";

/// Whether the join runs in an engine limited to `limit` bytes.
async fn big_join_fits(limit: usize) -> Result<Engine, String> {
    let engine = Engine::new(EngineConfig {
        memory_limit: Some(limit),
        ..EngineConfig::default()
    })
    .unwrap();
    run(
        &engine,
        "CREATE TABLE big AS SELECT value AS k, repeat('x', 100) AS pad FROM range(200000)",
    )
    .await;
    let statement = engine.parse(BIG_JOIN).unwrap().remove(0);
    match engine.run(statement, 10).await {
        Ok(_) => Ok(engine),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_that_needs_the_room_takes_it_from_the_kept_columns() {
    // The smallest limit, in steps of a tenth, under which the join runs alone: its build
    // side needs more than the step below it, so more than 90 % of the limit.
    let mut limit = 16usize << 20;
    let engine = loop {
        match big_join_fits(limit).await {
            Ok(engine) => break engine,
            Err(error) => {
                assert!(error.contains("Failed to allocate"), "{error}");
                assert!(
                    limit < 512 << 20,
                    "the join did not fit in 512 MiB: {error}"
                );
                limit += limit / 10;
            }
        }
    };
    // Columns of a file, kept: more than a tenth of the limit, so that the join and they
    // do not fit together.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.csv");
    let rows = limit / 8 / 20 + 1;
    let mut lines = String::from("id,note\n");
    for i in 0..rows {
        lines.push_str(&format!("{i},note-{i:014}\n"));
    }
    std::fs::write(&path, &lines).unwrap();
    run(
        &engine,
        &format!(
            "CREATE TABLE notes (id BIGINT, note STRING) WITH ('connector' = 'filesystem', \
             'path' = '{}', 'format' = 'csv')",
            path.display()
        ),
    )
    .await;
    let top = run(&engine, "SELECT MAX(note) FROM notes").await;
    assert!(top.contains(&format!("note-{:014}", rows - 1)), "{top}");
    let kept = engine
        .kept_columns("notes")
        .await
        .expect("the note column kept");
    assert!(kept.bytes > limit / 10, "{} of {limit}", kept.bytes);
    // The file's text looked small enough to keep whole, so the read decoded `id` as well;
    // decoded, both were past the budget, and the column the question read is what is kept.
    assert_eq!(kept.columns, ["note"]);

    // The join takes the room: the kept columns go, the join runs.
    let joined = run(&engine, BIG_JOIN).await;
    assert!(joined.contains("200000"), "{joined}");
    assert!(engine.kept_columns("notes").await.is_none());
}
