//! A generator per kind of column: random or sequence numbers, strings, booleans, clocks, and
//! ROW, ARRAY and MAP columns of random values.

use super::options::{ColumnPlan, Spec};
use super::{NANOS_PER_DAY, NANOS_PER_SECOND};
use crate::error::EngineError;
use datafusion::arrow::array::{
    ArrayRef, ArrowPrimitiveType, BooleanArray, Date32Array, Float32Array, Float64Array, ListArray,
    MapArray, PrimitiveArray, StringArray, StructArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt32Array,
};
use datafusion::arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, FieldRef, Fields, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit,
};
use datafusion::arrow::row::{RowConverter, SortField};
use rand::distr::uniform::SampleUniform;
use rand::distr::{Distribution, Uniform};
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};
use std::sync::Arc;

/// Makes one column's values.
pub(super) trait Column: Send {
    /// The values of rows `first .. first + rows`; `now` is the wall clock in nanoseconds.
    fn generate(&mut self, first: u64, rows: usize, now: i64) -> Result<ArrayRef, EngineError>;
}

pub(super) fn generator(
    column: &ColumnPlan,
    mut rng: SmallRng,
) -> Result<Box<dyn Column>, EngineError> {
    let data_type = column.data_type.clone();
    let null_rate = column.null_rate;
    Ok(match (&column.spec, &data_type) {
        (Spec::RandomInt { low, high }, DataType::Int8) => {
            random_ints::<Int8Type>(rng, *low, *high, null_rate, data_type)?
        }
        (Spec::RandomInt { low, high }, DataType::Int16) => {
            random_ints::<Int16Type>(rng, *low, *high, null_rate, data_type)?
        }
        (Spec::RandomInt { low, high }, DataType::Int32) => {
            random_ints::<Int32Type>(rng, *low, *high, null_rate, data_type)?
        }
        (Spec::RandomInt { low, high }, DataType::Int64) => {
            random_ints::<Int64Type>(rng, *low, *high, null_rate, data_type)?
        }
        (Spec::RandomInt { low, high }, DataType::Decimal128(..)) => {
            random_ints::<Decimal128Type>(rng, *low, *high, null_rate, data_type)?
        }
        (Spec::SequenceInt { start, step, .. }, DataType::Int8) => {
            sequence::<Int8Type>(*start, *step, data_type)
        }
        (Spec::SequenceInt { start, step, .. }, DataType::Int16) => {
            sequence::<Int16Type>(*start, *step, data_type)
        }
        (Spec::SequenceInt { start, step, .. }, DataType::Int32) => {
            sequence::<Int32Type>(*start, *step, data_type)
        }
        (Spec::SequenceInt { start, step, .. }, DataType::Int64) => {
            sequence::<Int64Type>(*start, *step, data_type)
        }
        (Spec::SequenceInt { start, step, .. }, DataType::Decimal128(..)) => {
            sequence::<Decimal128Type>(*start, *step, data_type)
        }
        (Spec::RandomFloat { low, high }, _) => Box::new(RandomFloats {
            rng,
            low: *low,
            high: *high,
            null_rate,
            single: matches!(data_type, DataType::Float32),
        }),
        (Spec::SequenceFloat { start, .. }, _) => Box::new(SequenceFloats {
            start: *start,
            single: matches!(data_type, DataType::Float32),
        }),
        (Spec::RandomBool, _) => Box::new(RandomBools { rng, null_rate }),
        (Spec::RandomString { length, var_len }, _) => Box::new(RandomStrings {
            rng,
            length: *length,
            var_len: *var_len,
            null_rate,
        }),
        (Spec::SequenceString { start, .. }, _) => Box::new(SequenceStrings { start: *start }),
        (
            Spec::Clock {
                start,
                step_num,
                step_den,
                max_past,
            },
            _,
        ) => Box::new(Clock {
            rng,
            start: *start,
            step_num: *step_num,
            step_den: *step_den,
            max_past: *max_past,
            null_rate,
            unit_nanos: match &data_type {
                DataType::Timestamp(TimeUnit::Second, _) => NANOS_PER_SECOND,
                DataType::Timestamp(TimeUnit::Millisecond, _) => 1_000_000,
                DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000,
                DataType::Timestamp(TimeUnit::Nanosecond, _) => 1,
                _ => NANOS_PER_DAY,
            },
            data_type,
        }),
        (Spec::Row(children), DataType::Struct(fields)) => Box::new(RandomRows {
            fields: fields.clone(),
            children: nested_generators(children, &mut rng)?,
            null_rate,
            rng,
        }),
        (Spec::List { length, element }, DataType::List(field)) => Box::new(RandomLists {
            field: field.clone(),
            length: *length,
            element: generator(element, child_rng(&mut rng))?,
            null_rate,
            rng,
        }),
        (Spec::Map { length, key, value }, DataType::Map(entries, sorted)) => {
            Box::new(RandomMaps {
                entries: entries.clone(),
                sorted: *sorted,
                length: *length,
                key: generator(key, child_rng(&mut rng))?,
                value: generator(value, child_rng(&mut rng))?,
                null_rate,
                rng,
            })
        }
        (spec, data_type) => {
            return Err(EngineError::Internal {
                message: format!("datagen has no generator of {spec:?} for {data_type}"),
                source: None,
            })
        }
    })
}

