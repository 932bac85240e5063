//! Every Flink function the engine adds gives the same answer in a continuous query as in a
//! batch query over the same rows. A stream plans in a session state of its own (rebuilt from
//! the session's), so a function that is right in batch can still be lost there, as
//! `DATE_FORMAT` once was to DataFusion's `to_char`, which has `date_format` as an alias.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use eddy_engine::{flink_function_names, Engine, EngineConfig, StatementResult, StreamUpdate};
use std::collections::BTreeSet;

/// A time whose every field differs per row: 2024-03-05 07:08:09 UTC plus `id` times a day,
/// an hour, 7 minutes and 11 seconds.
const TS: &str = "to_timestamp_seconds(1709622489 + id * 90431)";

/// One call of each Flink function, over a row's `id` (1 to 5). `{ts}` stands for [`TS`].
const CALLS: &[(&str, &str)] = &[
    ("year", "YEAR({ts})"),
    ("quarter", "QUARTER({ts})"),
    ("month", "MONTH({ts})"),
    ("week", "WEEK({ts})"),
    ("dayofyear", "DAYOFYEAR({ts})"),
    ("dayofmonth", "DAYOFMONTH({ts})"),
    ("dayofweek", "DAYOFWEEK({ts})"),
    ("hour", "HOUR({ts})"),
    ("minute", "MINUTE({ts})"),
    ("second", "SECOND({ts})"),
    ("date_format", "DATE_FORMAT({ts}, 'yyyy-MM-dd HH:mm EEE')"),
    (
        "to_timestamp",
        "TO_TIMESTAMP(CONCAT('2024-03-0', CAST(id AS STRING), ' 10:00:00'))",
    ),
    (
        "to_date",
        "TO_DATE(CONCAT('0', CAST(id AS STRING), '/03/2024'), 'dd/MM/yyyy')",
    ),
    (
        "from_unixtime",
        "FROM_UNIXTIME(1709622489 + id * 3600, 'yyyy-MM-dd HH')",
    ),
    (
        "unix_timestamp",
        "UNIX_TIMESTAMP(CONCAT('2024-03-0', CAST(id AS STRING), ' 10:00:00'))",
    ),
    ("if", "IF(id > 2, 'big', 'small')"),
    (
        "split_index",
        "SPLIT_INDEX('a,b,c,d,e', ',', CAST(id AS INT) - 1)",
    ),
    ("mod", "MOD(id * 7, 3)"),
    (
        "regexp_extract",
        "REGEXP_EXTRACT(CONCAT('a=', CAST(id AS STRING), '&b=2'), '(&|^)a=([^&]*)', 2)",
    ),
    ("timestampadd", "TIMESTAMPADD(MONTH, CAST(id AS INT), {ts})"),
    (
        "str_to_map",
        "STR_TO_MAP(CONCAT('a=', CAST(id AS STRING), ',b=2'))['a']",
    ),
    (
        "convert_tz",
        "CONVERT_TZ(DATE_FORMAT({ts}, 'yyyy-MM-dd HH:mm:ss'), 'UTC', 'Asia/Tokyo')",
    ),
    (
        "timestampdiff",
        "TIMESTAMPDIFF(HOUR, {ts}, TIMESTAMPADD(MINUTE, id * 100, {ts}))",
    ),
    // NULL in a batch query; in the first micro-batch of a stream too.
    (
        "current_watermark",
        "CURRENT_WATERMARK(TIMESTAMP '2024-01-01 00:00:00') IS NULL",
    ),
    // The clock differs between the two runs; that it is read in both is what is compared.
    ("proctime", "PROCTIME() > TIMESTAMP '2024-01-01 00:00:00'"),
];

async fn engine_with_rows() -> Engine {
    let engine = Engine::new(EngineConfig::default()).expect("an engine");
    let setup = "CREATE TABLE nums AS SELECT * FROM (VALUES (1), (2), (3), (4), (5)) AS t(id);
        CREATE TABLE seq (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5',
          'rows-per-second' = '1000000000', 'fields.id.kind' = 'sequence',
          'fields.id.start' = '1', 'fields.id.end' = '5')";
    for statement in engine.parse(setup).expect("setup parses") {
        engine.run(statement, usize::MAX).await.expect("setup runs");
    }
    engine
}

/// The rows of `sql`, each printed as `id|value`, sorted; a stream is run to its end.
async fn rows(engine: &Engine, sql: &str, stream: bool) -> Vec<String> {
    let statement = engine.parse(sql).expect("parses").remove(0);
    let batches: Vec<RecordBatch> = match engine.run(statement, usize::MAX).await {
        Ok(StatementResult::Rows(rows)) if !stream => rows.batches,
        Ok(StatementResult::Stream(mut query)) if stream => {
            let mut kept = Vec::new();
            while let Some(update) = query.next_update().await {
                if let StreamUpdate::Rows(rows) = update {
                    kept.extend(rows);
                }
            }
            kept
        }
        Ok(_) => panic!(
            "{sql}: not a {} result",
            if stream { "stream" } else { "batch" }
        ),
        Err(error) => panic!("{sql}: {error}"),
    };
    let mut printed = Vec::new();
    for batch in &batches {
        for row in 0..batch.num_rows() {
            let values: Vec<String> = batch
                .columns()
                .iter()
                .map(|column| array_value_to_string(column, row).expect("printable"))
                .collect();
            printed.push(values.join("|"));
        }
    }
    printed.sort();
    printed
}

#[tokio::test]
async fn every_flink_function_answers_a_stream_as_it_answers_a_batch_query() {
    let engine = engine_with_rows().await;
    for (name, call) in CALLS {
        let call = call.replace("{ts}", TS);
        let batch = rows(&engine, &format!("SELECT id, {call} FROM nums"), false).await;
        let stream = rows(&engine, &format!("SELECT id, {call} FROM seq"), true).await;
        assert_eq!(batch.len(), 5, "{name}: {batch:?}");
        assert_eq!(
            stream, batch,
            "{name}: the stream's answer differs from the batch one"
        );
    }
}

#[tokio::test]
async fn the_list_has_a_call_of_every_flink_function() {
    let listed: BTreeSet<String> = CALLS.iter().map(|(name, _)| name.to_string()).collect();
    let registered: BTreeSet<String> = flink_function_names().into_iter().collect();
    assert_eq!(
        listed, registered,
        "add a call of each new function to CALLS"
    );
}
