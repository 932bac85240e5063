//! Rows kept across micro-batches and found again by a key, so a tick's work is the keys it
//! touched rather than all the rows kept.
//!
//! Rows stay in the Arrow batches they came in; an index maps each row's key (its key columns
//! in Arrow's row format, which compares bytes) to where it lives. Taking a row out marks it
//! dead in its batch; the batches are compacted once dead rows outnumber live ones, so the
//! memory and the cost of a full read stay within twice the live rows.
//!
//! The same key may be kept more than once (a multiset, e.g. result rows keyed by every
//! column): taking a key then takes one of its rows.

use crate::error::EngineError;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{filter_record_batch, interleave};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use hashbrown::hash_table::HashTable;
use hashbrown::DefaultHashBuilder;
use std::hash::BuildHasher;
use std::time::Instant;

/// Where a row lives: its batch and its row in that batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Location {
    batch: u32,
    row: u32,
}

/// A batch of kept rows with their keys in row format and which of them are still live.
struct Stored {
    /// When its rows were written: a row's update takes it out and writes it again in a new
    /// batch, so this is each row's last write (what a state TTL counts from).
    written: Instant,
    batch: RecordBatch,
    keys: Rows,
    live: Vec<bool>,
    dead: usize,
}

/// Rows found by the values of some of their columns.
pub(crate) struct KeyedRows {
    schema: SchemaRef,
    key_columns: Vec<usize>,
    converter: RowConverter,
    hasher: DefaultHashBuilder,
    stored: Vec<Stored>,
    index: HashTable<Location>,
    live_rows: usize,
    /// Dead rows in batches that still have live ones (a batch whose rows all died is
    /// emptied at once).
    dead_rows: usize,
    /// Stored batches emptied that way: their slots stay until compaction, so the
    /// locations of the others hold.
    emptied: usize,
    /// Bytes the stored batches, their keys and live marks hold (dead rows included, until
    /// compaction frees them).
    stored_bytes: usize,
}

