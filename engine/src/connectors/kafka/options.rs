//! The `WITH` options of a Kafka table, with Flink's names: where the records are
//! (`topic` / `topic-pattern`, `properties.*`), where reading starts and ends
//! (`scan.startup.*`, `scan.bounded.*`), and how the sink writes (`sink.*`).

use super::super::{bad_option, ConnectorOptions};
use crate::error::EngineError;
use regex::Regex;
use std::collections::BTreeMap;

/// The client's own settings a table may not change: the source assigns its partitions and
/// commits its offsets itself, and the tests of its records rely on these.
const RESERVED_PROPERTIES: &[&str] = &[
    "enable.auto.commit",
    "enable.partition.eof",
    "key.deserializer",
    "value.deserializer",
    "key.serializer",
    "value.serializer",
];

/// Which topics a table reads.
#[derive(Debug, Clone)]
pub(crate) enum Topics {
    /// `'topic' = 'a'` or `'a;b'`.
    Named(Vec<String>),
    /// `'topic-pattern'`: every topic whose whole name the pattern matches (as Java's
    /// `Pattern.matches`), when a query starts and, for an unbounded query, as topics are
    /// made (`scan.topic-partition-discovery.interval`).
    Pattern(Regex),
}

/// Where a query starts reading each partition (`scan.startup.mode`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Startup {
    Earliest,
    Latest,
    /// The offsets committed by `properties.group.id`; partitions without one start where
    /// `properties.auto.offset.reset` says, or the query fails saying so.
    GroupOffsets,
    /// `group-offsets` (Flink's default) without a group: a table only written to is fine; a
    /// query reading it fails, saying why.
    NeedsGroup(String),
    /// The first record at or after this time (milliseconds since the epoch).
    Timestamp(i64),
    /// Offsets by partition; partitions not named start at their earliest offset.
    Specific(BTreeMap<i32, i64>),
}

/// Where a query stops reading (`scan.bounded.mode`): without one it runs until cancelled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bounded {
    Unbounded,
    /// The end of each partition as the query starts.
    Latest,
    /// The first record at or after this time; partitions with none end at their end as the
    /// query starts.
    Timestamp(i64),
    /// Offsets by partition (exclusive); partitions not named end at their end as the query
    /// starts.
    Specific(BTreeMap<i32, i64>),
}

/// `sink.partitioner`: which partition a written record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Partitioner {
    /// By the hash of the key when the table has `key.fields`, else spread by the client.
    Default,
    /// Each writer into one partition (Flink: each of its parallel tasks; Eddy's sink is one
    /// task, so partition 0).
    Fixed,
    /// In turn over the partitions, key or not.
    RoundRobin,
}

/// What a Kafka table's options say, apart from the formats of its keys and values.
#[derive(Debug, Clone)]
pub(crate) struct KafkaOptions {
    pub(crate) topics: Topics,
    /// `properties.bootstrap.servers`.
    pub(crate) servers: String,
    /// `properties.group.id`, if given.
    pub(crate) group: Option<String>,
    /// Every `properties.*` option, without the prefix, for the client.
    pub(crate) client: BTreeMap<String, String>,
    pub(crate) startup: Startup,
    pub(crate) bounded: Bounded,
    pub(crate) partitioner: Partitioner,
    /// `sink.delivery-guarantee`: whether each flush waits until the broker has every
    /// record (`at-least-once`, the default) or not (`none`).
    pub(crate) wait_for_delivery: bool,
    /// `scan.topic-partition-discovery.interval`: how often an unbounded query looks for
    /// new partitions (and, with `topic-pattern`, new topics); `None` (`'0'`): never.
    pub(crate) discovery: Option<std::time::Duration>,
}

