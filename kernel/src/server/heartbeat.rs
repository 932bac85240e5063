//! Heartbeat: echo every message back, so clients know the kernel process is alive. It runs
//! on a thread of its own, with its own runtime and socket, so it answers while a query runs
//! and while the kernel thread is busy with a long piece of work of its own (parsing a cell
//! of megabytes, drawing a large result).

use super::error::ServeError;
use tokio_util::sync::CancellationToken;
use zeromq::{RepSocket, Socket, SocketRecv, SocketSend};

/// Binds the heartbeat socket on its own thread and answers pings there until `shutdown`.
/// Returns once the socket listens, or with the reason it cannot.
pub fn spawn(endpoint: String, shutdown: CancellationToken) -> Result<(), ServeError> {
    let (bound_tx, bound_rx) = std::sync::mpsc::channel();
    let failed = |reason: String| ServeError::Thread {
        what: "heartbeat",
        reason,
    };
    let thread_endpoint = endpoint.clone();
    std::thread::Builder::new()
        .name("eddy-heartbeat".to_string())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = bound_tx.send(Err(failed(error.to_string())));
                    return;
                }
            };
            runtime.block_on(async move {
                let mut socket = RepSocket::new();
                if let Err(source) = socket.bind(&thread_endpoint).await {
                    let _ = bound_tx.send(Err(ServeError::Bind {
                        channel: "heartbeat",
                        endpoint: thread_endpoint,
                        source,
                    }));
                    return;
                }
                let _ = bound_tx.send(Ok(()));
                run(socket, shutdown).await;
            });
        })
        .map_err(|error| failed(error.to_string()))?;
    bound_rx
        .recv()
        .unwrap_or_else(|_| Err(failed(format!("it stopped before listening on {endpoint}"))))
}

async fn run(mut socket: RepSocket, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            ping = socket.recv() => match ping {
                Ok(ping) => {
                    if let Err(error) = socket.send(ping).await {
                        log::warn!("heartbeat send failed: {error}");
                    }
                }
                Err(error) => log::debug!("heartbeat receive: {error}"),
            },
            _ = shutdown.cancelled() => break,
        }
    }
}
