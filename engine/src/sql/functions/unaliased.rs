//! A DataFusion function without the aliases Flink's functions are named by.
//!
//! DataFusion's `to_char` answers to `date_format` too, the name of Flink's function. A
//! session registers Flink's last, so it wins the name; but a state rebuilt from another
//! (`SessionStateBuilder::new_from_existing`) registers every function again in no fixed
//! order, and `to_char` may take the name back. This session restores Flink's after each
//! rebuild (`restore_flink_functions`); a Ballista scheduler rebuilds its sessions itself,
//! where nothing can restore them, and answered `DATE_FORMAT(ts, 'yyyy-MM-dd')` with the
//! text `yyyy-MM-dd`. So there a clashing function is registered through this wrapper,
//! which gives up the clashing aliases and is in every other way the function it wraps.

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{ExprSchema, Result, ScalarValue};
use datafusion::logical_expr::interval_arithmetic::Interval;
use datafusion::logical_expr::preimage::PreimageResult;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ExpressionPlacement, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, StructFieldMapping,
};
use std::sync::Arc;

/// `inner` answering to its name and the aliases it has outside `taken`.
pub(crate) fn without_aliases(inner: Arc<ScalarUDF>, taken: &[String]) -> ScalarUDF {
    let aliases = inner
        .aliases()
        .iter()
        .filter(|alias| !taken.iter().any(|t| t.eq_ignore_ascii_case(alias)))
        .cloned()
        .collect();
    ScalarUDF::new_from_impl(Unaliased { inner, aliases })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Unaliased {
    inner: Arc<ScalarUDF>,
    aliases: Vec<String>,
}

impl Unaliased {
    fn function(&self) -> &dyn ScalarUDFImpl {
        self.inner.inner().as_ref()
    }
}

// Delegates every method, so that the function behaves as the one it wraps.
impl ScalarUDFImpl for Unaliased {
    fn name(&self) -> &str {
        self.function().name()
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn display_name(&self, args: &[Expr]) -> Result<String> {
        #[allow(deprecated)]
        self.function().display_name(args)
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        self.function().schema_name(args)
    }

    fn signature(&self) -> &Signature {
        self.function().signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.function().return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.function().return_field_from_args(args)
    }

    fn is_nullable(&self, args: &[Expr], schema: &dyn ExprSchema) -> bool {
        #[allow(deprecated)]
        self.function().is_nullable(args, schema)
    }

    fn is_strict(&self) -> bool {
        self.function().is_strict()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.function().invoke_with_args(args)
    }

    /// The function as a new configuration makes it, still without the clashing aliases.
    fn with_updated_config(&self, config: &ConfigOptions) -> Option<ScalarUDF> {
        let updated = self.function().with_updated_config(config)?;
        Some(ScalarUDF::new_from_impl(Unaliased {
            inner: Arc::new(updated),
            aliases: self.aliases.clone(),
        }))
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        self.function().simplify(args, info)
    }

    fn preimage(
        &self,
        args: &[Expr],
        lit_expr: &Expr,
        info: &SimplifyContext,
    ) -> Result<PreimageResult> {
        self.function().preimage(args, lit_expr, info)
    }

    fn conditional_arguments<'a>(
        &self,
        args: &'a [Expr],
    ) -> Option<(Vec<&'a Expr>, Vec<&'a Expr>)> {
        self.function().conditional_arguments(args)
    }

    fn short_circuits(&self) -> bool {
        self.function().short_circuits()
    }

    fn evaluate_bounds(&self, input: &[&Interval]) -> Result<Interval> {
        self.function().evaluate_bounds(input)
    }

    fn propagate_constraints(
        &self,
        interval: &Interval,
        inputs: &[&Interval],
    ) -> Result<Option<Vec<Interval>>> {
        self.function().propagate_constraints(interval, inputs)
    }

    fn struct_field_mapping(
        &self,
        literal_args: &[Option<ScalarValue>],
    ) -> Option<StructFieldMapping> {
        self.function().struct_field_mapping(literal_args)
    }

    fn output_ordering(&self, inputs: &[ExprProperties]) -> Result<SortProperties> {
        self.function().output_ordering(inputs)
    }

    fn preserves_lex_ordering(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.function().preserves_lex_ordering(inputs)
    }

    fn strictly_order_preserving(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.function().strictly_order_preserving(inputs)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.function().coerce_types(arg_types)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.function().documentation()
    }

    fn placement(&self, args: &[ExpressionPlacement]) -> ExpressionPlacement {
        self.function().placement(args)
    }
}