impl KafkaOptions {
    /// Whether a query may read the table: not with `group-offsets` and no group.
    pub(crate) fn readable(&self, table: &str) -> Result<(), EngineError> {
        match &self.startup {
            Startup::NeedsGroup(why) => Err(EngineError::Plan {
                message: format!("table {table} cannot be read as declared"),
                position: None,
                hint: Some(why.clone()),
            }),
            _ => Ok(()),
        }
    }

    /// Reads the connector's own options from `options` (leaving formats to the caller); an
    /// `upsert` table (`upsert-kafka`) is always read from its start, as in Flink.
    pub(crate) fn read(options: &mut ConnectorOptions, upsert: bool) -> Result<Self, EngineError> {
        let topics = match (options.get("topic"), options.get("topic-pattern")) {
            (Some(_), Some(_)) => {
                return Err(bad_option(
                    "topic-pattern",
                    "give 'topic' or 'topic-pattern', not both",
                ))
            }
            (Some(list), None) => {
                let names: Vec<String> = list
                    .split(';')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_string)
                    .collect();
                if names.is_empty() {
                    return Err(bad_option("topic", "name a topic, or several as 'a;b'"));
                }
                Topics::Named(names)
            }
            (None, Some(pattern)) => {
                let whole = format!("^(?:{pattern})$");
                Topics::Pattern(Regex::new(&whole).map_err(|e| {
                    bad_option(
                        "topic-pattern",
                        &format!("'{pattern}' is not a regular expression: {e}"),
                    )
                })?)
            }
            (None, None) => {
                return Err(bad_option(
                    "topic",
                    "'topic' is required: the topic to read or write (or 'topic-pattern' for \
                     the topics a regular expression matches)",
                ))
            }
        };
        let keys: Vec<String> = options
            .all()
            .keys()
            .filter(|key| key.starts_with("properties."))
            .cloned()
            .collect();
        let mut client = BTreeMap::new();
        for key in keys {
            let value = options.get(&key).unwrap_or_default();
            let property = &key["properties.".len()..];
            if RESERVED_PROPERTIES.contains(&property) {
                return Err(bad_option(
                    &key,
                    "Eddy's Kafka source and sink set this client property themselves",
                ));
            }
            client.insert(property.to_string(), value);
        }
        let servers = client
            .get("bootstrap.servers")
            .cloned()
            .filter(|servers| !servers.trim().is_empty())
            .ok_or_else(|| {
                bad_option(
                    "properties.bootstrap.servers",
                    "'properties.bootstrap.servers' is required: the brokers to connect to, \
                     e.g. 'localhost:9092'",
                )
            })?;
        let group = client.get("group.id").cloned();
        let startup = if upsert {
            let given = [
                "scan.startup.mode",
                "scan.startup.timestamp-millis",
                "scan.startup.specific-offsets",
            ]
            .into_iter()
            .find(|key| options.has(key));
            if let Some(key) = given {
                return Err(bad_option(
                    key,
                    "an upsert-kafka table is read from the start of its topic, which holds \
                     the latest row of every key",
                ));
            }
            Startup::Earliest
        } else {
            startup(options, group.is_some(), client.get("auto.offset.reset"))?
        };
        let bounded = bounded(options)?;
        let discovery_key = "scan.topic-partition-discovery.interval";
        let discovery = match options.get(discovery_key) {
            // Flink's default.
            None => Some(std::time::Duration::from_secs(300)),
            Some(text) if text.trim() == "0" => None,
            Some(text) => {
                Some(super::super::parse_duration(discovery_key, &text)?).filter(|d| !d.is_zero())
            }
        };
        let partitioner = match options
            .get("sink.partitioner")
            .map(|p| p.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("default") => Partitioner::Default,
            Some("fixed") => Partitioner::Fixed,
            Some("round-robin") => Partitioner::RoundRobin,
            Some(_) => {
                return Err(bad_option(
                    "sink.partitioner",
                    "the partitioners are 'default', 'fixed' and 'round-robin'",
                ))
            }
        };
        let wait_for_delivery = match options
            .get("sink.delivery-guarantee")
            .map(|g| g.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("at-least-once") => true,
            Some("none") => false,
            Some("exactly-once") => {
                return Err(EngineError::NotSupported {
                    message: "'sink.delivery-guarantee' = 'exactly-once' needs checkpoints, \
                              which Eddy does not take yet: use 'at-least-once' (the default) \
                              or 'none'"
                        .into(),
                })
            }
            Some(_) => {
                return Err(bad_option(
                    "sink.delivery-guarantee",
                    "the guarantees are 'at-least-once' (the default) and 'none'",
                ))
            }
        };
        Ok(KafkaOptions {
            topics,
            servers,
            group,
            client,
            startup,
            bounded,
            partitioner,
            wait_for_delivery,
            discovery,
        })
    }
}

