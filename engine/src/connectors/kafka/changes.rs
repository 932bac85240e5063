//! Records that stand for changes to a table rather than for rows: what each record takes
//! away and what it puts in, as records of the rows' own json (decoded by the table's format
//! after this).
//!
//! - `debezium-json`: an event `{"before": …, "after": …, "op": "c" | "r" | "u" | "d"}` (in a
//!   `payload` with `'debezium-json.schema-include' = 'true'`). An update or delete needs its
//!   `before` row (in Postgres, `REPLICA IDENTITY FULL`), as in Flink.
//! - `canal-json`: an event `{"data": [rows], "old": [changed columns], "type": "INSERT" |
//!   "UPDATE" | "DELETE", "database": …, "table": …}`; an update's old row is its new row with
//!   the columns of `old` put back. DDL events are skipped; `canal-json.database.include` and
//!   `canal-json.table.include` (regular expressions) keep the events of some tables only.
//! - An upsert topic (`upsert-kafka`): each record is the latest row of its key, a tombstone
//!   its delete. The latest record of each key is kept, so that a new one takes back the row
//!   it replaces — what Flink's ChangelogNormalize does after its upsert source.

use super::super::{bad_option, ConnectorOptions};
use super::json_members::{self, member};
use super::record::Record;
use crate::error::EngineError;
use regex::Regex;
use std::collections::HashMap;

/// A format of change events, read from a table's options.
#[derive(Debug, Clone)]
pub(crate) enum ChangeFormat {
    Debezium {
        schema_include: bool,
    },
    Canal {
        database: Option<Regex>,
        table: Option<Regex>,
    },
}

/// What a batch of records changes: the records of the rows that came and of those that
/// went (each a record of the row's json).
#[derive(Default)]
pub(crate) struct Changes {
    pub(crate) came: Vec<Record>,
    pub(crate) went: Vec<Record>,
}

impl ChangeFormat {
    /// The change format `format` names, if it is one, with its `{prefix}{format}.*` options.
    /// The rows inside the events are json: `{prefix}format` becomes `json`, with the
    /// event format's `ignore-parse-errors`. `None` for a format of rows.
    pub(crate) fn from_options(
        options: &mut ConnectorOptions,
        prefix: &str,
    ) -> Result<Option<Self>, EngineError> {
        let format_key = format!("{prefix}format");
        let Some(named) = options.get(&format_key) else {
            return Ok(None);
        };
        let named = named.trim().to_ascii_lowercase();
        if !matches!(named.as_str(), "debezium-json" | "canal-json") {
            return Ok(None);
        }
        let own = format!("{prefix}{named}.");
        let ignore = options.flag(&format!("{own}ignore-parse-errors"), false)?;
        let standard_key = format!("{own}timestamp-format.standard");
        if let Some(standard) = options.get(&standard_key) {
            // Both are read: Arrow's json decoder takes a space or a 'T'.
            if !matches!(
                standard.trim().to_ascii_uppercase().as_str(),
                "SQL" | "ISO-8601"
            ) {
                return Err(bad_option(&standard_key, "'SQL' or 'ISO-8601'"));
            }
        }
        let format = match named.as_str() {
            "debezium-json" => ChangeFormat::Debezium {
                schema_include: options.flag(&format!("{own}schema-include"), false)?,
            },
            _ => ChangeFormat::Canal {
                database: pattern(options, &format!("{own}database.include"))?,
                table: pattern(options, &format!("{own}table.include"))?,
            },
        };
        let written = [
            "map-null-key.mode",
            "map-null-key.literal",
            "encode.decimal-as-plain-number",
        ];
        if let Some(key) = written
            .iter()
            .map(|k| format!("{own}{k}"))
            .find(|k| options.has(k))
        {
            return Err(EngineError::NotSupported {
                message: format!(
                    "'{key}' is for writing {named}, which Eddy does not do yet (it reads it)"
                ),
            });
        }
        options.imply(&format_key, "json".into());
        if ignore {
            options.imply(&format!("{prefix}json.ignore-parse-errors"), "true".into());
        }
        Ok(Some(format))
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            ChangeFormat::Debezium { .. } => "debezium-json",
            ChangeFormat::Canal { .. } => "canal-json",
        }
    }

    /// Adds what `record` changes to `changes`; an error says why its event is not one.
    /// A record without a value (the tombstone Debezium writes after a delete) changes
    /// nothing.
    pub(crate) fn read(&self, record: &Record, changes: &mut Changes) -> Result<(), String> {
        if record.value.is_empty() {
            return Ok(());
        }
        match self {
            ChangeFormat::Debezium { schema_include } => debezium(record, *schema_include, changes),
            ChangeFormat::Canal { database, table } => {
                canal(record, database.as_ref(), table.as_ref(), changes)
            }
        }
    }
}

fn pattern(options: &mut ConnectorOptions, key: &str) -> Result<Option<Regex>, EngineError> {
    match options.get(key) {
        None => Ok(None),
        Some(text) => Regex::new(&format!("^(?:{text})$"))
            .map(Some)
            .map_err(|e| bad_option(key, &format!("a regular expression: {e}"))),
    }
}

