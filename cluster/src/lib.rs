//! Eddy's Ballista cluster: `eddy cluster scheduler` and `eddy cluster executor`, thin mains
//! over Ballista's library crates whose sessions know Eddy's functions, so that a cluster
//! is one binary copied to each machine and runs the plans the kernel sends it
//! (`%connect df://HOST:PORT`).
//!
//! Ballista's scheduler and executors speak plain gRPC and Arrow Flight, with neither TLS
//! nor authentication: anyone who reaches their ports can submit work and read results.
//! They bind to 127.0.0.1 unless told otherwise; a cluster that listens on other
//! interfaces belongs on a private network.

mod error;
mod executor;
mod local_files;
mod scheduler;

pub use error::ClusterError;
pub use executor::{run_executor, ExecutorArgs};
pub use scheduler::{run_scheduler, SchedulerArgs};

use ballista_core::utils::default_session_builder;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::prelude::SessionConfig;
use std::sync::Arc;

/// A session as Ballista makes one, with Eddy's functions, reading local files through
/// [`local_files::LocalFiles`].
fn eddy_session(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    let state = default_session_builder(config)?;
    let files =
        url::Url::parse("file://").map_err(|error| DataFusionError::External(error.into()))?;
    state
        .runtime_env()
        .register_object_store(&files, Arc::new(local_files::LocalFiles::default()));
    eddy_engine::with_eddy_functions(state).map_err(|error| DataFusionError::External(error.into()))
}
