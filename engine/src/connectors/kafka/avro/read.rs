//! Avro datums straight into Arrow arrays: each column (and each array's items, map's values
//! and record's fields) collects its values as they are read, and becomes an array of the
//! column's type at the end.

use super::schema::{Kind, Node, Shape};
use datafusion::arrow::array::{
    ArrayRef, AsArray, BinaryBuilder, BooleanArray, Decimal128Array, Float64Array, Int64Array,
    ListArray, MapArray, StringBuilder, StructArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::compute::{cast, cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, DecimalType, Int32Type, Time32MillisecondType,
    Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampSecondType,
};
use datafusion::arrow::error::ArrowError;
use std::sync::Arc;

/// A datum being read.
pub(super) struct Datum<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
}

const ENDS_EARLY: &str = "the record ends before the table's columns do";

impl Datum<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let byte = *self.bytes.get(self.at).ok_or(ENDS_EARLY)?;
        self.at += 1;
        Ok(byte)
    }

    /// A zig-zag varint `long` (or `int`).
    fn long(&mut self) -> Result<i64, String> {
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        Err("a number runs past 10 bytes".into())
    }

    fn int(&mut self) -> Result<i64, String> {
        let value = self.long()?;
        match i32::try_from(value) {
            Ok(_) => Ok(value),
            Err(_) => Err(format!("{value} is past the range of an Avro int")),
        }
    }

    fn fixed(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).ok_or(ENDS_EARLY)?;
        let slice = self.bytes.get(self.at..end).ok_or(ENDS_EARLY)?;
        self.at = end;
        Ok(slice)
    }

    fn bytes(&mut self) -> Result<&[u8], String> {
        let length = self.long()?;
        let length = usize::try_from(length).map_err(|_| format!("a negative length {length}"))?;
        self.fixed(length)
    }

    fn string(&mut self) -> Result<&str, String> {
        std::str::from_utf8(self.bytes()?).map_err(|e| format!("a string that is not UTF-8: {e}"))
    }

    /// The count of the next block of an array or map (0 at its end); a negative count is
    /// followed by the block's size in bytes, which is not needed here.
    fn block(&mut self) -> Result<usize, String> {
        let count = self.long()?;
        if count < 0 {
            self.long()?;
        }
        usize::try_from(count.unsigned_abs()).map_err(|_| format!("a block of {count} items"))
    }
}

/// One column's values (or an array's items, a map's values, a record's field's) as they
/// are read.
pub(super) struct Column {
    nullable: bool,
    values: Values,
}

enum Values {
    Booleans(Vec<Option<bool>>),
    /// int, long, date, time and timestamps, as Avro writes them, and the range the
    /// column's type holds.
    Numbers(Kind, (i64, i64), Vec<Option<i64>>),
    /// float or double, by kind.
    Floats(Kind, Vec<Option<f64>>),
    Strings(StringBuilder),
    Bytes(BinaryBuilder),
    /// Unscaled values, and the column's precision.
    Decimals(u8, Vec<Option<i128>>),
    /// Items, where each row's items end, and which rows are there.
    Array(Box<Column>, Vec<i32>, Vec<bool>),
    Map(StringBuilder, Box<Column>, Vec<i32>, Vec<bool>),
    Record(Vec<Column>, Vec<bool>),
}

impl Column {
    /// A column for values of `node`, which are of `data_type`.
    pub(super) fn new(node: &Node, data_type: &DataType, rows: usize) -> Self {
        let values = match (&node.shape, data_type) {
            (Shape::Primitive(kind), _) => primitive(*kind, data_type, rows),
            (Shape::Array(item), DataType::List(field)) => Values::Array(
                Box::new(Column::new(item, field.data_type(), rows)),
                vec![0],
                Vec::with_capacity(rows),
            ),
            (Shape::Map(value), DataType::Map(entries, _)) => {
                let value_type = match entries.data_type() {
                    DataType::Struct(pair) if pair.len() == 2 => pair[1].data_type().clone(),
                    other => other.clone(),
                };
                Values::Map(
                    StringBuilder::new(),
                    Box::new(Column::new(value, &value_type, rows)),
                    vec![0],
                    Vec::with_capacity(rows),
                )
            }
            (Shape::Record(fields), DataType::Struct(types)) => Values::Record(
                fields
                    .iter()
                    .zip(types.iter())
                    .map(|((_, node), field)| Column::new(node, field.data_type(), rows))
                    .collect(),
                Vec::with_capacity(rows),
            ),
            // `Node::of` made the node from this very type.
            _ => Values::Booleans(Vec::new()),
        };
        Column {
            nullable: node.nullable,
            values,
        }
    }

    /// Reads one value (a union's branch first, when the value may be null).
    pub(super) fn read(&mut self, datum: &mut Datum<'_>) -> Result<(), String> {
        if self.nullable {
            match datum.long()? {
                0 => {
                    self.push_null();
                    return Ok(());
                }
                1 => {}
                other => {
                    return Err(format!(
                        "union branch {other}: a nullable value is [\"null\", its type]"
                    ))
                }
            }
        }
        self.read_present(datum)
    }

