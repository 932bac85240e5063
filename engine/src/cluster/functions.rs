//! What a Ballista scheduler or executor adds to its session to run Eddy's plans.

use crate::error::EngineError;
use datafusion::execution::{FunctionRegistry, SessionState, SessionStateBuilder};
use std::sync::Arc;

/// `state` with Eddy's Flink functions and its time-grouping rule (and the functions that
/// rule writes), as the kernel's own session has them. A plan names its functions only, so the scheduler (which decodes the
/// logical plan) and the executors (which decode their tasks) must register the same
/// functions under the same names, or a query using `DATE_FORMAT` fails to decode.
pub fn with_eddy_functions(state: SessionState) -> Result<SessionState, EngineError> {
    // As in the kernel's session, time grouping goes before the rules that could hide the
    // expression it looks for.
    let rules = std::iter::once(Arc::new(crate::sql::time_grouping::GroupByTruncatedTime) as _)
        .chain(state.optimizers().iter().cloned())
        .collect();
    let mut state = SessionStateBuilder::new_from_existing(state)
        .with_optimizer_rules(rules)
        .build();
    // Ballista rebuilds the sessions this makes (`new_from_existing`), and nothing here can
    // restore Flink's functions after that: no other function may answer to their names.
    crate::sql::functions::give_flink_names_to_flink_functions(&mut state)?;
    // The rule's own functions are in the plans it rewrote, though no SQL names them.
    for floor in crate::sql::time_grouping::floor_functions() {
        state.register_udf(Arc::new(floor))?;
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::with_eddy_functions;
    use datafusion::execution::context::SessionContext;
    use datafusion::execution::SessionStateBuilder;

    /// Ballista rebuilds the sessions a scheduler makes; Flink's functions must keep their
    /// names through any number of rebuilds, whatever order they register functions in.
    #[tokio::test]
    async fn flink_functions_keep_their_names_when_a_session_is_rebuilt() {
        let state = SessionStateBuilder::new().with_default_features().build();
        let mut state = with_eddy_functions(state).expect("Eddy's functions");
        let flink = crate::sql::functions::flink_functions(state.config_options());
        for rebuild in 0..30 {
            for function in &flink {
                let registered = &state.scalar_functions()[function.name()];
                // Compared as printed: functions made of closures compare by pointer.
                assert!(
                    format!("{registered:?}") == format!("{function:?}"),
                    "rebuild {rebuild}: {} is {registered:?}",
                    function.name()
                );
            }
            let ctx = SessionContext::new_with_state(state.clone());
            let formatted = ctx
                .sql("SELECT DATE_FORMAT(TIMESTAMP '2020-01-02 03:04:05', 'yyyy-MM-dd') AS d")
                .await
                .expect("plans");
            let batches = formatted.collect().await.expect("runs");
            let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                .expect("prints")
                .to_string();
            assert!(text.contains("| 2020-01-02 |"), "rebuild {rebuild}: {text}");
            state = SessionStateBuilder::new_from_existing(state).build();
        }
    }
}