impl KeyedRows {
    /// An empty store of rows of `schema`, found by the columns at `key_columns`.
    pub(crate) fn new(schema: SchemaRef, key_columns: Vec<usize>) -> Result<Self, EngineError> {
        let fields = key_columns
            .iter()
            .map(|&i| SortField::new(schema.field(i).data_type().clone()))
            .collect();
        Ok(KeyedRows {
            schema,
            key_columns,
            converter: RowConverter::new(fields)?,
            hasher: DefaultHashBuilder::default(),
            stored: Vec::new(),
            index: HashTable::new(),
            live_rows: 0,
            dead_rows: 0,
            emptied: 0,
            stored_bytes: 0,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.live_rows
    }

    /// The keys of `batch`'s rows, in the form `take` and `get` look them up by.
    pub(crate) fn keys_of(&self, batch: &RecordBatch) -> Result<Rows, EngineError> {
        let columns: Vec<ArrayRef> = self
            .key_columns
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect();
        Ok(self.converter.convert_columns(&columns)?)
    }

    /// Keys made of other columns of the same types as the key columns (the other side's
    /// keys of a join).
    pub(crate) fn keys_of_columns(&self, columns: &[ArrayRef]) -> Result<Rows, EngineError> {
        Ok(self.converter.convert_columns(columns)?)
    }

    /// Keeps the rows of `batch`.
    pub(crate) fn insert(&mut self, batch: RecordBatch) -> Result<(), EngineError> {
        self.insert_written(batch, Instant::now())
    }

    fn insert_written(&mut self, batch: RecordBatch, written: Instant) -> Result<(), EngineError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let keys = self.keys_of(&batch)?;
        let at = self.stored.len();
        self.live_rows += batch.num_rows();
        self.stored_bytes += batch.get_array_memory_size() + keys.size() + batch.num_rows();
        self.stored.push(Stored {
            written,
            live: vec![true; batch.num_rows()],
            dead: 0,
            batch,
            keys,
        });
        // Growing the index rehashes what it holds, this batch's rows included: they are
        // stored before they are indexed.
        let stored = &self.stored;
        for (row, key) in stored[at].keys.iter().enumerate() {
            let hash = self.hasher.hash_one(key.data());
            let location = Location {
                batch: at as u32,
                row: row as u32,
            };
            self.index
                .insert_unique(hash, location, |l| hash_at(&self.hasher, stored, *l));
        }
        Ok(())
    }

    /// Takes out one kept row for each of `keys` (in the form of [`keys_of`](Self::keys_of))
    /// that has one; returns them in one batch.
    pub(crate) fn take<'a>(
        &mut self,
        keys: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<RecordBatch, EngineError> {
        let taken: Vec<Location> = keys.into_iter().filter_map(|k| self.remove(k)).collect();
        self.taken(&taken)
    }

    /// Takes out every kept row of each of `keys`; returns them in one batch.
    pub(crate) fn take_all<'a>(
        &mut self,
        keys: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<RecordBatch, EngineError> {
        let mut taken = Vec::new();
        for key in keys {
            while let Some(location) = self.remove(key) {
                taken.push(location);
            }
        }
        self.taken(&taken)
    }

    /// Takes one row of `key` out of the index and marks it dead.
    fn remove(&mut self, key: &[u8]) -> Option<Location> {
        let hash = self.hasher.hash_one(key);
        let stored = &self.stored;
        let entry = self
            .index
            .find_entry(hash, |l| {
                stored[l.batch as usize].keys.row(l.row as usize).data() == key
            })
            .ok()?;
        let (location, _) = entry.remove();
        self.mark_dead(location);
        Some(location)
    }

    fn mark_dead(&mut self, location: Location) {
        let batch = &mut self.stored[location.batch as usize];
        batch.live[location.row as usize] = false;
        batch.dead += 1;
        self.live_rows -= 1;
        self.dead_rows += 1;
    }

    /// The rows just taken out, in one batch; compacts the store if they left it sparse.
    fn taken(&mut self, taken: &[Location]) -> Result<RecordBatch, EngineError> {
        let rows = self.gather(taken)?;
        self.empty_dead_batches(taken.iter().map(|l| l.batch as usize));
        self.compact_if_sparse()?;
        Ok(rows)
    }

    /// Frees the stored batches among `batches` whose rows have all died. A small state
    /// that changes every tick (a Top-N's few rows, a few keys) would otherwise keep each
    /// tick's batch — and whatever buffers its arrays share — until dead rows pile up.
    fn empty_dead_batches(&mut self, batches: impl IntoIterator<Item = usize>) {
        for at in batches {
            let stored = &mut self.stored[at];
            if stored.batch.num_rows() == 0 || stored.dead < stored.live.len() {
                continue;
            }
            let bytes =
                stored.batch.get_array_memory_size() + stored.keys.size() + stored.batch.num_rows();
            self.stored_bytes = self.stored_bytes.saturating_sub(bytes);
            self.dead_rows -= stored.dead;
            stored.batch = RecordBatch::new_empty(self.schema.clone());
            stored.keys = self.converter.empty_rows(0, 0);
            stored.live = Vec::new();
            stored.dead = 0;
            self.emptied += 1;
        }
    }

    /// The kept rows of `keys` (one per key, for keys that have one), left in place.
    pub(crate) fn get<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<RecordBatch, EngineError> {
        let found: Vec<Location> = keys.into_iter().filter_map(|key| self.find(key)).collect();
        self.gather(&found)
    }

    /// Where one kept row of `key` is.
    fn find(&self, key: &[u8]) -> Option<Location> {
        let hash = self.hasher.hash_one(key);
        self.index
            .find(hash, |l| {
                self.stored[l.batch as usize]
                    .keys
                    .row(l.row as usize)
                    .data()
                    == key
            })
            .copied()
    }

    /// Bytes held: the stored rows (live and not yet compacted dead ones), their keys and
    /// the index.
    pub(crate) fn bytes(&self) -> usize {
        self.stored_bytes + self.index.allocation_size()
    }

    /// Whether a row of `key` is kept.
    pub(crate) fn contains(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Every kept row of each of `keys`, left in place (a key probed twice gives its rows
    /// twice).
    pub(crate) fn get_all<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<RecordBatch, EngineError> {
        let mut found = Vec::new();
        for key in keys {
            let hash = self.hasher.hash_one(key);
            found.extend(self.index.iter_hash(hash).filter(|l| {
                self.stored[l.batch as usize]
                    .keys
                    .row(l.row as usize)
                    .data()
                    == key
            }));
        }
        self.gather(&found)
    }

    /// Takes out the rows `select` marks in each kept batch.
    pub(crate) fn take_where(
        &mut self,
        select: impl Fn(&RecordBatch) -> Result<BooleanArray, EngineError>,
    ) -> Result<Vec<RecordBatch>, EngineError> {
        let mut taken = Vec::new();
        for at in 0..self.stored.len() {
            let mask = select(&self.stored[at].batch)?;
            let chosen: Vec<u32> = (0..mask.len())
                .filter(|&row| self.stored[at].live[row] && mask.is_valid(row) && mask.value(row))
                .map(|row| row as u32)
                .collect();
            for row in chosen {
                taken.push(self.drop_row(at, row));
            }
        }
        let rows = self.taken(&taken)?;
        Ok(if rows.num_rows() > 0 {
            vec![rows]
        } else {
            Vec::new()
        })
    }

    /// Drops the rows last written before `written_before` (a state TTL); returns how many.
    pub(crate) fn expire(&mut self, written_before: Instant) -> Result<usize, EngineError> {
        let mut dropped = 0;
        for at in 0..self.stored.len() {
            if self.stored[at].written >= written_before
                || self.stored[at].dead == self.stored[at].live.len()
            {
                continue;
            }
            let live: Vec<u32> = (0..self.stored[at].live.len())
                .filter(|&row| self.stored[at].live[row])
                .map(|row| row as u32)
                .collect();
            for row in live {
                self.drop_row(at, row);
                dropped += 1;
            }
            self.empty_dead_batches([at]);
        }
        self.compact_if_sparse()?;
        Ok(dropped)
    }

    /// Takes the live row `row` of stored batch `at` out of the index and marks it dead.
    fn drop_row(&mut self, at: usize, row: u32) -> Location {
        let location = Location {
            batch: at as u32,
            row,
        };
        // Rows without key columns (one partition) are not in the index.
        if (row as usize) < self.stored[at].keys.num_rows() {
            let key = self.stored[at].keys.row(row as usize);
            let hash = self.hasher.hash_one(key.data());
            if let Ok(entry) = self.index.find_entry(hash, |l| *l == location) {
                entry.remove();
            }
        }
        self.mark_dead(location);
        location
    }

    /// Every live row, batch by batch.
    pub(crate) fn batches(&self) -> Result<Vec<RecordBatch>, EngineError> {
        let mut out = Vec::with_capacity(self.stored.len());
        for stored in &self.stored {
            if stored.batch.num_rows() == 0 {
                continue;
            }
            if stored.dead == 0 {
                out.push(stored.batch.clone());
            } else if stored.dead < stored.live.len() {
                let mask = BooleanArray::from(stored.live.clone());
                out.push(filter_record_batch(&stored.batch, &mask)?);
            }
        }
        Ok(out)
    }

    /// The rows at `locations`, in that order, in one batch.
    fn gather(&self, locations: &[Location]) -> Result<RecordBatch, EngineError> {
        if locations.is_empty() {
            return Ok(RecordBatch::new_empty(self.schema.clone()));
        }
        let indices: Vec<(usize, usize)> = locations
            .iter()
            .map(|l| (l.batch as usize, l.row as usize))
            .collect();
        let columns = (0..self.schema.fields().len())
            .map(|c| {
                let arrays: Vec<&dyn Array> = self
                    .stored
                    .iter()
                    .map(|s| s.batch.column(c).as_ref())
                    .collect();
                interleave(&arrays, &indices)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }

    /// Rewrites the kept rows into one batch once dead rows outnumber live ones (and are
    /// many), so dead rows cost at most as much as live ones.
    fn compact_if_sparse(&mut self) -> Result<(), EngineError> {
        let sparse = self.dead_rows > self.live_rows && self.dead_rows >= 4096;
        // Emptied slots cost little each, but one a tick adds up.
        let emptied = self.emptied >= 1024 && self.emptied > self.stored.len() / 2;
        if !sparse && !emptied {
            return Ok(());
        }
        let mut live = Vec::with_capacity(self.stored.len());
        for stored in &self.stored {
            if stored.dead < stored.live.len() {
                let mask = BooleanArray::from(stored.live.clone());
                live.push((filter_record_batch(&stored.batch, &mask)?, stored.written));
            }
        }
        self.stored.clear();
        self.index.clear();
        self.live_rows = 0;
        self.dead_rows = 0;
        self.emptied = 0;
        self.stored_bytes = 0;
        for (batch, written) in live {
            self.insert_written(batch, written)?;
        }
        Ok(())
    }
}

fn hash_at(hasher: &DefaultHashBuilder, stored: &[Stored], location: Location) -> u64 {
    let key = stored[location.batch as usize]
        .keys
        .row(location.row as usize);
    hasher.hash_one(key.data())
}

/// Whether an entry for `location` exists (for tests).
#[cfg(test)]
impl KeyedRows {
    fn indexed(&self) -> usize {
        self.index.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use std::sync::Arc;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("v", DataType::Int64, true),
        ]))
    }

    fn batch(rows: &[(&str, i64)]) -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            ],
        )
        .unwrap()
    }

    fn values(batches: &[RecordBatch]) -> Vec<(String, i64)> {
        let mut out: Vec<(String, i64)> = batches
            .iter()
            .flat_map(|b| {
                let k = b.column(0).as_string::<i32>().clone();
                let v = b.column(1).as_primitive::<Int64Type>().clone();
                (0..b.num_rows())
                    .map(move |i| (k.value(i).to_string(), v.value(i)))
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn rows_are_found_taken_and_replaced_by_key() {
        let mut store = KeyedRows::new(schema(), vec![0]).unwrap();
        store
            .insert(batch(&[("a", 1), ("b", 2), ("c", 3)]))
            .unwrap();
        let probe = store.keys_of(&batch(&[("b", 0), ("z", 0)])).unwrap();
        assert_eq!(
            values(&[store.get(probe.iter().map(|k| k.data())).unwrap()]),
            [("b".into(), 2)]
        );
        let taken = store.take(probe.iter().map(|k| k.data())).unwrap();
        assert_eq!(values(&[taken]), [("b".into(), 2)]);
        store.insert(batch(&[("b", 20)])).unwrap();
        assert_eq!(store.len(), 3);
        assert_eq!(
            values(&store.batches().unwrap()),
            [("a".into(), 1), ("b".into(), 20), ("c".into(), 3)]
        );
    }

    #[test]
    fn rows_last_written_before_a_time_expire_and_compaction_keeps_their_times() {
        let pause = || std::thread::sleep(std::time::Duration::from_millis(3));
        let mut store = KeyedRows::new(schema(), vec![0]).unwrap();
        store.insert(batch(&[("a", 1), ("b", 2)])).unwrap();
        pause();
        let cut = Instant::now();
        pause();
        // b is written again after the cut; c comes after it.
        let probe = store.keys_of(&batch(&[("b", 0)])).unwrap();
        let b = store.take(probe.iter().map(|k| k.data())).unwrap();
        store.insert(b).unwrap();
        store.insert(batch(&[("c", 3)])).unwrap();
        assert_eq!(store.expire(cut).unwrap(), 1);
        assert_eq!(
            values(&store.batches().unwrap()),
            [("b".into(), 2), ("c".into(), 3)]
        );
        // Compaction (once dead rows outnumber live ones) keeps each batch's write time.
        let many: Vec<(String, i64)> = (0..5000).map(|i| (format!("k{i}"), i)).collect();
        let rows: Vec<(&str, i64)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        store.insert(batch(&rows)).unwrap();
        pause();
        let second_cut = Instant::now();
        pause();
        let probe = store.keys_of(&batch(&rows)).unwrap();
        let taken = store.take(probe.iter().map(|k| k.data())).unwrap();
        assert_eq!(taken.num_rows(), 5000);
        assert_eq!(store.len(), 2);
        assert_eq!(store.expire(second_cut).unwrap(), 2);
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn a_key_kept_twice_is_taken_once_per_probe() {
        let mut store = KeyedRows::new(schema(), vec![0, 1]).unwrap();
        store
            .insert(batch(&[("a", 1), ("a", 1), ("b", 2)]))
            .unwrap();
        let probe = store.keys_of(&batch(&[("a", 1)])).unwrap();
        let probe = || probe.iter().map(|k| k.data());
        assert_eq!(store.take(probe()).unwrap().num_rows(), 1);
        assert_eq!(store.len(), 2);
        assert_eq!(store.take(probe()).unwrap().num_rows(), 1);
        assert_eq!(store.take(probe()).unwrap().num_rows(), 0);
        assert_eq!(values(&store.batches().unwrap()), [("b".into(), 2)]);
    }

    #[test]
    fn every_row_of_a_key_is_taken_at_once() {
        let mut store = KeyedRows::new(schema(), vec![0]).unwrap();
        store
            .insert(batch(&[("a", 1), ("b", 2), ("a", 3)]))
            .unwrap();
        store.insert(batch(&[("a", 4)])).unwrap();
        let probe = store.keys_of(&batch(&[("a", 0), ("a", 0)])).unwrap();
        let taken = store.take_all(probe.iter().map(|k| k.data())).unwrap();
        assert_eq!(
            values(&[taken]),
            [("a".into(), 1), ("a".into(), 3), ("a".into(), 4)]
        );
        assert_eq!(values(&store.batches().unwrap()), [("b".into(), 2)]);
    }

    #[test]
    fn dead_rows_are_compacted_away() {
        let mut store = KeyedRows::new(schema(), vec![0]).unwrap();
        let names: Vec<String> = (0..10_000).map(|i| format!("k{i}")).collect();
        let rows: Vec<(&str, i64)> = names.iter().map(|n| (n.as_str(), 1)).collect();
        store.insert(batch(&rows)).unwrap();
        // Replace every key, a thousand at a time: dead rows never pile up past the live.
        for chunk in rows.chunks(1_000) {
            let update: Vec<(&str, i64)> = chunk.iter().map(|r| (r.0, 2)).collect();
            let update = batch(&update);
            let keys = store.keys_of(&update).unwrap();
            let taken = store.take(keys.iter().map(|k| k.data())).unwrap();
            assert_eq!(taken.num_rows(), 1_000);
            store.insert(update).unwrap();
            assert!(store.dead_rows <= store.live_rows.max(4096));
        }
        assert_eq!(store.len(), 10_000);
        assert_eq!(store.indexed(), 10_000);
        assert!(values(&store.batches().unwrap())
            .iter()
            .all(|(_, v)| *v == 2));
    }

    #[test]
    fn a_batch_whose_rows_all_died_is_emptied_at_once() {
        // A few keys replaced every tick (a Top-N's rows, say): each tick's batch dies
        // whole at the next, and must not be held until dead rows pile up.
        let mut store = KeyedRows::new(schema(), vec![0]).unwrap();
        store.insert(batch(&[("a", 0), ("b", 0)])).unwrap();
        let one_batch = store.bytes();
        for tick in 1..3_000 {
            let update = batch(&[("a", tick), ("b", tick)]);
            let keys = store.keys_of(&update).unwrap();
            let taken = store.take(keys.iter().map(|k| k.data())).unwrap();
            assert_eq!(taken.num_rows(), 2);
            store.insert(update).unwrap();
            assert!(
                store.bytes() < one_batch * 4,
                "tick {tick}: {}",
                store.bytes()
            );
        }
        // Emptied slots are compacted away too.
        assert!(store.stored.len() <= 2_100, "{}", store.stored.len());
        assert_eq!(
            values(&store.batches().unwrap()),
            vec![("a".into(), 2_999), ("b".into(), 2_999)]
        );
        assert_eq!(store.indexed(), 2);
    }

    #[test]
    fn rows_are_taken_where_a_mask_says() {
        let mut store = KeyedRows::new(schema(), vec![0]).unwrap();
        store.insert(batch(&[("a", 1), ("b", 5)])).unwrap();
        store.insert(batch(&[("c", 7)])).unwrap();
        let taken = store
            .take_where(|b| {
                let v = b.column(1).as_primitive::<Int64Type>();
                Ok(v.iter().map(|v| v.map(|v| v > 2)).collect())
            })
            .unwrap();
        assert_eq!(values(&taken), [("b".into(), 5), ("c".into(), 7)]);
        assert_eq!(values(&store.batches().unwrap()), [("a".into(), 1)]);
        let probe = store.keys_of(&batch(&[("c", 0)])).unwrap();
        let found = store.get(probe.iter().map(|k| k.data())).unwrap();
        assert_eq!(found.num_rows(), 0);
    }
}
