//! Flink-style tables over files: `CREATE TABLE … WITH ('connector' = 'filesystem', …)`
//! over csv, json and parquet, as a notebook user writes them, through the real kernel.

mod support;

#[path = "support/ballista_cluster.rs"]
mod ballista_cluster;
mod cluster;

use support::Kernel;

const MOVIES_CSV: &str = "movie_id,movie_title,movie_release_year,movie_popularity\n\
1,\"Amélie, or the Fabulous Destiny\",2001,105\n\
2,La Haine,1995,\n\
3,\"The \"\"Quoted\"\" One\",2019,7\n";

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_file_declared_with_flink_ddl_is_queryable() {
    let kernel = Kernel::start();
    let path = write(kernel.dir.path(), "movies.csv", MOVIES_CSV);
    let mut client = kernel.client().await;
    let create = client
        .execute(&format!(
            "CREATE TABLE movies (\n  movie_id BIGINT,\n  movie_title STRING,\n  \
             movie_release_year INT,\n  movie_popularity DOUBLE\n) WITH (\n  \
             'connector' = 'filesystem',\n  'path' = '{path}',\n  'format' = 'csv'\n)"
        ))
        .await;
    assert_eq!(
        create.reply.content["status"], "ok",
        "{:?}",
        create.reply.content
    );
    assert_eq!(create.text(), "Created table movies.");

    let run = client
        .execute("SELECT movie_title, movie_popularity FROM movies ORDER BY movie_id")
        .await;
    let text = run.text();
    assert!(
        text.contains("| Amélie, or the Fabulous Destiny | 105.0 "),
        "{text}"
    );
    assert!(
        text.contains("| La Haine                        | NULL "),
        "{text}"
    );
    assert!(text.contains("The \"Quoted\" One"), "{text}");
    let html = run.of_type("execute_result")[0].content["data"]["text/html"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(html.contains("DOUBLE"), "types in the header: {html}");

    let table = client.execute("%table movies").await;
    let shown = table.all_text();
    assert!(
        shown.contains("filesystem") && shown.contains("csv"),
        "{shown}"
    );
    assert!(shown.contains("3 rows"), "{shown}");
    assert!(
        shown.contains("movie_release_year") && shown.contains("INT"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directories_globs_json_and_parquet_are_tables_too() {
    let kernel = Kernel::start();
    let dir = kernel.dir.path();
    write(dir, "parts/a.csv", "id,v\n1,10\n2,20\n");
    write(dir, "parts/b.csv", "id,v\n3,30\n");
    write(dir, "parts/notes.txt", "not a csv file");
    let json = write(
        dir,
        "events.json",
        "{\"id\": 1, \"kind\": \"click\"}\n{\"id\": 2, \"kind\": \"view\"}\n",
    );
    let parts = dir.join("parts").to_string_lossy().into_owned();
    let parquet = dir.join("out.parquet").to_string_lossy().into_owned();
    let mut client = kernel.client().await;

    let ddl = |name: &str, columns: &str, path: &str, format: &str| {
        format!("CREATE TABLE {name} ({columns}) WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = '{format}')")
    };
    client
        .execute(&ddl("whole_dir", "id BIGINT, v BIGINT", &parts, "csv"))
        .await;
    let run = client
        .execute("SELECT sum(v) AS total FROM whole_dir")
        .await;
    assert!(run.text().contains("| 60 "), "{}", run.text());

    let glob = format!("{parts}/a*.csv");
    client
        .execute(&ddl("globbed", "id BIGINT, v BIGINT", &glob, "csv"))
        .await;
    let run = client.execute("SELECT count(*) AS n FROM globbed").await;
    assert!(run.text().contains("| 2 "), "{}", run.text());

    client
        .execute(&ddl("events", "id BIGINT, kind STRING", &json, "json"))
        .await;
    let run = client.execute("SELECT kind FROM events WHERE id = 2").await;
    assert!(run.text().contains("view"), "{}", run.text());

    let copied = client
        .execute(&format!(
            "COPY (SELECT * FROM whole_dir) TO '{parquet}' STORED AS PARQUET"
        ))
        .await;
    assert_eq!(
        copied.reply.content["status"], "ok",
        "{:?}",
        copied.reply.content
    );
    client
        .execute(&ddl(
            "from_parquet",
            "id BIGINT, v BIGINT",
            &parquet,
            "parquet",
        ))
        .await;
    let run = client
        .execute("SELECT max(v) AS top FROM from_parquet")
        .await;
    assert!(run.text().contains("| 30 "), "{}", run.text());
}

/// Nested JSON as Flink declares it: a ROW column, its fields selected and named after the
/// field, and the column's type shown as Flink writes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_rows_are_declared_selected_and_shown_as_in_flink() {
    let kernel = Kernel::start();
    let json = write(
        kernel.dir.path(),
        "bids.json",
        "{\"event_type\": 2, \"bid\": {\"auction\": 7, \"price\": 120}, \"tags\": [\"a\"]}\n\
         {\"event_type\": 2, \"bid\": {\"auction\": 8, \"price\": 150}, \"tags\": []}\n",
    );
    let mut client = kernel.client().await;
    let create = client
        .execute(&format!(
            "CREATE TABLE events (event_type INT, bid ROW<auction BIGINT, price BIGINT>, \
             tags ARRAY<STRING>) WITH ('connector' = 'filesystem', 'path' = '{json}', \
             'format' = 'json')"
        ))
        .await;
    assert_eq!(
        create.reply.content["status"],
        "ok",
        "{}",
        create.all_text()
    );

    let run = client
        .execute("SELECT bid.auction, bid.price FROM events ORDER BY bid.price")
        .await;
    let text = run.text();
    assert!(text.contains("| auction | price |"), "{text}");
    assert!(text.contains("| 8       | 150   |"), "{text}");

    let whole = client
        .execute("SELECT * FROM events ORDER BY bid.price")
        .await;
    let text = whole.text();
    assert!(text.contains("{auction: 7, price: 120}"), "{text}");
    let html = whole.of_type("execute_result")[0].content["data"]["text/html"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        html.contains("ROW&lt;auction BIGINT, price BIGINT&gt;"),
        "{html}"
    );
    assert!(html.contains("ARRAY&lt;STRING&gt;"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_options_change_how_the_file_is_read() {
    let kernel = Kernel::start();
    let path = write(kernel.dir.path(), "plain.csv", "1;N/A;x\n2;5;y\n");
    let mut client = kernel.client().await;
    let create = client
        .execute(&format!(
            "CREATE TABLE plain (id INT, score INT, tag STRING) WITH ('connector' = 'filesystem', \
             'path' = '{path}', 'format' = 'csv', 'csv.header' = 'false', \
             'csv.field-delimiter' = ';', 'csv.null-literal' = 'N/A')"
        ))
        .await;
    assert_eq!(
        create.reply.content["status"], "ok",
        "{:?}",
        create.reply.content
    );
    let run = client
        .execute("SELECT count(score) AS scored, count(*) AS n FROM plain")
        .await;
    assert!(
        run.text().contains("| 1      | 2 |"),
        "{} {:?}",
        run.text(),
        run.reply.content
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_table_declarations_get_clear_errors_and_lose_nothing() {
    let kernel = Kernel::start();
    let path = write(kernel.dir.path(), "movies.csv", MOVIES_CSV);
    let mut client = kernel.client().await;
    let attempt = async |client: &mut support::Client, with: &str| {
        let run = client
            .execute(&format!("CREATE TABLE t (movie_id BIGINT) WITH ({with})"))
            .await;
        assert_eq!(run.reply.content["status"], "error", "{with}");
        let evalue = run.reply.content["evalue"].as_str().unwrap().to_string();
        let traceback = run.reply.content["traceback"].to_string();
        format!("{evalue} {traceback}")
    };
    let missing = attempt(
        &mut client,
        "'connector' = 'filesystem', 'path' = '/no/such/file.csv', 'format' = 'csv'",
    )
    .await;
    assert!(missing.contains("/no/such/file.csv"), "{missing}");

    let typo = attempt(
        &mut client,
        &format!("'connector' = 'filesystem', 'path' = '{path}', 'format' = 'csv', 'csv.field-delimeter' = ';'"),
    )
    .await;
    assert!(
        typo.contains("csv.field-delimeter") && typo.contains("csv.field-delimiter"),
        "{typo}"
    );

    let format = attempt(
        &mut client,
        &format!("'connector' = 'filesystem', 'path' = '{path}', 'format' = 'xml'"),
    )
    .await;
    assert!(format.contains("csv, json and parquet"), "{format}");

    let connector = attempt(&mut client, "'connector' = 'pulsar'").await;
    assert!(
        connector.contains("pulsar") && connector.contains("kafka"),
        "{connector}"
    );

    let bad_type = client
        .execute(&format!("CREATE TABLE u (x DECIMAL(60, 2)) WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'csv')"))
        .await;
    assert_eq!(bad_type.reply.content["status"], "error");

    // None of the failures left a table behind, and the session works.
    let tables = client.execute("SHOW TABLES").await;
    assert!(!tables.text().contains("| t "), "{}", tables.text());

    client
        .execute(&format!("CREATE TABLE m (movie_id BIGINT) WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'csv')"))
        .await;
    let again = client
        .execute(&format!("CREATE TABLE m (movie_id BIGINT) WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'csv')"))
        .await;
    assert!(again.reply.content["evalue"]
        .as_str()
        .unwrap()
        .contains("already exists"));
}

/// The movies table over the CSV file at `path`.
fn movies_table(path: &str) -> String {
    format!(
        "CREATE TABLE movies (movie_id BIGINT, movie_title STRING, movie_release_year INT, \
         movie_popularity DOUBLE) WITH ('connector' = 'filesystem', 'path' = '{path}', \
         'format' = 'csv')"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_table_answers_from_memory_until_uncached() {
    let kernel = Kernel::start();
    let dir = kernel.dir.path();
    let path = write(dir, "movies.csv", MOVIES_CSV);
    let mut client = kernel.client().await;
    client.execute(&movies_table(&path)).await;
    let cached = client.execute("CACHE TABLE movies").await;
    assert_eq!(
        cached.reply.content["status"], "ok",
        "{:?}",
        cached.reply.content
    );
    assert!(
        cached.text().starts_with("Cached table movies: 3 rows"),
        "{}",
        cached.text()
    );

    // The file changes on disk; the cached table still answers with the rows it read.
    std::fs::write(
        &path,
        "movie_id,movie_title,movie_release_year,movie_popularity\n9,New,2024,1\n",
    )
    .unwrap();
    let run = client.execute("SELECT count(*) AS n FROM movies").await;
    assert!(run.text().contains("| 3 |"), "{}", run.text());
    // A scan reads only the columns it names, in the order it names them.
    let some = client
        .execute(
            "SELECT movie_release_year, movie_id FROM movies \
             WHERE movie_popularity IS NOT NULL ORDER BY movie_id DESC",
        )
        .await;
    let text = some.text();
    assert!(
        text.contains("| 2019               | 3        |\n| 2001               | 1        |"),
        "{text}"
    );
    // A join over the cached rows, and a LIMIT that the scan itself applies.
    let two = client.execute("SELECT movie_id FROM movies LIMIT 2").await;
    let lines = two.text().lines().filter(|l| l.starts_with("| ")).count();
    assert_eq!(lines, 1 + 2, "a header and two rows: {}", two.text());
    let joined = client
        .execute(
            "SELECT m.movie_release_year, p.label FROM movies m \
             JOIN (VALUES (3, 'third'), (1, 'first'), (5, 'none')) AS p(id, label) \
             ON m.movie_id = p.id ORDER BY m.movie_id LIMIT 5",
        )
        .await;
    let text = joined.text();
    assert!(!text.contains("none"), "{text}");
    assert!(
        text.contains("| 2001               | first |\n| 2019               | third |"),
        "{text}"
    );
    let table = client.execute("%table movies").await;
    let shown = table.all_text();
    assert!(shown.contains("cached ("), "{shown}");

    let again = client.execute("CACHE TABLE movies").await;
    assert!(again.text().contains("already cached"), "{}", again.text());

    let uncached = client.execute("UNCACHE TABLE movies").await;
    assert_eq!(uncached.text(), "Uncached table movies.");
    let run = client.execute("SELECT count(*) AS n FROM movies").await;
    assert!(
        run.text().contains("| 1 |"),
        "read from the file again: {}",
        run.text()
    );

    let not_cached = client.execute("UNCACHE TABLE movies").await;
    assert_eq!(not_cached.reply.content["status"], "error");
    let quiet = client.execute("UNCACHE TABLE IF EXISTS movies").await;
    assert_eq!(quiet.reply.content["status"], "ok");
}

/// Without CACHE TABLE, the columns a query decoded (of a small file, all of them) are kept
/// for the next question while the file is unchanged: `%table` says which, `%config` shows
/// how much and turns it off, and a changed file is read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_a_query_decoded_answer_the_next_question_until_the_file_changes() {
    let kernel = Kernel::start();
    let path = write(kernel.dir.path(), "movies.csv", MOVIES_CSV);
    let mut client = kernel.client().await;
    client.execute(&movies_table(&path)).await;
    let question = "SELECT MAX(movie_release_year) AS latest FROM movies";
    let first = client.execute(question).await.text();
    let shown = client.execute("%table movies").await.all_text();
    assert!(
        shown.contains(
            "columns movie_id, movie_title, movie_release_year, movie_popularity served from memory"
        ),
        "{shown}"
    );
    let config = client.execute("%config").await.all_text();
    assert!(
        config.contains("keep_file_columns = on") && config.contains("in 1 tables"),
        "{config}"
    );
    assert_eq!(client.execute(question).await.text(), first);

    // The file changes: the next question reads it again.
    std::fs::write(
        &path,
        "movie_id,movie_title,movie_release_year,movie_popularity\n9,New,2031,1\n",
    )
    .unwrap();
    let changed = client.execute(question).await.text();
    assert!(changed.contains("| 2031   |"), "{changed}");

    // Turned off: nothing kept, every question reads the file.
    let off = client
        .execute("%config keep_file_columns=off")
        .await
        .all_text();
    assert!(off.contains("keep_file_columns = off"), "{off}");
    let shown = client.execute("%table movies").await.all_text();
    assert!(!shown.contains("served from memory"), "{shown}");
    let bad = client.execute("%config keep_file_columns=maybe").await;
    assert_eq!(bad.reply.content["status"], "error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caching_past_the_memory_limit_fails_clearly_and_keeps_the_table() {
    let kernel = Kernel::start_with_env(&[("EDDY_MEMORY_LIMIT", "1MiB")]);
    let mut client = kernel.client().await;
    client
        .execute("CREATE VIEW big AS SELECT value, value * 2 AS twice FROM range(1000000)")
        .await;
    let cached = client.execute("CACHE TABLE big").await;
    assert_eq!(
        cached.reply.content["ename"], "ResourcesExhausted",
        "{:?}",
        cached.reply.content
    );
    assert!(cached.reply.content["evalue"]
        .as_str()
        .unwrap()
        .contains("left uncached"));
    let run = client.execute("SELECT count(*) AS n FROM big").await;
    assert!(run.text().contains("1000000"), "{}", run.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_csv_row_fails_the_query_with_a_plain_explanation() {
    let kernel = Kernel::start();
    let dir = kernel.dir.path();
    let bad_value = write(dir, "bad_value.csv", "id,score\n1,5\n2,five\n");
    let bad_width = write(dir, "bad_width.csv", "id,score\n1,5\n2,4,extra\n");
    let mut client = kernel.client().await;
    for (name, path) in [("bad_value", &bad_value), ("bad_width", &bad_width)] {
        client
            .execute(&format!(
                "CREATE TABLE {name} (id INT, score INT) WITH ('connector' = 'filesystem', \
                 'path' = '{path}', 'format' = 'csv')"
            ))
            .await;
    }
    let run = client.execute("SELECT sum(score) FROM bad_value").await;
    assert_eq!(run.reply.content["ename"], "ExecutionError");
    let evalue = run.reply.content["evalue"].as_str().unwrap();
    assert!(evalue.contains("'five' in column 2"), "{evalue}");
    assert!(evalue.contains("TRY_CAST"), "{evalue}");
    assert!(
        evalue.contains(&format!("The row is line 3 of {bad_value}.")),
        "{evalue}"
    );

    let run = client.execute("SELECT sum(score) FROM bad_width").await;
    let evalue = run.reply.content["evalue"].as_str().unwrap();
    assert!(evalue.contains("number of fields"), "{evalue}");
    assert!(
        evalue.contains(&format!("The row is line 3 of {bad_width}.")),
        "{evalue}"
    );

    // A directory of files read in parallel ranges: the line is still the file's own.
    let folder = dir.join("many");
    std::fs::create_dir(&folder).unwrap();
    let mut big = String::from("id,score\n");
    for i in 0..30_000 {
        big.push_str(&format!("{i},{}\n", i % 5));
    }
    std::fs::write(folder.join("a.csv"), &big).unwrap();
    big.replace_range(big.find("\n25000,").unwrap() + 1.., "25000,oops\n");
    std::fs::write(folder.join("b.csv"), &big).unwrap();
    client
        .execute(&format!(
            "CREATE TABLE many (id INT, score INT) WITH ('connector' = 'filesystem', \
             'path' = '{}', 'format' = 'csv')",
            folder.display()
        ))
        .await;
    let run = client.execute("SELECT sum(score) FROM many").await;
    let evalue = run.reply.content["evalue"].as_str().unwrap();
    let b = folder.join("b.csv");
    assert!(
        evalue.contains(&format!("The row is line 25002 of {}.", b.display())),
        "{evalue}"
    );

    let fine = client.execute("SELECT 1 AS still_here").await;
    assert_eq!(fine.reply.content["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_ignore_parse_errors_malformed_rows_are_skipped_and_counted() {
    let kernel = Kernel::start();
    let path = write(
        kernel.dir.path(),
        "scores.csv",
        "id,score,day\n1,5,2024-01-01\n2,five,2024-01-02\n3,4,not a date\n4,,2024-01-04\n5,3,2024-01-05\n\
         6,1,2024-01-06,one field too many\n7,2\n8,3,2024-01-08\n",
    );
    let mut client = kernel.client().await;
    let create = client
        .execute(&format!(
            "CREATE TABLE scores (id INT, score INT, day DATE) WITH ('connector' = 'filesystem', \
             'path' = '{path}', 'format' = 'csv', 'csv.ignore-parse-errors' = 'true')"
        ))
        .await;
    assert_eq!(
        create.reply.content["status"], "ok",
        "{:?}",
        create.reply.content
    );

    let run = client
        .execute("SELECT id, score, day FROM scores ORDER BY id")
        .await;
    let text = run.text();
    // Rows 2 and 3 do not parse, row 6 has a field too many and row 7 too few; row 4's
    // empty score is a NULL, not an error. (Values are checked in the columns a query
    // reads, as Flink's CSV format parses only those: every column here.)
    assert!(
        text.contains("| 1  | 5     |")
            && text.contains("| 4  | NULL  |")
            && text.contains("| 8  | 3     |"),
        "{text}"
    );
    for skipped in [2, 3, 6, 7] {
        assert!(!text.contains(&format!("\n| {skipped}  |")), "{text}");
    }
    assert!(
        text.ends_with("4 malformed CSV rows skipped ('csv.ignore-parse-errors')"),
        "{text}"
    );
    let html = run.of_type("execute_result")[0].content["data"]["text/html"].to_string();
    assert!(html.contains("4 malformed CSV rows skipped"), "{html}");

    // A LIMIT counts good rows only: the first two are 1 and 4.
    let limited = client
        .execute("SELECT id, score, day FROM scores LIMIT 2")
        .await;
    let text = limited.text();
    assert!(text.contains("| 1  |") && text.contains("| 4  |"), "{text}");
    let html = limited.of_type("execute_result")[0].content["data"]["text/html"].to_string();
    assert!(html.contains(">2 rows<"), "{html}");

    let copied = client
        .execute("CREATE TABLE clean AS SELECT * FROM scores")
        .await;
    assert!(
        copied.text().contains("4 malformed CSV rows were skipped"),
        "{}",
        copied.text()
    );

    // The lenient table is a table like any other: listed as one, and dropped as one. Its
    // skipped rows leave the session's count with it, so the next query counts from zero.
    let kind = client
        .execute("SELECT table_type FROM information_schema.tables WHERE table_name = 'scores'")
        .await;
    assert!(kind.text().contains("BASE TABLE"), "{}", kind.text());
    let dropped = client.execute("DROP TABLE scores").await;
    assert_eq!(
        dropped.reply.content["status"], "ok",
        "{:?}",
        dropped.reply.content
    );
    let after = client.execute("SELECT COUNT(*) AS n FROM clean").await;
    assert_eq!(after.reply.content["status"], "ok");
    assert!(
        after.text().contains("| 4 |") && !after.text().contains("skipped"),
        "{}",
        after.text()
    );

    let json = client
        .execute(&format!(
            "CREATE TABLE j (id INT) WITH ('connector' = 'filesystem', 'path' = '{path}', \
             'format' = 'json', 'csv.ignore-parse-errors' = 'true')"
        ))
        .await;
    assert_eq!(json.reply.content["status"], "error");
}
