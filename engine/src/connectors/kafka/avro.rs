//! `'format' = 'avro'`: each record one Avro datum in Avro's binary encoding, without a
//! header or a schema id, its schema derived from the table's columns as Flink's avro format
//! derives it: a record of the columns in order, a nullable column a union `["null", type]`
//! (null first), BOOLEAN `boolean`; TINYINT, SMALLINT and INT `int`; BIGINT `long`; FLOAT
//! `float`; DOUBLE `double`; STRING `string`; BYTES `bytes`; DECIMAL(p, s) `bytes` with the
//! `decimal` logical type (the unscaled value, big-endian two's complement); DATE `int`
//! (`date`: days since 1970-01-01); TIME `int` (`time-millis`); TIMESTAMP(0..3) and
//! TIMESTAMP_LTZ(0..3) `long` (`timestamp-millis`), up to 6 digits `timestamp-micros`.
//!
//! Rows are decoded straight into Arrow arrays, column by column; a record that does not
//! end where the table's columns do is not one of the table's (no guessing). ARRAY, MAP and
//! ROW columns are not read in avro yet: such a table is refused when it is declared.

use crate::error::EngineError;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, Decimal128Array, Float64Array,
    Int64Array, RecordBatch, RecordBatchOptions, StringBuilder,
};
use datafusion::arrow::compute::{cast, cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, DecimalType, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, Int8Type, SchemaRef, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampSecondType,
};
use datafusion::arrow::error::ArrowError;
use std::sync::Arc;

/// How one column is written in a datum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Boolean,
    Int,
    Long,
    Float,
    Double,
    String,
    Bytes,
    Decimal,
    Date,
    /// `time-millis`: milliseconds of the day.
    TimeMillis,
    /// `timestamp-millis` / `timestamp-micros`: since the epoch.
    TimestampMillis,
    TimestampMicros,
}