fn startup(
    options: &mut ConnectorOptions,
    has_group: bool,
    reset: Option<&String>,
) -> Result<Startup, EngineError> {
    let mode = options.get("scan.startup.mode");
    let millis = options.get("scan.startup.timestamp-millis");
    let offsets = options.get("scan.startup.specific-offsets");
    let startup = match mode
        .as_deref()
        .map(|m| m.trim().to_ascii_lowercase())
        .as_deref()
    {
        Some("earliest-offset") => Startup::Earliest,
        Some("latest-offset") => Startup::Latest,
        None | Some("group-offsets") => {
            if !has_group {
                let why = if mode.is_none() {
                    "'scan.startup.mode' is 'group-offsets' by default (as in Flink), which \
                     reads from the offsets committed by 'properties.group.id': give a group, \
                     or set 'scan.startup.mode' to 'earliest-offset' or 'latest-offset'"
                } else {
                    "'group-offsets' reads from the offsets committed by \
                     'properties.group.id': give a group"
                };
                Startup::NeedsGroup(why.to_string())
            } else {
                if let Some(reset) = reset {
                    if !matches!(reset.trim(), "earliest" | "latest" | "none") {
                        return Err(bad_option(
                            "properties.auto.offset.reset",
                            "where a partition without a committed offset starts: \
                             'earliest', 'latest' or 'none'",
                        ));
                    }
                }
                Startup::GroupOffsets
            }
        }
        Some("timestamp") => Startup::Timestamp(timestamp(
            "scan.startup.timestamp-millis",
            millis.as_deref(),
            "scan.startup.mode",
        )?),
        Some("specific-offsets") => Startup::Specific(specific_offsets(
            "scan.startup.specific-offsets",
            offsets.as_deref(),
            "scan.startup.mode",
        )?),
        Some(_) => {
            return Err(bad_option(
                "scan.startup.mode",
                "the modes are 'earliest-offset', 'latest-offset', 'group-offsets', \
                 'timestamp' and 'specific-offsets'",
            ))
        }
    };
    unused_with(
        matches!(startup, Startup::Timestamp(_)),
        millis.is_some(),
        "scan.startup.timestamp-millis",
        "scan.startup.mode' = 'timestamp",
    )?;
    unused_with(
        matches!(startup, Startup::Specific(_)),
        offsets.is_some(),
        "scan.startup.specific-offsets",
        "scan.startup.mode' = 'specific-offsets",
    )?;
    Ok(startup)
}

