//! An aggregate over an updating input (Nexmark q4: the average, per category, of each
//! auction's highest bid, which rises as bids come), rewritten to fold signed rows.
//!
//! Each input row comes with a weight: +1 for a row of the input that came, -1 for one that
//! went (the old row of an updated key is retracted, its new row comes). COUNT, SUM and AVG
//! become sums of weights and of weighted values, so their state folds with the same partial
//! aggregates as over an append-only stream; MIN, MAX and COUNT(DISTINCT …) keep each group's
//! values with their counts (`counted_multiset.rs`). A `FILTER (WHERE …)` sets the weight of
//! the rows it leaves out to 0. A group is in the result while the weights of its rows sum
//! above zero, so a group whose every row was retracted is deleted from the result.
//!
//! The rewrite keeps the aggregate's output columns, names and types, so the plan over it is
//! unchanged.

use super::counted_multiset::{CountedMultiset, MultisetAnswer};
use crate::error::EngineError;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, DFSchema};
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::ExprSchemable;
use datafusion::logical_expr::{
    cast, lit, when, Aggregate, AggregateUDF, Expr, LogicalPlan, LogicalPlanBuilder,
};
use std::sync::Arc;

/// The column of a row's weight in an updating input.
pub(crate) const WEIGHT: &str = "__eddy_weight";
/// How many rows a group holds: the sum of its rows' weights.
const ROWS: &str = "__eddy_rows";

fn refused(what: &str) -> EngineError {
    EngineError::NotSupported {
        message: format!(
            "{what} over an updating input (an aggregate over another aggregate's result, \
             whose rows are retracted as it changes) is not run yet; COUNT, SUM, AVG, MIN, MAX \
             and COUNT(DISTINCT …), with or without FILTER, are"
        ),
    }
}

/// `aggregate` over `input`: rows of the aggregate's input with their [`WEIGHT`].
pub(crate) fn over_weighted_rows(
    aggregate: &Aggregate,
    input: LogicalPlan,
) -> Result<LogicalPlan, EngineError> {
    if aggregate
        .group_expr
        .iter()
        .any(|e| matches!(e, Expr::GroupingSet(_)))
    {
        return Err(refused("GROUPING SETS, ROLLUP or CUBE"));
    }
    let weight = Expr::Column(Column::from_name(WEIGHT));
    let mut helpers = vec![sum(weight.clone()).alias(ROWS)];
    let output = aggregate.schema.clone();
    let groups = aggregate.group_expr.len();
    let mut projection: Vec<Expr> = output
        .iter()
        .take(groups)
        .map(|(qualifier, field)| Expr::Column(Column::new(qualifier.cloned(), field.name())))
        .collect();
    for (at, expr) in aggregate.aggr_expr.iter().enumerate() {
        let (qualifier, field) = output.qualified_field(groups + at);
        let answer = weighted(
            expr,
            &weight,
            field.data_type(),
            input.schema(),
            &mut helpers,
        )?;
        projection.push(answer.alias_qualified(qualifier.cloned(), field.name()));
    }
    let mut plan =
        LogicalPlanBuilder::from(input).aggregate(aggregate.group_expr.clone(), helpers)?;
    // A group whose rows all went is no longer in the result; an aggregate without GROUP BY
    // has its one row always.
    if groups > 0 {
        plan = plan.filter(Expr::Column(Column::from_name(ROWS)).gt(lit(0i64)))?;
    }
    Ok(plan.project(projection)?.build()?)
}

/// The expression that answers `expr` from sums (and multisets) of weighted rows, adding the
/// aggregates it reads to `helpers`.
fn weighted(
    expr: &Expr,
    weight: &Expr,
    data_type: &DataType,
    input: &DFSchema,
    helpers: &mut Vec<Expr>,
) -> Result<Expr, EngineError> {
    let unaliased = match expr {
        Expr::Alias(alias) => alias.expr.as_ref(),
        other => other,
    };
    let Expr::AggregateFunction(AggregateFunction { func, params }) = unaliased else {
        return Err(refused(&format!("the aggregate {expr}")));
    };
    // The rows a FILTER leaves out weigh nothing.
    let weight = match &params.filter {
        Some(filter) => when(filter.as_ref().clone(), weight.clone()).otherwise(lit(0i64))?,
        None => weight.clone(),
    };
    let mut helper = |aggregate: Expr| {
        let name = format!("__eddy_h{}", helpers.len());
        helpers.push(aggregate.alias(&name));
        Expr::Column(Column::from_name(name))
    };
    let name = func.name().to_ascii_lowercase();
    let args = params.args.as_slice();
    let counted = |arg: &Expr| -> Result<Expr, EngineError> {
        Ok(when(arg.clone().is_not_null(), weight.clone()).otherwise(lit(0i64))?)
    };
    let zero_if_null = |e: Expr| -> Result<Expr, EngineError> {
        Ok(when(e.clone().is_null(), lit(0i64)).otherwise(e)?)
    };
    let answer = match (name.as_str(), params.distinct, args) {
        ("count", false, []) => zero_if_null(helper(sum(weight.clone())))?,
        ("count", false, [Expr::Literal(value, _)]) if !value.is_null() => {
            zero_if_null(helper(sum(weight.clone())))?
        }
        ("count", false, [arg]) => zero_if_null(helper(sum(counted(arg)?)))?,
        ("sum", false, [arg]) => {
            let rows = helper(sum(counted(arg)?));
            let total = helper(sum(arg.clone() * weight.clone()));
            when(rows.gt(lit(0i64)), total).end()?
        }
        ("avg" | "mean", false, [arg]) => {
            let rows = helper(sum(counted(arg)?));
            // Integers are summed as integers, so the average is what a batch query's is.
            let total = match arg.get_type(input)? {
                t if t.is_integer() => {
                    helper(sum(cast(arg.clone(), DataType::Int64) * weight.clone()))
                }
                DataType::Decimal128(..) | DataType::Decimal256(..) => {
                    helper(sum(arg.clone() * weight.clone()))
                }
                _ => helper(sum(cast(arg.clone(), DataType::Float64) * weight.clone())),
            };
            let divisor = match data_type {
                DataType::Decimal128(..) | DataType::Decimal256(..) => {
                    cast(rows.clone(), DataType::Decimal128(20, 0))
                }
                _ => cast(rows.clone(), DataType::Float64),
            };
            let total = match data_type {
                DataType::Decimal128(..) | DataType::Decimal256(..) => total,
                _ => cast(total, DataType::Float64),
            };
            when(rows.gt(lit(0i64)), total / divisor).end()?
        }
        ("min", _, [arg]) => helper(multiset(MultisetAnswer::Min, arg, &weight)),
        ("max", _, [arg]) => helper(multiset(MultisetAnswer::Max, arg, &weight)),
        ("count", true, [arg]) => helper(multiset(MultisetAnswer::CountDistinct, arg, &weight)),
        _ => return Err(refused(&format!("the aggregate {expr}"))),
    };
    Ok(cast(answer, data_type.clone()))
}

fn multiset(answer: MultisetAnswer, arg: &Expr, weight: &Expr) -> Expr {
    let udaf = Arc::new(AggregateUDF::from(CountedMultiset::new(answer)));
    udaf.call(vec![arg.clone(), weight.clone()])
}
