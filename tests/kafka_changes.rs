//! Kafka topics of changes read as updating tables, through the real kernel and a real
//! broker: Debezium and Canal change events, and an upsert topic read back as the latest row
//! of each key. Each streaming answer is checked against the same query over the table's
//! final rows as a batch. Part of the `streaming` test binary.

use super::kafka::{kafka_table, refused, WHOLE_TOPIC};
use super::kafka_broker::broker;
use super::support::{Client, Kernel};
use super::{final_status, final_table, ok, sorted_rows};

/// A kafka table over `topic`, read whole (from its start to its end now), in `format`.
fn changes_table(name: &str, columns: &str, topic: &str, format: &str) -> String {
    kafka_table(name, columns, topic, &format!("{WHOLE_TOPIC},\n{format}"))
}

/// The sorted rows `query` gives, in its final state.
async fn rows_of(client: &mut Client, query: &str) -> Vec<String> {
    let run = ok(client, query).await;
    sorted_rows(&final_table(&run))
}

/// Debezium's events for a `products` table: four inserts (one a snapshot read), two
/// updates (one moving a product to another category), a delete and the tombstone Debezium
/// writes after it.
fn debezium_events() -> Vec<(Option<&'static str>, &'static str)> {
    vec![
        (
            None,
            r#"{"before":null,"after":{"id":1,"name":"kettle","category":"kitchen","price":20.50},"op":"r","ts_ms":1}"#,
        ),
        (
            None,
            r#"{"before":null,"after":{"id":2,"name":"lamp","category":"home","price":35.00},"op":"c","ts_ms":2}"#,
        ),
        (
            None,
            r#"{"before":null,"after":{"id":3,"name":"pan","category":"kitchen","price":15.25},"op":"c","ts_ms":3}"#,
        ),
        (
            None,
            r#"{"before":{"id":2,"name":"lamp","category":"home","price":35.00},"after":{"id":2,"name":"lamp","category":"home","price":29.99},"op":"u","ts_ms":4}"#,
        ),
        (
            None,
            r#"{"before":null,"after":{"id":4,"name":"rug","category":"home","price":80.00},"op":"c","ts_ms":5}"#,
        ),
        (
            None,
            r#"{"before":{"id":3,"name":"pan","category":"kitchen","price":15.25},"after":{"id":3,"name":"pan","category":"home","price":15.25},"op":"u","ts_ms":6}"#,
        ),
        (
            None,
            r#"{"before":{"id":1,"name":"kettle","category":"kitchen","price":20.50},"after":null,"op":"d","ts_ms":7}"#,
        ),
        (None, ""),
    ]
}

/// The rows of `products` once every event above has been applied, as a batch table.
const PRODUCTS_AT_THE_END: &str = "CREATE VIEW products_now AS
    SELECT * FROM (VALUES
        (2, 'lamp', 'home', CAST(29.99 AS DECIMAL(10, 2))),
        (3, 'pan', 'home', CAST(15.25 AS DECIMAL(10, 2))),
        (4, 'rug', 'home', CAST(80.00 AS DECIMAL(10, 2)))
    ) AS t (id, name, category, price)";

