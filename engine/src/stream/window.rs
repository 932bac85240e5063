//! Window table functions: which windows each row falls in. TUMBLE, HOP and CUMULATE
//! assign windows row by row; SESSION windows depend on the rows around them, so their rows
//! wait in a buffer until the watermark closes their session (`session_window.rs`).

use crate::error::EngineError;
use crate::sql::flink_syntax::WindowKind;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, RecordBatch, TimestampMillisecondArray, UInt32Array,
};
use datafusion::arrow::compute::{cast, filter_record_batch, take_record_batch};
use datafusion::arrow::datatypes::{
    DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMillisecondType,
};
use std::sync::Arc;

/// A window function over a table, its intervals resolved to milliseconds.
#[derive(Debug, Clone)]
pub(crate) struct WindowSpec {
    pub(crate) kind: WindowKind,
    /// TUMBLE, HOP and CUMULATE: the window's length; SESSION: the gap.
    pub(crate) size_ms: i64,
    /// HOP: the slide; CUMULATE: the step; otherwise equal to `size_ms`.
    pub(crate) step_ms: i64,
    /// Where windows start, shifted from the epoch (the TVF's optional offset; 0 without).
    pub(crate) offset_ms: i64,
    pub(crate) time_index: usize,
    pub(crate) partition_by: Vec<usize>,
}

impl WindowSpec {
    pub(crate) fn validate(&self) -> Result<(), EngineError> {
        let bad = |message: String| EngineError::Plan {
            message,
            position: None,
            hint: None,
        };
        if self.size_ms <= 0 || self.step_ms <= 0 {
            return Err(bad(format!(
                "{} needs positive intervals",
                self.kind.name()
            )));
        }
        // Each row is copied into size / step windows: bound the copies.
        const MAX_WINDOWS_PER_ROW: i64 = 1000;
        if matches!(self.kind, WindowKind::Hop | WindowKind::Cumulate)
            && self.size_ms / self.step_ms > MAX_WINDOWS_PER_ROW
        {
            return Err(bad(format!(
                "{} would put each row in {} windows (size / step); at most {MAX_WINDOWS_PER_ROW}: \
                 use a larger step",
                self.kind.name(),
                self.size_ms / self.step_ms
            )));
        }
        match self.kind {
            WindowKind::Hop if self.size_ms % self.step_ms != 0 => Err(bad(format!(
                "HOP's size ({} ms) must be a whole multiple of its slide ({} ms)",
                self.size_ms, self.step_ms
            ))),
            WindowKind::Cumulate if self.size_ms % self.step_ms != 0 => Err(bad(format!(
                "CUMULATE's size ({} ms) must be a whole multiple of its step ({} ms)",
                self.size_ms, self.step_ms
            ))),
            _ => Ok(()),
        }
    }
}

/// The schema of a window function's rows: the table's columns, then `window_start`,
/// `window_end` and `window_time` (the end minus one millisecond, a time attribute).
pub(crate) fn windowed_schema(input: &Schema, time_index: usize) -> SchemaRef {
    let tz = match input.field(time_index).data_type() {
        DataType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    let ts = DataType::Timestamp(TimeUnit::Millisecond, tz);
    let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("window_start", ts.clone(), false));
    fields.push(Field::new("window_end", ts.clone(), false));
    fields.push(Field::new("window_time", ts, false));
    Arc::new(Schema::new(fields))
}

/// Event times of a column in milliseconds since the epoch (nulls are `None`).
pub(crate) fn millis(column: &ArrayRef) -> Result<TimestampMillisecondArray, EngineError> {
    let tz = match column.data_type() {
        DataType::Timestamp(_, tz) => tz.clone(),
        other => {
            return Err(EngineError::Plan {
                message: format!("an event-time column must be a TIMESTAMP, not {other}"),
                position: None,
                hint: Some("declare it as TIMESTAMP(3)".into()),
            })
        }
    };
    let as_ms = cast(column, &DataType::Timestamp(TimeUnit::Millisecond, tz))?;
    Ok(as_ms.as_primitive::<TimestampMillisecondType>().clone())
}

