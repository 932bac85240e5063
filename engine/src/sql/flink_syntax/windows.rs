//! Flink's window table functions, `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), …))`: each call is
//! cut out and replaced by the name of a relation the query reads the windowed rows from.

use super::{
    blank, closing_paren, identifier, source_text, split_arguments, syntax, Tok, WindowCall,
    WindowKind,
};
use crate::error::{EngineError, Position};
use datafusion::sql::sqlparser::tokenizer::Token;

/// Every `TABLE(TUMBLE|HOP|CUMULATE|SESSION(…))` of a statement.
pub(super) fn cut_windows(
    segment: &[Tok],
    text: &mut String,
    count: &mut usize,
) -> Result<Vec<WindowCall>, EngineError> {
    let original = text.clone();
    let mut calls = Vec::new();
    let mut i = 0;
    while i + 3 < segment.len() {
        let is_call = segment[i].is_word("TABLE")
            && segment[i + 1].token == Token::LParen
            && matches!(&segment[i + 2].token, Token::Word(w) if WindowKind::from_name(&w.value).is_some())
            && segment[i + 3].token == Token::LParen;
        if !is_call {
            i += 1;
            continue;
        }
        let position = segment[i].position;
        let Some(outer_close) = closing_paren(segment, i + 1) else {
            return Err(syntax(
                "the window call has no closing ')'".into(),
                position,
            ));
        };
        let Some(inner_close) = closing_paren(segment, i + 3) else {
            return Err(syntax(
                "the window call has no closing ')'".into(),
                position,
            ));
        };
        let Token::Word(name) = &segment[i + 2].token else {
            unreachable!("matched as a word above")
        };
        let Some(kind) = WindowKind::from_name(&name.value) else {
            unreachable!("matched as a window function above")
        };
        let call = window_call(
            kind,
            &segment[i + 4..inner_close],
            &original,
            position,
            format!("__eddy_window_{count}"),
        )?;
        *count += 1;
        blank(
            text,
            segment[i].start,
            segment[outer_close].end,
            &call.relation,
        );
        calls.push(call);
        i = outer_close + 1;
    }
    Ok(calls)
}

fn window_call(
    kind: WindowKind,
    args: &[Tok],
    sql: &str,
    position: Position,
    relation: String,
) -> Result<WindowCall, EngineError> {
    let usage = || {
        let intervals: Vec<String> = kind
            .interval_names()
            .iter()
            .map(|n| format!("<{}>", n.to_lowercase()))
            .collect();
        syntax(
            format!(
                "{} is called as {}(TABLE t{}, DESCRIPTOR(time_column), {}{}), e.g. \
                 TABLE({}(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE{}))",
                kind.name(),
                kind.name(),
                if kind == WindowKind::Session {
                    " [PARTITION BY key]"
                } else {
                    ""
                },
                intervals.join(", "),
                if kind.takes_offset() {
                    " [, <offset>]"
                } else {
                    ""
                },
                kind.name(),
                if intervals.len() > 1 {
                    ", INTERVAL '5' MINUTE"
                } else {
                    ""
                }
            ),
            position,
        )
    };
    let mut parts = split_arguments(args);
    // Named arguments (`DATA => TABLE t`) are taken in Flink's order.
    for part in parts.iter_mut() {
        if part.len() > 2 && part[1].token == Token::RArrow {
            *part = &part[2..];
        }
    }
    let interval_count = kind.interval_names().len();
    let with_offset = kind.takes_offset() && parts.len() == 3 + interval_count;
    if parts.len() != 2 + interval_count && !with_offset {
        return Err(usage());
    }
    let data = parts[0];
    if !data.first().is_some_and(|t| t.is_word("TABLE")) || data.len() < 2 {
        return Err(usage());
    }
    // `TABLE name` or `TABLE schema.name`, then an optional PARTITION BY.
    let partition_at = data
        .iter()
        .position(|t| t.is_word("PARTITION"))
        .unwrap_or(data.len());
    let table = source_text(sql, &data[1..partition_at]).to_string();
    if table.is_empty() {
        return Err(usage());
    }
    let mut partition_by = Vec::new();
    if partition_at < data.len() {
        if kind != WindowKind::Session {
            return Err(syntax(
                format!("{} takes no PARTITION BY; SESSION does", kind.name()),
                data[partition_at].position,
            ));
        }
        if !data.get(partition_at + 1).is_some_and(|t| t.is_word("BY")) {
            return Err(usage());
        }
        for key in split_arguments(&data[partition_at + 2..]) {
            match key {
                [one] => partition_by.push(identifier(one).ok_or_else(usage)?),
                _ => return Err(usage()),
            }
        }
    }
    let descriptor = parts[1];
    let time_column = match descriptor {
        [d, open, column, close]
            if d.is_word("DESCRIPTOR")
                && open.token == Token::LParen
                && close.token == Token::RParen =>
        {
            identifier(column).ok_or_else(usage)?
        }
        _ => return Err(usage()),
    };
    let intervals = parts[2..2 + interval_count]
        .iter()
        .map(|part| source_text(sql, part).to_string())
        .collect();
    let offset = with_offset.then(|| source_text(sql, parts[2 + interval_count]).to_string());
    Ok(WindowCall {
        kind,
        relation,
        table,
        partition_by,
        time_column,
        intervals,
        offset,
        position,
    })
}

#[cfg(test)]
mod tests {
    use crate::sql::flink_syntax::{rewrite, WindowKind};

    #[test]
    fn window_calls_become_relations() {
        let sql = "SELECT 1;\nSELECT window_start, COUNT(*) FROM TABLE(\n  TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start";
        let out = rewrite(sql).unwrap();
        assert_eq!(out.statements.len(), 2);
        assert!(out.statements[0].windows.is_empty());
        let call = &out.statements[1].windows[0];
        assert_eq!(call.kind, WindowKind::Tumble);
        assert_eq!(call.table, "clicks");
        assert_eq!(call.time_column, "ts");
        assert_eq!(call.intervals, vec!["INTERVAL '1' MINUTE"]);
        assert!(out.text.contains("FROM __eddy_window_0"));
        assert_eq!(out.text.len(), sql.len());
        assert!(out.text.ends_with(" GROUP BY window_start"));
    }
    #[test]
    fn hop_named_arguments_and_session_partitions() {
        let out = rewrite(
            "SELECT * FROM TABLE(HOP(DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), SLIDE => INTERVAL '5' SECOND, SIZE => INTERVAL '10' SECOND)) AS w",
        )
        .unwrap();
        let call = &out.statements[0].windows[0];
        assert_eq!(call.kind, WindowKind::Hop);
        assert_eq!(call.intervals.len(), 2);
        let out = rewrite(
            "SELECT * FROM TABLE(SESSION(TABLE t PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '30' SECOND))",
        )
        .unwrap();
        assert_eq!(out.statements[0].windows[0].partition_by, vec!["user_id"]);
    }
    #[test]
    fn a_wrong_window_call_says_how_to_write_it() {
        let err = rewrite("SELECT * FROM TABLE(TUMBLE(TABLE t, INTERVAL '1' MINUTE))").unwrap_err();
        assert!(err.to_string().contains("DESCRIPTOR(time_column)"), "{err}");
        assert!(err.position().is_some());
    }
}