/// `record` holding `row` instead of its value.
fn holding(record: &Record, row: Vec<u8>) -> Record {
    Record {
        value: row,
        ..record.clone()
    }
}

fn debezium(record: &Record, schema_include: bool, changes: &mut Changes) -> Result<(), String> {
    let top = json_members::members(&record.value)?;
    let payload_members;
    let event = match schema_include {
        true => {
            let payload = member(&top, "payload").ok_or(
                "the event has no 'payload' ('debezium-json.schema-include' = 'true' expects \
                 the schema and the payload)",
            )?;
            payload_members = json_members::members(payload)?;
            &payload_members
        }
        false => &top,
    };
    let op = match member(event, "op").and_then(json_members::string) {
        Some(op) => op,
        None if member(event, "payload").is_some() => {
            return Err(
                "the event has no 'op' but a 'payload': the events carry their schema; \
                        set 'debezium-json.schema-include' = 'true'"
                    .into(),
            )
        }
        None => return Err("the event has no 'op'".into()),
    };
    let before = member(event, "before");
    let after = member(event, "after");
    match op.as_str() {
        "c" | "r" => changes
            .came
            .push(holding(record, needs(after, "after", &op)?.to_vec())),
        "u" => {
            changes
                .went
                .push(holding(record, needs(before, "before", &op)?.to_vec()));
            changes
                .came
                .push(holding(record, needs(after, "after", &op)?.to_vec()));
        }
        "d" => changes
            .went
            .push(holding(record, needs(before, "before", &op)?.to_vec())),
        other => {
            return Err(format!(
                "unknown 'op' \"{other}\" (Debezium writes c, r, u and d)"
            ))
        }
    }
    Ok(())
}

/// The row `name` of an `op` event, which it needs.
fn needs<'a>(row: Option<&'a [u8]>, name: &str, op: &str) -> Result<&'a [u8], String> {
    row.ok_or_else(|| {
        let hint = match name {
            "before" => {
                " (Postgres writes it with REPLICA IDENTITY FULL on the table, as Flink needs \
                 too)"
            }
            _ => "",
        };
        format!("the '{op}' event has no '{name}' row{hint}")
    })
}

fn canal(
    record: &Record,
    database: Option<&Regex>,
    table: Option<&Regex>,
    changes: &mut Changes,
) -> Result<(), String> {
    let event = json_members::members(&record.value)?;
    let is_ddl = member(&event, "isDdl").is_some_and(|v| v == b"true");
    let kind = member(&event, "type")
        .and_then(json_members::string)
        .ok_or("the event has no 'type'")?;
    if is_ddl
        || matches!(
            kind.as_str(),
            "CREATE" | "ALTER" | "ERASE" | "QUERY" | "TRUNCATE"
        )
    {
        return Ok(());
    }
    for (filter, name) in [(database, "database"), (table, "table")] {
        if let Some(filter) = filter {
            let value = member(&event, name).and_then(json_members::string);
            if !value.is_some_and(|v| filter.is_match(&v)) {
                return Ok(());
            }
        }
    }
    let data = member(&event, "data").ok_or(format!("the '{kind}' event has no 'data'"))?;
    let rows = json_members::elements(data)?;
    match kind.as_str() {
        "INSERT" => {
            for row in rows {
                changes.came.push(holding(record, row.to_vec()));
            }
        }
        "DELETE" => {
            for row in rows {
                changes.went.push(holding(record, row.to_vec()));
            }
        }
        "UPDATE" => {
            let old = member(&event, "old").ok_or("the 'UPDATE' event has no 'old'")?;
            let old = json_members::elements(old)?;
            if old.len() != rows.len() {
                return Err(format!(
                    "the 'UPDATE' event has {} rows in 'data' but {} in 'old'",
                    rows.len(),
                    old.len()
                ));
            }
            for (row, old) in rows.into_iter().zip(old) {
                let changed = json_members::members(old)?;
                let mut before = json_members::members(row)?;
                for (key, value) in &mut before {
                    if let Some((_, was)) = changed.iter().find(|(k, _)| k == key) {
                        *value = was;
                    }
                }
                changes
                    .went
                    .push(holding(record, json_members::object(&before)));
                changes.came.push(holding(record, row.to_vec()));
            }
        }
        other => {
            return Err(format!(
                "unknown 'type' \"{other}\" (canal writes INSERT, UPDATE and DELETE)"
            ))
        }
    }
    Ok(())
}

/// The latest record of each key of an upsert topic, read by one query.
#[derive(Default)]
pub(crate) struct LatestByKey {
    latest: HashMap<Vec<u8>, Record>,
    /// Bytes of the keys and records kept, roughly.
    bytes: usize,
}

