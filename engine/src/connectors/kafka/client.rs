//! Talking to the brokers before any record moves: the client's settings, the partitions of
//! a table's topics, and the offset each partition starts and stops at. Every call has a
//! deadline, so a broker that is down or a topic that does not exist is an error within
//! seconds, not a hang.

use super::options::{Bounded, KafkaOptions, Startup, Topics};
use crate::error::EngineError;
use crate::stream::source_report::SourceReport;
use datafusion::arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How long a question to the brokers may take before the statement fails.
pub(crate) const BROKER_DEADLINE: Duration = Duration::from_secs(5);

/// One partition of a topic, and where a query reads it from and to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PartitionRange {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    /// The first offset read.
    pub(crate) start: i64,
    /// The offset reading stops before (`None`: never).
    pub(crate) stop: Option<i64>,
}

/// The client settings of a table: its `properties.*`, then what Eddy's reading needs.
/// `defaults` are the client's settings Eddy chooses for its kind of client; the table's own
/// `properties.*` come after them, and win.
pub(crate) fn config(options: &KafkaOptions, defaults: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    // Short enough for an error to come within the deadline, as the broker's own default
    // would retry for a minute.
    config.set("socket.connection.setup.timeout.ms", "4000");
    for (key, value) in defaults {
        config.set(*key, *value);
    }
    for (key, value) in &options.client {
        config.set(key, value);
    }
    config
}

/// The consumer a query reads with: polled by a thread of its own, which takes every
/// record the client has fetched without a wake-up per record.
pub(crate) type SourceConsumer = BaseConsumer<SourceContext>;

/// What the client tells a reading query: its errors (a broker gone away, which it retries)
/// become the query's trouble, and its statistics the query's lag. Its log stays quiet: what
/// matters reaches the status line.
pub(crate) struct SourceContext {
    report: Arc<SourceReport>,
}

impl ClientContext for SourceContext {
    fn log(&self, _level: RDKafkaLogLevel, _facility: &str, _message: &str) {}

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() != Some(RDKafkaErrorCode::PartitionEOF) {
            self.report
                .set_trouble(format!("Kafka: {reason}; retrying"));
        }
    }

    fn stats(&self, statistics: Statistics) {
        // Records between each assigned partition's end and the next one the query takes.
        let lag = statistics
            .topics
            .values()
            .flat_map(|topic| topic.partitions.values())
            .filter(|p| p.partition >= 0 && p.fetch_state == "active")
            .map(|p| {
                let end = if p.ls_offset >= 0 {
                    p.ls_offset
                } else {
                    p.hi_offset
                };
                let next = if p.app_offset >= 0 {
                    p.app_offset
                } else {
                    p.next_offset
                };
                (end - next).max(0) as u64
            })
            .sum();
        self.report.set_lag(lag);
    }
}

impl ConsumerContext for SourceContext {}

/// A consumer for reading `options`' topics: offsets are committed by the source itself
/// (when there is a group), never automatically. `report` hears of its trouble and lag.
pub(crate) fn consumer(
    options: &KafkaOptions,
    table: &str,
    report: Arc<SourceReport>,
) -> Result<SourceConsumer, EngineError> {
    // librdkafka stops fetching for a second (`fetch.queue.backoff.ms`) once 100,000 records
    // wait in its queue: a query that takes records in bursts of micro-batches hit that
    // pause every few hundred milliseconds and read at a fifth of the client's own speed.
    // A larger queue (still capped at 64 MiB by `queued.max.messages.kbytes`) and a short
    // pause keep fetching ahead of the query.
    let mut config = config(
        options,
        &[
            ("queued.min.messages", "1000000"),
            ("fetch.queue.backoff.ms", "10"),
        ],
    );
    config.set("enable.auto.commit", "false");
    config.set("enable.partition.eof", "true");
    config.set("statistics.interval.ms", "1000");
    if options.group.is_none() {
        // librdkafka wants a group even for assigned partitions; nothing is committed to it.
        config.set("group.id", format!("eddy-{table}"));
    }
    config
        .create_with_context(SourceContext { report })
        .map_err(|e| client_error(table, options, "cannot create a Kafka client", e))
}

/// The partitions of the table's topics (a pattern is matched against the topics there are
/// now), each with where the query starts and stops.
pub(crate) fn partition_ranges(
    consumer: &SourceConsumer,
    options: &KafkaOptions,
    table: &str,
) -> Result<Vec<PartitionRange>, EngineError> {
    let mut ranges: Vec<PartitionRange> = partition_ends(consumer, options, table)?
        .into_iter()
        .map(|(topic, partition, low, high)| PartitionRange {
            topic,
            partition,
            start: low,
            stop: Some(high),
        })
        .collect();
    let starts = start_offsets(consumer, options, table, &ranges)?;
    let stops = stop_offsets(consumer, options, table, &ranges)?;
    for ((range, start), stop) in ranges.iter_mut().zip(starts).zip(stops) {
        range.start = start;
        range.stop = stop;
    }
    Ok(ranges)
}

