//! A bounded file replayed as an event-time stream: `'connector' = 'filesystem'` with
//! `'source.replay-speed'`, so that recorded events can be watched "live".
//!
//! The rows are read in the order of the table's time column (its WATERMARK column) and
//! sent paced by their times: with the first event time t0 sent at wall time w0, a row of
//! time t is sent once (now − w0) × speed ≥ t − t0. The speed is a factor ('60': a minute
//! of event time per second; '0.5': half speed) or 'max' (as fast as the query takes them,
//! still in time order). Rows whose time is NULL cannot be placed in time: they are
//! dropped and counted (see [`source`]). The replay ends after the last row.

use super::bad_option;
use super::connector::CountedSource;
use crate::error::EngineError;
use crate::stream::catalog::SourceFactory;
use crate::stream::source::{BatchSender, StreamSource};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::{filter_record_batch, is_not_null};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, SchemaRef, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use datafusion::catalog::TableProvider;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::ident;
use futures::future::BoxFuture;
use futures::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The replay of `file_table` (the bounded table over the file) ordered by `time_column`,
/// at `speed` (a factor or 'max'), and the count of rows dropped for a NULL time.
pub(crate) fn source(
    table: &str,
    file_table: Arc<dyn TableProvider>,
    schema: SchemaRef,
    time_column: &str,
    speed: &str,
) -> Result<CountedSource, EngineError> {
    let speed = match speed.trim().to_ascii_lowercase().as_str() {
        "max" => None,
        factor => match factor.parse::<f64>() {
            Ok(factor) if factor.is_finite() && factor > 0.0 => Some(factor),
            _ => {
                return Err(bad_option(
                    "source.replay-speed",
                    "the speed is a factor above 0, e.g. '60' (a minute of event time per \
                     second) or '1' (real time), or 'max' (as fast as possible)",
                ))
            }
        },
    };
    let time_index = schema
        .index_of(time_column)
        .map_err(|_| EngineError::Plan {
            message: format!("table {table} has no column {time_column} to replay in time order"),
            position: None,
            hint: Some("the replay orders rows by the column of the table's WATERMARK".into()),
        })?;
    let time_type = schema.field(time_index).data_type();
    if !matches!(
        time_type,
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
    ) {
        return Err(EngineError::Plan {
            message: format!(
                "the replay of table {table} orders rows by {time_column}, which is {time_type}, \
                 not a time"
            ),
            position: None,
            hint: Some("declare the WATERMARK on a TIMESTAMP(3) column".into()),
        });
    }
    let dropped = Arc::new(AtomicU64::new(0));
    Ok(CountedSource {
        factory: Arc::new(ReplayFactory(Replay {
            table: table.to_string(),
            file_table,
            schema,
            time_column: time_column.to_string(),
            time_index,
            speed,
            dropped: dropped.clone(),
        })),
        skipped: Some(dropped),
    })
}

/// A replay as declared; each query's source runs its own copy.
#[derive(Clone)]
struct Replay {
    table: String,
    file_table: Arc<dyn TableProvider>,
    schema: SchemaRef,
    time_column: String,
    time_index: usize,
    /// Event time per wall time; `None` for as fast as possible.
    speed: Option<f64>,
    dropped: Arc<AtomicU64>,
}

struct ReplayFactory(Replay);

impl SourceFactory for ReplayFactory {
    fn open(&self, ctx: &SessionContext) -> Result<Box<dyn StreamSource>, EngineError> {
        Ok(Box::new(ReplaySource {
            ctx: ctx.clone(),
            replay: self.0.clone(),
        }))
    }
}

struct ReplaySource {
    ctx: SessionContext,
    replay: Replay,
}

impl StreamSource for ReplaySource {
    fn schema(&self) -> SchemaRef {
        self.replay.schema.clone()
    }

    fn is_bounded(&self) -> bool {
        true
    }

    fn run(self: Box<Self>, out: BatchSender) -> BoxFuture<'static, Result<(), EngineError>> {
        let ReplaySource { ctx, replay } = *self;
        Box::pin(replay.run(ctx, out))
    }
}

