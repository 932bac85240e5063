//! An optimizer rule for the explorer's favourite grouping: `GROUP BY to_char(ts, '%Y-%m')`
//! (or Flink's `DATE_FORMAT(ts, 'yyyy-MM')`). Formatting every row as text and hashing the
//! strings costs more than the aggregation; grouping by the time floored to the month and
//! formatting one value per group gives the same rows.
//!
//! The floor is [`TimeFloor`], not DataFusion's `date_trunc`: `date_trunc` goes through
//! time-zone aware date-times row by row and costs as much as the formatting it replaces,
//! while flooring a zone-less value needs only its day number and chrono's calendar.
//!
//! Only formats that name the year and every field down to the truncation unit qualify
//! (`%Y-%m` yes; `%m` alone no: it puts every January in one group), and only timestamps
//! without a time zone and dates.
//!
//! A Flink user groups by calendar fields instead: `GROUP BY YEAR(ts), MONTH(ts)` (or
//! `EXTRACT`). Hashing two computed columns per row cost a quarter more than the formatted
//! month; the fields of one time that name one year, month or day together are grouped by
//! that time floored once, and each field is taken from the floored value per group.

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, ArrayRef, ArrowPrimitiveType, PrimitiveArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use datafusion::arrow::error::ArrowError;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{exec_err, Column, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    Aggregate, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Projection, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};
use std::sync::Arc;

#[derive(Debug, Default)]
pub(crate) struct GroupByTruncatedTime;

/// How coarse a formatted time is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Unit {
    Day,
    Month,
    Year,
}

/// The unit a format's fields determine, if the format is one value per unit.
fn unit_of(function: &str, format: &str) -> Option<Unit> {
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
        (true, true, true) => Some(Unit::Day),
        (true, true, false) => Some(Unit::Month),
        (true, false, false) => Some(Unit::Year),
        _ => None,
    }
}