/// Each partition of the table's topics now: its earliest and latest offsets, the records
/// between them, and, with a group, the group's committed offset and its lag.
pub(crate) fn partition_offsets(
    options: &KafkaOptions,
    table: &str,
) -> Result<RecordBatch, EngineError> {
    let consumer = consumer(options, table, Arc::new(SourceReport::default()))?;
    let ends = partition_ends(&consumer, options, table)?;
    let mut list = TopicPartitionList::new();
    for (topic, partition, _, _) in &ends {
        list.add_partition(topic, *partition);
    }
    let committed = match options.group {
        Some(_) => Some(
            consumer
                .committed_offsets(list.clone(), BROKER_DEADLINE)
                .map_err(|e| {
                    client_error(
                        table,
                        options,
                        "cannot read the group's committed offsets",
                        e,
                    )
                })?,
        ),
        None => None,
    };
    let (mut names, mut ids, mut earliest, mut latest, mut records) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut group_offsets, mut lags) = (Vec::new(), Vec::new());
    for (topic, partition, low, high) in ends {
        let at = committed.as_ref().and_then(|c| {
            match c.find_partition(&topic, partition).map(|e| e.offset()) {
                Some(Offset::Offset(offset)) => Some(offset),
                _ => None,
            }
        });
        group_offsets.push(at);
        lags.push(at.map(|at| (high - at).max(0)));
        names.push(topic);
        ids.push(partition);
        earliest.push(low);
        latest.push(high);
        records.push(high - low);
    }
    let mut fields = vec![
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, false),
        Field::new("earliest_offset", DataType::Int64, false),
        Field::new("latest_offset", DataType::Int64, false),
        Field::new("records", DataType::Int64, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(names)),
        Arc::new(Int32Array::from(ids)),
        Arc::new(Int64Array::from(earliest)),
        Arc::new(Int64Array::from(latest)),
        Arc::new(Int64Array::from(records)),
    ];
    if let Some(group) = &options.group {
        fields.push(Field::new(
            format!("committed_by_{group}"),
            DataType::Int64,
            true,
        ));
        fields.push(Field::new("lag", DataType::Int64, true));
        columns.push(Arc::new(Int64Array::from(group_offsets)));
        columns.push(Arc::new(Int64Array::from(lags)));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(EngineError::from)
}

/// Each partition of the table's topics, with its earliest and latest offsets now.
fn partition_ends(
    consumer: &SourceConsumer,
    options: &KafkaOptions,
    table: &str,
) -> Result<Vec<(String, i32, i64, i64)>, EngineError> {
    let mut ends = Vec::new();
    for (topic, partitions) in topics(consumer, options, table)? {
        for partition in partitions {
            let (low, high) = consumer
                .fetch_watermarks(&topic, partition, BROKER_DEADLINE)
                .map_err(|e| {
                    client_error(
                        table,
                        options,
                        &format!("cannot read the offsets of {topic} partition {partition}"),
                        e,
                    )
                })?;
            ends.push((topic.clone(), partition, low, high));
        }
    }
    Ok(ends)
}

/// The topics a table reads and their partitions, now.
pub(crate) fn topics(
    consumer: &SourceConsumer,
    options: &KafkaOptions,
    table: &str,
) -> Result<BTreeMap<String, Vec<i32>>, EngineError> {
    let metadata = consumer
        .fetch_metadata(None, BROKER_DEADLINE)
        .map_err(|e| client_error(table, options, "cannot reach the Kafka brokers", e))?;
    let present: BTreeMap<&str, Vec<i32>> = metadata
        .topics()
        .iter()
        .filter(|topic| topic.error().is_none())
        .map(|topic| {
            let partitions = topic.partitions().iter().map(|p| p.id()).collect();
            (topic.name(), partitions)
        })
        .collect();
    let mut chosen = BTreeMap::new();
    match &options.topics {
        Topics::Named(names) => {
            for name in names {
                let partitions = present.get(name.as_str()).ok_or_else(|| EngineError::Io {
                    message: format!(
                        "table {table}: topic '{name}' does not exist on {} (create it first, \
                         or check 'topic'{})",
                        options.servers,
                        known_topics(&present)
                    ),
                    source: None,
                })?;
                chosen.insert(name.clone(), partitions.clone());
            }
        }
        Topics::Pattern(pattern) => {
            for (name, partitions) in &present {
                if pattern.is_match(name) {
                    chosen.insert(name.to_string(), partitions.clone());
                }
            }
            if chosen.is_empty() {
                return Err(EngineError::Io {
                    message: format!(
                        "table {table}: no topic on {} matches 'topic-pattern'{}",
                        options.servers,
                        known_topics(&present)
                    ),
                    source: None,
                });
            }
        }
    }
    Ok(chosen)
}

fn known_topics(present: &BTreeMap<&str, Vec<i32>>) -> String {
    let names: Vec<&str> = present
        .keys()
        .copied()
        .filter(|name| !name.starts_with("__"))
        .take(20)
        .collect();
    if names.is_empty() {
        "; the broker has no topics".into()
    } else {
        format!("; its topics are {}", names.join(", "))
    }
}

