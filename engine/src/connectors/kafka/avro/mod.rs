//! `'format' = 'avro'`: each record one Avro datum in Avro's binary encoding, without a
//! header or a schema id, its schema derived from the table's columns as Flink's avro format
//! derives it (`schema.rs`): a record of the columns in order, a nullable value a union
//! `["null", type]` (null first), BOOLEAN `boolean`; TINYINT, SMALLINT and INT `int`; BIGINT
//! `long`; FLOAT `float`; DOUBLE `double`; STRING `string`; BYTES `bytes`; DECIMAL(p, s)
//! `bytes` with the `decimal` logical type (the unscaled value, big-endian two's complement);
//! DATE `int` (`date`); TIME `int` (`time-millis`); TIMESTAMP(0..3) and TIMESTAMP_LTZ(0..3)
//! `long` (`timestamp-millis`), up to 6 digits `timestamp-micros`; ARRAY `array`, MAP with
//! STRING keys `map`, ROW a nested `record`.
//!
//! Rows are decoded straight into Arrow arrays (`read.rs`); a record that does not end where
//! the table's columns do is not one of the table's (no guessing).

mod read;
mod schema;
mod write;

use crate::error::EngineError;
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use read::{Column, Datum};
use schema::Node;

/// Records of one table's columns in Avro.
#[derive(Debug)]
pub(crate) struct AvroFormat {
    schema: SchemaRef,
    nodes: Vec<(String, Node)>,
}

impl AvroFormat {
    /// The format for `schema`'s columns; a column Avro does not hold here is an error
    /// naming it.
    pub(crate) fn new(schema: SchemaRef) -> Result<Self, EngineError> {
        let nodes = schema
            .fields()
            .iter()
            .map(|field| {
                Node::of(field.data_type(), field.is_nullable())
                    .map(|node| (field.name().clone(), node))
                    .map_err(|why| EngineError::NotSupported {
                        message: format!(
                            "column {} is {}, which Eddy's avro format does not hold: {why}",
                            field.name(),
                            field.data_type()
                        ),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(AvroFormat { schema, nodes })
    }

    /// The Avro schema of a record, as JSON (Flink's derivation, its record names included).
    pub(crate) fn schema_json(&self) -> String {
        schema::record_schema(
            "record",
            self.nodes.iter().zip(self.schema.fields().iter()),
            Some("org.apache.flink.avro.generated"),
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
            .nodes
            .iter()
            .zip(self.schema.fields().iter())
            .map(|((_, node), field)| Column::new(node, field.data_type(), records.len()))
            .collect();
        for (label, bytes) in records {
            let mut datum = Datum { bytes, at: 0 };
            for (i, column) in columns.iter_mut().enumerate() {
                column
                    .read(&mut datum)
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
        let mut out = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let mut datum = Vec::new();
            for (column, (name, node)) in batch.columns().iter().zip(&self.nodes) {
                write::write(&mut datum, column, row, node, &format!("column {name}"))?;
            }
            out.push(datum);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::read::unscaled;
    use super::write::minimal_twos_complement;
    use super::*;
    use datafusion::arrow::array::{BooleanArray, Decimal128Array, Float64Array, Int64Array};
    use datafusion::arrow::array::{
        Date32Array, Float32Array, Int16Array, Int32Array, StringArray, TimestampMicrosecondArray,
        TimestampMillisecondArray,
    };
    use datafusion::arrow::datatypes::{DataType, TimeUnit};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    /// The rows of `records` (each a datum), decoded.
    fn decoded(format: &AvroFormat, records: &[Vec<u8>]) -> RecordBatch {
        let labelled: Vec<(usize, &[u8])> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (i, r.as_slice()))
            .collect();
        format.decode(&labelled).unwrap()
    }

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
        assert_eq!(decoded(&format, &records), batch);
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
        assert_eq!(decoded(&format, &records), batch);
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
        let too_fine = AvroFormat::new(Arc::new(Schema::new(vec![Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            true,
        )])));
        assert!(too_fine.unwrap_err().to_string().contains("column at"));
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

    #[test]
    fn arrays_maps_and_rows_are_written_in_blocks_and_nested_records() {
        use datafusion::arrow::array::{
            Array, ArrayRef, ListBuilder, MapBuilder, StringBuilder, StructArray,
        };
        use datafusion::arrow::array::{Float64Builder, Int32Builder};
        use datafusion::arrow::datatypes::Fields;
        let mut tags = ListBuilder::new(Int32Builder::new());
        tags.values().append_value(3);
        tags.values().append_null();
        tags.append(true);
        tags.append(false);
        let tags = tags.finish();
        let mut scores = MapBuilder::new(None, StringBuilder::new(), Float64Builder::new());
        scores.keys().append_value("x");
        scores.values().append_value(0.5);
        scores.append(true).unwrap();
        scores.append(true).unwrap();
        let scores = scores.finish();
        let address_fields = Fields::from(vec![
            Field::new("street", DataType::Utf8, true),
            Field::new("no", DataType::Int32, false),
        ]);
        let address = StructArray::try_new(
            address_fields.clone(),
            vec![
                Arc::new(datafusion::arrow::array::StringArray::from(vec![
                    Some("main"),
                    None,
                ])),
                Arc::new(datafusion::arrow::array::Int32Array::from(vec![7, 0])),
            ],
            Some(vec![true, false].into()),
        )
        .unwrap();
        let format = format(vec![
            Field::new("tags", tags.data_type().clone(), true),
            Field::new("scores", scores.data_type().clone(), false),
            Field::new("address", DataType::Struct(address_fields), true),
        ]);
        let batch = RecordBatch::try_new(
            format.schema.clone(),
            vec![
                Arc::new(tags) as ArrayRef,
                Arc::new(scores),
                Arc::new(address),
            ],
        )
        .unwrap();
        let records = format.encode(&batch).unwrap();
        let mut first = vec![0x02, 0x04, 0x02, 0x06, 0x00, 0x00]; // tags: [3, null]
        first.extend([0x02, 0x02, b'x', 0x02]); // scores: one entry "x", a nullable …
        first.extend(0.5f64.to_le_bytes()); // … 0.5,
        first.push(0x00); // end of the map
        first.extend([0x02, 0x02, 0x08, b'm', b'a', b'i', b'n', 0x0e]); // address {main, 7}
        assert_eq!(records[0], first);
        // tags null, scores {}, address null.
        assert_eq!(records[1], [0x00, 0x00, 0x00]);
        assert_eq!(decoded(&format, &records), batch);
        let schema = format.schema_json();
        assert!(
            schema.contains(r#"{"name":"address","type":["null",{"type":"record","name":"record_address","fields":[{"name":"street","type":["null","string"],"default":null},{"name":"no","type":"int"}]}],"default":null}"#),
            "{schema}"
        );
    }
}
