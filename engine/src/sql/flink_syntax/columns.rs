//! The Flink clauses of a CREATE TABLE's column list that DataFusion's parser does not know:
//! `WATERMARK FOR ts AS …`, and computed columns `name AS expression` (Nexmark's `dateTime
//! AS CASE … END`, `pt AS PROCTIME()`), and the `METADATA [FROM 'key'] [VIRTUAL]` of a
//! metadata column (the column itself stays).
//!
//! Each is cut out with commas chosen so that what is left is still a list: the comma after
//! a kept column stays when another kept column follows, every other comma goes.

use super::{
    blank, closing_paren, identifier, source_text, syntax, ComputedColumn, MetadataColumn, Tok,
    WatermarkDecl,
};
use crate::error::EngineError;
use datafusion::sql::sqlparser::tokenizer::Token;

/// What the column list of a CREATE TABLE declares beside its columns.
#[derive(Default)]
pub(super) struct ColumnClauses {
    pub(super) watermark: Option<WatermarkDecl>,
    pub(super) computed: Vec<ComputedColumn>,
    pub(super) metadata: Vec<MetadataColumn>,
}

/// Cuts the WATERMARK and the computed columns out of a CREATE TABLE's column list.
pub(super) fn cut_column_clauses(
    segment: &[Tok],
    text: &mut String,
) -> Result<ColumnClauses, EngineError> {
    let mut found = ColumnClauses::default();
    let Some(open) = segment.iter().position(|t| t.token == Token::LParen) else {
        return Ok(found);
    };
    // `CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS] name (`: the parenthesis of a
    // CAST or a subquery in `CREATE TABLE t AS SELECT …` holds no column list.
    let head = &segment[..open];
    let is_column_list = head.iter().any(|t| t.is_word("TABLE"))
        && !head.iter().any(|t| t.is_word("AS") || t.is_word("WITH"))
        && head
            .iter()
            .all(|t| matches!(t.token, Token::Word(_) | Token::Period));
    if !is_column_list {
        return Ok(found);
    }
    let Some(close) = closing_paren(segment, open) else {
        return Ok(found);
    };
    let original = text.clone();
    let parts = split_columns(&segment[open + 1..close]);
    // Whether each entry stays for DataFusion's parser (a column or a constraint).
    let mut kept = Vec::with_capacity(parts.len());
    let mut declared_columns = 0;
    for part in &parts {
        if let Some(watermark) = watermark(part, &original)? {
            if found.watermark.is_some() {
                return Err(syntax(
                    "a table has one WATERMARK".into(),
                    watermark.position,
                ));
            }
            found.watermark = Some(watermark);
            kept.push(false);
        } else if let Some(mut computed) = computed_column(part, &original)? {
            computed.index = declared_columns;
            declared_columns += 1;
            found.computed.push(computed);
            kept.push(false);
        } else {
            if !is_constraint(part) {
                declared_columns += 1;
                if let Some((metadata, from)) = metadata_column(part)? {
                    // The column stays, its type ending where METADATA starts.
                    if let Some(last) = part.last() {
                        blank(text, part[from].start, last.end, "");
                    }
                    found.metadata.push(metadata);
                }
            }
            kept.push(true);
        }
    }
    if kept.iter().all(|k| *k) {
        return Ok(found);
    }
    // Blank every cut entry, and every comma but the one after a kept entry that another
    // kept entry follows.
    let mut comma_after = open + 1;
    for (i, part) in parts.iter().enumerate() {
        if let (Some(first), Some(last)) = (part.first(), part.last()) {
            if !kept[i] {
                blank(text, first.start, last.end, "");
            }
        }
        comma_after += part.len();
        let is_comma = segment
            .get(comma_after)
            .is_some_and(|t| t.token == Token::Comma && comma_after < close);
        if is_comma {
            let keep = kept[i] && kept[i + 1..].iter().any(|k| *k);
            if !keep {
                let comma = &segment[comma_after];
                blank(text, comma.start, comma.end, "");
            }
        }
        comma_after += 1;
    }
    Ok(found)
}