fn bounded(options: &mut ConnectorOptions) -> Result<Bounded, EngineError> {
    let mode = options.get("scan.bounded.mode");
    let millis = options.get("scan.bounded.timestamp-millis");
    let offsets = options.get("scan.bounded.specific-offsets");
    let bounded = match mode
        .as_deref()
        .map(|m| m.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("unbounded") => Bounded::Unbounded,
        Some("latest-offset") => Bounded::Latest,
        Some("timestamp") => Bounded::Timestamp(timestamp(
            "scan.bounded.timestamp-millis",
            millis.as_deref(),
            "scan.bounded.mode",
        )?),
        Some("specific-offsets") => Bounded::Specific(specific_offsets(
            "scan.bounded.specific-offsets",
            offsets.as_deref(),
            "scan.bounded.mode",
        )?),
        Some(_) => {
            return Err(bad_option(
                "scan.bounded.mode",
                "the modes are 'unbounded' (the default), 'latest-offset', 'timestamp' and \
                 'specific-offsets'",
            ))
        }
    };
    unused_with(
        matches!(bounded, Bounded::Timestamp(_)),
        millis.is_some(),
        "scan.bounded.timestamp-millis",
        "scan.bounded.mode' = 'timestamp",
    )?;
    unused_with(
        matches!(bounded, Bounded::Specific(_)),
        offsets.is_some(),
        "scan.bounded.specific-offsets",
        "scan.bounded.mode' = 'specific-offsets",
    )?;
    Ok(bounded)
}

/// An option that only one mode reads, given with another: a mistake worth naming.
fn unused_with(applies: bool, given: bool, key: &str, needs: &str) -> Result<(), EngineError> {
    if given && !applies {
        return Err(bad_option(key, &format!("it applies only with '{needs}'")));
    }
    Ok(())
}

fn timestamp(key: &str, value: Option<&str>, mode: &str) -> Result<i64, EngineError> {
    let value = value.ok_or_else(|| {
        bad_option(
            key,
            &format!("'{mode}' = 'timestamp' needs '{key}': milliseconds since 1970-01-01 UTC"),
        )
    })?;
    match value.trim().parse::<i64>() {
        Ok(millis) if millis >= 0 => Ok(millis),
        _ => Err(bad_option(
            key,
            &format!("'{value}' is not milliseconds since 1970-01-01 UTC, e.g. '1700000000000'"),
        )),
    }
}

