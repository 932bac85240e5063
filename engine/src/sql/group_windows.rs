//! Flink's legacy group windows, as Nexmark's q11 and the Flink SQL Cookbook write them:
//!
//! ```sql
//! SELECT bidder, COUNT(*), SESSION_START(`dateTime`, INTERVAL '10' SECOND)
//! FROM bid GROUP BY bidder, SESSION(`dateTime`, INTERVAL '10' SECOND)
//! ```
//!
//! are rewritten, once parsed, into the window table function the engine runs:
//! `FROM TABLE(SESSION(TABLE bid PARTITION BY bidder, DESCRIPTOR(dateTime), …))` grouped by
//! `window_start, window_end, window_time`, with `SESSION_START(…)` read as `window_start`, `_END` as
//! `window_end` and `_ROWTIME`/`_PROCTIME` as `window_time`. `TUMBLE(ts, size [, offset])`,
//! `HOP(ts, slide, size)` and `SESSION(ts, gap)` take Flink's arguments; a SESSION is kept
//! per key of the other GROUP BY columns, as Flink keeps it. The window reads one table, view
//! or subquery (Nexmark's q12: `FROM (SELECT *, PROCTIME() AS p_time FROM bid) B`), which the
//! session declares as a view for the statement; a group window over a join is refused.

use crate::error::{EngineError, Position};
use crate::sql::flink_syntax::{WindowCall, WindowKind};
use crate::sql::names::function_name;
use datafusion::sql::parser::Statement as ParsedStatement;
use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident,
    ObjectName, Query, Select, SetExpr, Spanned, TableAlias, TableFactor, VisitMut, VisitorMut,
};
use std::ops::ControlFlow;

/// A subquery a group window reads, to be declared as the view `name` while the statement
/// runs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WindowedSubquery {
    pub(crate) name: String,
    /// The subquery's SQL.
    pub(crate) query: String,
}

/// Rewrites every legacy group window of `statement`; the window calls it made are added
/// to `windows`, the subqueries they read to `subqueries`.
pub(crate) fn rewrite_group_windows(
    statement: &mut ParsedStatement,
    windows: &mut Vec<WindowCall>,
    subqueries: &mut Vec<WindowedSubquery>,
) -> Result<(), EngineError> {
    let mut rewriter = GroupWindows {
        windows,
        subqueries,
        error: None,
    };
    match statement {
        ParsedStatement::Statement(statement) => {
            let _ = statement.visit(&mut rewriter);
        }
        ParsedStatement::Explain(explain) => {
            return rewrite_group_windows(
                &mut explain.statement,
                rewriter.windows,
                rewriter.subqueries,
            )
        }
        _ => {}
    }
    match rewriter.error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

struct GroupWindows<'a> {
    windows: &'a mut Vec<WindowCall>,
    subqueries: &'a mut Vec<WindowedSubquery>,
    error: Option<EngineError>,
}