/// Where each of `ranges` starts (their `start` is the partition's earliest offset, their
/// `stop` its end, as the query starts).
fn start_offsets(
    consumer: &SourceConsumer,
    options: &KafkaOptions,
    table: &str,
    ranges: &[PartitionRange],
) -> Result<Vec<i64>, EngineError> {
    match &options.startup {
        Startup::Earliest => Ok(ranges.iter().map(|r| r.start).collect()),
        Startup::Latest => Ok(ranges.iter().map(|r| r.stop.unwrap_or(r.start)).collect()),
        Startup::Specific(offsets) => Ok(ranges
            .iter()
            .map(|r| match offsets.get(&r.partition) {
                Some(&offset) => offset.clamp(r.start, r.stop.unwrap_or(i64::MAX)),
                None => r.start,
            })
            .collect()),
        Startup::Timestamp(millis) => by_time(consumer, options, table, ranges, *millis),
        Startup::NeedsGroup(_) => options.readable(table).map(|()| Vec::new()),
        Startup::GroupOffsets => {
            let mut list = TopicPartitionList::new();
            for range in ranges {
                list.add_partition(&range.topic, range.partition);
            }
            let committed = consumer
                .committed_offsets(list, BROKER_DEADLINE)
                .map_err(|e| {
                    client_error(
                        table,
                        options,
                        "cannot read the group's committed offsets",
                        e,
                    )
                })?;
            let reset = options
                .client
                .get("auto.offset.reset")
                .map(|r| r.trim().to_ascii_lowercase());
            ranges
                .iter()
                .map(|range| {
                    let offset = committed
                        .find_partition(&range.topic, range.partition)
                        .map(|element| element.offset());
                    match (offset, reset.as_deref()) {
                        (Some(Offset::Offset(offset)), _) => Ok(offset),
                        (_, Some("earliest")) => Ok(range.start),
                        (_, Some("latest")) => Ok(range.stop.unwrap_or(range.start)),
                        _ => Err(EngineError::Plan {
                            message: format!(
                                "table {table}: group '{}' has no committed offset for {} \
                                 partition {}",
                                options.group.as_deref().unwrap_or_default(),
                                range.topic,
                                range.partition
                            ),
                            position: None,
                            hint: Some(
                                "set 'properties.auto.offset.reset' to 'earliest' or \
                                 'latest' for partitions the group has not read, or choose \
                                 another 'scan.startup.mode'"
                                    .into(),
                            ),
                        }),
                    }
                })
                .collect()
        }
    }
}

/// Where each of `ranges` stops, per `scan.bounded.mode`.
fn stop_offsets(
    consumer: &SourceConsumer,
    options: &KafkaOptions,
    table: &str,
    ranges: &[PartitionRange],
) -> Result<Vec<Option<i64>>, EngineError> {
    Ok(match &options.bounded {
        Bounded::Unbounded => vec![None; ranges.len()],
        Bounded::Latest => ranges.iter().map(|r| r.stop).collect(),
        Bounded::Specific(offsets) => ranges
            .iter()
            .map(|r| offsets.get(&r.partition).copied().or(r.stop))
            .collect(),
        Bounded::Timestamp(millis) => by_time(consumer, options, table, ranges, *millis)?
            .into_iter()
            .map(Some)
            .collect(),
    })
}

/// The first offset of each partition whose record's time is at or after `millis`; the
/// partition's end where none is.
fn by_time(
    consumer: &SourceConsumer,
    options: &KafkaOptions,
    table: &str,
    ranges: &[PartitionRange],
    millis: i64,
) -> Result<Vec<i64>, EngineError> {
    let mut list = TopicPartitionList::new();
    for range in ranges {
        list.add_partition_offset(&range.topic, range.partition, Offset::Offset(millis))
            .map_err(|e| client_error(table, options, "cannot look up offsets by time", e))?;
    }
    let found = consumer
        .offsets_for_times(list, BROKER_DEADLINE)
        .map_err(|e| client_error(table, options, "cannot look up offsets by time", e))?;
    Ok(ranges
        .iter()
        .map(|range| {
            match found
                .find_partition(&range.topic, range.partition)
                .map(|element| element.offset())
            {
                Some(Offset::Offset(offset)) => offset,
                _ => range.stop.unwrap_or(range.start),
            }
        })
        .collect())
}

/// A client error in the user's terms: which table, which brokers, what failed and why.
pub(crate) fn client_error(
    table: &str,
    options: &KafkaOptions,
    what: &str,
    error: KafkaError,
) -> EngineError {
    let unreachable = matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
        )
    );
    let advice = if unreachable {
        format!(
            " within {} s: is the broker running, and is 'properties.bootstrap.servers' right?",
            BROKER_DEADLINE.as_secs()
        )
    } else {
        String::new()
    };
    EngineError::Io {
        message: format!(
            "table {table}: {what} at {}{advice} ({error})",
            options.servers
        ),
        source: Some(Box::new(error)),
    }
}
