//! An interval join of two streams, as Flink writes it: a regular join whose condition bounds
//! one side's event time by the other's (`L.ts BETWEEN R.ts - INTERVAL '1' HOUR AND R.ts`,
//! or `>=`/`<=` with intervals on either side). Its result is the regular join's; what
//! differs is the state: a kept row no future row can meet is dropped as the watermark
//! passes.
//!
//! With `lo <= L.t - R.t <= hi`, a right row to come has `R.t >= W` (the watermark: later
//! rows are late, and an interval join drops them, as in Flink), so a kept left row can only
//! meet one if `L.t >= W + lo`; a left row to come has `L.t >= W`, so a kept right row can
//! only meet one if `R.t >= W - hi`.
//!
//! The bounds count only on the sides' event-time columns — the stream's watermarked column,
//! passed through unchanged — since only those are known to be at least the watermark on
//! rows to come.

use super::interval::interval_ms_of;
use datafusion::logical_expr::{BinaryExpr, Expr, LogicalPlan, Operator};

/// Which kept rows an interval join may drop, by side: those whose event time (the column
/// at `column` of the side's rows) is below the watermark plus `offset_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expiry {
    pub(crate) column: usize,
    pub(crate) offset_ms: i64,
}

/// The expiries of the left and right sides, when `filter` bounds the left side's event time
/// by the right side's from below and above.
pub(crate) fn expiries(
    filter: Option<&Expr>,
    left: &LogicalPlan,
    right: &LogicalPlan,
    event_time: Option<&str>,
) -> Option<(Expiry, Expiry)> {
    let event_time = event_time?;
    let bounds = time_bounds(
        filter?,
        left,
        right,
        &|at| passes_event_time(left, at, event_time),
        &|at| passes_event_time(right, at, event_time),
    )?;
    Some((
        Expiry {
            column: bounds.left,
            offset_ms: bounds.lo_ms,
        },
        Expiry {
            column: bounds.right,
            offset_ms: -bounds.hi_ms,
        },
    ))
}

/// `lo_ms <= L.t - R.t <= hi_ms`: a join condition's bounds on the time columns `left` of
/// its left side and `right` of its right side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeBounds {
    pub(crate) left: usize,
    pub(crate) right: usize,
    pub(crate) lo_ms: i64,
    pub(crate) hi_ms: i64,
}

/// The bounds `filter` puts on the left side's time by the right side's, from below and
/// above, over the columns each side's `is_time` accepts.
pub(crate) fn time_bounds(
    filter: &Expr,
    left: &LogicalPlan,
    right: &LogicalPlan,
    left_is_time: &dyn Fn(usize) -> bool,
    right_is_time: &dyn Fn(usize) -> bool,
) -> Option<TimeBounds> {
    let mut lo: Option<(usize, usize, i64)> = None;
    let mut hi: Option<(usize, usize, i64)> = None;
    for conjunct in conjuncts(filter) {
        for (op, a, b) in comparisons(conjunct) {
            let (Some(a), Some(b)) = (operand(a, left, right), operand(b, left, right)) else {
                continue;
            };
            // Written as `L.t + offL  op  R.t + offR`: L.t - R.t op offR - offL.
            let (l, r, op) = match (a.left, b.left) {
                (true, false) => ((a.column, a.offset_ms), (b.column, b.offset_ms), op),
                (false, true) => ((b.column, b.offset_ms), (a.column, a.offset_ms), flip(op)),
                _ => continue,
            };
            if !left_is_time(l.0) || !right_is_time(r.0) {
                continue;
            }
            let bound = (l.0, r.0, r.1 - l.1);
            match op {
                Operator::GtEq | Operator::Gt => lo = tighter(lo, bound, i64::max),
                Operator::LtEq | Operator::Lt => hi = tighter(hi, bound, i64::min),
                _ => {}
            }
        }
    }
    let ((l, r, lo), (l2, r2, hi)) = (lo?, hi?);
    if (l, r) != (l2, r2) {
        return None;
    }
    Some(TimeBounds {
        left: l,
        right: r,
        lo_ms: lo,
        hi_ms: hi,
    })
}

