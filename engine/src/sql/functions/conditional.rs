//! Flink's `IF(condition, then, else)`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, Datum};
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::compute::prep_null_mask_filter;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::expr::Case;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_CONDITIONAL;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::type_coercion::binary::type_union_resolution;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};

pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![ScalarUDF::new_from_impl(IfFunc::new())]
}

/// `IF(condition, then, else)`: rewritten to `CASE WHEN condition THEN then ELSE else END`,
/// so only the chosen branch is evaluated per row.
#[derive(Debug, PartialEq, Eq, Hash)]
struct IfFunc {
    signature: Signature,
    doc: Documentation,
}

impl IfFunc {
    fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            doc: Documentation::builder(
                DOC_SECTION_CONDITIONAL,
                "Returns `then` when `condition` is TRUE, else `else` (also when `condition` is \
                 NULL), as Flink's `IF`. Same as `CASE WHEN condition THEN then ELSE else END`: \
                 the branch not taken is not evaluated.",
                "if(condition, then, else)",
            )
            .with_sql_example(
                "```sql\n> SELECT IF(2 > 1, 'yes', 'no');\nyes\n> SELECT IF(x = 0, NULL, 10 / x) FROM t;\n```",
            )
            .with_argument("condition", "A BOOLEAN expression.")
            .with_argument("then", "The value when the condition is TRUE.")
            .with_argument("else", "The value otherwise; coerced to a common type with `then`.")
            .build(),
        }
    }
}

impl ScalarUDFImpl for IfFunc {
    fn name(&self) -> &str {
        "if"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [cond, then, otherwise] = arg_types else {
            return plan_err!(
                "IF() takes three arguments (condition, then, else), got {}",
                arg_types.len()
            );
        };
        if !matches!(cond, DataType::Boolean | DataType::Null) {
            return plan_err!("IF() takes a BOOLEAN condition, got {cond}");
        }
        let Some(common) = type_union_resolution(&[then.clone(), otherwise.clone()]) else {
            return plan_err!("IF() branches have no common type: {then} and {otherwise}");
        };
        Ok(vec![DataType::Boolean, common.clone(), common])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[1].clone())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let [_, then, otherwise] = args.arg_fields else {
            return plan_err!("IF() takes three arguments");
        };
        Ok(Arc::new(Field::new(
            self.name(),
            then.data_type().clone(),
            then.is_nullable() || otherwise.is_nullable(),
        )))
    }

    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let [cond, then, otherwise]: [Expr; 3] = match args.try_into() {
            Ok(a) => a,
            Err(args) => return Ok(ExprSimplifyResult::Original(args)),
        };
        Ok(ExprSimplifyResult::Simplified(Expr::Case(Case::new(
            None,
            vec![(Box::new(cond), Box::new(then))],
            Some(Box::new(otherwise)),
        ))))
    }

    fn short_circuits(&self) -> bool {
        true
    }

    /// Only when not simplified to CASE: evaluates both branches.
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [cond, then, otherwise] = args.args.as_slice() else {
            return plan_err!("IF() takes three arguments");
        };
        let mask = match cond {
            ColumnarValue::Scalar(s) => {
                let take = matches!(s, ScalarValue::Boolean(Some(true)));
                return Ok(if take {
                    then.clone()
                } else {
                    otherwise.clone()
                });
            }
            ColumnarValue::Array(a) => a.as_boolean().clone(),
        };
        let mask: BooleanArray = if mask.null_count() > 0 {
            prep_null_mask_filter(&mask)
        } else {
            mask
        };
        let result = zip(&mask, datum(then)?.as_ref(), datum(otherwise)?.as_ref())?;
        Ok(ColumnarValue::Array(result))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

fn datum(value: &ColumnarValue) -> Result<Box<dyn Datum>> {
    Ok(match value {
        ColumnarValue::Array(a) => Box::new(Arc::clone(a)),
        ColumnarValue::Scalar(s) => Box::new(s.to_scalar()?),
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{column, context, data_type, error, one};
    use datafusion::arrow::datatypes::DataType;

    #[tokio::test]
    async fn if_picks_a_branch() {
        assert_eq!(one("SELECT IF(2 > 1, 'yes', 'no')").await, "yes");
        assert_eq!(one("SELECT IF(NULL, 'yes', 'no')").await, "no");
        assert_eq!(one("SELECT IF(1 > 2, 1, 2.5)").await, "2.5");
        assert_eq!(
            data_type("SELECT IF(true, 1, 2.5)").await,
            DataType::Float64
        );
        let ctx = context();
        let got = column(
            &ctx,
            "SELECT IF(x = 0, NULL, 10 / x) FROM (VALUES (0), (5), (NULL)) t(x)",
        )
        .await
        .unwrap();
        assert_eq!(got, ["NULL", "2", "NULL"]);
    }

    #[tokio::test]
    async fn if_errors() {
        let e = error("SELECT IF(1, 'a', 'b')").await;
        assert!(
            e.contains("IF() takes a BOOLEAN condition, got Int64"),
            "{e}"
        );
        let e = error("SELECT IF(true, 'a')").await;
        assert!(e.contains("IF() takes three arguments"), "{e}");
    }
}
