//! The typed content of the messages Eddy reads and writes (messaging protocol 5.5), and
//! the factory that gives every outgoing message a fresh header.

use crate::wire::{Header, Message};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub const PROTOCOL_VERSION: &str = "5.5";

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
pub struct ExecuteRequest {
    pub code: String,
    #[serde(default)]
    pub silent: bool,
    #[serde(default = "yes")]
    pub store_history: bool,
    #[serde(default)]
    pub user_expressions: Map<String, Value>,
    #[serde(default = "yes")]
    pub stop_on_error: bool,
}

#[derive(Debug, Deserialize)]
pub struct CompleteRequest {
    pub code: String,
    /// In Unicode code points, not bytes.
    pub cursor_pos: usize,
}

#[derive(Debug, Deserialize)]
pub struct InspectRequest {
    pub code: String,
    pub cursor_pos: usize,
    #[serde(default)]
    pub detail_level: u8,
}

#[derive(Debug, Deserialize)]
pub struct IsCompleteRequest {
    pub code: String,
}

#[derive(Debug, Deserialize)]
pub struct HistoryRequest {
    #[serde(default)]
    pub output: bool,
    pub hist_access_type: String,
    #[serde(default)]
    pub session: i64,
    #[serde(default)]
    pub start: i64,
    #[serde(default)]
    pub stop: Option<i64>,
    #[serde(default)]
    pub n: Option<usize>,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub unique: bool,
}

#[derive(Debug, Deserialize)]
pub struct ShutdownRequest {
    #[serde(default)]
    pub restart: bool,
}

#[derive(Debug, Deserialize)]
pub struct CommOpen {
    pub comm_id: String,
    #[serde(default)]
    pub target_name: String,
}

/// The fields of an error, as sent in the `error` broadcast and an error reply.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorContent {
    pub ename: String,
    pub evalue: String,
    pub traceback: Vec<String>,
}

/// A MIME bundle: `{"text/plain": …, "text/html": …}`.
pub type MimeBundle = Map<String, Value>;

/// Makes outgoing messages: one session id for the kernel's whole life, a fresh `msg_id`
/// for every message.
#[derive(Debug, Clone)]
pub struct MessageFactory {
    session: String,
}

impl Default for MessageFactory {
    fn default() -> Self {
        MessageFactory {
            session: uuid::Uuid::new_v4().to_string(),
        }
    }
}

impl MessageFactory {
    fn header(&self, msg_type: &str) -> Header {
        Header {
            msg_id: uuid::Uuid::new_v4().to_string(),
            session: self.session.clone(),
            username: "eddy".to_string(),
            date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            msg_type: msg_type.to_string(),
            version: PROTOCOL_VERSION.to_string(),
            extra: Map::new(),
        }
    }

    /// A reply on the request's own socket, routed back to its sender.
    pub fn reply(&self, request: &Message, msg_type: &str, content: impl Serialize) -> Message {
        self.make(
            request.identities.clone(),
            Some(request),
            msg_type,
            to_json(content),
        )
    }

    /// An IOPub broadcast; `parent` is the request it belongs to.
    pub fn broadcast(&self, parent: Option<&Message>, msg_type: &str, content: Value) -> Message {
        let topic = Bytes::from(format!("kernel.{}.{}", self.session, msg_type));
        self.make(vec![topic], parent, msg_type, content)
    }

    /// An IOPub message sent under an explicit topic (the welcome, sent under the
    /// subscription it answers so that the new subscriber receives it).
    pub fn with_topic(&self, topic: Bytes, msg_type: &str, content: Value) -> Message {
        self.make(vec![topic], None, msg_type, content)
    }

    fn make(
        &self,
        identities: Vec<Bytes>,
        parent: Option<&Message>,
        msg_type: &str,
        content: Value,
    ) -> Message {
        let parent_header = parent
            .and_then(|p| serde_json::to_value(&p.header).ok())
            .unwrap_or_else(|| json!({}));
        Message {
            identities,
            header: self.header(msg_type),
            parent_header,
            metadata: json!({}),
            content,
            buffers: Vec::new(),
        }
    }
}

fn to_json(content: impl Serialize) -> Value {
    // Only our own reply types are serialised here; they always serialise.
    serde_json::to_value(content).unwrap_or_else(|_| json!({}))
}
