//! How an [`crate::Engine`] is set up.

/// Settings fixed when an engine starts.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Worker partitions per query; `None` uses one per core.
    pub target_partitions: Option<usize>,
    /// Bytes the engine's queries may hold; `None` is half the machine's memory. Sorts,
    /// aggregations and repartitions past it spill to the temporary directory; what cannot
    /// spill fails with a `ResourcesExhausted` error rather than being killed by the OS.
    pub memory_limit: Option<usize>,
    /// Registers functions that fail on purpose (`eddy_fault_panic`), for tests of how a
    /// failure inside a query is contained.
    pub fault_functions: bool,
}

impl EngineConfig {
    pub fn effective_memory_limit(&self) -> usize {
        self.memory_limit.unwrap_or_else(|| {
            // On a machine that will not say, 4 GiB is a careful guess.
            let total = sysinfo::System::new()
                .map(|mut system| {
                    system.refresh_memory();
                    system.total_memory()
                })
                .unwrap_or(0);
            match total {
                0 => 4 << 30,
                total => (total / 2) as usize,
            }
        })
    }
}
