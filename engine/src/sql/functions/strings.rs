//! Flink string functions DataFusion lacks: `SPLIT_INDEX`.

use std::sync::Arc;

use super::{argument_arrays, is_string, result_value};
use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![ScalarUDF::new_from_impl(SplitIndexFunc::new())]
}

/// `SPLIT_INDEX(string, delimiter, index)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SplitIndexFunc {
    signature: Signature,
    doc: Documentation,
}

impl SplitIndexFunc {
    fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            doc: Documentation::builder(
                DOC_SECTION_STRING,
                "Splits `string` by `delimiter` and returns the part at zero-based `index` \
                 (Flink's `SPLIT_INDEX`). NULL when the index is negative or past the last \
                 part, or when any argument is NULL. Compare `split_part`, whose index is \
                 one-based and which returns '' past the end.",
                "split_index(string, delimiter, index)",
            )
            .with_sql_example(
                "```sql\n> SELECT SPLIT_INDEX('a,b,c', ',', 1);\nb\n> SELECT SPLIT_INDEX('a,b,c', ',', 3);\nNULL\n```",
            )
            .with_argument("string", "The string to split.")
            .with_argument("delimiter", "The separator (a string; not a regular expression).")
            .with_argument("index", "The zero-based index of the part to return.")
            .with_related_udf("split_part")
            .build(),
        }
    }
}

impl ScalarUDFImpl for SplitIndexFunc {
    fn name(&self) -> &str {
        "split_index"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [s, d, i] = arg_types else {
            return plan_err!(
                "SPLIT_INDEX() takes three arguments (string, delimiter, index), got {}",
                arg_types.len()
            );
        };
        if !is_string(s) || !is_string(d) {
            return plan_err!("SPLIT_INDEX() splits a string by a string, got {s} and {d}");
        }
        if !(i.is_integer() || i == &DataType::Null) {
            return plan_err!("SPLIT_INDEX() takes an integer index, got {i}");
        }
        Ok(vec![DataType::Utf8, DataType::Utf8, DataType::Int64])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, constant) = argument_arrays(&args)?;
        let rows = arrays.first().map_or(0, |a| a.len());
        let [strings, delimiters, indexes] = arrays.as_slice() else {
            return exec_err!("SPLIT_INDEX() takes three arguments");
        };
        let strings = strings.as_string::<i32>();
        let delimiters = delimiters.as_string::<i32>();
        let indexes = indexes.as_primitive::<Int64Type>();
        let mut builder = StringBuilder::with_capacity(rows, strings.value_data().len());
        for i in 0..rows {
            if strings.is_null(i) || delimiters.is_null(i) || indexes.is_null(i) {
                builder.append_null();
                continue;
            }
            let part = usize::try_from(indexes.value(i))
                .ok()
                .and_then(|index| split(strings.value(i), delimiters.value(i), index));
            builder.append_option(part);
        }
        result_value(Arc::new(builder.finish()), constant)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

/// Part `index` of `s` split by `delimiter`, as Flink does it (Commons Lang
/// `splitByWholeSeparatorPreserveAllTokens`): empty parts count, an empty string has no parts,
/// and an empty delimiter splits on whitespace.
fn split<'a>(s: &'a str, delimiter: &str, index: usize) -> Option<&'a str> {
    if s.is_empty() {
        None
    } else if delimiter.is_empty() {
        s.split(char::is_whitespace).nth(index)
    } else {
        s.split(delimiter).nth(index)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{column, context, error, one};

    #[tokio::test]
    async fn split_index() {
        assert_eq!(one("SELECT SPLIT_INDEX('a,b,c', ',', 0)").await, "a");
        assert_eq!(one("SELECT SPLIT_INDEX('a,b,c', ',', 2)").await, "c");
        assert_eq!(one("SELECT SPLIT_INDEX('a,b,c', ',', 3)").await, "NULL");
        assert_eq!(one("SELECT SPLIT_INDEX('a,b,c', ',', -1)").await, "NULL");
        assert_eq!(one("SELECT SPLIT_INDEX('a::b', '::', 1)").await, "b");
        assert_eq!(one("SELECT SPLIT_INDEX('a,,b', ',', 2)").await, "b");
        assert_eq!(one("SELECT SPLIT_INDEX('a b', '', 1)").await, "b");
        assert_eq!(one("SELECT SPLIT_INDEX(NULL, ',', 1)").await, "NULL");
        let ctx = context();
        let got = column(
            &ctx,
            "SELECT SPLIT_INDEX(s, '-', 1) FROM (VALUES ('x-y'), (NULL), ('z')) t(s)",
        )
        .await
        .unwrap();
        assert_eq!(got, ["y", "NULL", "NULL"]);
    }

    #[tokio::test]
    async fn split_index_errors() {
        let e = error("SELECT SPLIT_INDEX('a,b', ',', 'x')").await;
        assert!(
            e.contains("SPLIT_INDEX() takes an integer index, got Utf8"),
            "{e}"
        );
    }
}
