//! Why an incoming message was dropped.

/// Every way a message off the wire can be unusable. The kernel logs these and goes on:
/// whatever a peer sends, it never takes the kernel down.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("no <IDS|MSG> delimiter among {frames} frames")]
    NoDelimiter { frames: usize },
    #[error("{found} frames after the delimiter, at least 5 needed (signature, header, parent header, metadata, content)")]
    TooFewFrames { found: usize },
    #[error("bad signature")]
    BadSignature,
    #[error("replayed message: this signature was seen before")]
    Replayed,
    #[error("the {frame} frame is not valid JSON: {source}")]
    BadJson {
        frame: &'static str,
        source: serde_json::Error,
    },
    #[error("the header lacks {0}")]
    BadHeader(String),
}
