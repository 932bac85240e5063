//! Aggregates OVER a window from the partition's first row (`UNBOUNDED PRECEDING`) to the
//! current row, kept as one accumulator per partition and function, as Flink keeps them: a
//! row's result is its partition's accumulator after the row (and, for a RANGE frame, the
//! rows of the same time) is added. The rows themselves are not kept, so the work per row
//! does not grow with the stream (`over_aggregate.rs` would otherwise keep every row and run
//! the window over all of them each time).

use crate::error::EngineError;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Accumulator, WindowFrameUnits};
use datafusion::physical_expr::window::{PlainAggregateWindowExpr, WindowExpr};
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use datafusion::physical_plan::ExecutionPlan;
use std::collections::HashMap;
use std::sync::Arc;

/// The window's functions, each an aggregate from the partition's start.
pub(crate) struct RunningAggregates {
    exprs: Vec<Arc<dyn WindowExpr>>,
    /// Whether each function's frame is ROWS (else RANGE: rows of the same time are peers).
    rows_frames: Vec<bool>,
    /// The partitions' accumulators, by the partition columns' row bytes.
    partitions: HashMap<Vec<u8>, Vec<Box<dyn Accumulator>>>,
    converter: Option<RowConverter>,
}

fn window_exprs(window: &Arc<dyn ExecutionPlan>) -> Option<&[Arc<dyn WindowExpr>]> {
    match (
        window.as_ref().downcast_ref::<BoundedWindowAggExec>(),
        window.as_ref().downcast_ref::<WindowAggExec>(),
    ) {
        (Some(w), _) => Some(w.window_expr()),
        (None, Some(w)) => Some(w.window_expr()),
        (None, None) => None,
    }
}

impl RunningAggregates {
    /// The running aggregates of `window`, if every function of it is a plain aggregate
    /// (no DISTINCT) from the partition's start to the current row. (A FILTER is not seen
    /// here: the caller reads it from the logical plan.)
    pub(crate) fn of(window: &Arc<dyn ExecutionPlan>) -> Option<Self> {
        let exprs = window_exprs(window)?;
        let mut rows_frames = Vec::with_capacity(exprs.len());
        for expr in exprs {
            let plain = expr.as_any().downcast_ref::<PlainAggregateWindowExpr>()?;
            let frame = expr.get_window_frame();
            let from_start = frame.start_bound.is_unbounded()
                && frame.end_bound == datafusion::logical_expr::WindowFrameBound::CurrentRow;
            if !from_start
                || plain.get_aggregate_expr().is_distinct()
                || frame.units == WindowFrameUnits::Groups
            {
                return None;
            }
            rows_frames.push(frame.units == WindowFrameUnits::Rows);
        }
        Some(RunningAggregates {
            exprs: exprs.to_vec(),
            rows_frames,
            partitions: HashMap::new(),
            converter: None,
        })
    }

    /// The window's output for `rows` (sorted by partition, time and arrival): their columns
    /// and each function's result, in `schema` (the window operator's).
    pub(crate) fn results(
        &mut self,
        rows: &RecordBatch,
        partition_columns: &[usize],
        time_index: usize,
        schema: &SchemaRef,
    ) -> Result<RecordBatch, EngineError> {
        let n = rows.num_rows();
        let converter = match &mut self.converter {
            Some(converter) => converter,
            None => self.converter.insert(RowConverter::new(
                partition_columns
                    .iter()
                    .map(|i| SortField::new(rows.schema().field(*i).data_type().clone()))
                    .collect(),
            )?),
        };
        let keys = converter.convert_columns(
            &partition_columns
                .iter()
                .map(|i| rows.column(*i).clone())
                .collect::<Vec<_>>(),
        )?;
        let times = super::window::millis(rows.column(time_index))?;
        let args: Vec<Vec<ArrayRef>> = self
            .exprs
            .iter()
            .map(|expr| {
                let aggregate = expr
                    .as_any()
                    .downcast_ref::<PlainAggregateWindowExpr>()
                    .map(|p| p.get_aggregate_expr().expressions())
                    .unwrap_or_default();
                aggregate
                    .iter()
                    .map(|arg| arg.evaluate(rows)?.into_array(n))
                    .collect::<datafusion::error::Result<Vec<_>>>()
            })
            .collect::<datafusion::error::Result<_>>()?;
        let mut values: Vec<Vec<ScalarValue>> = vec![Vec::with_capacity(n); self.exprs.len()];
        let mut start = 0;
        while start < n {
            // One partition's run of rows.
            let key = keys.row(start);
            let mut end = start + 1;
            while end < n && keys.row(end) == key {
                end += 1;
            }
            let accumulators = match self.partitions.get_mut(key.as_ref()) {
                Some(accumulators) => accumulators,
                None => {
                    let fresh = self
                        .exprs
                        .iter()
                        .map(|expr| {
                            match expr.as_any().downcast_ref::<PlainAggregateWindowExpr>() {
                                Some(plain) => {
                                    Ok(plain.get_aggregate_expr().create_accumulator()?)
                                }
                                None => Err(EngineError::Internal {
                                    message: "a running OVER aggregate is not an aggregate".into(),
                                    source: None,
                                }),
                            }
                        })
                        .collect::<Result<Vec<_>, EngineError>>()?;
                    self.partitions
                        .entry(key.as_ref().to_vec())
                        .or_insert(fresh)
                }
            };
            for (f, accumulator) in accumulators.iter_mut().enumerate() {
                let mut i = start;
                while i < end {
                    // A ROWS frame ends at the row; a RANGE frame at its last peer.
                    let mut j = i + 1;
                    if !self.rows_frames[f] {
                        while j < end
                            && times.is_valid(j) == times.is_valid(i)
                            && times.value(j) == times.value(i)
                        {
                            j += 1;
                        }
                    }
                    let slice: Vec<ArrayRef> = args[f].iter().map(|a| a.slice(i, j - i)).collect();
                    accumulator.update_batch(&slice)?;
                    let value = accumulator.evaluate()?;
                    values[f].extend(std::iter::repeat_n(value, j - i));
                    i = j;
                }
            }
            start = end;
        }
        let mut columns = rows.columns().to_vec();
        for (f, column) in values.into_iter().enumerate() {
            let field = schema.field(rows.num_columns() + f);
            let array = match column.is_empty() {
                true => datafusion::arrow::array::new_empty_array(field.data_type()),
                false => ScalarValue::iter_to_array(column)?,
            };
            columns.push(match array.data_type() == field.data_type() {
                true => array,
                false => datafusion::arrow::compute::cast(&array, field.data_type())?,
            });
        }
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }

    /// Bytes the accumulators hold, roughly.
    pub(crate) fn bytes(&self) -> usize {
        self.partitions
            .iter()
            .map(|(key, accumulators)| {
                key.len() + accumulators.iter().map(|a| a.size()).sum::<usize>()
            })
            .sum()
    }
}
