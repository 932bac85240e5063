//! `EXPLAIN` of a continuous query: the stages it runs (source and watermark, a view run
//! first, windows, the aggregate, the sink), the state each keeps, and whether what each
//! gives is append-only or updating, in Flink's words (`changelogMode=[I]`, `[I,UB,UA,D]`);
//! then the plan DataFusion runs over each micro-batch.

use super::runner::Shape;
use super::watermark::WatermarkSpec;
use super::window::WindowSpec;
use crate::sql::flink_syntax::WindowKind;
use datafusion::logical_expr::LogicalPlan;
use std::fmt::Write;

/// What a planned continuous query is made of.
pub(crate) struct Stages<'a> {
    pub(crate) stream: &'a str,
    pub(crate) bounded: bool,
    pub(crate) watermark: Option<&'a WatermarkSpec>,
    /// Whether a view runs over each micro-batch before the windows.
    pub(crate) view: bool,
    pub(crate) window: Option<&'a WindowSpec>,
    pub(crate) shape: &'a Shape,
    /// The sides of a join of two streams: each one's name and plan over the micro-batch.
    pub(crate) join: Vec<(&'a str, &'a LogicalPlan)>,
    /// The inner query of an aggregate over an aggregate: its plan over the micro-batch, and
    /// whether it is a window aggregate.
    pub(crate) feed: Option<(&'a LogicalPlan, bool)>,
    /// The inputs of a window join: each one's plan over the micro-batch, and what it is.
    pub(crate) window_inputs: Vec<(&'a LogicalPlan, JoinInputKind)>,
    /// Whether the join of streams is an outer or anti join (an updating result).
    pub(crate) updating_join: bool,
    /// Whether the source sends changes (an updating table: `changelog_source.rs`).
    pub(crate) changelog_source: bool,
    /// The kind of the join of streams, as EXPLAIN names it.
    pub(crate) join_kind: &'a str,
    /// An INSERT's table and its connector.
    pub(crate) target: Option<(String, String)>,
    pub(crate) micro_batch: &'a LogicalPlan,
}

/// What an input of a window join is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinInputKind {
    /// A GROUP BY of a window's rows by window.
    Aggregate,
    /// A window's own rows.
    WindowRows,
    /// The stream's own rows, met with a window aggregate's within a time bound.
    StreamRows,
}

const APPEND: &str = "changelogMode=[I]";
const UPDATING: &str = "changelogMode=[I,UB,UA,D]";

