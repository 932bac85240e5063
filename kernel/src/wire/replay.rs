//! Remembers signatures already seen, so a captured message cannot be sent again.

use std::collections::{HashSet, VecDeque};

/// A bounded set of signatures: past `capacity` the oldest is forgotten (ipykernel keeps
/// 2^16 as well).
pub struct ReplayGuard {
    seen: HashSet<Vec<u8>>,
    order: VecDeque<Vec<u8>>,
    capacity: usize,
}

impl ReplayGuard {
    pub fn new(capacity: usize) -> Self {
        ReplayGuard {
            seen: HashSet::with_capacity(capacity.min(1024)),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Records `signature`; false if it was seen before.
    pub fn first_sighting(&mut self, signature: &[u8]) -> bool {
        if self.seen.contains(signature) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.seen.insert(signature.to_vec());
        self.order.push_back(signature.to_vec());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_accepted_once() {
        let mut guard = ReplayGuard::new(4);
        assert!(guard.first_sighting(b"a"));
        assert!(!guard.first_sighting(b"a"));
        assert!(guard.first_sighting(b"b"));
    }

    #[test]
    fn the_oldest_signature_is_forgotten_past_capacity() {
        let mut guard = ReplayGuard::new(2);
        assert!(guard.first_sighting(b"a"));
        assert!(guard.first_sighting(b"b"));
        assert!(guard.first_sighting(b"c"));
        assert!(guard.first_sighting(b"a"));
        assert!(!guard.first_sighting(b"c"));
    }
}
