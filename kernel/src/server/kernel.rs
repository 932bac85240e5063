//! What every channel of a running kernel shares: signing, the IOPub publisher, and the
//! tokens that stop the running cell or the whole kernel.

use super::iopub::Iopub;
use super::protocol::MessageFactory;
use crate::wire::{Message, Signer};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

pub struct Kernel {
    pub signer: Arc<Signer>,
    pub factory: MessageFactory,
    pub iopub: Iopub,
    /// Cancelled once, when the kernel is asked to shut down.
    pub shutdown: CancellationToken,
    /// The token of the cell now running (a child of `shutdown`).
    running: Mutex<CancellationToken>,
}

impl Kernel {
    pub fn new(signer: Arc<Signer>, factory: MessageFactory, iopub: Iopub) -> Self {
        let shutdown = CancellationToken::new();
        let running = Mutex::new(shutdown.child_token());
        Kernel {
            signer,
            factory,
            iopub,
            shutdown,
            running,
        }
    }

    /// A fresh token for the cell about to run: an interrupt or a shutdown cancels it.
    pub fn begin_execution(&self) -> CancellationToken {
        let token = self.shutdown.child_token();
        *self.lock_running() = token.clone();
        token
    }

    /// Cancels the running cell, if any; the session and its tables stay.
    pub fn interrupt(&self) {
        self.lock_running().cancel();
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, CancellationToken> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Decodes frames off a socket; a bad message is logged and dropped, never fatal.
    pub fn decode(&self, channel: &str, frames: zeromq::ZmqMessage) -> Option<Message> {
        match Message::decode(frames.into_vec(), &self.signer) {
            Ok(message) => Some(message),
            Err(error) => {
                log::warn!("dropped a message on {channel}: {error}");
                None
            }
        }
    }

    /// The signed multipart form of `message`, ready for a socket.
    pub fn encode(&self, message: &Message) -> Option<zeromq::ZmqMessage> {
        zeromq::ZmqMessage::try_from(message.encode(&self.signer)).ok()
    }
}