impl VisitorMut for GroupWindows<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = query.body.as_mut() {
            if let Err(error) = rewrite_select(select, self.windows, self.subqueries) {
                self.error = Some(error);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}

/// The window kind a GROUP BY function names, and the prefix of its helper functions.
fn window_kind(name: &str) -> Option<WindowKind> {
    match name.to_ascii_uppercase().as_str() {
        "TUMBLE" => Some(WindowKind::Tumble),
        "HOP" => Some(WindowKind::Hop),
        "SESSION" => Some(WindowKind::Session),
        _ => None,
    }
}

fn arguments(function: &Function) -> Vec<&Expr> {
    match &function.args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|arg| match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Some(expr),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn not_supported(message: String) -> EngineError {
    EngineError::NotSupported { message }
}

fn rewrite_select(
    select: &mut Select,
    windows: &mut Vec<WindowCall>,
    subqueries: &mut Vec<WindowedSubquery>,
) -> Result<(), EngineError> {
    let GroupByExpr::Expressions(keys, _) = &mut select.group_by else {
        return Ok(());
    };
    let Some(at) = keys.iter().position(
        |key| matches!(key, Expr::Function(f) if window_kind(&function_name(f)).is_some()),
    ) else {
        return Ok(());
    };
    let Expr::Function(function) = keys[at].clone() else {
        return Ok(());
    };
    let name = function_name(&function).to_ascii_uppercase();
    let kind = window_kind(&name).unwrap_or(WindowKind::Tumble);
    let start = function.span().start;
    let position = Position {
        line: start.line as usize,
        column: start.column as usize,
    };
    let args = arguments(&function);
    let usage = || EngineError::Syntax {
        message: format!(
            "{name} in a GROUP BY is called as {}",
            match kind {
                WindowKind::Hop => "HOP(time_column, <slide>, <size>)",
                WindowKind::Session => "SESSION(time_column, <gap>)",
                _ => "TUMBLE(time_column, <size> [, <offset>])",
            }
        ),
        position: Some(position),
    };
    let interval_count = if kind == WindowKind::Hop { 2 } else { 1 };
    let takes_offset = kind == WindowKind::Tumble;
    if args.len() != 1 + interval_count && !(takes_offset && args.len() == 2 + interval_count) {
        return Err(usage());
    }
    let time_column = match args[0] {
        Expr::Identifier(ident) => ident.value.clone(),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(|p| p.value.clone()).ok_or_else(usage)?
        }
        _ => return Err(usage()),
    };
    if keys.iter().enumerate().any(|(i, key)| {
        i != at && matches!(key, Expr::Function(f) if window_kind(&function_name(f)).is_some())
    }) {
        return Err(not_supported(
            "one group window per GROUP BY: two window functions were given".into(),
        ));
    }
    // The window reads one table or view.
    let [from] = select.from.as_mut_slice() else {
        return Err(not_supported(format!(
            "a {name} group window over {} tables; it reads one table or view",
            select.from.len()
        )));
    };
    if !from.joins.is_empty() {
        return Err(not_supported(format!(
            "a {name} group window over a join; window one table or view, then join"
        )));
    }
    // A subquery is read as a view of its own, under its alias.
    if let TableFactor::Derived {
        lateral: false,
        subquery,
        alias,
        ..
    } = &mut from.relation
    {
        let view = format!("__eddy_windowed_subquery_{}", subqueries.len());
        subqueries.push(WindowedSubquery {
            name: view.clone(),
            query: subquery.to_string(),
        });
        let written = match alias.take() {
            Some(alias) => format!("{view} {alias}"),
            None => view.clone(),
        };
        from.relation = parse_relation(&written).ok_or_else(|| EngineError::Internal {
            message: format!("the relation {written} did not parse"),
            source: None,
        })?;
    }
    let TableFactor::Table {
        name: table, alias, ..
    } = &mut from.relation
    else {
        return Err(not_supported(format!(
            "a {name} group window over this FROM clause; window a table, a view or a \
             subquery"
        )));
    };
    // Sessions are kept per key of the other grouping columns.
    let partition_by = if kind == WindowKind::Session {
        keys.iter()
            .enumerate()
            .filter(|(i, _)| *i != at)
            .map(|(_, key)| match key {
                Expr::Identifier(ident) => Ok(ident.value.clone()),
                Expr::CompoundIdentifier(parts) => {
                    parts.last().map(|p| p.value.clone()).ok_or_else(usage)
                }
                other => Err(not_supported(format!(
                    "a SESSION group window keyed by {other}: group by columns"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let relation = format!("__eddy_group_window_{}", windows.len());
    let table_name = table.to_string();
    windows.push(WindowCall {
        kind,
        relation: relation.clone(),
        table: table_name.clone(),
        partition_by,
        time_column,
        intervals: args[1..1 + interval_count]
            .iter()
            .map(ToString::to_string)
            .collect(),
        offset: args.get(1 + interval_count).map(ToString::to_string),
        position,
    });
    // The query reads the windowed rows under the table's name (or its alias), so that
    // `bid.price` still means the column.
    if alias.is_none() {
        let last = table
            .0
            .last()
            .and_then(|part| part.as_ident())
            .cloned()
            .unwrap_or_else(|| Ident::new(table_name.clone()));
        *alias = Some(TableAlias {
            name: last,
            columns: Vec::new(),
            explicit: true,
            at: None,
        });
    }
    *table = ObjectName::from(vec![Ident::new(relation)]);
    // window_time follows from window_end; grouping by it lets _ROWTIME be selected.
    keys.splice(
        at..=at,
        ["window_start", "window_end", "window_time"].map(|c| Expr::Identifier(Ident::new(c))),
    );
    // TUMBLE_START(…) and the like, wherever the SELECT says them.
    let mut helpers = Helpers { prefix: name };
    for item in &mut select.projection {
        let _ = item.visit(&mut helpers);
    }
    if let Some(having) = &mut select.having {
        let _ = having.visit(&mut helpers);
    }
    Ok(())
}

/// The relation `FROM name` parses to, for a subquery's view to take its place.
fn parse_relation(name: &str) -> Option<TableFactor> {
    let sql = format!("SELECT * FROM {name}");
    let mut parsed = datafusion::sql::sqlparser::parser::Parser::parse_sql(
        &datafusion::sql::sqlparser::dialect::GenericDialect {},
        &sql,
    )
    .ok()?;
    let datafusion::sql::sqlparser::ast::Statement::Query(query) = parsed.pop()? else {
        return None;
    };
    let SetExpr::Select(select) = *query.body else {
        return None;
    };
    select.from.into_iter().next().map(|from| from.relation)
}

/// Replaces `<PREFIX>_START(…)`, `_END`, `_ROWTIME`, `_PROCTIME` by the window's columns.
struct Helpers {
    prefix: String,
}

impl VisitorMut for Helpers {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Function(function) = expr {
            let name = function_name(function).to_ascii_uppercase();
            let column = match name.strip_prefix(&self.prefix) {
                Some("_START") => Some("window_start"),
                Some("_END") => Some("window_end"),
                Some("_ROWTIME") | Some("_PROCTIME") => Some("window_time"),
                _ => None,
            };
            if let Some(column) = column {
                *expr = Expr::Identifier(Ident::new(column));
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParserBuilder;

    fn rewritten(sql: &str) -> Result<(String, Vec<WindowCall>), EngineError> {
        rewritten_with_subqueries(sql).map(|(sql, windows, _)| (sql, windows))
    }

    fn rewritten_with_subqueries(
        sql: &str,
    ) -> Result<(String, Vec<WindowCall>, Vec<WindowedSubquery>), EngineError> {
        let mut statement = DFParserBuilder::new(sql)
            .build()
            .unwrap()
            .parse_statements()
            .unwrap()
            .pop_front()
            .unwrap();
        let mut windows = Vec::new();
        let mut subqueries = Vec::new();
        rewrite_group_windows(&mut statement, &mut windows, &mut subqueries)?;
        Ok((statement.to_string(), windows, subqueries))
    }

    #[test]
    fn a_tumble_in_the_group_by_becomes_the_window_function() {
        let (sql, windows) = rewritten(
            "SELECT user_id, TUMBLE_START(ts, INTERVAL '1' MINUTE) AS w, COUNT(*) FROM clicks \
             GROUP BY user_id, TUMBLE(ts, INTERVAL '1' MINUTE)",
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT user_id, window_start AS w, COUNT(*) FROM __eddy_group_window_0 AS clicks \
             GROUP BY user_id, window_start, window_end, window_time"
        );
        assert_eq!(windows[0].kind, WindowKind::Tumble);
        assert_eq!(windows[0].table, "clicks");
        assert_eq!(windows[0].time_column, "ts");
        assert_eq!(windows[0].intervals, ["INTERVAL '1' MINUTE"]);
        assert!(windows[0].partition_by.is_empty());
    }

    #[test]
    fn a_session_is_kept_per_key_and_hop_takes_slide_then_size() {
        let (sql, windows) = rewritten(
            "SELECT B.bidder, count(*) AS bid_count, SESSION_START(B.dateTime, INTERVAL '10' SECOND), \
             SESSION_END(B.dateTime, INTERVAL '10' SECOND) FROM bid B \
             GROUP BY B.bidder, SESSION(B.dateTime, INTERVAL '10' SECOND)",
        )
        .unwrap();
        assert!(
            sql.contains("FROM __eddy_group_window_0 B GROUP BY"),
            "{sql}"
        );
        assert!(sql.contains("window_start, window_end FROM"), "{sql}");
        assert!(
            sql.ends_with("GROUP BY B.bidder, window_start, window_end, window_time"),
            "{sql}"
        );
        assert_eq!(windows[0].partition_by, ["bidder"]);
        let (_, windows) = rewritten(
            "SELECT HOP_END(ts, INTERVAL '1' SECOND, INTERVAL '5' SECOND), COUNT(*) FROM t \
             GROUP BY HOP(ts, INTERVAL '1' SECOND, INTERVAL '5' SECOND)",
        )
        .unwrap();
        assert_eq!(
            windows[0].intervals,
            ["INTERVAL '1' SECOND", "INTERVAL '5' SECOND"]
        );
    }

    #[test]
    fn a_subquery_is_windowed_as_a_view_of_its_own() {
        let (sql, windows, subqueries) = rewritten_with_subqueries(
            "SELECT B.bidder, COUNT(*) FROM (SELECT *, PROCTIME() AS p_time FROM bid) B \
             GROUP BY B.bidder, TUMBLE(B.p_time, INTERVAL '10' SECOND)",
        )
        .unwrap();
        assert_eq!(
            subqueries,
            [WindowedSubquery {
                name: "__eddy_windowed_subquery_0".into(),
                query: "SELECT *, PROCTIME() AS p_time FROM bid".into(),
            }]
        );
        assert_eq!(windows[0].table, "__eddy_windowed_subquery_0");
        assert!(
            sql.contains("FROM __eddy_group_window_0 B GROUP BY"),
            "{sql}"
        );
    }

    #[test]
    fn what_a_group_window_cannot_read_is_named() {
        let error = rewritten(
            "SELECT COUNT(*) FROM a JOIN b ON a.k = b.k GROUP BY TUMBLE(ts, INTERVAL '10' SECOND)",
        )
        .unwrap_err();
        assert!(error.to_string().contains("over a join"), "{error}");
        let error = rewritten("SELECT COUNT(*) FROM t GROUP BY TUMBLE(ts)").unwrap_err();
        assert!(
            error.to_string().contains("TUMBLE(time_column, <size>"),
            "{error}"
        );
        // A GROUP BY without a window function is left alone.
        let (sql, windows) = rewritten("SELECT a, COUNT(*) FROM t GROUP BY a").unwrap();
        assert_eq!(sql, "SELECT a, COUNT(*) FROM t GROUP BY a");
        assert!(windows.is_empty());
    }
}
