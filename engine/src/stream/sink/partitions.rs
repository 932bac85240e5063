//! A partitioned filesystem table, as Flink writes one: rows go into a directory per value of
//! the `PARTITIONED BY` columns (`dt=2024-01-01/hm=10%3A15/`, values escaped as Flink's
//! `PartitionPathUtils` does), without those columns in the files; a partition is committed
//! (a `_SUCCESS` file written into it) when its trigger fires: its time plus a delay passed
//! by the watermark (`partition-time`), or by the clock since its first row
//! (`process-time`). The options keep Flink's names.

use crate::connectors::{bad_option, parse_duration};
use crate::error::EngineError;
use chrono::NaiveDateTime;
use std::collections::BTreeMap;
use std::time::Duration;

/// Flink's name for the partition of a NULL or empty value.
const DEFAULT_PARTITION: &str = "__DEFAULT_PARTITION__";

/// The options of a filesystem table that only its sink reads, and their defaults.
pub(crate) const SINK_OPTIONS: &[&str] = &[
    "partition.default-name",
    "partition.time-extractor.kind",
    "partition.time-extractor.timestamp-pattern",
    "partition.time-extractor.timestamp-formatter",
    "sink.partition-commit.trigger",
    "sink.partition-commit.delay",
    "sink.partition-commit.policy.kind",
    "sink.partition-commit.success-file.name",
    "sink.partition-commit.watermark-time-zone",
    "sink.rolling-policy.file-size",
    "sink.rolling-policy.rollover-interval",
    "sink.rolling-policy.check-interval",
];

/// When a partition is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// The clock has passed the partition's first row plus the delay.
    ProcessTime,
    /// The watermark has passed the time the partition's values name, plus the delay.
    PartitionTime,
}

/// How a partitioned table's files are laid out and committed.
#[derive(Debug, Clone)]
pub(crate) struct PartitionSpec {
    /// The `PARTITIONED BY` columns, in order.
    pub(crate) keys: Vec<String>,
    default_name: String,
    pub(crate) trigger: Trigger,
    pub(crate) delay: Duration,
    /// The file a commit writes (`_SUCCESS`), when the policy is `success-file`.
    pub(crate) success_file: Option<String>,
    /// `$dt $hm:00`: how a partition's values spell its time.
    timestamp_pattern: Option<String>,
    /// The Java pattern the spelled time is read with.
    timestamp_formatter: String,
}

impl PartitionSpec {
    /// The spec of a table partitioned by `keys`, from its `WITH` options; checks them as a
    /// CREATE TABLE must (called for every filesystem table: the options mean nothing
    /// without partitions, and say so).
    pub(crate) fn from_options(
        keys: &[String],
        options: &BTreeMap<String, String>,
    ) -> Result<Self, EngineError> {
        let get = |key: &str| options.get(key).map(String::as_str);
        if keys.is_empty() {
            if let Some(key) = SINK_OPTIONS.iter().find(|k| {
                (k.starts_with("partition") || k.contains("partition-commit"))
                    && options.contains_key(**k)
            }) {
                return Err(bad_option(
                    key,
                    "it applies to a table declared with PARTITIONED BY (…)",
                ));
            }
        }
        let trigger = match get("sink.partition-commit.trigger") {
            None | Some("process-time") => Trigger::ProcessTime,
            Some("partition-time") => Trigger::PartitionTime,
            Some(_) => {
                return Err(bad_option(
                    "sink.partition-commit.trigger",
                    "the triggers are 'process-time' and 'partition-time'",
                ))
            }
        };
        let delay = get("sink.partition-commit.delay")
            .map(|v| parse_duration("sink.partition-commit.delay", v))
            .transpose()?
            .unwrap_or_default();
        let success_file = match get("sink.partition-commit.policy.kind") {
            None => None,
            Some(kinds) => {
                let mut file = None;
                for kind in kinds.split(',').map(str::trim) {
                    match kind {
                        "success-file" => {
                            let name = get("sink.partition-commit.success-file.name")
                                .unwrap_or("_SUCCESS");
                            file = Some(name.to_string());
                        }
                        "metastore" | "custom" => {
                            return Err(bad_option(
                                "sink.partition-commit.policy.kind",
                                &format!(
                                    "the '{kind}' policy needs a Hive metastore or a Java class; \
                                     Eddy commits with 'success-file'"
                                ),
                            ))
                        }
                        _ => {
                            return Err(bad_option(
                                "sink.partition-commit.policy.kind",
                                "the policy Eddy applies is 'success-file'",
                            ))
                        }
                    }
                }
                file
            }
        };
        if matches!(get("partition.time-extractor.kind"), Some(kind) if kind != "default") {
            return Err(bad_option(
                "partition.time-extractor.kind",
                "a 'custom' extractor is a Java class; Eddy reads the time with the default \
                 extractor and 'partition.time-extractor.timestamp-pattern'",
            ));
        }
        let timestamp_pattern = get("partition.time-extractor.timestamp-pattern").map(String::from);
        if let Some(pattern) = &timestamp_pattern {
            for name in pattern_fields(pattern) {
                if !keys.contains(&name) {
                    return Err(bad_option(
                        "partition.time-extractor.timestamp-pattern",
                        &format!("${name} is not one of the partition columns"),
                    ));
                }
            }
        }
        let timestamp_formatter = get("partition.time-extractor.timestamp-formatter")
            .unwrap_or("yyyy-MM-dd HH:mm:ss")
            .to_string();
        for key in [
            "sink.rolling-policy.rollover-interval",
            "sink.rolling-policy.check-interval",
        ] {
            if let Some(value) = get(key) {
                parse_duration(key, value)?;
            }
        }
        Ok(PartitionSpec {
            keys: keys.to_vec(),
            default_name: get("partition.default-name")
                .unwrap_or(DEFAULT_PARTITION)
                .to_string(),
            trigger,
            delay,
            success_file,
            timestamp_pattern,
            timestamp_formatter,
        })
    }

