//! Dotted names with brackets (`a.b.c`, `t.items[1].price`), whose failed parse can take
//! time exponential in their length.
//!
//! After each `.` of a name, sqlparser first tries to read what follows as an expression and,
//! when that fails, reads it again as a plain identifier. The try stays open until the whole
//! name ends, subscripts `[…]` included, and those may hold names of their own; so does
//! whatever follows a `.` that is not a plain word: a parenthesised expression (`a.b.(…`), a
//! signed operand (`a.-b`), a literal of any kind (`a.r''`). So when a
//! statement fails inside a name (an unclosed `[`, a typo in a subscript), each open try
//! reads the rest again: twice the work per open `.`. Measured on a release build, a name of
//! 22 parts followed by `[` took 9 s to be refused, and a 468-byte cell the fuzzer found
//! (`tests/fuzz/seeds/sql_parse/slow_parse_nested_subscripts`) 10.6 s. With this bound
//! (`dev/bench-limits --debug`), 14 parts and a `[` are refused by the parser in 0.02 s;
//! 15 and more, and the fuzzer's cell, by this check in under 0.01 s. The `complete`
//! campaign's slow cells (`tests/fuzz/seeds/complete/slow_*`, 150 to 237 bytes of
//! `-a.b.(…`, `.-`, `r''` shapes) took 10 to 34 s each in the engine's debug build before the
//! bound counted those shapes; they are now refused by it in under a millisecond.
//!
//! The bound is counted on tokens, in one pass that keeps a stack of open brackets and of the
//! tries open around the current token. A failure at a token with k tries open makes the
//! parser read the text since the outermost of them up to 2^k times; that work may be at
//! most a few readings of each of the cell's tokens
//! ([`PARSE_WORK_PER_TOKEN`](super::PARSE_WORK_PER_TOKEN)) plus
//! [`SPARE_PARSE_WORK`](super::SPARE_PARSE_WORK), so a cell's parse stays linear in its size.
//! Ordinary SQL is far below that: its names have a few parts, and each try is settled as
//! soon as its name ends.

use super::is_string_literal;
use crate::error::{EngineError, Position};
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan};

/// What the previous token was, as far as a name is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Previous {
    /// A part of a name: a word, a literal, or a closing bracket (`x[1]`, `f(x)`).
    Part,
    /// A `.` after a part: the next word continues the name.
    Period,
    /// Anything else: the next word starts a new name.
    Other,
}

/// Refuses a cell where a failing parse could cost more than `work_per_token × tokens +
/// spare_work` token readings, at the first token where it could. `tokens` holds no
/// whitespace.
pub(super) fn check(
    tokens: &[TokenWithSpan],
    work_per_token: u64,
    spare_work: u64,
) -> Result<(), EngineError> {
    let budget = work_per_token
        .saturating_mul(tokens.len() as u64)
        .saturating_add(spare_work);
    let mut names = OpenNames::default();
    let mut previous = Previous::Other;
    for (index, token) in tokens.iter().enumerate() {
        match &token.token {
            Token::Period => {
                let wildcard = matches!(tokens.get(index + 1).map(|t| &t.token), Some(Token::Mul));
                if previous == Previous::Part && !wildcard {
                    names.open_try(index);
                }
                previous = Previous::Period;
            }
            Token::LParen | Token::LBracket | Token::LBrace => {
                // `a.b[`, `a.f(` and `a.(` continue the name inside the bracket (after a `.`
                // the parser tries the bracket as the name's next part); `+ (` does not.
                if previous == Previous::Other {
                    names.end_name();
                }
                names.open_bracket();
                previous = Previous::Other;
            }
            Token::RParen | Token::RBracket | Token::RBrace => {
                names.close_bracket();
                previous = Previous::Part;
            }
            token if is_part(token) => {
                if previous != Previous::Period {
                    names.end_name();
                }
                previous = Previous::Part;
            }
            // After a `.`, the parser reads whatever expression follows as the name's next
            // part (`a.-b`, `a.~b`), inside the same try.
            _ if previous == Previous::Period => {}
            _ => {
                names.end_name();
                previous = Previous::Other;
            }
        }
        let work = names.failure_cost(index);
        if work > budget {
            return Err(too_much_work(names.tries.len(), token.span.start));
        }
    }
    Ok(())
}

/// The tries open around a token, and which bracket level opened them.
#[derive(Debug)]
struct OpenNames {
    /// The index of the `.` token that opened each try, outermost first.
    tries: Vec<usize>,
    /// How many of `tries` the name being read at each open bracket level holds (the first
    /// level is the cell itself). Inner levels close before outer ones open more tries, so
    /// each level's tries are the last ones of `tries`.
    per_level: Vec<usize>,
}

impl Default for OpenNames {
    fn default() -> Self {
        OpenNames {
            tries: Vec::new(),
            per_level: vec![0],
        }
    }
}

impl OpenNames {
    fn open_try(&mut self, index: usize) {
        self.tries.push(index);
        if let Some(count) = self.per_level.last_mut() {
            *count += 1;
        }
    }

    /// The name read at the innermost level ended: its tries are settled.
    fn end_name(&mut self) {
        if let Some(count) = self.per_level.last_mut() {
            self.tries.truncate(self.tries.len() - *count);
            *count = 0;
        }
    }

