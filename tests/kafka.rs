//! Kafka tables through the real kernel and a real broker (`support/kafka_broker.rs`): rows
//! written by `INSERT INTO` arrive as records, reading starts and stops where the scan
//! options say, bad records are named or skipped, and a missing topic or broker is a clear
//! error within seconds. Part of the `streaming` test binary.

use super::kafka_broker::{broker, Broker, ReadRecord};
use super::support::{Client, Execution, Kernel};
use super::{final_status, final_table, ok, sorted_rows, CLICKS};
use std::time::{Duration, Instant};

/// `CREATE TABLE name (columns) WITH (kafka options for topic, and `extra`)`.
pub(super) fn kafka_table(name: &str, columns: &str, topic: &str, extra: &str) -> String {
    format!(
        "CREATE TABLE {name} ({columns}) WITH (
            'connector' = 'kafka',
            'topic' = '{topic}',
            'properties.bootstrap.servers' = '{}'{extra}
        )",
        broker().bootstrap
    )
}

/// Reads every record as a bounded query does: from the earliest offset to the end.
pub(super) const WHOLE_TOPIC: &str = ",
    'scan.startup.mode' = 'earliest-offset',
    'scan.bounded.mode' = 'latest-offset'";

pub(super) async fn error_of(client: &mut Client, code: &str) -> (String, Duration) {
    let started = Instant::now();
    let run = client.execute(code).await;
    let took = started.elapsed();
    assert_eq!(
        run.reply.content["status"],
        "error",
        "{code}: {}",
        run.all_text()
    );
    (
        run.reply.content["evalue"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        took,
    )
}

/// The error `code` fails with, checked to say `says`.
pub(super) async fn refused(client: &mut Client, code: &str, says: &str) -> String {
    let (error, _) = error_of(client, code).await;
    assert!(error.contains(says), "{code}: {error}");
    error
}

/// The values of `n` a bounded query over `table` reads, in order.
async fn numbers(client: &mut Client, table: &str) -> Vec<i64> {
    let run = ok(client, &format!("SELECT n FROM {table}")).await;
    super::last_column(&final_table(&run))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_inserted_into_a_topic_are_its_records_and_read_back_as_the_same_rows() {
    let topic = broker().topic("clicks", 2);
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, CLICKS).await;
    let columns = "user_id INT, url STRING, ts TIMESTAMP(3)";
    ok(
        &mut client,
        &kafka_table(
            "clicks_topic",
            columns,
            &topic,
            ",
            'format' = 'json',
            'key.format' = 'json',
            'key.fields' = 'user_id',
            'scan.startup.mode' = 'earliest-offset',
            'scan.bounded.mode' = 'latest-offset'",
        ),
    )
    .await;
    let sent = ok(&mut client, "INSERT INTO clicks_topic SELECT * FROM clicks").await;
    assert!(
        sent.text()
            .contains(&format!("600 records sent to Kafka topic {topic}")),
        "{}",
        sent.text()
    );

    // The records, as any Kafka client reads them: one per row, keyed by user, each user's
    // records in one partition, timestamps written as Flink's json format writes them.
    let records = broker().read_all(&topic);
    assert_eq!(records.len(), 600, "{}", broker().log());
    let first: &ReadRecord = records
        .iter()
        .find(|r| {
            r.value
                .as_deref()
                .is_some_and(|v| v.contains("00:00:00.100\""))
        })
        .unwrap_or_else(|| panic!("the second click: {:?}", &records[..3]));
    assert!(
        first
            .key
            .as_deref()
            .is_some_and(|k| k.starts_with("{\"user_id\":")),
        "{first:?}"
    );
    assert!(
        first
            .value
            .as_deref()
            .is_some_and(|v| v.contains("\"ts\":\"2024-01-01 00:00:00.100\"")),
        "{first:?}"
    );
    for user in 1..=3 {
        let key = format!("{{\"user_id\":{user}}}");
        let mut partitions: Vec<i32> = records
            .iter()
            .filter(|r| r.key.as_deref() == Some(&key))
            .map(|r| r.partition)
            .collect();
        partitions.dedup();
        assert_eq!(partitions.len(), 1, "user {user} is in one partition");
    }

    // The topic read back as a table gives the generator's rows: the same windows, counts
    // and sums as the same query over the generator itself.
    let query = |table: &str| {
        format!(
            "SELECT window_start, user_id, COUNT(*) AS clicks, MAX(url) AS last_url
             FROM TABLE(TUMBLE(TABLE {table}, DESCRIPTOR(ts), INTERVAL '10' SECOND))
             GROUP BY window_start, window_end, user_id"
        )
    };
    let expected = ok(&mut client, &query("clicks")).await;
    let expected = sorted_rows(&final_table(&expected));
    assert_eq!(expected.len(), 18, "6 windows of 3 users");
    ok(
        &mut client,
        &kafka_table(
            "clicks_read",
            "user_id INT, url STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND",
            &topic,
            &format!(",\n'format' = 'json'{WHOLE_TOPIC}"),
        ),
    )
    .await;
    let read = ok(&mut client, &query("clicks_read")).await;
    assert_eq!(
        sorted_rows(&final_table(&read)),
        expected,
        "{}",
        read.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_starts_and_stops_where_the_scan_modes_say() {
    let topic = broker().topic("numbers", 1);
    let record = |n: i64| format!("{{\"n\":{n}}}");
    let first: Vec<String> = (0..5).map(record).collect();
    let first: Vec<(Option<&str>, &str)> = first.iter().map(|v| (None, v.as_str())).collect();
    broker().produce(&topic, 0, &first);
    // Record times are the broker's clock: the second five are later than `between`.
    std::thread::sleep(Duration::from_millis(50));
    let between = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    std::thread::sleep(Duration::from_millis(50));
    let second: Vec<String> = (5..10).map(record).collect();
    let second: Vec<(Option<&str>, &str)> = second.iter().map(|v| (None, v.as_str())).collect();
    broker().produce(&topic, 0, &second);

    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let cases: Vec<(&str, String, Vec<i64>)> = vec![
        ("whole", WHOLE_TOPIC.to_string(), (0..10).collect()),
        (
            "from_offset",
            ",
            'scan.startup.mode' = 'specific-offsets',
            'scan.startup.specific-offsets' = 'partition:0,offset:4',
            'scan.bounded.mode' = 'latest-offset'"
                .into(),
            (4..10).collect(),
        ),
        (
            "to_offset",
            ",
            'scan.startup.mode' = 'earliest-offset',
            'scan.bounded.mode' = 'specific-offsets',
            'scan.bounded.specific-offsets' = 'partition:0,offset:7'"
                .into(),
            (0..7).collect(),
        ),
        (
            "from_time",
            format!(
                ",
                'scan.startup.mode' = 'timestamp',
                'scan.startup.timestamp-millis' = '{between}',
                'scan.bounded.mode' = 'latest-offset'"
            ),
            (5..10).collect(),
        ),
        (
            "to_time",
            format!(
                ",
                'scan.startup.mode' = 'earliest-offset',
                'scan.bounded.mode' = 'timestamp',
                'scan.bounded.timestamp-millis' = '{between}'"
            ),
            (0..5).collect(),
        ),
        (
            "from_latest",
            ",
            'scan.startup.mode' = 'latest-offset',
            'scan.bounded.mode' = 'latest-offset'"
                .into(),
            vec![],
        ),
    ];
    for (name, scan, expected) in cases {
        ok(
            &mut client,
            &kafka_table(
                name,
                "n BIGINT",
                &topic,
                &format!(",\n'format' = 'json'{scan}"),
            ),
        )
        .await;
        assert_eq!(numbers(&mut client, name).await, expected, "{name}");
    }

    // A group resumes after the records it was handed: the second query of the group reads
    // only what came after the first.
    ok(
        &mut client,
        &kafka_table(
            "grouped",
            "n BIGINT",
            &topic,
            ",
            'format' = 'json',
            'properties.group.id' = 'notebook',
            'properties.auto.offset.reset' = 'earliest',
            'scan.bounded.mode' = 'latest-offset'",
        ),
    )
    .await;
    assert_eq!(
        numbers(&mut client, "grouped").await,
        (0..10).collect::<Vec<_>>()
    );
    broker().produce(&topic, 0, &[(None, "{\"n\":10}"), (None, "{\"n\":11}")]);
    // The commit is asynchronous: give it a moment to land.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let again = numbers(&mut client, "grouped").await;
        if again == vec![10, 11] || Instant::now() > deadline {
            assert_eq!(again, vec![10, 11]);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // `%table` shows the topic's partitions now, and how far the group has read.
    let shown = ok(&mut client, "%table grouped").await.all_text();
    let squeezed: Vec<String> = shown
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        squeezed.iter().any(|l| l.contains("| topic | partition | earliest_offset | latest_offset | records | committed_by_notebook | lag |")),
        "{shown}"
    );
    assert!(
        squeezed.contains(&format!("| {topic} | 0 | 0 | 12 | 12 | 12 | 0 |")),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_record_is_named_by_topic_partition_and_offset_or_skipped_and_counted() {
    let topic = broker().topic("mixed", 1);
    broker().produce(
        &topic,
        0,
        &[
            (None, "{\"n\":1}"),
            (None, "{\"n\":\"two\"}"),
            (None, "{\"n\":3}"),
        ],
    );
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &kafka_table(
            "strict",
            "n BIGINT",
            &topic,
            &format!(",\n'format' = 'json'{WHOLE_TOPIC}"),
        ),
    )
    .await;
    let (error, _) = error_of(&mut client, "SELECT n FROM strict").await;
    assert!(
        error.contains(&format!("topic {topic}, partition 0, offset 1")),
        "{error}"
    );
    assert!(error.contains("json.ignore-parse-errors"), "{error}");
    ok(
        &mut client,
        &kafka_table(
            "lenient",
            "n BIGINT",
            &topic,
            &format!(",\n'format' = 'json', 'json.ignore-parse-errors' = 'true'{WHOLE_TOPIC}"),
        ),
    )
    .await;
    let run = ok(&mut client, "SELECT n FROM lenient").await;
    assert_eq!(super::last_column(&final_table(&run)), vec![1, 3]);
    let status = final_status(&run);
    assert!(status.contains("1 malformed rows skipped"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_and_raw_records_round_trip() {
    let topic = broker().topic("lines", 1);
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &kafka_table(
            "words_out",
            "word STRING, n INT",
            &topic,
            ",\n'format' = 'csv', 'sink.partitioner' = 'fixed', 'scan.startup.mode' = 'earliest-offset'",
        ),
    )
    .await;
    ok(
        &mut client,
        "INSERT INTO words_out SELECT * FROM (VALUES ('apple', 1), ('pear, ripe', 2)) AS t(word, n)",
    )
    .await;
    assert_eq!(
        broker()
            .read_all(&topic)
            .into_iter()
            .filter_map(|r| r.value)
            .collect::<Vec<_>>(),
        vec!["apple,1".to_string(), "\"pear, ripe\",2".to_string()]
    );
    ok(
        &mut client,
        &kafka_table(
            "raw_lines",
            "line STRING",
            &topic,
            &format!(",\n'format' = 'raw'{WHOLE_TOPIC}"),
        ),
    )
    .await;
    let run = ok(&mut client, "SELECT line FROM raw_lines").await;
    let table = final_table(&run);
    assert!(table.contains("| apple,1 "), "{table}");
    assert!(table.contains("| \"pear, ripe\",2 "), "{table}");

    // Without a group or a startup mode (Flink's default is group-offsets) a table is
    // written to all the same; reading it says why it cannot.
    ok(
        &mut client,
        &kafka_table("written_only", "line STRING", &topic, ",\n'format' = 'raw'"),
    )
    .await;
    ok(&mut client, "INSERT INTO written_only VALUES ('plum,3')").await;
    let (error, _) = error_of(&mut client, "SELECT line FROM written_only").await;
    assert!(error.contains("cannot be read as declared"), "{error}");
    let run = ok(&mut client, "SELECT line FROM raw_lines").await;
    assert!(final_table(&run).contains("| plum,3 "), "{}", run.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_records_are_datums_of_the_schema_flink_derives() {
    let topic = broker().topic("avro-prices", 1);
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    let columns = "id INT NOT NULL, name STRING, price DECIMAL(5, 2), ts TIMESTAMP(3)";
    ok(
        &mut client,
        &kafka_table(
            "prices",
            columns,
            &topic,
            &format!(",\n'format' = 'avro'{WHOLE_TOPIC}"),
        ),
    )
    .await;
    let rows = "VALUES (1, 'ab', CAST(1.23 AS DECIMAL(5, 2)), CAST(NULL AS TIMESTAMP(3))),
                       (-2, NULL, CAST(-1.28 AS DECIMAL(5, 2)), TIMESTAMP '1970-01-01 00:00:01')";
    ok(&mut client, &format!("INSERT INTO prices {rows}")).await;
    // Each record is one datum in Avro's binary encoding, nullable columns as unions with
    // null first, as Flink's avro format writes them.
    ok(
        &mut client,
        &kafka_table(
            "datums",
            "datum BYTES",
            &topic,
            &format!(",\n'format' = 'raw'{WHOLE_TOPIC}"),
        ),
    )
    .await;
    let run = ok(
        &mut client,
        "SELECT encode(datum, 'hex') AS hex FROM datums",
    )
    .await;
    let table = final_table(&run);
    // id 1; name: branch 1, "ab"; price: branch 1, one byte 123; ts: branch 0 (null).
    assert!(table.contains("| 020204616202027b00 |"), "{table}");
    // id -2; name: null; price: -128 in one byte; ts: 1,000 ms.
    assert!(table.contains("| 030002028002d00f   |"), "{table}");
    // Read back, the rows are the rows written.
    let streamed = ok(&mut client, "SELECT * FROM prices").await;
    let batch = ok(
        &mut client,
        &format!("SELECT * FROM ({rows}) AS t (id, name, price, ts)"),
    )
    .await;
    assert_eq!(
        sorted_rows(&final_table(&streamed)),
        sorted_rows(&final_table(&batch))
    );

    // Arrays, maps and rows are Avro arrays, maps and nested records.
    let nested = broker().topic("avro-nested", 1);
    ok(
        &mut client,
        &kafka_table(
            "profiles",
            "id INT, tags ARRAY<INT>, scores MAP<STRING, DOUBLE>, address ROW<street STRING, no INT>",
            &nested,
            &format!(",\n'format' = 'avro'{WHOLE_TOPIC}"),
        ),
    )
    .await;
    let rows = "SELECT 1 AS id, make_array(3, CAST(NULL AS INT)) AS tags,
                       map(['x'], [0.5]) AS scores,
                       named_struct('street', 'main', 'no', 7) AS address
                UNION ALL
                SELECT 2, CAST(NULL AS ARRAY<INT>), map(['y', 'z'], [1.0, 2.5]), NULL";
    ok(&mut client, &format!("INSERT INTO profiles {rows}")).await;
    let streamed = ok(&mut client, "SELECT * FROM profiles").await;
    let batch = ok(&mut client, &format!("SELECT * FROM ({rows})")).await;
    assert_eq!(
        sorted_rows(&final_table(&streamed)),
        sorted_rows(&final_table(&batch)),
        "{}",
        streamed.all_text()
    );

    // A record of another schema fails the query, naming it and the schema the table reads.
    let bad = broker().topic("avro-bad", 1);
    broker().produce(
        &bad,
        0,
        &[
            (None, "\u{2}\u{2}\u{4}ab\u{2}\u{2}\u{7b}\u{0}"),
            (None, "\u{2}"),
        ],
    );
    ok(
        &mut client,
        &kafka_table(
            "bad_prices",
            columns,
            &bad,
            &format!(",\n'format' = 'avro'{WHOLE_TOPIC}"),
        ),
    )
    .await;
    let (error, _) = error_of(&mut client, "SELECT * FROM bad_prices").await;
    assert!(
        error.contains(&format!("topic {bad}, partition 0, offset 1")),
        "{error}"
    );
    assert!(
        error.contains("ends before the table's columns do"),
        "{error}"
    );
    assert!(
        error.contains(r#""logicalType":"decimal","precision":5,"scale":2"#),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unbounded_pattern_reads_topics_made_while_it_runs() {
    let first = broker().topic("found", 1);
    broker().produce(&first, 0, &[(None, "{\"n\":1}")]);
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &format!(
            "CREATE TABLE found (n BIGINT, t STRING METADATA FROM 'topic' VIRTUAL) WITH (
                'connector' = 'kafka',
                'topic-pattern' = 'found-[0-9]+',
                'properties.bootstrap.servers' = '{}',
                'scan.startup.mode' = 'earliest-offset',
                'scan.topic-partition-discovery.interval' = '200 ms',
                'format' = 'json'
            )",
            broker().bootstrap
        ),
    )
    .await;
    // A topic the pattern matches, made while the query runs, is read from its start.
    let later = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(1500));
        let topic = broker().topic("found", 2);
        broker().produce(&topic, 1, &[(None, "{\"n\":2}")]);
        topic
    });
    let run = ok(&mut client, "%sql --duration 5s\nSELECT n, t FROM found").await;
    let second = later.join().expect("the topic is made");
    let rows: Vec<String> = sorted_rows(&final_table(&run))
        .iter()
        .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        rows,
        vec![format!("| 1 | {first} |"), format!("| 2 | {second} |")],
        "{}",
        run.all_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_topic_or_broker_is_a_clear_error_within_seconds() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &kafka_table(
            "nowhere",
            "n BIGINT",
            "no-such-topic",
            &format!(",\n'format' = 'json'{WHOLE_TOPIC}"),
        ),
    )
    .await;
    let (error, took) = error_of(&mut client, "SELECT n FROM nowhere").await;
    assert!(
        error.contains("topic 'no-such-topic' does not exist"),
        "{error}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    ok(
        &mut client,
        &format!(
            "CREATE TABLE down (n BIGINT) WITH (
                'connector' = 'kafka', 'topic' = 't', 'format' = 'json',
                'properties.bootstrap.servers' = '127.0.0.1:{closed}',
                'scan.startup.mode' = 'earliest-offset')"
        ),
    )
    .await;
    let (error, took) = error_of(&mut client, "SELECT n FROM down").await;
    assert!(error.contains("is the broker running"), "{error}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // `%table` still describes the table, and says its source cannot be reached.
    let shown = ok(&mut client, "%table down").await.all_text();
    assert!(
        shown.contains("Its source now: ") && shown.contains("is the broker running"),
        "{shown}"
    );
    // Without a group or a startup mode the table may be written to; reading it says why
    // it cannot, with the hint naming the options.
    ok(
        &mut client,
        "CREATE TABLE typo (n BIGINT) WITH ('connector' = 'kafka', 'topic' = 't',
            'properties.bootstrap.servers' = 'x:1', 'format' = 'json')",
    )
    .await;
    let run = client.execute("SELECT n FROM typo").await;
    assert_eq!(run.reply.content["status"], "error", "{}", run.all_text());
    // The message, and the hint in the traceback.
    let shown = format!(
        "{} {}",
        run.reply.content["evalue"], run.reply.content["traceback"]
    );
    assert!(
        shown.contains("cannot be read as declared") && shown.contains("scan.startup.mode"),
        "{shown}"
    );
    let run: Execution = client.execute("SELECT 1").await;
    assert_eq!(run.reply.content["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_updating_result_kept_in_an_upsert_topic_compacts_to_the_batch_answer() {
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(&mut client, CLICKS).await;
    let upsert_table = |name: &str, topic: &str| {
        format!(
            "CREATE TABLE {name} (
                user_id INT, clicks BIGINT, PRIMARY KEY (user_id) NOT ENFORCED
            ) WITH (
                'connector' = 'upsert-kafka',
                'topic' = '{topic}',
                'properties.bootstrap.servers' = '{}',
                'key.format' = 'json',
                'value.format' = 'json'
            )",
            broker().bootstrap
        )
    };
    // The latest record of each key, as a compacted topic keeps it: a tombstone deletes.
    let compacted = |topic: &str| {
        let mut latest = std::collections::BTreeMap::new();
        for record in broker().read_all(topic) {
            latest.insert(record.key.expect("every record has a key"), record.value);
        }
        latest
            .into_iter()
            .filter_map(|(key, value)| Some(format!("{key} {}", value?)))
            .collect::<Vec<_>>()
    };

    let topic = broker().topic("user-counts", 1);
    ok(&mut client, &upsert_table("user_counts", &topic)).await;
    let run = ok(
        &mut client,
        // Slowed down, so that the counts grow over several micro-batches.
        "INSERT INTO user_counts SELECT user_id, COUNT(*)
         FROM clicks /*+ OPTIONS('rows-per-second' = '400') */ GROUP BY user_id",
    )
    .await;
    assert!(
        run.text().contains("records sent to Kafka topic"),
        "{}",
        run.text()
    );
    let expected = ok(
        &mut client,
        "SELECT user_id, COUNT(*) AS clicks FROM clicks GROUP BY user_id",
    )
    .await;
    let expected: Vec<String> = sorted_rows(&final_table(&expected))
        .iter()
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            format!(
                "{{\"user_id\":{}}} {{\"user_id\":{},\"clicks\":{}}}",
                cells[0], cells[0], cells[1]
            )
        })
        .collect();
    assert_eq!(expected.len(), 3);
    assert_eq!(compacted(&topic), expected);
    // Each update was a record of its own (more records than keys).
    assert!(broker().read_all(&topic).len() > 3);

    // Keys that leave the result (HAVING no longer holds) are deleted by tombstones: every
    // user ends with 200 clicks, so the batch answer, and the compacted topic, are empty.
    let topic = broker().topic("few-clicks", 1);
    ok(&mut client, &upsert_table("few_clicks", &topic)).await;
    ok(
        &mut client,
        "INSERT INTO few_clicks
         SELECT user_id, COUNT(*) FROM clicks /*+ OPTIONS('rows-per-second' = '400') */
         GROUP BY user_id HAVING COUNT(*) < 100",
    )
    .await;
    let records = broker().read_all(&topic);
    assert!(records.iter().any(|r| r.value.is_none()), "{records:?}");
    assert_eq!(compacted(&topic), Vec::<String>::new());

    // Flink's rules for the declaration, and reading such a table, are clear errors.
    refused(
        &mut client,
        &format!(
            "CREATE TABLE no_key (user_id INT, clicks BIGINT) WITH (
                'connector' = 'upsert-kafka', 'topic' = 't',
                'properties.bootstrap.servers' = '{}',
                'key.format' = 'json', 'value.format' = 'json')",
            broker().bootstrap
        ),
        "no PRIMARY KEY",
    )
    .await;
    // Read back, the upsert topic is the latest row of each key: the batch answer.
    let run = ok(
        &mut client,
        "SELECT user_id, clicks FROM user_counts
         /*+ OPTIONS('scan.bounded.mode' = 'latest-offset') */",
    )
    .await;
    let batch = ok(
        &mut client,
        "SELECT user_id, COUNT(*) AS clicks FROM clicks GROUP BY user_id",
    )
    .await;
    assert_eq!(
        sorted_rows(&final_table(&run)),
        sorted_rows(&final_table(&batch))
    );
    ok(
        &mut client,
        &kafka_table(
            "appends_only",
            "user_id INT, clicks BIGINT",
            &topic,
            ",\n'format' = 'json', 'scan.startup.mode' = 'latest-offset'",
        ),
    )
    .await;
    refused(
        &mut client,
        "INSERT INTO appends_only SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id",
        "'upsert-kafka' table",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_columns_read_each_records_place_time_and_headers() {
    let topic = broker().topic("stamped", 2);
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &kafka_table(
            "events",
            "n BIGINT,
             ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
             `partition` INT METADATA VIRTUAL,
             `offset` BIGINT METADATA VIRTUAL,
             src STRING METADATA FROM 'topic' VIRTUAL,
             hs MAP<STRING, BYTES> METADATA FROM 'headers' VIRTUAL",
            &topic,
            &format!(",\n'format' = 'json', 'sink.partitioner' = 'round-robin'{WHOLE_TOPIC}"),
        ),
    )
    .await;
    // The INSERT leaves the VIRTUAL columns out, as in Flink, and writes the time.
    let sent = ok(
        &mut client,
        "INSERT INTO events SELECT * FROM (VALUES
            (1, TIMESTAMP '2024-01-01 00:00:01'),
            (2, TIMESTAMP '2024-01-01 00:00:02'),
            (3, TIMESTAMP '2024-01-01 00:00:03')) AS t(n, ts)",
    )
    .await;
    assert!(sent.text().contains("3 records sent"), "{}", sent.text());
    broker().produce_with_headers(&topic, 1, "{\"n\":4}", &[("trace", "abc")]);
    let run = ok(
        &mut client,
        "SELECT n, CAST(ts AS TIMESTAMP(3)) AS ts, `partition`, `offset`, src = 'TOPIC' AS same,
                cardinality(hs) AS headers
         FROM events"
            .replace("TOPIC", &topic)
            .as_str(),
    )
    .await;
    let table = final_table(&run);
    let rows = sorted_rows(&table);
    assert_eq!(rows.len(), 4, "{table}");
    // Round robin: partitions 0, 1, 0; the record with headers went to partition 1.
    let squeezed: Vec<String> = rows
        .iter()
        .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    for expected in [
        "| 1 | 2024-01-01T00:00:01 | 0 | 0 | true | 0 |",
        "| 2 | 2024-01-01T00:00:02 | 1 | 0 | true | 0 |",
        "| 3 | 2024-01-01T00:00:03 | 0 | 1 | true | 0 |",
    ] {
        assert!(
            squeezed.contains(&expected.to_string()),
            "{expected}\n{table}"
        );
    }
    // Written by another client, at the broker's time, with one header.
    let fourth = squeezed
        .iter()
        .find(|r| r.starts_with("| 4 "))
        .expect("the fourth");
    assert!(fourth.ends_with("| 1 | 1 | true | 1 |"), "{fourth}");

    refused(
        &mut client,
        &kafka_table(
            "unknown_key",
            "n BIGINT, e INT METADATA FROM 'leader-age'",
            &topic,
            &format!(",\n'format' = 'json'{WHOLE_TOPIC}"),
        ),
        "'leader-age'",
    )
    .await;
    refused(
        &mut client,
        "CREATE TABLE gen (n INT, ts TIMESTAMP(3) METADATA FROM 'timestamp')
         WITH ('connector' = 'datagen')",
        "belongs to a Kafka table",
    )
    .await;

    // Headers are written as well as read.
    let traced = broker().topic("traced", 1);
    ok(
        &mut client,
        &kafka_table(
            "traced",
            "n BIGINT, hs MAP<STRING, BYTES> METADATA FROM 'headers'",
            &traced,
            &format!(",\n'format' = 'json'{WHOLE_TOPIC}"),
        ),
    )
    .await;
    ok(
        &mut client,
        "INSERT INTO traced SELECT * FROM (VALUES
            (7, map(['trace', 'span'], [CAST('abc' AS BYTES), CAST('d' AS BYTES)]))) AS t(n, hs)",
    )
    .await;
    let run = ok(
        &mut client,
        "SELECT n, cardinality(hs) AS headers, CAST(hs['trace'] AS STRING) AS trace FROM traced",
    )
    .await;
    let rows: Vec<String> = sorted_rows(&final_table(&run))
        .iter()
        .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(rows, vec!["| 7 | 2 | abc |"], "{}", run.all_text());

    // A statement set's INSERT leaves the VIRTUAL columns out too.
    ok(&mut client, CLICKS).await;
    let set = ok(
        &mut client,
        "EXECUTE STATEMENT SET BEGIN
            INSERT INTO events SELECT CAST(user_id AS BIGINT), ts FROM clicks;
         END;",
    )
    .await;
    assert!(set.text().contains("600 records sent"), "{}", set.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_goes_away_mid_query_is_retried_and_no_record_is_lost() {
    // A broker of this test's own, to stop and start again.
    let own = Broker::own();
    let topic = own.topic("outage", 1);
    let numbers = |range: std::ops::Range<i64>| -> Vec<String> {
        range.map(|n| format!("{{\"n\":{n}}}")).collect()
    };
    let first = numbers(0..500);
    let first: Vec<(Option<&str>, &str)> = first.iter().map(|v| (None, v.as_str())).collect();
    own.produce(&topic, 0, &first);

    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &format!(
            "CREATE TABLE outage (n BIGINT) WITH (
                'connector' = 'kafka', 'topic' = '{topic}',
                'properties.bootstrap.servers' = '{}', 'format' = 'json',
                'scan.startup.mode' = 'earliest-offset',
                'scan.bounded.mode' = 'specific-offsets',
                'scan.bounded.specific-offsets' = 'partition:0,offset:1000')",
            own.bootstrap
        ),
    )
    .await;
    let running = client
        .start_execute(
            "%sql --refresh 200ms\nSELECT COUNT(*) AS records, COUNT(DISTINCT n) AS numbers FROM outage",
        )
        .await;
    // The first half is read; the query waits for the rest while the broker is away.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    own.stop();
    tokio::time::sleep(Duration::from_secs(4)).await;
    own.start();
    let second = numbers(500..1000);
    let second: Vec<(Option<&str>, &str)> = second.iter().map(|v| (None, v.as_str())).collect();
    own.produce(&topic, 0, &second);
    let run = client.finish_execute(&running).await;
    assert_eq!(run.reply.content["status"], "ok", "{}", run.all_text());
    let table = final_table(&run);
    let rows = sorted_rows(&table);
    let squeezed: Vec<String> = rows
        .iter()
        .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(squeezed, vec!["| 1000 | 1000 |"], "{table}");
    // While the broker was away the status line said so.
    let said = run.all_text();
    assert!(
        said.contains("source: Kafka: ") && said.contains("; retrying"),
        "{said}"
    );
    assert!(said.contains(" · lag "), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_partition_holds_the_watermark_back_until_its_rows_come() {
    let topic = broker().topic("two-clocks", 2);
    let at = |second: i64| format!("{{\"ts\":\"2024-01-01 00:00:{second:02}\"}}");
    let minute: Vec<String> = (0..60).map(at).collect();
    let minute: Vec<(Option<&str>, &str)> = minute.iter().map(|v| (None, v.as_str())).collect();
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &kafka_table(
            "two_clocks",
            "ts TIMESTAMP(3), WATERMARK FOR ts AS ts",
            &topic,
            ",
            'format' = 'json',
            'scan.startup.mode' = 'earliest-offset',
            'scan.bounded.mode' = 'specific-offsets',
            'scan.bounded.specific-offsets' = 'partition:0,offset:60;partition:1,offset:60'",
        ),
    )
    .await;
    let running = client
        .start_execute(
            "SELECT window_start, COUNT(*) AS records
             FROM TABLE(TUMBLE(TABLE two_clocks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
             GROUP BY window_start, window_end",
        )
        .await;
    // Partition 0 runs a minute ahead; partition 1's rows for the same minute come a second
    // later. One watermark for the whole topic would have passed them all: late, dropped.
    broker().produce(&topic, 0, &minute);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    broker().produce(&topic, 1, &minute);
    let run = client.finish_execute(&running).await;
    assert_eq!(run.reply.content["status"], "ok", "{}", run.all_text());
    let status = final_status(&run);
    assert!(!status.contains("late"), "{status}");
    assert_eq!(
        super::last_column(&final_table(&run)),
        vec![20; 6],
        "{}",
        run.all_text()
    );
    // The same question asked in batch mode of the same 120 rows, in a file: the same answer.
    let dir = tempfile::tempdir().unwrap();
    let lines: String = (0..2)
        .flat_map(|_| (0..60).map(|s| format!("2024-01-01 00:00:{s:02}\n")))
        .collect();
    std::fs::write(dir.path().join("clocks.csv"), format!("ts\n{lines}")).unwrap();
    ok(
        &mut client,
        &format!(
            "CREATE TABLE clocks_at_rest (ts TIMESTAMP(3)) WITH (
                'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv')",
            dir.path().join("clocks.csv").display()
        ),
    )
    .await;
    let batch = ok(
        &mut client,
        "SELECT window_start, COUNT(*) AS records
         FROM TABLE(TUMBLE(TABLE clocks_at_rest, DESCRIPTOR(ts), INTERVAL '10' SECOND))
         GROUP BY window_start, window_end ORDER BY window_start",
    )
    .await;
    assert_eq!(
        sorted_rows(&final_table(&batch)).len(),
        6,
        "{}",
        batch.all_text()
    );
    assert_eq!(
        sorted_rows(&final_table(&batch)),
        sorted_rows(&final_table(&run)),
        "{}",
        batch.all_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_show_the_lag_of_a_statement_set_reading_a_topic() {
    let topic = broker().topic("watched", 1);
    broker().produce(&topic, 0, &[(None, "{\"n\":1}"), (None, "{\"n\":2}")]);
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    // Unbounded: the set runs in the background until cancelled.
    ok(
        &mut client,
        &kafka_table(
            "watched",
            "n BIGINT",
            &topic,
            ",\n'format' = 'json', 'scan.startup.mode' = 'earliest-offset'",
        ),
    )
    .await;
    ok(
        &mut client,
        "CREATE TABLE evens (n BIGINT) WITH ('connector' = 'blackhole')",
    )
    .await;
    ok(
        &mut client,
        "CREATE TABLE odds (n BIGINT) WITH ('connector' = 'blackhole')",
    )
    .await;
    ok(
        &mut client,
        "%sql --background
EXECUTE STATEMENT SET BEGIN
  INSERT INTO evens SELECT n FROM watched WHERE n % 2 = 0;
  INSERT INTO odds SELECT n FROM watched WHERE n % 2 = 1;
END;",
    )
    .await;
    // The client's statistics come each second; the shared source's lag reaches the set.
    let mut listed = String::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        listed = ok(&mut client, "%jobs").await.displayed();
        if listed.contains("lag 0 records") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(listed.contains("lag 0 records"), "{listed}");
    ok(&mut client, "%cancel all").await;
}
