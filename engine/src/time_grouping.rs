//! An optimizer rule for the explorer's favourite grouping: `GROUP BY to_char(ts, '%Y-%m')`
//! (or Flink's `DATE_FORMAT(ts, 'yyyy-MM')`). Formatting every row as text and hashing the
//! strings costs more than the aggregation; grouping by `date_trunc('month', ts)` and
//! formatting one value per group gives the same rows.
//!
//! Only formats that name the year and every field down to the truncation unit qualify
//! (`%Y-%m` yes; `%m` alone no: it puts every January in one group), and only timestamps
//! without a time zone and dates.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{Aggregate, Expr, ExprSchemable, LogicalPlan, Projection};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};
use std::sync::Arc;

#[derive(Debug, Default)]
pub(crate) struct GroupByTruncatedTime;

/// The unit a format's fields determine, if the format is one value per unit.
fn unit_of(function: &str, format: &str) -> Option<&'static str> {
    let (mut year, mut month, mut day) = (false, false, false);
    match function {
        "to_char" => {
            let mut chars = format.chars();
            while let Some(c) = chars.next() {
                if c != '%' {
                    continue;
                }
                match chars.next()? {
                    'Y' => year = true,
                    'm' => month = true,
                    'd' => day = true,
                    '%' => {}
                    _ => return None,
                }
            }
        }
        "date_format" => {
            if format.contains('\'') {
                return None;
            }
            for c in format.chars() {
                match c {
                    'y' => year = true,
                    'M' => month = true,
                    'd' => day = true,
                    c if c.is_ascii_alphabetic() => return None,
                    _ => {}
                }
            }
            // 'yy' is two digits, the same for 1924 and 2024.
            if year && !format.contains("yyyy") {
                return None;
            }
        }
        _ => return None,
    }
    match (year, month, day) {
        (true, true, true) => Some("day"),
        (true, true, false) => Some("month"),
        (true, false, false) => Some("year"),
        _ => None,
    }
}

/// `to_char(ts, fmt)` / `date_format(ts, fmt)` over a zone-less timestamp or a date, with a
/// qualifying literal format: the pieces to rebuild it on a truncated value.
fn coarse_format(expr: &Expr, plan: &LogicalPlan) -> Option<(Arc<ScalarFunction>, &'static str)> {
    let Expr::ScalarFunction(call) = expr else {
        return None;
    };
    let [time, Expr::Literal(ScalarValue::Utf8(Some(format)), _)] = call.args.as_slice() else {
        return None;
    };
    let unit = unit_of(call.func.name(), format)?;
    let input = plan.inputs().first().map(|p| p.schema().clone())?;
    match time.get_type(&input).ok()? {
        DataType::Timestamp(_, None) | DataType::Date32 | DataType::Date64 => {}
        _ => return None,
    }
    Some((Arc::new(call.clone()), unit))
}

