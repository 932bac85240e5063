//! Reading a table's topics as a stream: each query assigns itself every partition (no
//! consumer-group rebalancing, as Flink's source does), starts each at the offset its
//! `scan.startup.mode` gives and, with a `scan.bounded.mode`, ends once every partition has
//! reached its stop offset — so a notebook reading a topic ends under nbconvert.
//!
//! Records are sent as rows at least every 50 ms, or at once when 8192 are waiting. With a
//! `properties.group.id`, the offsets of the records handed to the query are committed to the
//! group (asynchronously), so that `group-offsets` resumes after them.

use super::changes::{ChangeFormat, Changes, LatestByKey};
use super::client::{self, PartitionRange, SourceConsumer};
use super::options::KafkaOptions;
use super::record::{Record, RecordAt};
use super::records::RecordLayout;
use crate::error::EngineError;
use crate::stream::catalog::SourceFactory;
use crate::stream::changelog_source;
use crate::stream::source::{BatchSender, StreamSource};
use crate::stream::source_report::SourceReport;
use crate::stream::window;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::context::SessionContext;
use futures::future::BoxFuture;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message, Timestamp};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records waiting longer than this are sent.
const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// This many waiting records are sent at once.
const FLUSH_RECORDS: usize = 8192;
/// How long one poll of the client waits for a record when none has come.
const POLL_WAIT: Duration = Duration::from_millis(10);

/// Opens a query's reading of a Kafka table.
pub(crate) struct KafkaFactory {
    pub(crate) table: String,
    /// The WATERMARK's column among the record's columns, if it is one of them.
    pub(crate) event_time: Option<usize>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) options: Arc<KafkaOptions>,
    pub(crate) layout: Arc<RecordLayout>,
    pub(crate) skipped: Arc<AtomicU64>,
    /// An upsert topic (`upsert-kafka`): each record is its key's latest row.
    pub(crate) upsert: bool,
}

impl SourceFactory for KafkaFactory {
    fn describe(&self) -> Option<Result<RecordBatch, EngineError>> {
        Some(client::partition_offsets(&self.options, &self.table))
    }

    fn is_changelog(&self) -> bool {
        self.upsert || self.layout.changes.is_some()
    }

    fn open(&self, _ctx: &SessionContext) -> Result<Box<dyn StreamSource>, EngineError> {
        let report = Arc::new(SourceReport::default());
        let consumer = client::consumer(&self.options, &self.table, report.clone())?;
        let ranges = client::partition_ranges(&consumer, &self.options, &self.table)?;
        let mut topics: Vec<String> = ranges.iter().map(|r| r.topic.clone()).collect();
        topics.dedup();
        let mut assignment = TopicPartitionList::new();
        let mut partitions = HashMap::new();
        for range in &ranges {
            let done = range.stop.is_some_and(|stop| range.start >= stop);
            if !done {
                assignment
                    .add_partition_offset(
                        &range.topic,
                        range.partition,
                        Offset::Offset(range.start),
                    )
                    .map_err(|e| {
                        client::client_error(&self.table, &self.options, "cannot assign", e)
                    })?;
            }
            let topic = topics.iter().position(|t| *t == range.topic).unwrap_or(0);
            partitions.insert(
                (topic, range.partition),
                Progress {
                    range: range.clone(),
                    done,
                },
            );
        }
        consumer
            .assign(&assignment)
            .map_err(|e| client::client_error(&self.table, &self.options, "cannot assign", e))?;
        let times = partitions
            .iter()
            .filter(|(_, progress)| !progress.done)
            .map(|(part, _)| {
                let time = PartitionTime {
                    latest: None,
                    last_row_at: Instant::now(),
                };
                (*part, time)
            })
            .collect();
        let changes = match (&self.layout.changes, self.upsert) {
            (_, true) => Some(ChangeReading::Upserts(LatestByKey::default())),
            (Some(format), false) => Some(ChangeReading::Events(format.clone())),
            (None, false) => None,
        };
        Ok(Box::new(KafkaSource {
            event_time: self.event_time,
            idle_timeout: self.idle_timeout,
            times,
            table: self.table.clone(),
            schema: match changes {
                Some(_) => changelog_source::weighted_schema(&self.layout.schema),
                None => self.layout.schema.clone(),
            },
            changes,
            commit: self.options.group.is_some(),
            bounded: ranges.iter().all(|r| r.stop.is_some()),
            consumer,
            report,
            topics,
            partitions,
            layout: self.layout.clone(),
            skipped: self.skipped.clone(),
        }))
    }
}

