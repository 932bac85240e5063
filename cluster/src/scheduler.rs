//! `eddy cluster scheduler`: Ballista's scheduler, planning with Eddy's functions.

use crate::error::ClusterError;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use std::net::SocketAddr;
use std::sync::Arc;

/// The scheduler's flags, named as Ballista's own scheduler names them.
#[derive(Debug, Clone, clap::Args)]
pub struct SchedulerArgs {
    /// The address to listen on. Ballista has neither TLS nor authentication: anything
    /// other than 127.0.0.1 must be a private network's.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_host: String,
    /// The port clients (`%connect df://HOST:PORT`) and executors reach it on.
    #[arg(long, default_value_t = 50050)]
    pub bind_port: u16,
    /// The host name executors and clients are told to reach it by, if not --bind-host.
    #[arg(long)]
    pub external_host: Option<String>,
    /// An executor silent for this long is taken for lost, and its tasks run elsewhere.
    #[arg(long, default_value_t = 180)]
    pub executor_timeout_seconds: u64,
    /// How often lost executors are looked for.
    #[arg(long, default_value_t = 15)]
    pub expire_dead_executor_interval_seconds: u64,
}

/// Runs a scheduler until the process is stopped.
pub async fn run_scheduler(args: SchedulerArgs) -> Result<(), ClusterError> {
    let address: SocketAddr = format!("{}:{}", args.bind_host, args.bind_port)
        .parse()
        .map_err(|error| {
            ClusterError::Usage(format!(
                "--bind-host {} --bind-port {}: {error} (give an IP address)",
                args.bind_host, args.bind_port
            ))
        })?;
    let mut config = SchedulerConfig {
        bind_host: args.bind_host.clone(),
        bind_port: args.bind_port,
        ..SchedulerConfig::default()
    };
    config.external_host = args.external_host.unwrap_or(args.bind_host);
    config.executor_timeout_seconds = args.executor_timeout_seconds;
    config.expire_dead_executor_interval_seconds = args.expire_dead_executor_interval_seconds;
    config.override_session_builder = Some(Arc::new(crate::eddy_session));
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|source| ClusterError::Ballista {
            what: "cannot make the scheduler's state",
            source,
        })?;
    eprintln!("eddy cluster scheduler: listening on {address}");
    start_server(cluster, address, Arc::new(config))
        .await
        .map_err(|source| ClusterError::Ballista {
            what: "the scheduler stopped",
            source,
        })
}
