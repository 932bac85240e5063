//! `TO_TIMESTAMP` and `TO_DATE`: strings read with a Java date pattern.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Date32Array, TimestampMillisecondArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_DATETIME;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use super::{
    coerce_pattern, constant_pattern, is_string, output, parse_each, to_arrays, utf8, PATTERN_HELP,
};
use crate::sql::functions::pattern::{DEFAULT_DATE_PATTERN, DEFAULT_TIMESTAMP_PATTERN};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Target {
    Timestamp,
    Date,
}

/// `TO_TIMESTAMP(string [, pattern])` and `TO_DATE(string [, pattern])` with Flink's semantics
/// for strings; other arguments go to DataFusion's function of the same name.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct ParseFunc {
    target: Target,
    /// DataFusion's own function, for arguments Flink's does not take.
    inner: Arc<ScalarUDF>,
    signature: Signature,
    doc: Documentation,
}

impl ParseFunc {
    pub(super) fn new(target: Target, config: &ConfigOptions) -> Self {
        let inner = match target {
            Target::Timestamp => datafusion::functions::datetime::to_timestamp(config),
            Target::Date => datafusion::functions::datetime::to_date(),
        };
        let doc = match target {
            Target::Timestamp => Documentation::builder(
                DOC_SECTION_DATETIME,
                "Parses a string to a TIMESTAMP(3) with a Java date pattern, by default \
                 'yyyy-MM-dd HH:mm:ss' (Flink's `TO_TIMESTAMP`; the default also takes a date \
                 alone and a fraction of second). Returns NULL when the string does not parse. \
                 Non-string arguments keep DataFusion's `to_timestamp` behaviour (e.g. an \
                 integer is seconds since the epoch), as do three or more arguments (several \
                 chrono formats).",
                "to_timestamp(string [, pattern])",
            )
            .with_sql_example(
                "```sql\n> SELECT TO_TIMESTAMP('05/01/2024 10:11', 'dd/MM/yyyy HH:mm');\n2024-01-05T10:11:00\n> SELECT TO_TIMESTAMP('garbage');\nNULL\n```",
            )
            .with_argument("string", "The string to parse.")
            .with_argument("pattern", PATTERN_HELP)
            .build(),
            Target::Date => Documentation::builder(
                DOC_SECTION_DATETIME,
                "Parses a string to a DATE with a Java date pattern, by default 'yyyy-MM-dd' \
                 (Flink's `TO_DATE`). Returns NULL when the string does not parse. Non-string \
                 arguments keep DataFusion's `to_date` behaviour (e.g. an integer is days \
                 since the epoch), as do three or more arguments.",
                "to_date(string [, pattern])",
            )
            .with_sql_example(
                "```sql\n> SELECT TO_DATE('05/01/2024', 'dd/MM/yyyy');\n2024-01-05\n```",
            )
            .with_argument("string", "The string to parse.")
            .with_argument("pattern", PATTERN_HELP)
            .build(),
        };
        Self {
            target,
            inner,
            signature: Signature::user_defined(Volatility::Immutable),
            doc,
        }
    }

    fn upper(&self) -> &'static str {
        match self.target {
            Target::Timestamp => "TO_TIMESTAMP",
            Target::Date => "TO_DATE",
        }
    }

    /// Whether these (coerced) argument types take Flink's path.
    fn is_flink(arg_types: &[DataType]) -> bool {
        matches!(arg_types.len(), 1 | 2)
            && (is_string(&arg_types[0]) || arg_types[0] == DataType::Null)
    }
}

impl ScalarUDFImpl for ParseFunc {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.is_empty() {
            return plan_err!("{}() takes a string and an optional pattern", self.upper());
        }
        if !Self::is_flink(arg_types) {
            return Ok(arg_types.to_vec());
        }
        let mut types = vec![DataType::Utf8];
        if let Some(pattern) = arg_types.get(1) {
            types.push(coerce_pattern(self.upper(), pattern)?);
        }
        Ok(types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !Self::is_flink(arg_types) {
            return self.inner.return_type(arg_types);
        }
        Ok(match self.target {
            Target::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
            Target::Date => DataType::Date32,
        })
    }

    fn with_updated_config(&self, config: &ConfigOptions) -> Option<ScalarUDF> {
        Some(ScalarUDF::new_from_impl(Self::new(self.target, config)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args.args.iter().map(|a| a.data_type()).collect();
        if !Self::is_flink(&types) {
            return self.inner.invoke_with_args(args);
        }
        let (arrays, scalar) = to_arrays(&args.args, args.number_rows)?;
        let strings = utf8(&arrays[0])?;
        let strings = strings.as_string::<i32>();
        let default = match self.target {
            Target::Timestamp => DEFAULT_TIMESTAMP_PATTERN,
            Target::Date => DEFAULT_DATE_PATTERN,
        };
        let constant = match constant_pattern(&arrays, 1, scalar, default) {
            // Flink's lenient default parses dates as well as timestamps.
            Some(Some(p)) if p == DEFAULT_DATE_PATTERN => Some(Some(DEFAULT_TIMESTAMP_PATTERN)),
            c => c,
        };
        let patterns = arrays.get(1).map(|a| a.as_string::<i32>());
        let result: ArrayRef = match self.target {
            Target::Timestamp => Arc::new(TimestampMillisecondArray::from(parse_each(
                strings,
                patterns,
                constant,
                |r| r.map(|(dt, _)| dt.and_utc().timestamp_millis()),
            )?)),
            Target::Date => {
                let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
                Arc::new(Date32Array::from(parse_each(
                    strings,
                    patterns,
                    constant,
                    |r| r.and_then(|(dt, _)| i32::try_from((dt.date() - epoch).num_days()).ok()),
                )?))
            }
        };
        output(result, scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}
