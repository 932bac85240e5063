//! Flink's statement sets, in both spellings:
//!
//! ```sql
//! EXECUTE STATEMENT SET BEGIN INSERT INTO a …; INSERT INTO b …; END;
//! BEGIN STATEMENT SET; INSERT INTO a …; INSERT INTO b …; END;
//! ```
//!
//! The words DataFusion's parser does not take are marked here (and `EXECUTE STATEMENT SET
//! BEGIN` cut from the front of the first INSERT); the session groups the INSERTs between
//! the marks into one statement (`session/parse.rs`) and runs them as one job.

use super::{blank, Tok};

/// Where a statement stands in a statement set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetMarker {
    /// `BEGIN STATEMENT SET`, a statement of its own.
    Begin,
    /// `EXECUTE STATEMENT SET BEGIN` before the set's first statement.
    BeginWith,
    /// `END`, closing the set.
    End,
}

/// The set marker of a statement, cut from the text where a statement follows it.
pub(super) fn cut_set_marker(segment: &[Tok], text: &mut String) -> Option<SetMarker> {
    let is = |words: &[&str]| {
        words.len() <= segment.len() && words.iter().zip(segment).all(|(w, t)| t.is_word(w))
    };
    if is(&["BEGIN", "STATEMENT", "SET"]) && segment.len() == 3 {
        return Some(SetMarker::Begin);
    }
    if is(&["END"]) && segment.len() == 1 {
        return Some(SetMarker::End);
    }
    if is(&["EXECUTE", "STATEMENT", "SET", "BEGIN"]) {
        blank(text, segment[0].start, segment[3].end, "");
        return Some(SetMarker::BeginWith);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::SetMarker;
    use crate::sql::flink_syntax::rewrite;

    #[test]
    fn both_spellings_mark_the_set() {
        let out = rewrite(
            "EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1; INSERT INTO b SELECT 2; END;",
        )
        .unwrap();
        let marks: Vec<Option<SetMarker>> = out.statements.iter().map(|s| s.set_marker).collect();
        assert_eq!(
            marks,
            [Some(SetMarker::BeginWith), None, Some(SetMarker::End)]
        );
        assert!(
            out.text.trim_start().starts_with("INSERT INTO a"),
            "{}",
            out.text
        );
        let out = rewrite("BEGIN STATEMENT SET; INSERT INTO a SELECT 1; END").unwrap();
        let marks: Vec<Option<SetMarker>> = out.statements.iter().map(|s| s.set_marker).collect();
        assert_eq!(marks, [Some(SetMarker::Begin), None, Some(SetMarker::End)]);
        // BEGIN alone is DataFusion's transaction, not a set.
        let out = rewrite("BEGIN; SELECT 1").unwrap();
        assert_eq!(out.statements[0].set_marker, None);
    }
}
