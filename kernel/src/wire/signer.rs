//! HMAC-SHA256 signing and verification of the four JSON frames of a message.

use super::replay::ReplayGuard;
use super::WireError;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::sync::Mutex;

type HmacSha256 = Hmac<Sha256>;

/// Signs outgoing and checks incoming messages with the connection file's key. An empty
/// key switches signing off, as Jupyter specifies.
pub struct Signer {
    mac: Option<HmacSha256>,
    replay: Mutex<ReplayGuard>,
}

impl Signer {
    pub fn new(key: &[u8]) -> Self {
        let mac = (!key.is_empty())
            // HMAC accepts keys of any length, so this cannot fail for a non-empty key.
            .then(|| HmacSha256::new_from_slice(key).ok())
            .flatten();
        Signer {
            mac,
            replay: Mutex::new(ReplayGuard::new(1 << 16)),
        }
    }

    /// The lowercase hex signature of header, parent header, metadata and content.
    pub fn sign(&self, frames: [&[u8]; 4]) -> String {
        match &self.mac {
            None => String::new(),
            Some(mac) => {
                let mut mac = mac.clone();
                for frame in frames {
                    mac.update(frame);
                }
                hex::encode(mac.finalize().into_bytes())
            }
        }
    }

    /// Checks a signature in constant time and rejects one that was seen before.
    pub fn verify(&self, signature: &[u8], frames: [&[u8]; 4]) -> Result<(), WireError> {
        let Some(mac) = &self.mac else {
            return Ok(());
        };
        let expected = hex::decode(signature).map_err(|_| WireError::BadSignature)?;
        let mut mac = mac.clone();
        for frame in frames {
            mac.update(frame);
        }
        mac.verify_slice(&expected)
            .map_err(|_| WireError::BadSignature)?;
        let mut replay = self
            .replay
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !replay.first_sighting(signature) {
            return Err(WireError::Replayed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAMES: [&[u8]; 4] = [b"{\"a\":1}", b"{}", b"{}", b"{\"code\":\"SELECT 1\"}"];

    #[test]
    fn a_signed_message_verifies_once() {
        let signer = Signer::new(b"secret");
        let signature = signer.sign(FRAMES);
        assert_eq!(signature.len(), 64);
        assert!(signer.verify(signature.as_bytes(), FRAMES).is_ok());
        assert!(matches!(
            signer.verify(signature.as_bytes(), FRAMES),
            Err(WireError::Replayed)
        ));
    }

    #[test]
    fn a_wrong_key_or_changed_content_fails() {
        let signature = Signer::new(b"other").sign(FRAMES);
        let signer = Signer::new(b"secret");
        assert!(matches!(
            signer.verify(signature.as_bytes(), FRAMES),
            Err(WireError::BadSignature)
        ));
        let good = signer.sign(FRAMES);
        let changed: [&[u8]; 4] = [FRAMES[0], FRAMES[1], FRAMES[2], b"{}"];
        assert!(signer.verify(good.as_bytes(), changed).is_err());
        assert!(signer.verify(b"not hex", FRAMES).is_err());
    }

    #[test]
    fn an_empty_key_neither_signs_nor_checks() {
        let signer = Signer::new(b"");
        assert_eq!(signer.sign(FRAMES), "");
        assert!(signer.verify(b"", FRAMES).is_ok());
    }
}
