//! `eddy`: a Jupyter kernel for interactive SQL over tables and live streams. This is its
//! command line; the kernel itself is the `eddy_kernel` library (lib.rs).

use eddy_kernel::interpreter::SqlInterpreter;
use eddy_kernel::server::{self, history, History};
use eddy_kernel::{install, wire};

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

// Why jemalloc: see Cargo.toml.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "eddy",
    version,
    about = "A Jupyter kernel for SQL over tables and streams"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install the kernelspec so that Jupyter offers "Eddy (SQL)".
    Install(InstallArgs),
    /// Run the kernel (what kernel.json starts).
    Kernel {
        /// The connection file Jupyter wrote for this kernel.
        #[arg(long, short = 'f')]
        connection_file: PathBuf,
    },
    /// Run a Ballista cluster's scheduler or executor that knows Eddy's functions
    /// (notebooks send it batch queries with %connect df://HOST:PORT).
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// The scheduler: plans queries and hands their tasks to executors.
    Scheduler(eddy_cluster::SchedulerArgs),
    /// An executor: runs tasks, reading the tables' files itself.
    Executor(eddy_cluster::ExecutorArgs),
}

#[derive(Args)]
struct InstallArgs {
    /// Install for the current user (the default).
    #[arg(long, conflicts_with_all = ["sys_prefix", "prefix"])]
    user: bool,
    /// Install into the active Python environment (virtualenv or conda).
    #[arg(long, conflicts_with = "prefix")]
    sys_prefix: bool,
    /// Install into DIR/share/jupyter/kernels.
    #[arg(long, value_name = "DIR")]
    prefix: Option<PathBuf>,
    /// The kernelspec's name.
    #[arg(long, default_value = "eddy")]
    name: String,
    /// The name Jupyter shows in its launcher.
    #[arg(long)]
    display_name: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_target(false)
        .init();
    match cli.command {
        Command::Install(args) => install(args),
        Command::Kernel { connection_file } => run_kernel(&connection_file),
        Command::Cluster(command) => run_cluster(command),
    }
}

fn run_cluster(command: ClusterCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_name("eddy-cluster")
        .thread_stack_size(eddy_engine::limits::STACK_SIZE)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("eddy cluster: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (name, ran) = match command {
        ClusterCommand::Scheduler(args) => (
            "scheduler",
            runtime.block_on(eddy_cluster::run_scheduler(args)),
        ),
        ClusterCommand::Executor(args) => (
            "executor",
            runtime.block_on(eddy_cluster::run_executor(args)),
        ),
    };
    runtime.shutdown_background();
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("eddy cluster {name}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn install(args: InstallArgs) -> ExitCode {
    let target = match (args.sys_prefix, args.prefix) {
        (true, _) => install::Target::SysPrefix,
        (_, Some(prefix)) => install::Target::Prefix(prefix),
        _ => install::Target::User,
    };
    match install::install(&target, &args.name, args.display_name.as_deref()) {
        Ok(dir) => {
            println!("Installed kernelspec {} in {}", args.name, dir.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("eddy install: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run_kernel(connection_file: &std::path::Path) -> ExitCode {
    let info = match wire::ConnectionInfo::from_file(connection_file) {
        Ok(info) => info,
        Err(error) => {
            eprintln!("eddy kernel: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtimes = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|io| {
            let engine = tokio::runtime::Builder::new_multi_thread()
                .thread_name("eddy-engine")
                .thread_stack_size(eddy_engine::limits::STACK_SIZE)
                .enable_all()
                .build()?;
            Ok((io, engine))
        });
    let (io_runtime, engine_runtime) = match runtimes {
        Ok(runtimes) => runtimes,
        Err(error) => {
            eprintln!("eddy kernel: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let engine = match engine_config()
        .and_then(|config| eddy_engine::Engine::new(config).map_err(|error| error.to_string()))
    {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("eddy kernel: {error}");
            return ExitCode::FAILURE;
        }
    };
    let history = History::open(history::jupyter_data_dir());
    let interpreter = SqlInterpreter::new(engine, engine_runtime.handle().clone());
    // The protocol runs on a thread of its own with the engine's stack size: it parses cells
    // (and drops what it parsed), which for a long chain of operators goes deep.
    let served = std::thread::Builder::new()
        .name("eddy-kernel".to_string())
        .stack_size(eddy_engine::limits::STACK_SIZE)
        .spawn(move || {
            let served = io_runtime.block_on(server::serve(info, interpreter, history));
            io_runtime.shutdown_background();
            served
        })
        .map_err(|error| format!("cannot start the kernel thread: {error}"))
        .and_then(|thread| {
            thread
                .join()
                .map_err(|_| "the kernel thread panicked".to_string())
        });
    // Queries still running are abandoned, not awaited: shutdown must be prompt.
    engine_runtime.shutdown_background();
    match served {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            eprintln!("eddy kernel: {error}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("eddy kernel: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The engine's settings from the environment: `EDDY_MEMORY_LIMIT` (e.g. `8GB`, `512MiB`),
/// and `EDDY_FAULTS=panic` for tests.
fn engine_config() -> Result<eddy_engine::EngineConfig, String> {
    let memory_limit = match std::env::var("EDDY_MEMORY_LIMIT") {
        Ok(text) => Some(
            text.trim()
                .parse::<bytesize::ByteSize>()
                .map_err(|_| {
                    format!("EDDY_MEMORY_LIMIT={text:?} is not a size like 8GB or 512MiB")
                })?
                .as_u64() as usize,
        ),
        Err(_) => None,
    };
    Ok(eddy_engine::EngineConfig {
        memory_limit,
        // Only the tests of how a failing query is contained set this.
        fault_functions: std::env::var("EDDY_FAULTS").is_ok_and(|v| v == "panic"),
        ..Default::default()
    })
}
