//! A real Apache Kafka broker for the tests: one KRaft node (broker and controller) on
//! 127.0.0.1, started from the jars `dev/kafka/libs` copies from Maven Central, shared by the
//! tests of one test binary, and stopped when that binary exits. Each test makes its own
//! topics, and writes and reads them with librdkafka (the client Eddy itself uses).

#![allow(dead_code)]

use crate::support::{free_port, repo_root};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::io::Write;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long the broker may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(60);

/// A record as a test reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub value: Option<String>,
}

pub struct Broker {
    pub bootstrap: String,
    dir: tempfile::TempDir,
    /// The shell line that runs the broker until a line comes on its standard input.
    script: String,
    /// That shell: it stops the broker when the pipe closes, which it does when the test
    /// binary exits, however it exits. `None` while stopped.
    lifeline: Mutex<Option<(Child, ChildStdin)>>,
    topics_made: Mutex<u32>,
}

/// The broker of this test binary, started on first use.
pub fn broker() -> &'static Broker {
    static BROKER: OnceLock<Broker> = OnceLock::new();
    BROKER.get_or_init(Broker::own)
}

impl Broker {
    /// A broker of the caller's own (one it may stop), stopped when dropped.
    pub fn own() -> Broker {
        let dir = tempfile::tempdir().expect("a directory for the broker");
        let (port, controller) = (free_port(), free_port());
        let log = dir.path().join("broker.log");
        // dev/kafka/broker: the one place that says how the broker runs (it fetches the jars
        // with dev/kafka/libs the first time, and formats its storage).
        let script = format!(
            "'{}' --port {port} --controller-port {controller} --dir '{}' >>'{}' 2>&1 & \
             pid=$!; read _; kill $pid; wait $pid",
            repo_root().join("dev/kafka/broker").display(),
            dir.path().join("kafka").display(),
            log.display()
        );
        let broker = Broker {
            bootstrap: format!("127.0.0.1:{port}"),
            dir,
            script,
            lifeline: Mutex::new(None),
            topics_made: Mutex::new(0),
        };
        broker.start();
        broker
    }

    /// Starts the broker and waits until it listens.
    pub fn start(&self) {
        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(&self.script)
            .stdin(Stdio::piped())
            .spawn()
            .expect("sh starts the broker");
        let stdin = shell.stdin.take().expect("the lifeline pipe");
        let started = Instant::now();
        loop {
            if std::net::TcpStream::connect(&self.bootstrap).is_ok() {
                break;
            }
            if started.elapsed() > START_LIMIT || shell.try_wait().ok().flatten().is_some() {
                panic!("the Kafka broker did not start: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        *self.lifeline.lock().expect("lifeline") = Some((shell, stdin));
    }

    /// Stops the broker (its data stays, for [`Broker::start`] again) and waits until it has.
    pub fn stop(&self) {
        let running = self.lifeline.lock().expect("lifeline").take();
        if let Some((mut shell, mut stdin)) = running {
            let _ = stdin.write_all(b"stop\n");
            let _ = stdin.flush();
            let _ = shell.wait();
        }
    }

    /// A topic of its own for a test: `{stem}-{n}`, made with `partitions` partitions.
    pub fn topic(&self, stem: &str, partitions: i32) -> String {
        let name = {
            let mut made = self.topics_made.lock().expect("topic counter");
            *made += 1;
            format!("{stem}-{made}")
        };
        // Its own thread and runtime: the tests call this from inside theirs.
        let bootstrap = self.bootstrap.clone();
        let topic = name.clone();
        let results = std::thread::spawn(move || {
            let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .create()
                .expect("an admin client");
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime
                .block_on(admin.create_topics(
                    &[NewTopic::new(
                        &topic,
                        partitions,
                        TopicReplication::Fixed(1),
                    )],
                    &AdminOptions::new().operation_timeout(Some(Duration::from_secs(20))),
                ))
                .expect("the broker answers")
        })
        .join()
        .expect("topics are made");
        for result in results {
            result.expect("the topic is made");
        }
        name
    }

    /// Writes `records` (key, value) into `partition` of `topic`, and waits until the broker
    /// has them.
    pub fn produce(&self, topic: &str, partition: i32, records: &[(Option<&str>, &str)]) {
        let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .expect("a producer");
        for (key, value) in records {
            let mut record = BaseRecord::<str, str>::to(topic)
                .payload(value)
                .partition(partition);
            if let Some(key) = key {
                record = record.key(key);
            }
            producer.send(record).map_err(|(e, _)| e).expect("sent");
        }
        producer
            .flush(Duration::from_secs(20))
            .expect("the broker has the records");
    }

    /// Writes one record with headers into `partition` of `topic`.
    pub fn produce_with_headers(
        &self,
        topic: &str,
        partition: i32,
        value: &str,
        headers: &[(&str, &str)],
    ) {
        let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .expect("a producer");
        let mut owned = OwnedHeaders::new();
        for (key, value) in headers {
            owned = owned.insert(Header {
                key,
                value: Some(*value),
            });
        }
        producer
            .send(
                BaseRecord::<str, str>::to(topic)
                    .payload(value)
                    .partition(partition)
                    .headers(owned),
            )
            .map_err(|(e, _)| e)
            .expect("sent");
        producer
            .flush(Duration::from_secs(20))
            .expect("the broker has the record");
    }

    /// Every record of `topic` now there, in partition and offset order.
    pub fn read_all(&self, topic: &str) -> Vec<ReadRecord> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", "eddy-tests-reader")
            .set("enable.auto.commit", "false")
            .create()
            .expect("a consumer");
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        let mut records = Vec::new();
        for partition in metadata.topics()[0].partitions() {
            let id = partition.id();
            let (low, high) = consumer
                .fetch_watermarks(topic, id, Duration::from_secs(10))
                .expect("offsets");
            if high <= low {
                continue;
            }
            let mut list = TopicPartitionList::new();
            list.add_partition_offset(topic, id, Offset::Offset(low))
                .expect("partition");
            consumer.assign(&list).expect("assigned");
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut last = low - 1;
            while last + 1 < high {
                assert!(Instant::now() < deadline, "reading {topic} took too long");
                let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                    continue;
                };
                let message = message.expect("a record");
                last = message.offset();
                records.push(ReadRecord {
                    partition: id,
                    offset: message.offset(),
                    key: message
                        .key()
                        .map(|k| String::from_utf8_lossy(k).into_owned()),
                    value: message
                        .payload()
                        .map(|v| String::from_utf8_lossy(v).into_owned()),
                });
            }
        }
        records
    }

    /// The broker's log so far, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("broker.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}
