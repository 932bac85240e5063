//! MIN, MAX and COUNT(DISTINCT …) over an updating input: each group keeps how many times
//! it holds each value, so a retracted value is taken out by its count.
//!
//! DataFusion's own accumulators cannot do this: MIN and MAX keep one value, and their
//! `retract_batch` (written for sliding windows) removes the oldest value, not the one
//! retracted. Here the input is a value and a weight (+1 for a row that came, -1 for a row
//! that went, 0 for one an aggregate's FILTER left out); the state is the multiset, as two
//! lists (the values and their counts), so the states of a tick fold into the kept ones with
//! the same partial-reduce step as every other aggregate (`aggregate.rs`).

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

/// What a counted multiset answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MultisetAnswer {
    Min,
    Max,
    CountDistinct,
}

/// The aggregate `value, weight → answer` over a counted multiset of values.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct CountedMultiset {
    answer: MultisetAnswer,
    signature: Signature,
}

impl CountedMultiset {
    pub(crate) fn new(answer: MultisetAnswer) -> Self {
        CountedMultiset {
            answer,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for CountedMultiset {
    fn name(&self) -> &str {
        match self.answer {
            MultisetAnswer::Min => "retractable_min",
            MultisetAnswer::Max => "retractable_max",
            MultisetAnswer::CountDistinct => "retractable_count_distinct",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match (self.answer, arg_types.first()) {
            (MultisetAnswer::CountDistinct, _) => Ok(DataType::Int64),
            (_, Some(value)) => Ok(value.clone()),
            (_, None) => exec_err!("{} takes a value and a weight", self.name()),
        }
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let Some(value) = args.input_fields.first() else {
            return exec_err!("{} takes a value and a weight", self.name());
        };
        let list = |name: &str, item: DataType| -> FieldRef {
            Arc::new(Field::new_list(
                format!("{}[{name}]", args.name),
                Field::new_list_field(item, true),
                true,
            ))
        };
        Ok(vec![
            list("values", value.data_type().clone()),
            list("counts", DataType::Int64),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let Some(value) = args.expr_fields.first() else {
            return exec_err!("{} takes a value and a weight", self.name());
        };
        Ok(Box::new(MultisetAccumulator {
            answer: self.answer,
            value_type: value.data_type().clone(),
            counts: HashMap::new(),
        }))
    }
}

#[derive(Debug)]
struct MultisetAccumulator {
    answer: MultisetAnswer,
    value_type: DataType,
    /// Each value's count; a count may go below zero in a tick's partial state (a retraction
    /// of a value whose insertion is in the kept state), never in the folded state.
    counts: HashMap<ScalarValue, i64>,
}

impl MultisetAccumulator {
    fn add(&mut self, value: ScalarValue, weight: i64) {
        if weight == 0 || value.is_null() {
            return;
        }
        match self.counts.get_mut(&value) {
            // Only a nonzero count is kept: gone values do not grow the state.
            Some(count) if *count + weight == 0 => {
                self.counts.remove(&value);
            }
            Some(count) => *count += weight,
            None => {
                self.counts.insert(value, weight);
            }
        }
    }

    fn present(&self) -> impl Iterator<Item = &ScalarValue> {
        self.counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(value, _)| value)
    }

    fn extreme(&self, keep: Ordering) -> Result<ScalarValue> {
        let mut best: Option<&ScalarValue> = None;
        for value in self.present() {
            best = match best {
                Some(b) if value.partial_cmp(b) != Some(keep) => Some(b),
                _ => Some(value),
            };
        }
        match best {
            Some(value) => Ok(value.clone()),
            None => ScalarValue::try_from(&self.value_type),
        }
    }
}

impl Accumulator for MultisetAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [value, weight] = values else {
            return exec_err!("a counted multiset takes a value and a weight");
        };
        let weight = weight.as_primitive_opt::<Int64Type>().ok_or_else(|| {
            datafusion::error::DataFusionError::Execution(format!(
                "a counted multiset's weight is BIGINT, not {}",
                weight.data_type()
            ))
        })?;
        for row in 0..value.len() {
            if value.is_null(row) || weight.is_null(row) || weight.value(row) == 0 {
                continue;
            }
            self.add(ScalarValue::try_from_array(value, row)?, weight.value(row));
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [values, counts] = states else {
            return exec_err!("a counted multiset's state is its values and their counts");
        };
        let (values, counts) = (values.as_list::<i32>(), counts.as_list::<i32>());
        for row in 0..values.len() {
            if values.is_null(row) || counts.is_null(row) {
                continue;
            }
            let (these, their_counts) = (values.value(row), counts.value(row));
            let their_counts = their_counts.as_primitive::<Int64Type>();
            for at in 0..these.len() {
                if their_counts.is_null(at) {
                    continue;
                }
                self.add(
                    ScalarValue::try_from_array(&these, at)?,
                    their_counts.value(at),
                );
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (values, counts): (Vec<ScalarValue>, Vec<ScalarValue>) = self
            .counts
            .iter()
            .map(|(value, n)| (value.clone(), ScalarValue::Int64(Some(*n))))
            .unzip();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &self.value_type)),
            ScalarValue::List(ScalarValue::new_list_nullable(&counts, &DataType::Int64)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        match self.answer {
            MultisetAnswer::Min => self.extreme(Ordering::Less),
            MultisetAnswer::Max => self.extreme(Ordering::Greater),
            MultisetAnswer::CountDistinct => {
                Ok(ScalarValue::Int64(Some(self.present().count() as i64)))
            }
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .counts
                .keys()
                .map(|v| v.size() + std::mem::size_of::<i64>())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, Int64Array};

    fn accumulator(answer: MultisetAnswer) -> MultisetAccumulator {
        MultisetAccumulator {
            answer,
            value_type: DataType::Int32,
            counts: HashMap::new(),
        }
    }

    fn feed(acc: &mut MultisetAccumulator, values: &[i32], weights: &[i64]) {
        let values: ArrayRef = Arc::new(Int32Array::from(values.to_vec()));
        let weights: ArrayRef = Arc::new(Int64Array::from(weights.to_vec()));
        acc.update_batch(&[values, weights]).unwrap();
    }

    #[test]
    fn a_retracted_maximum_gives_way_to_the_next_largest_value_left() {
        let mut max = accumulator(MultisetAnswer::Max);
        feed(&mut max, &[3, 9, 9, 5], &[1, 1, 1, 1]);
        assert_eq!(max.evaluate().unwrap(), ScalarValue::Int32(Some(9)));
        feed(&mut max, &[9], &[-1]);
        assert_eq!(max.evaluate().unwrap(), ScalarValue::Int32(Some(9)));
        feed(&mut max, &[9], &[-1]);
        assert_eq!(max.evaluate().unwrap(), ScalarValue::Int32(Some(5)));
        feed(&mut max, &[3, 5], &[-1, -1]);
        assert_eq!(max.evaluate().unwrap(), ScalarValue::Int32(None));
    }

    #[test]
    fn states_fold_with_their_counts_and_a_filtered_row_counts_nothing() {
        let mut kept = accumulator(MultisetAnswer::CountDistinct);
        feed(&mut kept, &[1, 2, 2, 7], &[1, 1, 1, 0]);
        let mut tick = accumulator(MultisetAnswer::Min);
        feed(&mut tick, &[1, 2], &[-1, -1]);
        let state: Vec<ArrayRef> = tick
            .state()
            .unwrap()
            .iter()
            .map(|s| s.to_array().unwrap())
            .collect();
        kept.merge_batch(&state).unwrap();
        // 1 went; 2 is held once more; 7 never counted.
        assert_eq!(kept.evaluate().unwrap(), ScalarValue::Int64(Some(1)));
    }
}
