//! The kernel never dies on what a user types: SQL of any size or shape either runs or fails
//! at once with an error that names the limit, and the session — its tables too — stays.
//!
//! These run against the binary cargo built for the tests (debug); `dev/test` runs them again
//! against the release binary with `EDDY_TEST_BIN`, because the two builds use the stack
//! differently.

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::{Channel, Client, Execution, Kernel};

/// Deep statements take a while to plan in a debug build.
const SLOW: Duration = Duration::from_secs(180);

/// The engine's limit on operators chained in one expression (`eddy_engine::limits`).
const MAX_CHAINED_OPERATORS: usize = 6_000;

/// The engine's limit on subqueries nested in one expression (`eddy_engine::limits`).
const MAX_NESTED_SUBQUERIES: usize = 16;

fn sum_of_ones(terms: usize) -> String {
    format!("SELECT {} AS total", vec!["1"; terms].join("+"))
}

async fn execute_slow(client: &mut Client, code: &str) -> Execution {
    let msg_id = client.start_execute(code).await;
    let reply = client
        .try_reply(Channel::Shell, SLOW)
        .await
        .unwrap_or_else(|| panic!("no reply within {SLOW:?}"));
    assert_eq!(reply.parent_id(), msg_id);
    let broadcasts = client.broadcasts_until_idle(&msg_id).await;
    Execution { reply, broadcasts }
}

/// The session still answers, and still has its table.
async fn assert_session_intact(kernel: &mut Kernel, client: &mut Client) {
    assert!(kernel.is_running(), "the kernel process ended");
    let run = client.execute("SELECT COUNT(*) AS n FROM kept").await;
    assert_eq!(run.reply.content["status"], "ok", "{:?}", run.reply.content);
    assert!(run.text().contains("| 3 |"), "{}", run.text());
}