/// A nested column's own random numbers, drawn from its parent's.
fn child_rng(parent: &mut SmallRng) -> SmallRng {
    SmallRng::seed_from_u64(parent.next_u64())
}

fn nested_generators(
    children: &[ColumnPlan],
    rng: &mut SmallRng,
) -> Result<Vec<Box<dyn Column>>, EngineError> {
    children
        .iter()
        .map(|child| generator(child, child_rng(rng)))
        .collect()
}

/// Which rows are NULL, a fraction `null_rate` of them.
fn null_rows(rng: &mut SmallRng, rows: usize, null_rate: f64) -> Option<NullBuffer> {
    (null_rate > 0.0).then(|| {
        (0..rows)
            .map(|_| rng.random::<f64>() >= null_rate)
            .collect::<Vec<bool>>()
            .into()
    })
}

/// ROW columns: each field from its own generator.
pub(super) struct RandomRows {
    fields: Fields,
    children: Vec<Box<dyn Column>>,
    null_rate: f64,
    rng: SmallRng,
}

impl Column for RandomRows {
    fn generate(&mut self, first: u64, rows: usize, now: i64) -> Result<ArrayRef, EngineError> {
        let columns = self
            .children
            .iter_mut()
            .map(|child| child.generate(first, rows, now))
            .collect::<Result<Vec<_>, _>>()?;
        let nulls = null_rows(&mut self.rng, rows, self.null_rate);
        Ok(Arc::new(StructArray::try_new(
            self.fields.clone(),
            columns,
            nulls,
        )?))
    }
}

/// ARRAY columns: `length` elements a row.
pub(super) struct RandomLists {
    field: FieldRef,
    length: usize,
    element: Box<dyn Column>,
    null_rate: f64,
    rng: SmallRng,
}

impl Column for RandomLists {
    fn generate(&mut self, first: u64, rows: usize, now: i64) -> Result<ArrayRef, EngineError> {
        let values = self.element.generate(first, rows * self.length, now)?;
        let offsets = OffsetBuffer::from_lengths(std::iter::repeat_n(self.length, rows));
        let nulls = null_rows(&mut self.rng, rows, self.null_rate);
        Ok(Arc::new(ListArray::try_new(
            self.field.clone(),
            offsets,
            values,
            nulls,
        )?))
    }
}

/// MAP columns: `length` entries a row, a repeated key kept once (its last value).
pub(super) struct RandomMaps {
    entries: FieldRef,
    sorted: bool,
    length: usize,
    key: Box<dyn Column>,
    value: Box<dyn Column>,
    null_rate: f64,
    rng: SmallRng,
}

