//! Rows into Avro datums: each value written as its node says, nested values recursively.

use super::schema::{Kind, Node, Shape};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampSecondType,
};
use datafusion::arrow::error::ArrowError;

/// Writes the value at `row` of `column` (a union's branch first, when it may be null).
/// `name` says which value, in an error.
pub(super) fn write(
    out: &mut Vec<u8>,
    column: &ArrayRef,
    row: usize,
    node: &Node,
    name: &str,
) -> Result<(), ArrowError> {
    if column.is_null(row) {
        if !node.nullable {
            return Err(ArrowError::InvalidArgumentError(format!(
                "{name} is NOT NULL but has no value"
            )));
        }
        write_long(out, 0);
        return Ok(());
    }
    if node.nullable {
        write_long(out, 1);
    }
    match &node.shape {
        Shape::Primitive(kind) => write_primitive(out, column, row, *kind),
        Shape::Array(item) => {
            let items = column.as_list::<i32>().value(row);
            write_block(out, items.len());
            for i in 0..items.len() {
                write(out, &items, i, item, name)?;
            }
            write_long(out, 0);
            Ok(())
        }
        Shape::Map(value) => {
            let entries = column.as_map().value(row);
            let keys = entries.column(0);
            let values = entries.column(1);
            write_block(out, entries.len());
            for i in 0..entries.len() {
                write_primitive(out, keys, i, Kind::String)?;
                write(out, values, i, value, name)?;
            }
            write_long(out, 0);
            Ok(())
        }
        Shape::Record(fields) => {
            let record = column.as_struct();
            for (i, (field, node)) in fields.iter().enumerate() {
                write(out, record.column(i), row, node, &format!("{name}.{field}"))?;
            }
            Ok(())
        }
    }
}

fn write_block(out: &mut Vec<u8>, count: usize) {
    if count > 0 {
        write_long(out, i64::try_from(count).unwrap_or(i64::MAX));
    }
}

fn write_primitive(
    out: &mut Vec<u8>,
    column: &ArrayRef,
    row: usize,
    kind: Kind,
) -> Result<(), ArrowError> {
    let data_type = column.data_type();
    match (kind, data_type) {
        (Kind::Boolean, _) => out.push(u8::from(column.as_boolean().value(row))),
        (Kind::Int, DataType::Int8) => {
            write_long(out, column.as_primitive::<Int8Type>().value(row).into())
        }
        (Kind::Int, DataType::Int16) => {
            write_long(out, column.as_primitive::<Int16Type>().value(row).into())
        }
        (Kind::Int, _) => write_long(out, column.as_primitive::<Int32Type>().value(row).into()),
        (Kind::Long, _) => write_long(out, column.as_primitive::<Int64Type>().value(row)),
        (Kind::Float, _) => out.extend_from_slice(
            &column
                .as_primitive::<Float32Type>()
                .value(row)
                .to_le_bytes(),
        ),
        (Kind::Double, _) => out.extend_from_slice(
            &column
                .as_primitive::<Float64Type>()
                .value(row)
                .to_le_bytes(),
        ),
        (Kind::String, DataType::LargeUtf8) => {
            write_bytes(out, column.as_string::<i64>().value(row).as_bytes())
        }
        (Kind::String, DataType::Utf8View) => {
            write_bytes(out, column.as_string_view().value(row).as_bytes())
        }
        (Kind::String, _) => write_bytes(out, column.as_string::<i32>().value(row).as_bytes()),
        (Kind::Bytes, DataType::LargeBinary) => {
            write_bytes(out, column.as_binary::<i64>().value(row))
        }
        (Kind::Bytes, DataType::BinaryView) => write_bytes(out, column.as_binary_view().value(row)),
        (Kind::Bytes, _) => write_bytes(out, column.as_binary::<i32>().value(row)),
        (Kind::Decimal, _) => {
            let value = column.as_primitive::<Decimal128Type>().value(row);
            write_bytes(out, &minimal_twos_complement(value));
        }
        (Kind::Date, _) => write_long(out, column.as_primitive::<Date32Type>().value(row).into()),
        (Kind::TimeMillis, DataType::Time32(TimeUnit::Second)) => write_long(
            out,
            i64::from(column.as_primitive::<Time32SecondType>().value(row)) * 1000,
        ),
        (Kind::TimeMillis, DataType::Time32(_)) => write_long(
            out,
            column
                .as_primitive::<Time32MillisecondType>()
                .value(row)
                .into(),
        ),
        (Kind::TimeMillis, DataType::Time64(TimeUnit::Microsecond)) => write_long(
            out,
            column.as_primitive::<Time64MicrosecondType>().value(row) / 1_000,
        ),
        (Kind::TimeMillis, _) => write_long(
            out,
            column.as_primitive::<Time64NanosecondType>().value(row) / 1_000_000,
        ),
        (Kind::TimestampMillis, DataType::Timestamp(TimeUnit::Second, _)) => write_long(
            out,
            column.as_primitive::<TimestampSecondType>().value(row) * 1000,
        ),
        (Kind::TimestampMillis, _) => write_long(
            out,
            column.as_primitive::<TimestampMillisecondType>().value(row),
        ),
        (Kind::TimestampMicros, _) => write_long(
            out,
            column.as_primitive::<TimestampMicrosecondType>().value(row),
        ),
    }
    Ok(())
}

/// The shortest big-endian two's complement bytes of `value` (as Java's
/// `BigInteger.toByteArray`, which Flink's writer uses).
pub(super) fn minimal_twos_complement(value: i128) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let fill = if value < 0 { 0xff } else { 0 };
    // Drop leading fill bytes while the next byte still carries the sign.
    let mut start = 0;
    while start < 15 && bytes[start] == fill && (bytes[start + 1] & 0x80) == (fill & 0x80) {
        start += 1;
    }
    bytes[start..].to_vec()
}

fn write_long(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8 & 0x7f) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_long(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}
