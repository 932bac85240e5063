//! Datagen's options, read into a plan: how each column's values are made.

use super::{
    BATCH, BATCH_TEXT_BYTES, DEFAULT_ROWS_PER_SECOND, DEFAULT_STRING_LENGTH, FAST_BATCH,
    MAX_STRING_LENGTH, MIN_ROWS_PER_SECOND, NANOS_PER_SECOND, TYPES, UNTHROTTLED,
};
use crate::connectors::{bad_option, parse_duration, ConnectorOptions};
use crate::error::EngineError;
use datafusion::arrow::compute::kernels::cast_utils::string_to_timestamp_nanos;
use datafusion::arrow::datatypes::{DataType, Field, SchemaRef};

pub(super) fn plan(
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
pub(super) fn check_field_keys(
    options: &ConnectorOptions,
    schema: &SchemaRef,
) -> Result<(), EngineError> {
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

pub(super) fn allowed_options(data_type: &DataType) -> &'static [&'static str] {
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
        DataType::Struct(_) => &["kind", "null-rate"],
        DataType::List(_) | DataType::Map(..) => &["kind", "length", "null-rate"],
        _ => &[],
    }
}

pub(super) fn type_name(data_type: &DataType) -> String {
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
pub(super) struct Plan {
    pub(super) table: String,
    pub(super) schema: SchemaRef,
    /// Rows per second; `None` for as fast as possible.
    pub(super) rate: Option<f64>,
    /// Rows in all, for a bounded source.
    pub(super) total: Option<u64>,
    pub(super) seed: Option<u64>,
    pub(super) columns: Vec<ColumnPlan>,
    pub(super) max_batch: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct ColumnPlan {
    pub(super) data_type: DataType,
    pub(super) spec: Spec,
    pub(super) null_rate: f64,
}

/// How one column's values are made.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Spec {
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
    /// A ROW of random fields.
    Row(Vec<ColumnPlan>),
    /// An ARRAY of `length` random elements.
    List {
        length: usize,
        element: Box<ColumnPlan>,
    },
    /// A MAP of `length` random entries (fewer when a key repeats).
    Map {
        length: usize,
        key: Box<ColumnPlan>,
        value: Box<ColumnPlan>,
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
            Spec::Row(fields) => fields.iter().map(|f| f.spec.text_bytes()).sum(),
            Spec::List { length, element } => length * element.spec.text_bytes(),
            Spec::Map { length, key, value } => {
                length * (key.spec.text_bytes() + value.spec.text_bytes())
            }
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Random,
    Sequence,
}

pub(super) fn column_plan(
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
        (DataType::Struct(_) | DataType::List(_) | DataType::Map(..), Kind::Sequence) => {
            return Err(bad_option(
                &key("kind"),
                "ROW, ARRAY and MAP columns are random; sequences are for numbers, strings \
                 and times",
            ))
        }
        (DataType::Struct(fields), Kind::Random) => Spec::Row(
            fields
                .iter()
                .map(|f| nested_plan(field, f, rate))
                .collect::<Result<_, _>>()?,
        ),
        (DataType::List(element), Kind::Random) => Spec::List {
            length: collection_length(options, &key("length"))?,
            element: Box::new(nested_plan(field, element, rate)?),
        },
        (DataType::Map(entries, _), Kind::Random) => {
            let DataType::Struct(pair) = entries.data_type() else {
                return Err(EngineError::Internal {
                    message: format!("the MAP column {} has no key and value", field.name()),
                    source: None,
                });
            };
            let (Some(key_field), Some(value_field)) = (pair.first(), pair.get(1)) else {
                return Err(EngineError::Internal {
                    message: format!("the MAP column {} has no key and value", field.name()),
                    source: None,
                });
            };
            Spec::Map {
                length: collection_length(options, &key("length"))?,
                key: Box::new(nested_plan(field, key_field, rate)?),
                value: Box::new(nested_plan(field, value_field, rate)?),
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

/// A ROW's field, an ARRAY's element or a MAP's key and value: random, with the defaults of
/// its type (Flink's datagen takes no options for them either).
fn nested_plan(parent: &Field, field: &Field, rate: f64) -> Result<ColumnPlan, EngineError> {
    let named = Field::new(
        format!("{}.{}", parent.name(), field.name()),
        field.data_type().clone(),
        field.is_nullable(),
    );
    let mut none = ConnectorOptions::new(std::collections::BTreeMap::new());
    column_plan(&mut none, &named, rate)
}

/// `fields.<column>.length`: the entries of an ARRAY or MAP (Flink's default, 3).
fn collection_length(options: &mut ConnectorOptions, key: &str) -> Result<usize, EngineError> {
    match options.get(key) {
        None => Ok(3),
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if n <= 1000 => Ok(n),
            _ => Err(bad_option(
                key,
                "the length of an ARRAY or MAP is a whole number from 0 to 1000",
            )),
        },
    }
}

pub(super) fn ordered<T: PartialOrd + std::fmt::Display>(
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
pub(super) fn read_bound<T>(
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

pub(super) fn int_range(data_type: &DataType) -> (i128, i128) {
    match data_type {
        DataType::Int8 => (i8::MIN as i128, i8::MAX as i128),
        DataType::Int16 => (i16::MIN as i128, i16::MAX as i128),
        DataType::Int32 => (i32::MIN as i128, i32::MAX as i128),
        _ => (i64::MIN as i128, i64::MAX as i128),
    }
}

/// A decimal number such as '-12.5' as an unscaled value with `scale` decimal places;
/// `None` if it has more places or is not a plain decimal number.
pub(super) fn parse_decimal(text: &str, scale: u32) -> Option<i128> {
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