/// How a table of changes reads its records (`changes.rs`).
enum ChangeReading {
    /// Each record a change event.
    Events(ChangeFormat),
    /// Each record its key's latest row.
    Upserts(LatestByKey),
}

/// The event time one partition has shown.
struct PartitionTime {
    /// The largest event time of its rows so far (ms).
    latest: Option<i64>,
    last_row_at: Instant,
}

/// How far a query has read one partition.
struct Progress {
    range: PartitionRange,
    /// Reached its stop offset (bounded reading only).
    done: bool,
}

struct KafkaSource {
    table: String,
    /// The table's columns, and a weight after them when it is a table of changes.
    schema: SchemaRef,
    changes: Option<ChangeReading>,
    commit: bool,
    bounded: bool,
    consumer: SourceConsumer,
    report: Arc<SourceReport>,
    topics: Vec<String>,
    partitions: HashMap<(usize, i32), Progress>,
    layout: Arc<RecordLayout>,
    skipped: Arc<AtomicU64>,
    /// The event-time column (the WATERMARK's, when it is one of the record's columns),
    /// whose largest value is kept per partition in `times`.
    event_time: Option<usize>,
    idle_timeout: Option<Duration>,
    times: HashMap<(usize, i32), PartitionTime>,
}

impl StreamSource for KafkaSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn is_bounded(&self) -> bool {
        self.bounded
    }

    fn run(self: Box<Self>, out: BatchSender) -> BoxFuture<'static, Result<(), EngineError>> {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || (*self).read(out))
                .await
                .map_err(|e| EngineError::Internal {
                    message: format!("the Kafka source's thread stopped: {e}"),
                    source: Some(Box::new(e)),
                })?
        })
    }

    fn report(&self) -> Option<Arc<SourceReport>> {
        Some(self.report.clone())
    }
}

impl KafkaSource {
    fn all_done(&self) -> bool {
        self.bounded && self.partitions.values().all(|p| p.done)
    }

    /// Reads until every partition is done (bounded reading) or the query stops wanting
    /// rows, on a thread of its own: polling the client takes each fetched record at once,
    /// and decoding is work for a thread, not for the async runtime.
    fn read(mut self, out: BatchSender) -> Result<(), EngineError> {
        let mut pending: Vec<Record> = Vec::new();
        let mut flushed_at = Instant::now();
        let with_headers = self.layout.reads_headers();
        while !self.all_done() {
            if out.is_closed() {
                return Ok(());
            }
            // Whether this round took a record (then the clock is read only every 256).
            let mut streaming = false;
            match self.consumer.poll(POLL_WAIT) {
                Some(Ok(message)) => {
                    streaming = true;
                    self.report.clear_trouble();
                    let topic = match self.topics.as_slice() {
                        [_] => 0,
                        topics => topics
                            .iter()
                            .position(|t| t == message.topic())
                            .unwrap_or(0),
                    };
                    let at = RecordAt {
                        topic,
                        partition: message.partition(),
                        offset: message.offset(),
                    };
                    if let Some(progress) = self.partitions.get_mut(&(at.topic, at.partition)) {
                        let stop = progress.range.stop.unwrap_or(i64::MAX);
                        if at.offset < stop {
                            pending.push(record(&message, at, with_headers));
                        }
                        progress.done |= at.offset + 1 >= stop;
                    }
                }
                // The end of a partition as it is now: done if that is past its stop.
                Some(Err(KafkaError::PartitionEOF(_))) => self.note_positions(),
                Some(Err(error @ KafkaError::MessageConsumptionFatal(_))) => {
                    return Err(self.read_error(error));
                }
                Some(Err(error)) if is_fatal(&error) => return Err(self.read_error(error)),
                // The client retries the brokers by itself.
                Some(Err(error)) => {
                    let reason = match error.rdkafka_error_code() {
                        Some(code) => code.to_string(),
                        None => error.to_string(),
                    };
                    self.report
                        .set_trouble(format!("Kafka: {reason}; retrying"));
                }
                None => {}
            }
            let due = pending.len() >= FLUSH_RECORDS
                || ((!streaming || pending.len() % 256 == 0)
                    && flushed_at.elapsed() >= FLUSH_INTERVAL);
            if due {
                // A partition may have gone quiet: it no longer holds time back.
                self.publish_time_bound();
                if !self.send(&mut pending, &out)? {
                    return Ok(());
                }
                flushed_at = Instant::now();
            }
        }
        self.send(&mut pending, &out)?;
        Ok(())
    }

