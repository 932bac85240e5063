//! A notebook connected to Apache Flink through its SQL Gateway (`%connect flink://…`): a
//! real JobManager, TaskManager and gateway (Flink 2.3 from PyPI's wheels and Maven Central,
//! `dev/flink/`) run the statements; Eddy shows their results in its live displays. Flink is
//! also an oracle: the same streaming queries over the same events give Eddy's rows.

use crate::flink_cluster::flink;
use crate::support::{Channel, Client, Kernel};
use crate::{final_status, final_table, ok, sorted_rows};
use serde_json::json;
use std::time::{Duration, Instant};

/// Purchases: a user, a page, an amount (unique, so a Top-N has no ties) and a time, every
/// 700 ms of event time over about 23 minutes, in time order.
fn events_csv() -> String {
    let mut text = String::new();
    for i in 0..2_000u64 {
        let user = i * 7 % 5 + 1;
        let url = ["/home", "/cart", "/buy", "/help"][(i * 3 % 4) as usize];
        let amount = (i * 7_919) % 2_003 + 1;
        let ms = i * 700;
        text.push_str(&format!(
            "{user},{url},{amount},2024-01-01 {:02}:{:02}:{:02}.{:03}\n",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        ));
    }
    text
}

/// Users, one line each.
fn users_csv() -> String {
    (1..=5)
        .map(|user| format!("{user},{}\n", ["NL", "FR", "DE"][user % 3]))
        .collect()
}

/// The tables over the files: `extra` is the connector options one engine needs beside
/// the other's (Eddy replays a file as a stream in event-time order; Flink's filesystem
/// source is a bounded stream by itself).
fn tables(dir: &std::path::Path, extra: &str) -> [String; 2] {
    [
        format!(
            "CREATE TABLE events (user_id INT, url STRING, amount INT, ts TIMESTAMP(3), \
             WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'filesystem', \
             'path' = '{}', 'format' = 'csv'{extra})",
            dir.join("events.csv").display()
        ),
        format!(
            "CREATE TABLE users (user_id INT, country STRING) WITH ('connector' = \
             'filesystem', 'path' = '{}', 'format' = 'csv')",
            dir.join("users.csv").display()
        ),
    ]
}

/// Streaming questions of each kind the live display shows: a window aggregation (append),
/// an updating GROUP BY, a Top-N, a join of the stream with a table.
const QUESTIONS: [&str; 4] = [
    "SELECT window_start, window_end, user_id, COUNT(*) AS n, SUM(amount) AS total \
     FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) \
     GROUP BY window_start, window_end, user_id",
    "SELECT url, COUNT(*) AS n, MAX(amount) AS biggest, MIN(amount) AS smallest \
     FROM events GROUP BY url",
    "SELECT user_id, amount, rn FROM (SELECT user_id, amount, ROW_NUMBER() OVER \
     (PARTITION BY user_id ORDER BY amount DESC) AS rn FROM events) WHERE rn <= 3",
    "SELECT u.country, COUNT(*) AS n, SUM(e.amount) AS total FROM events AS e \
     JOIN users AS u ON e.user_id = u.user_id GROUP BY u.country",
];

