//! `eddy cluster executor`: Ballista's executor, running tasks with Eddy's functions.

use crate::error::ClusterError;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_config_producer;
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use std::sync::Arc;

/// The executor's flags, named as Ballista's own executor names them.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecutorArgs {
    /// The scheduler's host.
    #[arg(long, default_value = "127.0.0.1")]
    pub scheduler_host: String,
    /// The scheduler's port.
    #[arg(long, default_value_t = 50050)]
    pub scheduler_port: u16,
    /// The address to listen on. Ballista has neither TLS nor authentication: anything
    /// other than 127.0.0.1 must be a private network's.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_host: String,
    /// The port results are fetched from (Arrow Flight).
    #[arg(long, default_value_t = 50051)]
    pub bind_port: u16,
    /// The port the scheduler sends tasks to.
    #[arg(long, default_value_t = 50052)]
    pub bind_grpc_port: u16,
    /// The host name the scheduler and clients are told to reach it by, if not --bind-host.
    #[arg(long)]
    pub external_host: Option<String>,
    /// Tasks run at once (default: the machine's cores).
    #[arg(long)]
    pub concurrent_tasks: Option<usize>,
    /// Where shuffled data is written (default: a temporary directory).
    #[arg(long)]
    pub work_dir: Option<String>,
    /// How often it tells the scheduler it is alive (below the scheduler's
    /// --executor-timeout-seconds).
    #[arg(long, default_value_t = 60)]
    pub executor_heartbeat_interval_seconds: u64,
}

/// Runs an executor until the process is stopped (or its scheduler tells it to stop).
pub async fn run_executor(args: ExecutorArgs) -> Result<(), ClusterError> {
    // The registry tasks are decoded with: Ballista's functions and Eddy's.
    let state = crate::eddy_session(default_config_producer()).map_err(ClusterError::Session)?;
    let mut config = ExecutorProcessConfig {
        scheduler_host: args.scheduler_host,
        scheduler_port: args.scheduler_port,
        bind_host: args.bind_host,
        port: args.bind_port,
        grpc_port: args.bind_grpc_port,
        external_host: args.external_host,
        work_dir: args.work_dir,
        override_function_registry: Some(Arc::new(BallistaFunctionRegistry::from(&state))),
        executor_heartbeat_interval_seconds: args.executor_heartbeat_interval_seconds,
        ..ExecutorProcessConfig::default()
    };
    if let Some(tasks) = args.concurrent_tasks {
        config.vcores = tasks.max(1);
    }
    eprintln!(
        "eddy cluster executor: listening on {}:{} (tasks on {}), scheduler {}:{}",
        config.bind_host,
        config.port,
        config.grpc_port,
        config.scheduler_host,
        config.scheduler_port
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(|source| ClusterError::Ballista {
            what: "the executor stopped",
            source,
        })
}
