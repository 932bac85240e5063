//! Flink's `EXPLAIN CHANGELOG_MODE SELECT …` (and `EXPLAIN PLAN FOR`): the words DataFusion's
//! parser does not take are cut, and EXPLAIN of a continuous query shows every stage's
//! changelog mode whether asked or not. The details Eddy has no answer for are refused.

use super::{blank, Tok};
use crate::error::EngineError;
use datafusion::sql::sqlparser::tokenizer::Token;

const SHOWN: &str = "CHANGELOG_MODE";
const NOT_SHOWN: [&str; 3] = ["ESTIMATED_COST", "JSON_EXECUTION_PLAN", "PLAN_ADVICE"];

/// Cuts the explain details after a statement's `EXPLAIN`.
pub(super) fn cut_explain_details(segment: &[Tok], text: &mut String) -> Result<(), EngineError> {
    if !segment.first().is_some_and(|t| t.is_word("EXPLAIN")) {
        return Ok(());
    }
    let mut at = 1;
    // `EXPLAIN PLAN FOR statement`.
    if segment.get(1).is_some_and(|t| t.is_word("PLAN"))
        && segment.get(2).is_some_and(|t| t.is_word("FOR"))
    {
        blank(text, segment[1].start, segment[2].end, "");
        return Ok(());
    }
    while let Some(tok) = segment.get(at) {
        if let Some(detail) = NOT_SHOWN.iter().find(|d| tok.is_word(d)) {
            return Err(EngineError::NotSupported {
                message: format!(
                    "EXPLAIN {detail} is not supported; EXPLAIN (or EXPLAIN CHANGELOG_MODE) \
                     shows a continuous query's stages, their state and changelog modes"
                ),
            });
        }
        if !tok.is_word(SHOWN) {
            break;
        }
        blank(text, tok.start, tok.end, "");
        at += 1;
        match segment.get(at) {
            Some(comma) if comma.token == Token::Comma => {
                blank(text, comma.start, comma.end, "");
                at += 1;
            }
            _ => break,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::sql::flink_syntax::rewrite;

    fn left(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn explain_details_are_cut_or_refused() {
        let out = rewrite("EXPLAIN CHANGELOG_MODE SELECT 1").unwrap();
        assert_eq!(left(&out.text), "EXPLAIN SELECT 1");
        let out = rewrite("EXPLAIN PLAN FOR SELECT 1").unwrap();
        assert_eq!(left(&out.text), "EXPLAIN SELECT 1");
        let error = rewrite("EXPLAIN ESTIMATED_COST, CHANGELOG_MODE SELECT 1")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("EXPLAIN ESTIMATED_COST is not supported"),
            "{error}"
        );
        let out = rewrite("EXPLAIN SELECT changelog_mode FROM t").unwrap();
        assert_eq!(left(&out.text), "EXPLAIN SELECT changelog_mode FROM t");
    }
}
