//! Queries over streams through the real kernel: Flink-style sources and windows, the
//! live display that updates in place, interrupts, `--duration`, background jobs, a file
//! sink that never shows half a file, and a socket source fed by the test.

mod support;
// A real Kafka broker, for `kafka.rs` only.
mod kafka;
#[path = "support/kafka_broker.rs"]
mod kafka_broker;
mod kafka_changes;
// A real Flink cluster and SQL Gateway, for `flink.rs` only.
mod flink;
#[path = "support/flink_cluster.rs"]
mod flink_cluster;

use serde_json::json;
use std::time::{Duration, Instant};
use support::{ok, Channel, Execution, Kernel};

/// 600 clicks, one every 100 ms of event time from midnight: 60 seconds of events, made
/// as fast as the query takes them, the same every run.
const CLICKS: &str = "CREATE TABLE clicks (
    user_id INT,
    url STRING,
    ts TIMESTAMP(3),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (
    'connector' = 'datagen',
    'seed' = '7',
    'rows-per-second' = '1000000000',
    'number-of-rows' = '600',
    'fields.user_id.min' = '1',
    'fields.user_id.max' = '3',
    'fields.url.length' = '4',
    'fields.ts.kind' = 'sequence',
    'fields.ts.start' = '2024-01-01 00:00:00',
    'fields.ts.step' = '100 ms'
)";

/// An endless stream of ticks.
const TICKS: &str = "CREATE TABLE ticks (
    user_id INT,
    ts TIMESTAMP(3),
    WATERMARK FOR ts AS ts
) WITH (
    'connector' = 'datagen',
    'rows-per-second' = '200',
    'fields.user_id.min' = '1',
    'fields.user_id.max' = '4'
)";

/// The table of a live display's last state, without its status line.
fn final_table(run: &Execution) -> String {
    let text = run.text();
    text.split_once('\n')
        .map(|(_, table)| table.to_string())
        .unwrap_or(text)
}

/// The status line of a live display's last state.
fn final_status(run: &Execution) -> String {
    run.text().lines().next().unwrap_or_default().to_string()
}

/// The data rows of a text table, sorted (rows emitted in different ticks come in the
/// order their windows closed).
fn sorted_rows(table: &str) -> Vec<String> {
    let mut rows: Vec<String> = table
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(1)
        .map(str::to_string)
        .collect();
    rows.sort();
    rows
}

/// The numbers in the last column of a text table.
fn last_column(table: &str) -> Vec<i64> {
    table
        .lines()
        .filter(|l| l.starts_with('|'))
        .filter_map(|l| {
            l.trim_end_matches('|')
                .rsplit('|')
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tumbling_window_emits_each_window_once_when_the_watermark_passes() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, CLICKS).await;
    let run = ok(
        &mut client,
        "%sql --refresh 100ms
SELECT window_start, window_end, COUNT(*) AS clicks, COUNT(DISTINCT user_id) AS users
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end ORDER BY window_start",
    )
    .await;
    assert_eq!(
        final_table(&run),
        "\
+---------------------+---------------------+--------+-------+
| window_start        | window_end          | clicks | users |
+---------------------+---------------------+--------+-------+
| 2024-01-01T00:00:00 | 2024-01-01T00:00:10 | 100    | 3     |
| 2024-01-01T00:00:10 | 2024-01-01T00:00:20 | 100    | 3     |
| 2024-01-01T00:00:20 | 2024-01-01T00:00:30 | 100    | 3     |
| 2024-01-01T00:00:30 | 2024-01-01T00:00:40 | 100    | 3     |
| 2024-01-01T00:00:40 | 2024-01-01T00:00:50 | 100    | 3     |
| 2024-01-01T00:00:50 | 2024-01-01T00:01:00 | 100    | 3     |
+---------------------+---------------------+--------+-------+"
    );
    let status = final_status(&run);
    assert!(status.starts_with("finished after"), "{status}");
    assert!(status.contains("600 rows in"), "{status}");
    // How many micro-batches took rows and how long they took: at least one, none slower
    // than the run.
    let batches = status
        .split(" · ")
        .find(|part| part.contains("micro-batches"))
        .unwrap_or_else(|| panic!("no micro-batches in: {status}"));
    let count: u64 = batches
        .split(' ')
        .next()
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("{batches}"));
    assert!(count >= 1, "{status}");
    assert!(batches.contains(" ms each, slowest "), "{status}");
    // One display, then updates of that display only.
    let displays = run.of_type("display_data");
    assert_eq!(displays.len(), 1, "{:?}", run.types());
    let id = &displays[0].content["transient"]["display_id"];
    assert!(id.as_str().is_some_and(|id| id.starts_with("eddy-live-")));
    for update in run.of_type("update_display_data") {
        assert_eq!(&update.content["transient"]["display_id"], id);
    }
    assert!(run.of_type("execute_result").is_empty());
}

/// Flink's functions mean in a stream what they mean in a batch query: `DATE_FORMAT` takes
/// Java's pattern letters in both (a stream once read the pattern as strftime's and printed
/// it back unchanged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flink_functions_in_a_stream_behave_as_in_a_batch_query() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, CLICKS).await;
    let run = ok(
        &mut client,
        "SELECT DATE_FORMAT(window_start, 'HH:mm:ss') AS starts, COUNT(*) AS clicks
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '20' SECOND))
GROUP BY window_start, window_end",
    )
    .await;
    assert_eq!(
        sorted_rows(&final_table(&run)),
        [
            "| 00:00:00 | 200    |",
            "| 00:00:20 | 200    |",
            "| 00:00:40 | 200    |"
        ]
    );
    let batch = ok(
        &mut client,
        "SELECT DATE_FORMAT(TIMESTAMP '2024-01-01 00:00:20', 'HH:mm:ss') AS starts",
    )
    .await;
    assert!(batch.text().contains("00:00:20"), "{}", batch.text());
}

/// Nexmark's DDL quotes its time column (`` `dateTime` ``) in the WATERMARK too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watermark_on_a_backtick_quoted_column_closes_windows() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        "CREATE TABLE bid (
    auction BIGINT,
    `dateTime` TIMESTAMP(3),
    WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND
) WITH (
    'connector' = 'datagen',
    'number-of-rows' = '20',
    'rows-per-second' = '1000000000',
    'fields.dateTime.kind' = 'sequence',
    'fields.dateTime.start' = '2024-01-01 00:00:00',
    'fields.dateTime.step' = '1 s'
)",
    )
    .await;
    let run = ok(
        &mut client,
        "SELECT window_start, COUNT(*) AS bids
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))
GROUP BY window_start, window_end",
    )
    .await;
    assert_eq!(
        sorted_rows(&final_table(&run)),
        [
            "| 2024-01-01T00:00:00 | 10   |",
            "| 2024-01-01T00:00:10 | 10   |"
        ]
    );
}

/// A window TVF's optional offset shifts where its windows start, as in Flink.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offset_shifts_the_windows() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, CLICKS).await;
    let run = ok(
        &mut client,
        "SELECT window_start, COUNT(*) AS clicks
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '20' SECOND, INTERVAL '5' SECOND))
GROUP BY window_start, window_end",
    )
    .await;
    assert_eq!(
        sorted_rows(&final_table(&run)),
        [
            "| 2023-12-31T23:59:45 | 50     |",
            "| 2024-01-01T00:00:05 | 200    |",
            "| 2024-01-01T00:00:25 | 200    |",
            "| 2024-01-01T00:00:45 | 150    |"
        ]
    );
}

