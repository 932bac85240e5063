//! Flink's `STR_TO_MAP(text [, listDelimiter, keyValueDelimiter])`: `'a=1,b=2'` becomes the
//! map `{a: 1, b: 2}`. Both delimiters are regular expressions, as in Flink (default `,` and
//! `=`); a pair without the key-value delimiter maps its key to NULL; a repeated key keeps its
//! last value. NULL text gives a NULL map.

use super::{argument_arrays, is_string, result_value, type_list};
use datafusion::arrow::array::{Array, AsArray, MapBuilder, MapFieldNames, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use regex::Regex;
use std::sync::Arc;

pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![ScalarUDF::new_from_impl(StrToMapFunc::new())]
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct StrToMapFunc {
    signature: Signature,
    doc: Documentation,
}

impl StrToMapFunc {
    fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            doc: Documentation::builder(
                DOC_SECTION_STRING,
                "Splits `text` into key-value pairs (Flink's `STR_TO_MAP`): pairs are parted by \
                 `listDelimiter` (default ','), a key from its value by `keyValueDelimiter` \
                 (default '='); both are regular expressions. A pair without the key-value \
                 delimiter maps its key to NULL; a repeated key keeps its last value.",
                "str_to_map(text [, listDelimiter, keyValueDelimiter])",
            )
            .with_sql_example(
                "```sql\n> SELECT STR_TO_MAP('a=1,b=2')['b'];\n2\n> SELECT STR_TO_MAP('a:1;b:2', ';', ':')['a'];\n1\n```",
            )
            .with_argument("text", "The text to split.")
            .with_argument("listDelimiter", "What parts pairs (a regular expression).")
            .with_argument(
                "keyValueDelimiter",
                "What parts a key from its value (a regular expression).",
            )
            .build(),
        }
    }
}

/// `MAP<STRING, STRING>`, laid out as a declared `MAP<K, V>` column is.
fn map_type() -> DataType {
    let entries = Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, true),
    ]);
    DataType::Map(
        Arc::new(Field::new("entries", DataType::Struct(entries), false)),
        false,
    )
}

impl ScalarUDFImpl for StrToMapFunc {
    fn name(&self) -> &str {
        "str_to_map"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if is_string(t) => Ok(vec![DataType::Utf8]),
            [t, l, k] if is_string(t) && is_string(l) && is_string(k) => {
                Ok(vec![DataType::Utf8; 3])
            }
            _ => plan_err!(
                "STR_TO_MAP() takes (text) or (text, listDelimiter, keyValueDelimiter), all \
                 strings; got ({})",
                type_list(arg_types)
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(map_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // Delimiters are compiled once when every row has the same (the usual case).
        let fixed = |at: usize, default: &str| -> Result<Option<Regex>> {
            match args.args.get(at) {
                None => compile(default).map(Some),
                Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(pattern)))) => {
                    compile(pattern).map(Some)
                }
                Some(_) => Ok(None),
            }
        };
        let (fixed_list, fixed_pair) = (fixed(1, ",")?, fixed(2, "=")?);
        let (arrays, constant) = argument_arrays(&args)?;
        let rows = arrays.first().map_or(0, |a| a.len());
        let texts = arrays[0].as_string::<i32>();
        let lists = arrays.get(1).map(|a| a.as_string::<i32>());
        let pairs = arrays.get(2).map(|a| a.as_string::<i32>());
        let names = MapFieldNames {
            entry: "entries".into(),
            key: "key".into(),
            value: "value".into(),
        };
        let mut builder = MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new());
        for row in 0..rows {
            let delimiter_is_null = |d: Option<&datafusion::arrow::array::StringArray>| {
                d.is_some_and(|d| d.is_null(row))
            };
            if texts.is_null(row) || delimiter_is_null(lists) || delimiter_is_null(pairs) {
                builder.append(false)?;
                continue;
            }
            let (list_compiled, pair_compiled);
            let list = match (&fixed_list, lists) {
                (Some(regex), _) => regex,
                (None, Some(lists)) => {
                    list_compiled = compile(lists.value(row))?;
                    &list_compiled
                }
                (None, None) => return exec_err!("STR_TO_MAP() lost its list delimiter"),
            };
            let pair = match (&fixed_pair, pairs) {
                (Some(regex), _) => regex,
                (None, Some(pairs)) => {
                    pair_compiled = compile(pairs.value(row))?;
                    &pair_compiled
                }
                (None, None) => return exec_err!("STR_TO_MAP() lost its key-value delimiter"),
            };
            // Later pairs replace earlier ones with the same key, keeping the first's place.
            let mut entries: Vec<(&str, Option<&str>)> = Vec::new();
            for item in list.split(texts.value(row)) {
                let mut parts = pair.splitn(item, 2);
                let key = parts.next().unwrap_or_default();
                let value = parts.next();
                match entries.iter_mut().find(|(k, _)| *k == key) {
                    Some(entry) => entry.1 = value,
                    None => entries.push((key, value)),
                }
            }
            for (key, value) in entries {
                builder.keys().append_value(key);
                builder.values().append_option(value);
            }
            builder.append(true)?;
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
            "STR_TO_MAP() cannot use the delimiter '{pattern}' as a regular expression ({})",
            error.to_string().lines().last().unwrap_or_default().trim()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error, one};

    #[tokio::test]
    async fn str_to_map_splits_pairs() {
        assert_eq!(one("SELECT STR_TO_MAP('a=1,b=2')['b']").await, "2");
        assert_eq!(one("SELECT STR_TO_MAP('a=1,b=2')").await, "{a: 1, b: 2}");
        assert_eq!(
            one("SELECT STR_TO_MAP('a:1;b:2', ';', ':')['a']").await,
            "1"
        );
        // Delimiters are regular expressions.
        assert_eq!(
            one("SELECT STR_TO_MAP('a = 1 ,  b = 2', '\\s*,\\s*', '\\s*=\\s*')['b']").await,
            "2"
        );
        // No value, a repeated key, NULL text.
        assert_eq!(one("SELECT STR_TO_MAP('a,b=2')").await, "{a: , b: 2}");
        assert_eq!(one("SELECT STR_TO_MAP('a,b=2')['a'] IS NULL").await, "true");
        assert_eq!(one("SELECT STR_TO_MAP('k=1,k=2')").await, "{k: 2}");
        assert_eq!(one("SELECT STR_TO_MAP(NULL)").await, "NULL");
        let message = error("SELECT STR_TO_MAP('a=1', '(', '=')").await;
        assert!(
            message.contains("cannot use the delimiter '('"),
            "{message}"
        );
        let message = error("SELECT STR_TO_MAP('a=1', ',')").await;
        assert!(
            message.contains("STR_TO_MAP() takes (text) or"),
            "{message}"
        );
    }
}
