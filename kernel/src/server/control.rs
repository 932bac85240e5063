//! Control: interrupt, shutdown and kernel info. A task of its own, so it is answered
//! while the shell is busy with a long query.

use super::kernel::Kernel;
use super::kernel_info::kernel_info;
use super::protocol::ShutdownRequest;
use crate::wire::Message;
use serde_json::json;
use std::sync::Arc;
use zeromq::{RouterSocket, SocketRecv, SocketSend};

pub async fn run(mut socket: RouterSocket, kernel: Arc<Kernel>) {
    loop {
        let frames = tokio::select! {
            frames = socket.recv() => frames,
            _ = kernel.shutdown.cancelled() => break,
        };
        let frames = match frames {
            Ok(frames) => frames,
            Err(error) => {
                log::debug!("control receive: {error}");
                continue;
            }
        };
        let Some(request) = kernel.decode("control", frames) else {
            continue;
        };
        kernel.iopub.status(&request, "busy");
        let reply = answer(&kernel, &request);
        if let Some(frames) = reply.and_then(|reply| kernel.encode(&reply)) {
            if let Err(error) = socket.send(frames).await {
                log::warn!("control send failed: {error}");
            }
        }
        kernel.iopub.status(&request, "idle");
        if request.msg_type() == "shutdown_request" {
            kernel.shutdown.cancel();
        }
    }
}

fn answer(kernel: &Kernel, request: &Message) -> Option<Message> {
    let factory = &kernel.factory;
    match request.msg_type() {
        "kernel_info_request" => Some(factory.reply(request, "kernel_info_reply", kernel_info())),
        "interrupt_request" => {
            kernel.interrupt();
            Some(factory.reply(request, "interrupt_reply", json!({ "status": "ok" })))
        }
        "shutdown_request" => Some(shutdown_reply(kernel, request)),
        other => {
            log::warn!("control: {other} is not supported; ignored");
            None
        }
    }
}

/// Replies to a shutdown request (on control, or on shell from older clients) and cancels
/// whatever runs; the caller then stops the kernel.
pub fn shutdown_reply(kernel: &Kernel, request: &Message) -> Message {
    let restart = serde_json::from_value::<ShutdownRequest>(request.content.clone())
        .map(|r| r.restart)
        .unwrap_or(false);
    kernel.interrupt();
    kernel.factory.reply(
        request,
        "shutdown_reply",
        json!({ "status": "ok", "restart": restart }),
    )
}
