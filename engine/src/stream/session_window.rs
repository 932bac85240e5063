//! SESSION windows: a row's window depends on the rows around it (a session lasts while its
//! key's rows come within the gap of each other), so rows wait here until the watermark
//! passes their session's end.
//!
//! Each row is put in its key's session as it arrives: a key keeps its open sessions
//! ordered by start, a row joins the session it falls in (or opens one), and a row that
//! bridges two sessions merges them. A tick's work is its own rows, not every row waiting:
//! closing scans the sessions only once the watermark has reached the earliest end, and
//! emits only the closed ones. Rows stay in the Arrow batches they came in, holding only the
//! columns the query reads; a batch goes once all its rows have left, and the batches are
//! compacted when most of what they hold has left.

use super::window::{millis, with_windows, WindowSpec};
use crate::error::EngineError;
use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, RecordBatch, TimestampMillisecondArray,
};
use datafusion::arrow::compute::interleave_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{RowConverter, SortField};
use hashbrown::HashMap;
use std::sync::Arc;

/// Where a waiting row lives: its batch (a slot in `SessionBuffer::batches`) and its row.
type Location = (u32, u32);

/// One key's open session: `[start, end)`, where `end` is the last row's time plus the gap.
struct Session {
    start: i64,
    end: i64,
    rows: Vec<Location>,
}

/// A batch of waiting rows (the kept columns only) and how many of them still wait.
struct Stored {
    batch: RecordBatch,
    waiting: usize,
}

/// Below this many stored rows, compaction is not worth a pass over the sessions.
const COMPACT_AT_LEAST: usize = 64 * 1024;

pub(crate) struct SessionBuffer {
    spec: WindowSpec,
    input_schema: SchemaRef,
    schema: SchemaRef,
    /// The input columns kept (the query's, the time's and the keys'), in input order.
    kept: Vec<usize>,
    kept_schema: SchemaRef,
    /// The time and key columns' places among the kept ones.
    time_at: usize,
    key_at: Vec<usize>,
    converter: RowConverter,
    /// Open sessions by key (the key columns in Arrow's row format), ordered by start.
    sessions: HashMap<Box<[u8]>, Vec<Session>>,
    batches: Vec<Option<Stored>>,
    free_slots: Vec<u32>,
    stored_rows: usize,
    waiting_rows: usize,
    /// No open session ends before this (a lower bound: sessions only grow or merge).
    earliest_end: i64,
}

impl SessionBuffer {
    /// A buffer for rows of `input_schema`, emitting them with their window columns as rows
    /// of `schema`; it keeps every column until told which the query reads.
    pub(crate) fn new(
        spec: WindowSpec,
        input_schema: SchemaRef,
        schema: SchemaRef,
    ) -> Result<Self, EngineError> {
        let converter = RowConverter::new(
            spec.partition_by
                .iter()
                .map(|&c| SortField::new(input_schema.field(c).data_type().clone()))
                .collect(),
        )?;
        let mut buffer = SessionBuffer {
            kept: Vec::new(),
            kept_schema: input_schema.clone(),
            time_at: 0,
            key_at: Vec::new(),
            spec,
            input_schema,
            schema,
            converter,
            sessions: HashMap::new(),
            batches: Vec::new(),
            free_slots: Vec::new(),
            stored_rows: 0,
            waiting_rows: 0,
            earliest_end: i64::MAX,
        };
        buffer.keep(None)?;
        Ok(buffer)
    }

