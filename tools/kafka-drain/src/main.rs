//! `kafka-drain BOOTSTRAP TOPIC`: reads every record of TOPIC (all partitions, from the
//! earliest offset to the end as it is when it starts) the way Eddy's Kafka source is
//! configured to, touching each record's value and doing nothing else, and prints one line:
//! `records=N bytes=B seconds=S`. This is what the client library alone can deliver on this
//! machine: the limit `dev/bench-kafka` compares Eddy's Kafka source against.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, bootstrap, topic] = args.as_slice() else {
        eprintln!("usage: kafka-drain BOOTSTRAP TOPIC");
        return ExitCode::from(2);
    };
    match drain(bootstrap, topic) {
        Ok((records, bytes, seconds)) => {
            println!("records={records} bytes={bytes} seconds={seconds:.3}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("kafka-drain: {error}");
            ExitCode::FAILURE
        }
    }
}

fn drain(bootstrap: &str, topic: &str) -> Result<(u64, u64, f64), KafkaError> {
    let deadline = Duration::from_secs(10);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "kafka-drain")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        // Fetching ahead as Eddy's Kafka source does (engine/src/connectors/kafka/client.rs):
        // the limit is this client configured alike, not librdkafka's one-second pauses.
        .set("queued.min.messages", "1000000")
        .set("fetch.queue.backoff.ms", "10")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), deadline)?;
    let mut assignment = TopicPartitionList::new();
    let mut open = 0;
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let (low, high) = consumer.fetch_watermarks(topic, partition.id(), deadline)?;
        if high > low {
            assignment.add_partition_offset(topic, partition.id(), Offset::Offset(low))?;
            open += 1;
        }
    }
    let started = Instant::now();
    consumer.assign(&assignment)?;
    let (mut records, mut bytes) = (0u64, 0u64);
    while open > 0 {
        match consumer.poll(deadline) {
            Some(Ok(message)) => {
                records += 1;
                bytes += message.payload().map_or(0, <[u8]>::len) as u64;
            }
            Some(Err(KafkaError::PartitionEOF(_))) => open -= 1,
            Some(Err(error)) => return Err(error),
            None => return Err(KafkaError::NoMessageReceived),
        }
    }
    Ok((records, bytes, started.elapsed().as_secs_f64()))
}
