//! Flink's `SET 'key' = 'value'` (and `RESET 'key'`), as Flink users start a notebook: the
//! settings of DataFusion (`datafusion.*`) go to DataFusion; Flink's own are answered here.
//! Those that change nothing in one process Eddy accepts, saying why; those that would
//! change a result Eddy cannot honour fail, naming the setting; unknown ones fail too, rather
//! than being silently ignored.

use crate::error::EngineError;

/// Flink settings that have no effect here, and why.
const WITHOUT_EFFECT: &[(&str, &str)] = &[
    (
        "parallelism.default",
        "Eddy runs every query in this process, on all its cores",
    ),
    (
        "table.exec.resource.default-parallelism",
        "Eddy runs every query in this process, on all its cores",
    ),
    (
        "pipeline.name",
        "%jobs names the queries running in the background",
    ),
    (
        "execution.checkpointing.interval",
        "Eddy keeps no checkpoints: a continuous query's state lives while it runs",
    ),
    (
        "execution.runtime-mode",
        "a query over a stream runs continuously (and ends when its sources are bounded); \
         any other runs as a batch query",
    ),
    (
        "table.exec.mini-batch.enabled",
        "Eddy always runs continuous queries in micro-batches (every 50 ms)",
    ),
    (
        "table.exec.mini-batch.allow-latency",
        "Eddy always runs continuous queries in micro-batches (every 50 ms)",
    ),
    (
        "table.exec.mini-batch.size",
        "Eddy always runs continuous queries in micro-batches (every 50 ms)",
    ),
    (
        "sql-client.execution.result-mode",
        "choose how a result is shown with %sql --mode append|update|changelog|single",
    ),
];

/// Flink settings that would change results, which Eddy does not honour yet.
const NOT_HONOURED: &[(&str, &str)] = &[
    (
        "table.exec.state.ttl",
        "state TTL is not supported yet: a continuous query keeps its state while it runs \
         (bound it with windows, or cancel and restart the query)",
    ),
    (
        "table.local-time-zone",
        "set DataFusion's time zone instead: SET datafusion.execution.time_zone = '…'",
    ),
];

/// The answer to `SET key = value` or `RESET key` when `key` is not DataFusion's: `None`
/// hands it to DataFusion.
pub(crate) fn answer(variable: &str, value: Option<&str>) -> Option<Result<String, EngineError>> {
    let key = variable.trim_matches(|c| c == '\'' || c == '"' || c == '`');
    if key.to_ascii_lowercase().starts_with("datafusion.") {
        return None;
    }
    if let Some((_, why)) = WITHOUT_EFFECT.iter().find(|(k, _)| *k == key) {
        let what = match value {
            Some(value) => format!("'{key}' = '{value}'"),
            None => format!("'{key}' reset"),
        };
        return Some(Ok(format!("{what}: accepted, with no effect here: {why}.")));
    }
    if let Some((_, why)) = NOT_HONOURED.iter().find(|(k, _)| *k == key) {
        return Some(Err(EngineError::NotSupported {
            message: format!("the setting '{key}': {why}"),
        }));
    }
    let known: Vec<&str> = WITHOUT_EFFECT
        .iter()
        .chain(NOT_HONOURED)
        .map(|(k, _)| *k)
        .collect();
    Some(Err(EngineError::NotSupported {
        message: format!(
            "Eddy has no setting '{key}'; it knows Flink's {} and DataFusion's datafusion.* \
             settings (SHOW ALL lists those)",
            known.join(", ")
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datafusion_settings_go_to_datafusion() {
        assert!(answer("datafusion.execution.batch_size", Some("1024")).is_none());
    }

    #[test]
    fn flink_settings_are_accepted_refused_or_unknown() {
        let accepted = answer("'parallelism.default'", Some("2")).unwrap().unwrap();
        assert!(accepted.contains("no effect"), "{accepted}");
        let refused = answer("table.exec.state.ttl", Some("1 h"))
            .unwrap()
            .unwrap_err();
        assert!(refused.to_string().contains("state TTL"), "{refused}");
        let unknown = answer("table.exec.sink.not-null-enforcer", Some("DROP"))
            .unwrap()
            .unwrap_err();
        assert!(unknown.to_string().contains("no setting"), "{unknown}");
    }
}