    /// Keeps only the input columns the query reads (`read`; all when `None`), beside the
    /// time and key columns; the others come out as NULLs. Said before the first row.
    pub(crate) fn keep(&mut self, read: Option<&[usize]>) -> Result<(), EngineError> {
        let (schema, spec) = (&self.input_schema, &self.spec);
        let kept: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| {
                read.is_none_or(|read| read.contains(&i))
                    || i == spec.time_index
                    || spec.partition_by.contains(&i)
                    // A NULL cannot stand in for a column declared NOT NULL.
                    || !schema.field(i).is_nullable()
            })
            .collect();
        let place = |column: usize| kept.iter().position(|&k| k == column).unwrap_or(0);
        self.time_at = place(spec.time_index);
        self.key_at = spec.partition_by.iter().map(|&c| place(c)).collect();
        self.kept_schema = Arc::new(schema.project(&kept)?);
        self.kept = kept;
        Ok(())
    }

    /// Bytes of the rows kept for open sessions, and of the sessions' row lists.
    pub(crate) fn bytes(&self) -> usize {
        let batches: usize = self
            .batches
            .iter()
            .flatten()
            .map(|s| s.batch.get_array_memory_size())
            .sum();
        batches + self.waiting_rows * std::mem::size_of::<Location>()
    }

    /// Puts each row that can still join an open session in its key's session; returns how
    /// many were late (their own window already behind the watermark).
    pub(crate) fn push(
        &mut self,
        batch: &RecordBatch,
        watermark: Option<i64>,
    ) -> Result<u64, EngineError> {
        let batch = batch.project(&self.kept)?;
        let times = millis(batch.column(self.time_at))?;
        let gap = self.spec.size_ms;
        let on_time = |row: usize| {
            !times.is_null(row) && watermark.is_none_or(|w| times.value(row) + gap - 1 > w)
        };
        let late = (0..batch.num_rows()).filter(|&row| !on_time(row)).count();
        if late == batch.num_rows() {
            return Ok(late as u64);
        }
        let keys = if self.key_at.is_empty() {
            None
        } else {
            let columns: Vec<ArrayRef> = self
                .key_at
                .iter()
                .map(|&at| batch.column(at).clone())
                .collect();
            Some(self.converter.convert_columns(&columns)?)
        };
        let slot = self.store(batch.clone());
        let mut waiting = 0;
        for row in (0..batch.num_rows()).filter(|&row| on_time(row)) {
            let key: &[u8] = keys.as_ref().map_or(&[], |k| k.row(row).data());
            let sessions = match self.sessions.get_mut(key) {
                Some(sessions) => sessions,
                None => self.sessions.entry(key.into()).or_default(),
            };
            let time = times.value(row);
            let created = place(sessions, time, gap, (slot, row as u32));
            if let Some(end) = created {
                self.earliest_end = self.earliest_end.min(end);
            }
            waiting += 1;
        }
        self.waiting_rows += waiting;
        if let Some(stored) = self.batches[slot as usize].as_mut() {
            stored.waiting = waiting;
        }
        Ok(late as u64)
    }

    /// The rows of every session the watermark has closed (all sessions when `watermark`
    /// is `None`, at the end of a bounded stream), with their window columns: by key, each
    /// session's rows in time order.
    pub(crate) fn close(&mut self, watermark: Option<i64>) -> Result<RecordBatch, EngineError> {
        if watermark.is_some_and(|w| self.earliest_end - 1 > w) {
            return Ok(RecordBatch::new_empty(self.schema.clone()));
        }
        let is_closed = |s: &Session| watermark.is_none_or(|w| s.end - 1 <= w);
        let mut closed: Vec<(Box<[u8]>, Session)> = Vec::new();
        let mut earliest_end = i64::MAX;
        self.sessions.retain(|key, sessions| {
            let mut open = Vec::with_capacity(sessions.len());
            for session in sessions.drain(..) {
                if is_closed(&session) {
                    closed.push((key.clone(), session));
                } else {
                    earliest_end = earliest_end.min(session.end);
                    open.push(session);
                }
            }
            *sessions = open;
            !sessions.is_empty()
        });
        self.earliest_end = earliest_end;
        if closed.is_empty() {
            return Ok(RecordBatch::new_empty(self.schema.clone()));
        }
        closed.sort_unstable_by(|(a, s), (b, t)| a.cmp(b).then(s.start.cmp(&t.start)));
        let (mut rows, mut starts, mut ends) = (Vec::new(), Vec::new(), Vec::new());
        let mut times = vec![None; self.batches.len()];
        for (_, mut session) in closed {
            self.sort_by_time(&mut session.rows, &mut times)?;
            starts.resize(starts.len() + session.rows.len(), session.start);
            ends.resize(ends.len() + session.rows.len(), session.end);
            rows.extend(session.rows);
        }
        let taken = self.take(&rows)?;
        self.release(&rows);
        self.compact()?;
        let count = taken.num_rows() as u32;
        with_windows(
            &self.widen(taken)?,
            &self.schema,
            (0..count).collect(),
            starts,
            ends,
        )
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Keeps a batch in a free slot; returns the slot.
    fn store(&mut self, batch: RecordBatch) -> u32 {
        self.stored_rows += batch.num_rows();
        let stored = Some(Stored { batch, waiting: 0 });
        match self.free_slots.pop() {
            Some(slot) => {
                self.batches[slot as usize] = stored;
                slot
            }
            None => {
                self.batches.push(stored);
                (self.batches.len() - 1) as u32
            }
        }
    }

    /// The kept columns of the rows at `rows`, in that order.
    fn take(&self, rows: &[Location]) -> Result<RecordBatch, EngineError> {
        // interleave takes batch positions in a slice: number the slots that appear.
        let mut position = vec![usize::MAX; self.batches.len()];
        let mut used: Vec<&RecordBatch> = Vec::new();
        let mut indices = Vec::with_capacity(rows.len());
        for &(slot, row) in rows {
            let at = &mut position[slot as usize];
            if *at == usize::MAX {
                let stored = self.batches[slot as usize]
                    .as_ref()
                    .ok_or_else(|| missing_batch(slot))?;
                *at = used.len();
                used.push(&stored.batch);
            }
            indices.push((*at, row as usize));
        }
        if used.is_empty() {
            return Ok(RecordBatch::new_empty(self.kept_schema.clone()));
        }
        Ok(interleave_record_batch(&used, &indices)?)
    }

    /// Rows that left: a batch none of whose rows wait any more goes, and the batches are
    /// compacted once most of the rows they hold have left.
    fn release(&mut self, rows: &[Location]) {
        for &(slot, _) in rows {
            if let Some(stored) = self.batches[slot as usize].as_mut() {
                stored.waiting -= 1;
                if stored.waiting == 0 {
                    self.stored_rows -= stored.batch.num_rows();
                    self.batches[slot as usize] = None;
                    self.free_slots.push(slot);
                }
            }
        }
        self.waiting_rows -= rows.len();
    }

    /// Copies the waiting rows into one batch when the batches hold more than twice as many
    /// rows (rows of long sessions would otherwise keep whole batches of gone rows).
    fn compact(&mut self) -> Result<(), EngineError> {
        if self.stored_rows < COMPACT_AT_LEAST || self.stored_rows <= 2 * self.waiting_rows {
            return Ok(());
        }
        let rows: Vec<Location> = self
            .sessions
            .values()
            .flatten()
            .flat_map(|s| s.rows.iter().copied())
            .collect();
        let batch = self.take(&rows)?;
        self.batches.clear();
        self.free_slots.clear();
        self.stored_rows = 0;
        let slot = self.store(batch);
        if let Some(stored) = self.batches[slot as usize].as_mut() {
            stored.waiting = rows.len();
        }
        let mut next = 0u32;
        for session in self.sessions.values_mut().flatten() {
            for location in &mut session.rows {
                *location = (slot, next);
                next += 1;
            }
        }
        Ok(())
    }

    /// Orders a session's rows by their time (they are kept in arrival order). `times`
    /// holds each batch's times once read, by slot, for the sessions closed together.
    fn sort_by_time(
        &self,
        rows: &mut [Location],
        times: &mut [Option<TimestampMillisecondArray>],
    ) -> Result<(), EngineError> {
        let mut keyed = Vec::with_capacity(rows.len());
        for &(slot, row) in rows.iter() {
            let batch_times = match &mut times[slot as usize] {
                Some(read) => read,
                unread => {
                    let stored = self.batches[slot as usize]
                        .as_ref()
                        .ok_or_else(|| missing_batch(slot))?;
                    unread.insert(millis(stored.batch.column(self.time_at))?)
                }
            };
            keyed.push((batch_times.value(row as usize), (slot, row)));
        }
        // Stable: rows of one time stay in arrival order.
        keyed.sort_by_key(|(time, _)| *time);
        for (to, (_, location)) in rows.iter_mut().zip(keyed) {
            *to = location;
        }
        Ok(())
    }

    /// The kept columns back in the input's shape, the columns the query does not read as
    /// NULLs.
    fn widen(&self, kept: RecordBatch) -> Result<RecordBatch, EngineError> {
        if self.kept.len() == self.input_schema.fields().len() {
            return Ok(kept);
        }
        let rows = kept.num_rows();
        let mut next = 0;
        let all: Vec<ArrayRef> = (0..self.input_schema.fields().len())
            .map(|i| {
                if self.kept.get(next) == Some(&i) {
                    next += 1;
                    kept.column(next - 1).clone()
                } else {
                    new_null_array(self.input_schema.field(i).data_type(), rows)
                }
            })
            .collect();
        Ok(RecordBatch::try_new(self.input_schema.clone(), all)?)
    }
}

