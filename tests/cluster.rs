//! A notebook connected to a Ballista cluster (`%connect df://HOST:PORT`): a real
//! scheduler and two executors of the binary under test (`eddy cluster scheduler|executor`)
//! run the MUBI demo's questions over files and give the embedded engine's rows; what
//! only this kernel can do is refused, saying why.

use crate::ballista_cluster::Cluster;
use crate::support::{ok, Channel, Client, Execution, Kernel};
use serde_json::json;
use std::time::{Duration, Instant};

/// Films: an id, a title with a comma, a year (some missing) and a popularity.
fn movies_csv() -> String {
    let mut text = String::from("movie_id,movie_title,movie_release_year,movie_popularity\n");
    for id in 1..=40 {
        let year = match id % 7 {
            0 => String::new(),
            k => (2015 + k).to_string(),
        };
        text.push_str(&format!(
            "{id},\"Film {id}, part {}\",{year},{}\n",
            id % 3,
            (id * 37) % 101
        ));
    }
    text
}

/// Ratings of the films by users over three years, in `files` files of a directory.
fn ratings_csv(part: u64, rows: u64) -> String {
    let mut text = String::from("movie_id,rating_score,rating_timestamp_utc,user_id\n");
    for i in 0..rows {
        let n = part * rows + i;
        let score = match n % 11 {
            10 => String::new(),
            k => (k % 5 + 1).to_string(),
        };
        let day = n * 7919 % (3 * 365);
        let (year, day_of_year) = (2018 + day / 365, day % 365);
        let (month, day_of_month) = (day_of_year / 31 + 1, day_of_year % 28 + 1);
        text.push_str(&format!(
            "{},{score},{year}-{month:02}-{day_of_month:02} {:02}:{:02}:00,{}\n",
            n * 13 % 40 + 1,
            n % 24,
            n % 60,
            n * 31 % 257
        ));
    }
    text
}

/// The tables, declared as a notebook declares them; the ratings are a directory of files
/// (so the cluster reads them in several tasks).
async fn declare_tables(client: &mut Client, dir: &std::path::Path) {
    let movies = dir.join("movies.csv");
    std::fs::write(&movies, movies_csv()).unwrap();
    let ratings = dir.join("ratings");
    std::fs::create_dir_all(&ratings).unwrap();
    for part in 0..4 {
        std::fs::write(
            ratings.join(format!("part-{part}.csv")),
            ratings_csv(part, 2_500),
        )
        .unwrap();
    }
    for ddl in [
        format!(
            "CREATE TABLE movies (movie_id BIGINT, movie_title STRING, movie_release_year INT, \
             movie_popularity DOUBLE) WITH ('connector' = 'filesystem', 'path' = '{}', \
             'format' = 'csv')",
            movies.display()
        ),
        format!(
            "CREATE TABLE ratings (movie_id BIGINT, rating_score INT, rating_timestamp_utc \
             TIMESTAMP(3), user_id BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', \
             'format' = 'csv')",
            ratings.display()
        ),
    ] {
        ok(client, &ddl).await;
    }
}

/// The MUBI demo's five questions, and one in Flink's phrasing (its date functions must be
/// known to the scheduler and the executors).
const QUESTIONS: [&str; 6] = [
    "SELECT COUNT(*) AS n_ratings FROM ratings",
    "SELECT movie_release_year, AVG(movie_popularity) AS avg_popularity, COUNT(*) AS n_movies \
     FROM movies GROUP BY movie_release_year ORDER BY movie_release_year NULLS LAST",
    "SELECT to_char(rating_timestamp_utc, '%Y-%m') AS month, COUNT(DISTINCT user_id) AS \
     active_users FROM ratings GROUP BY 1 ORDER BY 1",
    "SELECT m.movie_id, m.movie_title, AVG(r.rating_score) AS avg_score, COUNT(r.rating_score) \
     AS n_ratings FROM ratings AS r JOIN movies AS m ON r.movie_id = m.movie_id WHERE \
     m.movie_release_year = 2019 GROUP BY m.movie_id, m.movie_title HAVING \
     COUNT(r.rating_score) >= 5 ORDER BY avg_score DESC NULLS LAST, n_ratings DESC, m.movie_id \
     LIMIT 10",
    "SELECT rating_score, COUNT(*) AS n_ratings FROM ratings WHERE EXTRACT(YEAR FROM \
     rating_timestamp_utc) BETWEEN 2018 AND 2020 AND rating_score IS NOT NULL GROUP BY \
     rating_score ORDER BY rating_score",
    "SELECT YEAR(rating_timestamp_utc) AS rating_year, MONTH(rating_timestamp_utc) AS \
     rating_month, DATE_FORMAT(MAX(rating_timestamp_utc), 'yyyy-MM-dd') AS last_day, \
     COUNT(DISTINCT user_id) AS active_users FROM ratings GROUP BY \
     YEAR(rating_timestamp_utc), MONTH(rating_timestamp_utc) ORDER BY rating_year, rating_month",
];

