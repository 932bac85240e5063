//! `'connector' = 'datagen'`: rows made up as they are needed, as Flink's datagen makes them.
//!
//! Table options: `rows-per-second` (default 10000; 1e9 or more means as fast as the query
//! takes them), `number-of-rows` (makes the table bounded) and Eddy's `seed` (a u64: the
//! same seed gives the same rows, whatever the batch sizes).
//!
//! Column options `fields.<column>.<option>`:
//! - `kind`: `random` (the default) or `sequence`.
//! - numbers (TINYINT … BIGINT, FLOAT, DOUBLE, DECIMAL), random: `min`, `max` (Flink's
//!   defaults: the type's range for integers, Float.MIN_VALUE to Float.MAX_VALUE for
//!   floating point, 0 to the largest value the precision holds for DECIMAL), `null-rate`
//!   (0 to 1, default 0); sequence: `start` and `end` (both required), counting up by 1.
//! - STRING / VARCHAR, random: `length` (default 100) of alphanumeric characters,
//!   `var-len` (a random length from 1 to `length`), `null-rate`; sequence: `start` and
//!   `end`, whole numbers written as text.
//! - BOOLEAN: random only, `null-rate`.
//! - TIMESTAMP(p), TIMESTAMP_LTZ(p), DATE: a clock. With `start` (a timestamp such as
//!   '2024-01-01 00:00:00'), row i's clock is start + i × `step` (an interval such as
//!   '100 ms' or '2 minutes'; default 1 second / rows-per-second): deterministic. Without
//!   `start`, the clock is the wall clock (UTC) when the row's batch is made. `kind` random
//!   (the default) subtracts a random 0 to `max-past` (an interval, default 0), which puts
//!   rows out of order; `kind` sequence uses the clock as it is. `null-rate` for random.
//!
//! A sequence that runs out ends the source, as in Flink; so does `number-of-rows`.
//! Values are made column by column, each column with its own generator seeded from the
//! table's seed, so a column's values do not depend on how rows are cut into batches.

use super::{bad_option, parse_duration, ConnectorOptions};
use crate::error::EngineError;
use crate::stream::catalog::SourceFactory;
use crate::stream::source::{BatchSender, StreamSource};
use datafusion::arrow::array::{
    ArrayRef, ArrowPrimitiveType, BooleanArray, Date32Array, Float32Array, Float64Array,
    PrimitiveArray, RecordBatch, StringArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray,
};
use datafusion::arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::compute::kernels::cast_utils::string_to_timestamp_nanos;
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Field, Int16Type, Int32Type, Int64Type, Int8Type, SchemaRef, TimeUnit,
};
use datafusion::execution::context::SessionContext;
use futures::future::BoxFuture;
use rand::distr::uniform::SampleUniform;
use rand::distr::{Distribution, Uniform};
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// The slowest rate: a row every 1,000 seconds.
const MIN_ROWS_PER_SECOND: f64 = 0.001;

const DEFAULT_ROWS_PER_SECOND: f64 = 10_000.0;
/// A rate this high or higher means no pacing at all.
const UNTHROTTLED: f64 = 1e9;
const DEFAULT_STRING_LENGTH: usize = 100;
const MAX_STRING_LENGTH: usize = 1 << 20;
/// Batches hold at most this many rows, or `FAST_BATCH` at high rates.
const BATCH: usize = 8192;
const FAST_BATCH: usize = 65_536;
/// A paced source sends about every this long.
const TICK: Duration = Duration::from_millis(10);
/// String bytes one batch may hold.
const BATCH_TEXT_BYTES: usize = 64 << 20;
const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SECOND;

const TYPES: &str = "datagen makes TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL, \
    BOOLEAN, STRING/VARCHAR, TIMESTAMP(p), TIMESTAMP_LTZ(p) and DATE columns";

/// The datagen source of table `table`, checked whole: every option is read here, so an
/// unknown or bad one fails the CREATE TABLE.
pub(crate) fn factory(
    table: &str,
    schema: SchemaRef,
    options: &mut ConnectorOptions,
) -> Result<Arc<dyn SourceFactory>, EngineError> {
    Ok(Arc::new(DatagenFactory {
        plan: Arc::new(plan(table, schema, options)?),
    }))
}

