//! Table sources declared Flink-style: `CREATE TABLE t (…) WITH ('connector' = '…', …)`.

mod blackhole;
pub(crate) mod computed_columns;
mod connector;
pub(crate) mod datagen;
mod declared_table;
pub(crate) mod file_monitor;
pub(crate) mod filesystem;
pub(crate) mod kafka;
mod lenient_csv;
pub(crate) mod lines;
mod nexmark;
mod print;
mod registry;
pub(crate) mod replay;
mod sink_table;
pub(crate) mod socket;

pub(crate) use connector::{CountedSource, Declaration, Declared};
pub(crate) use registry::connector;

use crate::error::EngineError;
use datafusion::sql::sqlparser::ast::{CreateTableOptions, Expr, SqlOption, Value};
use std::collections::BTreeMap;

/// The `WITH` options of a table, checked as they are read: an option nobody read is a
/// typo, and an error names it with the options that are known.
#[derive(Debug, Clone)]
pub(crate) struct ConnectorOptions {
    given: BTreeMap<String, String>,
    read: Vec<String>,
}

/// The `WITH ('key' = 'value', …)` of a CREATE TABLE, keys in lower case; empty without one.
pub(crate) fn given_options(
    options: &CreateTableOptions,
) -> Result<BTreeMap<String, String>, EngineError> {
    let CreateTableOptions::With(list) = options else {
        return Ok(BTreeMap::new());
    };
    let mut given = BTreeMap::new();
    for option in list {
        let SqlOption::KeyValue { key, value } = option else {
            return Err(bad_option(
                &option.to_string(),
                "write options as 'key' = 'value'",
            ));
        };
        let value = literal(value).ok_or_else(|| {
            bad_option(
                &key.value,
                "option values are quoted strings, numbers or booleans",
            )
        })?;
        given.insert(key.value.to_ascii_lowercase(), value);
    }
    Ok(given)
}

impl ConnectorOptions {
    /// The options of a `CREATE TABLE … WITH (…)`, if they name a connector.
    pub(crate) fn from_create(options: &CreateTableOptions) -> Result<Option<Self>, EngineError> {
        let given = given_options(options)?;
        if !given.contains_key("connector") {
            return Ok(None);
        }
        Ok(Some(ConnectorOptions::new(given)))
    }

    /// Options put together elsewhere (a LIKE clause's merge), none read yet.
    pub(crate) fn new(given: BTreeMap<String, String>) -> Self {
        ConnectorOptions {
            given,
            read: Vec::new(),
        }
    }

    /// Everything given, for showing a table's source.
    pub(crate) fn all(&self) -> &BTreeMap<String, String> {
        &self.given
    }

    /// Sets an option the declaration implies (an upsert table's key fields are its primary
    /// key), counted as read.
    pub(crate) fn imply(&mut self, key: &str, value: String) {
        self.given.insert(key.to_string(), value);
        self.read.push(key.to_string());
    }

    /// Whether an option was given, without counting it as read.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.given.contains_key(key)
    }

    pub(crate) fn get(&mut self, key: &str) -> Option<String> {
        self.read.push(key.to_string());
        self.given.get(key).cloned()
    }

    pub(crate) fn require(&mut self, key: &str, what: &str) -> Result<String, EngineError> {
        self.get(key)
            .ok_or_else(|| bad_option(key, &format!("'{key}' is required: {what}")))
    }

    pub(crate) fn flag(&mut self, key: &str, default: bool) -> Result<bool, EngineError> {
        match self
            .get(key)
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(bad_option(key, "the value is 'true' or 'false'")),
        }
    }

    /// Fails on any option that was given but never read.
    pub(crate) fn finish(&self, connector: &str) -> Result<(), EngineError> {
        match self.given.keys().find(|k| !self.read.contains(k)) {
            None => Ok(()),
            Some(unknown) => {
                let mut known: Vec<&str> = self.read.iter().map(String::as_str).collect();
                known.sort_unstable();
                known.dedup();
                Err(bad_option(
                    unknown,
                    &format!(
                        "the {connector} connector takes the options {}",
                        known.join(", ")
                    ),
                ))
            }
        }
    }
}

fn literal(value: &Expr) -> Option<String> {
    match value {
        Expr::Value(value) => match &value.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            Value::Number(n, _) => Some(n.to_string()),
            Value::Boolean(b) => Some(b.to_string()),
            _ => None,
        },
        Expr::Identifier(ident) => Some(ident.value.clone()),
        _ => None,
    }
}

pub(crate) fn bad_option(key: &str, hint: &str) -> EngineError {
    EngineError::Plan {
        message: format!("table option '{key}' is not valid"),
        position: None,
        hint: Some(hint.to_string()),
    }
}

/// A duration option as Flink writes them: '5 s', '500ms', '1 min'.
pub(crate) fn parse_duration(key: &str, value: &str) -> Result<std::time::Duration, EngineError> {
    let compact: String = value.split_whitespace().collect();
    let normalized = match compact.strip_suffix("sec") {
        Some(number) => format!("{number}s"),
        None => compact,
    };
    humantime::parse_duration(&normalized).map_err(|_| {
        bad_option(
            key,
            &format!("'{value}' is not a duration; write e.g. '500 ms', '5 s' or '1 min'"),
        )
    })
}