/// The text of `EXPLAIN`: one line per stage, from the source down.
pub(crate) fn describe(stages: &Stages<'_>) -> String {
    let mut out = String::from("== Continuous query ==\n");
    let mut line = |stage: &str, what: String, mode: &str| {
        let _ = writeln!(out, "{stage:<10} {what}  {mode}");
    };
    let time = match stages.watermark {
        Some(w) if w.processing_time => format!("; processing time {}", w.column),
        Some(w) if w.delay_ms > 0 => format!(
            "; event time {}, watermark {} - {}",
            w.column,
            w.column,
            duration(w.delay_ms)
        ),
        Some(w) => format!("; event time {}, watermark {}", w.column, w.column),
        None => String::new(),
    };
    let bound = if stages.bounded {
        "bounded"
    } else {
        "unbounded"
    };
    match stages.changelog_source {
        true => line(
            "Source",
            format!(
                "{} ({bound}){time}; changes: each row that came weighs +1, each that went -1",
                stages.stream
            ),
            UPDATING,
        ),
        false => line(
            "Source",
            format!("{} ({bound}){time}", stages.stream),
            APPEND,
        ),
    }
    if stages.view {
        line(
            "View",
            "the view the window reads, run over each micro-batch first; no state".into(),
            APPEND,
        );
    }
    if let Some(window) = stages.window {
        let what = match window.kind {
            WindowKind::Session => format!(
                "SESSION gap {}; state: the rows of each open session (the columns the \
                 query reads), by key, until the watermark passes its end",
                duration(window.size_ms)
            ),
            kind => {
                let mut what = format!("{} size {}", kind.name(), duration(window.size_ms));
                if window.step_ms != window.size_ms {
                    let step = if kind == WindowKind::Hop {
                        "slide"
                    } else {
                        "step"
                    };
                    let _ = write!(what, ", {step} {}", duration(window.step_ms));
                }
                if window.offset_ms != 0 {
                    let _ = write!(what, ", offset {}", duration(window.offset_ms));
                }
                what.push_str("; assigns each row its windows, no state");
                what
            }
        };
        line("Window", what, APPEND);
    }
    if !stages.join.is_empty() {
        line(
            "Join",
            format!(
                "{} of {} streams on equal keys; state: the rows of each side by key (for a \
                 semi join, the outer rows that met none yet), {}; each tick's rows meet the \
                 other side's so far{}",
                stages.join_kind,
                // Each join of streams that is a side adds two sides and one stream.
                match stages.join.len() / 2 + 1 {
                    2 => "two".to_string(),
                    3 => "three".to_string(),
                    n => n.to_string(),
                },
                if stages.join_kind.contains("interval") {
                    "each dropped once the watermark passes the last event time a row to come \
                     could meet it at (rows behind the watermark are late)"
                } else {
                    "kept while the query runs"
                },
                if stages.updating_join {
                    "; a row padded with NULLs (an anti join's row) is retracted when its \
                     first match comes"
                } else {
                    ""
                }
            ),
            if stages.updating_join {
                "changelogMode=[I,D]"
            } else {
                APPEND
            },
        );
    }
    match stages.feed {
        Some((feed, true)) => line(
            "Aggregate",
            format!(
                "GROUP BY {} per window; state: a row per window and key, which goes to the \
                 aggregate over it once, when the watermark passes the window's end",
                group_keys(feed)
            ),
            APPEND,
        ),
        Some((feed, false)) => line(
            "Aggregate",
            format!(
                "GROUP BY {} without windows; state: a row per key, kept while the query \
                 runs; each change to a key's row goes to the aggregate over it as a \
                 retraction of the old row and the new row",
                group_keys(feed)
            ),
            UPDATING,
        ),
        None => {}
    }
    for (plan, kind) in &stages.window_inputs {
        match kind {
            JoinInputKind::Aggregate => line(
                "Aggregate",
                format!(
                    "GROUP BY {} per window; state: a row per window and key, which goes to \
                     the join once, when the watermark passes the window's end",
                    group_keys(plan)
                ),
                APPEND,
            ),
            JoinInputKind::WindowRows => line(
                "Calc",
                "a window's rows, row by row; state: the rows of each open window, which go \
                 to the join once, when the watermark passes the window's end"
                    .into(),
                APPEND,
            ),
            JoinInputKind::StreamRows => line(
                "Calc",
                "the stream's rows, row by row; state: the rows a window row still to come \
                 may meet (the join's time bound), dropped as the watermark passes; a window \
                 row meets them once the watermark shows all of its have come"
                    .into(),
                APPEND,
            ),
        }
    }
    match stages.shape {
        Shape::Stateless if !stages.window_inputs.is_empty() => line(
            "Join",
            "the rows of the windows the watermark closed, met window by window (every row of \
             those windows is there); no state"
                .into(),
            APPEND,
        ),
        Shape::Updating { .. } if stages.feed.is_some() => line(
            "Aggregate",
            format!(
                "GROUP BY {} over the updating rows above; state: a row per key (for MIN, \
                 MAX and COUNT(DISTINCT …), each value with its count), kept while the query \
                 runs; each change to a key's row is emitted",
                group_keys(stages.micro_batch)
            ),
            UPDATING,
        ),
        Shape::Over {
            time,
            processing_time,
            ..
        } => line(
            "Over",
            format!(
                "OVER (… ORDER BY {time} …): each row goes out once, with its aggregate over its \
                 partition's rows up to it, {}; state: {}the rows each partition's window still \
                 reaches",
                match processing_time {
                    true => "as it comes (processing time)",
                    false => "when the watermark passes it (later rows are late)",
                },
                match processing_time {
                    true => "",
                    false => "the rows waiting for the watermark, and ",
                }
            ),
            APPEND,
        ),
        Shape::Changelog if stages.changelog_source => line(
            "Calc",
            "projections and filters over the changes' rows; no state; a row the source takes \
             back (a delete, an update's old row) is deleted"
                .into(),
            "changelogMode=[I,D]",
        ),
        Shape::Changelog => line(
            "Calc",
            "projections and filters over the join's rows; no state; a row padded with NULLs \
             (or an anti join's row) is deleted when its first match comes"
                .into(),
            "changelogMode=[I,D]",
        ),
        Shape::Stateless => line(
            "Calc",
            "projections and filters over each micro-batch (and lookups in tables); no state"
                .into(),
            APPEND,
        ),
        Shape::Windowed { .. } => line(
            "Aggregate",
            format!(
                "GROUP BY {} per window; state: a row per window and key{}, emitted once and \
                 dropped when the watermark passes the window's end",
                group_keys(stages.micro_batch),
                distinct_sets(stages.micro_batch)
            ),
            APPEND,
        ),
        Shape::Updating { .. } => line(
            "Aggregate",
            format!(
                "GROUP BY {} without windows; state: a row per key{}, kept while the query \
                 runs; each change to a key's row is emitted",
                group_keys(stages.micro_batch),
                distinct_sets(stages.micro_batch)
            ),
            UPDATING,
        ),
        Shape::TopN { close: Some(_), .. } => line(
            "Rank",
            "window Top-N: ROW_NUMBER() OVER (PARTITION BY the window …) and a filter keeping \
             the first ranks; state: the rows kept per partition, until the watermark passes \
             the window's end; each window's ranks are emitted once, then"
                .to_string(),
            APPEND,
        ),
        Shape::TopN { close: None, .. } => line(
            "Rank",
            "Top-N: ROW_NUMBER() OVER (PARTITION BY …) and a filter keeping the first ranks; \
             state: the rows kept per partition; each change to a partition's first rows is \
             emitted"
                .to_string(),
            UPDATING,
        ),
    }
    let output_mode = match stages.shape {
        Shape::Updating { .. } | Shape::TopN { close: None, .. } => UPDATING,
        Shape::Changelog => "changelogMode=[I,D]",
        _ => APPEND,
    };
    match &stages.target {
        Some((table, connector)) => line(
            "Sink",
            format!("INSERT INTO {table} ({connector})"),
            output_mode,
        ),
        None => line("Result", "shown in the cell, live".into(), output_mode),
    }
    let _ = write!(
        out,
        "\n== Each micro-batch ==\n{}",
        stages.micro_batch.display_indent()
    );
    if let Some((feed, _)) = stages.feed {
        let _ = write!(
            out,
            "\n__eddy_feed: the changes of the inner aggregate's result, as rows weighted -1 \
             (retracted) and +1, made each micro-batch by\n{}",
            feed.display_indent()
        );
    }
    for (i, (plan, kind)) in stages.window_inputs.iter().enumerate() {
        let what = match kind {
            JoinInputKind::StreamRows => "the stream's rows kept for the join",
            _ => "the rows of the windows the watermark closed",
        };
        let _ = write!(
            out,
            "\n__eddy_window_rows_{i}: {what}, made each micro-batch by\n{}",
            plan.display_indent()
        );
    }
    // The tables the join reads hold what each side's plan gives over the micro-batch.
    for (name, plan) in &stages.join {
        let _ = write!(
            out,
            "\n{name}: this side's rows (new, and kept ones the other side's new rows meet), \
             made each micro-batch by\n{}",
            plan.display_indent()
        );
    }
    out
}

