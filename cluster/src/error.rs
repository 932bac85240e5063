//! Why a scheduler or an executor stopped.

/// What ended a cluster process early.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A flag's value cannot be used (an address that does not parse).
    #[error("{0}")]
    Usage(String),
    /// Eddy's functions could not be added to the session.
    #[error("cannot make the session: {0}")]
    Session(#[source] datafusion::error::DataFusionError),
    /// Ballista failed to start or stopped with an error (a port in use, no scheduler).
    #[error("{what}: {source}")]
    Ballista {
        what: &'static str,
        #[source]
        source: ballista_core::error::BallistaError,
    },
}
