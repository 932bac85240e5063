//! Flink numeric functions DataFusion lacks: `MOD` (Nexmark's q2 filters bids by
//! `MOD(auction, 123) = 0`; DataFusion has only the `%` operator).

use super::{argument_arrays, result_value};
use datafusion::arrow::compute::kernels::numeric::rem;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_MATH;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![ScalarUDF::new_from_impl(ModFunc::new())]
}

/// `MOD(numeric1, numeric2)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ModFunc {
    signature: Signature,
    doc: Documentation,
}

impl ModFunc {
    fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            doc: Documentation::builder(
                DOC_SECTION_MATH,
                "The remainder of `numeric1` divided by `numeric2` (Flink's `MOD`, the `%` \
                 operator): negative only when `numeric1` is. NULL when either is NULL; \
                 dividing by 0 is an error.",
                "mod(numeric1, numeric2)",
            )
            .with_sql_example("```sql\n> SELECT MOD(7, 3), MOD(-7, 3);\n1 -1\n```")
            .with_argument("numeric1", "An integer.")
            .with_argument("numeric2", "An integer other than 0.")
            .build(),
        }
    }
}

impl ScalarUDFImpl for ModFunc {
    fn name(&self) -> &str {
        "mod"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [a, b] = arg_types else {
            return plan_err!(
                "MOD() takes two arguments (numeric1, numeric2), got {}",
                arg_types.len()
            );
        };
        for t in [a, b] {
            if !(t.is_integer() || t == &DataType::Null) {
                return plan_err!("MOD() takes integers, got {t}");
            }
        }
        Ok(vec![DataType::Int64, DataType::Int64])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, constant) = argument_arrays(&args)?;
        let [a, b] = arrays.as_slice() else {
            return exec_err!("MOD() takes two arguments");
        };
        result_value(rem(a, b)?, constant)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{error, one};

    #[tokio::test]
    async fn mod_is_the_remainder_with_the_dividends_sign() {
        assert_eq!(one("SELECT MOD(7, 3)").await, "1");
        assert_eq!(one("SELECT MOD(-7, 3)").await, "-1");
        assert_eq!(one("SELECT MOD(CAST(246 AS INT), 123)").await, "0");
        assert_eq!(one("SELECT MOD(NULL, 3)").await, "NULL");
        assert!(error("SELECT MOD(7, 0)").await.contains("Divide by zero"));
        // The quotient overflows, the remainder does not: 0, not a panic.
        assert_eq!(
            one("SELECT MOD(CAST(-9223372036854775808 AS BIGINT), -1)").await,
            "0"
        );
        assert!(error("SELECT MOD(7.5, 2)")
            .await
            .contains("MOD() takes integers"));
    }
}
