//! A cell's text cut into the statements a Flink SQL Gateway runs one by one. Flink parses
//! them, not Eddy: a statement is cut at each `;` outside quotes and comments, and kept as
//! written, so Flink's errors point into the user's own text.

/// One statement of a cell, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlinkStatement {
    pub text: String,
    /// The cell line it starts on, counted from 0.
    pub line: usize,
}

/// The statements of `cell`, without empty ones. A statement set written as Flink's SQL
/// client takes it (`BEGIN STATEMENT SET; INSERT …; INSERT …; END;`) becomes the one
/// statement the gateway runs (`EXECUTE STATEMENT SET BEGIN INSERT …; INSERT …; END`).
pub fn split_statements(cell: &str) -> Vec<FlinkStatement> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut chars = cell.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                // A quote ends at its next twin; a doubled twin is an escaped one.
                while let Some((_, inner)) = chars.next() {
                    if inner == c {
                        if chars.peek().is_some_and(|&(_, next)| next == c) {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            '-' if chars.peek().is_some_and(|&(_, next)| next == '-') => {
                for (_, inner) in chars.by_ref() {
                    if inner == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek().is_some_and(|&(_, next)| next == '*') => {
                chars.next();
                let mut star = false;
                for (_, inner) in chars.by_ref() {
                    if star && inner == '/' {
                        break;
                    }
                    star = inner == '*';
                }
            }
            ';' => {
                pieces.push((start, at));
                start = at + 1;
            }
            _ => {}
        }
    }
    pieces.push((start, cell.len()));
    let statements = pieces.into_iter().filter_map(|(from, to)| {
        let piece = &cell[from..to];
        let text = piece.trim();
        // A piece of nothing but comments is no statement.
        if text.is_empty() || strip_comments(text).trim().is_empty() {
            return None;
        }
        let lead = piece.len() - piece.trim_start().len();
        let line = cell[..from + lead].matches('\n').count();
        Some(FlinkStatement {
            text: text.to_string(),
            line,
        })
    });
    join_statement_sets(statements)
}

/// `BEGIN STATEMENT SET; …; END` as the one statement the gateway runs.
fn join_statement_sets(statements: impl Iterator<Item = FlinkStatement>) -> Vec<FlinkStatement> {
    let mut joined: Vec<FlinkStatement> = Vec::new();
    let mut open: Option<(usize, Vec<String>)> = None;
    for statement in statements {
        let words = words(&statement.text);
        match open.as_mut() {
            None if words == ["BEGIN", "STATEMENT", "SET"] => {
                open = Some((statement.line, Vec::new()));
            }
            None => joined.push(statement),
            Some(_) if words == ["END"] => {
                if let Some((line, inserts)) = open.take() {
                    joined.push(FlinkStatement {
                        text: format!("EXECUTE STATEMENT SET BEGIN\n{};\nEND", inserts.join(";\n")),
                        line,
                    });
                }
            }
            Some((_, inserts)) => inserts.push(statement.text),
        }
    }
    // A set never ended: its statements go as they are, and Flink says what is wrong.
    if let Some((line, inserts)) = open {
        joined.push(FlinkStatement {
            text: "BEGIN STATEMENT SET".into(),
            line,
        });
        joined.extend(
            inserts
                .into_iter()
                .map(|text| FlinkStatement { text, line }),
        );
    }
    joined
}

fn words(text: &str) -> Vec<String> {
    strip_comments(text)
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect()
}

/// The text without its `--` and `/* */` comments (quotes are not looked at: used only on
/// statements of a few keywords).
fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    loop {
        let line = rest.find("--");
        let block = rest.find("/*");
        match (line, block) {
            (Some(l), b) if b.is_none_or(|b| l < b) => {
                out.push_str(&rest[..l]);
                rest = rest[l..].split_once('\n').map_or("", |(_, after)| after);
            }
            (_, Some(b)) => {
                out.push_str(&rest[..b]);
                rest = rest[b..].split_once("*/").map_or("", |(_, after)| after);
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(cell: &str) -> Vec<String> {
        split_statements(cell).into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn statements_are_cut_at_semicolons_outside_quotes_and_comments() {
        let cell = "CREATE TABLE t (s STRING) WITH ('a' = 'x;y');\n\
                    -- a comment; still a comment\n\
                    SELECT 'it''s; fine', `odd;name` /* ; */ FROM t;\n\
                    ;  -- nothing\n";
        assert_eq!(
            texts(cell),
            vec![
                "CREATE TABLE t (s STRING) WITH ('a' = 'x;y')",
                "-- a comment; still a comment\nSELECT 'it''s; fine', `odd;name` /* ; */ FROM t",
            ]
        );
        let lines: Vec<usize> = split_statements(cell).iter().map(|s| s.line).collect();
        assert_eq!(lines, vec![0, 1]);
    }

    #[test]
    fn a_statement_set_becomes_one_statement() {
        let cell = "BEGIN STATEMENT SET;\nINSERT INTO a SELECT 1;\nINSERT INTO b SELECT 2;\nEND;\nSELECT 3";
        assert_eq!(
            texts(cell),
            vec![
                "EXECUTE STATEMENT SET BEGIN\nINSERT INTO a SELECT 1;\nINSERT INTO b SELECT 2;\nEND",
                "SELECT 3",
            ]
        );
    }
}