/// The grouping keys of the micro-batch plan's aggregate, as DataFusion names them.
fn group_keys(plan: &LogicalPlan) -> String {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    let mut keys = Vec::new();
    let _ = plan.apply(|node| {
        if let LogicalPlan::Aggregate(aggregate) = node {
            keys = aggregate
                .group_expr
                .iter()
                .map(|e| match e {
                    // The window relation's name says nothing to the user: its columns do.
                    datafusion::logical_expr::Expr::Column(column) => column.name.clone(),
                    other => other.schema_name().to_string(),
                })
                .collect();
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    match keys.as_slice() {
        [] => "()".to_string(),
        keys => keys.join(", "),
    }
}

/// What a key's state holds beyond a row of numbers when the micro-batch plan's aggregate
/// counts distinct values: their set, kept live from tick to tick (`live_groups.rs`).
fn distinct_sets(plan: &LogicalPlan) -> &'static str {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::logical_expr::expr::AggregateFunction;
    use datafusion::logical_expr::Expr;
    let mut distinct = false;
    let _ = plan.apply(|node| {
        if let LogicalPlan::Aggregate(aggregate) = node {
            distinct = aggregate.aggr_expr.iter().any(|e| {
                let e = match e {
                    Expr::Alias(alias) => alias.expr.as_ref(),
                    e => e,
                };
                matches!(e, Expr::AggregateFunction(AggregateFunction { params, .. }) if params.distinct)
            });
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    if distinct {
        " (with each distinct aggregate's set of values, held in the key's accumulator from \
         tick to tick)"
    } else {
        ""
    }
}

/// `5 s`, `250 ms`, `1 min`.
fn duration(ms: i64) -> String {
    match ms {
        ms if ms % 3_600_000 == 0 && ms != 0 => format!("{} h", ms / 3_600_000),
        ms if ms % 60_000 == 0 && ms != 0 => format!("{} min", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{} s", ms / 1000),
        ms => format!("{ms} ms"),
    }
}