/// Puts a row at `time` in a key's sessions (ordered by start, none overlapping): it joins
/// the sessions its own window `[time, time + gap)` overlaps, merging them when it bridges
/// several, or opens one. Returns the new session's end when it opened one.
fn place(sessions: &mut Vec<Session>, time: i64, gap: i64, row: Location) -> Option<i64> {
    let (start, end) = (time, time + gap);
    let first = sessions.iter().position(|s| s.end > start);
    let overlapping = match first {
        Some(first) if sessions[first].start < end => {
            let last = sessions[first..]
                .iter()
                .take_while(|s| s.start < end)
                .count()
                + first;
            Some((first, last))
        }
        _ => None,
    };
    match overlapping {
        Some((first, last)) => {
            let merged: Vec<Session> = sessions.drain(first + 1..last).collect();
            let session = &mut sessions[first];
            session.start = session.start.min(start);
            session.end = session.end.max(end);
            for other in merged {
                session.end = session.end.max(other.end);
                session.rows.extend(other.rows);
            }
            session.rows.push(row);
            None
        }
        None => {
            let at = first.unwrap_or(sessions.len());
            sessions.insert(
                at,
                Session {
                    start,
                    end,
                    rows: vec![row],
                },
            );
            Some(end)
        }
    }
}

fn missing_batch(slot: u32) -> EngineError {
    EngineError::Internal {
        message: format!("a session's rows point at batch {slot}, which is gone"),
        source: None,
    }
}

