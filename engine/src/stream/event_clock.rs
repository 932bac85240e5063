//! The event time a query has seen, input by input, and the watermark it allows.
//!
//! A query over one stream has one input; a window over a UNION ALL of two streams has two,
//! each with its own time column and watermark delay. As in Flink, the watermark of an
//! operator with several inputs is the least of theirs: a window closes once every input has
//! moved past its end. An input that has ended no longer holds the watermark back; one quiet
//! for its idle timeout (`'scan.watermark.idle-timeout'`) neither, while others still move.

use super::merged_source::{input_of, is_input_end};
use super::source_report::SourceReport;
use super::window::millis;
use crate::error::EngineError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::max;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where one input's rows carry its event time, and how far its watermark trails it.
#[derive(Debug, Clone)]
pub(crate) struct InputTime {
    /// The input's number among the query's sources (0 for a query over one stream).
    pub(crate) input: usize,
    /// The event-time column in the input's rows, as its source gives them.
    pub(crate) time_index: usize,
    pub(crate) delay_ms: i64,
    pub(crate) idle_timeout: Option<Duration>,
}

/// What the query has seen of each input's event time.
#[derive(Debug)]
struct InputClock {
    time: InputTime,
    /// The largest event time seen, in ms.
    max_time: Option<i64>,
    last_row_at: Instant,
    ended: bool,
}

impl InputClock {
    fn is_idle(&self) -> bool {
        self.time
            .idle_timeout
            .is_some_and(|idle| self.last_row_at.elapsed() >= idle)
    }
}

/// The event-time inputs of a query (none for one without event time).
#[derive(Debug)]
pub(crate) struct EventClock {
    inputs: Vec<InputClock>,
    /// What each input's source says of its parts' event times (a Kafka source's
    /// partitions), by input: the input's time goes no further than that.
    parts: Vec<Option<Arc<SourceReport>>>,
}

impl EventClock {
    pub(crate) fn new(times: Vec<InputTime>) -> Self {
        let now = Instant::now();
        EventClock {
            inputs: times
                .into_iter()
                .map(|time| InputClock {
                    time,
                    max_time: None,
                    last_row_at: now,
                    ended: false,
                })
                .collect(),
            parts: Vec::new(),
        }
    }

    /// Bounds each input's time by what its source's report (`reports`, by input) says of
    /// its parts.
    pub(crate) fn bounded_by(mut self, reports: Vec<Option<Arc<SourceReport>>>) -> Self {
        self.parts = reports;
        self
    }

    /// The largest event time `clock` has seen, as far as every part of its input has come.
    fn reached(&self, clock: &InputClock) -> Option<i64> {
        let bound = self
            .parts
            .get(clock.time.input)
            .and_then(Option::as_ref)
            .and_then(|r| r.time_bound());
        match (clock.max_time, bound) {
            // A part that has shown no row yet holds time back, as in Flink.
            (_, Some(i64::MIN)) => None,
            (Some(t), Some(bound)) => Some(t.min(bound)),
            (t, _) => t,
        }
    }

    /// The event-time column of the rows of `input`, if it has one.
    pub(crate) fn time_index(&self, input: usize) -> Option<usize> {
        self.inputs
            .iter()
            .find(|clock| clock.time.input == input)
            .map(|clock| clock.time.time_index)
    }

    /// Notes the largest event time of each input's rows, and which inputs ended.
    pub(crate) fn observe(&mut self, batches: &[RecordBatch]) -> Result<(), EngineError> {
        let now = Instant::now();
        for batch in batches {
            let at = input_of(batch);
            let Some(clock) = self.inputs.iter_mut().find(|c| c.time.input == at) else {
                continue;
            };
            if is_input_end(batch) {
                clock.ended = true;
                continue;
            }
            if batch.num_rows() == 0 {
                continue;
            }
            clock.last_row_at = now;
            let times = millis(batch.column(clock.time.time_index))?;
            if let Some(m) = max(&times) {
                clock.max_time = Some(clock.max_time.map_or(m, |t| t.max(m)));
            }
        }
        Ok(())
    }

