//! Flink statements Eddy knows and cannot run, refused by name before the parser would call
//! them a syntax error: functions and modules that are Java (or Python) classes, and jars.

use super::Tok;
use crate::error::EngineError;
use datafusion::sql::sqlparser::tokenizer::Token;

/// The error for a statement Eddy cannot run, if `segment` is one.
pub(super) fn refuse(segment: &[Tok]) -> Result<(), EngineError> {
    let words: Vec<String> = segment
        .iter()
        .take(6)
        .map(|t| match &t.token {
            Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
            _ => String::new(),
        })
        .collect();
    let starts = |prefix: &[&str]| {
        prefix.len() <= words.len() && prefix.iter().zip(&words).all(|(p, w)| p == w)
    };
    let is_class_function = starts(&["CREATE"])
        && words.iter().take(5).any(|w| w == "FUNCTION")
        && segment.iter().any(|t| t.is_word("AS"))
        && segment
            .iter()
            .any(|t| matches!(t.token, Token::SingleQuotedString(_)));
    let why = if is_class_function {
        "CREATE FUNCTION … AS 'class' loads a Java, Scala or Python class, which Eddy (one \
         native process, no JVM) cannot run; Eddy's own functions are listed by SHOW FUNCTIONS"
    } else if starts(&["ADD", "JAR"]) || starts(&["REMOVE", "JAR"]) || starts(&["SHOW", "JARS"]) {
        "a jar holds Java classes, which Eddy (one native process, no JVM) cannot run"
    } else if starts(&["LOAD", "MODULE"])
        || starts(&["UNLOAD", "MODULE"])
        || starts(&["USE", "MODULES"])
    {
        "Flink's modules are Java classes, which Eddy (one native process, no JVM) cannot load"
    } else {
        return Ok(());
    };
    Err(EngineError::NotSupported {
        message: why.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use crate::sql::flink_syntax::rewrite;

    #[test]
    fn flink_statements_eddy_cannot_run_are_refused_by_name() {
        for (sql, expected) in [
            (
                "CREATE TEMPORARY SYSTEM FUNCTION count_char AS 'com.github.nexmark.flink.udf.CountChar'",
                "loads a Java, Scala or Python class",
            ),
            (
                "CREATE FUNCTION IF NOT EXISTS f AS 'my.F' LANGUAGE PYTHON",
                "loads a Java, Scala or Python class",
            ),
            ("ADD JAR '/tmp/udf.jar'", "a jar holds Java classes"),
            ("LOAD MODULE hive WITH ('hive-version' = '3.1')", "modules are Java classes"),
        ] {
            let error = rewrite(sql).unwrap_err().to_string();
            assert!(error.contains(expected), "{sql}: {error}");
        }
        // A SQL function DataFusion runs is not refused.
        assert!(rewrite("CREATE FUNCTION add_one(x INT) RETURNS INT RETURN x + 1").is_ok());
    }
}
