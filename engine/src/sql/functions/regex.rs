//! Flink's `REGEXP_EXTRACT(string, regex [, index])` (Nexmark's q21 reads a URL parameter with
//! it): the `index`th group of the first match (0, the default, is the whole match); NULL
//! when nothing matches, when the group does not exist or took no part in the match, or when
//! an argument is NULL.
//!
//! Patterns are Rust's `regex` syntax, which is Java's for everything but look-around and
//! back-references: a pattern that uses those fails the query naming the pattern, where
//! Flink (Java) would match it — never a silent NULL for every row.

use super::{argument_arrays, is_string, result_value, type_list};
use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_REGEX;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use regex::Regex;
use std::sync::Arc;

pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![ScalarUDF::new_from_impl(RegexpExtractFunc::new())]
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RegexpExtractFunc {
    signature: Signature,
    doc: Documentation,
}

impl RegexpExtractFunc {
    fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            doc: Documentation::builder(
                DOC_SECTION_REGEX,
                "The `index`th group of the first match of `regex` in `string` (Flink's \
                 `REGEXP_EXTRACT`; group 0, the default, is the whole match). NULL when \
                 nothing matches, when the group does not exist or is not part of the match, \
                 or when an argument is NULL. Look-around and back-references are not \
                 supported.",
                "regexp_extract(string, regex [, index])",
            )
            .with_sql_example(
                "```sql\n> SELECT REGEXP_EXTRACT('foothebar', 'foo(.*?)(bar)', 2);\nbar\n```",
            )
            .with_argument("string", "The text to search.")
            .with_argument("regex", "The regular expression.")
            .with_argument("index", "The group to return: 0 (the whole match), 1, 2, …")
            .build(),
        }
    }
}

impl ScalarUDFImpl for RegexpExtractFunc {
    fn name(&self) -> &str {
        "regexp_extract"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [s, r] if is_string(s) && is_string(r) => Ok(vec![DataType::Utf8, DataType::Utf8]),
            [s, r, i]
                if is_string(s) && is_string(r) && (i.is_integer() || i == &DataType::Null) =>
            {
                Ok(vec![DataType::Utf8, DataType::Utf8, DataType::Int64])
            }
            _ => plan_err!(
                "REGEXP_EXTRACT() takes (string, regex [, index]) with an integer index, got \
                 ({})",
                type_list(arg_types)
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // The pattern is compiled once when it is the same for every row (the usual case).
        let fixed = match args.args.get(1) {
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(pattern)))) => {
                Some(compile(pattern)?)
            }
            _ => None,
        };
        let (arrays, constant) = argument_arrays(&args)?;
        let rows = arrays.first().map_or(0, |a| a.len());
        let (strings, patterns) = match arrays.as_slice() {
            [s, p] | [s, p, _] => (s.as_string::<i32>(), p.as_string::<i32>()),
            _ => return exec_err!("REGEXP_EXTRACT() takes two or three arguments"),
        };
        let indexes = arrays.get(2).map(|i| i.as_primitive::<Int64Type>());
        let mut builder = StringBuilder::with_capacity(rows, rows * 8);
        for row in 0..rows {
            let index = match indexes {
                Some(indexes) if indexes.is_null(row) => None,
                Some(indexes) => usize::try_from(indexes.value(row)).ok(),
                None => Some(0),
            };
            if strings.is_null(row) || patterns.is_null(row) {
                builder.append_null();
                continue;
            }
            let compiled;
            let regex = match &fixed {
                Some(regex) => regex,
                None => {
                    compiled = compile(patterns.value(row))?;
                    &compiled
                }
            };
            let group = index.and_then(|index| {
                regex
                    .captures(strings.value(row))
                    .and_then(|captures| captures.get(index))
                    .map(|m| m.as_str())
            });
            builder.append_option(group);
        }
        result_value(Arc::new(builder.finish()), constant)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

fn compile(pattern: &str) -> Result<Regex> {
    Regex::new(pattern).or_else(|error| {
        exec_err!(
            "REGEXP_EXTRACT() cannot use the pattern '{pattern}' ({}); look-around and \
             back-references are not supported",
            error.to_string().lines().last().unwrap_or_default().trim()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error, one};

    #[tokio::test]
    async fn regexp_extract_returns_the_group_or_null() {
        assert_eq!(
            one("SELECT REGEXP_EXTRACT('foothebar', 'foo(.*?)(bar)', 2)").await,
            "bar"
        );
        assert_eq!(
            one("SELECT REGEXP_EXTRACT('foothebar', 'foo(.*?)(bar)')").await,
            "foothebar"
        );
        let url = "'https://www.nexmark.com/a/b/item.htm?query=1&channel_id=1065'";
        assert_eq!(
            one(&format!(
                "SELECT REGEXP_EXTRACT({url}, '(&|^)channel_id=([^&]*)', 2)"
            ))
            .await,
            "1065"
        );
        for sql in [
            "SELECT REGEXP_EXTRACT('abc', 'x(y)', 1)",
            "SELECT REGEXP_EXTRACT('abc', 'a(b)', 5)",
            "SELECT REGEXP_EXTRACT('abc', 'a(x)?b', 1)",
            "SELECT REGEXP_EXTRACT(NULL, 'a', 0)",
            "SELECT REGEXP_EXTRACT('abc', 'a(b)', -1)",
        ] {
            assert_eq!(one(sql).await, "NULL", "{sql}");
        }
        let message = error("SELECT REGEXP_EXTRACT('abc', '(?=a)b', 0)").await;
        assert!(
            message.contains("cannot use the pattern '(?=a)b'"),
            "{message}"
        );
    }
}