/// Of two bounds on the same columns, the one `pick` keeps.
fn tighter(
    current: Option<(usize, usize, i64)>,
    bound: (usize, usize, i64),
    pick: fn(i64, i64) -> i64,
) -> Option<(usize, usize, i64)> {
    match current {
        Some((l, r, at)) if (l, r) == (bound.0, bound.1) => Some((l, r, pick(at, bound.2))),
        Some(current) => Some(current),
        None => Some(bound),
    }
}

fn conjuncts(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => {
            let mut out = conjuncts(left);
            out.extend(conjuncts(right));
            out
        }
        other => vec![other],
    }
}

/// The comparisons a conjunct makes: `a op b`, and `BETWEEN` as two.
fn comparisons(expr: &Expr) -> Vec<(Operator, &Expr, &Expr)> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right })
            if matches!(
                op,
                Operator::Gt | Operator::GtEq | Operator::Lt | Operator::LtEq
            ) =>
        {
            vec![(*op, left.as_ref(), right.as_ref())]
        }
        Expr::Between(between) if !between.negated => vec![
            (Operator::GtEq, between.expr.as_ref(), between.low.as_ref()),
            (Operator::LtEq, between.expr.as_ref(), between.high.as_ref()),
        ],
        _ => Vec::new(),
    }
}

fn flip(op: Operator) -> Operator {
    match op {
        Operator::Gt => Operator::Lt,
        Operator::GtEq => Operator::LtEq,
        Operator::Lt => Operator::Gt,
        Operator::LtEq => Operator::GtEq,
        other => other,
    }
}

/// A side's column, plus or minus a constant interval.
struct Operand {
    left: bool,
    column: usize,
    offset_ms: i64,
}

fn operand(expr: &Expr, left: &LogicalPlan, right: &LogicalPlan) -> Option<Operand> {
    match expr {
        Expr::Column(column) => {
            if let Ok(at) = left.schema().index_of_column(column) {
                return Some(Operand {
                    left: true,
                    column: at,
                    offset_ms: 0,
                });
            }
            let at = right.schema().index_of_column(column).ok()?;
            Some(Operand {
                left: false,
                column: at,
                offset_ms: 0,
            })
        }
        Expr::BinaryExpr(BinaryExpr {
            left: a,
            op: op @ (Operator::Plus | Operator::Minus),
            right: b,
        }) => {
            let mut base = operand(a, left, right)?;
            let Expr::Literal(value, _) = b.as_ref() else {
                return None;
            };
            let ms = interval_ms_of(value)?;
            base.offset_ms += if *op == Operator::Plus { ms } else { -ms };
            Some(base)
        }
        Expr::Cast(cast) => operand(&cast.expr, left, right),
        _ => None,
    }
}

/// Whether output column `at` of `plan` is the stream's event-time column `event_time`,
/// passed through unchanged (renamed is fine).
pub(crate) fn passes_event_time(plan: &LogicalPlan, at: usize, event_time: &str) -> bool {
    match plan {
        LogicalPlan::Projection(projection) => {
            let mut expr = match projection.expr.get(at) {
                Some(expr) => expr,
                None => return false,
            };
            if let Expr::Alias(alias) = expr {
                expr = alias.expr.as_ref();
            }
            let Expr::Column(column) = expr else {
                return false;
            };
            match projection.input.schema().index_of_column(column) {
                Ok(inner) => passes_event_time(&projection.input, inner, event_time),
                Err(_) => false,
            }
        }
        LogicalPlan::SubqueryAlias(alias) => passes_event_time(&alias.input, at, event_time),
        LogicalPlan::Filter(filter) => passes_event_time(&filter.input, at, event_time),
        LogicalPlan::TableScan(scan) => scan
            .projected_schema
            .fields()
            .get(at)
            .is_some_and(|field| field.name() == event_time),
        _ => false,
    }
}