/// The rows of `batch` whose event time (the column at `time_index`) is `from_ms` or later:
/// those a watermark of `from_ms` does not make late, or that a bound still needs.
pub(crate) fn at_or_after(
    batch: &RecordBatch,
    time_index: usize,
    from_ms: i64,
) -> Result<RecordBatch, EngineError> {
    let times = millis(batch.column(time_index))?;
    let keep: BooleanArray = (0..times.len())
        .map(|i| Some(times.is_valid(i) && times.value(i) >= from_ms))
        .collect();
    Ok(filter_record_batch(batch, &keep)?)
}

fn floor_to(value: i64, unit: i64) -> i64 {
    value.div_euclid(unit) * unit
}

/// The start of the `unit`-long period holding `ts`, periods starting at `offset` from the
/// epoch (as Flink aligns windows with an offset; a negative offset shifts them back).
fn period_start(ts: i64, unit: i64, offset: i64) -> i64 {
    floor_to(ts - offset, unit) + offset
}

/// The end of the last window that holds a row at `ts`.
pub(crate) fn last_end(spec: &WindowSpec, ts: i64) -> i64 {
    match spec.kind {
        WindowKind::Tumble | WindowKind::Cumulate => {
            period_start(ts, spec.size_ms, spec.offset_ms) + spec.size_ms
        }
        WindowKind::Hop => period_start(ts, spec.step_ms, spec.offset_ms) + spec.size_ms,
        WindowKind::Session => ts + spec.size_ms,
    }
}

/// Rows expanded into one row per window they fall in, and how many rows came too late
/// (every window of theirs already closed at `watermark`).
pub(crate) struct Assigned {
    pub(crate) batch: RecordBatch,
    pub(crate) late: u64,
}

/// TUMBLE, HOP and CUMULATE. A window has fired once the watermark reached its last
/// millisecond; a row whose windows have all fired is late and dropped.
pub(crate) fn assign(
    spec: &WindowSpec,
    batch: &RecordBatch,
    schema: &SchemaRef,
    watermark: Option<i64>,
) -> Result<Assigned, EngineError> {
    let times = millis(batch.column(spec.time_index))?;
    let mut indices = Vec::with_capacity(batch.num_rows());
    let mut starts = Vec::with_capacity(batch.num_rows());
    let mut ends = Vec::with_capacity(batch.num_rows());
    let mut late = 0;
    let fired = |end: i64| watermark.is_some_and(|w| end - 1 <= w);
    for row in 0..batch.num_rows() {
        if times.is_null(row) {
            // A row without an event time belongs to no window.
            late += 1;
            continue;
        }
        let ts = times.value(row);
        let before = indices.len();
        let mut push = |start: i64, end: i64| {
            if !fired(end) {
                indices.push(row as u32);
                starts.push(start);
                ends.push(end);
            }
        };
        match spec.kind {
            WindowKind::Tumble => {
                let start = period_start(ts, spec.size_ms, spec.offset_ms);
                push(start, start + spec.size_ms);
            }
            WindowKind::Hop => {
                let mut start = period_start(ts, spec.step_ms, spec.offset_ms);
                while start > ts - spec.size_ms {
                    push(start, start + spec.size_ms);
                    start -= spec.step_ms;
                }
            }
            WindowKind::Cumulate => {
                let base = period_start(ts, spec.size_ms, spec.offset_ms);
                let mut end = base + floor_to(ts - base, spec.step_ms) + spec.step_ms;
                while end <= base + spec.size_ms {
                    push(base, end);
                    end += spec.step_ms;
                }
            }
            WindowKind::Session => {
                return Err(EngineError::Internal {
                    message: "session windows are assigned by SessionBuffer".into(),
                    source: None,
                })
            }
        }
        if indices.len() == before {
            late += 1;
        }
    }
    let batch = with_windows(batch, schema, indices, starts, ends)?;
    Ok(Assigned { batch, late })
}