impl OptimizerRule for GroupByTruncatedTime {
    fn name(&self) -> &str {
        "eddy_group_by_truncated_time"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(aggregate) = &plan else {
            return Ok(Transformed::no(plan));
        };
        // Plain GROUP BY only (no GROUPING SETS, whose expressions come in another shape).
        if aggregate.group_expr.len() != aggregate.schema.fields().len() - aggregate.aggr_expr.len()
        {
            return Ok(Transformed::no(plan));
        }
        let mut rewritten = Vec::with_capacity(aggregate.group_expr.len());
        let mut formats = Vec::new();
        for (i, group) in aggregate.group_expr.iter().enumerate() {
            match coarse_format(group, &plan) {
                Some((call, unit)) => {
                    let time = call.args[0].clone();
                    let truncated = datafusion::functions::datetime::expr_fn::date_trunc(
                        Expr::Literal(ScalarValue::Utf8(Some(unit.to_string())), None),
                        time,
                    )
                    .alias(format!("__eddy_truncated_{i}"));
                    rewritten.push(truncated);
                    formats.push((i, call));
                }
                None => rewritten.push(group.clone()),
            }
        }
        if formats.is_empty() {
            return Ok(Transformed::no(plan));
        }
        let LogicalPlan::Aggregate(aggregate) = plan else {
            unreachable!("matched above")
        };
        let old_schema = aggregate.schema.clone();
        let new = Aggregate::try_new(aggregate.input, rewritten, aggregate.aggr_expr)?;
        let new_schema = new.schema.clone();
        // Above it, each formatted group is formatted again, once per group, under the
        // name (and qualifier) the plan above expects; the rest passes through.
        let exprs = old_schema
            .iter()
            .enumerate()
            .map(|(i, (qualifier, field))| {
                let (new_qualifier, new_field) = new_schema.qualified_field(i);
                let current = Expr::Column(Column::from((new_qualifier, new_field)));
                let value = match formats.iter().find(|(g, _)| *g == i) {
                    Some((_, call)) => {
                        let mut args = call.args.clone();
                        args[0] = current;
                        Expr::ScalarFunction(ScalarFunction::new_udf(call.func.clone(), args))
                    }
                    None => current,
                };
                value.alias_qualified(qualifier.cloned(), field.name())
            })
            .collect();
        let projection = Projection::try_new(exprs, Arc::new(LogicalPlan::Aggregate(new)))?;
        Ok(Transformed::yes(LogicalPlan::Projection(projection)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::test_util::{column, context};

    #[test]
    fn only_formats_that_name_each_field_down_to_the_unit_qualify() {
        assert_eq!(unit_of("to_char", "%Y-%m"), Some("month"));
        assert_eq!(unit_of("to_char", "%Y"), Some("year"));
        assert_eq!(unit_of("to_char", "%Y/%m/%d"), Some("day"));
        assert_eq!(unit_of("to_char", "%m"), None);
        assert_eq!(unit_of("to_char", "%Y-%m %H"), None);
        assert_eq!(unit_of("to_char", "%y-%m"), None);
        assert_eq!(unit_of("date_format", "yyyy-MM"), Some("month"));
        assert_eq!(unit_of("date_format", "yy-MM"), None);
        assert_eq!(unit_of("date_format", "yyyy-MM-dd HH"), None);
    }

    #[tokio::test]
    async fn grouping_by_a_formatted_month_gives_the_same_rows() {
        let ctx = context();
        ctx.add_optimizer_rule(Arc::new(GroupByTruncatedTime));
        ctx.sql(
            "CREATE TABLE t AS SELECT * FROM (VALUES \
               (TIMESTAMP '2024-01-05 10:00:00', 1), (TIMESTAMP '2024-01-31 23:59:59', 2), \
               (TIMESTAMP '2024-02-01 00:00:00', 3), (TIMESTAMP '2023-01-15 00:00:00', 4)) \
             AS v(ts, n)",
        )
        .await
        .unwrap();
        let sql =
            "SELECT to_char(ts, '%Y-%m') AS month, SUM(n) AS total FROM t GROUP BY 1 ORDER BY 1";
        let plan = ctx
            .sql(&format!("EXPLAIN {sql}"))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let explained = datafusion::arrow::util::pretty::pretty_format_batches(&plan)
            .unwrap()
            .to_string();
        assert!(explained.contains("date_trunc"), "{explained}");
        let months = column(&ctx, sql).await.unwrap();
        assert_eq!(months, vec!["2023-01", "2024-01", "2024-02"]);
        let totals = column(
            &ctx,
            "SELECT total FROM (SELECT to_char(ts, '%Y-%m') AS month, SUM(n) AS total FROM t \
             GROUP BY 1) ORDER BY month",
        )
        .await
        .unwrap();
        assert_eq!(totals, vec!["4", "3", "3"]);
        // Months of different years stay apart only when the year is in the format.
        let by_month = column(
            &ctx,
            "SELECT COUNT(*) FROM (SELECT to_char(ts, '%m') AS m FROM t GROUP BY 1)",
        )
        .await
        .unwrap();
        assert_eq!(by_month, vec!["2"]);
        let flink = column(
            &ctx,
            "SELECT DATE_FORMAT(ts, 'yyyy-MM') AS m, COUNT(*) FROM t GROUP BY DATE_FORMAT(ts, \
             'yyyy-MM') ORDER BY m",
        )
        .await
        .unwrap();
        assert_eq!(flink, vec!["2023-01", "2024-01", "2024-02"]);
    }
}
