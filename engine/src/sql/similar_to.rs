//! `x SIMILAR TO 'pattern'` as the SQL standard (and Flink) reads it: `%` any text, `_` any
//! character, `|`, `*`, `+`, `?`, `{m,n}`, `( )` and `[ ]` as in regular expressions, every
//! other character itself, and the whole text must match. DataFusion reads the pattern as a
//! bare regular expression instead (`'abc' SIMILAR TO 'a%'` is false there), a wrong answer
//! with no error; so before planning the pattern becomes the anchored regular expression it
//! stands for, matched with `~`.
//!
//! A pattern that is not a string literal (a column) cannot be translated before planning:
//! it is refused, naming SIMILAR TO, rather than read DataFusion's way.

use crate::error::EngineError;
use datafusion::sql::parser::Statement as ParsedStatement;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, UnaryOperator, Value, VisitMut, VisitorMut,
};
use std::ops::ControlFlow;

/// Rewrites every `SIMILAR TO` of `statement`.
pub(crate) fn rewrite_similar_to(statement: &mut ParsedStatement) -> Result<(), EngineError> {
    let mut rewriter = SimilarTo { error: None };
    match statement {
        ParsedStatement::Statement(statement) => {
            let _ = statement.visit(&mut rewriter);
        }
        ParsedStatement::Explain(explain) => return rewrite_similar_to(&mut explain.statement),
        _ => {}
    }
    rewriter.error.map_or(Ok(()), Err)
}

struct SimilarTo {
    error: Option<EngineError>,
}

impl VisitorMut for SimilarTo {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::SimilarTo {
            negated,
            expr: subject,
            pattern,
            escape_char,
        } = expr
        else {
            return ControlFlow::Continue(());
        };
        let escape = match escape_char.as_ref().map(|v| &v.value) {
            None => None,
            Some(Value::SingleQuotedString(e)) if e.chars().count() == 1 => e.chars().next(),
            Some(_) => return self.fail("SIMILAR TO … ESCAPE takes one character"),
        };
        let text = match pattern.as_ref() {
            Expr::Value(value) => match &value.value {
                Value::SingleQuotedString(text) => text.clone(),
                _ => return self.fail("SIMILAR TO takes a text pattern"),
            },
            _ => {
                return self.fail(
                    "SIMILAR TO with a pattern that is not a literal: write the pattern as \
                     text, or use REGEXP_LIKE / ~ with a regular expression",
                )
            }
        };
        let regex = to_regex(&text, escape);
        // A malformed pattern (an unclosed parenthesis) is the user's mistake: say so here,
        // not as the matcher's internal error when the query runs.
        if let Err(error) = regex::Regex::new(&regex) {
            let reason = error.to_string();
            let reason = reason.lines().last().unwrap_or_default().trim().to_string();
            self.error = Some(EngineError::Plan {
                message: format!("the SIMILAR TO pattern '{text}' is malformed ({reason})"),
                position: None,
                hint: Some("balance ( ) and [ ]; escape a literal % or _ with ESCAPE".into()),
            });
            return ControlFlow::Break(());
        }
        let matched = Expr::BinaryOp {
            left: subject.clone(),
            op: BinaryOperator::PGRegexMatch,
            right: Box::new(Expr::value(Value::SingleQuotedString(regex))),
        };
        *expr = if *negated {
            Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr: Box::new(Expr::Nested(Box::new(matched))),
            }
        } else {
            Expr::Nested(Box::new(matched))
        };
        ControlFlow::Continue(())
    }
}

impl SimilarTo {
    fn fail(&mut self, message: &str) -> ControlFlow<()> {
        self.error = Some(EngineError::NotSupported {
            message: message.to_string(),
        });
        ControlFlow::Break(())
    }
}

/// The anchored regular expression a SIMILAR TO pattern stands for.
fn to_regex(pattern: &str, escape: Option<char>) -> String {
    let mut out = String::from("^(?:");
    let mut chars = pattern.chars();
    // Inside `[ ]` characters (and ranges such as `a-c`) are taken as they are.
    let mut in_class = false;
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            if let Some(next) = chars.next() {
                out.push_str(&regex::escape(&next.to_string()));
            }
            continue;
        }
        match c {
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            other if in_class => out.push(other),
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '|' | '*' | '+' | '?' | '{' | '}' | '(' | ')' => out.push(c),
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    out.push_str(")$");
    out
}

#[cfg(test)]
mod tests {
    use super::to_regex;

    #[test]
    fn patterns_become_anchored_regular_expressions() {
        assert_eq!(to_regex("a%", None), "^(?:a.*)$");
        assert_eq!(to_regex("(x|y)_.c", None), "^(?:(x|y).\\.c)$");
        assert_eq!(to_regex("100!%", Some('!')), "^(?:100%)$");
        assert_eq!(to_regex("[a-c]+$", None), "^(?:[a-c]+\\$)$");
    }
}