impl Column for RandomMaps {
    fn generate(&mut self, first: u64, rows: usize, now: i64) -> Result<ArrayRef, EngineError> {
        let keys = self.key.generate(first, rows * self.length, now)?;
        let values = self.value.generate(first, rows * self.length, now)?;
        // A map's keys are distinct: of entries with equal keys the last stays.
        let converter = RowConverter::new(vec![SortField::new(keys.data_type().clone())])?;
        let encoded = converter.convert_columns(std::slice::from_ref(&keys))?;
        let mut kept: Vec<u32> = Vec::with_capacity(rows * self.length);
        let mut lengths = Vec::with_capacity(rows);
        for row in 0..rows {
            let start = row * self.length;
            let before = kept.len();
            for at in start..start + self.length {
                let repeated = (at + 1..start + self.length)
                    .any(|later| encoded.row(later) == encoded.row(at));
                if !repeated {
                    kept.push(at as u32);
                }
            }
            lengths.push(kept.len() - before);
        }
        let indices = UInt32Array::from(kept);
        let DataType::Struct(pair) = self.entries.data_type() else {
            return Err(EngineError::Internal {
                message: "a MAP's entries are not a struct".into(),
                source: None,
            });
        };
        let entries = StructArray::try_new(
            pair.clone(),
            vec![take(&keys, &indices, None)?, take(&values, &indices, None)?],
            None,
        )?;
        let nulls = null_rows(&mut self.rng, rows, self.null_rate);
        Ok(Arc::new(MapArray::try_new(
            self.entries.clone(),
            OffsetBuffer::from_lengths(lengths),
            entries,
            nulls,
            self.sorted,
        )?))
    }
}

/// `rows` values from `value`, with a fraction `null_rate` of them NULL (drawn per row,
/// before the value, so that the stream of random numbers does not depend on batch sizes).
pub(super) fn with_nulls<V>(
    rng: &mut SmallRng,
    rows: usize,
    null_rate: f64,
    mut value: impl FnMut(&mut SmallRng) -> V,
) -> (Vec<V>, Option<NullBuffer>) {
    let mut values = Vec::with_capacity(rows);
    if null_rate <= 0.0 {
        values.extend((0..rows).map(|_| value(rng)));
        return (values, None);
    }
    let mut valid = Vec::with_capacity(rows);
    for _ in 0..rows {
        valid.push(rng.random::<f64>() >= null_rate);
        values.push(value(rng));
    }
    (values, Some(NullBuffer::from(valid)))
}

pub(super) struct RandomInts<T: ArrowPrimitiveType>
where
    T::Native: SampleUniform,
{
    pub(super) rng: SmallRng,
    pub(super) uniform: Uniform<T::Native>,
    pub(super) null_rate: f64,
    pub(super) data_type: DataType,
}

pub(super) fn random_ints<T>(
    rng: SmallRng,
    low: i128,
    high: i128,
    null_rate: f64,
    data_type: DataType,
) -> Result<Box<dyn Column>, EngineError>
where
    T: ArrowPrimitiveType,
    T::Native: SampleUniform + TryFrom<i128>,
    RandomInts<T>: Column,
{
    let bound = |v: i128| {
        T::Native::try_from(v).map_err(|_| EngineError::Internal {
            message: format!("datagen bound {v} does not fit {data_type}"),
            source: None,
        })
    };
    let uniform =
        Uniform::new_inclusive(bound(low)?, bound(high)?).map_err(|e| EngineError::Internal {
            message: format!("datagen range {low} to {high}: {e}"),
            source: Some(Box::new(e)),
        })?;
    Ok(Box::new(RandomInts::<T> {
        rng,
        uniform,
        null_rate,
        data_type,
    }))
}

impl<T> Column for RandomInts<T>
where
    T: ArrowPrimitiveType,
    T::Native: SampleUniform,
    <T::Native as SampleUniform>::Sampler: Send,
{
    fn generate(&mut self, _first: u64, rows: usize, _now: i64) -> Result<ArrayRef, EngineError> {
        let uniform = &self.uniform;
        let (values, nulls) = with_nulls(&mut self.rng, rows, self.null_rate, |rng| {
            uniform.sample(rng)
        });
        primitive::<T>(values, nulls, &self.data_type)
    }
}

pub(super) fn primitive<T: ArrowPrimitiveType>(
    values: Vec<T::Native>,
    nulls: Option<NullBuffer>,
    data_type: &DataType,
) -> Result<ArrayRef, EngineError> {
    let array = PrimitiveArray::<T>::try_new(ScalarBuffer::from(values), nulls)?;
    Ok(Arc::new(array.with_data_type(data_type.clone())))
}

