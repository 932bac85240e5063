//! What a running source says of itself beside its rows, for a query's status line and
//! `%jobs`: how far behind the end of its input it is (a Kafka consumer's lag), and the
//! trouble it is riding out (a broker that went away, retried until it returns).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

#[derive(Debug)]
pub(crate) struct SourceReport {
    /// Records behind the end of the input; negative while unknown.
    lag: AtomicI64,
    trouble: Mutex<Option<String>>,
}

impl Default for SourceReport {
    fn default() -> Self {
        SourceReport {
            lag: AtomicI64::new(-1),
            trouble: Mutex::new(None),
        }
    }
}

impl SourceReport {
    pub(crate) fn set_lag(&self, records: u64) {
        self.lag.store(
            i64::try_from(records).unwrap_or(i64::MAX),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn lag(&self) -> Option<u64> {
        u64::try_from(self.lag.load(Ordering::Relaxed)).ok()
    }

    /// Says what is wrong (replacing what was said before).
    pub(crate) fn set_trouble(&self, trouble: String) {
        if let Ok(mut current) = self.trouble.lock() {
            *current = Some(trouble);
        }
    }

    /// The source works again.
    pub(crate) fn clear_trouble(&self) {
        if let Ok(mut current) = self.trouble.lock() {
            current.take();
        }
    }

    pub(crate) fn trouble(&self) -> Option<String> {
        self.trouble.lock().ok().and_then(|t| t.clone())
    }
}