    /// The partition's directory, relative to the table's: `dt=…/hm=…`.
    pub(crate) fn directory(&self, values: &[Option<String>]) -> String {
        self.keys
            .iter()
            .zip(values)
            .map(|(key, value)| {
                let value = match value.as_deref() {
                    None | Some("") => self.default_name.as_str(),
                    Some(value) => value,
                };
                format!("{}={}", escape(key), escape(value))
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The time a partition's values name, in milliseconds since the epoch: the pattern with
    /// each `$key` replaced by its value (by default the first column's value), read with the
    /// formatter. `None` when it does not read as a time.
    pub(crate) fn time_ms(&self, values: &[Option<String>]) -> Option<i64> {
        let spelled = match &self.timestamp_pattern {
            Some(pattern) => {
                let mut spelled = pattern.clone();
                // Longer names first, so `$dt` does not eat the start of `$dth`.
                let mut keyed: Vec<(&String, &Option<String>)> =
                    self.keys.iter().zip(values).collect();
                keyed.sort_by_key(|(key, _)| std::cmp::Reverse(key.len()));
                for (key, value) in keyed {
                    spelled = spelled.replace(&format!("${key}"), value.as_deref()?);
                }
                spelled
            }
            None => values.first()?.clone()?,
        };
        let format = java_to_chrono(&self.timestamp_formatter);
        NaiveDateTime::parse_from_str(&spelled, &format)
            .ok()
            .or_else(|| {
                // A date alone (`$dt` = '2024-01-01') is its midnight.
                chrono::NaiveDate::parse_from_str(&spelled, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            })
            .map(|t| t.and_utc().timestamp_millis())
    }
}

/// The `$name`s of a timestamp pattern.
fn pattern_fields(pattern: &str) -> Vec<String> {
    pattern
        .split('$')
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// The common Java date pattern letters in chrono's terms.
fn java_to_chrono(pattern: &str) -> String {
    pattern
        .replace("yyyy", "%Y")
        .replace("MM", "%m")
        .replace("dd", "%d")
        .replace("HH", "%H")
        .replace("mm", "%M")
        .replace("ss", "%S")
}

/// Flink's escaping of a path part (Hive's): `%XX` for the characters a path or a partition
/// spec cannot hold.
fn escape(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for c in part.chars() {
        let needs = c < ' '
            || matches!(
                c,
                '"' | '#'
                    | '%'
                    | '\''
                    | '*'
                    | '/'
                    | ':'
                    | '='
                    | '?'
                    | '\\'
                    | '\u{7f}'
                    | '{'
                    | '['
                    | ']'
                    | '^'
            );
        if needs {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(options: &[(&str, &str)]) -> Result<PartitionSpec, EngineError> {
        let options = options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PartitionSpec::from_options(&["dt".to_string(), "hm".to_string()], &options)
    }

    #[test]
    fn directories_are_named_and_escaped_as_flink_names_them() {
        let spec = spec(&[]).unwrap();
        let values = [Some("2024-01-01".to_string()), Some("10:15".to_string())];
        assert_eq!(spec.directory(&values), "dt=2024-01-01/hm=10%3A15");
        assert_eq!(
            spec.directory(&[None, Some(String::new())]),
            "dt=__DEFAULT_PARTITION__/hm=__DEFAULT_PARTITION__"
        );
    }

    #[test]
    fn a_partition_time_is_read_from_its_values() {
        let spec = spec(&[
            ("partition.time-extractor.timestamp-pattern", "$dt $hm:00"),
            ("sink.partition-commit.trigger", "partition-time"),
            ("sink.partition-commit.delay", "1 min"),
            ("sink.partition-commit.policy.kind", "success-file"),
        ])
        .unwrap();
        let values = [Some("2024-01-01".to_string()), Some("10:15".to_string())];
        let expected = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
            .and_then(|d| d.and_hms_opt(10, 15, 0))
            .map(|t| t.and_utc().timestamp_millis());
        assert_eq!(spec.time_ms(&values), expected);
        assert_eq!(spec.trigger, Trigger::PartitionTime);
        assert_eq!(spec.delay, Duration::from_secs(60));
        assert_eq!(spec.success_file.as_deref(), Some("_SUCCESS"));
    }

    #[test]
    fn mistaken_options_name_themselves() {
        for (options, expected) in [
            (
                vec![("sink.partition-commit.trigger", "soon")],
                "the triggers are",
            ),
            (
                vec![("sink.partition-commit.policy.kind", "metastore")],
                "Hive metastore",
            ),
            (
                vec![("partition.time-extractor.timestamp-pattern", "$day")],
                "$day is not one of the partition columns",
            ),
            (
                vec![("sink.partition-commit.delay", "later")],
                "is not a duration",
            ),
        ] {
            let error = format!("{:?}", spec(&options).unwrap_err());
            assert!(error.contains(expected), "{options:?}: {error}");
        }
        let unpartitioned = PartitionSpec::from_options(
            &[],
            &[(
                "sink.partition-commit.trigger".to_string(),
                "process-time".to_string(),
            )]
            .into_iter()
            .collect(),
        )
        .unwrap_err();
        let unpartitioned = format!("{unpartitioned:?}");
        assert!(unpartitioned.contains("PARTITIONED BY"), "{unpartitioned}");
    }
}