    fn open_bracket(&mut self) {
        self.per_level.push(0);
    }

    fn close_bracket(&mut self) {
        if self.per_level.len() > 1 {
            self.end_name();
            self.per_level.pop();
        }
    }

    /// Token readings if the parse failed at token `index`: every try open there reads the
    /// text since it opened again, and each doubles the work of the tries inside it.
    fn failure_cost(&self, index: usize) -> u64 {
        let Some(&outermost) = self.tries.first() else {
            return 0;
        };
        let span = (index - outermost + 1) as u64;
        let doublings = self.tries.len().min(63) as u32;
        span.saturating_mul(1u64 << doublings)
    }
}

/// A token that can be a part of a name, or the expression a name starts from: a word or a
/// literal of any kind (after a `.`, the parser reads any literal as the next part).
fn is_part(token: &Token) -> bool {
    matches!(
        token,
        Token::Word(_) | Token::Number(..) | Token::Placeholder(_)
    ) || is_string_literal(token)
}

fn too_much_work(open_tries: usize, at: Location) -> EngineError {
    EngineError::Limit {
        message: format!(
            "names with field accesses and subscripts (`a.b.c`, `x[…]`) are nested {open_tries} \
             deep here: were the statement to fail to parse after this point, the SQL parser \
             would read it up to 2^{open_tries} times over, retrying each level another way"
        ),
        position: (at.line > 0).then_some(Position {
            line: at.line as usize,
            column: at.column as usize,
        }),
        hint: Some(
            "close the open `[` and `(` brackets, and use names of fewer parts (a name of up \
             to 14 parts always fits)"
                .to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::limits::{tokens, PARSE_WORK_PER_TOKEN, SPARE_PARSE_WORK};

    fn check_default(sql: &str) -> Result<(), EngineError> {
        check(
            &tokens(sql).expect("test SQL tokenizes"),
            PARSE_WORK_PER_TOKEN,
            SPARE_PARSE_WORK,
        )
    }

    /// `SELECT a.b.….b` with `parts` parts, then `tail`.
    fn name(parts: usize, tail: &str) -> String {
        format!("SELECT a{}{tail}", ".b".repeat(parts - 1))
    }

    #[test]
    fn a_long_name_with_an_unclosed_subscript_is_refused() {
        // 14 parts always fit, even when the parse is going to fail.
        assert!(check_default(&name(14, "[")).is_ok());
        let sql = name(22, "[");
        let error = check_default(&sql).expect_err("22 parts and an open `[` passed");
        assert!(matches!(error, EngineError::Limit { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("nested"), "{message}");
        let EngineError::Limit { hint, .. } = &error else {
            unreachable!()
        };
        assert!(
            hint.as_deref()
                .unwrap_or_default()
                .contains("up to 14 parts"),
            "{hint:?}"
        );
        assert_eq!(error.position().map(|p| p.line), Some(1), "{error:?}");
    }

    #[test]
    fn names_that_end_settle_their_tries() {
        // A thousand names of ten parts side by side: each try ends with its name.
        let wide = format!("SELECT {}", vec![&name(10, "")[7..]; 1_000].join(", "));
        assert!(check(&tokens(&wide).unwrap(), 4, 0).is_ok());
        // Closed subscripts holding names of their own.
        assert!(check_default("SELECT a.b[c.d].e[f.g].h[i] FROM t").is_ok());
        // A wildcard ends a qualified name: `t.*`.
        assert!(check(&tokens("SELECT t.*, u.* FROM t, u").unwrap(), 1, 0).is_ok());
        // Names in an expression are apart: `a.b + c.d` nests nothing.
        let sum = format!("SELECT {}", vec!["a.b.c.d.e"; 2_000].join(" + "));
        assert!(check(&tokens(&sum).unwrap(), 2, 0).is_ok());
    }

    #[test]
    fn names_nested_in_subscripts_add_up() {
        // The shape the fuzzer found: each `[` holds another dotted name.
        let open = format!("SELECT a{}", ".b[c.d.e".repeat(8));
        assert!(check_default(&open).is_err());
        // Closing the brackets does not help: the check cannot know that the parse will not
        // fail inside them, and sqlparser's own recursion limit is near anyway.
        let closed = format!("{open}{}", "]".repeat(8));
        assert!(check_default(&closed).is_err());
        // The shape of the `complete` campaign's slow cells: a `.` followed by `(` tries
        // the parenthesised text as the name's next part, so the name stays open inside it.
        let parenthesised = format!("SELECT -a{}", ".b.(a".repeat(12));
        assert!(check_default(&parenthesised).is_err());
        assert!(check_default("SELECT a.b.(c.d) FROM t").is_ok());
        // A signed part (`a.-b`) and a literal of any kind (`a.r''.b`) go on with the name too.
        assert!(check_default(&format!("SELECT -a{}", ".b.-c".repeat(12))).is_err());
        assert!(check_default(&format!("SELECT -a{}", ".b.r''".repeat(12))).is_err());
        assert!(check_default("SELECT a.b - c.d, DATE '2024-01-01' FROM t").is_ok());
        // Two levels are ordinary.
        assert!(check_default("SELECT a.b[c.d.e[f.g]].h FROM t").is_ok());
    }
}