    /// Marks the partitions whose position has passed their stop offset as done.
    fn note_positions(&mut self) {
        let Ok(positions) = self.consumer.position() else {
            return;
        };
        for element in positions.elements() {
            let Some(topic) = self.topics.iter().position(|t| t == element.topic()) else {
                continue;
            };
            if let (Some(progress), Offset::Offset(position)) = (
                self.partitions.get_mut(&(topic, element.partition())),
                element.offset(),
            ) {
                progress.done |= progress.range.stop.is_some_and(|stop| position >= stop);
            }
        }
    }

    /// Decodes and sends what is pending; `false` when the query no longer wants rows.
    fn send(&mut self, pending: &mut Vec<Record>, out: &BatchSender) -> Result<bool, EngineError> {
        if pending.is_empty() {
            return Ok(true);
        }
        let mut skipped = 0;
        let decoded = self.decode_by_partition(pending, &mut skipped);
        self.skipped.fetch_add(skipped, Ordering::Relaxed);
        let batch = decoded.map_err(|e| self.in_table(e))?;
        self.publish_time_bound();
        if self.commit {
            self.commit_offsets(pending);
        }
        pending.clear();
        if batch.num_rows() > 0 && out.blocking_send(batch).is_err() {
            return Ok(false);
        }
        Ok(true)
    }

    /// The rows of `records`, decoded partition by partition so that each partition's
    /// largest event time is known (its watermark, as Flink keeps one per partition).
    fn decode_by_partition(
        &mut self,
        records: &[Record],
        skipped: &mut u64,
    ) -> Result<RecordBatch, EngineError> {
        let Some(time_index) = self.event_time else {
            return self.decode_refs(&records.iter().collect::<Vec<_>>(), skipped);
        };
        let mut parts: Vec<((usize, i32), Vec<&Record>)> = Vec::new();
        let mut index: HashMap<(usize, i32), usize> = HashMap::new();
        for record in records {
            let part = (record.at.topic, record.at.partition);
            let at = *index.entry(part).or_insert_with(|| {
                parts.push((part, Vec::new()));
                parts.len() - 1
            });
            parts[at].1.push(record);
        }
        let mut batches = Vec::with_capacity(parts.len());
        for (part, rows) in parts {
            let batch = self.decode_refs(&rows, skipped)?;
            let latest =
                datafusion::arrow::compute::max(&window::millis(batch.column(time_index))?);
            if let Some(time) = self.times.get_mut(&part) {
                time.last_row_at = Instant::now();
                if let Some(latest) = latest {
                    time.latest = Some(time.latest.map_or(latest, |t| t.max(latest)));
                }
            }
            batches.push(batch);
        }
        Ok(datafusion::arrow::compute::concat_batches(
            &self.schema,
            &batches,
        )?)
    }