pub(super) struct Sequence<T> {
    pub(super) start: i128,
    pub(super) step: i128,
    pub(super) data_type: DataType,
    pub(super) _type: std::marker::PhantomData<fn() -> T>,
}

pub(super) fn sequence<T>(start: i128, step: i128, data_type: DataType) -> Box<dyn Column>
where
    T: ArrowPrimitiveType,
    T::Native: TryFrom<i128>,
{
    Box::new(Sequence::<T> {
        start,
        step,
        data_type,
        _type: std::marker::PhantomData,
    })
}

impl<T> Column for Sequence<T>
where
    T: ArrowPrimitiveType,
    T::Native: TryFrom<i128>,
{
    fn generate(&mut self, first: u64, rows: usize, _now: i64) -> Result<ArrayRef, EngineError> {
        // The source stops at the sequence's end, so every value fits the type.
        let values = (0..rows as u64)
            .map(|i| {
                let value = self.start + (first + i) as i128 * self.step;
                T::Native::try_from(value).unwrap_or_default()
            })
            .collect();
        primitive::<T>(values, None, &self.data_type)
    }
}

pub(super) struct RandomFloats {
    pub(super) rng: SmallRng,
    pub(super) low: f64,
    pub(super) high: f64,
    pub(super) null_rate: f64,
    pub(super) single: bool,
}

impl Column for RandomFloats {
    fn generate(&mut self, _first: u64, rows: usize, _now: i64) -> Result<ArrayRef, EngineError> {
        let (low, high) = (self.low, self.high);
        // Written so that the full range of the type does not overflow.
        let value = move |rng: &mut SmallRng| {
            let u: f64 = rng.random();
            (low * (1.0 - u) + high * u).clamp(low, high)
        };
        Ok(match self.single {
            true => {
                let (values, nulls) =
                    with_nulls(&mut self.rng, rows, self.null_rate, |rng| value(rng) as f32);
                Arc::new(Float32Array::new(values.into(), nulls))
            }
            false => {
                let (values, nulls) = with_nulls(&mut self.rng, rows, self.null_rate, value);
                Arc::new(Float64Array::new(values.into(), nulls))
            }
        })
    }
}

pub(super) struct SequenceFloats {
    pub(super) start: f64,
    pub(super) single: bool,
}

impl Column for SequenceFloats {
    fn generate(&mut self, first: u64, rows: usize, _now: i64) -> Result<ArrayRef, EngineError> {
        let values = (first..first + rows as u64).map(|i| self.start + i as f64);
        Ok(match self.single {
            true => Arc::new(Float32Array::from_iter_values(values.map(|v| v as f32))),
            false => Arc::new(Float64Array::from_iter_values(values)),
        })
    }
}

pub(super) struct RandomBools {
    pub(super) rng: SmallRng,
    pub(super) null_rate: f64,
}

impl Column for RandomBools {
    fn generate(&mut self, _first: u64, rows: usize, _now: i64) -> Result<ArrayRef, EngineError> {
        let (values, nulls) = with_nulls(&mut self.rng, rows, self.null_rate, |rng| {
            rng.random::<bool>()
        });
        Ok(Arc::new(BooleanArray::new(values.into(), nulls)))
    }
}

pub(super) const ALPHANUMERIC: &[u8; 62] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub(super) struct RandomStrings {
    pub(super) rng: SmallRng,
    pub(super) length: usize,
    pub(super) var_len: bool,
    pub(super) null_rate: f64,
}

impl Column for RandomStrings {
    fn generate(&mut self, _first: u64, rows: usize, _now: i64) -> Result<ArrayRef, EngineError> {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0i32);
        let mut text = Vec::with_capacity(rows * self.length);
        let mut valid = Vec::with_capacity(if self.null_rate > 0.0 { rows } else { 0 });
        for _ in 0..rows {
            let is_valid = self.null_rate <= 0.0 || self.rng.random::<f64>() >= self.null_rate;
            if self.null_rate > 0.0 {
                valid.push(is_valid);
            }
            if is_valid {
                let length = match self.var_len && self.length > 1 {
                    true => self.rng.random_range(1..=self.length),
                    false => self.length,
                };
                alphanumeric(&mut self.rng, length, &mut text);
            }
            offsets.push(
                i32::try_from(text.len()).map_err(|_| EngineError::Internal {
                    message: "datagen made a batch of strings over 2 GB".into(),
                    source: None,
                })?,
            );
        }
        let nulls = (self.null_rate > 0.0).then(|| NullBuffer::from(valid));
        let array = StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(text),
            nulls,
        )?;
        Ok(Arc::new(array))
    }
}