const RAN_ON: &str = "ran on the Ballista cluster at";

/// The result of a query that must succeed.
async fn answer(client: &mut Client, sql: &str) -> String {
    ok(client, sql).await.text()
}

/// The error a cell failed with, as the notebook shows it.
fn error_of(run: &Execution) -> String {
    format!(
        "{}: {}",
        run.reply.content["ename"].as_str().unwrap_or_default(),
        run.reply.content["evalue"].as_str().unwrap_or_default()
    )
}

/// The error of a cell that must fail.
async fn refusal(client: &mut Client, code: &str) -> String {
    let run = client.execute(code).await;
    assert_eq!(
        run.reply.content["status"],
        "error",
        "{code} must fail: {}",
        run.text()
    );
    error_of(&run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notebook_connected_to_a_cluster_gets_the_embedded_engines_answers() {
    let cluster = Cluster::start(2);
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    declare_tables(&mut client, kernel.dir.path()).await;

    let mut here = Vec::new();
    for sql in QUESTIONS {
        let text = answer(&mut client, sql).await;
        assert!(!text.contains(RAN_ON), "{text}");
        here.push(text);
    }

    let connect = ok(&mut client, &format!("%connect {}", cluster.url)).await;
    assert!(
        connect.displayed().contains(&format!(
            "Connected to the Ballista cluster at {}",
            cluster.url
        )),
        "{}",
        connect.displayed()
    );
    for (sql, expected) in QUESTIONS.iter().zip(&here) {
        let run = client.execute(sql).await;
        assert_eq!(
            run.reply.content["status"],
            "ok",
            "{sql}: {:?}\n{}",
            run.reply.content,
            cluster.logs()
        );
        let text = run.text();
        let (rows, note) = text
            .split_once(RAN_ON)
            .unwrap_or_else(|| panic!("the result says where it ran: {text}"));
        assert_eq!(rows.trim_end(), expected.trim_end(), "{sql}");
        assert_eq!(note.trim(), cluster.url);
    }
    // The catalog is this kernel's: describing a table is answered here.
    let described = answer(&mut client, "DESCRIBE ratings").await;
    assert!(described.contains("rating_timestamp_utc"), "{described}");
    assert!(!described.contains(RAN_ON), "{described}");
    // EXPLAIN shows the stages the scheduler would run the query in.
    let explained = answer(&mut client, "EXPLAIN SELECT COUNT(*) FROM ratings").await;
    for part in [
        "distributed_plan",
        "ResolvedStage[stage_id=1",
        "ShuffleWriterExec",
        RAN_ON,
    ] {
        assert!(explained.contains(part), "{part}: {explained}");
    }

    let disconnect = client.execute("%disconnect").await;
    assert!(
        disconnect.displayed().contains(&format!(
            "Disconnected from the Ballista cluster at {}",
            cluster.url
        )),
        "{}",
        disconnect.displayed()
    );
    let again = answer(&mut client, QUESTIONS[0]).await;
    assert_eq!(again, here[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_only_this_kernel_can_do_is_refused_on_a_cluster_saying_why() {
    let cluster = Cluster::start(1);
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    declare_tables(&mut client, kernel.dir.path()).await;
    let lenient = kernel.dir.path().join("movies.csv");
    for setup in [
        "%table picks\nmovie_id,why\n1,funny\n2,long".to_string(),
        "CREATE TABLE clicks (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10')"
            .to_string(),
        format!(
            "CREATE TABLE lenient_movies (movie_id BIGINT, movie_title STRING) WITH \
             ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', \
             'csv.ignore-parse-errors' = 'true')",
            lenient.display()
        ),
        "CACHE TABLE movies".to_string(),
    ] {
        ok(&mut client, &setup).await;
    }

    // A wrong address is said at once, by %connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let error = refusal(&mut client, &format!("%connect df://127.0.0.1:{port}")).await;
    assert!(
        error.contains(&format!(
            "no Ballista scheduler answers at 127.0.0.1:{port}"
        )),
        "{error}"
    );
    let error = refusal(&mut client, "%connect http://127.0.0.1:50050").await;
    assert!(
        error.contains("is not a Ballista scheduler's address"),
        "{error}"
    );
    let error = refusal(&mut client, &format!("%connect flink://127.0.0.1:{port}")).await;
    assert!(
        error.contains(&format!("no Flink SQL Gateway answers at 127.0.0.1:{port}")),
        "{error}"
    );

    ok(&mut client, &format!("%connect {}", cluster.url)).await;
    for (code, says) in [
        (
            "SELECT COUNT(*) FROM movies",
            "it is cached in this kernel's memory (CACHE TABLE)",
        ),
        (
            "SELECT * FROM picks",
            "its rows are in this kernel's memory",
        ),
        (
            "SELECT COUNT(*) FROM lenient_movies",
            "'csv.ignore-parse-errors'",
        ),
        (
            "SELECT COUNT(*) FROM clicks",
            "a Ballista cluster runs batch queries",
        ),
        (
            "CACHE TABLE ratings",
            "CACHE TABLE cannot run on the cluster",
        ),
        (
            "CREATE TABLE top AS SELECT * FROM ratings",
            "its rows would be kept in this kernel's memory",
        ),
    ] {
        let error = refusal(&mut client, code).await;
        assert!(error.contains(says), "{code}: {error}");
        assert!(
            error.contains("%disconnect to run it in this kernel"),
            "{code}: {error}"
        );
    }
    // A table whose files the cluster cannot find: the error says where the cluster reads.
    let gone = kernel.dir.path().join("gone.csv");
    std::fs::write(&gone, "movie_id\n1\n").unwrap();
    client.execute("%disconnect").await;
    let declare = format!(
        "CREATE TABLE gone (movie_id BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', \
         'format' = 'csv')",
        gone.display()
    );
    ok(&mut client, &declare).await;
    std::fs::remove_file(&gone).unwrap();
    client.execute(&format!("%connect {}", cluster.url)).await;
    let error = refusal(&mut client, "SELECT COUNT(*) FROM gone").await;
    assert!(
        error.starts_with("ClusterError: the cluster at df://")
            && error.contains("must name the same files on every machine of the cluster"),
        "{error}"
    );

    // Refusals lose nothing: the cluster still answers, and, disconnected, so does the
    // kernel over the cached table.
    let text = answer(&mut client, QUESTIONS[0]).await;
    assert!(
        text.contains("10000") && text.contains(RAN_ON),
        "{text}\n{}",
        cluster.logs()
    );
    client.execute("%disconnect").await;
    let text = answer(&mut client, "SELECT COUNT(*) AS n FROM movies").await;
    assert!(text.contains("40") && !text.contains(RAN_ON), "{text}");
}

/// Ratings enough to keep two executors busy for a while: `files` files of `rows` rows.
async fn declare_many_ratings(client: &mut Client, dir: &std::path::Path, files: u64, rows: u64) {
    let ratings = dir.join("many_ratings");
    std::fs::create_dir_all(&ratings).unwrap();
    for part in 0..files {
        std::fs::write(
            ratings.join(format!("part-{part}.csv")),
            ratings_csv(part, rows),
        )
        .unwrap();
    }
    let ddl = format!(
        "CREATE TABLE many_ratings (movie_id BIGINT, rating_score INT, rating_timestamp_utc \
         TIMESTAMP(3), user_id BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', \
         'format' = 'csv')",
        ratings.display()
    );
    ok(client, &ddl).await;
}

/// A question that takes the cluster a while: every rating's time formatted, by user.
const SLOW_QUESTION: &str = "SELECT user_id % 50 AS users, COUNT(DISTINCT \
    DATE_FORMAT(rating_timestamp_utc, 'yyyy-MM-dd HH:mm:ss')) AS moments, COUNT(*) AS n \
    FROM many_ratings GROUP BY 1 ORDER BY 1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_progress_line_follows_the_jobs_stages_and_tasks() {
    let cluster = Cluster::start(2);
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    declare_many_ratings(&mut client, kernel.dir.path(), 4, 400_000).await;
    ok(&mut client, "%config progress_after_ms=0").await;
    ok(&mut client, &format!("%connect {}", cluster.url)).await;
    let run = ok(&mut client, SLOW_QUESTION).await;
    let lines: Vec<&str> = run
        .broadcasts
        .iter()
        .filter(|m| matches!(m.msg_type(), "display_data" | "update_display_data"))
        .filter_map(|m| m.content["data"]["text/plain"].as_str())
        .filter(|text| text.starts_with("running…"))
        .collect();
    // The job's stages and tasks as the scheduler reports them, while it runs.
    let reported: Vec<&&str> = lines
        .iter()
        .filter(|line| line.contains(" on the cluster: ") && line.contains(" stages done · "))
        .collect();
    assert!(!reported.is_empty(), "{lines:#?}");
    assert!(
        reported
            .iter()
            .any(|line| line.contains(" running") && line.contains(" tasks done")),
        "{reported:#?}"
    );
    // And the line gave way to the result.
    assert!(run.text().contains(RAN_ON), "{}", run.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_cancels_the_clusters_job() {
    let cluster = Cluster::start(2);
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    declare_many_ratings(&mut client, kernel.dir.path(), 4, 400_000).await;
    ok(&mut client, &format!("%connect {}", cluster.url)).await;

    let started = Instant::now();
    let query = client.start_execute(SLOW_QUESTION).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    client
        .send(Channel::Control, "interrupt_request", json!({}))
        .await;
    let _ = client.reply(Channel::Control).await;
    let reply = client.reply(Channel::Shell).await;
    assert_eq!(reply.parent_id(), query);
    assert_eq!(
        reply.content["ename"],
        "Interrupted",
        "{:?}\n{}",
        reply.content,
        cluster.logs()
    );
    let interrupted = started.elapsed();

    // The scheduler is asked to cancel the job: its log says so.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cluster
        .scheduler_log()
        .contains("Received cancellation request for job")
    {
        assert!(
            Instant::now() < deadline,
            "no cancellation reached the scheduler (interrupted after {interrupted:?}):\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And the cluster answers the next question.
    let text = answer(&mut client, "SELECT COUNT(*) AS n FROM many_ratings").await;
    assert!(text.contains("1600000") && text.contains(RAN_ON), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executor_killed_during_a_query_leaves_a_clear_answer() {
    let mut cluster = Cluster::start(2);
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    declare_many_ratings(&mut client, kernel.dir.path(), 4, 400_000).await;
    let expected = answer(&mut client, SLOW_QUESTION).await;
    ok(&mut client, &format!("%connect {}", cluster.url)).await;

    let started = Instant::now();
    let query = client.start_execute(SLOW_QUESTION).await;
    // Still running when the executor goes.
    let early = client
        .try_reply(Channel::Shell, Duration::from_millis(700))
        .await;
    assert!(
        early.is_none(),
        "the question ended too soon to lose an executor midway"
    );
    cluster.kill_executor(1);
    let run = client.finish_execute(&query).await;
    eprintln!(
        "the question took {:?}, an executor lost after 0.7 s",
        started.elapsed()
    );
    match run.reply.content["status"].as_str() {
        // Ballista ran the lost executor's tasks again on the other one.
        Some("ok") => {
            let text = run.text();
            let (rows, _) = text
                .split_once(RAN_ON)
                .expect("the result says where it ran");
            assert_eq!(rows.trim_end(), expected.trim_end());
            eprintln!("an executor killed during a query: the job completed on the other");
        }
        // Or it failed the job: the error says the cluster failed it, and why.
        _ => {
            let error = error_of(&run);
            assert!(
                error.starts_with("ClusterError: the cluster at df://") && error.contains("failed"),
                "{error}\n{}",
                cluster.logs()
            );
            eprintln!("an executor killed during a query: {error}");
        }
    }
    // The kernel and the cluster's other executor go on.
    let text = answer(&mut client, "SELECT COUNT(*) AS n FROM many_ratings").await;
    assert!(
        text.contains("1600000") && text.contains(RAN_ON),
        "{text}\n{}",
        cluster.logs()
    );
}
