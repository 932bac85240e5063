//! Heartbeat: echo every message back, so clients know the kernel process is alive. It has
//! its own task and socket, so it answers while a query runs.

use tokio_util::sync::CancellationToken;
use zeromq::{RepSocket, SocketRecv, SocketSend};

pub async fn run(mut socket: RepSocket, shutdown: CancellationToken) {
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
