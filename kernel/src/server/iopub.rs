//! IOPub: the broadcast channel. One task owns the XPUB socket, because the socket learns
//! of subscriptions only while someone receives on it, and it cannot be split.

use super::protocol::MessageFactory;
use crate::wire::{Message, Signer};
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zeromq::{SocketRecv, SocketSend, XPubSocket, ZmqMessage};

/// A handle to publish on IOPub from any task. Messages go out in the order published.
#[derive(Clone)]
pub struct Iopub {
    outbox: mpsc::UnboundedSender<Message>,
    factory: MessageFactory,
}

impl Iopub {
    pub fn new(factory: MessageFactory) -> (Self, mpsc::UnboundedReceiver<Message>) {
        let (outbox, inbox) = mpsc::unbounded_channel();
        (Iopub { outbox, factory }, inbox)
    }

    pub fn publish(&self, parent: &Message, msg_type: &str, content: Value) {
        let message = self.factory.broadcast(Some(parent), msg_type, content);
        // The receiver lives as long as the kernel; after shutdown there is no one to tell.
        let _ = self.outbox.send(message);
    }

    /// `busy` or `idle`, around every request.
    pub fn status(&self, parent: &Message, state: &str) {
        self.publish(parent, "status", json!({ "execution_state": state }));
    }
}

/// Sends what is published and answers each new subscription with `iopub_welcome`
/// (protocol 5.5), until shutdown; then sends what is still queued and returns.
pub async fn run(
    mut socket: XPubSocket,
    mut inbox: mpsc::UnboundedReceiver<Message>,
    signer: Arc<Signer>,
    factory: MessageFactory,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            biased;
            message = inbox.recv() => match message {
                Some(message) => send(&mut socket, &message, &signer).await,
                None => break,
            },
            incoming = socket.recv() => match incoming {
                Ok(frames) => {
                    if let Some(topic) = subscription(&frames) {
                        let content = json!({ "subscription": String::from_utf8_lossy(&topic) });
                        let message = factory.with_topic(topic, "iopub_welcome", content);
                        send(&mut socket, &message, &signer).await;
                    }
                }
                Err(error) => log::debug!("iopub receive: {error}"),
            },
            _ = shutdown.cancelled() => {
                while let Ok(message) = inbox.try_recv() {
                    send(&mut socket, &message, &signer).await;
                }
                break;
            }
        }
    }
}

/// The topic of a subscribe frame (`\x01` + topic); `None` for unsubscribes and noise.
fn subscription(frames: &ZmqMessage) -> Option<Bytes> {
    let frame = frames.get(0)?;
    (frames.len() == 1 && frame.first() == Some(&1)).then(|| frame.slice(1..))
}

async fn send(socket: &mut XPubSocket, message: &Message, signer: &Signer) {
    match ZmqMessage::try_from(message.encode(signer)) {
        Ok(frames) => {
            if let Err(error) = socket.send(frames).await {
                log::warn!("iopub send failed: {error}");
            }
        }
        Err(error) => log::warn!("iopub message not framed: {error}"),
    }
}
