//! The columns of file tables that queries have already decoded, kept in memory so that the
//! next question over an unchanged file does not parse it again (no `CACHE TABLE` needed).
//!
//! A table's entry holds the columns read so far, as one set: a query that reads columns the
//! entry lacks reads them from the files together with the entry's, and its result replaces
//! the entry; a query whose columns the entry has is answered from memory. The first read of
//! a file that fits the budget decodes every column (`columns_to_read` says why). An entry belongs
//! to the files as they were read, by name, size and modification time: when any differs, or
//! a file comes or goes, the entry is dropped and the files read again. Entries live within a
//! budget (a quarter of the engine's memory limit); the least recently used go first.
//! Their bytes are reserved in the engine's memory pool beside queries' (`evicting_pool.rs`):
//! a query that needs the room makes the least recently used go.

use crate::batch::cached_scan::CachedRows;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool, MemoryReservation};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// Arrow's bytes per byte of CSV text, as an estimate made before reading: numbers take
/// eight bytes where their text takes about as many, strings their text and four bytes of
/// offset. (The MUBI ratings file, 1.8 GB of text, is about 2 GB decoded.)
const DECODED_PER_FILE_BYTE: f64 = 1.25;

/// The columns a scan reads to keep them: the first `needed` are the query's and those kept
/// before; the rest are read ahead, and kept only if the whole read fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnsToRead {
    pub(crate) columns: Vec<usize>,
    pub(crate) needed: usize,
}

/// One file of a table as it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileStamp {
    pub(crate) path: String,
    pub(crate) size: u64,
    pub(crate) modified: Option<SystemTime>,
}

/// What is kept of one table.
#[derive(Debug)]
struct Entry {
    files: Vec<FileStamp>,
    /// The table's columns held, in the order of `rows`' columns.
    columns: Vec<usize>,
    rows: Arc<CachedRows>,
    bytes: usize,
    last_used: u64,
}

/// What a table has in memory, for `%table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptColumns {
    pub columns: Vec<String>,
    pub bytes: usize,
}

/// The kept columns of every file table of an engine.
#[derive(Debug)]
pub(crate) struct ColumnMemory {
    enabled: AtomicBool,
    budget: usize,
    entries: Mutex<HashMap<u64, Entry>>,
    /// The entries' bytes, reserved in the engine's pool (none in unit tests).
    reservation: Option<MemoryReservation>,
    uses: AtomicU64,
    next_table: AtomicU64,
}

impl ColumnMemory {
    /// Kept columns within `budget` bytes, not counted in any pool.
    #[cfg(test)]
    pub(crate) fn new(budget: usize) -> Self {
        Self::build(budget, None)
    }

    /// Kept columns within `budget` bytes, reserved in `pool` (the pool queries' memory
    /// comes from, not the evicting pool over it: keeping never evicts).
    pub(crate) fn in_pool(budget: usize, pool: &Arc<dyn MemoryPool>) -> Self {
        let reservation = MemoryConsumer::new("kept file columns").register(pool);
        Self::build(budget, Some(reservation))
    }

    fn build(budget: usize, reservation: Option<MemoryReservation>) -> Self {
        ColumnMemory {
            enabled: AtomicBool::new(true),
            budget,
            entries: Mutex::default(),
            reservation,
            uses: AtomicU64::new(0),
            next_table: AtomicU64::new(1),
        }
    }

    /// Removes `table`'s entry and gives its bytes back to the pool.
    fn remove(&self, entries: &mut HashMap<u64, Entry>, table: u64) -> Option<Entry> {
        let gone = entries.remove(&table)?;
        if let Some(reservation) = &self.reservation {
            reservation.shrink(gone.bytes.min(reservation.size()));
        }
        Some(gone)
    }

    /// Removes the least recently used entry; false when there is none.
    fn remove_oldest(&self, entries: &mut HashMap<u64, Entry>) -> bool {
        let Some((&oldest, _)) = entries.iter().min_by_key(|(_, e)| e.last_used) else {
            return false;
        };
        self.remove(entries, oldest).is_some()
    }