    /// The rows of `records` (of one partition, say); for a table of changes, the rows that
    /// came and went, weighted.
    fn decode_refs(
        &mut self,
        records: &[&Record],
        skipped: &mut u64,
    ) -> Result<RecordBatch, EngineError> {
        let Some(reading) = &mut self.changes else {
            return self.layout.decode_refs(records, &self.topics, skipped);
        };
        let mut changes = Changes::default();
        for record in records {
            match reading {
                ChangeReading::Upserts(latest) => latest.read((*record).clone(), &mut changes),
                ChangeReading::Events(format) => {
                    if let Err(reason) = format.read(record, &mut changes) {
                        if !self.layout.ignores_errors() {
                            return Err(self.layout.bad_event(record, &reason, &self.topics));
                        }
                        *skipped += 1;
                    }
                }
            }
        }
        let came = self.layout.decode_refs(
            &changes.came.iter().collect::<Vec<_>>(),
            &self.topics,
            skipped,
        )?;
        let went = self.layout.decode_refs(
            &changes.went.iter().collect::<Vec<_>>(),
            &self.topics,
            skipped,
        )?;
        Ok(datafusion::arrow::compute::concat_batches(
            &self.schema,
            &[
                changelog_source::weigh(&came, 1)?,
                changelog_source::weigh(&went, -1)?,
            ],
        )?)
    }

    /// Tells the query how far every moving partition's event time has come: the least of
    /// their largest times (a partition quiet for `'scan.watermark.idle-timeout'`, or done,
    /// holds nothing back; one that has shown no row yet holds everything back).
    fn publish_time_bound(&self) {
        if self.event_time.is_none() {
            return;
        }
        let mut bound = i64::MAX;
        for (part, time) in &self.times {
            let done = self.partitions.get(part).is_some_and(|p| p.done);
            let idle = self
                .idle_timeout
                .is_some_and(|idle| time.last_row_at.elapsed() >= idle);
            if done || idle {
                continue;
            }
            bound = bound.min(time.latest.unwrap_or(i64::MIN));
        }
        self.report.set_time_bound(bound);
    }

    /// Commits, for each partition, the offset after the last record handed over.
    fn commit_offsets(&self, records: &[Record]) {
        let mut last: HashMap<(usize, i32), i64> = HashMap::new();
        for record in records {
            let entry = last
                .entry((record.at.topic, record.at.partition))
                .or_insert(0);
            *entry = (*entry).max(record.at.offset + 1);
        }
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in last {
            if let Some(name) = self.topics.get(topic) {
                let _ = list.add_partition_offset(name, partition, Offset::Offset(offset));
            }
        }
        // A failed commit only means a later `group-offsets` start reads some records again.
        let _ = self.consumer.commit(&list, CommitMode::Async);
    }

    fn read_error(&self, error: KafkaError) -> EngineError {
        EngineError::Io {
            message: format!("table {}: reading its topics failed: {error}", self.table),
            source: Some(Box::new(error)),
        }
    }

    fn in_table(&self, error: EngineError) -> EngineError {
        match error {
            EngineError::Execution { message, source } => EngineError::Execution {
                message: format!("table {}: {message}", self.table),
                source,
            },
            other => other,
        }
    }
}

/// What the query keeps of `message` until its batch is decoded.
fn record(message: &BorrowedMessage<'_>, at: RecordAt, with_headers: bool) -> Record {
    let (timestamp, timestamp_type) = match message.timestamp() {
        Timestamp::CreateTime(millis) => (Some(millis), "CreateTime"),
        Timestamp::LogAppendTime(millis) => (Some(millis), "LogAppendTime"),
        Timestamp::NotAvailable => (None, "NoTimestampType"),
    };
    let headers = match message.headers().filter(|_| with_headers) {
        Some(headers) => headers
            .iter()
            .map(|header| (header.key.to_string(), header.value.map(<[u8]>::to_vec)))
            .collect(),
        None => Vec::new(),
    };
    Record {
        at,
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        timestamp,
        timestamp_type,
        headers,
    }
}

/// Errors the client does not retry: the topic or partition is gone, or access is denied.
fn is_fatal(error: &KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(
            Code::UnknownTopicOrPartition
                | Code::UnknownTopic
                | Code::UnknownPartition
                | Code::TopicAuthorizationFailed
                | Code::GroupAuthorizationFailed
                | Code::SaslAuthenticationFailed
        )
    )
}