/// A view over a stream, as Nexmark declares `bid`: a window reads it as it reads the
/// stream, and counts what the same filter on the stream counts; `%table` shows the view's
/// definition and columns; `DROP VIEW` removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_over_a_stream_is_windowed_as_the_stream_is() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, CLICKS).await;
    let created = ok(
        &mut client,
        "CREATE VIEW first_user AS SELECT url, ts FROM clicks WHERE user_id = 1",
    )
    .await;
    assert_eq!(created.text(), "Created view first_user.");
    let per_window = |table: &str, filter: &str| {
        format!(
            "SELECT window_start, COUNT(*) AS clicks
FROM TABLE(TUMBLE(TABLE {table}, DESCRIPTOR(ts), INTERVAL '10' SECOND)) {filter}
GROUP BY window_start, window_end"
        )
    };
    let over_view = ok(&mut client, &per_window("first_user", "")).await;
    let over_stream = ok(&mut client, &per_window("clicks", "WHERE user_id = 1")).await;
    let rows = sorted_rows(&final_table(&over_view));
    assert_eq!(rows.len(), 6, "{}", over_view.text());
    assert_eq!(rows, sorted_rows(&final_table(&over_stream)));
    let total: i64 = last_column(&final_table(&over_view)).iter().sum();
    assert!((100..300).contains(&total), "{total}");

    let described = ok(&mut client, "%table first_user").await;
    let text = described.all_text();
    assert!(
        text.contains("view first_user: a stream (rows arrive over time)"),
        "{text}"
    );
    assert!(text.contains("WHERE user_id = 1"), "{text}");
    assert!(text.contains("| url "), "{text}");

    let dropped = ok(&mut client, "DROP VIEW first_user").await;
    assert_eq!(dropped.text(), "Dropped view first_user.");
    let gone = client.execute("SELECT * FROM first_user").await;
    assert_eq!(gone.reply.content["status"], "error");
}

/// Flink's print sink shows an updating result's changes in the cell: the last line of each
/// key holds the count the same GROUP BY ends with. A blackhole shows how many rows it
/// dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_and_blackhole_sinks_show_what_went_in() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, CLICKS).await;
    ok(
        &mut client,
        "CREATE TABLE per_user (user_id INT, clicks BIGINT) WITH ('connector' = 'print')",
    )
    .await;
    let printed = ok(
        &mut client,
        "INSERT INTO per_user SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id",
    )
    .await;
    let text = printed.text();
    assert!(text.contains("INSERT INTO per_user: "), "{text}");
    let counted = ok(
        &mut client,
        "SELECT user_id, COUNT(*) AS clicks FROM clicks GROUP BY user_id",
    )
    .await;
    let expected = sorted_rows(&final_table(&counted));
    assert_eq!(expected.len(), 3, "{}", counted.text());
    for row in expected {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let (user, clicks) = (cells[0], cells[1]);
        let last = text
            .lines()
            .rfind(|l| l.contains(&format!("[{user}, ")))
            .unwrap_or_default();
        assert!(
            last == format!("+I[{user}, {clicks}]") || last == format!("+U[{user}, {clicks}]"),
            "user {user}: {last}\n{text}"
        );
    }

    ok(
        &mut client,
        "CREATE TABLE nowhere (user_id INT, url STRING, ts TIMESTAMP(3)) WITH ('connector' = 'blackhole')",
    )
    .await;
    let dropped = ok(&mut client, "INSERT INTO nowhere SELECT * FROM clicks").await;
    assert!(
        dropped
            .text()
            .contains("INSERT INTO nowhere: 600 rows, dropped (blackhole)"),
        "{}",
        dropped.text()
    );
}

/// A table declared LIKE another (Flink's own example: a watermark added, an option
/// overwritten) is windowed as written out in full would be; an OPTIONS hint changes one
/// query's source only; `%table` shows the declared primary key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_like_another_and_options_hints_change_what_a_query_reads() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        "CREATE TABLE orders (id BIGINT, ts TIMESTAMP(3), PRIMARY KEY (id) NOT ENFORCED) WITH (
            'connector' = 'datagen', 'rows-per-second' = '1000000000', 'number-of-rows' = '100',
            'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '100',
            'fields.ts.kind' = 'sequence', 'fields.ts.start' = '2024-01-01 00:00:00',
            'fields.ts.step' = '1 s')",
    )
    .await;
    ok(
        &mut client,
        "CREATE TABLE orders_with_watermark (WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
         WITH ('number-of-rows' = '60') LIKE orders",
    )
    .await;
    let described = ok(&mut client, "%table orders_with_watermark").await;
    assert!(
        described
            .all_text()
            .contains("PRIMARY KEY (id) NOT ENFORCED"),
        "{}",
        described.all_text()
    );
    let windowed = ok(
        &mut client,
        "SELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE orders_with_watermark, DESCRIPTOR(ts), INTERVAL '20' SECOND)) GROUP BY window_start, window_end",
    )
    .await;
    assert_eq!(
        last_column(&final_table(&windowed)),
        [20, 20, 20],
        "{}",
        windowed.text()
    );
    let hinted = ok(
        &mut client,
        "SELECT COUNT(*) AS n FROM orders /*+ OPTIONS('number-of-rows' = '7') */",
    )
    .await;
    assert_eq!(last_column(&final_table(&hinted)), [7], "{}", hinted.text());
    let plain = ok(&mut client, "SELECT COUNT(*) AS n FROM orders").await;
    assert_eq!(last_column(&final_table(&plain)), [100], "{}", plain.text());
}

/// The shape of a Nexmark pipeline, as Flink users write it: a computed event time with a
/// WATERMARK on it, a view that picks the bids, a window over the view, and the result
/// written into a blackhole. The window's rows equal those of the same SELECT over the
/// stream with the view's filter written in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_computed_event_time_a_view_and_a_blackhole_make_a_nexmark_pipeline() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        "CREATE TABLE events (
    event_type INT,
    id BIGINT,
    price BIGINT,
    ts TIMESTAMP(3),
    `dateTime` AS ts + INTERVAL '1' HOUR,
    WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND
) WITH (
    'connector' = 'datagen',
    'seed' = '7',
    'rows-per-second' = '1000000000',
    'number-of-rows' = '600',
    'fields.event_type.min' = '0',
    'fields.event_type.max' = '2',
    'fields.price.min' = '1',
    'fields.price.max' = '1000',
    'fields.ts.kind' = 'sequence',
    'fields.ts.start' = '2024-01-01 00:00:00',
    'fields.ts.step' = '100 ms'
)",
    )
    .await;
    ok(
        &mut client,
        "CREATE VIEW bid AS SELECT id AS auction, price, `dateTime` FROM events WHERE event_type = 2",
    )
    .await;
    let q7 = |table: &str, filter: &str| {
        format!(
            "SELECT window_start, MAX(price) AS top
FROM TABLE(TUMBLE(TABLE {table}, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND)) {filter}
GROUP BY window_start, window_end"
        )
    };
    let over_view = ok(&mut client, &q7("bid", "")).await;
    let over_stream = ok(&mut client, &q7("events", "WHERE event_type = 2")).await;
    let rows = sorted_rows(&final_table(&over_view));
    assert_eq!(rows.len(), 6, "{}", over_view.text());
    assert!(rows[0].starts_with("| 2024-01-01T01:00:00 "), "{rows:?}");
    assert_eq!(rows, sorted_rows(&final_table(&over_stream)));

    ok(
        &mut client,
        "CREATE TABLE nexmark_q7 (window_start TIMESTAMP(3), top BIGINT) WITH ('connector' = 'blackhole')",
    )
    .await;
    let sunk = ok(
        &mut client,
        &format!("INSERT INTO nexmark_q7 {}", q7("bid", "")),
    )
    .await;
    assert!(
        sunk.text()
            .contains("INSERT INTO nexmark_q7: 6 rows, dropped (blackhole)"),
        "{}",
        sunk.text()
    );
}

const NEXMARK_ROWS: &str = "event_type INT,
    person ROW<id BIGINT, name VARCHAR, `emailAddress` VARCHAR, `creditCard` VARCHAR, city VARCHAR,
        state VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR>,
    auction ROW<id BIGINT, `itemName` VARCHAR, description VARCHAR, `initialBid` BIGINT,
        reserve BIGINT, `dateTime` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT,
        category BIGINT, extra VARCHAR>,
    bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
        `dateTime` TIMESTAMP(3), extra VARCHAR>";