impl Kind {
    /// The Avro kind of a column of `data_type`, as Flink derives it.
    fn of(data_type: &DataType) -> Option<Kind> {
        Some(match data_type {
            DataType::Boolean => Kind::Boolean,
            DataType::Int8 | DataType::Int16 | DataType::Int32 => Kind::Int,
            DataType::Int64 => Kind::Long,
            DataType::Float32 => Kind::Float,
            DataType::Float64 => Kind::Double,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::String,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Kind::Bytes,
            DataType::Decimal128(..) => Kind::Decimal,
            DataType::Date32 => Kind::Date,
            DataType::Time32(_) | DataType::Time64(_) => Kind::TimeMillis,
            DataType::Timestamp(TimeUnit::Second | TimeUnit::Millisecond, _) => {
                Kind::TimestampMillis
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => Kind::TimestampMicros,
            _ => return None,
        })
    }

    /// The Avro schema of the kind, as JSON.
    fn schema(self, data_type: &DataType) -> String {
        let logical =
            |base: &str, logical: &str| format!(r#"{{"type":"{base}","logicalType":"{logical}"}}"#);
        match self {
            Kind::Boolean => r#""boolean""#.into(),
            Kind::Int => r#""int""#.into(),
            Kind::Long => r#""long""#.into(),
            Kind::Float => r#""float""#.into(),
            Kind::Double => r#""double""#.into(),
            Kind::String => r#""string""#.into(),
            Kind::Bytes => r#""bytes""#.into(),
            Kind::Decimal => match data_type {
                DataType::Decimal128(precision, scale) => format!(
                    r#"{{"type":"bytes","logicalType":"decimal","precision":{precision},"scale":{scale}}}"#
                ),
                _ => r#""bytes""#.into(),
            },
            Kind::Date => logical("int", "date"),
            Kind::TimeMillis => logical("int", "time-millis"),
            Kind::TimestampMillis => logical("long", "timestamp-millis"),
            Kind::TimestampMicros => logical("long", "timestamp-micros"),
        }
    }
}

/// Records of one table's columns in Avro.
#[derive(Debug)]
pub(crate) struct AvroFormat {
    schema: SchemaRef,
    kinds: Vec<Kind>,
}

impl AvroFormat {
    /// The format for `schema`'s columns; a column Avro does not hold here is an error
    /// naming it.
    pub(crate) fn new(schema: SchemaRef) -> Result<Self, EngineError> {
        let kinds = schema
            .fields()
            .iter()
            .map(|field| {
                let unsupported = |why: &str| EngineError::NotSupported {
                    message: format!(
                        "column {} is {}, which Eddy's avro format does not {why}",
                        field.name(),
                        field.data_type()
                    ),
                };
                match field.data_type() {
                    DataType::Timestamp(TimeUnit::Nanosecond, _) => Err(unsupported(
                        "hold: Avro's timestamps have up to 6 digits (declare TIMESTAMP(6))",
                    )),
                    DataType::List(_)
                    | DataType::LargeList(_)
                    | DataType::Map(..)
                    | DataType::Struct(_) => Err(unsupported("read or write yet")),
                    other => Kind::of(other).ok_or_else(|| unsupported("hold")),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(AvroFormat { schema, kinds })
    }

    /// The Avro schema of a record, as JSON (Flink's derivation, its record name included).
    pub(crate) fn schema_json(&self) -> String {
        let fields: Vec<String> = self
            .schema
            .fields()
            .iter()
            .zip(&self.kinds)
            .map(|(field, kind)| {
                let mut schema = kind.schema(field.data_type());
                if field.is_nullable() {
                    schema = format!(r#"["null",{schema}]"#);
                }
                let default = if field.is_nullable() {
                    r#","default":null"#
                } else {
                    ""
                };
                format!(r#"{{"name":"{}","type":{schema}{default}}}"#, field.name())
            })
            .collect();
        format!(
            r#"{{"type":"record","name":"record","namespace":"org.apache.flink.avro.generated","fields":[{}]}}"#,
            fields.join(",")
        )
    }

    /// The rows of `records`, one datum each; the first record that is not one of the
    /// table's is returned with why.
    pub(crate) fn decode<'a, L: Copy>(
        &self,
        records: &[(L, &'a [u8])],
    ) -> Result<RecordBatch, (L, &'a [u8], ArrowError)> {
        let Some((first_label, first_bytes)) = records.first().copied() else {
            return Ok(RecordBatch::new_empty(self.schema.clone()));
        };
        let mut columns: Vec<Column> = self
            .kinds
            .iter()
            .zip(self.schema.fields().iter())
            .map(|(kind, field)| Column::new(*kind, field.data_type(), records.len()))
            .collect();
        for (label, bytes) in records {
            let mut datum = Datum { bytes, at: 0 };
            for (i, column) in columns.iter_mut().enumerate() {
                let nullable = self.schema.field(i).is_nullable();
                column
                    .read(&mut datum, nullable)
                    .map_err(|why| (*label, *bytes, self.error(i, &why)))?;
            }
            if datum.at != bytes.len() {
                let why = format!(
                    "the record has {} bytes past the table's last column: it was written \
                     with another schema (the table reads Avro datums of {})",
                    bytes.len() - datum.at,
                    self.schema_json()
                );
                return Err((*label, *bytes, ArrowError::ParseError(why)));
            }
        }
        let arrays = columns
            .into_iter()
            .zip(self.schema.fields().iter())
            .map(|(column, field)| column.finish(field.data_type()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| (first_label, first_bytes, error))?;
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(records.len())),
        )
        .map_err(|error| (first_label, first_bytes, error))
    }

    fn error(&self, column: usize, why: &str) -> ArrowError {
        ArrowError::ParseError(format!(
            "column {}: {why} (the table reads Avro datums of {})",
            self.schema.field(column).name(),
            self.schema_json()
        ))
    }

    /// Each row of `batch` as one datum.
    pub(crate) fn encode(&self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>, ArrowError> {
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .zip(&self.kinds)
            .map(|(column, kind)| writable(column, *kind))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let mut datum = Vec::new();
            for (i, (column, kind)) in columns.iter().zip(&self.kinds).enumerate() {
                let field = self.schema.field(i);
                if column.is_null(row) {
                    if !field.is_nullable() {
                        return Err(ArrowError::InvalidArgumentError(format!(
                            "column {} is NOT NULL but row {row} has no value",
                            field.name()
                        )));
                    }
                    write_long(&mut datum, 0);
                    continue;
                }
                if field.is_nullable() {
                    write_long(&mut datum, 1);
                }
                write_value(&mut datum, column, row, *kind)?;
            }
            out.push(datum);
        }
        Ok(out)
    }
}

/// A datum being read.
struct Datum<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Datum<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let byte = *self
            .bytes
            .get(self.at)
            .ok_or("the record ends before the table's columns do")?;
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
        let end = self.at + n;
        let slice = self
            .bytes
            .get(self.at..end)
            .ok_or("the record ends before the table's columns do")?;
        self.at = end;
        Ok(slice)
    }

    fn bytes(&mut self) -> Result<&[u8], String> {
        let length = self.long()?;
        let length = usize::try_from(length).map_err(|_| format!("a negative length {length}"))?;
        self.fixed(length)
    }
}

/// One column's values as they are read.
enum Column {
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
}

impl Column {
    fn new(kind: Kind, data_type: &DataType, rows: usize) -> Self {
        let range = match data_type {
            DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
            DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
            _ => (i64::MIN, i64::MAX),
        };
        match kind {
            Kind::Boolean => Column::Booleans(Vec::with_capacity(rows)),
            Kind::Float | Kind::Double => Column::Floats(kind, Vec::with_capacity(rows)),
            Kind::String => Column::Strings(StringBuilder::with_capacity(rows, rows * 16)),
            Kind::Bytes => Column::Bytes(BinaryBuilder::with_capacity(rows, rows * 16)),
            Kind::Decimal => Column::Decimals(
                match data_type {
                    DataType::Decimal128(precision, _) => *precision,
                    _ => 38,
                },
                Vec::with_capacity(rows),
            ),
            other => Column::Numbers(other, range, Vec::with_capacity(rows)),
        }
    }

    fn read(&mut self, datum: &mut Datum<'_>, nullable: bool) -> Result<(), String> {
        let present = match nullable {
            false => true,
            true => match datum.long()? {
                0 => false,
                1 => true,
                other => {
                    return Err(format!(
                        "union branch {other}: a nullable column is [\"null\", its type]"
                    ))
                }
            },
        };
        match self {
            Column::Booleans(values) => values.push(match present {
                true => Some(match datum.byte()? {
                    0 => false,
                    1 => true,
                    other => return Err(format!("{other} is not a boolean")),
                }),
                false => None,
            }),
            Column::Numbers(kind, (low, high), values) => values.push(match (present, *kind) {
                (false, _) => None,
                (true, kind) => {
                    let value = match kind {
                        Kind::Int | Kind::Date | Kind::TimeMillis => datum.int()?,
                        _ => datum.long()?,
                    };
                    if value < *low || value > *high {
                        return Err(format!("{value} does not fit the column's type"));
                    }
                    Some(value)
                }
            }),
            Column::Floats(kind, values) => values.push(match (present, *kind) {
                (false, _) => None,
                (true, Kind::Float) => {
                    let bytes: [u8; 4] = datum.fixed(4)?.try_into().map_err(|_| "a float")?;
                    Some(f64::from(f32::from_le_bytes(bytes)))
                }
                (true, _) => {
                    let bytes: [u8; 8] = datum.fixed(8)?.try_into().map_err(|_| "a double")?;
                    Some(f64::from_le_bytes(bytes))
                }
            }),
            Column::Strings(builder) => match present {
                false => builder.append_null(),
                true => {
                    let text = std::str::from_utf8(datum.bytes()?)
                        .map_err(|e| format!("a string that is not UTF-8: {e}"))?;
                    builder.append_value(text);
                }
            },
            Column::Bytes(builder) => match present {
                false => builder.append_null(),
                true => builder.append_value(datum.bytes()?),
            },
            Column::Decimals(precision, values) => values.push(match present {
                false => None,
                true => {
                    let value = unscaled(datum.bytes()?)?;
                    if !Decimal128Type::is_valid_decimal_precision(value, *precision) {
                        return Err(format!(
                            "{value} (unscaled) has more than {precision} digits"
                        ));
                    }
                    Some(value)
                }
            }),
        }
        Ok(())
    }

    /// The column as an array of `data_type`.
    fn finish(self, data_type: &DataType) -> Result<ArrayRef, ArrowError> {
        let strict = CastOptions {
            safe: false,
            ..Default::default()
        };
        Ok(match self {
            Column::Booleans(values) => Arc::new(BooleanArray::from(values)),
            Column::Floats(_, values) => cast(&Float64Array::from(values), data_type)?,
            Column::Strings(mut builder) => cast(&builder.finish(), data_type)?,
            Column::Bytes(mut builder) => cast(&builder.finish(), data_type)?,
            Column::Decimals(_, values) => match data_type {
                DataType::Decimal128(precision, scale) => Arc::new(
                    Decimal128Array::from(values).with_precision_and_scale(*precision, *scale)?,
                ),
                other => return Err(mismatch(other)),
            },
            Column::Numbers(_, _, values) => {
                let longs = Int64Array::from(values);
                match data_type {
                    DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
                        cast_with_options(&longs, data_type, &strict)?
                    }
                    DataType::Date32 => {
                        let days = cast_with_options(&longs, &DataType::Int32, &strict)?;
                        Arc::new(
                            days.as_primitive::<Int32Type>()
                                .reinterpret_cast::<Date32Type>(),
                        )
                    }
                    DataType::Time32(unit) | DataType::Time64(unit) => time_of_day(&longs, *unit)?,
                    DataType::Timestamp(unit, zone) => {
                        let array: ArrayRef = match unit {
                            TimeUnit::Second => Arc::new(
                                longs
                                    .unary::<_, TimestampSecondType>(|ms| ms.div_euclid(1000))
                                    .with_timezone_opt(zone.clone()),
                            ),
                            TimeUnit::Millisecond => Arc::new(
                                longs
                                    .reinterpret_cast::<TimestampMillisecondType>()
                                    .with_timezone_opt(zone.clone()),
                            ),
                            TimeUnit::Microsecond => Arc::new(
                                longs
                                    .reinterpret_cast::<TimestampMicrosecondType>()
                                    .with_timezone_opt(zone.clone()),
                            ),
                            TimeUnit::Nanosecond => return Err(mismatch(data_type)),
                        };
                        array
                    }
                    other => return Err(mismatch(other)),
                }
            }
        })
    }
}

fn mismatch(data_type: &DataType) -> ArrowError {
    ArrowError::InvalidArgumentError(format!("avro values cannot fill a column of {data_type}"))
}

/// Milliseconds of the day as a time of `unit`.
fn time_of_day(millis: &Int64Array, unit: TimeUnit) -> Result<ArrayRef, ArrowError> {
    Ok(match unit {
        TimeUnit::Second => Arc::new(millis.unary::<_, Time32SecondType>(|ms| (ms / 1000) as i32)),
        TimeUnit::Millisecond => Arc::new(millis.unary::<_, Time32MillisecondType>(|ms| ms as i32)),
        TimeUnit::Microsecond => {
            Arc::new(millis.unary::<_, Time64MicrosecondType>(|ms| ms * 1_000))
        }
        TimeUnit::Nanosecond => {
            Arc::new(millis.unary::<_, Time64NanosecondType>(|ms| ms * 1_000_000))
        }
    })
}

/// A decimal's unscaled value from its big-endian two's complement bytes.
fn unscaled(bytes: &[u8]) -> Result<i128, String> {
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

/// A column of a batch in the array type its kind is written from.
fn writable(column: &ArrayRef, kind: Kind) -> Result<ArrayRef, ArrowError> {
    let wanted = match (kind, column.data_type()) {
        (Kind::String, DataType::Utf8) | (Kind::Bytes, DataType::Binary) => {
            return Ok(column.clone())
        }
        (Kind::String, _) => DataType::Utf8,
        (Kind::Bytes, _) => DataType::Binary,
        _ => return Ok(column.clone()),
    };
    cast(column, &wanted)
}

/// Writes the value at `row` of `column` as `kind`.
fn write_value(
    out: &mut Vec<u8>,
    column: &ArrayRef,
    row: usize,
    kind: Kind,
) -> Result<(), ArrowError> {
    match (kind, column.data_type()) {
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
        (Kind::String, _) => write_bytes(out, column.as_string::<i32>().value(row).as_bytes()),
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
fn minimal_twos_complement(value: i128) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        Date32Array, Float32Array, Int16Array, Int32Array, StringArray, TimestampMicrosecondArray,
        TimestampMillisecondArray,
    };
    use datafusion::arrow::datatypes::{Field, Schema};

    fn format(fields: Vec<Field>) -> AvroFormat {
        AvroFormat::new(Arc::new(Schema::new(fields))).unwrap()
    }

    #[test]
    fn a_datum_is_written_as_avros_spec_says() {
        let format = format(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("price", DataType::Decimal128(5, 2), true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]);
        let batch = RecordBatch::try_new(
            format.schema.clone(),
            vec![
                Arc::new(Int32Array::from(vec![1, -2])),
                Arc::new(StringArray::from(vec![Some("ab"), None])),
                Arc::new(
                    Decimal128Array::from(vec![Some(123), Some(-128)])
                        .with_precision_and_scale(5, 2)
                        .unwrap(),
                ),
                Arc::new(TimestampMillisecondArray::from(vec![None, Some(1_000)])),
            ],
        )
        .unwrap();
        let records = format.encode(&batch).unwrap();
        // id 1 (zig-zag 2); name: branch 1, length 2, "ab"; price: branch 1, 1 byte, 123;
        // ts: branch 0 (null).
        assert_eq!(
            records[0],
            [0x02, 0x02, 0x04, b'a', b'b', 0x02, 0x02, 0x7b, 0x00]
        );
        // id -2 (zig-zag 3); name null; price -1.28: one byte 0x80; ts 1000 (zig-zag 2000).
        assert_eq!(records[1], [0x03, 0x00, 0x02, 0x02, 0x80, 0x02, 0xd0, 0x0f]);
        let labelled: Vec<(usize, &[u8])> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (i, r.as_slice()))
            .collect();
        assert_eq!(format.decode(&labelled).unwrap(), batch);
        assert!(format.schema_json().contains(
            r#"{"name":"price","type":["null",{"type":"bytes","logicalType":"decimal","precision":5,"scale":2}],"default":null}"#
        ));
    }

    #[test]
    fn every_type_round_trips() {
        let format = format(vec![
            Field::new("b", DataType::Boolean, true),
            Field::new("s", DataType::Int16, false),
            Field::new("l", DataType::Int64, true),
            Field::new("f", DataType::Float32, true),
            Field::new("d", DataType::Float64, true),
            Field::new("bytes", DataType::Binary, true),
            Field::new("day", DataType::Date32, true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("big", DataType::Decimal128(38, 0), true),
        ]);
        let batch = RecordBatch::try_new(
            format.schema.clone(),
            vec![
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
                Arc::new(Int16Array::from(vec![i16::MIN, 0, i16::MAX])),
                Arc::new(Int64Array::from(vec![Some(i64::MIN), None, Some(i64::MAX)])),
                Arc::new(Float32Array::from(vec![Some(1.5), Some(-0.0), None])),
                Arc::new(Float64Array::from(vec![None, Some(f64::MAX), Some(2.25)])),
                Arc::new(datafusion::arrow::array::BinaryArray::from(vec![
                    Some(&b"\x00\xff"[..]),
                    Some(&b""[..]),
                    None,
                ])),
                Arc::new(Date32Array::from(vec![Some(-1), Some(19_000), None])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![
                        Some(-1),
                        None,
                        Some(1_700_000_000_000_001),
                    ])
                    .with_timezone("UTC"),
                ),
                Arc::new(
                    Decimal128Array::from(vec![
                        Some(10i128.pow(37)),
                        Some(-(10i128.pow(37))),
                        Some(0),
                    ])
                    .with_precision_and_scale(38, 0)
                    .unwrap(),
                ),
            ],
        )
        .unwrap();
        let records = format.encode(&batch).unwrap();
        let labelled: Vec<(usize, &[u8])> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (i, r.as_slice()))
            .collect();
        assert_eq!(format.decode(&labelled).unwrap(), batch);
    }

    #[test]
    fn a_record_of_another_schema_is_refused_not_guessed() {
        let format = format(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("small", DataType::Int8, false),
        ]);
        let cases: [(&[u8], &str); 4] = [
            (&[0x02], "ends before"),
            (&[0x02, 0x02, 0x02], "bytes past"),
            (&[0x02, 0x80, 0x04], "does not fit"),
            (
                &[
                    0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ],
                "10 bytes",
            ),
        ];
        for (bytes, why) in cases {
            let (label, _, error) = format.decode(&[(7, bytes)]).unwrap_err();
            assert_eq!(label, 7);
            assert!(error.to_string().contains(why), "{why}: {error}");
        }
        let nested = AvroFormat::new(Arc::new(Schema::new(vec![Field::new_list(
            "tags",
            Field::new_list_field(DataType::Utf8, true),
            true,
        )])));
        assert!(nested.unwrap_err().to_string().contains("column tags"));
    }

    #[test]
    fn decimals_are_written_in_as_few_bytes_as_java_writes_them() {
        for (value, bytes) in [
            (0i128, &[0x00][..]),
            (-1, &[0xff]),
            (127, &[0x7f]),
            (128, &[0x00, 0x80]),
            (-128, &[0x80]),
            (-129, &[0xff, 0x7f]),
        ] {
            assert_eq!(minimal_twos_complement(value), bytes, "{value}");
            assert_eq!(unscaled(bytes).unwrap(), value);
        }
    }
}
