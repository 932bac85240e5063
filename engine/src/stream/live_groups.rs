//! The groups of an updating aggregate with their accumulators kept alive across ticks, for
//! aggregates whose state is a set or a list of values (`COUNT(DISTINCT …)`, `ARRAY_AGG`, …).
//!
//! `aggregate.rs` keeps most aggregates as one row of accumulator state per key and folds a
//! tick in with DataFusion's `PartialReduce`: cheap while a state is a few numbers. A
//! distinct set, though, is kept as a list, so each tick that touches its key turns the whole
//! list back into a hash set and writes it out again: the work grows with the set, not with
//! the tick (Nexmark q16's eight distinct counts per channel and day slowed as the day's
//! bidders and auctions piled up). Here each group keeps DataFusion's own accumulators: a
//! tick's partial states are merged into them, and result rows come from `evaluate`, which
//! leaves the state as it was (window functions call it again and again too).
//!
//! The rows this hands out are the `Final` aggregate's output (grouping columns, then one
//! column per aggregate), not state rows: `KeyedState::results` runs the rest of the query
//! over them without the `Final` aggregate.

use crate::error::EngineError;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Accumulator;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::ExecutionPlan;
use hashbrown::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// Whether an aggregate's state grows with its input (a set or a list of values), so that
/// keeping its accumulator alive beats rebuilding it from state rows on every tick.
pub(crate) fn state_grows(aggregate: &AggregateFunctionExpr) -> bool {
    aggregate.is_distinct()
        || aggregate.state_fields().is_ok_and(|fields| {
            fields.iter().any(|field| {
                matches!(
                    field.data_type(),
                    DataType::List(_)
                        | DataType::LargeList(_)
                        | DataType::FixedSizeList(..)
                        | DataType::ListView(_)
                        | DataType::LargeListView(_)
                )
            })
        })
}

/// One group: its key in row format and an accumulator per aggregate.
struct Group {
    key: Box<[u8]>,
    accumulators: Vec<Box<dyn Accumulator>>,
    /// What the accumulators held when last measured (after the group's last merge).
    bytes: usize,
    /// When a tick last merged rows into it (what a state TTL counts from).
    written: Instant,
    /// The fold that last touched it (`LiveGroups::folds`).
    folded: u64,
}

/// The groups of one aggregate, each with live accumulators.
pub(crate) struct LiveGroups {
    /// The `Final` aggregate's output: the grouping columns, then one column per aggregate.
    output: SchemaRef,
    group_columns: usize,
    aggregates: Vec<Arc<AggregateFunctionExpr>>,
    /// How many state columns each aggregate has in the partial rows, in order.
    state_widths: Vec<usize>,
    converter: RowConverter,
    index: HashMap<Box<[u8]>, usize>,
    /// Groups by slot, in the order they came; a dropped group leaves its slot free.
    slots: Vec<Option<Group>>,
    free: Vec<usize>,
    bytes: usize,
    /// Folds so far: a group's `folded` says whether the current fold touched it already.
    folds: u64,
    /// No group was written before this (a lower bound): a state TTL reads the groups only
    /// once it passes.
    oldest_write: Option<Instant>,
}