/// `to_char(ts, fmt)` / `date_format(ts, fmt)` over a zone-less timestamp or a date, with a
/// qualifying literal format: the pieces to rebuild it on a truncated value.
fn coarse_format(expr: &Expr, plan: &LogicalPlan) -> Option<(Arc<ScalarFunction>, Unit)> {
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
        let parts = calendar_groups(&aggregate.group_expr, &plan);
        // Each old group column: where its value is in the new aggregate, and the call that
        // makes it from there (a format or a date part of a floored time), if any.
        let mut sources: Vec<(usize, Option<Arc<ScalarFunction>>)> = Vec::new();
        let mut rewritten: Vec<Expr> = Vec::with_capacity(aggregate.group_expr.len());
        // The floored column of each time whose parts are grouped on.
        let mut floored: Vec<(Expr, usize)> = Vec::new();
        for (i, group) in aggregate.group_expr.iter().enumerate() {
            let floor_of = |time: Expr, unit: Unit, rewritten: &mut Vec<Expr>| {
                let floor = ScalarUDF::new_from_impl(TimeFloor::new(unit));
                rewritten.push(
                    Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(floor), vec![time]))
                        .alias(format!("__eddy_truncated_{i}")),
                );
                rewritten.len() - 1
            };
            if let Some((call, unit)) = parts.get(&i) {
                let time = call.args[call.args.len() - 1].clone();
                let at = match floored.iter().find(|(t, _)| *t == time) {
                    Some((_, at)) => *at,
                    None => {
                        let at = floor_of(time.clone(), *unit, &mut rewritten);
                        floored.push((time, at));
                        at
                    }
                };
                sources.push((at, Some(call.clone())));
            } else if let Some((call, unit)) = coarse_format(group, &plan) {
                let at = floor_of(call.args[0].clone(), unit, &mut rewritten);
                sources.push((at, Some(call)));
            } else {
                rewritten.push(group.clone());
                sources.push((rewritten.len() - 1, None));
            }
        }
        if sources.iter().all(|(_, call)| call.is_none()) {
            return Ok(Transformed::no(plan));
        }
        let LogicalPlan::Aggregate(aggregate) = plan else {
            unreachable!("matched above")
        };
        let groups = (aggregate.group_expr.len(), rewritten.len());
        let old_schema = aggregate.schema.clone();
        let new = Aggregate::try_new(aggregate.input, rewritten, aggregate.aggr_expr)?;
        let new_schema = new.schema.clone();
        // Above it, each formatted group is formatted again, and each date part taken again,
        // once per group, under the name (and qualifier) the plan above expects; the
        // aggregates pass through.
        let exprs = old_schema
            .iter()
            .enumerate()
            .map(|(i, (qualifier, field))| {
                let (at, call) = match sources.get(i) {
                    Some((at, call)) => (*at, call.as_ref()),
                    None => (i - groups.0 + groups.1, None),
                };
                let (new_qualifier, new_field) = new_schema.qualified_field(at);
                let current = Expr::Column(Column::from((new_qualifier, new_field)));
                let value = match call {
                    Some(call) => {
                        let mut args = call.args.clone();
                        let time_at = if call.func.name() == "date_part" {
                            1
                        } else {
                            0
                        };
                        args[time_at] = current;
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

/// A calendar field a group takes of a time: Flink's `YEAR`, `MONTH` and `DAYOFMONTH`, or
/// `date_part` (EXTRACT) of the year, month or day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year,
    Month,
    Day,
}

fn calendar_field(call: &ScalarFunction) -> Option<(Field, &Expr)> {
    let field = |name: &str| match name.to_ascii_lowercase().as_str() {
        "year" => Some(Field::Year),
        "month" => Some(Field::Month),
        "day" | "dayofmonth" => Some(Field::Day),
        _ => None,
    };
    match (call.func.name(), call.args.as_slice()) {
        ("date_part", [Expr::Literal(ScalarValue::Utf8(Some(part)), _), time]) => {
            Some((field(part)?, time))
        }
        ("year" | "month" | "dayofmonth", [time]) => Some((field(call.func.name())?, time)),
        _ => None,
    }
}

/// The groups that are calendar fields of a zone-less time whose fields, together, name
/// one year, month or day (`YEAR(ts), MONTH(ts)`: a month; `MONTH(ts)` alone puts every
/// January in one group, so it does not qualify): grouping by the time floored to that
/// unit gives the same groups. By group index: the call and the unit.
fn calendar_groups(
    groups: &[Expr],
    plan: &LogicalPlan,
) -> std::collections::HashMap<usize, (Arc<ScalarFunction>, Unit)> {
    let Some(input) = plan.inputs().first().map(|p| p.schema().clone()) else {
        return Default::default();
    };
    // The fields grouped on, per time.
    let mut times: Vec<(Expr, Vec<(usize, Field)>)> = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        let Expr::ScalarFunction(call) = group.clone().unalias() else {
            continue;
        };
        let Some((field, time)) = calendar_field(&call) else {
            continue;
        };
        let zone_less = matches!(
            time.get_type(&input),
            Ok(DataType::Timestamp(_, None) | DataType::Date32 | DataType::Date64)
        );
        if !zone_less {
            continue;
        }
        match times.iter_mut().find(|(t, _)| t == time) {
            Some((_, fields)) => fields.push((i, field)),
            None => times.push((time.clone(), vec![(i, field)])),
        }
    }
    let mut out = std::collections::HashMap::new();
    for (_, fields) in times {
        let has = |f: Field| fields.iter().any(|(_, g)| *g == f);
        let unit = match (has(Field::Year), has(Field::Month), has(Field::Day)) {
            (true, false, false) => Unit::Year,
            (true, true, false) => Unit::Month,
            (true, true, true) => Unit::Day,
            _ => continue,
        };
        for (i, _) in fields {
            if let Expr::ScalarFunction(call) = groups[i].clone().unalias() {
                out.insert(i, (Arc::new(call), unit));
            }
        }
    }
    out
}

/// The functions the rule writes into plans, for a session that runs plans made elsewhere
/// (a Ballista executor decodes them by name).
pub(crate) fn floor_functions() -> Vec<ScalarUDF> {
    [Unit::Day, Unit::Month, Unit::Year]
        .into_iter()
        .map(|unit| ScalarUDF::new_from_impl(TimeFloor::new(unit)))
        .collect()
}

/// `eddy_time_floor_<unit>(t)`: a zone-less timestamp or a date, floored to the start of
/// its day, month or year; same type in and out.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimeFloor {
    unit: Unit,
    signature: Signature,
}

impl TimeFloor {
    fn new(unit: Unit) -> Self {
        TimeFloor {
            unit,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    /// The first day of the unit holding `day` (days since 1970-01-01).
    fn floor_day(&self, day: i64) -> Option<i64> {
        // chrono counts days from 0001-01-01 (day 1); 1970-01-01 is day 719163.
        const EPOCH_FROM_CE: i64 = 719_163;
        let date = NaiveDate::from_num_days_from_ce_opt(i32::try_from(day + EPOCH_FROM_CE).ok()?)?;
        let first = match self.unit {
            Unit::Day => return Some(day),
            Unit::Month => date.with_day(1)?,
            Unit::Year => date.with_ordinal(1)?,
        };
        Some(i64::from(first.num_days_from_ce()) - EPOCH_FROM_CE)
    }

    /// Floors every value of `values`, each `per_day` units to a day.
    fn floor<T>(&self, values: &ArrayRef, per_day: i64) -> Result<ArrayRef>
    where
        T: ArrowPrimitiveType,
        T::Native: Into<i64> + TryFrom<i64>,
    {
        let values = values
            .as_any()
            .downcast_ref::<PrimitiveArray<T>>()
            .ok_or_else(|| ArrowError::CastError("eddy_time_floor: unexpected array".into()))?;
        let floored: PrimitiveArray<T> = values.try_unary(|value| {
            let value: i64 = value.into();
            self.floor_day(value.div_euclid(per_day))
                .and_then(|day| day.checked_mul(per_day))
                .and_then(|floored| T::Native::try_from(floored).ok())
                .ok_or_else(|| {
                    ArrowError::ComputeError(format!(
                        "{value} is outside the calendar's range of dates"
                    ))
                })
        })?;
        Ok(Arc::new(floored.with_data_type(values.data_type().clone())))
    }
}

impl ScalarUDFImpl for TimeFloor {
    fn name(&self) -> &str {
        match self.unit {
            Unit::Day => "eddy_time_floor_day",
            Unit::Month => "eddy_time_floor_month",
            Unit::Year => "eddy_time_floor_year",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [time] = args.args.as_slice() else {
            return exec_err!("{} takes one argument", self.name());
        };
        let values = time.to_array(args.number_rows)?;
        const DAY_SECONDS: i64 = 86_400;
        let floored = match values.data_type() {
            DataType::Date32 => self.floor::<Date32Type>(&values, 1)?,
            DataType::Date64 => self.floor::<Date64Type>(&values, DAY_SECONDS * 1_000)?,
            DataType::Timestamp(TimeUnit::Second, None) => {
                self.floor::<TimestampSecondType>(&values, DAY_SECONDS)?
            }
            DataType::Timestamp(TimeUnit::Millisecond, None) => {
                self.floor::<TimestampMillisecondType>(&values, DAY_SECONDS * 1_000)?
            }
            DataType::Timestamp(TimeUnit::Microsecond, None) => {
                self.floor::<TimestampMicrosecondType>(&values, DAY_SECONDS * 1_000_000)?
            }
            DataType::Timestamp(TimeUnit::Nanosecond, None) => {
                self.floor::<TimestampNanosecondType>(&values, DAY_SECONDS * 1_000_000_000)?
            }
            other => return exec_err!("{} does not take {other}", self.name()),
        };
        Ok(ColumnarValue::Array(floored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::functions::test_util::{column, context, printed};

    #[test]
    fn only_formats_that_name_each_field_down_to_the_unit_qualify() {
        assert_eq!(unit_of("to_char", "%Y-%m"), Some(Unit::Month));
        assert_eq!(unit_of("to_char", "%Y"), Some(Unit::Year));
        assert_eq!(unit_of("to_char", "%Y/%m/%d"), Some(Unit::Day));
        assert_eq!(unit_of("to_char", "%m"), None);
        assert_eq!(unit_of("to_char", "%Y-%m %H"), None);
        assert_eq!(unit_of("to_char", "%y-%m"), None);
        assert_eq!(unit_of("date_format", "yyyy-MM"), Some(Unit::Month));
        assert_eq!(unit_of("date_format", "yy-MM"), None);
        assert_eq!(unit_of("date_format", "yyyy-MM-dd HH"), None);
    }

    #[test]
    fn floors_land_on_the_first_day_before_and_after_1970() {
        let month = TimeFloor::new(Unit::Month);
        let year = TimeFloor::new(Unit::Year);
        // 1969-12-31 is day -1; 2024-03-15 is day 19797.
        assert_eq!(month.floor_day(-1), Some(-31));
        assert_eq!(year.floor_day(-1), Some(-365));
        assert_eq!(month.floor_day(19_797), Some(19_783));
        assert_eq!(year.floor_day(19_797), Some(19_723));
        assert_eq!(TimeFloor::new(Unit::Day).floor_day(-1), Some(-1));
        assert_eq!(month.floor_day(i64::MAX / 2), None);
    }

    #[tokio::test]
    async fn grouping_by_a_formatted_day_of_dates_and_old_timestamps_gives_the_same_rows() {
        let ctx = context();
        ctx.add_optimizer_rule(Arc::new(GroupByTruncatedTime));
        let days = column(
            &ctx,
            "SELECT to_char(d, '%Y-%m-%d') AS day FROM (VALUES (DATE '1969-12-31'), \
             (DATE '1969-12-31'), (DATE '2024-02-29')) AS v(d) GROUP BY 1 ORDER BY 1",
        )
        .await
        .unwrap();
        assert_eq!(days, vec!["1969-12-31", "2024-02-29"]);
        let years = column(
            &ctx,
            "SELECT to_char(ts, '%Y') AS y FROM (VALUES (TIMESTAMP '1969-12-31 23:59:59.999'), \
             (TIMESTAMP '1969-01-01 00:00:00'), (TIMESTAMP '1970-01-01 00:00:00')) AS v(ts) \
             GROUP BY 1 ORDER BY 1",
        )
        .await
        .unwrap();
        assert_eq!(years, vec!["1969", "1970"]);
    }

    /// Through the engine's own optimizer: the rule must run before the single-distinct
    /// rewrite, which would hide the formatted month under an alias.
    #[tokio::test]
    async fn the_engine_floors_the_month_of_a_count_distinct() {
        use crate::{Engine, EngineConfig, StatementResult};
        use datafusion::arrow::util::pretty::pretty_format_batches;

        let engine = Engine::new(EngineConfig::default()).unwrap();
        let mut printed = Vec::new();
        for sql in [
            "CREATE TABLE r AS SELECT * FROM (VALUES \
               (TIMESTAMP '2024-01-05 10:00:00', 1), (TIMESTAMP '2024-01-31 23:59:59', 2), \
               (TIMESTAMP '2024-01-20 00:00:00', 1), (TIMESTAMP '2024-02-01 00:00:00', 1)) \
             AS v(ts, user_id)",
            "EXPLAIN SELECT to_char(ts, '%Y-%m') AS month, COUNT(DISTINCT user_id) AS users \
             FROM r GROUP BY 1 ORDER BY 1",
            "SELECT to_char(ts, '%Y-%m') AS month, COUNT(DISTINCT user_id) AS users \
             FROM r GROUP BY 1 ORDER BY 1",
        ] {
            for statement in engine.parse(sql).unwrap() {
                if let StatementResult::Rows(rows) = engine.run(statement, 100).await.unwrap() {
                    printed.push(pretty_format_batches(&rows.batches).unwrap().to_string());
                }
            }
        }
        assert!(
            printed[0].contains("eddy_time_floor_month"),
            "{}",
            printed[0]
        );
        let rows: Vec<&str> = printed[1].lines().filter(|l| l.contains("| 20")).collect();
        assert_eq!(
            rows,
            ["| 2024-01 | 2     |", "| 2024-02 | 1     |"],
            "{}",
            printed[1]
        );
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
        let explained = printed(&ctx, &format!("EXPLAIN {sql}")).await;
        assert!(explained.contains("eddy_time_floor_month"), "{explained}");
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

    /// A query's rows, and whether its plan floors a time, with the rule and without it.
    async fn with_and_without_the_rule(sql: &str) -> (Vec<String>, Vec<String>, bool) {
        let setup = "CREATE TABLE t AS SELECT * FROM (VALUES \
               (TIMESTAMP '2024-01-05 10:00:00', 'a', 1), (TIMESTAMP '2024-01-31 23:59:59.999', 'b', 2), \
               (TIMESTAMP '2024-02-01 00:00:00', 'a', 3), (TIMESTAMP '2023-01-15 00:00:00', 'a', 4), \
               (TIMESTAMP '1969-12-31 23:59:59', 'b', 5), (TIMESTAMP '1969-01-01 00:00:00', 'b', 6), \
               (CAST(NULL AS TIMESTAMP), 'a', 7)) AS v(ts, who, n)";
        let rows = |ctx: datafusion::prelude::SessionContext| async move {
            ctx.sql(setup).await.unwrap();
            let explained = printed(&ctx, &format!("EXPLAIN {sql}")).await;
            let result = printed(&ctx, sql).await;
            (
                result.lines().map(str::to_string).collect::<Vec<_>>(),
                explained.contains("eddy_time_floor"),
            )
        };
        let ruled = context();
        ruled.add_optimizer_rule(Arc::new(GroupByTruncatedTime));
        let (with, floored) = rows(ruled).await;
        let (without, _) = rows(context()).await;
        (with, without, floored)
    }

    #[tokio::test]
    async fn grouping_by_year_and_month_floors_the_time_once_and_gives_the_same_rows() {
        for sql in [
            "SELECT YEAR(ts) AS y, MONTH(ts) AS m, SUM(n) AS total FROM t \
             GROUP BY YEAR(ts), MONTH(ts) ORDER BY 1, 2",
            "SELECT who, MONTH(ts) AS m, COUNT(*) AS c, YEAR(ts) AS y FROM t \
             GROUP BY who, MONTH(ts), YEAR(ts) ORDER BY 1, 2, 4",
            "SELECT EXTRACT(YEAR FROM ts) AS y, EXTRACT(MONTH FROM ts) AS m, \
             EXTRACT(DAY FROM ts) AS d, COUNT(DISTINCT who) AS c FROM t GROUP BY 1, 2, 3 \
             ORDER BY 1, 2, 3",
            "SELECT YEAR(ts) AS y, MAX(n) AS top FROM t GROUP BY YEAR(ts) ORDER BY 1",
        ] {
            let (with, without, floored) = with_and_without_the_rule(sql).await;
            assert!(floored, "{sql}");
            assert_eq!(with, without, "{sql}");
        }
    }

    #[tokio::test]
    async fn a_month_or_a_day_without_its_year_is_not_floored() {
        for sql in [
            "SELECT MONTH(ts) AS m, SUM(n) AS total FROM t GROUP BY MONTH(ts) ORDER BY 1",
            "SELECT YEAR(ts) AS y, DAYOFMONTH(ts) AS d, COUNT(*) AS c FROM t GROUP BY 1, 2 \
             ORDER BY 1, 2",
        ] {
            let (with, without, floored) = with_and_without_the_rule(sql).await;
            assert!(!floored, "{sql}");
            assert_eq!(with, without, "{sql}");
        }
    }
}