    fn push_null(&mut self) {
        match &mut self.values {
            Values::Booleans(values) => values.push(None),
            Values::Numbers(_, _, values) => values.push(None),
            Values::Floats(_, values) => values.push(None),
            Values::Strings(builder) => builder.append_null(),
            Values::Bytes(builder) => builder.append_null(),
            Values::Decimals(_, values) => values.push(None),
            Values::Array(_, offsets, valid) | Values::Map(_, _, offsets, valid) => {
                offsets.push(offsets.last().copied().unwrap_or(0));
                valid.push(false);
            }
            Values::Record(fields, valid) => {
                for field in fields {
                    field.push_null();
                }
                valid.push(false);
            }
        }
    }

    fn read_present(&mut self, datum: &mut Datum<'_>) -> Result<(), String> {
        match &mut self.values {
            Values::Booleans(values) => values.push(Some(match datum.byte()? {
                0 => false,
                1 => true,
                other => return Err(format!("{other} is not a boolean")),
            })),
            Values::Numbers(kind, (low, high), values) => {
                let value = match kind {
                    Kind::Int | Kind::Date | Kind::TimeMillis => datum.int()?,
                    _ => datum.long()?,
                };
                if value < *low || value > *high {
                    return Err(format!("{value} does not fit the column's type"));
                }
                values.push(Some(value));
            }
            Values::Floats(kind, values) => values.push(Some(match kind {
                Kind::Float => {
                    let bytes: [u8; 4] = datum.fixed(4)?.try_into().map_err(|_| ENDS_EARLY)?;
                    f64::from(f32::from_le_bytes(bytes))
                }
                _ => {
                    let bytes: [u8; 8] = datum.fixed(8)?.try_into().map_err(|_| ENDS_EARLY)?;
                    f64::from_le_bytes(bytes)
                }
            })),
            Values::Strings(builder) => builder.append_value(datum.string()?),
            Values::Bytes(builder) => builder.append_value(datum.bytes()?),
            Values::Decimals(precision, values) => {
                let value = unscaled(datum.bytes()?)?;
                if !Decimal128Type::is_valid_decimal_precision(value, *precision) {
                    return Err(format!(
                        "{value} (unscaled) has more than {precision} digits"
                    ));
                }
                values.push(Some(value));
            }
            Values::Array(items, offsets, valid) => {
                read_blocks(datum, offsets, |datum| items.read(datum))?;
                valid.push(true);
            }
            Values::Map(keys, values, offsets, valid) => {
                read_blocks(datum, offsets, |datum| {
                    keys.append_value(datum.string()?);
                    values.read(datum)
                })?;
                valid.push(true);
            }
            Values::Record(fields, valid) => {
                for field in fields {
                    field.read(datum)?;
                }
                valid.push(true);
            }
        }
        Ok(())
    }

    /// The values as an array of `data_type`.
    pub(super) fn finish(self, data_type: &DataType) -> Result<ArrayRef, ArrowError> {
        let strict = CastOptions {
            safe: false,
            ..Default::default()
        };
        Ok(match (self.values, data_type) {
            (Values::Booleans(values), _) => Arc::new(BooleanArray::from(values)),
            (Values::Floats(_, values), _) => cast(&Float64Array::from(values), data_type)?,
            (Values::Strings(mut builder), _) => cast(&builder.finish(), data_type)?,
            (Values::Bytes(mut builder), _) => cast(&builder.finish(), data_type)?,
            (Values::Decimals(_, values), DataType::Decimal128(precision, scale)) => Arc::new(
                Decimal128Array::from(values).with_precision_and_scale(*precision, *scale)?,
            ),
            (Values::Numbers(_, _, values), _) => {
                numbers(Int64Array::from(values), data_type, &strict)?
            }
            (Values::Array(items, offsets, valid), DataType::List(field)) => {
                Arc::new(ListArray::try_new(
                    field.clone(),
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    items.finish(field.data_type())?,
                    nulls(valid),
                )?)
            }
            (Values::Map(mut keys, values, offsets, valid), DataType::Map(entries, sorted)) => {
                let DataType::Struct(pair) = entries.data_type() else {
                    return Err(mismatch(data_type));
                };
                let keys = cast(&keys.finish(), pair[0].data_type())?;
                let values = values.finish(pair[1].data_type())?;
                let entries_array = StructArray::try_new(pair.clone(), vec![keys, values], None)?;
                Arc::new(MapArray::try_new(
                    entries.clone(),
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    entries_array,
                    nulls(valid),
                    *sorted,
                )?)
            }
            (Values::Record(fields, valid), DataType::Struct(types)) => {
                let children = fields
                    .into_iter()
                    .zip(types.iter())
                    .map(|(column, field)| column.finish(field.data_type()))
                    .collect::<Result<Vec<_>, _>>()?;
                Arc::new(StructArray::try_new(types.clone(), children, nulls(valid))?)
            }
            _ => return Err(mismatch(data_type)),
        })
    }
}

