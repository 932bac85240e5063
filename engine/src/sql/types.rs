//! Flink SQL's type names (STRING, BIGINT, TIMESTAMP(3), DECIMAL(p,s), …) as Arrow types.

use crate::error::EngineError;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::sql::sqlparser::ast::{DataType as SqlType, ExactNumberInfo, TimezoneInfo};

const SUPPORTED: &str = "the column types are STRING, VARCHAR(n), CHAR(n), BOOLEAN, TINYINT, \
    SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL(p,s), DATE, TIMESTAMP(p), TIMESTAMP_LTZ(p), \
    BYTES";

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

    #[test]
    fn impossible_types_are_errors_with_a_hint() {
        let error = arrow("DECIMAL(50, 2)").unwrap_err();
        assert!(error.hint().unwrap().contains("1 to 38"));
        let error = arrow("TIMESTAMP(12)").unwrap_err();
        assert!(error.to_string().contains("TIMESTAMP(12)"));
    }
}