const NEXMARK_TIME: &str = "`dateTime` AS CASE WHEN event_type = 0 THEN person.`dateTime`
        WHEN event_type = 1 THEN auction.`dateTime` ELSE bid.`dateTime` END,
    WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND";

/// Nexmark's views, over `table`, with `suffix` after each view's name.
fn nexmark_views(table: &str, suffix: &str) -> String {
    format!(
        "CREATE VIEW person{suffix} AS SELECT person.id, person.name, person.`emailAddress`,
    person.`creditCard`, person.city, person.state, `dateTime`, person.extra
    FROM {table} WHERE event_type = 0;
CREATE VIEW auction{suffix} AS SELECT auction.id, auction.`itemName`, auction.description,
    auction.`initialBid`, auction.reserve, `dateTime`, auction.expires, auction.seller,
    auction.category, auction.extra FROM {table} WHERE event_type = 1;
CREATE VIEW bid{suffix} AS SELECT bid.auction, bid.bidder, bid.price, bid.channel, bid.url,
    `dateTime`, bid.extra FROM {table} WHERE event_type = 2"
    )
}

/// The Nexmark source through the kernel, declared and viewed as Nexmark's `ddl_gen.sql` and
/// `ddl_views.sql` do: Nexmark's stateless queries, a window over its bids, q11's sessions,
/// q13's lookup join, q15/q16's counts, q18/q19's Top-N, q3/q20's joins of two streams and
/// q9's Top-N over a join, q4's aggregate over an aggregate, outer and anti joins, q5/q8's
/// joins of window aggregates and q7's join of the stream with one give over the stream what the same SQL gives as batch queries
/// over the same events, written to files by the stream and read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nexmark_queries_over_the_stream_equal_the_same_sql_over_its_events_in_files() {
    let kernel = Kernel::start();
    let dir = kernel.dir.path().join("events");
    std::fs::create_dir_all(&dir).expect("a directory for the events");
    let dir = dir.to_string_lossy();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &format!(
            "CREATE TABLE datagen ({NEXMARK_ROWS},\n    {NEXMARK_TIME}\n) WITH (
    'connector' = 'nexmark', 'first-event.rate' = '10000', 'next-event.rate' = '10000',
    'events.num' = '30000', 'base-time' = '2024-01-01 00:00:00')"
        ),
    )
    .await;
    ok(
        &mut client,
        &format!(
            "CREATE TABLE events_out ({NEXMARK_ROWS}) WITH ('connector' = 'filesystem',
    'path' = '{dir}', 'format' = 'json')"
        ),
    )
    .await;
    let written = ok(
        &mut client,
        "INSERT INTO events_out SELECT event_type, person, auction, bid FROM datagen",
    )
    .await;
    assert!(written.text().contains("30000 rows"), "{}", written.text());
    ok(
        &mut client,
        &format!(
            "CREATE TABLE events_file ({NEXMARK_ROWS},\n    `dateTime` AS CASE WHEN event_type = 0
    THEN person.`dateTime` WHEN event_type = 1 THEN auction.`dateTime` ELSE bid.`dateTime` END
) WITH ('connector' = 'filesystem', 'path' = '{dir}', 'format' = 'json')"
        ),
    )
    .await;
    ok(&mut client, &nexmark_views("datagen", "")).await;
    ok(&mut client, &nexmark_views("events_file", "_file")).await;
    for s in ["", "_file"] {
        ok(
            &mut client,
            &format!(
                "CREATE VIEW new_ids{s} AS SELECT 'person' AS kind, id, `dateTime` FROM person{s}
    UNION ALL SELECT 'auction' AS kind, id, `dateTime` FROM auction{s}"
            ),
        )
        .await;
    }
    // q13's side input: Nexmark reads its 10,000 keys and values from a file.
    ok(
        &mut client,
        "CREATE TABLE side_input AS SELECT value AS `key`, CAST(value * 7 AS VARCHAR) AS `value`
    FROM generate_series(0, 9999)",
    )
    .await;

    for query in [
        // q0 and q1, summed up.
        "SELECT COUNT(*) AS bids, SUM(price) AS total, SUM(CAST(0.908 AS DECIMAL(4, 3)) * price) AS euros, MIN(`dateTime`) AS first_bid FROM bid{s}",
        // q2.
        "SELECT auction, price FROM bid{s} WHERE MOD(auction, 123) = 0",
        // People per state, an updating result over a stream.
        "SELECT state, COUNT(*) AS people FROM person{s} GROUP BY state",
        // The highest bid of each second (q7's inner query).
        "SELECT window_start, MAX(price) AS top, COUNT(*) AS bids FROM TABLE(TUMBLE(TABLE bid{s}, DESCRIPTOR(`dateTime`), INTERVAL '1' SECOND)) GROUP BY window_start, window_end",
        // Auctions per category.
        "SELECT category, COUNT(*) AS auctions FROM auction{s} GROUP BY category",
        // q21 (a channel's id, from its name or the URL), summed up.
        "SELECT COUNT(*) AS bids, COUNT(DISTINCT channel_id) AS ids, MAX(channel_id) AS top FROM (SELECT auction, channel, CASE WHEN lower(channel) = 'apple' THEN '0' WHEN lower(channel) = 'google' THEN '1' WHEN lower(channel) = 'facebook' THEN '2' WHEN lower(channel) = 'baidu' THEN '3' ELSE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) END AS channel_id FROM bid{s} WHERE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) IS NOT NULL OR lower(channel) IN ('apple', 'google', 'facebook', 'baidu')) AS q21",
        // q15: bids, bidders and auctions per day by price range, with FILTER and DISTINCT.
        "SELECT DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') as `day`, count(*) AS total_bids, count(*) filter (where price < 10000) AS rank1_bids, count(*) filter (where price >= 10000 and price < 1000000) AS rank2_bids, count(*) filter (where price >= 1000000) AS rank3_bids, count(distinct bidder) AS total_bidders, count(distinct bidder) filter (where price < 10000) AS rank1_bidders, count(distinct bidder) filter (where price >= 10000 and price < 1000000) AS rank2_bidders, count(distinct bidder) filter (where price >= 1000000) AS rank3_bidders, count(distinct auction) AS total_auctions, count(distinct auction) filter (where price < 10000) AS rank1_auctions, count(distinct auction) filter (where price >= 10000 and price < 1000000) AS rank2_auctions, count(distinct auction) filter (where price >= 1000000) AS rank3_auctions FROM bid{s} GROUP BY DATE_FORMAT(`dateTime`, 'yyyy-MM-dd')",
        // q16 (per channel and day, with the last minute seen), for the four named channels.
        "SELECT channel, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') as `day`, max(DATE_FORMAT(`dateTime`, 'HH:mm')) as `minute`, count(*) AS total_bids, count(*) filter (where price < 10000) AS rank1_bids, count(*) filter (where price >= 10000 and price < 1000000) AS rank2_bids, count(*) filter (where price >= 1000000) AS rank3_bids, count(distinct bidder) AS total_bidders, count(distinct bidder) filter (where price < 10000) AS rank1_bidders, count(distinct auction) AS total_auctions, count(distinct auction) filter (where price >= 1000000) AS rank3_auctions FROM bid{s} WHERE lower(channel) IN ('apple', 'google', 'facebook', 'baidu') GROUP BY channel, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd')",
        // q14 (Nexmark's Java function count_char as a SQL expression), summed up by the
        // time of day it sorts bids into (its prices as decimals: a sum of floats depends on
        // the order it adds them in).
        "SELECT bidTimeType, COUNT(*) AS bids, SUM(c_counts) AS cs, SUM(CAST(price AS DECIMAL(23, 3))) AS total FROM (SELECT auction, bidder, 0.908 * price AS price, CASE WHEN HOUR(`dateTime`) >= 8 AND HOUR(`dateTime`) <= 18 THEN 'dayTime' WHEN HOUR(`dateTime`) <= 6 OR HOUR(`dateTime`) >= 20 THEN 'nightTime' ELSE 'otherTime' END AS bidTimeType, `dateTime`, extra, CHAR_LENGTH(extra) - CHAR_LENGTH(REPLACE(extra, 'c', '')) AS c_counts FROM bid{s} WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000) AS q14 GROUP BY bidTimeType",
        // q13: each bid joined with the side input as of its processing time, summed up.
        "SELECT COUNT(*) AS bids, SUM(CAST(S.`value` AS BIGINT)) AS total FROM (SELECT *, PROCTIME() as p_time FROM bid{s}) B JOIN side_input FOR SYSTEM_TIME AS OF B.p_time AS S ON mod(B.auction, 10000) = S.`key`",
        // People and auctions per second, from a UNION ALL of two views over the stream.
        "SELECT kind, window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE new_ids{s}, DESCRIPTOR(`dateTime`), INTERVAL '1' SECOND)) GROUP BY kind, window_start, window_end",
        // q19: the three highest bids of every twentieth auction, a Top-N (the columns that
        // ties in price cannot change).
        "%sql --max-rows 5000\nSELECT auction, price, rank_number FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number FROM bid{s} WHERE MOD(auction, 20) = 0) WHERE rank_number <= 3",
        // q18: the last bid of each bidder on every twentieth auction, a deduplication.
        "%sql --max-rows 5000\nSELECT bidder, auction, `dateTime` FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY `dateTime` DESC) AS rank_number FROM bid{s} WHERE MOD(auction, 20) = 0) WHERE rank_number <= 1",
        // q3: sellers in three states of the auctions in category 10, a join of two streams.
        "SELECT P.name, P.city, P.state, A.id FROM auction{s} AS A INNER JOIN person{s} AS P ON A.seller = P.id WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')",
        // q20: the bids on auctions in category 10 with their auction, for every twentieth
        // auction.
        "%sql --max-rows 5000\nSELECT B.auction, B.bidder, B.price, B.`dateTime` AS bid_time, A.seller, A.`dateTime` AS auction_time FROM bid{s} AS B INNER JOIN auction{s} AS A ON B.auction = A.id WHERE A.category = 10 AND MOD(B.auction, 20) = 0",
        // Bids and their total per category: an aggregate over q20's join.
        "SELECT A.category, COUNT(*) AS bids, SUM(B.price) AS total FROM bid{s} AS B INNER JOIN auction{s} AS A ON B.auction = A.id GROUP BY A.category",
        // q9: the winning bid of every tenth auction (a Top-1 over a join with a time
        // condition), as the columns ties in price and time cannot change.
        "%sql --max-rows 5000\nSELECT id, price FROM (SELECT A.*, B.auction, B.bidder, B.price, B.`dateTime` AS bid_dateTime, B.extra AS bid_extra, ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.`dateTime` ASC) AS rownum FROM auction{s} A, bid{s} B WHERE A.id = B.auction AND B.`dateTime` BETWEEN A.`dateTime` AND A.expires) WHERE rownum <= 1 AND MOD(id, 10) = 0",
        // q4: the average winning bid per category, an aggregate over each auction's highest
        // bid (an updating result: an auction's maximum is retracted when a higher bid comes).
        "SELECT Q.category, AVG(Q.final) AS avg_final FROM (SELECT MAX(B.price) AS final, A.category FROM auction{s} A, bid{s} B WHERE A.id = B.auction AND B.`dateTime` BETWEEN A.`dateTime` AND A.expires GROUP BY A.id, A.category) Q GROUP BY Q.category",
        // Outer and anti joins of two streams: rows padded with NULLs (or an anti join's rows)
        // are retracted when their first match comes; an aggregate over them reads weighted
        // rows.
        "%sql --max-rows 5000\nSELECT P.id AS person, A.id AS auction FROM person{s} P LEFT JOIN auction{s} A ON A.seller = P.id WHERE MOD(P.id, 10) = 0",
        "SELECT A.category, COUNT(*) AS pairs, COUNT(B.auction) AS bids FROM auction{s} A LEFT JOIN bid{s} B ON A.id = B.auction GROUP BY A.category",
        "SELECT COUNT(*) AS sellers_without_auctions FROM person{s} P WHERE NOT EXISTS (SELECT 1 FROM auction{s} A WHERE A.seller = P.id)",
        // OVER aggregations: each bid of every fiftieth bidder with the bidder's bids in the
        // second up to it and the highest and total so far (RANGE frames: rows of equal time
        // are peers, so the answer does not depend on their order).
        "%sql --max-rows 5000\nSELECT * FROM (SELECT auction, bidder, price, `dateTime`, COUNT(*) OVER (PARTITION BY bidder ORDER BY `dateTime` RANGE BETWEEN INTERVAL '1' SECOND PRECEDING AND CURRENT ROW) AS last_second, MAX(price) OVER (PARTITION BY bidder ORDER BY `dateTime`) AS highest, SUM(price) OVER (PARTITION BY bidder ORDER BY `dateTime`) AS total FROM bid{s}) WHERE MOD(bidder, 50) = 0",
        // q23: bids by people who have also listed an item, with the person and the item (a
        // join of three streams), summed up per seller.
        "SELECT P.id AS seller, COUNT(*) AS pairs, SUM(B.price) AS total, MAX(A.id) AS last_auction FROM bid{s} B JOIN person{s} P ON B.bidder = P.id JOIN auction{s} A ON P.id = A.seller GROUP BY P.id",
        // q11: each bidder's sessions, in Flink's legacy group window syntax.
        "SELECT B.bidder, count(*) AS bid_count, SESSION_START(B.`dateTime`, INTERVAL '10' SECOND) AS starttime, SESSION_END(B.`dateTime`, INTERVAL '10' SECOND) AS endtime FROM bid{s} B GROUP BY B.bidder, SESSION(B.`dateTime`, INTERVAL '10' SECOND)",
    ] {
        let streamed = ok(&mut client, &query.replace("{s}", "")).await;
        let batch = ok(&mut client, &query.replace("{s}", "_file")).await;
        let rows = sorted_rows(&final_table(&streamed));
        assert!(!rows.is_empty(), "{query}\n{}", streamed.text());
        assert_eq!(rows, sorted_rows(&batch.text()), "{query}");
    }

    // Joins of window aggregates, each against the same question of the files' events.
    for (query, batch) in [
        // q5: the auctions with the most bids in each hopping window, the window aggregate
        // met with the largest of its counts per window (the files' events are read as a
        // bounded stream: windows over a table close at its end).
        (
            "SELECT AuctionBids.auction, AuctionBids.num, AuctionBids.starttime FROM (SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime FROM TABLE(HOP(TABLE bid{s}, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end) AS AuctionBids JOIN (SELECT max(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime FROM (SELECT count(*) AS num, window_start AS starttime, window_end AS endtime FROM TABLE(HOP(TABLE bid{s}, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end) AS CountBids GROUP BY CountBids.starttime, CountBids.endtime) AS MaxBids ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime AND AuctionBids.num >= MaxBids.maxn",
            None,
        ),
        // q7: the bids at the highest price of each window, among those of the window's
        // time up to its end (Nexmark's ten seconds as one second here, as for q8), the
        // stream joined with a window aggregate of itself; as a batch query, by date_bin.
        (
            "SELECT B.auction, B.price, B.bidder, B.`dateTime` FROM bid B JOIN (SELECT MAX(price) AS maxprice, window_end AS `dateTime` FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '1' SECOND)) GROUP BY window_start, window_end) B1 ON B.price = B1.maxprice WHERE B.`dateTime` BETWEEN B1.`dateTime` - INTERVAL '1' SECOND AND B1.`dateTime`",
            Some("SELECT B.auction, B.price, B.bidder, B.`dateTime` FROM bid_file B JOIN (SELECT MAX(price) AS maxprice, date_bin(INTERVAL '1 second', `dateTime`) + INTERVAL '1 second' AS `dateTime` FROM bid_file GROUP BY date_bin(INTERVAL '1 second', `dateTime`)) B1 ON B.price = B1.maxprice WHERE B.`dateTime` BETWEEN B1.`dateTime` - INTERVAL '1' SECOND AND B1.`dateTime`"),
        ),
        // q8: people who opened an auction in the second they joined (Nexmark's ten seconds
        // would be one window of these three seconds of events), in the legacy group window
        // syntax, over two views of the stream; as a batch query, by date_bin.
        (
            "SELECT P.id, P.name, P.starttime FROM (SELECT P.id, P.name, TUMBLE_START(P.`dateTime`, INTERVAL '1' SECOND) AS starttime, TUMBLE_END(P.`dateTime`, INTERVAL '1' SECOND) AS endtime FROM person P GROUP BY P.id, P.name, TUMBLE(P.`dateTime`, INTERVAL '1' SECOND)) P JOIN (SELECT A.seller, TUMBLE_START(A.`dateTime`, INTERVAL '1' SECOND) AS starttime, TUMBLE_END(A.`dateTime`, INTERVAL '1' SECOND) AS endtime FROM auction A GROUP BY A.seller, TUMBLE(A.`dateTime`, INTERVAL '1' SECOND)) A ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime",
            Some("SELECT P.id, P.name, P.starttime FROM (SELECT id, name, date_bin(INTERVAL '1 second', `dateTime`) AS starttime FROM person_file GROUP BY 1, 2, 3) P JOIN (SELECT seller, date_bin(INTERVAL '1 second', `dateTime`) AS starttime FROM auction_file GROUP BY 1, 2) A ON P.id = A.seller AND P.starttime = A.starttime"),
        ),
    ] {
        let streamed = ok(&mut client, &query.replace("{s}", "")).await;
        let batch = match batch {
            Some(batch) => ok(&mut client, batch).await,
            None => ok(&mut client, &query.replace("{s}", "_file")).await,
        };
        let rows = sorted_rows(&final_table(&streamed));
        assert!(!rows.is_empty(), "{query}\n{}", streamed.text());
        assert_eq!(rows, sorted_rows(&batch.text()), "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_and_cumulate_windows_overlap_as_in_flink() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, CLICKS).await;
    let hop = ok(
        &mut client,
        "SELECT window_start, COUNT(*) AS clicks
FROM TABLE(HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '20' SECOND))
GROUP BY window_start, window_end ORDER BY window_start",
    )
    .await;
    assert_eq!(
        final_table(&hop),
        "\
+---------------------+--------+
| window_start        | clicks |
+---------------------+--------+
| 2023-12-31T23:59:50 | 100    |
| 2024-01-01T00:00:00 | 200    |
| 2024-01-01T00:00:10 | 200    |
| 2024-01-01T00:00:20 | 200    |
| 2024-01-01T00:00:30 | 200    |
| 2024-01-01T00:00:40 | 200    |
| 2024-01-01T00:00:50 | 100    |
+---------------------+--------+"
    );
    let cumulate = ok(
        &mut client,
        "SELECT window_start, window_end, COUNT(*) AS clicks
FROM TABLE(CUMULATE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '30' SECOND))
GROUP BY window_start, window_end ORDER BY window_start, window_end",
    )
    .await;
    assert_eq!(
        last_column(&final_table(&cumulate)),
        vec![100, 200, 300, 100, 200, 300]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_windows_split_at_gaps_per_key() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("visits.csv");
    std::fs::write(
        &file,
        "who,ts\n\
         ann,2024-01-01 00:00:00\n\
         bob,2024-01-01 00:00:00.500\n\
         ann,2024-01-01 00:00:01\n\
         bob,2024-01-01 00:00:05\n\
         ann,2024-01-01 00:00:10\n",
    )
    .unwrap();
    ok(
        &mut client,
        &format!(
            "CREATE TABLE visits (who STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv',
                   'source.replay-speed' = 'max')",
            file.display()
        ),
    )
    .await;
    let run = ok(
        &mut client,
        "SELECT who, window_start, window_end, COUNT(*) AS visits
FROM TABLE(SESSION(TABLE visits PARTITION BY who, DESCRIPTOR(ts), INTERVAL '3' SECOND))
GROUP BY who, window_start, window_end ORDER BY who, window_start",
    )
    .await;
    assert_eq!(
        sorted_rows(&final_table(&run)),
        vec![
            "| ann | 2024-01-01T00:00:00     | 2024-01-01T00:00:04     | 2      |",
            "| ann | 2024-01-01T00:00:10     | 2024-01-01T00:00:13     | 1      |",
            "| bob | 2024-01-01T00:00:00.500 | 2024-01-01T00:00:03.500 | 1      |",
            "| bob | 2024-01-01T00:00:05     | 2024-01-01T00:00:08     | 1      |",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_by_over_a_stream_is_an_updating_result_shown_in_each_mode() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, &CLICKS.replace("1000000000", "3000")).await;
    let query = "SELECT user_id, COUNT(*) AS clicks FROM clicks GROUP BY user_id ORDER BY user_id";

    let update = ok(&mut client, &format!("%sql --refresh 50ms\n{query}")).await;
    let counts = last_column(&final_table(&update));
    assert_eq!(counts.len(), 3, "{}", update.text());
    assert_eq!(counts.iter().sum::<i64>(), 600);
    assert!(
        update.of_type("update_display_data").len() >= 3,
        "the table changed in place: {:?}",
        update.types()
    );

    let changelog = ok(
        &mut client,
        &format!("%sql --mode changelog --refresh 50ms --max-rows 1000\n{query}"),
    )
    .await;
    let table = final_table(&changelog);
    assert!(table.contains("| op "), "{table}");
    assert!(table.contains("| +I "), "{table}");
    assert!(
        table.contains("| -U ") && table.contains("| +U "),
        "updated keys retract their old row: {table}"
    );

    let single = ok(
        &mut client,
        "%sql --mode single\nSELECT COUNT(*) AS clicks FROM clicks",
    )
    .await;
    assert!(single.text().ends_with("clicks: 600"), "{}", single.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_behind_the_watermark_are_dropped_and_counted() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    // Event times up to 5 s in the past, a watermark 1 s behind the latest: out of order,
    // some rows arrive after their window closed.
    let late = CLICKS
        .replace(
            "'fields.ts.kind' = 'sequence'",
            "'fields.ts.kind' = 'random'",
        )
        .replace(
            "'fields.ts.step' = '100 ms'",
            "'fields.ts.step' = '100 ms', 'fields.ts.max-past' = '5 s'",
        )
        .replace("1000000000", "2000");
    ok(&mut client, &late).await;
    let run = ok(
        &mut client,
        "%sql --max-rows 100
SELECT window_start, COUNT(*) AS clicks
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '2' SECOND))
GROUP BY window_start, window_end",
    )
    .await;
    let status = final_status(&run);
    let dropped: u64 = status
        .split(" · ")
        .find_map(|part| part.strip_suffix(" late rows dropped"))
        .map(|n| n.replace(',', "").parse().unwrap())
        .unwrap_or_else(|| panic!("no late rows in: {status}"));
    let counted: i64 = last_column(&final_table(&run)).iter().sum();
    assert!(dropped > 0);
    assert_eq!(counted as u64 + dropped, 600, "{status}");
    // Without a window no operator waits on event time: as in Flink, the same rows are all
    // counted, none dropped.
    let all = ok(&mut client, "SELECT COUNT(*) AS clicks FROM clicks").await;
    assert_eq!(last_column(&final_table(&all)), vec![600], "{}", all.text());
    assert!(
        !final_status(&all).contains("late"),
        "{}",
        final_status(&all)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_stops_a_stream_quickly_and_keeps_its_last_result() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, TICKS).await;
    let running = client
        .start_execute(
            "%sql --refresh 100ms\nSELECT user_id, COUNT(*) AS n FROM ticks GROUP BY user_id",
        )
        .await;
    // Wait until the display has updated at least twice.
    let mut updates = 0;
    while updates < 2 {
        let message = client.next_iopub().await;
        if message.parent_id() == running && message.msg_type() == "update_display_data" {
            updates += 1;
        }
    }
    assert!(client.ping(Duration::from_millis(500)).await);
    let asked = Instant::now();
    client
        .send(Channel::Control, "interrupt_request", json!({}))
        .await;
    assert_eq!(
        client.reply(Channel::Control).await.msg_type(),
        "interrupt_reply"
    );
    let reply = client.reply(Channel::Shell).await;
    let took = asked.elapsed();
    assert_eq!(reply.parent_id(), running);
    assert_eq!(reply.content["ename"], "Interrupted");
    assert!(took < Duration::from_millis(200), "cancelled in {took:?}");
    let rest = client.broadcasts_until_idle(&running).await;
    let last = rest
        .iter()
        .rev()
        .find(|m| m.msg_type() == "update_display_data")
        .expect("a final update");
    let text = last.content["data"]["text/plain"].as_str().unwrap();
    assert!(text.starts_with("cancelled after"), "{text}");
    assert!(
        text.contains("| user_id | n "),
        "the last result stays: {text}"
    );

    let after = ok(&mut client, "SHOW TABLES").await;
    assert!(after.text().contains("ticks"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duration_ends_an_unbounded_query_and_the_cell_succeeds() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, TICKS).await;
    let started = Instant::now();
    let run = ok(
        &mut client,
        "%sql --duration 1s --refresh 200ms\nSELECT * FROM ticks WHERE user_id = 2",
    )
    .await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    let status = final_status(&run);
    assert!(
        status.starts_with("stopped after its --duration"),
        "{status}"
    );
    assert!(final_table(&run).contains("| 2 "), "{}", run.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_queries_keep_updating_and_cancel_by_id() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, TICKS).await;
    let started = ok(
        &mut client,
        "%sql --background --refresh 100ms\nSELECT COUNT(*) AS n FROM ticks",
    )
    .await;
    let started_id = started.reply.parent_id().to_string();
    assert!(
        started.all_text().contains("Started job 1"),
        "{}",
        started.all_text()
    );
    // The display keeps changing after the cell finished.
    let mut updates = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while updates < 2 && Instant::now() < deadline {
        let message = client.next_iopub().await;
        if message.parent_id() == started_id && message.msg_type() == "update_display_data" {
            updates += 1;
        }
    }
    assert_eq!(updates, 2);
    let jobs = ok(&mut client, "%jobs").await;
    assert!(
        jobs.displayed().contains("[1] running"),
        "{}",
        jobs.displayed()
    );
    let cancel = ok(&mut client, "%cancel 1").await;
    assert!(cancel.displayed().contains("Cancelled job 1"));
    let mut listed = String::new();
    for _ in 0..50 {
        listed = ok(&mut client, "%jobs").await.displayed();
        if listed.contains("[1] cancelled") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(listed.contains("[1] cancelled"), "{listed}");
    let again = client.execute("%cancel 1").await;
    assert_eq!(again.reply.content["status"], "error");
}

/// Windows on processing time, `pt AS PROCTIME()`: over the table's computed column, and over
/// Nexmark q12's subquery (`FROM (SELECT *, PROCTIME() AS p_time FROM bid) B … GROUP BY
/// TUMBLE(B.p_time, …)`). Rows arrive over 1.5 s of the clock; each window closes once the
/// clock has passed it, and every row is counted in one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processing_time_windows_count_every_row_as_the_clock_passes() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        "CREATE TABLE paced (id BIGINT, pt AS PROCTIME()) WITH (
            'connector' = 'datagen', 'rows-per-second' = '20', 'number-of-rows' = '30',
            'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '30')",
    )
    .await;
    let windowed = ok(
        &mut client,
        "SELECT window_start, window_end, COUNT(*) AS n
         FROM TABLE(TUMBLE(TABLE paced, DESCRIPTOR(pt), INTERVAL '1' SECOND))
         GROUP BY window_start, window_end",
    )
    .await;
    let counts = last_column(&final_table(&windowed));
    assert!(counts.len() >= 2, "{}", windowed.text());
    assert_eq!(counts.iter().sum::<i64>(), 30, "{}", windowed.text());
    let q12 = ok(
        &mut client,
        "SELECT B.id % 2 AS parity, TUMBLE_START(B.p_time, INTERVAL '1' SECOND) AS starttime,
                count(*) AS bid_count
         FROM (SELECT *, PROCTIME() AS p_time FROM paced) B
         GROUP BY B.id % 2, TUMBLE(B.p_time, INTERVAL '1' SECOND)",
    )
    .await;
    let counts = last_column(&final_table(&q12));
    assert!(counts.len() >= 4, "{}", q12.text());
    assert_eq!(counts.iter().sum::<i64>(), 30, "{}", q12.text());
}

