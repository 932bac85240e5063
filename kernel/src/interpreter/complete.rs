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

/// The word ending at `cursor` (code points), and its span.
pub fn word_before(code: &str, cursor: usize) -> (String, Span) {
    let chars: Vec<char> = code.chars().collect();
    let end = cursor.min(chars.len());
    let mut start = end;
    while start > 0 && is_word_char(chars[start - 1]) {
        start -= 1;
    }
    if start > 0 && chars[start - 1] == '%' {
        start -= 1;
        if start > 0 && chars[start - 1] == '%' {
            start -= 1;
        }
    }
    (chars[start..end].iter().collect(), Span { start, end })
}

/// The whole word around `cursor` (for inspection).
pub fn word_around(code: &str, cursor: usize) -> String {
    let chars: Vec<char> = code.chars().collect();
    let cursor = cursor.min(chars.len());
    let mut start = cursor;
    while start > 0 && is_word_char(chars[start - 1]) {
        start -= 1;
    }
    let mut end = cursor;
    while end < chars.len() && is_word_char(chars[end]) {
        end += 1;
    }
    chars[start..end]
        .iter()
        .collect::<String>()
        .trim_matches('.')
        .to_string()
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
    let mentioned = mentioned_words(code);
    let mut found: Vec<Candidate> = Vec::new();
    let push = |text: String, kind: &'static str, found: &mut Vec<Candidate>| {
        if !found.iter().any(|c| c.text == text) {
            found.push(Candidate { text, kind });
        }
    };
    for table in &vocabulary.tables {
        if mentioned
            .iter()
            .any(|w| w.eq_ignore_ascii_case(&table.name))
        {
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

fn mentioned_words(code: &str) -> Vec<&str> {
    code.split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
        .collect()
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
}