impl Replay {
    async fn run(self, ctx: SessionContext, out: BatchSender) -> Result<(), EngineError> {
        let frame = ctx
            .read_table(self.file_table.clone())?
            .sort(vec![ident(&self.time_column).sort(true, true)])?;
        let mut rows = tokio::select! {
            stream = frame.execute_stream() => stream?,
            _ = out.closed() => return Ok(()),
        };
        // The first event time and when it was sent.
        let mut origin: Option<(i64, Instant)> = None;
        loop {
            let batch = tokio::select! {
                batch = rows.next() => batch,
                _ = out.closed() => return Ok(()),
            };
            let Some(batch) = batch else {
                return Ok(());
            };
            let batch = self.in_declared_schema(batch?)?;
            let batch = self.without_null_times(batch)?;
            if batch.num_rows() == 0 {
                continue;
            }
            let Some(speed) = self.speed else {
                if out.send(batch).await.is_err() {
                    return Ok(());
                }
                continue;
            };
            let times = micros(batch.column(self.time_index));
            let (t0, w0) = *origin.get_or_insert_with(|| (times[0], Instant::now()));
            let mut sent = 0;
            while sent < times.len() {
                // Event time (µs after t0) that may be sent by now.
                let allowed = w0.elapsed().as_secs_f64() * speed * 1e6;
                let due = sent
                    + times[sent..].partition_point(|t| (t.saturating_sub(t0)) as f64 <= allowed);
                if due > sent {
                    if out.send(batch.slice(sent, due - sent)).await.is_err() {
                        return Ok(());
                    }
                    sent = due;
                    continue;
                }
                let wait = (times[sent].saturating_sub(t0)) as f64 / speed / 1e6;
                let at = w0 + Duration::from_secs_f64(wait.min(1e9));
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = out.closed() => return Ok(()),
                }
            }
        }
    }

    /// The batch with the table's declared schema (names, types and nullability).
    fn in_declared_schema(&self, batch: RecordBatch) -> Result<RecordBatch, EngineError> {
        RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec()).map_err(|e| {
            EngineError::Execution {
                message: format!(
                    "the file of table {} does not fit its declared columns: {e}",
                    self.table
                ),
                source: None,
            }
        })
    }

    fn without_null_times(&self, batch: RecordBatch) -> Result<RecordBatch, EngineError> {
        let times = batch.column(self.time_index);
        let nulls = times.null_count();
        if nulls == 0 {
            return Ok(batch);
        }
        self.dropped.fetch_add(nulls as u64, Ordering::Relaxed);
        let keep = is_not_null(times)?;
        Ok(filter_record_batch(&batch, &keep)?)
    }
}

