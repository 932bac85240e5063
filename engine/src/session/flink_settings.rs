//! Flink's `SET 'key' = 'value'` (and `RESET 'key'`), as Flink users start a notebook: the
//! settings of DataFusion (`datafusion.*`) go to DataFusion; Flink's own are answered here.
//! Those that change nothing in one process Eddy accepts, saying why; those that would
//! change a result Eddy cannot honour fail, naming the setting; unknown ones fail too, rather
//! than being silently ignored.

use crate::error::EngineError;
use std::sync::atomic::{AtomicU64, Ordering};

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
const NOT_HONOURED: &[(&str, &str)] = &[(
    "table.local-time-zone",
    "set DataFusion's time zone instead: SET datafusion.execution.time_zone = '…'",
)];

/// Flink's state TTL: how long a continuous query keeps the state of a key no row has
/// touched (0: while it runs).
pub(crate) const STATE_TTL: &str = "table.exec.state.ttl";

/// The answer to `SET key = value` or `RESET key` when `key` is not DataFusion's: `None`
/// hands it to DataFusion. `state_ttl` (milliseconds, 0 for none) is what queries started
/// afterwards read.
pub(crate) fn answer(
    variable: &str,
    value: Option<&str>,
    state_ttl: &AtomicU64,
) -> Option<Result<String, EngineError>> {
    let key = variable.trim_matches(|c| c == '\'' || c == '"' || c == '`');
    if key.to_ascii_lowercase().starts_with("datafusion.") {
        return None;
    }
    if key == STATE_TTL {
        return Some(set_state_ttl(value, state_ttl));
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
    let known: Vec<&str> = std::iter::once(STATE_TTL)
        .chain(WITHOUT_EFFECT.iter().chain(NOT_HONOURED).map(|(k, _)| *k))
        .collect();
    Some(Err(EngineError::NotSupported {
        message: format!(
            "Eddy has no setting '{key}'; it knows Flink's {} and DataFusion's datafusion.* \
             settings (SHOW ALL lists those)",
            known.join(", ")
        ),
    }))
}

fn set_state_ttl(value: Option<&str>, state_ttl: &AtomicU64) -> Result<String, EngineError> {
    let ms = match value {
        Some(text) => duration_ms(text).ok_or_else(|| EngineError::Plan {
            message: format!(
                "'{STATE_TTL}' = '{text}' is not a duration; write it as Flink does: '1 h', \
                 '30 min', '90 s', '500 ms' (a number alone is milliseconds)"
            ),
            position: None,
            hint: None,
        })?,
        None => 0,
    };
    state_ttl.store(ms, Ordering::Relaxed);
    Ok(match ms {
        0 => format!(
            "'{STATE_TTL}': continuous queries started from now on keep their state while \
             they run."
        ),
        _ => format!(
            "'{STATE_TTL}' = '{}': continuous queries started from now on drop the state of a \
             key (a GROUP BY's key, a join's kept rows, a Top-N's partition) that no row has \
             touched for that long; a row that comes for it later starts afresh, as in \
             Flink. Windows are dropped when the watermark passes them, as before.",
            value.unwrap_or_default().trim()
        ),
    })
}

/// Milliseconds in a duration as Flink writes it (the connectors' options read it the same
/// way); a number alone is milliseconds, as in Flink's `TimeUtils.parseDuration`.
fn duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let text = match text.chars().all(|c| c.is_ascii_digit()) {
        true => format!("{text}ms"),
        false => text.to_string(),
    };
    let duration = crate::connectors::parse_duration(STATE_TTL, &text).ok()?;
    u64::try_from(duration.as_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datafusion_settings_go_to_datafusion() {
        let ttl = AtomicU64::new(0);
        assert!(answer("datafusion.execution.batch_size", Some("1024"), &ttl).is_none());
    }

    #[test]
    fn flink_settings_are_accepted_refused_or_unknown() {
        let ttl = AtomicU64::new(0);
        let accepted = answer("'parallelism.default'", Some("2"), &ttl)
            .unwrap()
            .unwrap();
        assert!(accepted.contains("no effect"), "{accepted}");
        let refused = answer("table.local-time-zone", Some("UTC"), &ttl)
            .unwrap()
            .unwrap_err();
        assert!(refused.to_string().contains("time_zone"), "{refused}");
        let unknown = answer("table.exec.sink.not-null-enforcer", Some("DROP"), &ttl)
            .unwrap()
            .unwrap_err();
        assert!(unknown.to_string().contains("no setting"), "{unknown}");
    }

    #[test]
    fn a_state_ttl_is_read_as_flink_reads_durations() {
        let ttl = AtomicU64::new(0);
        for (text, ms) in [
            ("1 h", 3_600_000),
            ("30min", 1_800_000),
            ("90 s", 90_000),
            ("250", 250),
        ] {
            answer("'table.exec.state.ttl'", Some(text), &ttl)
                .unwrap()
                .unwrap();
            assert_eq!(ttl.load(Ordering::Relaxed), ms, "{text}");
        }
        let bad = answer("table.exec.state.ttl", Some("soon"), &ttl)
            .unwrap()
            .unwrap_err();
        assert!(bad.to_string().contains("not a duration"), "{bad}");
        answer("table.exec.state.ttl", None, &ttl).unwrap().unwrap();
        assert_eq!(ttl.load(Ordering::Relaxed), 0);
    }
}
