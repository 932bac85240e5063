//! Shell: the requests that do the work. A reader task takes messages off the socket as
//! they come, so that requests queued behind a failing cell can be aborted; a worker
//! answers them one at a time, in order.

use super::control::shutdown_reply;
use super::history::History;
use super::interpreter::Interpreter;
use super::kernel::Kernel;
use super::kernel_info::kernel_info;
use super::outputs::Outputs;
use super::panic::{bug_report, panic_message};
use super::protocol::{
    CommOpen, CompleteRequest, ErrorContent, ExecuteRequest, HistoryRequest, InspectRequest,
    IsCompleteRequest,
};
use crate::wire::Message;
use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use tokio::sync::mpsc;
use zeromq::{RouterSendHalf, RouterSocket, SocketRecv, SocketSend};

pub async fn run(
    socket: RouterSocket,
    kernel: Arc<Kernel>,
    interpreter: impl Interpreter,
    history: History,
) {
    let (sender, mut receiver) = socket.split();
    let (queue_in, queue) = mpsc::unbounded_channel();
    let reader_kernel = kernel.clone();
    tokio::spawn(async move {
        loop {
            let frames = tokio::select! {
                frames = receiver.recv() => frames,
                _ = reader_kernel.shutdown.cancelled() => break,
            };
            match frames {
                Ok(frames) => {
                    if let Some(message) = reader_kernel.decode("shell", frames) {
                        if queue_in.send(message).is_err() {
                            break;
                        }
                    }
                }
                Err(error) => log::debug!("shell receive: {error}"),
            }
        }
    });
    let mut worker = ShellWorker {
        sender,
        kernel,
        interpreter,
        history,
        queue,
        held_back: VecDeque::new(),
        doomed: VecDeque::new(),
        execution_count: 0,
    };
    worker.serve().await;
}

struct ShellWorker<I> {
    sender: RouterSendHalf,
    kernel: Arc<Kernel>,
    interpreter: I,
    history: History,
    queue: mpsc::UnboundedReceiver<Message>,
    /// Requests taken off the queue while aborting executions, to answer next.
    held_back: VecDeque<Message>,
    /// Executions queued behind a failed cell, to answer with an error, in order.
    doomed: VecDeque<Message>,
    execution_count: u64,
}

impl<I: Interpreter> ShellWorker<I> {
    async fn serve(&mut self) {
        loop {
            if let Some(doomed) = self.doomed.pop_front() {
                self.abort(&doomed).await;
                continue;
            }
            let request = match self.held_back.pop_front() {
                Some(request) => request,
                None => tokio::select! {
                    request = self.queue.recv() => match request {
                        Some(request) => request,
                        None => break,
                    },
                    _ = self.kernel.shutdown.cancelled() => break,
                },
            };
            self.kernel.iopub.status(&request, "busy");
            // A panic while answering is answered as an error: the worker, and with it the
            // session, carries on with the next request.
            let handled = AssertUnwindSafe(self.handle(&request)).catch_unwind().await;
            if let Err(payload) = handled {
                let during = format!("answering a {}", request.msg_type());
                let error = internal_error(&during, payload.as_ref());
                self.answer_panic(&request, error).await;
            }
            self.kernel.iopub.status(&request, "idle");
        }
    }

    async fn handle(&mut self, request: &Message) {
        match request.msg_type() {
            "execute_request" => self.execute(request).await,
            "kernel_info_request" => {
                self.reply(request, "kernel_info_reply", kernel_info())
                    .await
            }
            "complete_request" => {
                if let Some(r) = self.content::<CompleteRequest>(request).await {
                    let reply = self.interpreter.complete(&r.code, r.cursor_pos).await;
                    self.reply(request, "complete_reply", reply).await;
                }
            }
            "inspect_request" => {
                if let Some(r) = self.content::<InspectRequest>(request).await {
                    let reply = self
                        .interpreter
                        .inspect(&r.code, r.cursor_pos, r.detail_level)
                        .await;
                    self.reply(request, "inspect_reply", reply).await;
                }
            }
            "is_complete_request" => {
                if let Some(r) = self.content::<IsCompleteRequest>(request).await {
                    let reply = self.interpreter.is_complete(&r.code);
                    self.reply(request, "is_complete_reply", reply).await;
                }
            }
            "history_request" => {
                if let Some(r) = self.content::<HistoryRequest>(request).await {
                    let reply = self.history.reply(&r);
                    self.reply(request, "history_reply", reply).await;
                }
            }
            "comm_info_request" => {
                let reply = json!({ "status": "ok", "comms": {} });
                self.reply(request, "comm_info_reply", reply).await;
            }
            "comm_open" => {
                // Eddy registers no comm targets: close the comm, as ipykernel does for an
                // unknown target, so the frontend does not wait on it.
                if let Ok(open) = serde_json::from_value::<CommOpen>(request.content.clone()) {
                    log::info!("comm target {:?} is not known; closing", open.target_name);
                    let content = json!({ "comm_id": open.comm_id, "data": {} });
                    self.kernel.iopub.publish(request, "comm_close", content);
                }
            }
            "comm_msg" | "comm_close" => {
                log::debug!(
                    "{} for a comm Eddy does not have; ignored",
                    request.msg_type()
                )
            }
            "shutdown_request" => {
                let reply = shutdown_reply(&self.kernel, request);
                self.send(&reply).await;
                self.kernel.shutdown.cancel();
            }
            other => log::warn!("shell: {other} is not supported; ignored"),
        }
    }