/// `length` random letters and digits: ten from each random u64, taken as the base-62
/// digits of a random fraction.
pub(super) fn alphanumeric(rng: &mut SmallRng, length: usize, out: &mut Vec<u8>) {
    let mut left = length;
    while left > 0 {
        let mut x = rng.next_u64();
        for _ in 0..left.min(10) {
            let product = x as u128 * 62;
            out.push(ALPHANUMERIC[(product >> 64) as usize]);
            x = product as u64;
        }
        left -= left.min(10);
    }
}

pub(super) struct SequenceStrings {
    pub(super) start: i64,
}

impl Column for SequenceStrings {
    fn generate(&mut self, first: u64, rows: usize, _now: i64) -> Result<ArrayRef, EngineError> {
        Ok(Arc::new(StringArray::from_iter_values(
            (first..first + rows as u64).map(|i| (self.start as i128 + i as i128).to_string()),
        )))
    }
}

pub(super) struct Clock {
    pub(super) rng: SmallRng,
    pub(super) start: Option<i64>,
    pub(super) step_num: i64,
    pub(super) step_den: i64,
    pub(super) max_past: i64,
    pub(super) null_rate: f64,
    /// Nanoseconds per unit of the column: 1 for TIMESTAMP(9) … a day for DATE.
    pub(super) unit_nanos: i64,
    pub(super) data_type: DataType,
}

impl Clock {
    /// The clock of row `row`, in nanoseconds.
    fn at(&self, row: u64, now: i64) -> i64 {
        let Some(start) = self.start else {
            return now;
        };
        let offset = match (row as i64).checked_mul(self.step_num) {
            Some(product) => product / self.step_den,
            None => {
                let offset = row as i128 * self.step_num as i128 / self.step_den as i128;
                offset.clamp(i64::MIN as i128, i64::MAX as i128) as i64
            }
        };
        start.saturating_add(offset)
    }
}

impl Column for Clock {
    fn generate(&mut self, first: u64, rows: usize, now: i64) -> Result<ArrayRef, EngineError> {
        let (max_past, unit) = (self.max_past, self.unit_nanos);
        let mut row = first;
        let mut rng = self.rng.clone();
        let (values, nulls) = with_nulls(&mut rng, rows, self.null_rate, |rng| {
            let mut time = self.at(row, now);
            row += 1;
            if max_past > 0 {
                time = time.saturating_sub(rng.random_range(0..=max_past));
            }
            time.div_euclid(unit)
        });
        self.rng = rng;
        let array: ArrayRef = match &self.data_type {
            DataType::Timestamp(TimeUnit::Second, _) => Arc::new(
                TimestampSecondArray::try_new(values.into(), nulls)?
                    .with_data_type(self.data_type.clone()),
            ),
            DataType::Timestamp(TimeUnit::Millisecond, _) => Arc::new(
                TimestampMillisecondArray::try_new(values.into(), nulls)?
                    .with_data_type(self.data_type.clone()),
            ),
            DataType::Timestamp(TimeUnit::Microsecond, _) => Arc::new(
                TimestampMicrosecondArray::try_new(values.into(), nulls)?
                    .with_data_type(self.data_type.clone()),
            ),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => Arc::new(
                TimestampNanosecondArray::try_new(values.into(), nulls)?
                    .with_data_type(self.data_type.clone()),
            ),
            _ => Arc::new(Date32Array::try_new(
                values
                    .into_iter()
                    .map(|days| days.clamp(i32::MIN as i64, i32::MAX as i64) as i32)
                    .collect(),
                nulls,
            )?),
        };
        Ok(array)
    }
}
