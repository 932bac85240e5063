//! What a running source says of itself beside its rows, for a query's status line and
//! `%jobs`: how far behind the end of its input it is (a Kafka consumer's lag), and the
//! trouble it is riding out (a broker that went away, retried until it returns); and, for
//! the query's watermark, the event time every part of its input has reached (a Kafka
//! source's partitions each have a watermark, as in Flink, and the query's is the least).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

#[derive(Debug)]
pub(crate) struct SourceReport {
    /// Records behind the end of the input; negative while unknown.
    lag: AtomicI64,
    trouble: Mutex<Option<String>>,
    /// Whether `trouble` holds something: read for every record, locked only when set.
    troubled: std::sync::atomic::AtomicBool,
    /// The least, over the parts of the input still moving, of the largest event time each
    /// has shown (ms); `i64::MIN` while a part has shown none, `i64::MAX` when nothing holds
    /// time back (every part idle or done).
    time_bound: AtomicI64,
    /// Whether the source keeps `time_bound` at all.
    bounds_time: std::sync::atomic::AtomicBool,
    /// Bytes of state the source itself keeps (an upsert source's latest row of each key),
    /// counted with the query's against the memory limit.
    state_bytes: std::sync::atomic::AtomicU64,
}

impl Default for SourceReport {
    fn default() -> Self {
        SourceReport {
            lag: AtomicI64::new(-1),
            trouble: Mutex::new(None),
            troubled: std::sync::atomic::AtomicBool::new(false),
            time_bound: AtomicI64::new(i64::MIN),
            bounds_time: std::sync::atomic::AtomicBool::new(false),
            state_bytes: std::sync::atomic::AtomicU64::new(0),
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
            self.troubled.store(true, Ordering::Relaxed);
        }
    }

    /// The source works again.
    pub(crate) fn clear_trouble(&self) {
        if !self.troubled.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut current) = self.trouble.lock() {
            current.take();
            self.troubled.store(false, Ordering::Relaxed);
        }
    }

    pub(crate) fn trouble(&self) -> Option<String> {
        self.trouble.lock().ok().and_then(|t| t.clone())
    }

    pub(crate) fn set_state_bytes(&self, bytes: usize) {
        self.state_bytes.store(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn state_bytes(&self) -> usize {
        usize::try_from(self.state_bytes.load(Ordering::Relaxed)).unwrap_or(usize::MAX)
    }

    /// Says the event time every moving part of the input has reached (see `time_bound`).
    pub(crate) fn set_time_bound(&self, millis: i64) {
        self.time_bound.store(millis, Ordering::Relaxed);
        self.bounds_time.store(true, Ordering::Relaxed);
    }

    /// The event time every moving part of the input has reached, if the source says.
    pub(crate) fn time_bound(&self) -> Option<i64> {
        self.bounds_time
            .load(Ordering::Relaxed)
            .then(|| self.time_bound.load(Ordering::Relaxed))
    }
}