/// A statement set runs its INSERTs as one job that reads each source once: two print
/// tables fed from one generator of random values print the same values (two generators
/// would not), shown in one cell with a line per table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_set_reads_its_source_once_for_every_insert() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        "CREATE TABLE randoms (v BIGINT) WITH ('connector' = 'datagen',
            'number-of-rows' = '10', 'rows-per-second' = '1000000000')",
    )
    .await;
    for name in ["copy_a", "copy_b"] {
        ok(
            &mut client,
            &format!(
                "CREATE TABLE {name} (v BIGINT) WITH ('connector' = 'print', 'print-identifier' = '{name}')"
            ),
        )
        .await;
    }
    let run = ok(
        &mut client,
        "EXECUTE STATEMENT SET
BEGIN
INSERT INTO copy_a SELECT v FROM randoms;
INSERT INTO copy_b SELECT v FROM randoms;
END;",
    )
    .await;
    let text = run.text();
    assert!(
        text.contains("INSERT INTO copy_a: 10 rows printed"),
        "{text}"
    );
    assert!(
        text.contains("INSERT INTO copy_b: 10 rows printed"),
        "{text}"
    );
    let values = |name: &str| {
        let mut values: Vec<String> = text
            .lines()
            .filter_map(|line| line.strip_prefix(&format!("{name}> +I[")))
            .map(|rest| rest.trim_end_matches(']').to_string())
            .collect();
        values.sort();
        values
    };
    assert_eq!(values("copy_a").len(), 10, "{text}");
    assert_eq!(values("copy_a"), values("copy_b"), "{text}");

    // Over an endless source the set runs until stopped, and stops as a whole.
    ok(&mut client, TICKS).await;
    for name in ["all_ticks", "some_ticks"] {
        ok(
            &mut client,
            &format!("CREATE TABLE {name} (user_id INT, ts TIMESTAMP(3)) WITH ('connector' = 'blackhole')"),
        )
        .await;
    }
    let stopped = ok(
        &mut client,
        "%sql --duration 1s
BEGIN STATEMENT SET;
INSERT INTO all_ticks SELECT user_id, ts FROM ticks;
INSERT INTO some_ticks SELECT user_id, ts FROM ticks WHERE user_id = 1;
END;",
    )
    .await;
    assert!(
        final_status(&stopped).starts_with("stopped after its --duration"),
        "{}",
        stopped.text()
    );
    assert!(
        stopped.text().contains("INSERT INTO some_ticks: "),
        "{}",
        stopped.text()
    );
    let jobs = ok(&mut client, "%jobs").await;
    assert!(
        !jobs.displayed().contains("running"),
        "{}",
        jobs.displayed()
    );
}