/// `partition:0,offset:42;partition:1,offset:300`, as Flink writes them.
fn specific_offsets(
    key: &str,
    value: Option<&str>,
    mode: &str,
) -> Result<BTreeMap<i32, i64>, EngineError> {
    let example = "e.g. 'partition:0,offset:42;partition:1,offset:300'";
    let value = value.ok_or_else(|| {
        bad_option(
            key,
            &format!("'{mode}' = 'specific-offsets' needs '{key}', {example}"),
        )
    })?;
    let mut offsets = BTreeMap::new();
    for entry in value.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || {
            bad_option(
                key,
                &format!("'{entry}' is not a partition and offset, {example}"),
            )
        };
        let mut partition = None;
        let mut offset = None;
        for part in entry.split(',') {
            let (name, number) = part.split_once(':').ok_or_else(bad)?;
            match name.trim() {
                "partition" => partition = Some(number.trim().parse::<i32>().map_err(|_| bad())?),
                "offset" => offset = Some(number.trim().parse::<i64>().map_err(|_| bad())?),
                _ => return Err(bad()),
            }
        }
        match (partition, offset) {
            (Some(p), Some(o)) if p >= 0 && o >= 0 => {
                if offsets.insert(p, o).is_some() {
                    return Err(bad_option(key, &format!("partition {p} is named twice")));
                }
            }
            _ => return Err(bad()),
        }
    }
    if offsets.is_empty() {
        return Err(bad_option(
            key,
            &format!("name at least one partition, {example}"),
        ));
    }
    Ok(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::lines::test_options;

    fn read(pairs: &[(&str, &str)]) -> Result<KafkaOptions, EngineError> {
        let mut all = vec![
            ("connector", "kafka"),
            ("properties.bootstrap.servers", "127.0.0.1:9092"),
        ];
        all.extend_from_slice(pairs);
        KafkaOptions::read(&mut test_options(&all), false)
    }

    fn hint(result: Result<KafkaOptions, EngineError>) -> String {
        let error = result.expect_err("an error");
        format!("{error} {}", error.hint().unwrap_or_default())
    }

    #[test]
    fn topics_are_named_one_or_several_or_by_pattern() {
        let one = read(&[
            ("topic", "clicks"),
            ("scan.startup.mode", "earliest-offset"),
        ]);
        assert!(matches!(one.unwrap().topics, Topics::Named(t) if t == ["clicks"]));
        let two = read(&[("topic", "a; b"), ("scan.startup.mode", "earliest-offset")]);
        assert!(matches!(two.unwrap().topics, Topics::Named(t) if t == ["a", "b"]));
        let pattern = read(&[
            ("topic-pattern", "clicks-.*"),
            ("scan.startup.mode", "earliest-offset"),
        ])
        .unwrap();
        let Topics::Pattern(regex) = pattern.topics else {
            panic!("a pattern")
        };
        assert!(regex.is_match("clicks-eu") && !regex.is_match("old-clicks-eu"));
        assert!(hint(read(&[("scan.startup.mode", "earliest-offset")])).contains("'topic'"));
    }

    #[test]
    fn startup_defaults_to_group_offsets_as_in_flink() {
        // Without a group a table may still be written to; reading it says why it cannot.
        let Startup::NeedsGroup(message) = read(&[("topic", "t")]).unwrap().startup else {
            panic!("group-offsets without a group");
        };
        assert!(message.contains("'group-offsets' by default"), "{message}");
        let grouped = read(&[("topic", "t"), ("properties.group.id", "g")]).unwrap();
        assert_eq!(grouped.startup, Startup::GroupOffsets);
        assert_eq!(grouped.group.as_deref(), Some("g"));
        assert_eq!(grouped.bounded, Bounded::Unbounded);
    }

    #[test]
    fn startup_and_bounded_modes_read_their_own_options() {
        let options = read(&[
            ("topic", "t"),
            ("scan.startup.mode", "specific-offsets"),
            (
                "scan.startup.specific-offsets",
                "partition:0,offset:42;partition:1,offset:300",
            ),
            ("scan.bounded.mode", "timestamp"),
            ("scan.bounded.timestamp-millis", "1700000000000"),
        ])
        .unwrap();
        assert_eq!(
            options.startup,
            Startup::Specific(BTreeMap::from([(0, 42), (1, 300)]))
        );
        assert_eq!(options.bounded, Bounded::Timestamp(1_700_000_000_000));
        let stray = hint(read(&[
            ("topic", "t"),
            ("scan.startup.mode", "earliest-offset"),
            ("scan.startup.timestamp-millis", "5"),
        ]));
        assert!(stray.contains("applies only with"), "{stray}");
        let bad = hint(read(&[
            ("topic", "t"),
            ("scan.startup.mode", "specific-offsets"),
            ("scan.startup.specific-offsets", "partition:0;offset:1"),
        ]));
        assert!(bad.contains("not a partition and offset"), "{bad}");
        let missing = hint(read(&[("topic", "t"), ("scan.startup.mode", "timestamp")]));
        assert!(
            missing.contains("scan.startup.timestamp-millis"),
            "{missing}"
        );
    }

    #[test]
    fn client_properties_pass_through_but_not_the_ones_eddy_sets() {
        let options = read(&[
            ("topic", "t"),
            ("scan.startup.mode", "latest-offset"),
            ("properties.client.id", "notebook"),
        ])
        .unwrap();
        assert_eq!(options.client["client.id"], "notebook");
        assert_eq!(options.servers, "127.0.0.1:9092");
        let reserved = hint(read(&[
            ("topic", "t"),
            ("scan.startup.mode", "latest-offset"),
            ("properties.enable.auto.commit", "true"),
        ]));
        assert!(reserved.contains("set this client property"), "{reserved}");
        let exactly = hint(read(&[
            ("topic", "t"),
            ("scan.startup.mode", "latest-offset"),
            ("sink.delivery-guarantee", "exactly-once"),
        ]));
        assert!(exactly.contains("checkpoints"), "{exactly}");
    }
}