impl LatestByKey {
    /// Adds what `record` changes to `changes`: its row comes (taking back the one its key
    /// had), or, a tombstone, its key's row goes.
    pub(crate) fn read(&mut self, record: Record, changes: &mut Changes) {
        let key = record.key.clone().unwrap_or_default();
        let before = match record.value.is_empty() {
            true => self.latest.remove(&key),
            false => {
                changes.came.push(record.clone());
                self.bytes += kept_bytes(&key, &record);
                self.latest.insert(key.clone(), record)
            }
        };
        if let Some(before) = &before {
            self.bytes = self.bytes.saturating_sub(kept_bytes(&key, before));
        }
        changes.went.extend(before);
    }

    /// Bytes of the keys and records kept, roughly (what the memory limit counts).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Bytes a kept record of `key` holds, roughly: its key twice (the map's and the record's),
/// its value and headers, and what a map entry and a record cost besides.
fn kept_bytes(key: &[u8], record: &Record) -> usize {
    let headers: usize = record
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.as_ref().map_or(0, Vec::len) + 48)
        .sum();
    2 * key.len() + record.value.len() + headers + 160
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::kafka::record::RecordAt;

    fn record(key: &str, value: &str) -> Record {
        Record {
            at: RecordAt {
                topic: 0,
                partition: 0,
                offset: 0,
            },
            key: Some(key.as_bytes().to_vec()),
            value: value.as_bytes().to_vec(),
            timestamp: None,
            timestamp_type: "CreateTime",
            headers: Vec::new(),
        }
    }

    fn texts(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| String::from_utf8_lossy(&r.value).into_owned())
            .collect()
    }

    fn read(format: &ChangeFormat, value: &str) -> Result<(Vec<String>, Vec<String>), String> {
        let mut changes = Changes::default();
        format.read(&record("", value), &mut changes)?;
        Ok((texts(&changes.came), texts(&changes.went)))
    }

    #[test]
    fn debezium_events_become_rows_that_come_and_go() {
        let format = ChangeFormat::Debezium {
            schema_include: false,
        };
        let insert = r#"{"before":null,"after":{"id":1,"v":"a"},"op":"c"}"#;
        assert_eq!(
            read(&format, insert).unwrap(),
            (vec![r#"{"id":1,"v":"a"}"#.into()], vec![])
        );
        let update = r#"{"before":{"id":1,"v":"a"},"after":{"id":1,"v":"b"},"op":"u"}"#;
        assert_eq!(
            read(&format, update).unwrap(),
            (
                vec![r#"{"id":1,"v":"b"}"#.into()],
                vec![r#"{"id":1,"v":"a"}"#.into()]
            )
        );
        let delete = r#"{"before":{"id":1,"v":"b"},"after":null,"op":"d"}"#;
        assert_eq!(
            read(&format, delete).unwrap(),
            (vec![], vec![r#"{"id":1,"v":"b"}"#.into()])
        );
        assert_eq!(read(&format, "").unwrap(), (vec![], vec![]));
        let without_before = r#"{"before":null,"after":{"id":1},"op":"u"}"#;
        assert!(read(&format, without_before)
            .unwrap_err()
            .contains("REPLICA IDENTITY"));
        let wrapped = r#"{"schema":{},"payload":{"after":{"id":2},"op":"r"}}"#;
        assert!(read(&format, wrapped)
            .unwrap_err()
            .contains("schema-include"));
        let format = ChangeFormat::Debezium {
            schema_include: true,
        };
        assert_eq!(
            read(&format, wrapped).unwrap(),
            (vec![r#"{"id":2}"#.into()], vec![])
        );
    }

    #[test]
    fn a_canal_update_puts_the_old_columns_back_for_the_row_that_went() {
        let format = ChangeFormat::Canal {
            database: None,
            table: Some(Regex::new("^(?:prod.*)$").unwrap()),
        };
        let update = r#"{"data":[{"id":"1","name":"x","w":"2.5"}],"old":[{"w":"1.5"}],
            "type":"UPDATE","database":"db","table":"products","isDdl":false}"#;
        assert_eq!(
            read(&format, update).unwrap(),
            (
                vec![r#"{"id":"1","name":"x","w":"2.5"}"#.into()],
                vec![r#"{"id":"1","name":"x","w":"1.5"}"#.into()]
            )
        );
        let elsewhere = update.replace("products", "orders");
        assert_eq!(read(&format, &elsewhere).unwrap(), (vec![], vec![]));
        let ddl = r#"{"data":null,"type":"CREATE","isDdl":true,"table":"products"}"#;
        assert_eq!(read(&format, ddl).unwrap(), (vec![], vec![]));
        let unknown = r#"{"data":[],"type":"MERGE","table":"products"}"#;
        assert!(read(&format, unknown).unwrap_err().contains("MERGE"));
    }

    #[test]
    fn an_upsert_takes_back_the_row_its_key_had() {
        let mut latest = LatestByKey::default();
        let mut changes = Changes::default();
        latest.read(record("k", "1"), &mut changes);
        latest.read(record("j", "7"), &mut changes);
        latest.read(record("k", "2"), &mut changes);
        latest.read(record("k", ""), &mut changes);
        latest.read(record("gone", ""), &mut changes);
        assert_eq!(texts(&changes.came), ["1", "7", "2"]);
        assert_eq!(texts(&changes.went), ["1", "2"]);
    }
}
