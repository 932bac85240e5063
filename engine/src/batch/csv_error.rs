//! Arrow's complaints about a CSV row, read in one place. Arrow says them as text, counting
//! columns from 0 and lines from the start of a batch; Eddy says them with column numbers
//! or names, the value and what to do.

/// What Arrow's CSV reader found wrong with a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CsvRowError {
    /// A value that does not parse as its column's type.
    BadValue {
        value: String,
        /// Arrow's name of the type, e.g. `Int32`.
        arrow_type: String,
        /// Counted from 0.
        column: usize,
        /// The row's text, when Arrow gave it.
        row: String,
    },
    /// A row with more or fewer fields than the table has columns.
    FieldCount {
        /// What Arrow said it expected, e.g. `3 fields, found 4`.
        expected: String,
    },
}

impl CsvRowError {
    /// The row error in one of Arrow's messages, if the message is about a CSV row.
    pub(crate) fn parse(message: &str) -> Option<CsvRowError> {
        if let Some(rest) = message.split("Error while parsing value '").nth(1) {
            let (value, rest) = rest.split_once("' as type '")?;
            let (arrow_type, rest) = rest.split_once("' for column ")?;
            let column = rest.split(' ').next()?.parse().ok()?;
            let row = rest
                .split_once("Row data: ")
                .map(|(_, row)| row.trim_matches('\''))
                .unwrap_or("");
            return Some(CsvRowError::BadValue {
                value: value.to_string(),
                arrow_type: arrow_type.to_string(),
                column,
                row: row.to_string(),
            });
        }
        let rest = message.split("incorrect number of fields").nth(1)?;
        let expected = rest.split("expected ").nth(1).unwrap_or("").trim();
        Some(CsvRowError::FieldCount {
            expected: expected.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_two_complaints_are_read() {
        let bad = "Parser error: Error while parsing value 'five' as type 'Int32' for column 1 \
                   at line 3. Row data: '[2,five,2024-01-02]'";
        assert_eq!(
            CsvRowError::parse(bad),
            Some(CsvRowError::BadValue {
                value: "five".into(),
                arrow_type: "Int32".into(),
                column: 1,
                row: "[2,five,2024-01-02]".into(),
            })
        );
        let count = "Csv error: incorrect number of fields for line 7, expected 3 got 4";
        assert_eq!(
            CsvRowError::parse(count),
            Some(CsvRowError::FieldCount {
                expected: "3 got 4".into()
            })
        );
        assert_eq!(CsvRowError::parse("Divide by zero error"), None);
    }
}
