//! The Avro schema of a table's columns, as Flink's avro format derives it from a row type:
//! which Avro type each column (and each element, value and field inside it) is written as.

use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};

/// How a value of a primitive type is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Boolean,
    Int,
    Long,
    Float,
    Double,
    String,
    Bytes,
    Decimal,
    /// `date`: days since 1970-01-01.
    Date,
    /// `time-millis`: milliseconds of the day.
    TimeMillis,
    /// `timestamp-millis` / `timestamp-micros`: since the epoch.
    TimestampMillis,
    TimestampMicros,
}

/// How a value is written: a primitive, or an array, map or record of values.
#[derive(Debug, Clone)]
pub(super) enum Shape {
    Primitive(Kind),
    Array(Box<Node>),
    /// A map's values (its keys are strings).
    Map(Box<Node>),
    /// A record's fields, by name.
    Record(Vec<(String, Node)>),
}

/// A value's shape, and whether it may be null (then written as the union `["null", …]`).
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) shape: Shape,
    pub(super) nullable: bool,
}

impl Node {
    /// The node of a value of `data_type`; an error says why Avro does not hold it here.
    pub(super) fn of(data_type: &DataType, nullable: bool) -> Result<Node, String> {
        let shape = match data_type {
            DataType::Boolean => Shape::Primitive(Kind::Boolean),
            DataType::Int8 | DataType::Int16 | DataType::Int32 => Shape::Primitive(Kind::Int),
            DataType::Int64 => Shape::Primitive(Kind::Long),
            DataType::Float32 => Shape::Primitive(Kind::Float),
            DataType::Float64 => Shape::Primitive(Kind::Double),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                Shape::Primitive(Kind::String)
            }
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                Shape::Primitive(Kind::Bytes)
            }
            DataType::Decimal128(..) => Shape::Primitive(Kind::Decimal),
            DataType::Date32 => Shape::Primitive(Kind::Date),
            DataType::Time32(_) | DataType::Time64(_) => Shape::Primitive(Kind::TimeMillis),
            DataType::Timestamp(TimeUnit::Second | TimeUnit::Millisecond, _) => {
                Shape::Primitive(Kind::TimestampMillis)
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                Shape::Primitive(Kind::TimestampMicros)
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                return Err(
                    "Avro's timestamps have up to 6 digits (declare TIMESTAMP(6) or less)".into(),
                )
            }
            DataType::List(item) => Shape::Array(Box::new(field_node(item)?)),
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(pair) if pair.len() == 2 => {
                    if !matches!(
                        pair[0].data_type(),
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                    ) {
                        return Err(format!(
                            "Avro's map keys are strings, not {}",
                            pair[0].data_type()
                        ));
                    }
                    Shape::Map(Box::new(field_node(&pair[1])?))
                }
                other => return Err(format!("a map of {other}")),
            },
            DataType::Struct(fields) => Shape::Record(
                fields
                    .iter()
                    .map(|f| Ok((f.name().clone(), field_node(f)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => return Err(format!("Avro's format does not hold {other}")),
        };
        Ok(Node { shape, nullable })
    }

    /// The node's Avro schema as JSON; a nested record is named `{record}_{field}`, as
    /// Flink names them.
    pub(super) fn schema(&self, data_type: &DataType, record: &str) -> String {
        let schema = match (&self.shape, data_type) {
            (Shape::Primitive(kind), _) => primitive_schema(*kind, data_type),
            (Shape::Array(item), DataType::List(field)) => format!(
                r#"{{"type":"array","items":{}}}"#,
                item.schema(field.data_type(), record)
            ),
            (Shape::Map(value), DataType::Map(entries, _)) => {
                let value_type = match entries.data_type() {
                    DataType::Struct(pair) => pair[1].data_type().clone(),
                    other => other.clone(),
                };
                format!(
                    r#"{{"type":"map","values":{}}}"#,
                    value.schema(&value_type, record)
                )
            }
            (Shape::Record(fields), DataType::Struct(types)) => {
                record_schema(record, fields.iter().zip(types.iter()), None)
            }
            _ => r#""null""#.into(),
        };
        match self.nullable {
            true => format!(r#"["null",{schema}]"#),
            false => schema,
        }
    }
}

fn field_node(field: &Field) -> Result<Node, String> {
    Node::of(field.data_type(), field.is_nullable())
        .map_err(|why| format!("{} inside it: {why}", field.name()))
}

/// A record's schema of `fields`, named `name` (in Flink's namespace at the top).
pub(super) fn record_schema<'a>(
    name: &str,
    fields: impl Iterator<Item = (&'a (String, Node), &'a std::sync::Arc<Field>)>,
    namespace: Option<&str>,
) -> String {
    let fields: Vec<String> = fields
        .map(|((field, node), arrow)| {
            let default = if node.nullable {
                r#","default":null"#
            } else {
                ""
            };
            format!(
                r#"{{"name":"{field}","type":{}{default}}}"#,
                node.schema(arrow.data_type(), &format!("{name}_{field}"))
            )
        })
        .collect();
    let namespace = namespace.map_or(String::new(), |n| format!(r#","namespace":"{n}""#));
    format!(
        r#"{{"type":"record","name":"{name}"{namespace},"fields":[{}]}}"#,
        fields.join(",")
    )
}

fn primitive_schema(kind: Kind, data_type: &DataType) -> String {
    let logical =
        |base: &str, logical: &str| format!(r#"{{"type":"{base}","logicalType":"{logical}"}}"#);
    match kind {
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