fn primitive(kind: Kind, data_type: &DataType, rows: usize) -> Values {
    let range = match data_type {
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        _ => (i64::MIN, i64::MAX),
    };
    match kind {
        Kind::Boolean => Values::Booleans(Vec::with_capacity(rows)),
        Kind::Float | Kind::Double => Values::Floats(kind, Vec::with_capacity(rows)),
        Kind::String => Values::Strings(StringBuilder::with_capacity(rows, rows * 16)),
        Kind::Bytes => Values::Bytes(BinaryBuilder::with_capacity(rows, rows * 16)),
        Kind::Decimal => Values::Decimals(
            match data_type {
                DataType::Decimal128(precision, _) => *precision,
                _ => 38,
            },
            Vec::with_capacity(rows),
        ),
        other => Values::Numbers(other, range, Vec::with_capacity(rows)),
    }
}

/// Reads an array's or map's blocks of items (`item` reads one), and notes where its items
/// end in `offsets`.
fn read_blocks(
    datum: &mut Datum<'_>,
    offsets: &mut Vec<i32>,
    mut item: impl FnMut(&mut Datum<'_>) -> Result<(), String>,
) -> Result<(), String> {
    let mut count = offsets.last().copied().unwrap_or(0);
    loop {
        let block = datum.block()?;
        if block == 0 {
            break;
        }
        for _ in 0..block {
            item(datum)?;
        }
        count = i32::try_from(block)
            .ok()
            .and_then(|block| count.checked_add(block))
            .ok_or("more items than an array holds")?;
    }
    offsets.push(count);
    Ok(())
}

fn nulls(valid: Vec<bool>) -> Option<NullBuffer> {
    match valid.iter().all(|v| *v) {
        true => None,
        false => Some(NullBuffer::from(valid)),
    }
}

/// Longs as Avro wrote them, as an array of `data_type` (a date's days, a time's or
/// timestamp's units).
fn numbers(
    longs: Int64Array,
    data_type: &DataType,
    strict: &CastOptions<'_>,
) -> Result<ArrayRef, ArrowError> {
    Ok(match data_type {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            cast_with_options(&longs, data_type, strict)?
        }
        DataType::Date32 => {
            let days = cast_with_options(&longs, &DataType::Int32, strict)?;
            Arc::new(
                days.as_primitive::<Int32Type>()
                    .reinterpret_cast::<Date32Type>(),
            )
        }
        DataType::Time32(unit) | DataType::Time64(unit) => time_of_day(&longs, *unit),
        DataType::Timestamp(TimeUnit::Second, zone) => Arc::new(
            longs
                .unary::<_, TimestampSecondType>(|ms| ms.div_euclid(1000))
                .with_timezone_opt(zone.clone()),
        ),
        DataType::Timestamp(TimeUnit::Millisecond, zone) => Arc::new(
            longs
                .reinterpret_cast::<TimestampMillisecondType>()
                .with_timezone_opt(zone.clone()),
        ),
        DataType::Timestamp(TimeUnit::Microsecond, zone) => Arc::new(
            longs
                .reinterpret_cast::<TimestampMicrosecondType>()
                .with_timezone_opt(zone.clone()),
        ),
        other => return Err(mismatch(other)),
    })
}

fn mismatch(data_type: &DataType) -> ArrowError {
    ArrowError::InvalidArgumentError(format!("avro values cannot fill a column of {data_type}"))
}

/// Milliseconds of the day as a time of `unit`.
fn time_of_day(millis: &Int64Array, unit: TimeUnit) -> ArrayRef {
    match unit {
        TimeUnit::Second => Arc::new(millis.unary::<_, Time32SecondType>(|ms| (ms / 1000) as i32)),
        TimeUnit::Millisecond => Arc::new(millis.unary::<_, Time32MillisecondType>(|ms| ms as i32)),
        TimeUnit::Microsecond => {
            Arc::new(millis.unary::<_, Time64MicrosecondType>(|ms| ms * 1_000))
        }
        TimeUnit::Nanosecond => {
            Arc::new(millis.unary::<_, Time64NanosecondType>(|ms| ms * 1_000_000))
        }
    }
}

/// A decimal's unscaled value from its big-endian two's complement bytes.
pub(super) fn unscaled(bytes: &[u8]) -> Result<i128, String> {
    if bytes.len() > 16 {
        return Err(format!(
            "a decimal of {} bytes (at most 16 fit)",
            bytes.len()
        ));
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut full = [if negative { 0xff } else { 0 }; 16];
    full[16 - bytes.len()..].copy_from_slice(bytes);
    Ok(i128::from_be_bytes(full))
}