fn plan(
    table: &str,
    schema: SchemaRef,
    options: &mut ConnectorOptions,
) -> Result<Plan, EngineError> {
    options.get("connector");
    let rate = match options.get("rows-per-second") {
        None => DEFAULT_ROWS_PER_SECOND,
        Some(text) => match text.trim().parse::<f64>() {
            Ok(rate) if rate.is_finite() && rate >= MIN_ROWS_PER_SECOND => rate,
            _ => {
                return Err(bad_option(
                    "rows-per-second",
                    "the value is a number of rows of at least 0.001, e.g. '1000' (1e9 or \
                     more: as fast as possible)",
                ))
            }
        },
    };
    let number_of_rows = match options.get("number-of-rows") {
        None => None,
        Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
            bad_option(
                "number-of-rows",
                "the value is a whole number of rows, e.g. '1000'",
            )
        })?),
    };
    let seed = match options.get("seed") {
        None => None,
        Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
            bad_option(
                "seed",
                "the seed is a whole number from 0 to 18446744073709551615",
            )
        })?),
    };
    check_field_keys(options, &schema)?;
    let columns = schema
        .fields()
        .iter()
        .map(|field| column_plan(options, field, rate))
        .collect::<Result<Vec<_>, _>>()?;
    options.finish("datagen")?;

    let sequence_rows = columns.iter().filter_map(|c| c.spec.rows()).min();
    let total = match (number_of_rows, sequence_rows) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let text_bytes: usize = columns.iter().map(|c| c.spec.text_bytes()).sum();
    let mut max_batch = if rate >= 1e6 { FAST_BATCH } else { BATCH };
    if let Some(rows) = BATCH_TEXT_BYTES.checked_div(text_bytes) {
        max_batch = max_batch.min(rows.max(1));
    }
    Ok(Plan {
        table: table.to_string(),
        schema,
        rate: (rate < UNTHROTTLED).then_some(rate),
        total,
        seed,
        columns,
        max_batch,
    })
}