/// The rows a live display ended with, sorted, after checking it ended by itself.
async fn final_rows(client: &mut Client, question: &str) -> Vec<String> {
    let run = ok(client, &format!("%sql --max-rows 1000\n{question}")).await;
    let status = final_status(&run);
    assert!(status.starts_with("finished after"), "{question}: {status}");
    sorted_rows(&final_table(&run))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flink_runs_the_streaming_questions_and_gives_the_rows_eddy_gives() {
    let flink = flink();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("events.csv"), events_csv()).unwrap();
    std::fs::write(dir.path().join("users.csv"), users_csv()).unwrap();
    let kernel = Kernel::start();
    let mut client = kernel.client().await;

    for ddl in tables(
        dir.path(),
        ", 'csv.header' = 'false', 'source.replay-speed' = 'max'",
    ) {
        ok(
            &mut client,
            &ddl.replace("'csv')", "'csv', 'csv.header' = 'false')"),
        )
        .await;
    }
    let mut eddy = Vec::new();
    for question in QUESTIONS {
        eddy.push(final_rows(&mut client, question).await);
    }

    let connected = ok(&mut client, &format!("%connect flink://{}", flink.gateway)).await;
    assert!(
        connected.displayed().contains("Apache Flink 2.3"),
        "{}",
        connected.displayed()
    );
    // DDL goes to Flink as written, several statements to a cell.
    let [events, users] = tables(dir.path(), "");
    let declared = ok(&mut client, &format!("{events};\n{users};")).await;
    assert!(
        declared
            .all_text()
            .contains("CREATE TABLE done on Flink at flink://"),
        "{}",
        declared.all_text()
    );
    for (question, eddy) in QUESTIONS.iter().zip(&eddy) {
        let run = ok(&mut client, &format!("%sql --max-rows 1000\n{question}")).await;
        let status = final_status(&run);
        assert!(
            status.starts_with("finished after") && status.contains(" · Flink job "),
            "{question}: {status}"
        );
        assert!(!eddy.is_empty(), "{question}");
        assert_eq!(
            &sorted_rows(&final_table(&run)),
            eddy,
            "{question}\n{}",
            run.text()
        );
    }
    // Rows that are not a query's: SHOW, and a batch-mode query.
    let shown = ok(&mut client, "SHOW TABLES").await.text();
    assert!(
        shown.contains("events") && shown.contains("users"),
        "{shown}"
    );
    assert!(shown.contains("ran on Flink at flink://"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_flink_refuses_is_a_flink_error_and_the_session_goes_on() {
    let flink = flink();
    let kernel = Kernel::start();
    let mut client = kernel.client().await;

    let nobody = client.execute("%connect flink://127.0.0.1:9").await;
    assert_eq!(nobody.reply.content["ename"], "FlinkError");
    let said = nobody.reply.content["evalue"].as_str().unwrap_or_default();
    assert!(
        said.contains("no Flink SQL Gateway answers at 127.0.0.1:9"),
        "{said}"
    );

    ok(&mut client, &format!("%connect flink://{}", flink.gateway)).await;
    let missing = client.execute("SELECT * FROM nothere").await;
    assert_eq!(missing.reply.content["ename"], "FlinkError");
    let said = missing.reply.content["evalue"].as_str().unwrap_or_default();
    assert!(said.contains("Object 'nothere' not found"), "{said}");
    let typo = client.execute("SELEC 1").await;
    assert_eq!(
        typo.reply.content["ename"], "FlinkError",
        "{:?}",
        typo.reply.content
    );
    // Flink's own syntax, which Eddy's parser would not take, goes through.
    let rows = ok(
        &mut client,
        "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t (n, s)",
    )
    .await;
    assert!(
        final_status(&rows).starts_with("finished after"),
        "{}",
        rows.text()
    );
    assert_eq!(
        sorted_rows(&final_table(&rows)),
        vec!["| 1 | a |".to_string(), "| 2 | b |".to_string()]
    );

    // The live display's modes and charts take Flink's results as they take Eddy's.
    let counted = "SELECT s, COUNT(*) AS n FROM (VALUES ('a'), ('b'), ('a')) AS t (s) GROUP BY s";
    let changes = ok(&mut client, &format!("%sql --mode changelog\n{counted}")).await;
    let table = final_table(&changes);
    for change in ["| +I | a ", "| -U | a ", "| +U | a "] {
        assert!(table.contains(change), "{change}: {table}");
    }
    let chart = ok(
        &mut client,
        &format!("%sql --chart bar --x s --y n\n{counted}"),
    )
    .await;
    let last = chart
        .broadcasts
        .iter()
        .rev()
        .find(|m| m.msg_type() == "update_display_data")
        .expect("the chart's last state");
    let spec = &last.content["data"]["application/vnd.vegalite.v4+json"];
    assert_eq!(spec["mark"]["type"], "bar", "{spec}");
    assert_eq!(
        spec["data"]["values"].as_array().map(Vec::len),
        Some(2),
        "one bar per group: {spec}"
    );

    let gone = ok(&mut client, "%disconnect").await;
    assert!(gone
        .displayed()
        .contains("Disconnected from the Flink SQL Gateway"));
    // Back in the kernel: Eddy runs the statement.
    assert!(ok(&mut client, "SELECT 41 + 1 AS n")
        .await
        .text()
        .contains("42"));
}

/// The state of each Flink job the JobManager knows, by its REST API (the whole HTTP
/// answer: the JSON is in its body).
fn job_states(rest: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(rest).expect("the JobManager listens");
    write!(
        stream,
        "GET /jobs/overview HTTP/1.1\r\nHost: {rest}\r\nConnection: close\r\n\r\n"
    )
    .expect("the request is sent");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("the JobManager answers");
    answer
}

/// Waits until the JobManager lists a job in `state` besides those in `before`.
async fn wait_for_job(rest: &str, state: &str, before: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let jobs = job_states(rest);
        if jobs.matches(&format!("\"state\":\"{state}\"")).count() > before {
            return jobs;
        }
        assert!(Instant::now() < deadline, "no job {state}: {jobs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_or_cancel_stops_the_flink_job() {
    let flink = flink();
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, &format!("%connect flink://{}", flink.gateway)).await;
    ok(
        &mut client,
        "CREATE TABLE ticks (k INT, v BIGINT) WITH ('connector' = 'datagen', \
         'rows-per-second' = '50', 'fields.k.min' = '1', 'fields.k.max' = '4')",
    )
    .await;

    let cancelled_before = job_states(&flink.rest).matches("\"CANCELED\"").count();
    let running = client
        .start_execute("%sql --refresh 100ms\nSELECT k, COUNT(*) AS n FROM ticks GROUP BY k")
        .await;
    let mut updates = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while updates < 2 {
        assert!(Instant::now() < deadline, "no rows from Flink");
        let message = client.next_iopub().await;
        if message.parent_id() == running && message.msg_type() == "update_display_data" {
            let text = message.content["data"]["text/plain"]
                .as_str()
                .unwrap_or_default();
            if text.contains("| k ") {
                updates += 1;
            }
        }
    }
    client
        .send(Channel::Control, "interrupt_request", json!({}))
        .await;
    client.reply(Channel::Control).await;
    let reply = client.reply(Channel::Shell).await;
    assert_eq!(reply.content["ename"], "Interrupted");
    client.broadcasts_until_idle(&running).await;
    wait_for_job(&flink.rest, "CANCELED", cancelled_before).await;

    // In the background, %jobs lists it and %cancel stops it.
    let started = ok(
        &mut client,
        "%sql --background --refresh 100ms\nSELECT k, v FROM ticks WHERE k = 2",
    )
    .await;
    assert!(
        started.all_text().contains("Started job 1"),
        "{}",
        started.all_text()
    );
    let jobs = ok(&mut client, "%jobs").await.displayed();
    assert!(jobs.contains("[1] running"), "{jobs}");
    // Cancelled once its rows arrive: Flink 2.3's TaskManager dies when a query's task is
    // cancelled while it is still initialising (a NullPointerException closing the collect
    // sink), which a user waiting for rows does not run into.
    let started_id = started.reply.parent_id().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "no rows from the background job");
        let message = client.next_iopub().await;
        if message.parent_id() == started_id
            && message.msg_type() == "update_display_data"
            && message.content["data"]["text/plain"]
                .as_str()
                .is_some_and(|text| text.contains("| 2 "))
        {
            break;
        }
    }
    ok(&mut client, "%cancel 1").await;
    wait_for_job(&flink.rest, "CANCELED", cancelled_before + 1).await;
}
