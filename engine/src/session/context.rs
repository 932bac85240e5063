//! The DataFusion session an engine runs in: its configuration (the settings Eddy changes,
//! and why), its memory pool, its functions and its optimizer rules.

use crate::batch::column_memory::ColumnMemory;
use crate::batch::evicting_pool::EvictingPool;
use crate::config::EngineConfig;
use crate::error::EngineError;
use datafusion::execution::context::SessionContext;
use datafusion::execution::memory_pool::{FairSpillPool, MemoryPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionConfig;
use std::sync::Arc;

/// The session's settings and runtime for `config`, the memory limit it enforces, and the
/// kept file columns that share its memory pool.
pub(super) fn session_setup(
    config: &EngineConfig,
) -> Result<(SessionConfig, Arc<RuntimeEnv>, usize, Arc<ColumnMemory>), EngineError> {
    let mut session_config = SessionConfig::new()
        .with_information_schema(true)
        .set_bool("datafusion.sql_parser.collect_spans", true)
        // Names as Flink reads them (see `sql::names`).
        .set_bool(
            "datafusion.sql_parser.enable_ident_normalization",
            crate::sql::names::FOLD_UNQUOTED_NAMES,
        )
        // A join whose smaller side is known to be small builds one hash table for every
        // thread instead of shuffling both sides by key: exploring joins a few thousand
        // dimension rows (films of a year) with millions of facts, and repartitioning
        // the facts cost more than the probe. DataFusion's defaults are 1 MiB / 128k rows.
        .set_usize(
            "datafusion.optimizer.hash_join_single_partition_threshold",
            32 << 20,
        )
        .set_usize(
            "datafusion.optimizer.hash_join_single_partition_threshold_rows",
            1 << 20,
        )
        // A join whose build-side keys are integers spanning less than a million values
        // looks them up in an array indexed by key instead of a hash table (a few bytes
        // per value of the span, counted against the memory limit). Film ids of one
        // year spread over all ids, below DataFusion's density rule (15%), yet the
        // lookup took the top-10 join from 64 to 45 ms over 15.5M cached ratings.
        .set_usize(
            "datafusion.execution.perfect_hash_join_small_build_threshold",
            1 << 20,
        );
    if let Some(partitions) = config.target_partitions {
        session_config = session_config.with_target_partitions(partitions);
    }
    let memory_limit = config.effective_memory_limit();
    // Each sorting partition sets this much aside up front to merge what it spilled
    // (DataFusion's default, 10 MiB): under a small limit the reservations alone would
    // exceed it and the sort fail instead of spilling. A quarter of each partition's
    // share is kept for them, at most the default.
    let partitions = session_config.target_partitions().max(1);
    let merge_reserve = (memory_limit / partitions / 4).min(10 << 20);
    session_config = session_config
        .set_usize(
            "datafusion.execution.sort_spill_reservation_bytes",
            merge_reserve,
        )
        .set_usize(
            "datafusion.execution.sort_in_place_threshold_bytes",
            merge_reserve.min(1 << 20),
        );
    // The fair pool shares the limit among the spilling operators of a query; the
    // default disk manager spills into the OS temporary directory. Kept file columns
    // (at most a quarter of the limit) reserve in it too, and give way to queries.
    let fair: Arc<dyn MemoryPool> = Arc::new(FairSpillPool::new(memory_limit));
    let columns = Arc::new(ColumnMemory::in_pool(memory_limit / 4, &fair));
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(EvictingPool::new(fair, columns.clone())))
        .build_arc()?;
    Ok((session_config, runtime, memory_limit, columns))
}

/// The DataFusion session: its default functions and Flink's, and the time-grouping rule.
pub(super) fn new_context(
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
    faults: bool,
) -> SessionContext {
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    // Time grouping goes first: it must see `GROUP BY to_char(ts, …)` before the
    // single-distinct rewrite hides the expression under an alias of an inner grouping.
    let rules = std::iter::once(Arc::new(crate::sql::time_grouping::GroupByTruncatedTime) as _)
        .chain(state.optimizers().iter().cloned())
        .collect();
    let state = SessionStateBuilder::new_from_existing(state)
        .with_optimizer_rules(rules)
        .build();
    let ctx = SessionContext::new_with_state(state);
    crate::sql::functions::register_flink_functions(&ctx);
    if faults {
        for udf in crate::sql::functions::fault::functions() {
            ctx.register_udf(udf);
        }
    }
    ctx
}