async fn start_with_a_table() -> (Kernel, Client) {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let made = client
        .execute("CREATE TABLE kept AS VALUES (1), (2), (3)")
        .await;
    assert_eq!(made.reply.content["status"], "ok");
    (kernel, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sum_of_3000_terms_runs() {
    let (mut kernel, mut client) = start_with_a_table().await;
    let run = execute_slow(&mut client, &sum_of_ones(3_000)).await;
    assert_eq!(run.reply.content["status"], "ok", "{:?}", run.reply.content);
    assert!(run.text().contains("| 3000  |"), "{}", run.text());
    assert_session_intact(&mut kernel, &mut client).await;
}

/// 3,000 comparisons joined by OR: 5,999 operators, one under the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_or_chain_of_3000_terms_runs() {
    let (mut kernel, mut client) = start_with_a_table().await;
    let chain = (0..3_000)
        .map(|i| format!("column1 = {}", i + 2))
        .collect::<Vec<_>>()
        .join(" OR ");
    let run = execute_slow(&mut client, &format!("SELECT * FROM kept WHERE {chain}")).await;
    assert_eq!(run.reply.content["status"], "ok", "{:?}", run.reply.content);
    let text = run.text();
    assert!(text.contains("| 2 ") && text.contains("| 3 ") && !text.contains("| 1 "));
    assert_session_intact(&mut kernel, &mut client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_past_the_limit_fails_at_once_naming_the_limit() {
    let (mut kernel, mut client) = start_with_a_table().await;
    // n terms chain n - 1 operators.
    for terms in [MAX_CHAINED_OPERATORS + 2, 1_000_000] {
        let started = Instant::now();
        let run = execute_slow(&mut client, &sum_of_ones(terms)).await;
        let took = started.elapsed();
        assert_eq!(run.reply.content["status"], "error");
        assert_eq!(run.reply.content["ename"], "LimitExceeded");
        let evalue = run.reply.content["evalue"].as_str().unwrap_or_default();
        assert!(evalue.contains("more than 6000 operators"), "{evalue}");
        let traceback = run.reply.content["traceback"].to_string();
        assert!(traceback.contains("hint:"), "{traceback}");
        assert!(traceback.contains("line 1, column"), "{traceback}");
        // Refused before planning: no time spent on the chain.
        assert!(
            took < Duration::from_secs(20),
            "{terms} terms took {took:?}"
        );
    }
    // Completion and is_complete of the same text answer too.
    let huge = sum_of_ones(1_000_000);
    let complete = client
        .request(
            Channel::Shell,
            "complete_request",
            json!({ "code": huge, "cursor_pos": 10 }),
        )
        .await;
    assert_eq!(complete.reply.content["status"], "ok");
    let is_complete = client
        .request(
            Channel::Shell,
            "is_complete_request",
            json!({ "code": huge }),
        )
        .await;
    assert_eq!(is_complete.reply.content["status"], "complete");
    assert_session_intact(&mut kernel, &mut client).await;
}

/// Cells the fuzzers found, each of which sqlparser took seconds to refuse, backtracking twice
/// per open `.`: dotted names nested in unclosed subscripts (10.6 s in a release build), and
/// names going on into parentheses, signed operands and raw strings after a `.` (10 to 34 s
/// in the engine's debug build). A client can only send them as UTF-8, so bytes that are not
/// are read as U+FFFD.
const SLOW_PARSES: [&[u8]; 5] = [
    include_bytes!("fuzz/seeds/sql_parse/slow_parse_nested_subscripts"),
    include_bytes!("fuzz/seeds/complete/slow_parenthesised_parts"),
    include_bytes!("fuzz/seeds/complete/slow_parenthesised_parts_2"),
    include_bytes!("fuzz/seeds/complete/slow_signed_parts"),
    include_bytes!("fuzz/seeds/complete/slow_raw_string_parts"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_nested_past_what_the_parser_reads_quickly_fail_at_once() {
    let (mut kernel, mut client) = start_with_a_table().await;
    let long_name = format!("SELECT a{}[", ".b".repeat(23));
    let slow_parses = SLOW_PARSES.map(String::from_utf8_lossy);
    for cell in slow_parses
        .iter()
        .map(|cell| cell.as_ref())
        .chain([long_name.as_str()])
    {
        let started = Instant::now();
        let run = execute_slow(&mut client, cell).await;
        assert_eq!(run.reply.content["ename"], "LimitExceeded", "{cell}");
        let evalue = run.reply.content["evalue"].as_str().unwrap_or_default();
        assert!(evalue.contains("field accesses and subscripts"), "{evalue}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // A console asking whether the text is complete gets its answer as quickly.
        let started = Instant::now();
        let is_complete = client
            .request(
                Channel::Shell,
                "is_complete_request",
                json!({ "code": cell }),
            )
            .await;
        assert_eq!(is_complete.reply.content["status"], "complete");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    // A name of 14 parts is still read, and fails as an unknown column would.
    let fourteen = format!("SELECT a{} FROM kept", ".b".repeat(13));
    let run = execute_slow(&mut client, &fourteen).await;
    assert_eq!(run.reply.content["status"], "error");
    assert_ne!(run.reply.content["ename"], "LimitExceeded");
    assert_session_intact(&mut kernel, &mut client).await;
}

/// `1 IN (SELECT 1 WHERE 1 IN (… (SELECT 1)))`, subqueries `depth` deep.
fn nested_subqueries(depth: usize) -> String {
    format!(
        "SELECT 1 AS one WHERE 1 IN {}(SELECT 1){}",
        "(SELECT 1 WHERE 1 IN ".repeat(depth - 1),
        ")".repeat(depth - 1)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_subqueries_run_to_a_depth_and_past_it_fail_at_once() {
    let (mut kernel, mut client) = start_with_a_table().await;
    let run = execute_slow(&mut client, &nested_subqueries(10)).await;
    assert_eq!(run.reply.content["status"], "ok", "{:?}", run.reply.content);
    assert!(run.text().contains("| 1   |"), "{}", run.text());

    // Planning time doubles with each level: past the limit the cell is refused before it.
    let started = Instant::now();
    let run = execute_slow(&mut client, &nested_subqueries(MAX_NESTED_SUBQUERIES + 1)).await;
    assert_eq!(run.reply.content["ename"], "LimitExceeded");
    let evalue = run.reply.content["evalue"].as_str().unwrap_or_default();
    assert!(
        evalue.contains(&format!("nested more than {MAX_NESTED_SUBQUERIES} deep")),
        "{evalue}"
    );
    let traceback = run.reply.content["traceback"].to_string();
    assert!(
        traceback.contains("hint:") && traceback.contains("joins"),
        "{traceback}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_session_intact(&mut kernel, &mut client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_list_of_100000_values_runs() {
    let (mut kernel, mut client) = start_with_a_table().await;
    let values = (0..100_000)
        .map(|i| (i * 7 + 3).to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let run = execute_slow(
        &mut client,
        &format!("SELECT column1 FROM kept WHERE column1 IN ({values})"),
    )
    .await;
    assert_eq!(run.reply.content["status"], "ok", "{:?}", run.reply.content);
    // 3 = 0 × 7 + 3 is in the list; 1 and 2 are not.
    let text = run.text();
    assert!(text.contains("| 3 ") && !text.contains("| 1 "), "{text}");
    assert_session_intact(&mut kernel, &mut client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_engine_fails_its_cell_and_keeps_the_session() {
    let mut kernel = Kernel::start_with_env(&[("EDDY_FAULTS", "panic")]);
    let mut client = kernel.client().await;
    client
        .execute("CREATE TABLE kept AS VALUES (1), (2), (3)")
        .await;
    let run = client
        .execute("SELECT eddy_fault_panic('boom') FROM kept")
        .await;
    assert_eq!(run.reply.content["status"], "error");
    assert_eq!(run.reply.content["ename"], "InternalError");
    let evalue = run.reply.content["evalue"].as_str().unwrap_or_default();
    assert!(evalue.contains("boom"), "{evalue}");
    assert!(
        evalue.contains("eddy_fault_panic"),
        "names the statement: {evalue}"
    );
    assert!(evalue.contains("please report"), "{evalue}");
    assert_eq!(run.of_type("error").len(), 1);
    assert_session_intact(&mut kernel, &mut client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_value_and_a_wide_result_are_shown_cut() {
    let (mut kernel, mut client) = start_with_a_table().await;
    // A 10 MB string, in each of three rows.
    let run = client
        .execute("SELECT column1, repeat('x', 10000000) AS big FROM kept")
        .await;
    assert_eq!(run.reply.content["status"], "ok");
    let text = run.text();
    assert!(text.len() < 20_000, "{} characters shown", text.len());
    assert!(text.contains(&format!("{}…", "x".repeat(1_000))));
    // 2,000 columns.
    let columns = (0..2_000)
        .map(|i| format!("column1 + {i} AS c{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let run = client.execute(&format!("SELECT {columns} FROM kept")).await;
    assert_eq!(run.reply.content["status"], "ok", "{:?}", run.reply.content);
    assert!(run.text().contains("c1999"));
    assert_session_intact(&mut kernel, &mut client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cell_of_2000_statements_runs_each_in_turn() {
    let (mut kernel, mut client) = start_with_a_table().await;
    let cell = (0..2_000)
        .map(|i| format!("SELECT {i} AS v{i};"))
        .collect::<Vec<_>>()
        .join("\n");
    let started = Instant::now();
    let run = execute_slow(&mut client, &cell).await;
    assert_eq!(run.reply.content["status"], "ok", "{:?}", run.reply.content);
    // Every statement but the last shows its result as it goes; the last is the cell's.
    assert_eq!(run.of_type("display_data").len(), 1_999);
    assert!(run.text().contains("| 1999  |"), "{}", run.text());
    println!("2,000 statements took {:?}", started.elapsed());
    // A syntax error in the last statement is found before the first runs, and points at
    // its line in the cell.
    let broken = format!("{cell}\nSELEC 1");
    let run = execute_slow(&mut client, &broken).await;
    assert_eq!(run.reply.content["ename"], "SyntaxError");
    assert!(run.of_type("display_data").is_empty());
    let traceback = run.reply.content["traceback"].to_string();
    assert!(traceback.contains("line 2001"), "{traceback}");
    assert_session_intact(&mut kernel, &mut client).await;
}

/// Panics the SQL fuzzer (tests/python/test_sql_fuzz.py) found in DataFusion's own functions:
/// each fails its cell, and the session stays. A debug build checks integer overflow, so some
/// panic there only; either way the cell is answered with at most one error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_found_by_fuzzing_fail_their_cell_and_keep_the_session() {
    let (mut kernel, mut client) = start_with_a_table().await;
    client
        .execute("CREATE TABLE words AS VALUES ('a'), ('b')")
        .await;
    // A negative length with a column as the fill: a capacity overflow in both builds.
    let run = client
        .execute("SELECT LPAD('a', -1, column1) FROM words")
        .await;
    assert_eq!(run.reply.content["ename"], "InternalError");
    assert!(run.reply.content["evalue"]
        .as_str()
        .is_some_and(|e| e.contains("please report")));
    for cell in [
        "SELECT RPAD('a', -1, column1) FROM words",
        "SELECT DATE_TRUNC('day', ts) FROM (VALUES (TIMESTAMP '1677-09-21 00:12:44')) AS t(ts)",
        "SELECT DISTINCT column1 FROM words ORDER BY 1 LIMIT 9223372036854775807",
        "SELECT DISTINCT column1 FROM words ORDER BY 1 LIMIT 3 OFFSET 9223372036854775807",
    ] {
        let run = client.execute(cell).await;
        let status = run.reply.content["status"].as_str().unwrap_or_default();
        assert!(matches!(status, "ok" | "error"), "{cell}: {status}");
        assert!(run.of_type("error").len() <= 1, "{cell}");
    }
    // Eddy's own: a duration past the clock's range, and a rate too slow to schedule.
    let run = client
        .execute("%sql --duration 18446744073709551615s\nSELECT 1")
        .await;
    assert_eq!(run.reply.content["ename"], "UsageError");
    let run = client
        .execute(
            "CREATE TABLE slow (k INT) WITH ('connector' = 'datagen', \
             'rows-per-second' = '1e-300', 'number-of-rows' = '1')",
        )
        .await;
    assert_eq!(run.reply.content["status"], "error");
    assert!(run.reply.content["evalue"]
        .as_str()
        .is_some_and(|e| e.contains("rows-per-second")));
    assert_session_intact(&mut kernel, &mut client).await;
}