/// The input columns a plan's scans of `relation` read, or `None` when one reads them all
/// (or when the plan has no scan of it to say: then every column is kept).
pub(crate) fn columns_read(
    plan: &datafusion::logical_expr::LogicalPlan,
    relation: &str,
) -> Option<Vec<usize>> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::logical_expr::LogicalPlan;
    let mut read: Option<Vec<usize>> = Some(Vec::new());
    let mut scans = 0;
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            if scan.table_name.table() == relation || scan.table_name.to_string() == relation {
                scans += 1;
                match (&scan.projection, read.as_mut()) {
                    (Some(projection), Some(read)) => read.extend(projection.iter().copied()),
                    _ => read = None,
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    if scans == 0 {
        return None;
    }
    read.map(|mut read| {
        read.sort_unstable();
        read.dedup();
        read
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::flink_syntax::WindowKind;
    use crate::stream::window::windowed_schema;
    use datafusion::arrow::array::{Int32Array, StringArray, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    fn input(rows: &[(i32, i64)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int32, false),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
            Field::new("note", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    rows.iter().map(|r| r.1),
                )),
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| format!("{}@{}", r.0, r.1)),
                )),
            ],
        )
        .unwrap()
    }

    fn buffer(gap: i64, read: Option<&[usize]>) -> SessionBuffer {
        let schema = input(&[]).schema();
        let spec = WindowSpec {
            kind: WindowKind::Session,
            size_ms: gap,
            step_ms: gap,
            offset_ms: 0,
            time_index: 1,
            partition_by: vec![0],
        };
        let out = windowed_schema(&schema, 1);
        let mut buffer = SessionBuffer::new(spec, schema, out).unwrap();
        buffer.keep(read).unwrap();
        buffer
    }

    /// (key, time, window start, window end) of each row closed.
    fn closed(buffer: &mut SessionBuffer, watermark: Option<i64>) -> Vec<(i32, i64, i64, i64)> {
        let batch = buffer.close(watermark).unwrap();
        let keys = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap();
        let [times, starts, ends] = [1, 3, 4].map(|i| millis(batch.column(i)).unwrap());
        (0..batch.num_rows())
            .map(|i| {
                (
                    keys.value(i),
                    times.value(i),
                    starts.value(i),
                    ends.value(i),
                )
            })
            .collect()
    }

    #[test]
    fn sessions_close_when_the_watermark_passes_their_gap() {
        let mut buffer = buffer(300, None);
        // Key 0: 0, 100 (one session), 1000 (another); key 1: 101.
        let late = buffer
            .push(&input(&[(0, 100), (0, 0), (0, 1000), (1, 101)]), None)
            .unwrap();
        assert_eq!(late, 0);
        assert_eq!(
            closed(&mut buffer, Some(450)),
            vec![(0, 0, 0, 400), (0, 100, 0, 400), (1, 101, 101, 401)]
        );
        assert!(!buffer.is_empty());
        assert_eq!(closed(&mut buffer, None), vec![(0, 1000, 1000, 1300)]);
        assert!(buffer.is_empty());
    }

    #[test]
    fn a_row_between_two_sessions_merges_them() {
        let mut buffer = buffer(300, None);
        buffer.push(&input(&[(0, 0), (0, 500)]), None).unwrap();
        // Across ticks: 250 is within the gap of 0 and of 500.
        buffer.push(&input(&[(0, 250)]), None).unwrap();
        assert_eq!(
            closed(&mut buffer, None),
            vec![(0, 0, 0, 800), (0, 250, 0, 800), (0, 500, 0, 800)]
        );
    }

    #[test]
    fn rows_behind_the_watermark_are_late_and_nothing_closes_before_the_earliest_end() {
        let mut buffer = buffer(300, None);
        buffer.push(&input(&[(0, 1000)]), None).unwrap();
        assert_eq!(
            buffer
                .push(&input(&[(1, 100), (1, 900)]), Some(500))
                .unwrap(),
            1
        );
        assert_eq!(closed(&mut buffer, Some(1100)), vec![]);
        assert_eq!(
            closed(&mut buffer, Some(1299)),
            vec![(0, 1000, 1000, 1300), (1, 900, 900, 1200)]
        );
    }

    #[test]
    fn only_the_columns_read_are_kept_and_the_others_come_out_null() {
        let mut buffer = buffer(300, Some(&[0]));
        assert_eq!(
            buffer
                .kept_schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>(),
            vec!["k", "ts"]
        );
        buffer.push(&input(&[(0, 0)]), None).unwrap();
        let batch = buffer.close(None).unwrap();
        assert_eq!(batch.num_rows(), 1);
        assert!(batch.column(2).is_null(0));
    }

    #[test]
    fn compaction_keeps_every_waiting_row_in_place() {
        let mut buffer = buffer(10, None);
        // Key 0 keeps one long session; the other keys' sessions close each tick, leaving
        // their batches with one waiting row each.
        let rows = COMPACT_AT_LEAST as i64;
        for tick in 0..4i64 {
            let batch: Vec<(i32, i64)> = (0..rows)
                .map(|i| match i {
                    0 => (0, 100 + tick * 5),
                    _ => (i as i32, tick * 5),
                })
                .collect();
            buffer.push(&input(&batch), Some(tick * 5 - 1)).unwrap();
            assert_eq!(
                closed(&mut buffer, Some(tick * 5 + 9)).len(),
                rows as usize - 1
            );
        }
        assert_eq!(buffer.stored_rows, 4, "compacted to the rows still waiting");
        assert_eq!(
            closed(&mut buffer, None),
            vec![
                (0, 100, 100, 125),
                (0, 105, 100, 125),
                (0, 110, 100, 125),
                (0, 115, 100, 125)
            ]
        );
    }

    #[test]
    fn rows_in_any_order_make_the_sessions_of_the_rows_sorted() {
        // A small generator (no crate for it): times out of order, spread over chunks.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        for _ in 0..20 {
            let rows: Vec<(i32, i64)> = (0..300)
                .map(|_| (next(4) as i32, next(20_000) as i64))
                .collect();
            let mut buffer = buffer(250, None);
            for chunk in rows.chunks(1 + next(60) as usize) {
                buffer.push(&input(chunk), None).unwrap();
            }
            // The sessions of the rows sorted by key and time: each row within the gap of
            // the one before.
            let mut sorted = rows.clone();
            sorted.sort();
            let mut expected = Vec::new();
            let mut at = 0;
            while at < sorted.len() {
                let mut end = at + 1;
                while end < sorted.len()
                    && sorted[end].0 == sorted[at].0
                    && sorted[end].1 < sorted[end - 1].1 + 250
                {
                    end += 1;
                }
                let (start, last) = (sorted[at].1, sorted[end - 1].1 + 250);
                expected.extend(sorted[at..end].iter().map(|&(k, t)| (k, t, start, last)));
                at = end;
            }
            assert_eq!(closed(&mut buffer, None), expected);
        }
    }
}