/// Takes `indices` of `batch` and appends the window columns.
pub(crate) fn with_windows(
    batch: &RecordBatch,
    schema: &SchemaRef,
    indices: Vec<u32>,
    starts: Vec<i64>,
    ends: Vec<i64>,
) -> Result<RecordBatch, EngineError> {
    // Each row in one window, none dropped (TUMBLE, in time): the columns stay as they are.
    let identity = indices.len() == batch.num_rows()
        && indices.iter().enumerate().all(|(i, &row)| i as u32 == row);
    let mut columns = if identity {
        batch.columns().to_vec()
    } else {
        take_record_batch(batch, &UInt32Array::from(indices))?
            .columns()
            .to_vec()
    };
    let times: Vec<i64> = ends.iter().map(|e| e - 1).collect();
    for values in [starts, ends, times] {
        let array: ArrayRef = Arc::new(TimestampMillisecondArray::from(values));
        let field_type = schema.field(columns.len()).data_type();
        columns.push(cast(&array, field_type)?);
    }
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int32Array;

    fn input(times: &[i64]) -> (RecordBatch, SchemaRef) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int32, false),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]));
        let keys = Int32Array::from_iter_values(times.iter().map(|t| (*t % 2) as i32));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(keys),
                Arc::new(TimestampMillisecondArray::from(times.to_vec())),
            ],
        )
        .unwrap();
        (batch, schema)
    }

    fn windows(batch: &RecordBatch) -> Vec<(i64, i64)> {
        let starts = millis(batch.column(2)).unwrap();
        let ends = millis(batch.column(3)).unwrap();
        (0..batch.num_rows())
            .map(|i| (starts.value(i), ends.value(i)))
            .collect()
    }

    fn spec(kind: WindowKind, size_ms: i64, step_ms: i64) -> WindowSpec {
        WindowSpec {
            kind,
            size_ms,
            step_ms,
            offset_ms: 0,
            time_index: 1,
            partition_by: vec![0],
        }
    }

    #[test]
    fn an_offset_shifts_where_windows_start() {
        let (batch, schema) = input(&[1_500, 100]);
        let out_schema = windowed_schema(&schema, 1);
        let shifted = |kind, size_ms, step_ms, offset_ms| {
            let spec = WindowSpec {
                offset_ms,
                ..spec(kind, size_ms, step_ms)
            };
            windows(&assign(&spec, &batch, &out_schema, None).unwrap().batch)
        };
        assert_eq!(
            shifted(WindowKind::Tumble, 1000, 1000, 200),
            vec![(1200, 2200), (-800, 200)]
        );
        // A negative offset, or one past the size, aligns the same as its remainder.
        assert_eq!(
            shifted(WindowKind::Tumble, 1000, 1000, -800),
            shifted(WindowKind::Tumble, 1000, 1000, 200)
        );
        assert_eq!(
            shifted(WindowKind::Hop, 1000, 500, 200),
            vec![(1200, 2200), (700, 1700), (-300, 700), (-800, 200)]
        );
        assert_eq!(
            shifted(WindowKind::Cumulate, 1000, 500, 200),
            vec![(1200, 1700), (1200, 2200), (-800, 200)]
        );
    }

    #[test]
    fn tumble_hop_and_cumulate_windows() {
        let (batch, schema) = input(&[1_500]);
        let out_schema = windowed_schema(&schema, 1);
        let tumble = assign(
            &spec(WindowKind::Tumble, 1000, 1000),
            &batch,
            &out_schema,
            None,
        );
        assert_eq!(windows(&tumble.unwrap().batch), vec![(1000, 2000)]);
        let hop = assign(&spec(WindowKind::Hop, 1000, 500), &batch, &out_schema, None);
        assert_eq!(
            windows(&hop.unwrap().batch),
            vec![(1500, 2500), (1000, 2000)]
        );
        let cumulate = assign(
            &spec(WindowKind::Cumulate, 2000, 500),
            &batch,
            &out_schema,
            None,
        );
        assert_eq!(
            windows(&cumulate.unwrap().batch),
            vec![(0, 2000)],
            "1.5 s is in the cumulative window ending at 2 s only"
        );
        let (batch, _) = input(&[200]);
        let cumulate = assign(
            &spec(WindowKind::Cumulate, 1000, 500),
            &batch,
            &out_schema,
            None,
        );
        assert_eq!(windows(&cumulate.unwrap().batch), vec![(0, 500), (0, 1000)]);
    }

    #[test]
    fn rows_whose_windows_fired_are_late() {
        let (batch, schema) = input(&[500, 1500]);
        let out_schema = windowed_schema(&schema, 1);
        let out = assign(
            &spec(WindowKind::Tumble, 1000, 1000),
            &batch,
            &out_schema,
            Some(999),
        )
        .unwrap();
        assert_eq!(out.late, 1);
        assert_eq!(windows(&out.batch), vec![(1000, 2000)]);
    }
}