/// A UNION ALL of two streams reads both as their rows come: an updating count over it ends
/// with every row of each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_union_all_of_two_streams_counts_the_rows_of_both() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, CLICKS).await;
    ok(
        &mut client,
        "CREATE TABLE late_clicks (user_id INT, url STRING, ts TIMESTAMP(3)) WITH (
            'connector' = 'datagen', 'rows-per-second' = '1000000000', 'number-of-rows' = '40',
            'fields.user_id.min' = '7', 'fields.user_id.max' = '7')",
    )
    .await;
    let counted = ok(
        &mut client,
        "SELECT user_id = 7 AS late, COUNT(*) AS n
         FROM (SELECT user_id FROM clicks UNION ALL SELECT user_id FROM late_clicks)
         GROUP BY user_id = 7",
    )
    .await;
    let mut counts = last_column(&final_table(&counted));
    counts.sort();
    assert_eq!(counts, [40, 600], "{}", counted.text());
}

/// A window over a UNION ALL of two streams, each with its own watermark: the window closes
/// once both have passed it (their least watermark, as in Flink), and the counts equal the
/// same query over the same files read as tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_over_a_union_of_two_streams_equals_the_batch_query() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, rows: usize, step_ms: usize, start_ms: usize| {
        let lines: String = (0..rows)
            .map(|i| {
                let ms = start_ms + i * step_ms;
                format!(
                    "{},2024-01-01 00:{:02}:{:02}.{:03}\n",
                    i % 3,
                    ms / 60_000,
                    ms / 1000 % 60,
                    ms % 1000
                )
            })
            .collect();
        let file = dir.path().join(name);
        std::fs::write(&file, format!("k,ts\n{lines}")).unwrap();
        file.display().to_string()
    };
    let orders = write("orders.csv", 400, 1_500, 0);
    let refunds = write("refunds.csv", 250, 2_000, 700);
    // Replayed in event-time order, the files are streams; read whole, tables.
    let streamed = |delay: u32| {
        format!(
            ", WATERMARK FOR ts AS ts - INTERVAL '{delay}' SECOND) WITH ('source.replay-speed' \
             = 'max', "
        )
    };
    for suffix in ["", "_file"] {
        for (table, file, delay) in [("orders", &orders, 2), ("refunds", &refunds, 5)] {
            let stream = match suffix {
                "" => streamed(delay),
                _ => ") WITH (".to_string(),
            };
            ok(
                &mut client,
                &format!(
                    "CREATE TABLE {table}{suffix} (k INT, ts TIMESTAMP(3){stream}
                     'connector' = 'filesystem', 'path' = '{file}', 'format' = 'csv')"
                ),
            )
            .await;
        }
        ok(
            &mut client,
            &format!(
                "CREATE VIEW moves{suffix} AS SELECT 'order' AS kind, k, ts FROM orders{suffix}
                 UNION ALL SELECT 'refund' AS kind, k, ts FROM refunds{suffix}"
            ),
        )
        .await;
    }
    let query = "%sql --max-rows 500\nSELECT kind, k, window_start, COUNT(*) AS n
        FROM TABLE(TUMBLE(TABLE moves{s}, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
        GROUP BY kind, k, window_start, window_end";
    let streamed = ok(&mut client, &query.replace("{s}", "")).await;
    let batch = ok(&mut client, &query.replace("{s}", "_file")).await;
    let rows = sorted_rows(&final_table(&streamed));
    // Orders over 10 minutes, refunds over 9, three keys each.
    assert_eq!(rows.len(), 3 * 10 + 3 * 9, "{}", streamed.text());
    assert_eq!(rows, sorted_rows(&batch.text()));
    assert!(
        !final_status(&streamed).contains("late"),
        "{}",
        final_status(&streamed)
    );
}

/// Nexmark q10's shape: a stream written into a table `PARTITIONED BY (dt, hm)`, one
/// directory per day and minute as Flink names them (`hm=00%3A03`, the colon escaped), the
/// partition columns in the directory names and not in the files, each partition committed
/// with a `_SUCCESS` file; the same table read back has every row in its partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_sink_writes_a_directory_per_partition_and_commits_each() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let dir = tempfile::tempdir().unwrap();
    // Created by the INSERT, as Flink does.
    let out = dir.path().join("bids");
    ok(
        &mut client,
        "CREATE TABLE bids (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH (
            'connector' = 'datagen', 'rows-per-second' = '1000000000', 'number-of-rows' = '60',
            'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '60',
            'fields.ts.kind' = 'sequence', 'fields.ts.start' = '2024-01-01 00:00:00',
            'fields.ts.step' = '10 s')",
    )
    .await;
    let declare = |name: &str| {
        format!(
            "CREATE TABLE {name} (id BIGINT, ts TIMESTAMP(3), dt STRING, hm STRING)
             PARTITIONED BY (dt, hm) WITH (
                'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv',
                'sink.partition-commit.trigger' = 'partition-time',
                'partition.time-extractor.timestamp-pattern' = '$dt $hm:00',
                'sink.partition-commit.delay' = '1 min',
                'sink.partition-commit.policy.kind' = 'success-file',
                'sink.rolling-policy.rollover-interval' = '1 min',
                'sink.rolling-policy.check-interval' = '1 min')",
            out.display()
        )
    };
    ok(&mut client, &declare("bids_out")).await;
    let written = ok(
        &mut client,
        "INSERT INTO bids_out SELECT id, ts, DATE_FORMAT(ts, 'yyyy-MM-dd'), DATE_FORMAT(ts, 'HH:mm') FROM bids",
    )
    .await;
    assert!(written.text().contains("60 rows"), "{}", written.text());

    let day = out.join("dt=2024-01-01");
    let mut minutes: Vec<String> = std::fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    minutes.sort();
    let expected: Vec<String> = (0..10).map(|m| format!("hm=00%3A{m:02}")).collect();
    assert_eq!(minutes, expected);
    for minute in &minutes {
        let partition = day.join(minute);
        assert!(
            partition.join("_SUCCESS").is_file(),
            "{minute} is not committed"
        );
        let mut rows = 0;
        for file in std::fs::read_dir(&partition).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "csv") {
                let text = std::fs::read_to_string(&path).unwrap();
                let mut lines = text.lines();
                assert_eq!(lines.next(), Some("id,ts"), "{}", path.display());
                rows += lines.count();
            }
        }
        assert_eq!(rows, 6, "{minute}");
    }

    ok(&mut client, &declare("bids_back")).await;
    let described = ok(&mut client, "%table bids_back").await;
    assert!(
        described
            .all_text()
            .contains("60 rows · PARTITIONED BY (dt, hm)"),
        "{}",
        described.all_text()
    );
    let back = ok(
        &mut client,
        "SELECT dt, hm, COUNT(*) AS n, MIN(id) AS first_id FROM bids_back GROUP BY dt, hm ORDER BY hm",
    )
    .await;
    let text = back.text();
    assert!(text.contains("| 2024-01-01 | 00:03 | 6 "), "{text}");
    assert_eq!(sorted_rows(&text).len(), 10, "{text}");
    let filtered = ok(
        &mut client,
        "SELECT COUNT(*) AS n FROM bids_back WHERE hm = '00:09'",
    )
    .await;
    assert_eq!(last_column(&filtered.text()), [6], "{}", filtered.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_inserted_into_files_shows_only_complete_files() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    ok(&mut client, CLICKS).await;
    ok(
        &mut client,
        &format!(
            "CREATE TABLE clicks_out (user_id INT, url STRING, ts TIMESTAMP(3))
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv')",
            out.display()
        ),
    )
    .await;
    let run = ok(
        &mut client,
        "INSERT INTO clicks_out SELECT user_id, url, ts FROM clicks",
    )
    .await;
    assert!(run.text().contains("600 rows in 1 files"), "{}", run.text());
    let count = ok(&mut client, "SELECT COUNT(*) AS n FROM clicks_out").await;
    assert!(count.text().contains("| 600 |"), "{}", count.text());

    // An endless pipeline, watched while it writes: every file a reader can see is whole.
    ok(&mut client, TICKS).await;
    let live = out.join("live");
    std::fs::create_dir(&live).unwrap();
    ok(
        &mut client,
        &format!(
            "CREATE TABLE ticks_out (user_id INT, ts TIMESTAMP(3))
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv')",
            live.display()
        ),
    )
    .await;
    ok(
        &mut client,
        "%sql --background\nINSERT INTO ticks_out SELECT * FROM ticks",
    )
    .await;
    let mut complete_files = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        for entry in std::fs::read_dir(&live).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap();
            assert!(text.starts_with("user_id,ts\n"), "{name}: {text:?}");
            assert!(text.ends_with('\n'), "{name} is cut short");
            complete_files += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(complete_files > 0, "no file appeared in 5 s");
    ok(&mut client, "%cancel all").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let leftovers: Vec<String> = std::fs::read_dir(&live)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".inprogress"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_source_reads_the_lines_the_test_sends() {
    use tokio::io::AsyncWriteExt;
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    ok(
        &mut client,
        &format!(
            "CREATE TABLE words (word STRING, n INT)
             WITH ('connector' = 'socket', 'hostname' = '127.0.0.1', 'port' = '{port}',
                   'format' = 'csv', 'csv.ignore-parse-errors' = 'true')"
        ),
    )
    .await;
    let running = client
        .start_execute("SELECT word, SUM(n) AS total FROM words GROUP BY word ORDER BY word")
        .await;
    let (mut socket, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the kernel connects")
        .unwrap();
    socket.write_all(b"apple,1\npear,2\napple,").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    socket.write_all(b"3\npear,4\nplum,many\n").await.unwrap();
    socket.shutdown().await.unwrap();
    drop(socket);
    let run = client.finish_execute(&running).await;
    assert_eq!(run.reply.content["status"], "ok", "{:?}", run.reply.content);
    assert_eq!(
        final_table(&run),
        "\
+-------+-------+
| word  | total |
+-------+-------+
| apple | 4     |
| pear  | 6     |
+-------+-------+"
    );
    let status = final_status(&run);
    assert!(status.contains("1 malformed rows skipped"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_file_is_a_stream_in_event_time_order() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ratings.csv");
    // Out of order in the file; a replay sorts by event time, so nothing is late.
    std::fs::write(
        &file,
        "movie,score,ts\n\
         m1,5,2024-01-01 00:02:10\n\
         m2,3,2024-01-01 00:00:05\n\
         m1,4,2024-01-01 00:01:30\n\
         m2,2,2024-01-01 00:00:50\n",
    )
    .unwrap();
    ok(
        &mut client,
        &format!(
            "CREATE TABLE ratings (movie STRING, score INT, ts TIMESTAMP(3),
               WATERMARK FOR ts AS ts)
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv',
                   'source.replay-speed' = 'max')",
            file.display()
        ),
    )
    .await;
    let run = ok(
        &mut client,
        "SELECT window_start, COUNT(*) AS ratings, AVG(score) AS score
FROM TABLE(TUMBLE(TABLE ratings, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end ORDER BY window_start",
    )
    .await;
    assert_eq!(
        final_table(&run),
        "\
+---------------------+---------+-------+
| window_start        | ratings | score |
+---------------------+---------+-------+
| 2024-01-01T00:00:00 | 2       | 2.5   |
| 2024-01-01T00:01:00 | 1       | 4.0   |
| 2024-01-01T00:02:00 | 1       | 5.0   |
+---------------------+---------+-------+"
    );
    assert!(
        !final_status(&run).contains("late"),
        "{}",
        final_status(&run)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_in_stream_sql_are_clear_errors() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, TICKS).await;
    for (code, expected) in [
        (
            "SELECT * FROM ticks ORDER BY ts",
            "ORDER BY over a stream without GROUP BY needs the whole stream",
        ),
        (
            "SELECT * FROM TABLE(TUMBLE(TABLE ticks, DESCRIPTOR(user_id), INTERVAL '1' MINUTE))",
            "DESCRIPTOR(user_id) must name ticks's event-time column ts",
        ),
        (
            "SELECT * FROM TABLE(TUMBLE(TABLE ticks, INTERVAL '1' MINUTE))",
            "TUMBLE is called as TUMBLE(TABLE t, DESCRIPTOR(time_column), <size> [, <offset>])",
        ),
        (
            "CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR nope AS nope) WITH ('connector' = 'datagen')",
            "WATERMARK FOR nope: the table has no such column",
        ),
        (
            "CREATE TABLE t (x INT) WITH ('connector' = 'datagen', 'fields.y.min' = '1')",
            "fields.y.min",
        ),
        ("%sql --mode table\nSELECT * FROM ticks", "'table' is not a mode"),
    ] {
        let run = client.execute(code).await;
        assert_eq!(run.reply.content["status"], "error", "{code}");
        let evalue = run.reply.content["evalue"].as_str().unwrap_or_default();
        assert!(evalue.contains(expected), "{code}\n{evalue}");
    }
    // The kernel is fine afterwards.
    ok(&mut client, "SELECT 1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitored_directory_streams_new_files_and_appended_lines() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let dir = tempfile::tempdir().unwrap();
    // Each file starts with a header line, as exported files do (`csv.header`, default true).
    std::fs::write(dir.path().join("a.csv"), "word,n\napple,1\npear,2\n").unwrap();
    ok(
        &mut client,
        &format!(
            "CREATE TABLE drops (word STRING, n INT)
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv',
                   'source.monitor-interval' = '50 ms')",
            dir.path().display()
        ),
    )
    .await;
    let running = client
        .start_execute("%sql --duration 3s --refresh 100ms\nSELECT word, SUM(n) AS total FROM drops GROUP BY word ORDER BY word")
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    // A line appended to the first file (written in two parts), a second file, and a file
    // still being written under a temporary name, which is not read.
    use std::io::Write;
    let mut first = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("a.csv"))
        .unwrap();
    first.write_all(b"apple,").unwrap();
    first.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    first.write_all(b"10\n").unwrap();
    std::fs::write(dir.path().join("b.csv"), "word,n\nplum,5\n").unwrap();
    std::fs::write(dir.path().join(".c.csv.inprogress"), "plum,100\n").unwrap();
    let run = client.finish_execute(&running).await;
    assert_eq!(run.reply.content["status"], "ok", "{:?}", run.reply.content);
    assert_eq!(
        sorted_rows(&final_table(&run)),
        vec![
            "| apple | 11    |",
            "| pear  | 2     |",
            "| plum  | 5     |",
        ]
    );
    // The same files as a batch table read the same rows: headers are not rows there either.
    ok(
        &mut client,
        &format!(
            "CREATE TABLE drops_now (word STRING, n INT)
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv')",
            dir.path().display()
        ),
    )
    .await;
    let batch = ok(
        &mut client,
        "SELECT word, SUM(n) AS total FROM drops_now GROUP BY word ORDER BY word",
    )
    .await;
    assert_eq!(sorted_rows(&batch.text()), sorted_rows(&final_table(&run)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_source_lets_the_watermark_close_the_last_window() {
    use tokio::io::AsyncWriteExt;
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    ok(
        &mut client,
        &format!(
            "CREATE TABLE events (name STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
             WITH ('connector' = 'socket', 'hostname' = '127.0.0.1', 'port' = '{port}',
                   'format' = 'csv', 'scan.watermark.idle-timeout' = '300 ms')"
        ),
    )
    .await;
    let running = client
        .start_execute("%sql --duration 4s --refresh 100ms\nSELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end")
        .await;
    let (mut socket, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the kernel connects")
        .unwrap();
    // One window's rows, then silence with the connection open: without the idle timeout
    // the window would never close.
    socket
        .write_all(b"a,2024-01-01 00:00:01\nb,2024-01-01 00:00:30\n")
        .await
        .unwrap();
    let run = client.finish_execute(&running).await;
    assert_eq!(run.reply.content["status"], "ok", "{:?}", run.reply.content);
    assert_eq!(
        sorted_rows(&final_table(&run)),
        vec!["| 2024-01-01T00:00:00 | 2 |"],
        "{}",
        run.text()
    );
    drop(socket);
}