impl LiveGroups {
    /// The groups of `final_agg`, fed with the partial rows of the aggregate below it.
    pub(crate) fn new(final_agg: &AggregateExec) -> Result<Self, EngineError> {
        let output = final_agg.schema();
        let group_columns = final_agg.group_expr().num_group_exprs();
        let aggregates = final_agg.aggr_expr().to_vec();
        let state_widths = aggregates
            .iter()
            .map(|a| a.state_fields().map(|f| f.len()))
            .collect::<Result<Vec<_>, _>>()?;
        let fields = (0..group_columns)
            .map(|i| SortField::new(output.field(i).data_type().clone()))
            .collect();
        Ok(LiveGroups {
            output,
            group_columns,
            aggregates,
            state_widths,
            converter: RowConverter::new(fields)?,
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            bytes: 0,
            folds: 0,
            oldest_write: None,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn group_columns(&self) -> usize {
        self.group_columns
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The keys of result (or partial) rows, whose grouping columns come first.
    pub(crate) fn keys_of(&self, rows: &RecordBatch) -> Result<Rows, EngineError> {
        Ok(self
            .converter
            .convert_columns(&rows.columns()[..self.group_columns])?)
    }

    /// Merges the partial rows of a tick into their groups (making the groups new keys
    /// need). Returns the result rows the touched groups that existed had before, and the
    /// keys of every group touched (none without grouping columns).
    pub(crate) fn fold(
        &mut self,
        partials: &[RecordBatch],
    ) -> Result<(RecordBatch, Vec<Rows>), EngineError> {
        let now = Instant::now();
        self.folds += 1;
        self.oldest_write.get_or_insert(now);
        let mut touched: Vec<usize> = Vec::new();
        let mut before: Vec<usize> = Vec::new();
        let mut before_values: Vec<Vec<ScalarValue>> = vec![Vec::new(); self.aggregates.len()];
        let mut keys = Vec::with_capacity(partials.len());
        for batch in partials {
            // Without grouping columns every row is the one group's, keyed by no bytes.
            let batch_keys = match self.group_columns {
                0 => None,
                _ => Some(self.keys_of(batch)?),
            };
            for row in 0..batch.num_rows() {
                let key = batch_keys.as_ref().map_or(&[][..], |k| k.row(row).data());
                let (slot, new) = match self.index.get(key) {
                    Some(&slot) => (slot, false),
                    None => (self.add(key)?, true),
                };
                let group = group_at(&mut self.slots, slot)?;
                if group.folded != self.folds {
                    group.folded = self.folds;
                    touched.push(slot);
                    if !new {
                        // Its result before this tick, for the changes it makes.
                        before.push(slot);
                        for (values, acc) in before_values.iter_mut().zip(&mut group.accumulators) {
                            values.push(acc.evaluate()?);
                        }
                    }
                }
                let mut column = self.group_columns;
                for (acc, &width) in group.accumulators.iter_mut().zip(&self.state_widths) {
                    let states: Vec<ArrayRef> = batch.columns()[column..column + width]
                        .iter()
                        .map(|c| c.slice(row, 1))
                        .collect();
                    acc.merge_batch(&states)?;
                    column += width;
                }
            }
            keys.extend(batch_keys);
        }
        for &slot in &touched {
            if let Some(group) = self.slots[slot].as_mut() {
                let bytes: usize = group.accumulators.iter().map(|a| a.size()).sum();
                self.bytes = self.bytes - group.bytes + bytes;
                group.bytes = bytes;
                group.written = now;
            }
        }
        let before = self.rows_with(&before, before_values)?;
        Ok((before, keys))
    }

    /// A new group for `key`, in a free slot if there is one.
    fn add(&mut self, key: &[u8]) -> Result<usize, EngineError> {
        let accumulators = self
            .aggregates
            .iter()
            .map(|a| a.create_accumulator())
            .collect::<Result<Vec<_>, _>>()?;
        let group = Group {
            key: key.into(),
            accumulators,
            bytes: 0,
            written: Instant::now(),
            folded: 0,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(group);
                slot
            }
            None => {
                self.slots.push(Some(group));
                self.slots.len() - 1
            }
        };
        self.index.insert(key.into(), slot);
        Ok(slot)
    }

    /// The result rows of the groups of `keys` (keys without a group are skipped).
    pub(crate) fn get<'a>(
        &mut self,
        keys: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<RecordBatch, EngineError> {
        let slots: Vec<usize> = keys
            .into_iter()
            .filter_map(|key| self.index.get(key).copied())
            .collect();
        self.rows(&slots)
    }

    /// The result rows of every group, in the order the groups came.
    pub(crate) fn all(&mut self) -> Result<RecordBatch, EngineError> {
        let slots: Vec<usize> = (0..self.slots.len())
            .filter(|&slot| self.slots[slot].is_some())
            .collect();
        self.rows(&slots)
    }

    /// Takes out the groups whose result rows `closed` selects, and returns those rows.
    pub(crate) fn take_where(
        &mut self,
        closed: impl Fn(&RecordBatch) -> Result<BooleanArray, EngineError>,
    ) -> Result<RecordBatch, EngineError> {
        let slots: Vec<usize> = (0..self.slots.len())
            .filter(|&slot| self.slots[slot].is_some())
            .collect();
        // `closed` reads window bounds, which are grouping columns: the groups' keys are
        // enough to choose, and only the chosen groups are evaluated.
        let keys = match self.group_columns {
            0 => self.rows(&slots)?,
            n => {
                let schema = Arc::new(self.output.project(&(0..n).collect::<Vec<_>>())?);
                let columns = self.key_columns(&slots)?;
                RecordBatch::try_new(schema, columns)?
            }
        };
        let mask = closed(&keys)?;
        let taken: Vec<usize> = slots
            .iter()
            .enumerate()
            .filter(|&(i, _)| mask.is_valid(i) && mask.value(i))
            .map(|(_, &slot)| slot)
            .collect();
        let rows = self.rows(&taken)?;
        for &slot in &taken {
            self.drop_slot(slot);
        }
        Ok(rows)
    }

    /// Drops the groups no tick has merged rows into since `written_before`; returns how
    /// many.
    pub(crate) fn expire(&mut self, written_before: Instant) -> usize {
        if self
            .oldest_write
            .is_none_or(|oldest| oldest >= written_before)
        {
            return 0;
        }
        let old: Vec<usize> = (0..self.slots.len())
            .filter(|&slot| {
                self.slots[slot]
                    .as_ref()
                    .is_some_and(|g| g.written < written_before)
            })
            .collect();
        for &slot in &old {
            self.drop_slot(slot);
        }
        self.oldest_write = self.slots.iter().flatten().map(|g| g.written).min();
        old.len()
    }

    fn drop_slot(&mut self, slot: usize) {
        if let Some(group) = self.slots[slot].take() {
            self.index.remove(&group.key);
            self.bytes -= group.bytes;
            self.free.push(slot);
        }
    }

    /// The result rows of the groups in `slots`, evaluated now.
    fn rows(&mut self, slots: &[usize]) -> Result<RecordBatch, EngineError> {
        let mut values: Vec<Vec<ScalarValue>> = vec![Vec::new(); self.aggregates.len()];
        for &slot in slots {
            for (column, acc) in values
                .iter_mut()
                .zip(&mut group_at(&mut self.slots, slot)?.accumulators)
            {
                column.push(acc.evaluate()?);
            }
        }
        self.rows_with(slots, values)
    }

    /// The grouping columns of the groups in `slots`.
    fn key_columns(&self, slots: &[usize]) -> Result<Vec<ArrayRef>, EngineError> {
        if self.group_columns == 0 {
            return Ok(Vec::new());
        }
        let parser = self.converter.parser();
        let keys = slots
            .iter()
            .filter_map(|&slot| self.slots[slot].as_ref())
            .map(|group| parser.parse(&group.key));
        Ok(self.converter.convert_rows(keys)?)
    }

    /// Result rows from the keys of the groups in `slots` and their aggregates' values (one
    /// list per aggregate, in the order of `slots`).
    fn rows_with(
        &self,
        slots: &[usize],
        values: Vec<Vec<ScalarValue>>,
    ) -> Result<RecordBatch, EngineError> {
        if slots.is_empty() {
            return Ok(RecordBatch::new_empty(self.output.clone()));
        }
        let mut columns = self.key_columns(slots)?;
        for (i, column) in values.into_iter().enumerate() {
            let array = ScalarValue::iter_to_array(column)?;
            let wanted = self.output.field(self.group_columns + i).data_type();
            columns.push(if array.data_type() == wanted {
                array
            } else {
                cast(&array, wanted)?
            });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(slots.len()));
        Ok(RecordBatch::try_new_with_options(
            self.output.clone(),
            columns,
            &options,
        )?)
    }
}

/// The group in `slot`.
fn group_at(slots: &mut [Option<Group>], slot: usize) -> Result<&mut Group, EngineError> {
    slots
        .get_mut(slot)
        .and_then(Option::as_mut)
        .ok_or_else(|| EngineError::Internal {
            message: format!("an aggregate's group slot {slot} is empty"),
            source: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::aggregate;
    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::{Field, Int64Type, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::physical_plan::collect;
    use datafusion::prelude::SessionContext;

    /// The partial rows `SELECT k, COUNT(DISTINCT v), COUNT(*) … GROUP BY k` gives over
    /// `rows`, and its final aggregate.
    async fn partial(rows: &[(i64, i64)]) -> (Vec<RecordBatch>, Arc<dyn ExecutionPlan>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("v", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            ],
        )
        .unwrap();
        let base = SessionContext::new();
        let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
        base.register_table("t", Arc::new(table)).unwrap();
        // Planned as a continuous query's ticks are: a Partial and a Final aggregate.
        let state = crate::stream::tick_plan::streaming_state(
            base.state(),
            "datafusion",
            "public",
            std::collections::HashMap::new(),
            Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN)),
        )
        .unwrap();
        let ctx = SessionContext::new_with_state(state);
        let plan = ctx
            .sql("SELECT k, COUNT(DISTINCT v) AS d, COUNT(*) AS n FROM t GROUP BY k")
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let found = aggregate::find(&plan).unwrap().unwrap();
        let partials = collect(found.partial.clone(), ctx.task_ctx())
            .await
            .unwrap();
        (partials, found.final_agg)
    }

    fn live(final_agg: &Arc<dyn ExecutionPlan>) -> LiveGroups {
        let agg = final_agg.as_ref().downcast_ref::<AggregateExec>().unwrap();
        LiveGroups::new(agg).unwrap()
    }

    /// `(k, distinct, count)` of result rows, sorted.
    fn results(rows: &RecordBatch) -> Vec<(i64, i64, i64)> {
        let column = |i: usize| rows.column(i).as_primitive::<Int64Type>().clone();
        let (k, d, n) = (column(0), column(1), column(2));
        let mut out: Vec<_> = (0..rows.num_rows())
            .map(|i| (k.value(i), d.value(i), n.value(i)))
            .collect();
        out.sort();
        out
    }

    #[tokio::test]
    async fn ticks_merge_into_live_sets_and_evaluating_leaves_them_as_they_were() {
        let (first, final_agg) = partial(&[(1, 10), (1, 11), (2, 20)]).await;
        let mut groups = live(&final_agg);
        let (before, touched) = groups.fold(&first).unwrap();
        assert_eq!(before.num_rows(), 0);
        assert_eq!(touched.iter().map(Rows::num_rows).sum::<usize>(), 2);
        // Evaluated twice: the same answer.
        assert_eq!(results(&groups.all().unwrap()), vec![(1, 2, 2), (2, 1, 1)]);
        assert_eq!(results(&groups.all().unwrap()), vec![(1, 2, 2), (2, 1, 1)]);
        // A value seen before does not count again; key 1's row before the tick comes back.
        let (second, _) = partial(&[(1, 10), (1, 12)]).await;
        let (before, _) = groups.fold(&second).unwrap();
        assert_eq!(results(&before), vec![(1, 2, 2)]);
        assert_eq!(results(&groups.all().unwrap()), vec![(1, 3, 4), (2, 1, 1)]);
        assert!(groups.bytes() > 0);
    }

    #[tokio::test]
    async fn an_expired_group_starts_afresh_in_a_reused_slot() {
        let (first, final_agg) = partial(&[(1, 10), (2, 20)]).await;
        let mut groups = live(&final_agg);
        groups.fold(&first).unwrap();
        let bytes = groups.bytes();
        // Key 2 is touched later than key 1: expiring at a time between drops key 1 only.
        std::thread::sleep(std::time::Duration::from_millis(5));
        let between = Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let (touch, _) = partial(&[(2, 21)]).await;
        groups.fold(&touch).unwrap();
        assert_eq!(groups.expire(between), 1);
        assert_eq!(groups.len(), 1);
        assert!(groups.bytes() < bytes + 1024);
        // New groups take the freed slot; key 1, back, counts from nothing.
        let (again, _) = partial(&[(3, 30), (1, 10)]).await;
        groups.fold(&again).unwrap();
        assert_eq!(
            results(&groups.all().unwrap()),
            vec![(1, 1, 1), (2, 2, 2), (3, 1, 1)]
        );
        // Found again by key.
        let all = groups.all().unwrap();
        let keys = groups.keys_of(&all).unwrap();
        let found = groups.get(keys.iter().map(|k| k.data())).unwrap();
        assert_eq!(results(&found), results(&all));
    }

    #[tokio::test]
    async fn windows_closed_are_taken_out_with_their_rows() {
        let (rows, final_agg) = partial(&[(1, 10), (2, 20), (3, 30)]).await;
        let mut groups = live(&final_agg);
        groups.fold(&rows).unwrap();
        let taken = groups
            .take_where(|rows| {
                let k = rows.column(0).as_primitive::<Int64Type>();
                Ok(k.iter().map(|k| Some(k.unwrap_or(0) >= 2)).collect())
            })
            .unwrap();
        assert_eq!(results(&taken), vec![(2, 1, 1), (3, 1, 1)]);
        assert_eq!(results(&groups.all().unwrap()), vec![(1, 1, 1)]);
    }
}
