//! `INSERT INTO kafka_table SELECT …`: each appended row becomes one record of the table's
//! topic, its value (and key, with `key.fields`) written in the table's formats.
//!
//! The record's partition follows `sink.partitioner`: by default the key's murmur2 hash, as
//! Java clients (and so Flink) choose it, or the client's spread when there is no key. With
//! `sink.delivery-guarantee` = 'at-least-once' (the default) every flush waits until the
//! broker has acknowledged every record sent, and a record the broker refused fails the
//! query; with 'none' the query goes on without waiting. Exactly-once will commit a Kafka
//! transaction at each checkpoint, once Eddy takes checkpoints: the producer here becomes
//! transactional and `flush` at a checkpoint commits.

use super::client::{self, BROKER_DEADLINE};
use super::metadata::{self, RecordMetadata};
use super::options::{KafkaOptions, Partitioner, Topics};
use super::records::RecordLayout;
use crate::connectors::ConnectorOptions;
use crate::error::EngineError;
use crate::stream::sink::destination::{Sink, SinkDecl};
use crate::stream::StreamUpdate;
use async_trait::async_trait;
use datafusion::arrow::array::{Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a flush waits for the broker to acknowledge what was sent.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(30);

/// Opens the sink of Kafka table `table` (declared as `decl` says) for rows of `schema`.
/// The written columns as the table declares them (their nullability, nested fields' too),
/// where the query's column is of the declared type.
fn as_declared(written: SchemaRef, declared: Option<&Schema>) -> SchemaRef {
    let Some(declared) = declared else {
        return written;
    };
    let fields: Vec<Arc<Field>> = written
        .fields()
        .iter()
        .map(|field| match declared.field_with_name(field.name()) {
            Ok(table) if same_but_nulls(table.data_type(), field.data_type()) => {
                Arc::new(table.clone())
            }
            _ => field.clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(
        fields,
        written.metadata().clone(),
    ))
}

/// Whether two types are the same but for which of their nested values may be null.
fn same_but_nulls(a: &DataType, b: &DataType) -> bool {
    match (a, b) {
        (DataType::List(a), DataType::List(b)) | (DataType::Map(a, _), DataType::Map(b, _)) => {
            same_but_nulls(a.data_type(), b.data_type())
        }
        (DataType::Struct(a), DataType::Struct(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b.iter())
                    .all(|(a, b)| same_but_nulls(a.data_type(), b.data_type()))
        }
        (a, b) => a == b,
    }
}

pub(crate) fn open(
    table: &str,
    decl: SinkDecl,
    schema: SchemaRef,
    updating: bool,
) -> Result<Box<dyn Sink>, EngineError> {
    let upsert = decl
        .options
        .get("connector")
        .is_some_and(|c| c.eq_ignore_ascii_case("upsert-kafka"));
    if updating && !upsert {
        return Err(EngineError::NotSupported {
            message: format!(
                "{table} is a kafka table, which takes appended rows only; this query's result \
                 changes (a GROUP BY without windows, a join that retracts): write it into an \
                 'upsert-kafka' table with a PRIMARY KEY"
            ),
        });
    }
    let mut given = ConnectorOptions::new(decl.options.clone());
    let kafka = KafkaOptions::read(&mut given, upsert)?;
    if upsert {
        super::upsert::imply_key_fields(&mut given, &decl.primary_key, table)?;
    }
    let schema = as_declared(schema, decl.declared.as_deref());
    let layout = RecordLayout::from_options(&mut given, schema, &decl.metadata)?;
    if let Some(changes) = &layout.changes {
        return Err(EngineError::NotSupported {
            message: format!(
                "{table} cannot be written: Eddy reads {} change events but does not write \
                 them yet; write an updating result into an 'upsert-kafka' table",
                changes.name()
            ),
        });
    }
    if let Some(slot) = layout
        .metadata
        .iter()
        .find(|m| !m.is_virtual && !m.kind.is_writable())
    {
        return Err(EngineError::Plan {
            message: format!(
                "{table} cannot be written: its metadata column {} is read only",
                slot.name
            ),
            position: None,
            hint: Some(format!(
                "declare it VIRTUAL ({} … METADATA … VIRTUAL), as Flink requires",
                slot.name
            )),
        });
    }
    let topic = match &kafka.topics {
        Topics::Named(names) if names.len() == 1 => names[0].clone(),
        _ => {
            return Err(EngineError::NotSupported {
                message: format!(
                    "{table} names several topics or a pattern; rows are written into one \
                     'topic'"
                ),
            })
        }
    };
    let mut config = client::config(&kafka, &[]);
    if !kafka.client.contains_key("partitioner") {
        config.set("partitioner", "murmur2_random");
    }
    let failure = Arc::new(Delivery::default());
    let producer: ThreadedProducer<DeliveryCounter> = config
        .create_with_context(DeliveryCounter(failure.clone()))
        .map_err(|e| client::client_error(table, &kafka, "cannot create a Kafka producer", e))?;
    let partitions = partition_count(&producer, &topic).map_err(|error| match error {
        Some(error) => client::client_error(table, &kafka, "cannot reach the Kafka brokers", error),
        None => EngineError::Io {
            message: format!(
                "table {table}: topic '{topic}' does not exist on {} (create it first, or \
                 check 'topic')",
                kafka.servers
            ),
            source: None,
        },
    })?;
    Ok(Box::new(KafkaSink {
        table: table.to_string(),
        servers: kafka.servers.clone(),
        topic,
        partitioner: kafka.partitioner,
        partitions,
        wait_for_delivery: kafka.wait_for_delivery,
        layout,
        producer,
        delivery: failure,
        sent: 0,
        reported: 0,
        turn: 0,
        failed: None,
    }))
}

/// What the broker said of the records sent: how many it took, and its first refusal.
#[derive(Default)]
struct Delivery {
    delivered: AtomicU64,
    failed: Mutex<Option<String>>,
}

struct DeliveryCounter(Arc<Delivery>);

/// How many partitions `topic` has. A broker that creates topics on first use answers the
/// first question with no leader yet: asked again until it has one, within the deadline.
/// `Err(None)` when the topic does not exist.
fn partition_count(
    producer: &ThreadedProducer<DeliveryCounter>,
    topic: &str,
) -> Result<i32, Option<KafkaError>> {
    let deadline = Instant::now() + BROKER_DEADLINE;
    loop {
        let metadata = producer
            .client()
            .fetch_metadata(Some(topic), BROKER_DEADLINE)
            .map_err(Some)?;
        let found = metadata.topics().first();
        match found.map(|t| (t.error(), t.partitions().len())) {
            Some((None, partitions)) if partitions > 0 => return Ok(partitions as i32),
            Some((Some(error), _))
                if RDKafkaErrorCode::from(error) == RDKafkaErrorCode::LeaderNotAvailable
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            _ => return Err(None),
        }
    }
}

impl ClientContext for DeliveryCounter {
    /// The client's own log stays quiet: a refused record fails the query, and a broker away
    /// is retried until the flush's deadline says so.
    fn log(&self, _level: RDKafkaLogLevel, _facility: &str, _message: &str) {}

    fn error(&self, _error: KafkaError, _reason: &str) {}
}

impl ProducerContext for DeliveryCounter {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _opaque: ()) {
        match result {
            Ok(_) => {
                self.0.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((error, _)) => {
                if let Ok(mut failed) = self.0.failed.lock() {
                    failed.get_or_insert_with(|| error.to_string());
                }
            }
        }
    }
}

struct KafkaSink {
    table: String,
    servers: String,
    topic: String,
    partitioner: Partitioner,
    partitions: i32,
    wait_for_delivery: bool,
    layout: RecordLayout,
    producer: ThreadedProducer<DeliveryCounter>,
    delivery: Arc<Delivery>,
    /// Records handed to the producer.
    sent: u64,
    /// `sent` when the display was last told.
    reported: u64,
    /// The next partition of 'round-robin'.
    turn: i32,
    /// Why changes could not be sent, until the next flush reports it.
    failed: Option<EngineError>,
}

impl KafkaSink {
    fn encode_error(&self, error: datafusion::arrow::error::ArrowError) -> EngineError {
        EngineError::Execution {
            message: format!(
                "table {}: a row cannot be written as {}: {error}",
                self.table,
                self.layout.value.name()
            ),
            source: Some(Box::new(error)),
        }
    }

    fn refused(&self) -> Option<EngineError> {
        let failed = self.delivery.failed.lock().ok()?.clone()?;
        Some(EngineError::Io {
            message: format!(
                "table {}: the broker did not take a record for topic '{}': {failed}",
                self.table, self.topic
            ),
            source: None,
        })
    }

    /// Sends a record for each row of `batch`: an upsert of its key and value, or with
    /// `kinds` (a changelog's `op` per row) a tombstone for a `-D` and nothing for a `-U`
    /// (the `+U` after it replaces the key's row).
    fn send_batch(
        &mut self,
        batch: &RecordBatch,
        kinds: Option<&StringArray>,
    ) -> Result<(), EngineError> {
        let values = batch
            .project(self.layout.value_columns())
            .map_err(|e| self.encode_error(e))?;
        let values = self
            .layout
            .value
            .encode(&values)
            .map_err(|e| self.encode_error(e))?;
        // A non-virtual `timestamp` metadata column sets each record's time.
        let times = match self
            .layout
            .metadata
            .iter()
            .find(|m| m.kind == RecordMetadata::Timestamp && !m.is_virtual)
        {
            Some(slot) => {
                Some(metadata::millis(batch.column(slot.index)).map_err(|e| self.encode_error(e))?)
            }
            None => None,
        };
        // A non-virtual `headers` metadata column gives each record its headers.
        let headers = match self
            .layout
            .metadata
            .iter()
            .find(|m| m.kind == RecordMetadata::Headers && !m.is_virtual)
        {
            Some(slot) => Some(
                metadata::headers(batch.column(slot.index)).map_err(|e| self.encode_error(e))?,
            ),
            None => None,
        };
        let keys = match &self.layout.key {
            Some((format, columns)) => {
                let keys = batch.project(columns).map_err(|e| self.encode_error(e))?;
                Some(format.encode(&keys).map_err(|e| self.encode_error(e))?)
            }
            None => None,
        };
        for (row, value) in values.iter().enumerate() {
            let kind = kinds.filter(|k| k.is_valid(row)).map(|k| k.value(row));
            if kind == Some("-U") {
                continue;
            }
            let key = keys.as_ref().and_then(|k| k.get(row));
            let mut record = BaseRecord::<Vec<u8>, Vec<u8>>::to(&self.topic);
            if kind != Some("-D") {
                record = record.payload(value);
            }
            if let Some(time) = times.as_ref().filter(|t| t.is_valid(row)) {
                record = record.timestamp(time.value(row));
            }
            if let Some(headers) = headers.as_ref().and_then(|h| h.get(row)) {
                let mut owned = OwnedHeaders::new_with_capacity(headers.len());
                for (name, value) in headers {
                    owned = owned.insert(Header {
                        key: name,
                        value: value.as_deref(),
                    });
                }
                record = record.headers(owned);
            }
            if let Some(key) = key {
                record = record.key(key);
            }
            match self.partitioner {
                Partitioner::Default => {}
                Partitioner::Fixed => record = record.partition(0),
                Partitioner::RoundRobin => {
                    record = record.partition(self.turn);
                    self.turn = (self.turn + 1) % self.partitions.max(1);
                }
            }
            let mut record = record;
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        // The client's queue is full: let its thread send some first.
                        record = back;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err((error, _)) => {
                        return Err(EngineError::Io {
                            message: format!(
                                "table {}: a record for topic '{}' cannot be sent: {error}",
                                self.table, self.topic
                            ),
                            source: Some(Box::new(error)),
                        })
                    }
                }
            }
            self.sent += 1;
        }
        Ok(())
    }

    /// Waits until the broker has acknowledged every record sent.
    async fn delivered(&self) -> Result<(), EngineError> {
        let deadline = Instant::now() + DELIVERY_DEADLINE;
        while self.producer.in_flight_count() > 0 {
            if let Some(error) = self.refused() {
                return Err(error);
            }
            if Instant::now() > deadline {
                return Err(EngineError::Io {
                    message: format!(
                        "table {}: the broker at {} has not acknowledged {} records for topic \
                         '{}' after {} s",
                        self.table,
                        self.servers,
                        self.producer.in_flight_count(),
                        self.topic,
                        DELIVERY_DEADLINE.as_secs()
                    ),
                    source: None,
                });
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        match self.refused() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Sink for KafkaSink {
    fn append(&mut self, batches: Vec<RecordBatch>) -> Result<(), EngineError> {
        for batch in &batches {
            self.send_batch(batch, None)?;
        }
        Ok(())
    }

    /// An updating result's changes (only an upsert-kafka table takes them: `open` refuses
    /// one for a kafka table).
    fn change(&mut self, changes: RecordBatch) {
        if self.failed.is_some() {
            return;
        }
        let kinds = changes
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .cloned();
        let rows = changes.project(&(1..changes.num_columns()).collect::<Vec<_>>());
        let sent = rows
            .map_err(|e| self.encode_error(e))
            .and_then(|rows| self.send_batch(&rows, kinds.as_ref()));
        if let Err(error) = sent {
            self.failed = Some(error);
        }
    }

    async fn flush(
        &mut self,
        end: bool,
        _watermark: Option<i64>,
    ) -> Result<Option<StreamUpdate>, EngineError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        if self.wait_for_delivery || end {
            self.delivered().await?;
        }
        if self.sent == self.reported {
            return Ok(None);
        }
        self.reported = self.sent;
        Ok(Some(StreamUpdate::Produced {
            topic: self.topic.clone(),
            records: self.sent,
        }))
    }
}
