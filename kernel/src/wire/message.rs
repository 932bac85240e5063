//! One Jupyter message and its multipart form:
//! `[identities…, "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers…]`.

use super::{Signer, WireError};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const DELIMITER: &[u8] = b"<IDS|MSG>";

/// A message header. Fields a client adds beyond the spec are kept, so that a reply's
/// parent header is exactly the request's header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub msg_id: String,
    pub session: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub date: String,
    pub msg_type: String,
    #[serde(default)]
    pub version: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Message {
    /// Routing identities (on ROUTER sockets) or the topic (on IOPub).
    pub identities: Vec<Bytes>,
    pub header: Header,
    /// The header of the request this message answers, or `{}`.
    pub parent_header: Value,
    pub metadata: Value,
    pub content: Value,
    pub buffers: Vec<Bytes>,
}

impl Message {
    pub fn msg_type(&self) -> &str {
        &self.header.msg_type
    }

    /// Parses and verifies a multipart message off a socket.
    pub fn decode(frames: Vec<Bytes>, signer: &Signer) -> Result<Message, WireError> {
        let total = frames.len();
        let delimiter = frames
            .iter()
            .position(|frame| frame.as_ref() == DELIMITER)
            .ok_or(WireError::NoDelimiter { frames: total })?;
        let mut frames = frames.into_iter();
        let identities: Vec<Bytes> = frames.by_ref().take(delimiter).collect();
        frames.next(); // the delimiter itself
        let rest: Vec<Bytes> = frames.collect();
        if rest.len() < 5 {
            return Err(WireError::TooFewFrames { found: rest.len() });
        }
        signer.verify(&rest[0], [&rest[1], &rest[2], &rest[3], &rest[4]])?;
        let header: Value = parse_json("header", &rest[1])?;
        let header: Header = serde_json::from_value(header)
            .map_err(|error| WireError::BadHeader(error.to_string()))?;
        Ok(Message {
            identities,
            header,
            parent_header: parse_json("parent_header", &rest[2])?,
            metadata: parse_json("metadata", &rest[3])?,
            content: parse_json("content", &rest[4])?,
            buffers: rest[5..].to_vec(),
        })
    }

    /// The signed multipart form of this message.
    pub fn encode(&self, signer: &Signer) -> Vec<Bytes> {
        // Serialising plain JSON values and a derived struct cannot fail.
        let header = serde_json::to_vec(&self.header).unwrap_or_default();
        let parent = serde_json::to_vec(&self.parent_header).unwrap_or_default();
        let metadata = serde_json::to_vec(&self.metadata).unwrap_or_default();
        let content = serde_json::to_vec(&self.content).unwrap_or_default();
        let signature = signer.sign([&header, &parent, &metadata, &content]);
        let mut frames = self.identities.clone();
        frames.push(Bytes::from_static(DELIMITER));
        frames.push(Bytes::from(signature));
        frames.extend([header, parent, metadata, content].map(Bytes::from));
        frames.extend(self.buffers.iter().cloned());
        frames
    }
}

fn parse_json(frame: &'static str, bytes: &[u8]) -> Result<Value, WireError> {
    serde_json::from_slice(bytes).map_err(|source| WireError::BadJson { frame, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Message {
        Message {
            identities: vec![Bytes::from_static(b"client-1")],
            header: serde_json::from_value(json!({
                "msg_id": "m1", "session": "s1", "username": "u", "date": "2026-01-01T00:00:00Z",
                "msg_type": "execute_request", "version": "5.4", "subshell_id": null
            }))
            .unwrap(),
            parent_header: json!({}),
            metadata: json!({}),
            content: json!({"code": "SELECT 1"}),
            buffers: vec![Bytes::from_static(b"raw")],
        }
    }

    #[test]
    fn a_message_survives_encoding_and_decoding() {
        let signer = Signer::new(b"key");
        let decoded = Message::decode(sample().encode(&signer), &signer).unwrap();
        assert_eq!(decoded.identities, vec![Bytes::from_static(b"client-1")]);
        assert_eq!(decoded.msg_type(), "execute_request");
        assert_eq!(decoded.content["code"], "SELECT 1");
        assert_eq!(decoded.buffers.len(), 1);
        assert!(decoded.header.extra.contains_key("subshell_id"));
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        let signer = Signer::new(b"");
        let garbage = vec![Bytes::from_static(b"\xff\x00random")];
        assert!(matches!(
            Message::decode(garbage, &signer),
            Err(WireError::NoDelimiter { .. })
        ));
        let short = vec![
            Bytes::from_static(DELIMITER),
            Bytes::new(),
            Bytes::from("{}"),
        ];
        assert!(matches!(
            Message::decode(short, &signer),
            Err(WireError::TooFewFrames { found: 2 })
        ));
        let mut frames = sample().encode(&signer);
        let header_at = frames.len() - 5;
        frames[header_at] = Bytes::from_static(b"{\"msg_id\": \"x\"}");
        assert!(matches!(
            Message::decode(frames, &signer),
            Err(WireError::BadHeader(_))
        ));
        let mut frames = sample().encode(&signer);
        let content_at = frames.len() - 2;
        frames[content_at] = Bytes::from_static(b"not json");
        assert!(matches!(
            Message::decode(frames, &signer),
            Err(WireError::BadJson {
                frame: "content",
                ..
            })
        ));
    }
}
