//! Flink SQL's type names (STRING, BIGINT, TIMESTAMP(3), DECIMAL(p,s), …) as Arrow types.

use crate::error::EngineError;
use datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use datafusion::sql::sqlparser::ast::{
    ArrayElemTypeDef, DataType as SqlType, ExactNumberInfo, TimezoneInfo,
};
use std::sync::Arc;

const SUPPORTED: &str = "the column types are STRING, VARCHAR(n), CHAR(n), BOOLEAN, TINYINT, \
    SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL(p,s), DATE, TIMESTAMP(p), TIMESTAMP_LTZ(p), \
    BYTES, ROW<name TYPE, …>, ARRAY<T>, MAP<K, V>";

/// The Arrow type a column declared as `declared` holds.
pub(crate) fn arrow_type(declared: &SqlType) -> Result<DataType, EngineError> {
    Ok(match declared {
        SqlType::String(_)
        | SqlType::Varchar(_)
        | SqlType::Char(_)
        | SqlType::Text
        | SqlType::CharVarying(_)
        | SqlType::Character(_)
        | SqlType::CharacterVarying(_) => DataType::Utf8,
        SqlType::Boolean | SqlType::Bool => DataType::Boolean,
        SqlType::TinyInt(_) => DataType::Int8,
        SqlType::SmallInt(_) => DataType::Int16,
        SqlType::Int(_) | SqlType::Integer(_) => DataType::Int32,
        SqlType::BigInt(_) | SqlType::Int64 => DataType::Int64,
        SqlType::Float(_) | SqlType::Real => DataType::Float32,
        SqlType::Double(_) | SqlType::DoublePrecision | SqlType::Float64 => DataType::Float64,
        SqlType::Decimal(info) | SqlType::Numeric(info) => {
            // Flink's DECIMAL without precision is DECIMAL(10, 0).
            let (precision, scale) = match info {
                ExactNumberInfo::None => (10, 0),
                ExactNumberInfo::Precision(p) => (*p, 0),
                ExactNumberInfo::PrecisionAndScale(p, s) => (*p, *s),
            };
            if !(1..=38).contains(&precision) || scale < 0 || scale as u64 > precision {
                return Err(unsupported(
                    declared,
                    "DECIMAL precision must be 1 to 38, and the scale 0 to the precision",
                ));
            }
            DataType::Decimal128(precision as u8, scale as i8)
        }
        SqlType::Date => DataType::Date32,
        SqlType::Timestamp(precision, zone) => {
            let with_zone = matches!(zone, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz);
            timestamp(*precision, with_zone).ok_or_else(|| precision_error(declared))?
        }
        SqlType::Datetime(precision) => {
            timestamp(*precision, false).ok_or_else(|| precision_error(declared))?
        }
        SqlType::Bytes(_) | SqlType::Binary(_) | SqlType::Varbinary(_) | SqlType::Bytea => {
            DataType::Binary
        }
        // TIMESTAMP_LTZ(3) is not an SQL standard name: the parser leaves it as a custom type.
        SqlType::Custom(name, modifiers)
            if name.to_string().eq_ignore_ascii_case("TIMESTAMP_LTZ") =>
        {
            let precision = match modifiers.first() {
                Some(p) => Some(p.parse().map_err(|_| precision_error(declared))?),
                None => None,
            };
            timestamp(precision, true).ok_or_else(|| precision_error(declared))?
        }
        // `ROW<…>` and `ROW(…)` reach here as STRUCT (sql/flink_syntax/types.rs).
        SqlType::Struct(fields, _) => {
            let fields = fields
                .iter()
                .enumerate()
                .map(|(i, field)| {
                    let name = match &field.field_name {
                        Some(name) => super::names::column_name(name),
                        // Flink names an unnamed field f0, f1, …
                        None => format!("f{i}"),
                    };
                    Ok(Field::new(name, arrow_type(&field.field_type)?, true))
                })
                .collect::<Result<Fields, EngineError>>()?;
            DataType::Struct(fields)
        }
        SqlType::Array(
            ArrayElemTypeDef::AngleBracket(element)
            | ArrayElemTypeDef::SquareBracket(element, _)
            | ArrayElemTypeDef::Parenthesis(element),
        ) => DataType::List(Arc::new(Field::new_list_field(arrow_type(element)?, true))),
        SqlType::Map(key, value) => {
            let entries = Fields::from(vec![
                Field::new("key", arrow_type(key)?, false),
                Field::new("value", arrow_type(value)?, true),
            ]);
            DataType::Map(
                Arc::new(Field::new("entries", DataType::Struct(entries), false)),
                false,
            )
        }
        _ => return Err(unsupported(declared, SUPPORTED)),
    })
}