    /// The watermark the inputs allow now: the least of the moving inputs' largest time less
    /// their delay (none until each has shown a row). Idle inputs do not hold it back; when
    /// every input still running is idle, it moves to `flush_to` of the largest time seen, so
    /// the windows holding the rows seen so far close (rows for them that come later are
    /// late).
    pub(crate) fn watermark(&self, flush_to: impl Fn(i64) -> i64) -> Option<i64> {
        let running: Vec<&InputClock> = self.inputs.iter().filter(|c| !c.ended).collect();
        let moving: Vec<&InputClock> = running.iter().copied().filter(|c| !c.is_idle()).collect();
        if !moving.is_empty() {
            return moving
                .iter()
                .map(|c| self.reached(c).map(|t| t - c.time.delay_ms))
                .collect::<Option<Vec<i64>>>()?
                .into_iter()
                .min();
        }
        running
            .iter()
            .filter_map(|c| c.max_time.map(|t| (t - c.time.delay_ms).max(flush_to(t))))
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::TimestampMillisecondArray;
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use std::collections::HashMap;
    use std::sync::Arc;

    fn rows(input: usize, times: &[i64]) -> RecordBatch {
        let schema = Schema::new_with_metadata(
            vec![Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            )],
            HashMap::from([(
                super::super::merged_source::INPUT.to_string(),
                input.to_string(),
            )]),
        );
        RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(TimestampMillisecondArray::from(times.to_vec()))],
        )
        .expect("a batch of times")
    }

    fn two_inputs(idle: Option<Duration>) -> EventClock {
        EventClock::new(
            (0..2)
                .map(|input| InputTime {
                    input,
                    time_index: 0,
                    delay_ms: 10 * (input as i64 + 1),
                    idle_timeout: idle,
                })
                .collect(),
        )
    }

    #[test]
    fn the_watermark_is_the_least_of_the_inputs() {
        let mut clock = two_inputs(None);
        clock
            .observe(&[rows(0, &[1_000, 1_500])])
            .expect("observed");
        assert_eq!(clock.watermark(|t| t), None, "input 1 has shown no row");
        clock.observe(&[rows(1, &[900])]).expect("observed");
        assert_eq!(clock.watermark(|t| t), Some(880));
        clock.observe(&[rows(1, &[3_000])]).expect("observed");
        assert_eq!(clock.watermark(|t| t), Some(1_490));
    }

    #[test]
    fn an_ended_input_holds_nothing_back() {
        let mut clock = two_inputs(None);
        clock
            .observe(&[rows(0, &[1_000]), rows(1, &[5_000])])
            .expect("observed");
        let end = super::super::merged_source::input_end(0, rows(0, &[]).schema());
        clock.observe(&[end]).expect("observed");
        assert_eq!(clock.watermark(|t| t), Some(4_980));
    }

    #[test]
    fn the_parts_of_a_source_hold_its_time_back_to_the_slowest() {
        let report = Arc::new(SourceReport::default());
        let mut clock = EventClock::new(vec![InputTime {
            input: 0,
            time_index: 0,
            delay_ms: 0,
            idle_timeout: None,
        }])
        .bounded_by(vec![Some(report.clone())]);
        clock.observe(&[rows(0, &[5_000])]).expect("observed");
        // The source has not said: the input's own time.
        assert_eq!(clock.watermark(|t| t), Some(5_000));
        // A part that has shown nothing holds everything back; then the slowest part decides.
        report.set_time_bound(i64::MIN);
        assert_eq!(clock.watermark(|t| t), None);
        report.set_time_bound(2_000);
        assert_eq!(clock.watermark(|t| t), Some(2_000));
        // Every part idle or done: nothing holds it back.
        report.set_time_bound(i64::MAX);
        assert_eq!(clock.watermark(|t| t), Some(5_000));
    }

    #[test]
    fn each_input_is_held_back_by_its_own_sources_parts() {
        let report = Arc::new(SourceReport::default());
        let mut clock = two_inputs(None).bounded_by(vec![None, Some(report.clone())]);
        clock
            .observe(&[rows(0, &[9_000]), rows(1, &[8_000])])
            .expect("observed");
        // Input 1's slowest part is at 3,000: the watermark (the least input's) follows it.
        report.set_time_bound(3_000);
        assert_eq!(clock.watermark(|t| t), Some(2_980));
        report.set_time_bound(i64::MAX);
        assert_eq!(clock.watermark(|t| t), Some(7_980));
    }

    #[test]
    fn idle_inputs_let_the_others_move_and_flush_when_all_are_quiet() {
        let mut clock = two_inputs(Some(Duration::ZERO));
        clock
            .observe(&[rows(0, &[1_000]), rows(1, &[5_000])])
            .expect("observed");
        // Both idle at once (a zero timeout): the windows of every row seen close.
        assert_eq!(clock.watermark(|t| t + 1), Some(5_001));
    }
}