    /// Drops the least recently used table's columns for a query that needs the room;
    /// false when nothing is kept.
    pub(crate) fn give_way(&self) -> bool {
        let mut entries = self.entries();
        self.remove_oldest(&mut entries)
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<u64, Entry>> {
        // A panic while holding the lock leaves the map as it was: go on with it.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A number that names a table's entry, unique for the engine's life.
    pub(crate) fn new_table_id(&self) -> u64 {
        self.next_table.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Turns keeping on or off; off drops everything kept.
    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
        if !on {
            let mut entries = self.entries();
            while self.remove_oldest(&mut entries) {}
        }
    }

    pub(crate) fn budget(&self) -> usize {
        self.budget
    }

    /// The tables with columns kept, and the bytes they hold.
    pub(crate) fn held(&self) -> (usize, usize) {
        let entries = self.entries();
        (entries.len(), entries.values().map(|e| e.bytes).sum())
    }

    /// The rows of `table`'s columns `wanted`, and where each is among them, when they are
    /// kept for these `files`. An entry for other files is dropped.
    pub(crate) fn lookup(
        &self,
        table: u64,
        files: &[FileStamp],
        wanted: &[usize],
    ) -> Option<(Arc<CachedRows>, Vec<usize>)> {
        let mut entries = self.entries();
        let entry = entries.get_mut(&table)?;
        if entry.files != files {
            self.remove(&mut entries, table);
            return None;
        }
        let positions = wanted
            .iter()
            .map(|column| entry.columns.iter().position(|c| c == column))
            .collect::<Option<Vec<usize>>>()?;
        entry.last_used = self.uses.fetch_add(1, Ordering::Relaxed);
        Some((entry.rows.clone(), positions))
    }

    /// The columns a query wanting `wanted` of `table` (of `width` columns) reads from the
    /// files. With columns kept already: those and the wanted ones, so that the entry that
    /// replaces the kept one has both. With none kept: every column, when the files'
    /// decoded size (estimated at [`DECODED_PER_FILE_BYTE`] times their bytes) fits in the
    /// budget beside the other tables' entries — tokenising the text is most of a read, so
    /// decoding every column costs a first question little more than decoding its own, and
    /// spares each later question over other columns a read of the whole file.
    pub(crate) fn columns_to_read(
        &self,
        table: u64,
        files: &[FileStamp],
        wanted: &[usize],
        width: usize,
    ) -> ColumnsToRead {
        let mut columns: Vec<usize> = wanted.to_vec();
        let needed = wanted.len();
        let entries = self.entries();
        if let Some(entry) = entries.get(&table).filter(|e| e.files == files) {
            columns.extend(entry.columns.iter().filter(|c| !wanted.contains(c)));
            let needed = columns.len();
            return ColumnsToRead { columns, needed };
        }
        let others: usize = entries
            .iter()
            .filter(|(id, _)| **id != table)
            .map(|(_, e)| e.bytes)
            .sum();
        let file_bytes: u64 = files.iter().map(|f| f.size).sum();
        let decoded = (file_bytes as f64 * DECODED_PER_FILE_BYTE) as usize;
        if decoded.saturating_add(others) <= self.budget {
            columns.extend((0..width).filter(|c| !wanted.contains(c)));
        }
        ColumnsToRead { columns, needed }
    }

    /// Keeps `rows` (the table's `columns`, read from `files`) as `table`'s entry, if they
    /// fit the budget: the least recently used entries make room. False when not kept.
    pub(crate) fn keep(
        &self,
        table: u64,
        files: Vec<FileStamp>,
        columns: Vec<usize>,
        rows: CachedRows,
        bytes: usize,
    ) -> bool {
        if !self.is_enabled() || bytes > self.budget {
            return false;
        }
        let mut entries = self.entries();
        self.remove(&mut entries, table);
        while entries.values().map(|e| e.bytes).sum::<usize>() + bytes > self.budget {
            if !self.remove_oldest(&mut entries) {
                break;
            }
        }
        // The pool may be short too (queries hold the rest): older entries make room, and
        // what still does not fit is not kept.
        if let Some(reservation) = &self.reservation {
            while reservation.try_grow(bytes).is_err() {
                if !self.remove_oldest(&mut entries) {
                    return false;
                }
            }
        }
        entries.insert(
            table,
            Entry {
                files,
                columns,
                rows: Arc::new(rows),
                bytes,
                last_used: self.uses.fetch_add(1, Ordering::Relaxed),
            },
        );
        true
    }

    /// Drops what is kept of `table` (dropped or declared again).
    pub(crate) fn forget(&self, table: u64) {
        let mut entries = self.entries();
        self.remove(&mut entries, table);
    }

    /// What is kept of `table`: its columns' names, in the table's order, and bytes.
    pub(crate) fn kept(&self, table: u64) -> Option<KeptColumns> {
        let entries = self.entries();
        let entry = entries.get(&table)?;
        let schema = entry.rows.schema();
        let mut named: Vec<(usize, String)> = entry
            .columns
            .iter()
            .zip(schema.fields().iter())
            .map(|(&column, field)| (column, field.name().clone()))
            .collect();
        named.sort_unstable();
        Some(KeptColumns {
            columns: named.into_iter().map(|(_, name)| name).collect(),
            bytes: entry.bytes,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    pub(crate) fn rows(columns: usize) -> CachedRows {
        let schema = Arc::new(Schema::new(
            (0..columns)
                .map(|c| Field::new(format!("c{c}"), DataType::Int64, true))
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(
            schema.clone(),
            (0..columns)
                .map(|_| Arc::new(Int64Array::from(vec![1, 2])) as _)
                .collect(),
        )
        .expect("a batch");
        CachedRows::new(schema, vec![vec![batch]])
    }

    pub(crate) fn stamp(size: u64) -> Vec<FileStamp> {
        vec![FileStamp {
            path: "/data/a.csv".into(),
            size,
            modified: None,
        }]
    }

    #[test]
    fn kept_columns_answer_for_the_same_files_only() {
        let memory = ColumnMemory::new(1 << 20);
        memory.keep(1, stamp(10), vec![3, 1], rows(2), 100);
        let (_, positions) = memory.lookup(1, &stamp(10), &[1]).expect("kept");
        assert_eq!(positions, [1]);
        assert!(
            memory.lookup(1, &stamp(10), &[2]).is_none(),
            "column 2 not kept"
        );
        assert_eq!(
            memory.columns_to_read(1, &stamp(10), &[2], 4),
            ColumnsToRead {
                columns: vec![2, 3, 1],
                needed: 3
            }
        );
        // The file changed: the entry goes.
        assert!(memory.lookup(1, &stamp(11), &[1]).is_none());
        assert_eq!(memory.held(), (0, 0));
    }

    #[test]
    fn a_first_read_decodes_every_column_when_the_file_fits_beside_the_other_entries() {
        let memory = ColumnMemory::new(1000);
        let read = |table, size, wanted: &[usize]| {
            let read = memory.columns_to_read(table, &stamp(size), wanted, 4);
            assert_eq!(read.needed, wanted.len(), "nothing kept before");
            read.columns
        };
        // 400 bytes of text, about 500 decoded: every column.
        assert_eq!(read(1, 400, &[2]), [2, 0, 1, 3]);
        // With 600 bytes kept for another table, it would not fit: the wanted ones only.
        memory.keep(2, stamp(1), vec![0], rows(1), 600);
        assert_eq!(read(1, 400, &[2]), [2]);
        // A file too big for the budget alone: the wanted ones only.
        assert_eq!(read(3, 900, &[1]), [1]);
    }

    #[test]
    fn the_least_recently_used_make_room_and_nothing_past_the_budget_is_kept() {
        let memory = ColumnMemory::new(250);
        memory.keep(1, stamp(1), vec![0], rows(1), 100);
        memory.keep(2, stamp(1), vec![0], rows(1), 100);
        assert!(memory.lookup(1, &stamp(1), &[0]).is_some());
        memory.keep(3, stamp(1), vec![0], rows(1), 100);
        assert!(memory.kept(2).is_none(), "table 2 was used least recently");
        assert!(memory.kept(1).is_some() && memory.kept(3).is_some());
        memory.keep(4, stamp(1), vec![0], rows(1), 300);
        assert!(memory.kept(4).is_none());
        memory.set_enabled(false);
        assert_eq!(memory.held(), (0, 0));
    }
}