const PRODUCT_COLUMNS: &str = "id INT, name STRING, category STRING, price DECIMAL(10, 2)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debezium_changes_end_in_the_tables_final_rows() {
    let topic = broker().topic("dbserver.inventory.products", 1);
    broker().produce(&topic, 0, &debezium_events());
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &changes_table(
            "products",
            PRODUCT_COLUMNS,
            &topic,
            "'format' = 'debezium-json'",
        ),
    )
    .await;
    ok(&mut client, PRODUCTS_AT_THE_END).await;

    // The table itself: inserts, updates and deletes applied, in Flink's changelog.
    let run = ok(&mut client, "SELECT * FROM products").await;
    let batch = rows_of(&mut client, "SELECT * FROM products_now").await;
    assert_eq!(sorted_rows(&final_table(&run)), batch);
    assert_eq!(batch.len(), 3);
    // Projections and filters keep each change's weight: the pan moved into 'home' and the
    // kettle was deleted, so no kitchen product is left.
    let query = "SELECT name, price * 2 AS doubled FROM {t} WHERE category = 'kitchen'";
    let streamed = rows_of(&mut client, &query.replace("{t}", "products")).await;
    assert_eq!(
        streamed,
        rows_of(&mut client, &query.replace("{t}", "products_now")).await
    );
    assert!(streamed.is_empty(), "{streamed:?}");

    // A GROUP BY over the changes folds each retraction: MIN and MAX forget the values that
    // went (the lamp's old price), counts and sums take them back.
    let query = "SELECT category, COUNT(*) AS products, SUM(price) AS total, MIN(price) AS low,
                        MAX(price) AS high, COUNT(DISTINCT name) AS names
                 FROM {t} GROUP BY category";
    let streamed = rows_of(&mut client, &query.replace("{t}", "products")).await;
    assert_eq!(
        streamed,
        rows_of(&mut client, &query.replace("{t}", "products_now")).await
    );
    assert_eq!(streamed.len(), 1, "only 'home' is left: {streamed:?}");

    // An aggregate of the whole table too (no GROUP BY).
    let query = "SELECT COUNT(*) AS n, SUM(price) AS total, AVG(price) AS mean FROM {t}";
    assert_eq!(
        rows_of(&mut client, &query.replace("{t}", "products")).await,
        rows_of(&mut client, &query.replace("{t}", "products_now")).await
    );

    // EXPLAIN says the source sends changes.
    let run = ok(
        &mut client,
        "EXPLAIN SELECT category, COUNT(*) FROM products GROUP BY category",
    )
    .await;
    assert!(
        run.text().contains("changes: each row that came weighs +1"),
        "{}",
        run.text()
    );

    // What Eddy does not run over an updating table yet is refused, naming it.
    ok(
        &mut client,
        &changes_table(
            "timed_products",
            &format!("{PRODUCT_COLUMNS}, ts AS PROCTIME()"),
            &topic,
            "'format' = 'debezium-json'",
        ),
    )
    .await;
    let error = refused(
        &mut client,
        "SELECT window_start, COUNT(*) FROM TABLE(
            TUMBLE(TABLE timed_products, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
         GROUP BY window_start, window_end",
        "updating table",
    )
    .await;
    assert!(error.contains("window"), "{error}");
    refused(
        &mut client,
        "SELECT category, MAX(c) FROM (SELECT category, name, COUNT(*) AS c FROM products
         GROUP BY category, name) GROUP BY category",
        "another aggregate",
    )
    .await;
    refused(
        &mut client,
        "INSERT INTO products SELECT * FROM products_now",
        "does not write them yet",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_change_event_is_named_or_skipped_and_counted() {
    let topic = broker().topic("bad-changes", 1);
    broker().produce(
        &topic,
        0,
        &[
            (
                None,
                r#"{"before":null,"after":{"id":1,"name":"kettle"},"op":"c"}"#,
            ),
            (
                None,
                r#"{"before":null,"after":{"id":2,"name":"lamp"},"op":"u"}"#,
            ),
            (
                None,
                r#"{"schema":{"type":"struct"},"payload":{"after":{"id":3},"op":"c"}}"#,
            ),
            (
                None,
                r#"{"before":null,"after":{"id":4,"name":"rug"},"op":"c"}"#,
            ),
        ],
    );
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &changes_table(
            "strict",
            "id INT, name STRING",
            &topic,
            "'format' = 'debezium-json'",
        ),
    )
    .await;
    let error = refused(
        &mut client,
        "SELECT * FROM strict",
        &format!("topic {topic}, partition 0, offset 1"),
    )
    .await;
    assert!(error.contains("REPLICA IDENTITY FULL"), "{error}");
    assert!(
        error.contains("debezium-json.ignore-parse-errors"),
        "{error}"
    );
    ok(
        &mut client,
        &changes_table(
            "lenient",
            "id INT, name STRING",
            &topic,
            "'format' = 'debezium-json', 'debezium-json.ignore-parse-errors' = 'true'",
        ),
    )
    .await;
    let run = ok(&mut client, "SELECT id, name FROM lenient").await;
    assert_eq!(
        sorted_rows(&final_table(&run)),
        ["| 1  | kettle |", "| 4  | rug    |"],
        "{}",
        run.text()
    );
    let status = final_status(&run);
    assert!(status.contains("2 malformed rows skipped"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canal_changes_of_the_tables_included_end_in_their_final_rows() {
    let topic = broker().topic("canal", 1);
    // Canal writes every value as a string, an update's changed columns in "old", and the
    // events of every table of the database into one topic.
    broker().produce(
        &topic,
        0,
        &[
            (None, r#"{"data":[{"id":"1","name":"kettle","category":"kitchen","price":"20.50"},{"id":"2","name":"lamp","category":"home","price":"35.00"}],"old":null,"type":"INSERT","database":"shop","table":"products","isDdl":false}"#),
            (None, r#"{"data":[{"id":"9","total":"99.00"}],"old":null,"type":"INSERT","database":"shop","table":"orders","isDdl":false}"#),
            (None, r#"{"data":null,"type":"ALTER","sql":"ALTER TABLE products ADD note TEXT","database":"shop","table":"products","isDdl":true}"#),
            (None, r#"{"data":[{"id":"3","name":"pan","category":"kitchen","price":"15.25"},{"id":"4","name":"rug","category":"home","price":"80.00"}],"old":null,"type":"INSERT","database":"shop","table":"products","isDdl":false}"#),
            (None, r#"{"data":[{"id":"2","name":"lamp","category":"home","price":"29.99"},{"id":"3","name":"pan","category":"home","price":"15.25"}],"old":[{"price":"35.00"},{"category":"kitchen"}],"type":"UPDATE","database":"shop","table":"products","isDdl":false}"#),
            (None, r#"{"data":[{"id":"1","name":"kettle","category":"kitchen","price":"20.50"}],"old":null,"type":"DELETE","database":"shop","table":"products","isDdl":false}"#),
        ],
    );
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &changes_table(
            "products",
            PRODUCT_COLUMNS,
            &topic,
            "'format' = 'canal-json', 'canal-json.table.include' = 'products'",
        ),
    )
    .await;
    ok(&mut client, PRODUCTS_AT_THE_END).await;
    let query = "SELECT * FROM {t}";
    assert_eq!(
        rows_of(&mut client, &query.replace("{t}", "products")).await,
        rows_of(&mut client, &query.replace("{t}", "products_now")).await
    );
    let query = "SELECT category, COUNT(*) AS n, SUM(price) AS total, MAX(price) AS high
                 FROM {t} GROUP BY category";
    assert_eq!(
        rows_of(&mut client, &query.replace("{t}", "products")).await,
        rows_of(&mut client, &query.replace("{t}", "products_now")).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upsert_topic_reads_as_the_latest_row_of_each_key() {
    let topic = broker().topic("latest-prices", 1);
    broker().produce(
        &topic,
        0,
        &[
            (
                Some(r#"{"id":1}"#),
                r#"{"id":1,"name":"kettle","category":"kitchen","price":20.50}"#,
            ),
            (
                Some(r#"{"id":2}"#),
                r#"{"id":2,"name":"lamp","category":"home","price":35.00}"#,
            ),
            (
                Some(r#"{"id":3}"#),
                r#"{"id":3,"name":"pan","category":"kitchen","price":15.25}"#,
            ),
            (
                Some(r#"{"id":2}"#),
                r#"{"id":2,"name":"lamp","category":"home","price":29.99}"#,
            ),
            (
                Some(r#"{"id":4}"#),
                r#"{"id":4,"name":"rug","category":"home","price":80.00}"#,
            ),
            (
                Some(r#"{"id":3}"#),
                r#"{"id":3,"name":"pan","category":"home","price":15.25}"#,
            ),
            (Some(r#"{"id":1}"#), ""),
        ],
    );
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &format!(
            "CREATE TABLE products ({PRODUCT_COLUMNS}, PRIMARY KEY (id) NOT ENFORCED) WITH (
                'connector' = 'upsert-kafka',
                'topic' = '{topic}',
                'properties.bootstrap.servers' = '{}',
                'key.format' = 'json',
                'value.format' = 'json',
                'scan.bounded.mode' = 'latest-offset'
            )",
            broker().bootstrap
        ),
    )
    .await;
    ok(&mut client, PRODUCTS_AT_THE_END).await;
    for query in [
        "SELECT * FROM {t}",
        "SELECT category, COUNT(*) AS n, SUM(price) AS total, MIN(price) AS low FROM {t}
         GROUP BY category",
    ] {
        assert_eq!(
            rows_of(&mut client, &query.replace("{t}", "products")).await,
            rows_of(&mut client, &query.replace("{t}", "products_now")).await,
            "{query}"
        );
    }

    // An updating result of the upsert table goes into another upsert topic, and a separate
    // client reads it back compacted to the batch answer.
    let counts = broker().topic("category-counts", 1);
    ok(
        &mut client,
        &format!(
            "CREATE TABLE category_counts (
                category STRING, n BIGINT, PRIMARY KEY (category) NOT ENFORCED
            ) WITH (
                'connector' = 'upsert-kafka',
                'topic' = '{counts}',
                'properties.bootstrap.servers' = '{}',
                'key.format' = 'json',
                'value.format' = 'json'
            )",
            broker().bootstrap
        ),
    )
    .await;
    ok(
        &mut client,
        "INSERT INTO category_counts SELECT category, COUNT(*) FROM products GROUP BY category",
    )
    .await;
    let mut latest = std::collections::BTreeMap::new();
    for record in broker().read_all(&counts) {
        latest.insert(record.key.expect("every record has a key"), record.value);
    }
    let compacted: Vec<String> = latest.into_values().flatten().collect();
    assert_eq!(compacted, [r#"{"category":"home","n":3}"#]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_changes_over_several_micro_batches_fold_to_the_batch_answer() {
    // 20,000 Debezium events over 100 keys (several of the source's batches of 8,192): each
    // key is created, updated many times, now and then deleted and created again.
    let topic = broker().topic("many-changes", 1);
    let mut current: std::collections::BTreeMap<u32, u32> = std::collections::BTreeMap::new();
    let mut events = Vec::new();
    let mut seed = 7u64;
    for i in 0..20_000u32 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let key = (seed >> 33) as u32 % 100;
        let value = (seed >> 20) as u32 % 1000;
        let row = |v: u32| format!(r#"{{"k":{key},"v":{v}}}"#);
        let event = match current.get(&key).copied() {
            None => {
                current.insert(key, value);
                format!(r#"{{"before":null,"after":{},"op":"c"}}"#, row(value))
            }
            Some(old) if i % 11 == 0 => {
                current.remove(&key);
                format!(r#"{{"before":{},"after":null,"op":"d"}}"#, row(old))
            }
            Some(old) => {
                current.insert(key, value);
                format!(
                    r#"{{"before":{},"after":{},"op":"u"}}"#,
                    row(old),
                    row(value)
                )
            }
        };
        events.push(event);
    }
    let records: Vec<(Option<&str>, &str)> = events.iter().map(|e| (None, e.as_str())).collect();
    broker().produce(&topic, 0, &records);
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &changes_table("kv", "k INT, v INT", &topic, "'format' = 'debezium-json'"),
    )
    .await;
    let rows: Vec<String> = current.iter().map(|(k, v)| format!("({k}, {v})")).collect();
    ok(
        &mut client,
        &format!(
            "CREATE VIEW kv_now AS SELECT * FROM (VALUES {}) AS t (k, v)",
            rows.join(", ")
        ),
    )
    .await;
    let query = "SELECT k % 10 AS g, COUNT(*) AS n, SUM(v) AS total, MIN(v) AS low,
                        MAX(v) AS high FROM {t} GROUP BY k % 10";
    let streamed = rows_of(&mut client, &query.replace("{t}", "kv")).await;
    assert_eq!(
        streamed,
        rows_of(&mut client, &query.replace("{t}", "kv_now")).await
    );
    assert!(streamed.len() >= 5, "{streamed:?}");
    let run = ok(&mut client, "SELECT * FROM kv").await;
    assert_eq!(sorted_rows(&final_table(&run)).len(), current.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rows_an_upsert_source_keeps_count_against_the_memory_limit() {
    // 80 keys of 600 KB each: about 48 MB of latest rows, past a 32 MiB limit.
    let topic = broker().topic("big-rows", 1);
    let payload = "x".repeat(600_000);
    let keys: Vec<String> = (0..80).map(|k| format!("{{\"id\":{k}}}")).collect();
    let records: Vec<(Option<&str>, &str)> = keys
        .iter()
        .map(|key| (Some(key.as_str()), payload.as_str()))
        .collect();
    broker().produce(&topic, 0, &records);
    let kernel = Kernel::start_with_env(&[("EDDY_MEMORY_LIMIT", "32MiB")]);
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &format!(
            "CREATE TABLE big_rows (id INT, payload BYTES, PRIMARY KEY (id) NOT ENFORCED) WITH (
                'connector' = 'upsert-kafka',
                'topic' = '{topic}',
                'properties.bootstrap.servers' = '{}',
                'key.format' = 'json',
                'value.format' = 'raw',
                'value.fields-include' = 'EXCEPT_KEY',
                'scan.bounded.mode' = 'latest-offset'
            )",
            broker().bootstrap
        ),
    )
    .await;
    let error = refused(
        &mut client,
        "SELECT COUNT(*) AS keys FROM big_rows",
        "past the memory limit",
    )
    .await;
    assert!(
        error.contains("the latest row of each key its upsert source keeps"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_joined_with_a_table_of_changes_ends_as_the_join_with_its_final_rows() {
    let products_topic = broker().topic("product-changes", 1);
    broker().produce(&products_topic, 0, &debezium_events());
    let orders_topic = broker().topic("orders", 2);
    for (partition, orders) in [
        (
            0,
            [
                r#"{"id":1,"product_id":1,"qty":2}"#,
                r#"{"id":2,"product_id":2,"qty":1}"#,
                r#"{"id":3,"product_id":3,"qty":4}"#,
            ],
        ),
        (
            1,
            [
                r#"{"id":4,"product_id":2,"qty":3}"#,
                r#"{"id":5,"product_id":4,"qty":1}"#,
                r#"{"id":6,"product_id":9,"qty":5}"#,
            ],
        ),
    ] {
        let records: Vec<(Option<&str>, &str)> = orders.iter().map(|o| (None, *o)).collect();
        broker().produce(&orders_topic, partition, &records);
    }
    let kernel = Kernel::start();
    let mut client = kernel.client().await;
    ok(
        &mut client,
        &changes_table(
            "products",
            PRODUCT_COLUMNS,
            &products_topic,
            "'format' = 'debezium-json'",
        ),
    )
    .await;
    ok(
        &mut client,
        &changes_table(
            "orders",
            "id INT, product_id INT, qty INT",
            &orders_topic,
            "'format' = 'json'",
        ),
    )
    .await;
    ok(&mut client, PRODUCTS_AT_THE_END).await;
    ok(
        &mut client,
        "CREATE VIEW orders_now AS SELECT * FROM (VALUES (1, 1, 2), (2, 2, 1), (3, 3, 4), \
         (4, 2, 3), (5, 4, 1), (6, 9, 5)) AS t (id, product_id, qty)",
    )
    .await;
    // A regular join with an updating table: its result follows the table's changes (the
    // kettle's orders go with it, the lamp's follow its price), ending as the join of the
    // orders with the table's final rows.
    for query in [
        "SELECT o.id, p.name, o.qty * p.price AS amount FROM {o} o JOIN {p} p ON o.product_id = p.id",
        "SELECT p.category, COUNT(*) AS orders, SUM(o.qty) AS units FROM {o} o JOIN {p} p \
         ON o.product_id = p.id GROUP BY p.category",
    ] {
        let streamed = rows_of(
            &mut client,
            &query.replace("{o}", "orders").replace("{p}", "products"),
        )
        .await;
        let batch = rows_of(
            &mut client,
            &query.replace("{o}", "orders_now").replace("{p}", "products_now"),
        )
        .await;
        assert_eq!(streamed, batch, "{query}");
        assert!(!streamed.is_empty(), "{query}");
    }
    refused(
        &mut client,
        "SELECT o.id, p.name FROM orders o LEFT JOIN products p ON o.product_id = p.id",
        "regular INNER join",
    )
    .await;
    refused(
        &mut client,
        "SELECT id FROM orders UNION ALL SELECT id FROM products",
        "UNION",
    )
    .await;
}
