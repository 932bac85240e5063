//! The Jupyter messaging protocol, as any client sees it: every request type of the shell
//! and control channels, broadcasts on IOPub, the heartbeat, bad messages, interrupts and
//! shutdown. Each test starts the real `eddy` binary.

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::{Channel, Kernel, Transport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_info_is_answered_on_shell_and_control_between_busy_and_idle() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    for channel in [Channel::Shell, Channel::Control] {
        let info = client
            .request(channel, "kernel_info_request", json!({}))
            .await;
        assert_eq!(info.reply.msg_type(), "kernel_info_reply");
        let content = &info.reply.content;
        assert_eq!(content["status"], "ok");
        assert_eq!(content["protocol_version"], "5.5");
        assert_eq!(content["implementation"], "eddy");
        let language = &content["language_info"];
        assert_eq!(language["name"], "sql");
        assert_eq!(language["mimetype"], "text/x-sql");
        assert_eq!(language["file_extension"], ".sql");
        assert_eq!(language["codemirror_mode"], "sql");
        assert_eq!(language["pygments_lexer"], "sql");
        assert!(content["banner"].as_str().unwrap().contains("Eddy"));
        assert!(content["help_links"].as_array().is_some());
        let states: Vec<_> = info
            .broadcasts
            .iter()
            .map(|m| m.content["execution_state"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(states, vec!["busy", "idle"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_publishes_input_result_and_reply_in_order() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let run = client.execute("SELECT 1 AS one, 'Amélie' AS title").await;
    assert_eq!(run.reply.content["status"], "ok");
    assert_eq!(run.reply.content["execution_count"], 1);
    assert_eq!(
        run.types(),
        vec!["status", "execute_input", "execute_result", "status"]
    );
    let input = &run.of_type("execute_input")[0].content;
    assert_eq!(input["code"], "SELECT 1 AS one, 'Amélie' AS title");
    assert_eq!(input["execution_count"], 1);
    let result = &run.of_type("execute_result")[0].content;
    assert_eq!(result["execution_count"], 1);
    assert_eq!(
        result["data"]["text/plain"],
        "+-----+--------+\n| one | title  |\n+-----+--------+\n| 1   | Amélie |\n+-----+--------+"
    );
    let html = result["data"]["text/html"].as_str().unwrap();
    assert!(html.contains("<th>one<br>"), "{html}");
    assert!(html.contains("BIGINT"));
    assert!(html.contains("<td>Amélie</td>"));

    let second = client.execute("SELECT 2").await;
    assert_eq!(second.reply.content["execution_count"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_statement_of_a_cell_shows_its_result_and_tables_persist() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let run = client
        .execute(
            "-- a comment\nCREATE TABLE t AS VALUES (1, 'a'), (2, 'b');\n\
             /* another */ SELECT count(*) AS n FROM t;",
        )
        .await;
    assert_eq!(run.reply.content["status"], "ok");
    let displayed = run.of_type("display_data");
    assert_eq!(displayed.len(), 1);
    assert_eq!(
        displayed[0].content["data"]["text/plain"],
        "Created table t."
    );
    assert!(run.text().contains("| 2 |"), "{}", run.text());

    let later = client
        .execute("SELECT column2 FROM t ORDER BY column1 DESC")
        .await;
    assert!(later.text().contains("| b       |"), "{}", later.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_result_shows_its_first_rows_and_the_exact_count() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let run = client.execute("SELECT * FROM range(5000)").await;
    let text = run.text();
    assert!(text.ends_with("showing first 1000 of 5000 rows"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syntax_error_is_one_error_message_with_a_caret() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let run = client
        .execute("%sql\nSELECT 1;\nSELECT count(* FROM t")
        .await;
    assert_eq!(run.reply.content["status"], "error");
    assert_eq!(run.reply.content["ename"], "SyntaxError");
    let errors = run.of_type("error");
    assert_eq!(errors.len(), 1, "exactly one error broadcast");
    let traceback: Vec<&str> = errors[0].content["traceback"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert!(traceback[0].starts_with("SyntaxError: "), "{traceback:?}");
    assert!(
        traceback.contains(&"3 | SELECT count(* FROM t"),
        "{traceback:?}"
    );
    assert!(
        traceback.iter().any(|l| l.trim_end().ends_with('^')),
        "{traceback:?}"
    );
    // Nothing of the cell ran: the parse failed before the first statement.
    assert!(run.of_type("display_data").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_table_error_gives_a_hint() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let run = client.execute("SELECT * FROM no_such_table").await;
    assert_eq!(run.reply.content["ename"], "PlanError");
    let evalue = run.reply.content["evalue"].as_str().unwrap();
    assert!(evalue.contains("no_such_table"), "{evalue}");
    let traceback = run.reply.content["traceback"].to_string();
    assert!(traceback.contains("hint: SHOW TABLES"), "{traceback}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_on_error_aborts_the_cells_queued_behind_a_failure() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let execute = |code: &str| {
        json!({ "code": code, "silent": false, "store_history": true,
                "user_expressions": {}, "allow_stdin": false, "stop_on_error": true })
    };
    // The failing cell fails after a scan, so that the next one is surely queued by then.
    let failing = client
        .send(
            Channel::Shell,
            "execute_request",
            execute("SELECT sum(value % 7) / 0 FROM range(20000000)"),
        )
        .await;
    let queued = client
        .send(
            Channel::Shell,
            "execute_request",
            execute("CREATE TABLE x AS SELECT 1"),
        )
        .await;
    let first = client.reply(Channel::Shell).await;
    assert_eq!(first.parent_id(), failing);
    assert_eq!(first.content["status"], "error");
    let second = client.reply(Channel::Shell).await;
    assert_eq!(second.parent_id(), queued);
    assert_eq!(second.content["status"], "error", "aborted, not 'aborted'");
    // The aborted cell did not run; a cell sent after the replies runs (it is not
    // aborted too): it fails only because x was never created.
    let check = client.execute("SELECT * FROM x").await;
    assert_eq!(
        check.reply.content["ename"], "PlanError",
        "{:?}",
        check.reply.content
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magics_route_cells() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;

    let markdown = client.execute("%md\n# Title\nSome *text*").await;
    let data = &markdown.of_type("display_data")[0].content["data"];
    assert_eq!(data["text/markdown"], "# Title\nSome *text*");
    assert!(data["text/plain"].is_string());

    let magics = client.execute("%lsmagic").await;
    for magic in ["%sql", "%table", "%md", "%lsmagic"] {
        assert!(magics.text().contains(magic), "{}", magics.text());
    }

    client
        .execute("CREATE TABLE movies (movie_id BIGINT NOT NULL, title VARCHAR)")
        .await;
    let table = client.execute("%table movies").await;
    let text = table.all_text();
    assert!(
        text.contains("movie_id") && text.contains("BIGINT"),
        "{text}"
    );
    assert!(text.contains("title") && text.contains("STRING"), "{text}");

    let missing = client.execute("%table nothing").await;
    assert_eq!(missing.reply.content["ename"], "UnknownTable");

    let unknown = client.execute("%python\nprint(1)").await;
    assert_eq!(unknown.reply.content["ename"], "UnknownMagic");
    let traceback = unknown.reply.content["traceback"].to_string();
    assert!(
        traceback.contains("%lsmagic"),
        "lists the magics: {traceback}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn is_complete_is_decided_by_the_sql_parser() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    for (code, status) in [
        ("SELECT 1", "complete"),
        ("SELECT (1", "incomplete"),
        ("SELECT 'open", "incomplete"),
        ("SELEC 1", "invalid"),
        ("%md\n# anything", "complete"),
    ] {
        let reply = client
            .request(
                Channel::Shell,
                "is_complete_request",
                json!({ "code": code }),
            )
            .await
            .reply;
        assert_eq!(reply.content["status"], status, "{code}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_offers_keywords_functions_tables_columns_and_magics() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    client
        .execute("CREATE TABLE ratings (rating_score INT, user_id BIGINT)")
        .await;
    let mut complete = async |code: &str, cursor: usize| {
        client
            .request(
                Channel::Shell,
                "complete_request",
                json!({ "code": code, "cursor_pos": cursor }),
            )
            .await
            .reply
            .content
    };
    let matches = |reply: &serde_json::Value| -> Vec<String> {
        serde_json::from_value(reply["matches"].clone()).unwrap()
    };

    let reply = complete("SEL", 3).await;
    assert!(matches(&reply).contains(&"SELECT".to_string()));
    assert_eq!(
        (reply["cursor_start"].as_u64(), reply["cursor_end"].as_u64()),
        (Some(0), Some(3))
    );

    let reply = complete("SELECT * FROM rat", 17).await;
    assert_eq!(matches(&reply)[0], "ratings");

    let code = "SELECT 'ça', rating_s FROM ratings";
    let cursor = "SELECT 'ça', rating_s".chars().count();
    let reply = complete(code, cursor).await;
    assert_eq!(matches(&reply)[0], "rating_score");
    assert_eq!(reply["cursor_start"].as_u64(), Some(cursor as u64 - 8));

    let reply = complete("SELECT appro", 12).await;
    assert!(matches(&reply).iter().any(|m| m == "approx_distinct"));

    let reply = complete("%ls", 3).await;
    assert_eq!(matches(&reply), vec!["%lsmagic"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspection_describes_tables_and_functions() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    client.execute("CREATE TABLE users (user_id BIGINT)").await;
    let mut inspect = async |code: &str, cursor: usize| {
        client
            .request(
                Channel::Shell,
                "inspect_request",
                json!({ "code": code, "cursor_pos": cursor, "detail_level": 0 }),
            )
            .await
            .reply
            .content
    };
    let table = inspect("SELECT * FROM users", 17).await;
    assert_eq!(table["found"], true);
    assert!(table["data"]["text/plain"]
        .as_str()
        .unwrap()
        .contains("user_id"));

    let function = inspect("SELECT abs(-1)", 9).await;
    assert_eq!(function["found"], true);
    let doc = function["data"]["text/markdown"].as_str().unwrap();
    assert!(
        doc.contains("abs") && doc.contains("scalar function"),
        "{doc}"
    );

    let nothing = inspect("SELECT 1", 8).await;
    assert_eq!(nothing["found"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_supports_tail_range_and_search_across_restarts() {
    let data_dir = tempfile::tempdir().unwrap();
    {
        let mut first = Kernel::start_with(Transport { tcp: false }, Some(data_dir.path()));
        let mut client = first.client().await;
        client.execute("SELECT 'first kernel'").await;
        client
            .request(
                Channel::Control,
                "shutdown_request",
                json!({ "restart": false }),
            )
            .await;
        assert!(first.wait_exit(Duration::from_secs(10)).await.is_some());
    }
    let kernel = Kernel::start_with(Transport { tcp: false }, Some(data_dir.path()));
    let mut client = kernel.client().await;
    client.execute("SELECT 1").await;
    client.execute("SELECT 2").await;
    let mut history = async |request: serde_json::Value| {
        client
            .request(Channel::Shell, "history_request", request)
            .await
            .reply
            .content["history"]
            .clone()
    };
    let tail =
        history(json!({ "hist_access_type": "tail", "n": 3, "output": false, "raw": true })).await;
    let inputs: Vec<&str> = tail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[2].as_str().unwrap())
        .collect();
    assert_eq!(
        inputs,
        vec!["SELECT 'first kernel'", "SELECT 1", "SELECT 2"]
    );
    assert_ne!(tail[0][0], tail[1][0], "a restart starts a new session");

    let range = history(
        json!({ "hist_access_type": "range", "session": 0, "start": 2,
                                "stop": 3, "output": false, "raw": true }),
    )
    .await;
    assert_eq!(range.as_array().unwrap().len(), 1);
    assert_eq!(range[0][2], "SELECT 2");

    let search = history(json!({ "hist_access_type": "search", "pattern": "*kernel*",
                                 "n": 10, "output": false, "raw": true, "unique": true }))
    .await;
    assert_eq!(search.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comms_are_answered_without_crashing() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let info = client
        .request(Channel::Shell, "comm_info_request", json!({}))
        .await;
    assert_eq!(info.reply.content, json!({ "status": "ok", "comms": {} }));

    let msg_id = client
        .send(
            Channel::Shell,
            "comm_open",
            json!({ "comm_id": "c1", "target_name": "jupyter.widget", "data": {} }),
        )
        .await;
    let broadcasts = client.broadcasts_until_idle(&msg_id).await;
    let close = broadcasts
        .iter()
        .find(|m| m.msg_type() == "comm_close")
        .unwrap();
    assert_eq!(close.content["comm_id"], "c1");
    let msg_id = client
        .send(
            Channel::Shell,
            "comm_msg",
            json!({ "comm_id": "c1", "data": {} }),
        )
        .await;
    client.broadcasts_until_idle(&msg_id).await;
    assert_eq!(
        client.execute("SELECT 1").await.reply.content["status"],
        "ok"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_are_dropped_and_the_kernel_stays_up() {
    let mut kernel = Kernel::start();
    let mut client = kernel.client().await;
    let (_, good) = client.frames("kernel_info_request", json!({}));

    let mut bad_signature = good.clone();
    bad_signature[1] = bytes::Bytes::from("0".repeat(64));
    let mut not_json = good.clone();
    not_json[5] = bytes::Bytes::from_static(b"{not json");
    let (_, mut no_header_fields) = client.frames("kernel_info_request", json!({}));
    no_header_fields[2] = bytes::Bytes::from_static(b"{\"msg_id\": \"x\"}");
    let header = no_header_fields[2].clone();
    let signature = client.sign(&[&header, b"{}", b"{}", b"{}"]);
    no_header_fields[1] = bytes::Bytes::from(signature);
    let truncated = good[..3].to_vec();
    let garbage = vec![bytes::Bytes::from_static(&[0xff, 0x00, 0x13, 0x37])];

    for frames in [
        bad_signature,
        not_json,
        no_header_fields,
        truncated,
        garbage,
    ] {
        client.send_frames(Channel::Shell, frames.clone()).await;
        client.send_frames(Channel::Control, frames).await;
    }
    // Replay: the same signed message twice is answered once.
    client.send_frames(Channel::Shell, good.clone()).await;
    let answered = client.reply(Channel::Shell).await;
    assert_eq!(answered.msg_type(), "kernel_info_reply");
    client.send_frames(Channel::Shell, good).await;
    assert!(
        client
            .try_reply(Channel::Shell, Duration::from_millis(500))
            .await
            .is_none(),
        "a replayed message gets no answer"
    );

    assert!(kernel.is_running());
    let run = client.execute("SELECT 42").await;
    assert_eq!(run.reply.content["status"], "ok");
    let info = client
        .request(Channel::Control, "kernel_info_request", json!({}))
        .await;
    assert_eq!(info.reply.content["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_cancels_a_long_query_quickly_and_keeps_the_tables() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    client.execute("CREATE TABLE kept AS VALUES (7)").await;
    let long = client
        .send(
            Channel::Shell,
            "execute_request",
            json!({ "code": "SELECT sum(value % 7) FROM range(100000000000)",
                    "silent": false, "store_history": true, "user_expressions": {},
                    "allow_stdin": false, "stop_on_error": true }),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // While the query runs, heartbeat and control still answer.
    assert!(
        client.ping(Duration::from_millis(500)).await,
        "heartbeat while busy"
    );
    let info = client
        .request(Channel::Control, "kernel_info_request", json!({}))
        .await;
    assert_eq!(info.reply.content["status"], "ok");

    let asked = Instant::now();
    client
        .send(Channel::Control, "interrupt_request", json!({}))
        .await;
    let interrupt = client.reply(Channel::Control).await;
    assert_eq!(interrupt.msg_type(), "interrupt_reply");
    let reply = client.reply(Channel::Shell).await;
    let took = asked.elapsed();
    assert_eq!(reply.parent_id(), long);
    assert_eq!(reply.content["status"], "error");
    assert_eq!(reply.content["ename"], "Interrupted");
    assert!(took < Duration::from_millis(200), "cancelled in {took:?}");

    let after = client.execute("SELECT * FROM kept").await;
    assert!(
        after.text().contains("| 7 "),
        "{:?} {:?}",
        after.reply.content,
        after.types()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_the_kernel_with_exit_code_zero() {
    for restart in [false, true] {
        let mut kernel = Kernel::start();
        let mut client = kernel.client().await;
        let shutdown = client
            .request(
                Channel::Control,
                "shutdown_request",
                json!({ "restart": restart }),
            )
            .await;
        assert_eq!(
            shutdown.reply.content,
            json!({ "status": "ok", "restart": restart })
        );
        let status = kernel
            .wait_exit(Duration::from_secs(5))
            .await
            .expect("exits");
        assert!(status.success(), "{status:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_during_a_long_query_is_prompt() {
    let mut kernel = Kernel::start();
    let mut client = kernel.client().await;
    client
        .send(
            Channel::Shell,
            "execute_request",
            json!({ "code": "SELECT sum(value % 7) FROM range(100000000000)" }),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    client
        .send(
            Channel::Control,
            "shutdown_request",
            json!({ "restart": false }),
        )
        .await;
    let status = kernel
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("exits");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tcp_transport_works_too() {
    let kernel = Kernel::start_with(Transport { tcp: true }, None);
    let mut client = kernel.client().await;
    assert!(client.ping(Duration::from_secs(2)).await);
    let run = client.execute("SELECT 'over tcp' AS how").await;
    assert!(run.text().contains("over tcp"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_expressions_are_evaluated_as_sql() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let run = client
        .request(
            Channel::Shell,
            "execute_request",
            json!({ "code": "SELECT 1", "silent": false, "store_history": true,
                    "user_expressions": { "two": "1 + 1", "bad": "nope(", "sneaky": "1; DROP TABLE t" },
                    "allow_stdin": false, "stop_on_error": true }),
        )
        .await;
    let expressions = &run.reply.content["user_expressions"];
    assert_eq!(expressions["two"]["status"], "ok");
    assert_eq!(expressions["two"]["data"]["text/plain"], "2");
    assert_eq!(expressions["bad"]["status"], "error");
    assert_eq!(expressions["sneaky"]["status"], "error", "{expressions}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_execution_publishes_nothing_but_status() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let run = client
        .request(
            Channel::Shell,
            "execute_request",
            json!({ "code": "SELECT 1", "silent": true, "store_history": false }),
        )
        .await;
    assert_eq!(run.types(), vec!["status", "status"]);
    assert_eq!(run.reply.content["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kernel_exits_when_the_process_that_started_it_is_gone() {
    // jupyter_client names the kernel's parent in JPY_PARENT_PID; a server that exits
    // without shutting its kernels down must not leave them running.
    let mut parent = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("sleep");
    let pid = parent.id().to_string();
    let mut kernel = Kernel::start_with_env(&[("JPY_PARENT_PID", pid.as_str())]);
    let mut client = kernel.client().await;
    let info = client
        .request(Channel::Shell, "kernel_info_request", json!({}))
        .await;
    assert_eq!(info.reply.content["status"], "ok");
    assert!(kernel.is_running());
    parent.kill().expect("kill");
    parent.wait().expect("reaped");
    let status = kernel
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("the kernel exits after its parent");
    assert!(status.success(), "{status:?}");
}