/// A time column's values in microseconds since the epoch (0 for NULL, which the caller
/// has removed).
fn micros(times: &ArrayRef) -> Vec<i64> {
    fn scaled(values: impl Iterator<Item = i64>, factor: i64) -> Vec<i64> {
        values.map(|v| v.saturating_mul(factor)).collect()
    }
    match times.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => scaled(
            times
                .as_primitive::<TimestampSecondType>()
                .values()
                .iter()
                .copied(),
            1_000_000,
        ),
        DataType::Timestamp(TimeUnit::Millisecond, _) => scaled(
            times
                .as_primitive::<TimestampMillisecondType>()
                .values()
                .iter()
                .copied(),
            1_000,
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => times
            .as_primitive::<TimestampMicrosecondType>()
            .values()
            .to_vec(),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => times
            .as_primitive::<TimestampNanosecondType>()
            .values()
            .iter()
            .map(|v| v / 1_000)
            .collect(),
        DataType::Date32 => scaled(
            times
                .as_primitive::<Date32Type>()
                .values()
                .iter()
                .map(|d| *d as i64),
            86_400_000_000,
        ),
        DataType::Date64 => scaled(
            times.as_primitive::<Date64Type>().values().iter().copied(),
            1_000,
        ),
        // The factory accepts time columns only.
        _ => vec![0; times.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::{Field, Int32Type, Schema};
    use datafusion::datasource::MemTable;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]))
    }

    /// Rows (id, ts) with ts in milliseconds, out of order, in two batches.
    fn table(rows: &[(i32, Option<i64>)]) -> Arc<dyn TableProvider> {
        let batches = rows
            .chunks(3)
            .map(|chunk| {
                RecordBatch::try_new(
                    schema(),
                    vec![
                        Arc::new(Int32Array::from_iter_values(chunk.iter().map(|r| r.0))),
                        Arc::new(TimestampMillisecondArray::from(
                            chunk.iter().map(|r| r.1).collect::<Vec<_>>(),
                        )),
                    ],
                )
                .unwrap()
            })
            .collect();
        Arc::new(MemTable::try_new(schema(), vec![batches]).unwrap())
    }

    async fn replay(
        speed: &str,
        rows: &[(i32, Option<i64>)],
    ) -> (Vec<(i32, std::time::Duration)>, u64) {
        let counted = source("t", table(rows), schema(), "ts", speed).unwrap();
        let source = counted.factory.open(&SessionContext::new()).unwrap();
        assert!(source.is_bounded());
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let task = tokio::spawn(source.run(tx));
        let started = std::time::Instant::now();
        let mut arrivals = Vec::new();
        while let Some(batch) = rx.recv().await {
            let at = started.elapsed();
            let ids = batch.column(0).as_primitive::<Int32Type>();
            arrivals.extend(ids.values().iter().map(|id| (*id, at)));
        }
        task.await.unwrap().unwrap();
        let dropped = counted.skipped.unwrap().load(Ordering::Relaxed);
        (arrivals, dropped)
    }

    #[tokio::test]
    async fn rows_come_in_time_order_paced_by_the_speed() {
        let t = 1_704_067_200_000;
        let rows = [
            (3, Some(t + 20_000)),
            (1, Some(t)),
            (9, None),
            (2, Some(t + 10_000)),
            (4, Some(t + 20_000)),
            (5, Some(t + 30_000)),
        ];
        // 30 s of event time at 200× take 150 ms.
        let (arrivals, dropped) = replay("200", &rows).await;
        let ids: Vec<i32> = arrivals.iter().map(|(id, _)| *id).collect();
        assert_eq!(&ids[..2], &[1, 2]);
        assert_eq!(ids[4], 5);
        assert_eq!(dropped, 1);
        let at = |id: i32| arrivals.iter().find(|(i, _)| *i == id).unwrap().1;
        let first = at(1);
        for (id, offset_ms) in [(2, 50), (3, 100), (4, 100), (5, 150)] {
            let after = at(id) - first;
            assert!(
                after + Duration::from_millis(5) >= Duration::from_millis(offset_ms),
                "row {id} came {after:?} after the first"
            );
            assert!(
                after < Duration::from_millis(offset_ms + 150),
                "row {id} came {after:?} after the first"
            );
        }
    }

    #[tokio::test]
    async fn max_speed_sends_everything_in_order_at_once() {
        let t = 1_704_067_200_000;
        let rows = [
            (2, Some(t + 3_600_000)),
            (1, Some(t)),
            (3, Some(t + 7_200_000)),
        ];
        let started = std::time::Instant::now();
        let (arrivals, dropped) = replay("max", &rows).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        let ids: Vec<i32> = arrivals.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        assert_eq!(dropped, 0);
    }

    #[tokio::test]
    async fn the_replay_stops_when_the_query_drops_it() {
        let t = 1_704_067_200_000;
        let rows = [(1, Some(t)), (2, Some(t + 3_600_000))];
        let counted = source("t", table(&rows), schema(), "ts", "1").unwrap();
        let source = counted.factory.open(&SessionContext::new()).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let task = tokio::spawn(source.run(tx));
        assert_eq!(rx.recv().await.unwrap().num_rows(), 1);
        drop(rx);
        let stopped = tokio::time::timeout(Duration::from_millis(200), task).await;
        assert!(stopped.unwrap().unwrap().is_ok());
    }

    #[test]
    fn bad_speeds_and_time_columns_are_errors() {
        let rows = [(1, Some(0))];
        for speed in ["fast", "0", "-2", "inf"] {
            let error = source("t", table(&rows), schema(), "ts", speed)
                .err()
                .unwrap();
            assert!(error.hint().unwrap().contains("'max'"), "{speed}");
        }
        let error = source("t", table(&rows), schema(), "id", "1")
            .err()
            .unwrap();
        assert!(error.to_string().contains("not a time"));
        let error = source("t", table(&rows), schema(), "nope", "1")
            .err()
            .unwrap();
        assert!(error.to_string().contains("no column nope"));
    }
}
