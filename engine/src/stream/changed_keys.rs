//! The keys of an updating aggregate that changed since its result was last worked out, and
//! their state rows from before: the old and new result rows of those keys alone are the
//! result's changes (`aggregate.rs`).

use super::aggregate::{Folded, KeyedState, Touched};
use crate::error::EngineError;
use datafusion::arrow::array::{RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use hashbrown::HashSet;

/// The keys of an updating result changed since it was last shown, and their state rows as
/// they were then.
#[derive(Default)]
pub(crate) struct ChangedKeys {
    pub(crate) keys: HashSet<Box<[u8]>>,
    pub(crate) before: Vec<RecordBatch>,
}

impl ChangedKeys {
    /// Notes the keys a fold touched; a key's first touch keeps its state row from before.
    pub(crate) fn note(&mut self, keyed: &KeyedState, folded: Folded) -> Result<(), EngineError> {
        let Some(before_keys) = keyed.keys_of(&folded.before)? else {
            return Ok(());
        };
        let first: Vec<u32> = before_keys
            .iter()
            .enumerate()
            .filter(|(_, key)| !self.keys.contains(key.data()))
            .map(|(i, _)| i as u32)
            .collect();
        if !first.is_empty() {
            let indices = UInt32Array::from(first);
            self.before
                .push(take_record_batch(&folded.before, &indices)?);
        }
        let touched = match folded.touched {
            Touched::Keys(keys) => keys,
            Touched::Rows(rows) => rows
                .iter()
                .filter_map(|batch| keyed.keys_of(batch).transpose())
                .collect::<Result<_, _>>()?,
        };
        for keys in &touched {
            for key in keys.iter() {
                if !self.keys.contains(key.data()) {
                    self.keys.insert(key.data().into());
                }
            }
        }
        Ok(())
    }
}
