//! The Jupyter wire protocol below the message types: connection files, multipart framing,
//! HMAC-SHA256 signatures and replay protection.

mod connection;
mod error;
mod message;
mod replay;
mod signer;

pub use connection::ConnectionInfo;
pub use error::WireError;
pub use message::{Header, Message};
pub use signer::Signer;
