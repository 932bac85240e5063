//! What a notebook user does between queries: parameters (`${year=2019}`, `%set`),
//! settings (`%config`) and the options of `%sql`, through the real kernel.

mod support;

use support::Kernel;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_take_their_default_until_set() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let run = client.execute("SELECT ${year=2019} AS year").await;
    assert!(run.text().contains("| 2019 |"), "{}", run.text());

    let set = client.execute("%set year=2000").await;
    assert_eq!(set.reply.content["status"], "ok");
    let run = client.execute("SELECT ${year=2019} AS year").await;
    assert!(run.text().contains("| 2000 |"), "{}", run.text());

    let markdown = client.execute("%md\n# Top 10 of ${year}").await;
    let data = &markdown.of_type("display_data")[0].content["data"];
    assert_eq!(data["text/markdown"], "# Top 10 of 2000");

    let listed = client.execute("%set").await;
    let text = listed.displayed();
    assert!(text.contains("year = 2000"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_parameter_is_a_literal_and_cannot_change_the_statement() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    client
        .execute("CREATE TABLE secrets AS VALUES ('hidden')")
        .await;
    client
        .execute("%set who=x' UNION SELECT * FROM secrets --")
        .await;
    let run = client.execute("SELECT ${who} AS who").await;
    assert_eq!(run.reply.content["status"], "ok");
    assert!(
        run.text().contains("x' UNION SELECT * FROM secrets --"),
        "{}",
        run.text()
    );
    assert!(!run.text().contains("hidden"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_parameter_is_an_error_that_says_how_to_set_it() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let run = client.execute("SELECT ${limit}").await;
    assert_eq!(run.reply.content["status"], "error");
    let evalue = run.reply.content["evalue"].as_str().unwrap();
    assert!(evalue.contains("%set limit="), "{evalue}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_and_sql_options_set_how_many_rows_show() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let shown = client.execute("%config").await;
    let text = shown.displayed();
    assert!(text.contains("max_rows = 1000"), "{text}");

    client.execute("%config max_rows=5").await;
    let run = client.execute("SELECT * FROM range(12)").await;
    assert!(
        run.text().ends_with("showing first 5 of 12 rows"),
        "{}",
        run.text()
    );

    let run = client
        .execute("%sql --max-rows 3\nSELECT * FROM range(12)")
        .await;
    assert!(
        run.text().ends_with("showing first 3 of 12 rows"),
        "{}",
        run.text()
    );

    let bad = client.execute("%config max_rows=lots").await;
    assert_eq!(bad.reply.content["ename"], "UsageError");
    let unknown = client.execute("%config colour=blue").await;
    assert!(unknown.reply.content["evalue"]
        .as_str()
        .unwrap()
        .contains("max_rows"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_statement_applies_to_every_statement_after_it() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let before = client.execute("EXPLAIN SELECT 1").await;
    assert!(before.text().contains("logical_plan"), "{}", before.text());

    let set = client
        .execute("SET datafusion.explain.physical_plan_only = true")
        .await;
    assert_eq!(set.reply.content["status"], "ok");
    let after = client.execute("EXPLAIN SELECT 1").await;
    assert!(after.text().contains("physical_plan"), "{}", after.text());
    assert!(!after.text().contains("logical_plan"), "{}", after.text());
}

/// A Flink notebook's first cell: its settings are answered, each saying what it does here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flink_settings_are_answered_as_flink_users_write_them() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let set = client
        .execute("SET 'execution.runtime-mode' = 'streaming';\nSET 'parallelism.default' = '2';")
        .await;
    assert_eq!(set.reply.content["status"], "ok", "{:?}", set.reply.content);
    assert!(
        set.text()
            .contains("'parallelism.default' = '2': accepted, with no effect here"),
        "{}",
        set.text()
    );
    let ttl = client.execute("SET 'table.exec.state.ttl' = '1 h'").await;
    assert_eq!(ttl.reply.content["status"], "ok", "{:?}", ttl.reply.content);
    assert!(
        ttl.text().contains("that no row has touched for that long"),
        "{}",
        ttl.text()
    );
    let zone = client
        .execute("SET 'table.local-time-zone' = 'Europe/Berlin'")
        .await;
    assert_eq!(zone.reply.content["status"], "error");
    let evalue = zone.reply.content["evalue"].as_str().unwrap_or_default();
    assert!(
        evalue.contains("datafusion.execution.time_zone"),
        "{evalue}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn now_is_the_time_each_statement_starts() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let query = "SELECT CAST(now() AS VARCHAR) AS t";
    let first = client.execute(query).await.text();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let second = client.execute(query).await.text();
    assert!(first.contains("| 20"), "{first}");
    assert_ne!(first, second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_options_have_help_and_reject_typos() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let help = client.execute("%sql --help").await;
    let text = help.displayed();
    assert!(text.contains("--chart"), "{text}");

    let typo = client.execute("%sql --chrt bar\nSELECT 1").await;
    assert_eq!(typo.reply.content["ename"], "UsageError");
    assert!(typo.reply.content["evalue"]
        .as_str()
        .unwrap()
        .contains("--chrt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_cell_with_csv_lines_defines_the_table() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let made = client
        .execute("%table genres\ngenre_id,name,share\n1,Drama,0.4\n2,\"Comedy, dark\",0.1")
        .await;
    assert_eq!(
        made.reply.content["status"], "ok",
        "{:?}",
        made.reply.content
    );
    let shown = made.all_text();
    assert!(
        shown.contains("in memory") && shown.contains("2 rows"),
        "{shown}"
    );
    assert!(
        shown.contains("BIGINT") && shown.contains("DOUBLE"),
        "{shown}"
    );
    let run = client
        .execute("SELECT name FROM genres WHERE genre_id = 2")
        .await;
    assert!(run.text().contains("Comedy, dark"), "{}", run.text());

    let ragged = client.execute("%table bad\na,b\n1,2,3").await;
    assert_eq!(ragged.reply.content["status"], "error");
}

/// Names keep their case, as in Flink: a table and its columns are named as declared, and
/// another case is another name, with the declared one suggested.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_keep_the_case_they_were_declared_with() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let made = client
        .execute(
            "%table Person
id,emailAddress
1,ann@example.com
2,bob@example.com",
        )
        .await;
    assert_eq!(
        made.reply.content["status"], "ok",
        "{:?}",
        made.reply.content
    );
    let run = client
        .execute("SELECT emailAddress FROM Person WHERE id = 2")
        .await;
    assert!(run.text().contains("bob@example.com"), "{}", run.all_text());
    let described = client.execute("%table Person").await;
    assert!(
        described.all_text().contains("emailAddress"),
        "{}",
        described.all_text()
    );

    let wrong = client.execute("SELECT emailaddress FROM Person").await;
    assert_eq!(wrong.reply.content["status"], "error");
    let said = wrong.reply.content.to_string();
    assert!(said.contains("emailAddress"), "{said}");
    assert!(said.contains("as in Flink"), "{said}");
    assert!(!said.contains("enable_ident_normalization"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_cell_carries_vega_lite_and_a_static_svg_but_no_html() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    client
        .execute("CREATE TABLE films AS VALUES ('Drama', 40), ('Comedy', 25), ('Horror', 10)")
        .await;
    let run = client
        .execute(
            "%sql --chart bar --x genre --y films --title 'Films per genre'\n\
             SELECT column1 AS genre, column2 AS films FROM films ORDER BY films DESC",
        )
        .await;
    assert_eq!(run.reply.content["status"], "ok", "{:?}", run.reply.content);
    let data = &run.of_type("execute_result")[0].content["data"];
    let keys: Vec<&String> = data.as_object().unwrap().keys().collect();
    assert!(data.get("text/html").is_none(), "{keys:?}");
    let spec = &data["application/vnd.vegalite.v4+json"];
    assert!(spec["$schema"].as_str().unwrap().contains("v4"));
    assert_eq!(spec["mark"]["type"], "bar");
    assert_eq!(spec["encoding"]["x"]["field"], "genre");
    assert_eq!(spec["data"]["values"].as_array().unwrap().len(), 3);
    assert!(spec["description"]
        .as_str()
        .unwrap()
        .contains("films by genre"));
    let svg = data["image/svg+xml"].as_str().unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("Films per genre"),
        "{}",
        &svg[..200]
    );
    assert!(data["text/plain"].as_str().unwrap().contains("Bar chart"));

    let table_chart = client
        .execute("%table films --chart arc --x column1 --y column2")
        .await;
    let data = &table_chart.of_type("execute_result")[0].content["data"];
    assert_eq!(
        data["application/vnd.vegalite.v4+json"]["mark"]["type"],
        "arc"
    );

    let auto = client
        .execute("%sql --chart auto\nSELECT value FROM range(100)")
        .await;
    let data = &auto.of_type("execute_result")[0].content["data"];
    assert!(data["text/plain"].as_str().unwrap().contains("Histogram"));

    let wrong = client
        .execute("%sql --chart line --x nope\nSELECT 1 AS a")
        .await;
    assert_eq!(wrong.reply.content["ename"], "ChartError");
    assert!(wrong.reply.content["evalue"]
        .as_str()
        .unwrap()
        .contains("nope"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_the_memory_limit_fails_clearly_and_the_session_goes_on() {
    let kernel = Kernel::start_with_env(&[("EDDY_MEMORY_LIMIT", "64MiB")]);
    let mut client = kernel.client().await;
    client.execute("CREATE TABLE kept AS VALUES (1)").await;
    let config = client.execute("%config").await;
    let text = config.displayed();
    assert!(text.contains("memory_limit = 64.0 MiB"), "{text}");

    // A hash join of 4 million keys per side needs far more than 64 MiB and cannot spill.
    let join = client
        .execute(
            "SELECT count(*) FROM range(4000000) a JOIN range(4000000) b \
             ON a.value = b.value",
        )
        .await;
    assert_eq!(
        join.reply.content["ename"], "ResourcesExhausted",
        "{:?}",
        join.reply.content
    );
    let evalue = join.reply.content["evalue"].as_str().unwrap();
    assert!(evalue.contains("EDDY_MEMORY_LIMIT"), "{evalue}");

    // A join of two streams keeps every row of both sides (no state TTL): past the limit
    // the query fails, naming what holds the state, and the session goes on.
    client
        .execute(
            "CREATE TABLE wide (id BIGINT, pad STRING) WITH ('connector' = 'datagen', \
             'number-of-rows' = '800000', 'rows-per-second' = '1000000000', \
             'fields.id.kind' = 'sequence', 'fields.id.start' = '1', \
             'fields.id.end' = '800000', 'fields.pad.length' = '200');
             CREATE VIEW lefts AS SELECT id, pad FROM wide WHERE id % 2 = 0;
             CREATE VIEW rights AS SELECT id + 1 AS id, pad FROM wide WHERE id % 2 = 1",
        )
        .await;
    let kept = client
        .execute("SELECT l.id, r.pad FROM lefts l JOIN rights r ON l.id = r.id")
        .await;
    assert_eq!(
        kept.reply.content["ename"],
        "ResourcesExhausted",
        "{:?}\n{}",
        kept.reply.content,
        kept.text()
    );
    let evalue = kept.reply.content["evalue"].as_str().unwrap();
    assert!(
        evalue.contains("the rows the join of streams keeps")
            && evalue.contains("table.exec.state.ttl"),
        "{evalue}"
    );

    let small = client
        .execute("SELECT sum(value) AS s FROM range(1000000)")
        .await;
    assert!(small.text().contains("499999500000"), "{}", small.text());
    let after = client.execute("SELECT * FROM kept").await;
    assert_eq!(after.reply.content["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sort_larger_than_the_memory_limit_spills_and_succeeds() {
    let kernel = Kernel::start_with_env(&[("EDDY_MEMORY_LIMIT", "32MiB")]);
    let mut client = kernel.client().await;
    // 8 million (key, value) pairs are 128 MB to sort: four times the limit. The keys are a
    // permutation of 0..8M, so the sorted result starts 0, 1, 2.
    let run = client
        .execute("SELECT (value * 7919) % 8000000 AS k, value FROM range(8000000) ORDER BY k")
        .await;
    assert_eq!(run.reply.content["status"], "ok", "{:?}", run.reply.content);
    let text = run.text();
    let keys: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with('|'))
        .skip(1)
        .take(3)
        .filter_map(|line| line.split('|').nth(1))
        .map(str::trim)
        .collect();
    assert_eq!(keys, ["0", "1", "2"], "{text}");
    assert!(
        text.contains("showing first 1000 of 8000000 rows"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flink_functions_behave_as_in_flink() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let run = client
        .execute(
            "SELECT YEAR(TIMESTAMP '2019-07-14 10:30:00') AS y, \
                    DAYOFWEEK(DATE '2026-11-22') AS sunday, \
                    DATE_FORMAT(TIMESTAMP '2019-07-14 10:30:00', 'yyyy-MM') AS month, \
                    TO_TIMESTAMP('14/07/2019', 'dd/MM/yyyy') AS parsed, \
                    TO_TIMESTAMP('not a date') AS bad, \
                    IF(1 > 2, 'yes', 'no') AS answer",
        )
        .await;
    assert_eq!(run.reply.content["status"], "ok", "{:?}", run.reply.content);
    let text = run.text();
    for expected in [
        "| 2019 |",
        "| 1      |",
        "| 2019-07 |",
        "2019-07-14T00:00:00",
        "| NULL |",
        "| no ",
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_statement_shows_a_progress_line_that_its_result_replaces() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    // Show the line at once, so that any statement counts as long.
    client.execute("%config progress_after_ms=0").await;
    let run = client.execute("SELECT count(*) AS n FROM range(100)").await;
    assert_eq!(run.reply.content["status"], "ok");
    let shown = run.of_type("display_data");
    assert_eq!(shown.len(), 1, "{:?}", run.types());
    let id = shown[0].content["transient"]["display_id"]
        .as_str()
        .unwrap();
    assert!(shown[0].content["data"]["text/plain"]
        .as_str()
        .unwrap()
        .starts_with("running…"));
    let updates = run.of_type("update_display_data");
    let last = updates.last().expect("the result replaces the line");
    assert_eq!(last.content["transient"]["display_id"], id);
    assert!(last.content["data"]["text/plain"]
        .as_str()
        .unwrap()
        .contains("| 100 |"));
    assert!(
        run.of_type("execute_result").is_empty(),
        "{:?}",
        run.types()
    );

    // By default (1 s) a quick statement shows no line: just its result.
    client.execute("%config progress_after_ms=1000").await;
    let quick = client.execute("SELECT 1").await;
    assert_eq!(
        quick.types(),
        vec!["status", "execute_input", "execute_result", "status"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_progress_line_counts_the_rows_read_so_far() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("numbers.csv");
    let mut csv = String::from("n,label\n");
    for i in 0..400_000 {
        csv.push_str(&format!("{i},row {i}\n"));
    }
    std::fs::write(&file, csv).unwrap();
    client.execute("%config progress_after_ms=0").await;
    // The same file read by DataFusion's CSV scan and by the lenient one.
    for (table, extra) in [
        ("numbers", ""),
        ("lenient_numbers", ", 'csv.ignore-parse-errors' = 'true'"),
    ] {
        client
            .execute(&format!(
                "CREATE TABLE {table} (n BIGINT, label STRING) WITH ('connector' = \
                 'filesystem', 'path' = '{}', 'format' = 'csv'{extra})",
                file.display()
            ))
            .await;
        // Slow enough to be seen mid-way: a regular expression over a long string per row.
        let run = client
            .execute(&format!(
                "SELECT COUNT(DISTINCT regexp_replace(repeat(label, 40), '[0-9]+', 'x', 'g')) \
                 AS n FROM {table}"
            ))
            .await;
        assert_eq!(run.reply.content["status"], "ok", "{:?}", run.reply.content);
        let lines: Vec<&str> = run
            .broadcasts
            .iter()
            .filter_map(|m| m.content["data"]["text/plain"].as_str())
            .filter(|t| t.starts_with("running…"))
            .collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains(" rows read") && !l.contains(" 0 rows")),
            "{table}: {lines:?}"
        );
    }
}
