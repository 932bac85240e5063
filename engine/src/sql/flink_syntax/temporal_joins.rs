//! Flink's temporal join, `JOIN rates FOR SYSTEM_TIME AS OF o.proc_time AS r ON …`:
//! DataFusion's parser does not take `FOR SYSTEM_TIME AS OF`, so the clause is cut out and
//! kept with the table it follows. Against a bounded table it is a lookup join: each row of
//! the stream is joined with the table as it is when the row's micro-batch runs, which is
//! what Flink's processing-time lookup join gives. Against a stream (a versioned table,
//! joined as of event time) it needs state kept across micro-batches, and the session
//! refuses it, naming the construct.

use super::{blank, name_ending_at, source_text, syntax, Tok};
use crate::error::{EngineError, Position};
use datafusion::sql::sqlparser::ast::Ident;
use datafusion::sql::sqlparser::tokenizer::Token;

/// `table FOR SYSTEM_TIME AS OF time`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TemporalJoin {
    /// The table joined, part by part, as written.
    pub(crate) table: Vec<Ident>,
    /// The time expression after `AS OF`, as written.
    pub(crate) time: String,
    pub(crate) position: Position,
}

/// Words that end the time expression: an alias, the join condition, another join or clause.
const AFTER_TIME: [&str; 13] = [
    "AS", "ON", "USING", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "WHERE", "GROUP",
    "ORDER", "LIMIT",
];

/// Cuts every `FOR SYSTEM_TIME AS OF expr` of a statement out of `text`.
pub(super) fn cut_temporal_joins(
    segment: &[Tok],
    text: &mut String,
) -> Result<Vec<TemporalJoin>, EngineError> {
    let original = text.clone();
    let mut joins = Vec::new();
    let mut i = 0;
    while i + 3 < segment.len() {
        let is_clause = segment[i].is_word("FOR")
            && segment[i + 1].is_word("SYSTEM_TIME")
            && segment[i + 2].is_word("AS")
            && segment[i + 3].is_word("OF");
        if !is_clause {
            i += 1;
            continue;
        }
        let position = segment[i].position;
        let usage = || {
            syntax(
                "a temporal join is written JOIN table FOR SYSTEM_TIME AS OF o.proc_time [AS alias] \
                 ON …"
                    .into(),
                position,
            )
        };
        let (table, _) = name_ending_at(segment, 0, i).ok_or_else(usage)?;
        // The time expression: up to the alias, the condition or the next clause.
        let mut depth = 0i32;
        let mut end = i + 4;
        while end < segment.len() {
            let t = &segment[end];
            match t.token {
                Token::LParen => depth += 1,
                Token::RParen if depth == 0 => break,
                Token::RParen => depth -= 1,
                Token::Comma if depth == 0 => break,
                _ if depth == 0 && AFTER_TIME.iter().any(|w| t.is_word(w)) => break,
                _ => {}
            }
            end += 1;
        }
        if end == i + 4 {
            return Err(usage());
        }
        let time = source_text(&original, &segment[i + 4..end]).to_string();
        blank(text, segment[i].start, segment[end - 1].end, "");
        joins.push(TemporalJoin {
            table,
            time,
            position,
        });
        i = end;
    }
    Ok(joins)
}

#[cfg(test)]
mod tests {
    use crate::sql::flink_syntax::rewrite;

    fn left(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn the_clause_is_cut_and_kept_with_its_table() {
        let sql = "SELECT * FROM (SELECT *, PROCTIME() AS p FROM bid) B JOIN db.side FOR SYSTEM_TIME AS OF B.p AS S ON MOD(B.auction, 10) = S.`key`";
        let out = rewrite(sql).unwrap();
        assert_eq!(
            left(&out.text),
            "SELECT * FROM (SELECT *, PROCTIME() AS p FROM bid) B JOIN db.side AS S ON MOD(B.auction, 10) = S.`key`"
        );
        let join = &out.statements[0].temporal_joins[0];
        let table: Vec<&str> = join.table.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(table, ["db", "side"]);
        assert_eq!(join.time, "B.p");
    }

    #[test]
    fn without_an_alias_the_condition_ends_the_time() {
        let out =
            rewrite("SELECT * FROM o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.t ON o.c = rates.c")
                .unwrap();
        assert_eq!(
            left(&out.text),
            "SELECT * FROM o LEFT JOIN rates ON o.c = rates.c"
        );
        assert_eq!(out.statements[0].temporal_joins[0].time, "o.t");
    }

    #[test]
    fn a_misplaced_clause_says_how_to_write_it() {
        for sql in [
            "SELECT * FROM o JOIN (SELECT 1) FOR SYSTEM_TIME AS OF o.t ON true",
            "SELECT * FROM o JOIN r FOR SYSTEM_TIME AS OF ON o.c = r.c",
        ] {
            let error = rewrite(sql).unwrap_err().to_string();
            assert!(
                error.contains("a temporal join is written"),
                "{sql}: {error}"
            );
        }
    }
}