    async fn execute(&mut self, request: &Message) {
        let Some(execute) = self.content::<ExecuteRequest>(request).await else {
            return;
        };
        let silent = execute.silent;
        let store_history = execute.store_history && !silent;
        if store_history {
            self.execution_count += 1;
        }
        let count = self.execution_count;
        if !silent {
            let content = json!({ "code": execute.code, "execution_count": count });
            self.kernel.iopub.publish(request, "execute_input", content);
        }
        let cancel = self.kernel.begin_execution();
        let outputs = Outputs::new(&self.kernel.iopub, request, count, silent);
        let outcome = AssertUnwindSafe(self.interpreter.execute(&execute.code, &outputs, &cancel))
            .catch_unwind()
            .await
            .unwrap_or_else(|payload| Err(internal_error("running the cell", payload.as_ref())));
        match outcome {
            Ok(()) => {
                let user_expressions = self
                    .interpreter
                    .user_expressions(&execute.user_expressions, &cancel)
                    .await;
                let reply = json!({
                    "status": "ok",
                    "execution_count": count,
                    "user_expressions": user_expressions,
                    "payload": [],
                });
                self.reply(request, "execute_reply", reply).await;
            }
            Err(error) => {
                // The cells to abort are those queued when this one failed: taken before
                // the reply goes out, so a cell the client sends on seeing it still runs.
                if execute.stop_on_error {
                    self.take_queued_executions().await;
                }
                if !silent {
                    self.kernel
                        .iopub
                        .publish(request, "error", json!(error.clone()));
                }
                let mut reply = json!(error);
                reply["status"] = json!("error");
                reply["execution_count"] = json!(count);
                self.reply(request, "execute_reply", reply).await;
            }
        }
        // Written after the reply, which need not wait for the history file; the next
        // request on this channel (a history_request too) is handled after it.
        if store_history {
            self.history.record(count, &execute.code);
        }
    }

    /// After a failed cell, the cells already queued behind it are not run: they are set
    /// aside here and answered with an error (not the deprecated `aborted` status) right
    /// after the failed cell's `idle`. Other requests keep their place.
    async fn take_queued_executions(&mut self) {
        // Let the reader task move anything already on the socket into the queue.
        tokio::task::yield_now().await;
        while let Ok(queued) = self.queue.try_recv() {
            if queued.msg_type() == "execute_request" {
                self.doomed.push_back(queued);
            } else {
                self.held_back.push_back(queued);
            }
        }
    }

    async fn abort(&mut self, queued: &Message) {
        self.kernel.iopub.status(queued, "busy");
        let reply = json!({
            "status": "error",
            "ename": "ExecutionAborted",
            "evalue": "Not run: an earlier cell failed.",
            "traceback": [],
            "execution_count": self.execution_count,
        });
        self.reply(queued, "execute_reply", reply).await;
        self.kernel.iopub.status(queued, "idle");
    }

    /// The reply to a request whose handling panicked (outside a cell, which answers for
    /// itself): an error reply of the request's type.
    async fn answer_panic(&mut self, request: &Message, error: ErrorContent) {
        log::error!("{}", error.evalue);
        let reply_type = request.msg_type().replace("_request", "_reply");
        if reply_type == request.msg_type() {
            return;
        }
        let mut reply = json!(error);
        reply["status"] = json!("error");
        if reply_type == "execute_reply" {
            reply["execution_count"] = json!(self.execution_count);
        }
        self.reply(request, &reply_type, reply).await;
    }

    /// The request's content as `T`; a malformed one gets an error reply and `None`.
    async fn content<T: DeserializeOwned>(&mut self, request: &Message) -> Option<T> {
        match serde_json::from_value(request.content.clone()) {
            Ok(content) => Some(content),
            Err(error) => {
                log::warn!("malformed {} content: {error}", request.msg_type());
                let reply_type = request.msg_type().replace("_request", "_reply");
                let reply = json!({
                    "status": "error",
                    "ename": "BadRequest",
                    "evalue": format!("malformed {}: {error}", request.msg_type()),
                    "traceback": [],
                });
                self.reply(request, &reply_type, reply).await;
                None
            }
        }
    }

    async fn reply(&mut self, request: &Message, msg_type: &str, content: impl serde::Serialize) {
        let reply = self.kernel.factory.reply(request, msg_type, content);
        self.send(&reply).await;
    }

    async fn send(&mut self, message: &Message) {
        if let Some(frames) = self.kernel.encode(message) {
            if let Err(error) = self.sender.send(frames).await {
                log::warn!("shell send failed: {error}");
            }
        }
    }
}

/// The error a caught panic is answered with.
fn internal_error(during: &str, payload: &(dyn std::any::Any + Send)) -> ErrorContent {
    let evalue = bug_report(during, &panic_message(payload));
    ErrorContent {
        ename: "InternalError".to_string(),
        traceback: vec![format!("InternalError: {evalue}")],
        evalue,
    }
}
