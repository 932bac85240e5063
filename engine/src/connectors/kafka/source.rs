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
        // Before asking the brokers anything.
        self.options.readable(&self.table)?;
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
        let schema = match changes {
            Some(_) => changelog_source::weighted_schema(&self.layout.schema),
            None => self.layout.schema.clone(),
        };
        let bounded = ranges.iter().all(|r| r.stop.is_some());
        Ok(Box::new(KafkaSource {
            consumer,
            polling: Polling {
                table: self.table.clone(),
                bounded,
                report: report.clone(),
                topics: topics.clone(),
                partitions,
                with_key: self.layout.key.is_some() || self.upsert,
                with_headers: self.layout.reads_headers(),
                discovery: match (bounded, self.options.discovery) {
                    (false, Some(every)) => Some((self.options.clone(), every, Instant::now())),
                    _ => None,
                },
                found: Vec::new(),
                topics_changed: false,
            },
            decoding: Decoding {
                table: self.table.clone(),
                schema,
                changes,
                commit: self.options.group.is_some(),
                topics,
                layout: self.layout.clone(),
                skipped: self.skipped.clone(),
                report,
                event_time: self.event_time,
                idle_timeout: self.idle_timeout,
                times,
                done: Vec::new(),
            },
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
    consumer: SourceConsumer,
    polling: Polling,
    decoding: Decoding,
}

/// What the thread that polls the client needs and keeps.
struct Polling {
    table: String,
    bounded: bool,
    report: Arc<SourceReport>,
    topics: Vec<String>,
    partitions: HashMap<(usize, i32), Progress>,
    with_key: bool,
    with_headers: bool,
    /// For an unbounded query: the options new partitions and topics are found by, how
    /// often they are looked for, and when they were last.
    discovery: Option<(Arc<KafkaOptions>, Duration, Instant)>,
    /// The partitions found since the last chunk, and whether the topics changed.
    found: Vec<(usize, i32)>,
    topics_changed: bool,
}

/// What the thread that decodes records needs and keeps.
struct Decoding {
    table: String,
    /// The table's columns, and a weight after them when it is a table of changes.
    schema: SchemaRef,
    changes: Option<ChangeReading>,
    /// Commit the offsets of the records handed over (a group is set).
    commit: bool,
    topics: Vec<String>,
    layout: Arc<RecordLayout>,
    skipped: Arc<AtomicU64>,
    report: Arc<SourceReport>,
    /// The event-time column (the WATERMARK's, when it is one of the record's columns),
    /// whose largest value is kept per partition in `times`.
    event_time: Option<usize>,
    idle_timeout: Option<Duration>,
    times: HashMap<(usize, i32), PartitionTime>,
    /// The partitions read to their stop offset: they hold no time back.
    done: Vec<(usize, i32)>,
}

/// Records handed from the polling thread to the decoding one, the partitions done by then,
/// and those found since the last chunk (with the topics, when a new one was found).
struct Chunk {
    records: Vec<Record>,
    done: Vec<(usize, i32)>,
    found: Vec<(usize, i32)>,
    topics: Option<Vec<String>>,
}

impl StreamSource for KafkaSource {
    fn schema(&self) -> SchemaRef {
        self.decoding.schema.clone()
    }

    fn is_bounded(&self) -> bool {
        self.polling.bounded
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
        Some(self.polling.report.clone())
    }
}

impl KafkaSource {
    /// Reads until every partition is done (bounded reading) or the query stops wanting
    /// rows, on two threads: this one polls the client (which hands each fetched record at
    /// once), the other decodes what it polled and sends the rows, so that polling goes on
    /// while a batch is decoded.
    fn read(self, out: BatchSender) -> Result<(), EngineError> {
        let KafkaSource {
            consumer,
            mut polling,
            decoding,
            ..
        } = self;
        let consumer = &consumer;
        std::thread::scope(|scope| {
            // One chunk decoding, one waiting: polling runs at most that far ahead.
            let (chunks, received) = std::sync::mpsc::sync_channel::<Chunk>(1);
            let decoder = scope.spawn(move || decoding.run(received, consumer, out));
            let polled = polling.poll(consumer, chunks);
            let decoded = decoder.join().map_err(|_| EngineError::Internal {
                message: "the Kafka source's decoding thread stopped".into(),
                source: None,
            })?;
            // The decoder's error is why polling stopped, if it stopped early.
            decoded.and(polled)
        })
    }
}

impl Polling {
    fn all_done(&self) -> bool {
        self.bounded && self.partitions.values().all(|p| p.done)
    }

    fn done(&self) -> Vec<(usize, i32)> {
        self.partitions
            .iter()
            .filter(|(_, progress)| progress.done)
            .map(|(part, _)| *part)
            .collect()
    }

    /// Polls the client, handing records to the decoding thread at least every 50 ms, or at
    /// once when 8192 are waiting; returns when reading is done or the decoder has stopped.
    fn poll(
        &mut self,
        consumer: &SourceConsumer,
        chunks: std::sync::mpsc::SyncSender<Chunk>,
    ) -> Result<(), EngineError> {
        let mut pending: Vec<Record> = Vec::new();
        let mut flushed_at = Instant::now();
        while !self.all_done() {
            // Whether this round took a record (then the clock is read only every 256).
            let mut streaming = false;
            match consumer.poll(POLL_WAIT) {
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
                            pending.push(record(&message, at, self.with_key, self.with_headers));
                        }
                        progress.done |= at.offset + 1 >= stop;
                    }
                }
                // The end of a partition as it is now: done if that is past its stop.
                Some(Err(KafkaError::PartitionEOF(_))) => self.note_positions(consumer),
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
                self.discover(consumer);
                // Sent even without records: a partition may have gone quiet, and then no
                // longer holds time back.
                if chunks
                    .send(self.chunk(std::mem::take(&mut pending)))
                    .is_err()
                {
                    return Ok(());
                }
                flushed_at = Instant::now();
            }
        }
        let _ = chunks.send(self.chunk(pending));
        Ok(())
    }

    fn chunk(&mut self, records: Vec<Record>) -> Chunk {
        Chunk {
            records,
            done: self.done(),
            found: std::mem::take(&mut self.found),
            topics: std::mem::take(&mut self.topics_changed).then(|| self.topics.clone()),
        }
    }

    /// Every `scan.topic-partition-discovery.interval`, reads the partitions of new
    /// topics the pattern matches and new partitions of the topics read, from their
    /// earliest offset (as Flink does). A broker that does not answer is asked again at the
    /// next interval; the client reports it meanwhile.
    fn discover(&mut self, consumer: &SourceConsumer) {
        let Some((options, every, last)) = &mut self.discovery else {
            return;
        };
        if last.elapsed() < *every {
            return;
        }
        *last = Instant::now();
        let Ok(now) = client::topics(consumer, options, &self.table) else {
            return;
        };
        let mut assignment = TopicPartitionList::new();
        let mut found = Vec::new();
        for (topic, partitions) in now {
            let index = match self.topics.iter().position(|t| *t == topic) {
                Some(index) => index,
                None => {
                    self.topics.push(topic.clone());
                    self.topics_changed = true;
                    self.topics.len() - 1
                }
            };
            for partition in partitions {
                if self.partitions.contains_key(&(index, partition)) {
                    continue;
                }
                if assignment
                    .add_partition_offset(&topic, partition, Offset::Beginning)
                    .is_err()
                {
                    continue;
                }
                found.push((
                    (index, partition),
                    PartitionRange {
                        topic: topic.clone(),
                        partition,
                        start: 0,
                        stop: None,
                    },
                ));
            }
        }
        if found.is_empty() || consumer.incremental_assign(&assignment).is_err() {
            return;
        }
        for (part, range) in found {
            self.partitions
                .insert(part, Progress { range, done: false });
            self.found.push(part);
        }
    }

    /// Marks the partitions whose position has passed their stop offset as done.
    fn note_positions(&mut self, consumer: &SourceConsumer) {
        let Ok(positions) = consumer.position() else {
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

    fn read_error(&self, error: KafkaError) -> EngineError {
        EngineError::Io {
            message: format!("table {}: reading its topics failed: {error}", self.table),
            source: Some(Box::new(error)),
        }
    }
}

impl Decoding {
    /// Decodes each chunk polled and sends its rows, until the chunks end or the query no
    /// longer wants rows.
    fn run(
        mut self,
        chunks: std::sync::mpsc::Receiver<Chunk>,
        consumer: &SourceConsumer,
        out: BatchSender,
    ) -> Result<(), EngineError> {
        for chunk in chunks {
            self.done = chunk.done;
            if let Some(topics) = chunk.topics {
                self.topics = topics;
            }
            for part in chunk.found {
                let time = PartitionTime {
                    latest: None,
                    last_row_at: Instant::now(),
                };
                self.times.entry(part).or_insert(time);
            }
            if !self.send(chunk.records, consumer, &out)? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Decodes and sends `records`; `false` when the query no longer wants rows.
    fn send(
        &mut self,
        records: Vec<Record>,
        consumer: &SourceConsumer,
        out: &BatchSender,
    ) -> Result<bool, EngineError> {
        if out.is_closed() {
            return Ok(false);
        }
        if records.is_empty() {
            self.publish_time_bound();
            return Ok(true);
        }
        let mut skipped = 0;
        let decoded = self.decode_by_partition(&records, &mut skipped);
        self.skipped.fetch_add(skipped, Ordering::Relaxed);
        let batch = decoded.map_err(|e| self.in_table(e))?;
        self.publish_time_bound();
        if self.commit {
            self.commit_offsets(&records, consumer);
        }
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
        if let ChangeReading::Upserts(latest) = reading {
            self.report.set_state_bytes(latest.bytes());
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
            let done = self.done.contains(part);
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
    fn commit_offsets(&self, records: &[Record], consumer: &SourceConsumer) {
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
        let _ = consumer.commit(&list, CommitMode::Async);
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
fn record(
    message: &BorrowedMessage<'_>,
    at: RecordAt,
    with_key: bool,
    with_headers: bool,
) -> Record {
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
        key: message.key().filter(|_| with_key).map(<[u8]>::to_vec),
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