/// Flink's default precision is 6; Arrow has units for 0, 3, 6 and 9 digits, so a
/// precision in between is kept at the next finer unit.
fn timestamp(precision: Option<u64>, with_zone: bool) -> Option<DataType> {
    let unit = match precision.unwrap_or(6) {
        0 => TimeUnit::Second,
        1..=3 => TimeUnit::Millisecond,
        4..=6 => TimeUnit::Microsecond,
        7..=9 => TimeUnit::Nanosecond,
        _ => return None,
    };
    Some(DataType::Timestamp(unit, with_zone.then(|| "UTC".into())))
}

fn precision_error(declared: &SqlType) -> EngineError {
    unsupported(declared, "TIMESTAMP precision must be 0 to 9")
}

fn unsupported(declared: &SqlType, hint: &str) -> EngineError {
    EngineError::Plan {
        message: format!("column type {declared} is not supported"),
        position: None,
        hint: Some(hint.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn arrow(name: &str) -> Result<DataType, EngineError> {
        let declared = Parser::new(&GenericDialect {})
            .try_with_sql(name)
            .and_then(|mut p| p.parse_data_type())
            .unwrap();
        arrow_type(&declared)
    }

    #[test]
    fn flink_type_names_map_to_arrow() {
        assert_eq!(arrow("STRING").unwrap(), DataType::Utf8);
        assert_eq!(arrow("BIGINT").unwrap(), DataType::Int64);
        assert_eq!(arrow("INT").unwrap(), DataType::Int32);
        assert_eq!(arrow("DOUBLE").unwrap(), DataType::Float64);
        assert_eq!(
            arrow("DECIMAL(10, 2)").unwrap(),
            DataType::Decimal128(10, 2)
        );
        assert_eq!(arrow("DECIMAL").unwrap(), DataType::Decimal128(10, 0));
        assert_eq!(arrow("BOOLEAN").unwrap(), DataType::Boolean);
        assert_eq!(arrow("DATE").unwrap(), DataType::Date32);
        assert_eq!(
            arrow("TIMESTAMP(3)").unwrap(),
            DataType::Timestamp(TimeUnit::Millisecond, None)
        );
        assert_eq!(
            arrow("TIMESTAMP_LTZ(3)").unwrap(),
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
        assert_eq!(arrow("VARCHAR(20)").unwrap(), DataType::Utf8);
    }

    /// A column type as a CREATE TABLE column list has it, after Flink's nested type names
    /// are rewritten on its tokens.
    fn declared(name: &str) -> DataType {
        let sql = format!("CREATE TABLE t (c {name})");
        let tokens =
            datafusion::sql::sqlparser::tokenizer::Tokenizer::new(&GenericDialect {}, &sql)
                .tokenize_with_location()
                .unwrap();
        let tokens = crate::sql::flink_syntax::rewrite_nested_types(tokens);
        let parsed = datafusion::sql::parser::DFParserBuilder::new(tokens)
            .build()
            .unwrap()
            .parse_statements()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let Some(datafusion::sql::parser::Statement::Statement(statement)) = parsed.front() else {
            panic!("{name}: not a statement");
        };
        let datafusion::sql::sqlparser::ast::Statement::CreateTable(create) = statement.as_ref()
        else {
            panic!("{name}: not CREATE TABLE");
        };
        arrow_type(&create.columns[0].data_type).unwrap()
    }

    #[test]
    fn nested_flink_types_map_to_arrow() {
        let person = declared("ROW<id BIGINT, `dateTime` TIMESTAMP(3)>");
        assert_eq!(
            person,
            DataType::Struct(Fields::from(vec![
                Field::new("id", DataType::Int64, true),
                Field::new(
                    "dateTime",
                    DataType::Timestamp(TimeUnit::Millisecond, None),
                    true
                ),
            ]))
        );
        assert_eq!(declared("ROW(id BIGINT, `dateTime` TIMESTAMP(3))"), person);
        assert_eq!(
            declared("ARRAY<STRING>"),
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
        );
        let DataType::Map(entries, false) = declared("MAP<STRING, ARRAY<ROW<x INT>>>") else {
            panic!("not a map");
        };
        let DataType::Struct(kv) = entries.data_type() else {
            panic!("no entries");
        };
        assert_eq!(kv[0].data_type(), &DataType::Utf8);
        assert!(
            matches!(kv[1].data_type(), DataType::List(item) if matches!(item.data_type(), DataType::Struct(_)))
        );
    }

    #[test]
    fn impossible_types_are_errors_with_a_hint() {
        let error = arrow("DECIMAL(50, 2)").unwrap_err();
        assert!(error.hint().unwrap().contains("1 to 38"));
        let error = arrow("TIMESTAMP(12)").unwrap_err();
        assert!(error.to_string().contains("TIMESTAMP(12)"));
    }
}
