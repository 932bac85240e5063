//! Tab completion: the word before the cursor against magics, the columns of the tables
//! the cell mentions, table names, functions and keywords.

use super::magic::Magic;
use eddy_engine::Vocabulary;
use serde_json::{json, Value};

/// Where a word starts and ends in a text, in Unicode code points (the protocol's unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

/// The byte offset of code point `cursor` in `code` (its length when the cursor is past the end).
fn byte_offset(code: &str, cursor: usize) -> usize {
    code.char_indices()
        .nth(cursor)
        .map_or(code.len(), |(at, _)| at)
}

/// The word ending at `cursor` (code points), and its span. Only the text before the cursor is
/// walked, once: a frontend asks at every keystroke, and the fuzzer at every position.
pub fn word_before(code: &str, cursor: usize) -> (String, Span) {
    let before = &code[..byte_offset(code, cursor)];
    let end = before.chars().count();
    let mut start_byte = before.len();
    let mut start = end;
    for (at, c) in before.char_indices().rev() {
        if !is_word_char(c) {
            break;
        }
        start_byte = at;
        start -= 1;
    }
    // A magic's one or two leading percent signs belong to the word.
    for _ in 0..2 {
        if before[..start_byte].ends_with('%') {
            start_byte -= 1;
            start -= 1;
        } else {
            break;
        }
    }
    (before[start_byte..].to_string(), Span { start, end })
}

/// The whole word around `cursor` (for inspection).
pub fn word_around(code: &str, cursor: usize) -> String {
    let at = byte_offset(code, cursor);
    let start = code[..at]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_word_char(c))
        .last()
        .map_or(at, |(start, _)| start);
    let end = code[at..]
        .char_indices()
        .find(|&(_, c)| !is_word_char(c))
        .map_or(code.len(), |(end, _)| at + end);
    code[start..end].trim_matches('.').to_string()
}

struct Candidate {
    text: String,
    kind: &'static str,
}

/// The `complete_reply` content for `code` with the cursor at `cursor`.
pub fn complete(code: &str, cursor: usize, vocabulary: &Vocabulary) -> Value {
    let (word, span) = word_before(code, cursor);
    let (candidates, replace_from) = candidates(code, &word, span, vocabulary);
    let matches: Vec<&str> = candidates.iter().map(|c| c.text.as_str()).collect();
    let types: Vec<Value> = candidates
        .iter()
        .map(|c| {
            json!({
                "start": replace_from,
                "end": span.end,
                "text": c.text,
                "type": c.kind,
            })
        })
        .collect();
    json!({
        "status": "ok",
        "matches": matches,
        "cursor_start": replace_from,
        "cursor_end": span.end,
        "metadata": { "_jupyter_types_experimental": types },
    })
}

fn candidates(
    code: &str,
    word: &str,
    span: Span,
    vocabulary: &Vocabulary,
) -> (Vec<Candidate>, usize) {
    if word.starts_with('%') {
        let typed = word.trim_start_matches('%');
        let percent = word.len() - typed.len();
        let found = Magic::ALL
            .iter()
            .map(|magic| &magic.name()[1..])
            .filter(|name| name.starts_with(typed))
            .map(|name| Candidate {
                text: format!("{}{name}", "%".repeat(percent)),
                kind: "magic",
            })
            .collect();
        return (found, span.start);
    }
    // `table.col`: complete the column of that table only.
    if let Some((qualifier, column)) = word.rsplit_once('.') {
        let start = span.end - column.chars().count();
        let found = vocabulary
            .tables
            .iter()
            .filter(|t| t.name.eq_ignore_ascii_case(qualifier))
            .flat_map(|t| t.schema.fields().iter().map(|f| f.name().clone()))
            .filter(|name| starts_with_ignore_case(name, column))
            .map(|text| Candidate {
                text,
                kind: "column",
            })
            .collect();
        return (found, start);
    }
    let mut found: Vec<Candidate> = Vec::new();
    let push = |text: String, kind: &'static str, found: &mut Vec<Candidate>| {
        if !found.iter().any(|c| c.text == text) {
            found.push(Candidate { text, kind });
        }
    };
    for table in &vocabulary.tables {
        if mentions(code, &table.name) {
            for field in table.schema.fields() {
                if starts_with_ignore_case(field.name(), word) && field.name() != word {
                    push(field.name().clone(), "column", &mut found);
                }
            }
        }
    }
    for table in &vocabulary.tables {
        if starts_with_ignore_case(&table.name, word) && table.name != word {
            push(table.name.clone(), "table", &mut found);
        }
    }
    if !word.is_empty() {
        for function in &vocabulary.functions {
            if starts_with_ignore_case(function, word) {
                push(function.clone(), "function", &mut found);
            }
        }
        // Keywords in the case the user types them in.
        let lower = word.chars().all(|c| !c.is_uppercase());
        for keyword in &vocabulary.keywords {
            if starts_with_ignore_case(keyword, word) {
                let text = if lower {
                    keyword.to_lowercase()
                } else {
                    keyword.clone()
                };
                push(text, "keyword", &mut found);
            }
        }
    }
    (found, span.start)
}