/// Splits a column list at its commas: those outside parentheses and outside the angle
/// brackets of a nested type (`ROW<a INT, b INT>`). A `<` opens a bracket only after a type
/// name, so a comparison in a computed column's expression does not.
fn split_columns(toks: &[Tok]) -> Vec<&[Tok]> {
    let mut parts = Vec::new();
    let (mut parens, mut angles) = (0i32, 0i32);
    let mut from = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.token {
            Token::LParen => parens += 1,
            Token::RParen => parens -= 1,
            Token::Lt
                if i > 0
                    && ["ROW", "ARRAY", "MAP", "MULTISET", "STRUCT"]
                        .iter()
                        .any(|w| toks[i - 1].is_word(w)) =>
            {
                angles += 1
            }
            Token::Gt if angles > 0 => angles -= 1,
            Token::ShiftRight if angles > 0 => angles = (angles - 2).max(0),
            Token::Comma if parens == 0 && angles == 0 => {
                parts.push(&toks[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&toks[from..]);
    parts
}

/// `WATERMARK FOR ts AS expr`.
fn watermark(part: &[Tok], original: &str) -> Result<Option<WatermarkDecl>, EngineError> {
    if !(part.first().is_some_and(|t| t.is_word("WATERMARK"))
        && part.get(1).is_some_and(|t| t.is_word("FOR")))
    {
        return Ok(None);
    }
    let position = part[0].position;
    let column = part.get(2).and_then(identifier);
    let as_kw = part.get(3).is_some_and(|t| t.is_word("AS"));
    let (Some(column), true, Some(_)) = (column, as_kw, part.get(4)) else {
        return Err(syntax(
            "WATERMARK is written WATERMARK FOR column AS column - INTERVAL '5' SECOND".into(),
            position,
        ));
    };
    let expression = source_text(original, &part[4..]).to_string();
    let after_column = (identifier(&part[4]).as_ref() == Some(&column))
        .then(|| source_text(original, &part[5..]).to_string());
    Ok(Some(WatermarkDecl {
        column,
        expression,
        after_column,
        position,
    }))
}

/// `name AS expression`: a column whose value is computed from the others.
fn computed_column(part: &[Tok], original: &str) -> Result<Option<ComputedColumn>, EngineError> {
    let (Some(name), Some(as_kw)) = (part.first(), part.get(1)) else {
        return Ok(None);
    };
    if !as_kw.is_word("AS") || !matches!(name.token, Token::Word(_)) {
        return Ok(None);
    }
    let Some(column) = identifier(name) else {
        return Ok(None);
    };
    if part.len() < 3 {
        return Err(syntax(
            format!(
                "the computed column {column} has no expression: write {column} AS <expression>"
            ),
            name.position,
        ));
    }
    Ok(Some(ComputedColumn {
        name: column,
        expression: source_text(original, &part[2..]).to_string(),
        index: 0,
        position: part[2].position,
    }))
}

/// `name TYPE METADATA [FROM 'key'] [VIRTUAL]`: the column, and where `METADATA` is in `part`.
fn metadata_column(part: &[Tok]) -> Result<Option<(MetadataColumn, usize)>, EngineError> {
    let Some(at) = part.iter().skip(2).position(|t| t.is_word("METADATA")) else {
        return Ok(None);
    };
    let at = at + 2;
    let Some(name) = part.first().and_then(identifier) else {
        return Ok(None);
    };
    let position = part[at].position;
    let mut rest = &part[at + 1..];
    let mut key = name.clone();
    if rest.first().is_some_and(|t| t.is_word("FROM")) {
        match rest.get(1).map(|t| &t.token) {
            Some(Token::SingleQuotedString(from)) => key = from.clone(),
            _ => {
                return Err(syntax(
                    format!(
                        "the metadata column {name} names its key as a string: \
                         {name} … METADATA FROM 'timestamp'"
                    ),
                    position,
                ))
            }
        }
        rest = &rest[2..];
    }
    let is_virtual = rest.first().is_some_and(|t| t.is_word("VIRTUAL"));
    if is_virtual {
        rest = &rest[1..];
    }
    if let Some(extra) = rest.first() {
        return Err(syntax(
            format!(
                "a metadata column is written {name} TYPE METADATA [FROM 'key'] [VIRTUAL]; \
                 {} does not belong there",
                extra.token
            ),
            extra.position,
        ));
    }
    Ok(Some((
        MetadataColumn {
            name,
            key,
            is_virtual,
            position,
        },
        at,
    )))
}

/// `PRIMARY KEY (…)`, `CONSTRAINT …`, `UNIQUE (…)`: entries of the list that are not columns.
fn is_constraint(part: &[Tok]) -> bool {
    part.first().is_some_and(|t| {
        ["PRIMARY", "CONSTRAINT", "UNIQUE", "FOREIGN", "CHECK"]
            .iter()
            .any(|word| t.is_word(word))
    })
}

#[cfg(test)]
mod tests {
    use crate::sql::flink_syntax::rewrite;

    /// The text left for DataFusion's parser, with runs of whitespace made one space.
    fn left(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn computed_columns_are_cut_out_with_their_commas() {
        let sql = "CREATE TABLE t (a BIGINT, `dateTime` AS CASE WHEN a = 0 THEN NULL ELSE a END, \
                   b AS PROCTIME(), c INT, WATERMARK FOR `dateTime` AS `dateTime`) \
                   WITH ('connector' = 'datagen')";
        let out = rewrite(sql).unwrap();
        assert_eq!(out.text.len(), sql.len());
        let parts = &out.statements[0];
        let computed: Vec<(&str, &str, usize)> = parts
            .computed
            .iter()
            .map(|c| (c.name.as_str(), c.expression.as_str(), c.index))
            .collect();
        assert_eq!(
            computed,
            [
                ("dateTime", "CASE WHEN a = 0 THEN NULL ELSE a END", 1),
                ("b", "PROCTIME()", 2)
            ]
        );
        assert_eq!(parts.watermark.as_ref().unwrap().column, "dateTime");
        assert!(
            left(&out.text).contains("(a BIGINT, c INT )"),
            "{}",
            out.text
        );
        datafusion::sql::parser::DFParserBuilder::new(out.text.as_str())
            .build()
            .unwrap()
            .parse_statements()
            .unwrap();
    }

    #[test]
    fn a_computed_column_first_or_last_leaves_a_list() {
        for (sql, expected) in [
            ("CREATE TABLE t (b AS a + 1, a INT)", "( a INT)"),
            ("CREATE TABLE t (a INT, b AS a + 1)", "(a INT )"),
            (
                "CREATE TABLE t (a INT, b AS (a, 1), PRIMARY KEY (a))",
                "(a INT, PRIMARY KEY (a))",
            ),
        ] {
            let out = rewrite(sql).unwrap();
            assert!(left(&out.text).contains(expected), "{sql}: {}", out.text);
        }
        let out = rewrite("CREATE TABLE t (a INT, PRIMARY KEY (a), b AS a + 1)").unwrap();
        assert_eq!(out.statements[0].computed[0].index, 1);
        // Commas inside a nested type do not part columns; a comparison opens no bracket.
        let out = rewrite(
            "CREATE TABLE t (p ROW<a INT, b ARRAY<MAP<STRING, INT>>>, c AS a < 1, d INT, e AS d > 2)",
        )
        .unwrap();
        let indexes: Vec<usize> = out.statements[0].computed.iter().map(|c| c.index).collect();
        assert_eq!(indexes, [1, 3]);
        // Not a column list: the statement stays as it is.
        for sql in [
            "CREATE TABLE t AS SELECT CAST(a AS INT) FROM s",
            "CREATE VIEW v AS SELECT * FROM (SELECT a AS b FROM s)",
        ] {
            let out = rewrite(sql).unwrap();
            assert_eq!(out.text, sql);
            assert!(out.statements[0].computed.is_empty());
        }
    }

    #[test]
    fn a_computed_column_without_an_expression_says_how_to_write_it() {
        let error = rewrite("CREATE TABLE t (a INT, b AS)").unwrap_err();
        assert!(
            error.to_string().contains("write b AS <expression>"),
            "{error}"
        );
    }

    #[test]
    fn a_quoted_time_column_is_the_column_in_the_expression_too() {
        let sql = "CREATE TABLE b (`dateTime` TIMESTAMP(3), \
                   WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) \
                   WITH ('connector' = 'datagen')";
        let wm = rewrite(sql).unwrap().statements[0]
            .watermark
            .clone()
            .unwrap();
        assert_eq!(wm.column, "dateTime");
        assert_eq!(wm.after_column.as_deref(), Some("- INTERVAL '4' SECOND"));
    }
    #[test]
    fn watermark_clause_is_cut_out_and_positions_stay() {
        let sql = "CREATE TABLE clicks (\n  user_id INT,\n  ts TIMESTAMP(3),\n  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND\n) WITH ('connector' = 'datagen')";
        let out = rewrite(sql).unwrap();
        assert_eq!(out.text.len(), sql.len());
        assert_eq!(out.text.lines().count(), sql.lines().count());
        assert!(!out.text.contains("WATERMARK"));
        assert!(out.text.contains("ts TIMESTAMP(3) "));
        let wm = out.statements[0].watermark.clone().unwrap();
        assert_eq!(wm.column, "ts");
        assert_eq!(wm.expression, "ts - INTERVAL '5' SECOND");
        assert_eq!(wm.after_column.as_deref(), Some("- INTERVAL '5' SECOND"));
        // What is left parses.
        datafusion::sql::parser::DFParserBuilder::new(out.text.as_str())
            .build()
            .unwrap()
            .parse_statements()
            .unwrap();
    }
    #[test]
    fn metadata_columns_stay_columns_without_their_metadata_clause() {
        let sql =
            "CREATE TABLE t (\n  n INT,\n  ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',\n  \
                   `partition` INT METADATA VIRTUAL,\n  m INT\n) WITH ('connector' = 'kafka')";
        let out = rewrite(sql).unwrap();
        assert_eq!(out.text.len(), sql.len());
        assert_eq!(
            left(&out.text),
            "CREATE TABLE t ( n INT, ts TIMESTAMP_LTZ(3) , `partition` INT , m INT ) WITH \
             ('connector' = 'kafka')"
        );
        let metadata = &out.statements[0].metadata;
        assert_eq!(
            metadata
                .iter()
                .map(|m| (m.name.as_str(), m.key.as_str(), m.is_virtual))
                .collect::<Vec<_>>(),
            vec![("ts", "timestamp", false), ("partition", "partition", true)]
        );
        let bad = rewrite("CREATE TABLE t (ts TIMESTAMP(3) METADATA FROM timestamp) WITH ()");
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("METADATA FROM 'timestamp'"));
    }

    #[test]
    fn watermark_first_in_the_list_takes_the_comma_after_it() {
        let sql =
            "CREATE TABLE t (WATERMARK FOR ts AS ts, ts TIMESTAMP(3)) WITH ('connector'='datagen')";
        let out = rewrite(sql).unwrap();
        assert!(out
            .text
            .contains("(                        ts TIMESTAMP(3))"));
    }
}