/// Every `fields.<column>.<option>` names a column of the table and an option its type has.
fn check_field_keys(options: &ConnectorOptions, schema: &SchemaRef) -> Result<(), EngineError> {
    let columns = || {
        schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for key in options.all().keys() {
        let Some(rest) = key.strip_prefix("fields.") else {
            continue;
        };
        let Some((name, option)) = rest.rsplit_once('.') else {
            return Err(bad_option(
                key,
                "column options are written 'fields.<column>.<option>', e.g. \
                 'fields.id.kind'",
            ));
        };
        let Some(field) = schema
            .fields()
            .iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
        else {
            return Err(bad_option(
                key,
                &format!(
                    "the table has no column {name}; its columns are {}",
                    columns()
                ),
            ));
        };
        let allowed = allowed_options(field.data_type());
        if !allowed.contains(&option) {
            return Err(bad_option(
                key,
                &format!(
                    "a {} column takes the options {}",
                    type_name(field.data_type()),
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn allowed_options(data_type: &DataType) -> &'static [&'static str] {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(..) => &["kind", "min", "max", "null-rate", "start", "end"],
        DataType::Utf8 => &["kind", "length", "var-len", "null-rate", "start", "end"],
        DataType::Boolean => &["kind", "null-rate"],
        DataType::Timestamp(..) | DataType::Date32 => {
            &["kind", "start", "step", "max-past", "null-rate"]
        }
        _ => &[],
    }
}

fn type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p}, {s})"),
        DataType::Utf8 => "STRING".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Date32 => "DATE".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP_LTZ".into(),
        other => other.to_string(),
    }
}

/// What the source needs to open generators: the checked options.
struct Plan {
    table: String,
    schema: SchemaRef,
    /// Rows per second; `None` for as fast as possible.
    rate: Option<f64>,
    /// Rows in all, for a bounded source.
    total: Option<u64>,
    seed: Option<u64>,
    columns: Vec<ColumnPlan>,
    max_batch: usize,
}

struct ColumnPlan {
    data_type: DataType,
    spec: Spec,
    null_rate: f64,
}

/// How one column's values are made.
#[derive(Debug, Clone, PartialEq)]
enum Spec {
    /// Integers and decimals (as unscaled values), from `low` to `high`.
    RandomInt {
        low: i128,
        high: i128,
    },
    /// `start`, `start + step`, … up to `end` (unscaled for decimals).
    SequenceInt {
        start: i128,
        end: i128,
        step: i128,
    },
    RandomFloat {
        low: f64,
        high: f64,
    },
    SequenceFloat {
        start: f64,
        end: f64,
    },
    RandomBool,
    RandomString {
        length: usize,
        var_len: bool,
    },
    SequenceString {
        start: i64,
        end: i64,
    },
    /// Row i's time is `start + i × step_num / step_den` nanoseconds (or now, without a
    /// start), minus a random 0 to `max_past` nanoseconds.
    Clock {
        start: Option<i64>,
        step_num: i64,
        step_den: i64,
        max_past: i64,
    },
}

impl Spec {
    /// The rows a sequence has before it runs out.
    fn rows(&self) -> Option<u64> {
        let count = match self {
            Spec::SequenceInt { start, end, step } => (end - start) / step + 1,
            Spec::SequenceFloat { start, end } => ((end - start).floor() as i128).max(-1) + 1,
            Spec::SequenceString { start, end } => *end as i128 - *start as i128 + 1,
            _ => return None,
        };
        Some(count.clamp(0, u64::MAX as i128) as u64)
    }

    /// The most bytes of text one row of this column holds.
    fn text_bytes(&self) -> usize {
        match self {
            Spec::RandomString { length, .. } => *length,
            Spec::SequenceString { .. } => 20,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Random,
    Sequence,
}

fn column_plan(
    options: &mut ConnectorOptions,
    field: &Field,
    rate: f64,
) -> Result<ColumnPlan, EngineError> {
    let data_type = field.data_type().clone();
    if allowed_options(&data_type).is_empty() {
        return Err(EngineError::NotSupported {
            message: format!(
                "datagen cannot make column {} of type {data_type}",
                field.name()
            ),
        });
    }
    let prefix = format!("fields.{}.", field.name().to_ascii_lowercase());
    let key = |option: &str| format!("{prefix}{option}");
    let kind = match options
        .get(&key("kind"))
        .map(|k| k.trim().to_ascii_lowercase())
    {
        None => Kind::Random,
        Some(k) if k == "random" => Kind::Random,
        Some(k) if k == "sequence" => Kind::Sequence,
        Some(_) => {
            return Err(bad_option(
                &key("kind"),
                "the kinds are random and sequence",
            ))
        }
    };
    let is_time = matches!(data_type, DataType::Timestamp(..) | DataType::Date32);
    // Options that belong to the other kind are mistakes, not silently ignored.
    let (wrong, hint): (&[&str], &str) = match (kind, is_time) {
        (Kind::Random, false) => (
            &["start", "end"],
            "start and end are for 'kind' = 'sequence'; a random column takes min and max",
        ),
        (Kind::Sequence, false) => (
            &["min", "max", "length", "var-len", "null-rate"],
            "a sequence takes start and end only",
        ),
        (Kind::Sequence, true) => (
            &["max-past", "null-rate"],
            "max-past and null-rate are for 'kind' = 'random'",
        ),
        (Kind::Random, true) => (&[], ""),
    };
    if let Some(option) = wrong.iter().find(|o| options.has(&key(o))) {
        return Err(bad_option(&key(option), hint));
    }
    let null_rate = match options.get(&key("null-rate")) {
        None => 0.0,
        Some(text) => match text.trim().parse::<f64>() {
            Ok(rate) if (0.0..=1.0).contains(&rate) => rate,
            _ => {
                return Err(bad_option(
                    &key("null-rate"),
                    "the null rate is a fraction from 0 to 1, e.g. '0.1'",
                ))
            }
        },
    };
    let spec = match (&data_type, kind) {
        (DataType::Boolean, Kind::Random) => Spec::RandomBool,
        (DataType::Boolean, Kind::Sequence) => {
            return Err(bad_option(
                &key("kind"),
                "a BOOLEAN column is random; sequences are for numbers, strings and times",
            ))
        }
        (DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64, _) => {
            let (type_min, type_max) = int_range(&data_type);
            let hint = format!(
                "the value is a whole number from {type_min} to {type_max} (the range of {})",
                type_name(&data_type)
            );
            let read = |options: &mut ConnectorOptions, option: &str, default| {
                read_bound(options, &key(option), default, &hint, |text| {
                    text.trim()
                        .parse::<i128>()
                        .ok()
                        .filter(|v| (type_min..=type_max).contains(v))
                })
            };
            match kind {
                Kind::Random => {
                    let low = read(options, "min", Some(type_min))?;
                    let high = read(options, "max", Some(type_max))?;
                    ordered(&key("min"), low, high)?;
                    Spec::RandomInt { low, high }
                }
                Kind::Sequence => {
                    let start = read(options, "start", None)?;
                    let end = read(options, "end", None)?;
                    ordered(&key("start"), start, end)?;
                    Spec::SequenceInt {
                        start,
                        end,
                        step: 1,
                    }
                }
            }
        }
        (DataType::Decimal128(precision, scale), _) => {
            let (precision, scale) = (*precision, (*scale).max(0) as u32);
            let largest = 10i128.pow(precision as u32) - 1;
            let hint = format!(
                "the value is a number that {} holds, with at most {scale} decimal places",
                type_name(&data_type)
            );
            let read = |options: &mut ConnectorOptions, option: &str, default| {
                read_bound(options, &key(option), default, &hint, |text| {
                    parse_decimal(text, scale).filter(|v| (-largest..=largest).contains(v))
                })
            };
            match kind {
                Kind::Random => {
                    let low = read(options, "min", Some(0))?;
                    let high = read(options, "max", Some(largest))?;
                    ordered(&key("min"), low, high)?;
                    Spec::RandomInt { low, high }
                }
                Kind::Sequence => {
                    let start = read(options, "start", None)?;
                    let end = read(options, "end", None)?;
                    ordered(&key("start"), start, end)?;
                    Spec::SequenceInt {
                        start,
                        end,
                        step: 10i128.pow(scale),
                    }
                }
            }
        }
        (DataType::Float32 | DataType::Float64, _) => {
            let single = matches!(data_type, DataType::Float32);
            let limit = if single { f32::MAX as f64 } else { f64::MAX };
            let hint = format!("the value is a number that {} holds", type_name(&data_type));
            let read = |options: &mut ConnectorOptions, option: &str, default| {
                read_bound(options, &key(option), default, &hint, |text| {
                    text.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && v.abs() <= limit)
                })
            };
            match kind {
                Kind::Random => {
                    let (min, max) = match single {
                        true => (f32::MIN_POSITIVE as f64, f32::MAX as f64),
                        false => (f64::MIN_POSITIVE, f64::MAX),
                    };
                    let low = read(options, "min", Some(min))?;
                    let high = read(options, "max", Some(max))?;
                    ordered(&key("min"), low, high)?;
                    Spec::RandomFloat { low, high }
                }
                Kind::Sequence => {
                    let start = read(options, "start", None)?;
                    let end = read(options, "end", None)?;
                    ordered(&key("start"), start, end)?;
                    Spec::SequenceFloat { start, end }
                }
            }
        }
        (DataType::Utf8, Kind::Random) => {
            let length = match options.get(&key("length")) {
                None => DEFAULT_STRING_LENGTH,
                Some(text) => match text.trim().parse::<usize>() {
                    Ok(n) if n <= MAX_STRING_LENGTH => n,
                    _ => {
                        return Err(bad_option(
                            &key("length"),
                            &format!("the length is a whole number from 0 to {MAX_STRING_LENGTH}"),
                        ))
                    }
                },
            };
            let var_len = options.flag(&key("var-len"), false)?;
            Spec::RandomString { length, var_len }
        }
        (DataType::Utf8, Kind::Sequence) => {
            let mut read = |option: &str| {
                let value = options.get(&key(option)).ok_or_else(|| {
                    bad_option(
                        &key(option),
                        &format!(
                            "'{}' is required for a sequence (of whole numbers, as text)",
                            key(option)
                        ),
                    )
                })?;
                value.trim().parse::<i64>().map_err(|_| {
                    bad_option(
                        &key(option),
                        "a STRING sequence counts whole numbers, e.g. '1' to '1000'",
                    )
                })
            };
            let start = read("start")?;
            let end = read("end")?;
            ordered(&key("start"), start, end)?;
            Spec::SequenceString { start, end }
        }
        (DataType::Timestamp(..) | DataType::Date32, _) => {
            let start = match options.get(&key("start")) {
                None => None,
                Some(text) => Some(string_to_timestamp_nanos(text.trim()).map_err(|_| {
                    bad_option(
                        &key("start"),
                        "the start is a timestamp such as '2024-01-01 00:00:00' (from the year \
                         1678 to 2261)",
                    )
                })?),
            };
            let interval = |options: &mut ConnectorOptions, option: &str| {
                options
                    .get(&key(option))
                    .map(|text| {
                        parse_duration(&key(option), &text)
                            .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                    })
                    .transpose()
            };
            let step = interval(options, "step")?;
            if step.is_some() && start.is_none() {
                return Err(bad_option(
                    &key("step"),
                    &format!(
                        "a step needs a start: without '{}' the clock is the wall clock",
                        key("start")
                    ),
                ));
            }
            let max_past = interval(options, "max-past")?.unwrap_or(0);
            let (step_num, step_den) = match step {
                Some(step) => (step, 1),
                // One second per rows-per-second rows, exactly when the rate is whole.
                None if rate.fract() == 0.0 && rate <= 1e15 => (NANOS_PER_SECOND, rate as i64),
                None => ((1e18 / rate).round() as i64, NANOS_PER_SECOND),
            };
            Spec::Clock {
                start,
                step_num,
                step_den: step_den.max(1),
                max_past,
            }
        }
        _ => {
            return Err(EngineError::NotSupported {
                message: format!(
                    "datagen cannot make column {} of type {data_type}; {TYPES}",
                    field.name()
                ),
            })
        }
    };
    Ok(ColumnPlan {
        data_type,
        spec,
        null_rate,
    })
}

fn ordered<T: PartialOrd + std::fmt::Display>(
    key: &str,
    low: T,
    high: T,
) -> Result<(), EngineError> {
    if low > high {
        let (first, second) = match key.ends_with(".start") {
            true => ("start", "end"),
            false => ("min", "max"),
        };
        return Err(bad_option(
            key,
            &format!("the {first} ({low}) is above the {second} ({high})"),
        ));
    }
    Ok(())
}

/// A bound option (`min`, `max`, `start`, `end`): `default` when it is not given (no
/// default: a sequence needs it), else the value `parse` accepts, else an error with `hint`.
fn read_bound<T>(
    options: &mut ConnectorOptions,
    key: &str,
    default: Option<T>,
    hint: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, EngineError> {
    match options.get(key) {
        None => {
            default.ok_or_else(|| bad_option(key, &format!("'{key}' is required for a sequence")))
        }
        Some(text) => parse(&text).ok_or_else(|| bad_option(key, hint)),
    }
}

fn int_range(data_type: &DataType) -> (i128, i128) {
    match data_type {
        DataType::Int8 => (i8::MIN as i128, i8::MAX as i128),
        DataType::Int16 => (i16::MIN as i128, i16::MAX as i128),
        DataType::Int32 => (i32::MIN as i128, i32::MAX as i128),
        _ => (i64::MIN as i128, i64::MAX as i128),
    }
}

/// A decimal number such as '-12.5' as an unscaled value with `scale` decimal places;
/// `None` if it has more places or is not a plain decimal number.
fn parse_decimal(text: &str, scale: u32) -> Option<i128> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > scale as usize {
        return None;
    }
    let mut value: i128 = 0;
    for b in whole.bytes() {
        value = value.checked_mul(10)?.checked_add((b - b'0') as i128)?;
    }
    for place in 0..scale as usize {
        let digit = fraction.as_bytes().get(place).map_or(0, |b| b - b'0');
        value = value.checked_mul(10)?.checked_add(digit as i128)?;
    }
    Some(if negative { -value } else { value })
}

struct DatagenFactory {
    plan: Arc<Plan>,
}

impl SourceFactory for DatagenFactory {
    fn open(&self, _ctx: &SessionContext) -> Result<Box<dyn StreamSource>, EngineError> {
        Ok(Box::new(DatagenSource::new(self.plan.clone())?))
    }
}

/// One query's generator.
struct DatagenSource {
    plan: Arc<Plan>,
    columns: Vec<Box<dyn Column>>,
}

impl DatagenSource {
    fn new(plan: Arc<Plan>) -> Result<Self, EngineError> {
        let seed = plan.seed.unwrap_or_else(rand::random);
        let columns = plan
            .columns
            .iter()
            .enumerate()
            .map(|(index, column)| {
                // Each column its own stream of random numbers, so that the values of one do
                // not depend on the batch sizes or on the other columns.
                let rng = SmallRng::seed_from_u64(
                    seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                generator(column, rng)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DatagenSource { plan, columns })
    }

    /// Rows `first .. first + rows` of the stream.
    fn batch(&mut self, first: u64, rows: usize) -> Result<RecordBatch, EngineError> {
        let now = wall_clock_nanos();
        let arrays = self
            .columns
            .iter_mut()
            .map(|column| column.generate(first, rows, now))
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new(self.plan.schema.clone(), arrays).map_err(|e| EngineError::Internal {
            message: format!(
                "datagen for table {} made a bad batch: {e}",
                self.plan.table
            ),
        })
    }

    async fn run_paced(mut self, out: BatchSender) -> Result<(), EngineError> {
        let plan = self.plan.clone();
        let started = Instant::now();
        let mut sent: u64 = 0;
        // Rows per send at the rate: about one send per tick.
        let target = plan
            .rate
            .map(|rate| ((rate * TICK.as_secs_f64()) as usize).clamp(1, plan.max_batch));
        loop {
            let remaining = plan.total.map_or(u64::MAX, |total| total - sent);
            if remaining == 0 {
                return Ok(());
            }
            let rows = match (plan.rate, target) {
                (Some(rate), Some(target)) => {
                    let want = (target as u64).min(remaining);
                    let due = (started.elapsed().as_secs_f64() * rate) as u64;
                    if due < sent + want {
                        // Ahead of the rate: wait until `want` more rows are due.
                        let due_in = Duration::try_from_secs_f64((sent + want) as f64 / rate);
                        let Some(at) = due_in.ok().and_then(|d| started.checked_add(d)) else {
                            // Not due within the clock's range: nothing more comes.
                            out.closed().await;
                            return Ok(());
                        };
                        tokio::select! {
                            _ = tokio::time::sleep_until(at) => continue,
                            _ = out.closed() => return Ok(()),
                        }
                    }
                    (due - sent).min(plan.max_batch as u64).min(remaining)
                }
                _ => (plan.max_batch as u64).min(remaining),
            };
            let batch = self.batch(sent, rows as usize)?;
            if out.send(batch).await.is_err() {
                return Ok(());
            }
            sent += rows;
            if plan.rate.is_none() {
                // Unthrottled: let the query's other tasks run between batches.
                tokio::task::yield_now().await;
            }
        }
    }
}

impl StreamSource for DatagenSource {
    fn schema(&self) -> SchemaRef {
        self.plan.schema.clone()
    }

    fn is_bounded(&self) -> bool {
        self.plan.total.is_some()
    }

    fn run(self: Box<Self>, out: BatchSender) -> BoxFuture<'static, Result<(), EngineError>> {
        Box::pin(self.run_paced(out))
    }
}

fn wall_clock_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Makes one column's values.
trait Column: Send {
    /// The values of rows `first .. first + rows`; `now` is the wall clock in nanoseconds.
    fn generate(&mut self, first: u64, rows: usize, now: i64) -> Result<ArrayRef, EngineError>;
}

fn generator(column: &ColumnPlan, rng: SmallRng) -> Result<Box<dyn Column>, EngineError> {
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
        (spec, data_type) => {
            return Err(EngineError::Internal {
                message: format!("datagen has no generator of {spec:?} for {data_type}"),
            })
        }
    })
}

/// `rows` values from `value`, with a fraction `null_rate` of them NULL (drawn per row,
/// before the value, so that the stream of random numbers does not depend on batch sizes).
fn with_nulls<V>(
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

struct RandomInts<T: ArrowPrimitiveType>
where
    T::Native: SampleUniform,
{
    rng: SmallRng,
    uniform: Uniform<T::Native>,
    null_rate: f64,
    data_type: DataType,
}

fn random_ints<T>(
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
        })
    };
    let uniform =
        Uniform::new_inclusive(bound(low)?, bound(high)?).map_err(|e| EngineError::Internal {
            message: format!("datagen range {low} to {high}: {e}"),
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

fn primitive<T: ArrowPrimitiveType>(
    values: Vec<T::Native>,
    nulls: Option<NullBuffer>,
    data_type: &DataType,
) -> Result<ArrayRef, EngineError> {
    let array = PrimitiveArray::<T>::try_new(ScalarBuffer::from(values), nulls)?;
    Ok(Arc::new(array.with_data_type(data_type.clone())))
}

struct Sequence<T> {
    start: i128,
    step: i128,
    data_type: DataType,
    _type: std::marker::PhantomData<fn() -> T>,
}

fn sequence<T>(start: i128, step: i128, data_type: DataType) -> Box<dyn Column>
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

struct RandomFloats {
    rng: SmallRng,
    low: f64,
    high: f64,
    null_rate: f64,
    single: bool,
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

struct SequenceFloats {
    start: f64,
    single: bool,
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

struct RandomBools {
    rng: SmallRng,
    null_rate: f64,
}

impl Column for RandomBools {
    fn generate(&mut self, _first: u64, rows: usize, _now: i64) -> Result<ArrayRef, EngineError> {
        let (values, nulls) = with_nulls(&mut self.rng, rows, self.null_rate, |rng| {
            rng.random::<bool>()
        });
        Ok(Arc::new(BooleanArray::new(values.into(), nulls)))
    }
}

const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

struct RandomStrings {
    rng: SmallRng,
    length: usize,
    var_len: bool,
    null_rate: f64,
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
fn alphanumeric(rng: &mut SmallRng, length: usize, out: &mut Vec<u8>) {
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

struct SequenceStrings {
    start: i64,
}

impl Column for SequenceStrings {
    fn generate(&mut self, first: u64, rows: usize, _now: i64) -> Result<ArrayRef, EngineError> {
        Ok(Arc::new(StringArray::from_iter_values(
            (first..first + rows as u64).map(|i| (self.start as i128 + i as i128).to_string()),
        )))
    }
}

struct Clock {
    rng: SmallRng,
    start: Option<i64>,
    step_num: i64,
    step_den: i64,
    max_past: i64,
    null_rate: f64,
    /// Nanoseconds per unit of the column: 1 for TIMESTAMP(9) … a day for DATE.
    unit_nanos: i64,
    data_type: DataType,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::lines::test_options;
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::compute::concat_batches;
    use datafusion::arrow::datatypes::{Schema, TimestampMillisecondType};

    fn schema(columns: &[(&str, DataType)]) -> SchemaRef {
        Arc::new(Schema::new(
            columns
                .iter()
                .map(|(name, t)| Field::new(*name, t.clone(), true))
                .collect::<Vec<_>>(),
        ))
    }

    fn make(
        columns: &[(&str, DataType)],
        pairs: &[(&str, &str)],
    ) -> Result<Arc<dyn SourceFactory>, EngineError> {
        let mut all = vec![("connector", "datagen")];
        all.extend_from_slice(pairs);
        factory("t", schema(columns), &mut test_options(&all))
    }

    /// Runs a bounded source to its end and returns its rows as one batch.
    async fn collect(factory: &Arc<dyn SourceFactory>) -> RecordBatch {
        let source = factory.open(&SessionContext::new()).unwrap();
        let schema = source.schema();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let task = tokio::spawn(source.run(tx));
        let mut batches = Vec::new();
        while let Some(batch) = rx.recv().await {
            batches.push(batch);
        }
        task.await.unwrap().unwrap();
        concat_batches(&schema, &batches).unwrap()
    }

    fn millis() -> DataType {
        DataType::Timestamp(TimeUnit::Millisecond, None)
    }

    fn all_types() -> Vec<(&'static str, DataType)> {
        vec![
            ("a", DataType::Int8),
            ("b", DataType::Int16),
            ("c", DataType::Int32),
            ("d", DataType::Int64),
            ("e", DataType::Float32),
            ("f", DataType::Float64),
            ("g", DataType::Decimal128(10, 2)),
            ("h", DataType::Boolean),
            ("i", DataType::Utf8),
            ("j", millis()),
            ("k", DataType::Date32),
            (
                "l",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ),
        ]
    }

    #[tokio::test]
    async fn a_seed_makes_the_same_rows_twice() {
        let options = [
            ("seed", "42"),
            ("number-of-rows", "5000"),
            ("rows-per-second", "1000000"),
            ("fields.i.length", "10"),
            ("fields.i.null-rate", "0.1"),
            ("fields.c.min", "1"),
            ("fields.c.max", "100"),
            ("fields.j.start", "2024-01-01 00:00:00"),
            ("fields.j.max-past", "5 s"),
            ("fields.k.start", "2024-01-01"),
            ("fields.l.start", "2024-01-01"),
        ];
        let one = collect(&make(&all_types(), &options).unwrap()).await;
        let two = collect(&make(&all_types(), &options).unwrap()).await;
        assert_eq!(one.num_rows(), 5000);
        assert_eq!(one, two);
        let c = one.column(2).as_primitive::<Int32Type>();
        assert!(c.values().iter().all(|v| (1..=100).contains(v)));
        let i = one.column(8).as_string::<i32>();
        assert!(
            i.null_count() > 200 && i.null_count() < 800,
            "{}",
            i.null_count()
        );
        assert!(i
            .iter()
            .flatten()
            .all(|s| s.len() == 10 && s.bytes().all(|b| b.is_ascii_alphanumeric())));
        let g = one.column(6).as_primitive::<Decimal128Type>();
        assert!(g.values().iter().all(|v| (0..=9_999_999_999).contains(v)));

        let other = collect(
            &make(
                &all_types(),
                &[
                    ("seed", "43"),
                    ("number-of-rows", "5000"),
                    ("rows-per-second", "1e9"),
                ],
            )
            .unwrap(),
        )
        .await;
        assert_ne!(one.column(3), other.column(3));
    }

    #[tokio::test]
    async fn number_of_rows_bounds_the_source() {
        let factory = make(
            &all_types(),
            &[("number-of-rows", "70000"), ("rows-per-second", "1e9")],
        )
        .unwrap();
        assert!(factory.open(&SessionContext::new()).unwrap().is_bounded());
        assert_eq!(collect(&factory).await.num_rows(), 70000);
        let unbounded = make(&all_types(), &[]).unwrap();
        assert!(!unbounded.open(&SessionContext::new()).unwrap().is_bounded());
    }

    #[tokio::test]
    async fn a_sequence_ends_the_source() {
        let factory = make(
            &[
                ("id", DataType::Int32),
                ("name", DataType::Utf8),
                ("price", DataType::Decimal128(5, 2)),
                ("x", DataType::Float64),
            ],
            &[
                ("fields.id.kind", "sequence"),
                ("fields.id.start", "-2"),
                ("fields.id.end", "1000"),
                ("fields.name.kind", "sequence"),
                ("fields.name.start", "10"),
                ("fields.name.end", "20"),
                ("fields.price.kind", "sequence"),
                ("fields.price.start", "1.5"),
                ("fields.price.end", "100"),
                ("fields.x.kind", "sequence"),
                ("fields.x.start", "0.5"),
                ("fields.x.end", "100"),
                ("rows-per-second", "1e9"),
            ],
        )
        .unwrap();
        assert!(factory.open(&SessionContext::new()).unwrap().is_bounded());
        let batch = collect(&factory).await;
        assert_eq!(batch.num_rows(), 11);
        let ids: Vec<i32> = batch
            .column(0)
            .as_primitive::<Int32Type>()
            .values()
            .to_vec();
        assert_eq!(ids, (-2..9).collect::<Vec<_>>());
        let names = batch.column(1).as_string::<i32>();
        assert_eq!(names.value(0), "10");
        assert_eq!(names.value(10), "20");
        let prices = batch.column(2).as_primitive::<Decimal128Type>();
        assert_eq!(prices.value(1), 250);
        assert_eq!(
            batch
                .column(3)
                .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                .value(2),
            2.5
        );
    }

    #[tokio::test]
    async fn timestamps_from_a_start_are_exact() {
        let factory = make(
            &[
                ("ts", millis()),
                ("day", DataType::Date32),
                ("default_step", millis()),
            ],
            &[
                ("fields.ts.start", "2024-01-01 00:00:00"),
                ("fields.ts.step", "100 ms"),
                ("fields.ts.kind", "sequence"),
                ("fields.day.start", "2024-01-01"),
                ("fields.day.step", "12 hours"),
                ("fields.default_step.start", "2024-01-01T00:00:00"),
                ("rows-per-second", "4"),
                ("number-of-rows", "6"),
            ],
        )
        .unwrap();
        let batch = collect(&factory).await;
        let ts = batch.column(0).as_primitive::<TimestampMillisecondType>();
        let start = 1_704_067_200_000i64;
        assert_eq!(
            ts.values().to_vec(),
            (0..6).map(|i| start + i * 100).collect::<Vec<_>>()
        );
        let day = batch
            .column(1)
            .as_primitive::<datafusion::arrow::datatypes::Date32Type>();
        assert_eq!(
            day.values().to_vec(),
            vec![19723, 19723, 19724, 19724, 19725, 19725]
        );
        let default_step = batch.column(2).as_primitive::<TimestampMillisecondType>();
        assert_eq!(
            default_step.values().to_vec(),
            (0..6).map(|i| start + i * 250).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn max_past_puts_rows_out_of_order() {
        let factory = make(
            &[("ts", millis())],
            &[
                ("fields.ts.start", "2024-01-01 00:00:00"),
                ("fields.ts.step", "1 ms"),
                ("fields.ts.max-past", "5 s"),
                ("seed", "7"),
                ("number-of-rows", "2000"),
                ("rows-per-second", "1e9"),
            ],
        )
        .unwrap();
        let batch = collect(&factory).await;
        let ts = batch
            .column(0)
            .as_primitive::<TimestampMillisecondType>()
            .values()
            .to_vec();
        let start = 1_704_067_200_000i64;
        let mut out_of_order = 0;
        for (i, t) in ts.iter().enumerate() {
            let clock = start + i as i64;
            assert!((clock - 5000..=clock).contains(t), "row {i}: {t}");
            if i > 0 && *t < ts[i - 1] {
                out_of_order += 1;
            }
        }
        assert!(out_of_order > 500, "{out_of_order}");
    }

    #[tokio::test]
    async fn the_wall_clock_is_used_without_a_start() {
        let before = wall_clock_nanos() / 1_000_000;
        let factory = make(
            &[("ts", millis())],
            &[("number-of-rows", "10"), ("rows-per-second", "1e9")],
        )
        .unwrap();
        let batch = collect(&factory).await;
        let after = wall_clock_nanos() / 1_000_000;
        let ts = batch.column(0).as_primitive::<TimestampMillisecondType>();
        assert!(ts.values().iter().all(|t| (before..=after).contains(t)));
    }

    #[tokio::test]
    async fn rows_are_paced_by_the_rate() {
        let factory = make(
            &[("id", DataType::Int64)],
            &[("rows-per-second", "200"), ("number-of-rows", "40")],
        )
        .unwrap();
        let started = std::time::Instant::now();
        let batch = collect(&factory).await;
        let elapsed = started.elapsed();
        assert_eq!(batch.num_rows(), 40);
        assert!(elapsed >= Duration::from_millis(180), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }

    #[tokio::test]
    async fn the_source_stops_when_the_query_drops_it() {
        let factory = make(&[("id", DataType::Int64)], &[("rows-per-second", "1")]).unwrap();
        let source = factory.open(&SessionContext::new()).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let task = tokio::spawn(source.run(tx));
        assert_eq!(rx.recv().await.unwrap().num_rows(), 1);
        drop(rx);
        let stopped = tokio::time::timeout(Duration::from_millis(100), task).await;
        assert!(stopped.unwrap().unwrap().is_ok());
    }

    #[test]
    fn bad_options_are_errors_that_say_what_is_allowed() {
        let columns = [
            ("id", DataType::Int8),
            ("ts", millis()),
            ("name", DataType::Utf8),
        ];
        let hint = |pairs: &[(&str, &str)]| {
            let error = make(&columns, pairs).err().expect("an error");
            format!("{error} / {}", error.hint().unwrap_or(""))
        };
        let message = hint(&[("fields.nope.min", "1")]);
        assert!(
            message.contains("fields.nope.min") && message.contains("id, ts, name"),
            "{message}"
        );
        let message = hint(&[("fields.id.length", "1")]);
        assert!(message.contains("min, max"), "{message}");
        let message = hint(&[("fields.id.min", "-300")]);
        assert!(message.contains("-128 to 127"), "{message}");
        let message = hint(&[("fields.id.min", "5"), ("fields.id.max", "1")]);
        assert!(message.contains("above"), "{message}");
        let message = hint(&[("fields.id.kind", "sequence"), ("fields.id.start", "1")]);
        assert!(message.contains("fields.id.end"), "{message}");
        let message = hint(&[("fields.id.start", "1")]);
        assert!(message.contains("sequence"), "{message}");
        let message = hint(&[
            ("fields.ts.step", "1 parsec"),
            ("fields.ts.start", "2024-01-01"),
        ]);
        assert!(message.contains("duration"), "{message}");
        let message = hint(&[("fields.ts.start", "yesterday")]);
        assert!(message.contains("2024-01-01 00:00:00"), "{message}");
        let message = hint(&[("fields.name.null-rate", "2")]);
        assert!(message.contains("0 to 1"), "{message}");
        let message = hint(&[("rows-per-second", "fast")]);
        assert!(message.contains("rows-per-second"), "{message}");
        let message = hint(&[("speed", "1")]);
        assert!(
            message.contains("'speed'") && message.contains("rows-per-second"),
            "{message}"
        );
        let error = make(&[("b", DataType::Binary)], &[]).err().unwrap();
        assert!(error.to_string().contains("column b"));
    }

    #[test]
    fn decimals_parse() {
        assert_eq!(parse_decimal("-12.5", 2), Some(-1250));
        assert_eq!(parse_decimal("3", 2), Some(300));
        assert_eq!(parse_decimal("1.234", 2), None);
        assert_eq!(parse_decimal("1e3", 2), None);
    }

    /// The rate of the benchmark's source: `cargo test --release -p eddy-engine --lib
    /// datagen -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn throughput() {
        let columns = [
            ("id", DataType::Int32),
            ("name", DataType::Utf8),
            ("ts", millis()),
        ];
        let mut options = test_options(&[
            ("connector", "datagen"),
            ("rows-per-second", "1e9"),
            ("fields.name.length", "10"),
        ]);
        let plan = plan("t", schema(&columns), &mut options).unwrap();
        let mut source = DatagenSource::new(Arc::new(plan)).unwrap();
        let started = std::time::Instant::now();
        let mut rows = 0u64;
        while started.elapsed() < Duration::from_secs(2) {
            rows += source.batch(rows, FAST_BATCH).unwrap().num_rows() as u64;
        }
        let rate = rows as f64 / started.elapsed().as_secs_f64();
        println!(
            "datagen (INT, STRING(10), TIMESTAMP(3)): {:.1} million rows/s",
            rate / 1e6
        );
    }
}