fn starts_with_ignore_case(candidate: &str, prefix: &str) -> bool {
    candidate.len() >= prefix.len()
        && candidate.is_char_boundary(prefix.len())
        && candidate[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Whether `code` names `table` as a whole word.
fn mentions(code: &str, table: &str) -> bool {
    code.split(|c: char| !is_word_char(c))
        .any(|word| word.eq_ignore_ascii_case(table))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::arrow::datatypes::{DataType, Field, Schema};
    use eddy_engine::TableInfo;
    use std::sync::Arc;

    fn vocabulary() -> Vocabulary {
        Vocabulary {
            keywords: vec!["SELECT".into(), "SET".into(), "FROM".into()],
            functions: vec!["sum".into(), "sqrt".into()],
            tables: vec![TableInfo {
                name: "movies".into(),
                schema: Arc::new(Schema::new(vec![
                    Field::new("movie_id", DataType::Int64, false),
                    Field::new("movie_title", DataType::Utf8, true),
                ])),
                definition: None,
            }],
        }
    }

    fn matches(reply: &Value) -> Vec<String> {
        serde_json::from_value(reply["matches"].clone()).unwrap()
    }

    #[test]
    fn keywords_follow_the_case_typed() {
        let reply = complete("SE", 2, &vocabulary());
        assert_eq!(matches(&reply), vec!["SELECT", "SET"]);
        let reply = complete("se", 2, &vocabulary());
        assert_eq!(matches(&reply), vec!["select", "set"]);
    }

    #[test]
    fn columns_of_mentioned_tables_come_first() {
        let code = "SELECT mo FROM movies";
        let reply = complete(code, 9, &vocabulary());
        assert_eq!(matches(&reply), vec!["movie_id", "movie_title", "movies"]);
        assert_eq!(reply["cursor_start"], 7);
        assert_eq!(reply["cursor_end"], 9);
    }

    #[test]
    fn a_qualified_name_completes_that_tables_columns() {
        let reply = complete("SELECT movies.movie_t", 21, &vocabulary());
        assert_eq!(matches(&reply), vec!["movie_title"]);
        assert_eq!(reply["cursor_start"], 14);
    }

    #[test]
    fn cursor_positions_count_code_points() {
        let code = "SELECT 'été', mov";
        let cursor = code.chars().count();
        let reply = complete(code, cursor, &vocabulary());
        assert_eq!(matches(&reply), vec!["movies"]);
        assert_eq!(reply["cursor_start"], cursor - 3);
    }

    #[test]
    fn magics_complete_after_a_percent_sign() {
        let reply = complete("%ta", 3, &vocabulary());
        assert_eq!(matches(&reply), vec!["%table"]);
        // Every magic is offered after a lone `%`, `%set` and `%config` too.
        let all = matches(&complete("%", 1, &vocabulary()));
        for magic in Magic::ALL {
            assert!(
                all.contains(&magic.name().to_string()),
                "{magic:?}: {all:?}"
            );
        }
    }

    #[test]
    fn the_word_around_the_cursor_is_inspected() {
        assert_eq!(word_around("SELECT sqrt(2)", 9), "sqrt");
        assert_eq!(word_around("SELECT * FROM movies", 20), "movies");
    }

    #[test]
    fn the_word_before_the_cursor_is_measured_in_code_points() {
        let code = "SELECT été_x, %%ta";
        assert_eq!(
            word_before(code, 12),
            ("été_x".to_string(), Span { start: 7, end: 12 })
        );
        // Both percent signs of a cell magic belong to the word; a third does not.
        assert_eq!(word_before(code, 18).0, "%%ta");
        assert_eq!(word_before("%%%ta", 5).0, "%%ta");
        // A cursor past the end (a client may send one) is the end.
        assert_eq!(word_before(code, 99).1, Span { start: 14, end: 18 });
        assert_eq!(
            word_before("", 3),
            (String::new(), Span { start: 0, end: 0 })
        );
    }

    #[test]
    fn the_word_around_a_cursor_spans_both_sides() {
        assert_eq!(word_around("SELECT été_x + 1", 9), "été_x");
        assert_eq!(word_around("SELECT movies.", 10), "movies");
        assert_eq!(word_around("a b", 99), "b");
        assert_eq!(word_around("", 0), "");
    }
}
