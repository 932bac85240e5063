//! How an [`crate::Engine`] is set up.

/// Settings fixed when an engine starts.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Worker partitions per query; `None` uses one per core.
    pub target_partitions: Option<usize>,
}
