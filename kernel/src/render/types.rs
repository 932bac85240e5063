//! Column types as a SQL user writes them, not as Arrow names them.

use eddy_engine::arrow::datatypes::{DataType, TimeUnit};

pub fn sql_type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Null => "NULL".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "TINYINT UNSIGNED".into(),
        DataType::UInt16 => "SMALLINT UNSIGNED".into(),
        DataType::UInt32 => "INT UNSIGNED".into(),
        DataType::UInt64 => "BIGINT UNSIGNED".into(),
        DataType::Float16 | DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "STRING".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BYTES".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(unit, zone) => {
            let precision = match unit {
                TimeUnit::Second => 0,
                TimeUnit::Millisecond => 3,
                TimeUnit::Microsecond => 6,
                TimeUnit::Nanosecond => 9,
            };
            match zone {
                Some(_) => format!("TIMESTAMP_LTZ({precision})"),
                None => format!("TIMESTAMP({precision})"),
            }
        }
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("DECIMAL({p},{s})"),
        DataType::Interval(_) => "INTERVAL".into(),
        DataType::List(field) | DataType::LargeList(field) | DataType::ListView(field) => {
            format!("ARRAY<{}>", sql_type_name(field.data_type()))
        }
        DataType::Struct(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|f| format!("{} {}", quoted_name(f.name()), sql_type_name(f.data_type())))
                .collect();
            format!("ROW<{}>", fields.join(", "))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "MAP<{}, {}>",
                sql_type_name(kv[0].data_type()),
                sql_type_name(kv[1].data_type())
            ),
            other => format!("MAP<{other}>"),
        },
        DataType::Dictionary(_, value) => sql_type_name(value),
        other => other.to_string(),
    }
}

/// A field name as Flink SQL writes it: backticks when it is not a plain lower-case word.
fn quoted_name(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain && !name.is_empty() {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_like_flink_sql() {
        assert_eq!(sql_type_name(&DataType::Int64), "BIGINT");
        assert_eq!(sql_type_name(&DataType::Utf8View), "STRING");
        assert_eq!(
            sql_type_name(&DataType::Timestamp(TimeUnit::Millisecond, None)),
            "TIMESTAMP(3)"
        );
        assert_eq!(sql_type_name(&DataType::Decimal128(10, 2)), "DECIMAL(10,2)");
    }

    #[test]
    fn nested_types_read_like_flink_sql() {
        use eddy_engine::arrow::datatypes::{Field, Fields};
        use std::sync::Arc;
        let person = DataType::Struct(Fields::from(vec![
            Field::new("id", DataType::Int64, true),
            Field::new(
                "dateTime",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
        ]));
        assert_eq!(
            sql_type_name(&person),
            "ROW<id BIGINT, `dateTime` TIMESTAMP(3)>"
        );
        let entries = Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Int32, true),
        ]);
        let map = DataType::Map(
            Arc::new(Field::new("entries", DataType::Struct(entries), false)),
            false,
        );
        assert_eq!(sql_type_name(&map), "MAP<STRING, INT>");
    }
}
