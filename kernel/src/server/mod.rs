//! The protocol core, as xeus has one: it binds the five channels, runs one task per channel
//! until shutdown, and answers everything the protocol itself defines (kernel info, history,
//! comms, interrupt, shutdown). What a cell means is the [`Interpreter`]'s business; the core
//! knows nothing of SQL.

mod control;
mod error;
mod heartbeat;
pub mod history;
mod interpreter;
mod iopub;
mod kernel;
mod kernel_info;
mod outputs;
pub mod panic;
pub mod protocol;
mod shell;

pub use error::ServeError;
pub use history::History;
pub use interpreter::Interpreter;
pub use iopub::Iopub;
pub use outputs::{DetachedOutputs, Outputs};

use crate::wire::{ConnectionInfo, Signer};
use iopub::run as run_iopub;
use kernel::Kernel;
use protocol::MessageFactory;
use std::sync::Arc;
use std::time::Duration;
use zeromq::{RouterSocket, Socket, XPubSocket};

async fn bind<S: Socket>(
    mut socket: S,
    channel: &'static str,
    endpoint: String,
) -> Result<S, ServeError> {
    match socket.bind(&endpoint).await {
        Ok(_) => Ok(socket),
        Err(source) => Err(ServeError::Bind {
            channel,
            endpoint,
            source,
        }),
    }
}

/// Serves the kernel until a shutdown request (or SIGTERM) arrives. `history` keeps the cells
/// run, for `history_request`.
pub async fn serve(
    info: ConnectionInfo,
    interpreter: impl Interpreter,
    history: History,
) -> Result<(), ServeError> {
    let shell = bind(RouterSocket::new(), "shell", info.endpoint(info.shell_port)).await?;
    let control = bind(
        RouterSocket::new(),
        "control",
        info.endpoint(info.control_port),
    )
    .await?;
    // Eddy never asks for input, but clients expect the stdin channel to be there.
    let _stdin = bind(RouterSocket::new(), "stdin", info.endpoint(info.stdin_port)).await?;
    let iopub_socket = bind(XPubSocket::new(), "iopub", info.endpoint(info.iopub_port)).await?;

    let signer = Arc::new(Signer::new(info.key.as_bytes()));
    let factory = MessageFactory::default();
    let (iopub, outbox) = Iopub::new(factory.clone());
    let kernel = Arc::new(Kernel::new(signer.clone(), factory.clone(), iopub));

    let iopub_task = tokio::spawn(run_iopub(
        iopub_socket,
        outbox,
        signer,
        factory,
        kernel.shutdown.clone(),
    ));
    heartbeat::spawn(info.endpoint(info.hb_port), kernel.shutdown.clone())?;
    tokio::spawn(control::run(control, kernel.clone()));
    tokio::spawn(shell::run(shell, kernel.clone(), interpreter, history));
    tokio::spawn(forward_signals(kernel.clone()));
    tokio::spawn(exit_with_parent(kernel.clone()));

    kernel.shutdown.cancelled().await;
    // Give IOPub a moment to send what is queued (the final `idle`), then go.
    let _ = tokio::time::timeout(Duration::from_secs(2), iopub_task).await;
    Ok(())
}

/// A kernel whose server has gone has no one to serve: when the process that started it
/// (`JPY_PARENT_PID`, set by jupyter_client, else the parent at start) exits, the kernel shuts
/// down, as ipykernel does. A Jupyter server stopped by SIGINT (how JupyterHub stops a user's
/// server) can exit without shutting its kernels down.
async fn exit_with_parent(kernel: Arc<Kernel>) {
    let started_by = std::os::unix::process::parent_id();
    let watched: Option<u32> = std::env::var("JPY_PARENT_PID")
        .ok()
        .and_then(|pid| pid.trim().parse().ok())
        .filter(|&pid| pid > 1)
        .or((started_by > 1).then_some(started_by));
    let Some(parent) = watched else {
        return;
    };
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = kernel.shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        // Reparented (to init or a subreaper) means the parent exited; a parent pid that
        // no longer exists means the same when JPY_PARENT_PID named another process.
        let reparented = parent == started_by && std::os::unix::process::parent_id() != started_by;
        let gone = !std::path::Path::new(&format!("/proc/{parent}")).exists();
        if reparented || gone {
            log::warn!("the process that started the kernel ({parent}) has exited; shutting down");
            kernel.shutdown.cancel();
            return;
        }
    }
}

/// SIGINT interrupts the running cell (for clients that signal rather than send
/// `interrupt_request`); SIGTERM shuts the kernel down cleanly.
async fn forward_signals(kernel: Arc<Kernel>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        log::warn!("cannot listen for signals; interrupt by message only");
        return;
    };
    loop {
        tokio::select! {
            _ = interrupt.recv() => kernel.interrupt(),
            _ = terminate.recv() => {
                kernel.shutdown.cancel();
                break;
            }
        }
    }
}
