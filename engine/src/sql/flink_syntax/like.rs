//! Flink's `CREATE TABLE t (…) WITH (…) LIKE source (EXCLUDING OPTIONS …)`: a table declared
//! from another one's columns, watermark, constraints and options, with the statement's own
//! added or put in their place. DataFusion's parser takes LIKE only right after the name, so
//! the clause is cut out here and kept beside the statement; the session merges the two
//! declarations (`session/table_like.rs`).

use super::{blank, closing_paren, syntax, word_ident, Tok};
use crate::error::{EngineError, Position};
use datafusion::sql::sqlparser::ast::Ident;
use datafusion::sql::sqlparser::tokenizer::Token;

/// What a LIKE clause does with one feature of its source table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LikeStrategy {
    /// Take the source's, and fail where the statement declares the same again.
    Including,
    /// Leave the source's out.
    Excluding,
    /// Take the source's, except where the statement declares the same.
    Overwriting,
}

/// The parts of a table declaration a LIKE clause copies, as Flink names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LikeFeature {
    Constraints,
    Generated,
    Metadata,
    Options,
    Partitions,
    Watermarks,
}

impl LikeFeature {
    const ALL: [LikeFeature; 6] = [
        LikeFeature::Constraints,
        LikeFeature::Generated,
        LikeFeature::Metadata,
        LikeFeature::Options,
        LikeFeature::Partitions,
        LikeFeature::Watermarks,
    ];

    fn from_word(tok: &Tok) -> Option<Self> {
        LikeFeature::ALL
            .into_iter()
            .find(|feature| tok.is_word(feature.name()))
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            LikeFeature::Constraints => "CONSTRAINTS",
            LikeFeature::Generated => "GENERATED",
            LikeFeature::Metadata => "METADATA",
            LikeFeature::Options => "OPTIONS",
            LikeFeature::Partitions => "PARTITIONS",
            LikeFeature::Watermarks => "WATERMARKS",
        }
    }
}

/// `LIKE source (like options)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LikeClause {
    /// The source table's name, part by part, as written.
    pub(crate) source: Vec<Ident>,
    /// The strategy for each of [`LikeFeature::ALL`], in that order.
    strategies: [LikeStrategy; 6],
    pub(crate) position: Position,
}

impl LikeClause {
    /// Flink's default: `INCLUDING ALL OVERWRITING OPTIONS`.
    fn new(source: Vec<Ident>, position: Position) -> Self {
        let mut strategies = [LikeStrategy::Including; 6];
        strategies[index(LikeFeature::Options)] = LikeStrategy::Overwriting;
        LikeClause {
            source,
            strategies,
            position,
        }
    }

    pub(crate) fn strategy(&self, feature: LikeFeature) -> LikeStrategy {
        self.strategies[index(feature)]
    }
}

fn index(feature: LikeFeature) -> usize {
    LikeFeature::ALL
        .iter()
        .position(|f| *f == feature)
        .unwrap_or_default()
}

const USAGE: &str = "LIKE is written LIKE source_table [(INCLUDING ALL | EXCLUDING OPTIONS | \
                     OVERWRITING WATERMARKS …)] at the end of a CREATE TABLE";

/// Cuts `LIKE source (…)` from the end of a CREATE TABLE statement. `LIKE` outside any
/// parentheses and before any SELECT is the clause; a `LIKE` in a CTAS's query is not.
pub(super) fn cut_like(
    segment: &[Tok],
    text: &mut String,
) -> Result<Option<LikeClause>, EngineError> {
    // `CREATE [OR REPLACE] [TEMPORARY] TABLE`.
    let is_create_table = segment.first().is_some_and(|t| t.is_word("CREATE"))
        && segment[1..]
            .iter()
            .take_while(|t| ["OR", "REPLACE", "TEMPORARY"].iter().any(|w| t.is_word(w)))
            .count()
            .checked_add(1)
            .and_then(|i| segment.get(i))
            .is_some_and(|t| t.is_word("TABLE"));
    if !is_create_table {
        return Ok(None);
    }
    let mut depth = 0i32;
    let mut at = None;
    for (i, t) in segment.iter().enumerate() {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth == 0 && (t.is_word("SELECT") || t.is_word("AS")) => return Ok(None),
            _ if depth == 0 && t.is_word("LIKE") => {
                at = Some(i);
                break;
            }
            _ => {}
        }
    }
    let Some(at) = at else {
        return Ok(None);
    };
    let position = segment[at].position;
    // The source's name: words joined by periods.
    let mut source = Vec::new();
    let mut next = at + 1;
    loop {
        match segment.get(next).and_then(word_ident) {
            Some(ident) => source.push(ident),
            None => return Err(syntax(USAGE.into(), position)),
        }
        next += 1;
        if segment.get(next).is_some_and(|t| t.token == Token::Period) {
            next += 1;
        } else {
            break;
        }
    }
    let mut clause = LikeClause::new(source, position);
    if segment.get(next).is_some_and(|t| t.token == Token::LParen) {
        let close = closing_paren(segment, next).ok_or_else(|| syntax(USAGE.into(), position))?;
        read_options(&segment[next + 1..close], &mut clause)?;
        next = close + 1;
    }
    if let Some(extra) = segment.get(next) {
        return Err(syntax(
            format!("nothing may follow the LIKE clause; {USAGE}"),
            extra.position,
        ));
    }
    let end = segment[segment.len() - 1].end;
    blank(text, segment[at].start, end, "");
    Ok(Some(clause))
}

/// `INCLUDING ALL EXCLUDING OPTIONS …`, pairs applied in order (commas allowed between).
fn read_options(toks: &[Tok], clause: &mut LikeClause) -> Result<(), EngineError> {
    let toks: Vec<&Tok> = toks.iter().filter(|t| t.token != Token::Comma).collect();
    for pair in toks.chunks(2) {
        let [strategy, feature] = pair else {
            return Err(syntax(USAGE.into(), pair[0].position));
        };
        let strategy_of = [
            ("INCLUDING", LikeStrategy::Including),
            ("EXCLUDING", LikeStrategy::Excluding),
            ("OVERWRITING", LikeStrategy::Overwriting),
        ]
        .into_iter()
        .find(|(word, _)| strategy.is_word(word))
        .map(|(_, s)| s)
        .ok_or_else(|| {
            syntax(
                "a LIKE option starts with INCLUDING, EXCLUDING or OVERWRITING".into(),
                strategy.position,
            )
        })?;
        if feature.is_word("ALL") {
            if strategy_of == LikeStrategy::Overwriting {
                return Err(syntax(
                    "OVERWRITING takes GENERATED, METADATA, OPTIONS or WATERMARKS, not ALL".into(),
                    feature.position,
                ));
            }
            clause.strategies = [strategy_of; 6];
            continue;
        }
        let Some(feature_of) = LikeFeature::from_word(feature) else {
            return Err(syntax(
                "a LIKE option names ALL, CONSTRAINTS, GENERATED, METADATA, OPTIONS, PARTITIONS \
                 or WATERMARKS"
                    .into(),
                feature.position,
            ));
        };
        if strategy_of == LikeStrategy::Overwriting
            && matches!(
                feature_of,
                LikeFeature::Constraints | LikeFeature::Partitions
            )
        {
            return Err(syntax(
                format!(
                    "{} are included or excluded, not overwritten",
                    feature_of.name()
                ),
                feature.position,
            ));
        }
        clause.strategies[index(feature_of)] = strategy_of;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{LikeFeature, LikeStrategy};
    use crate::sql::flink_syntax::rewrite;

    #[test]
    fn the_like_clause_is_cut_from_the_end_with_flinks_defaults() {
        let sql =
            "CREATE TABLE t2 (WATERMARK FOR ts AS ts) WITH ('rows-per-second' = '5') LIKE `db`.t1";
        let out = rewrite(sql).unwrap();
        assert_eq!(out.text.len(), sql.len());
        assert!(!out.text.contains("LIKE"), "{}", out.text);
        let like = out.statements[0].like.as_ref().unwrap();
        let names: Vec<&str> = like.source.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(names, ["db", "t1"]);
        assert_eq!(
            like.strategy(LikeFeature::Options),
            LikeStrategy::Overwriting
        );
        assert_eq!(
            like.strategy(LikeFeature::Watermarks),
            LikeStrategy::Including
        );
    }

    #[test]
    fn like_options_apply_in_order() {
        let out = rewrite(
            "CREATE TABLE t2 WITH ('connector' = 'print') LIKE t1 (EXCLUDING ALL INCLUDING GENERATED)",
        )
        .unwrap();
        let like = out.statements[0].like.as_ref().unwrap();
        assert_eq!(
            like.strategy(LikeFeature::Generated),
            LikeStrategy::Including
        );
        assert_eq!(like.strategy(LikeFeature::Options), LikeStrategy::Excluding);
        assert_eq!(
            like.strategy(LikeFeature::Constraints),
            LikeStrategy::Excluding
        );
    }

    #[test]
    fn mistakes_in_a_like_clause_name_themselves() {
        for (sql, expected) in [
            ("CREATE TABLE t2 LIKE t1 (OVERWRITING ALL)", "not ALL"),
            (
                "CREATE TABLE t2 LIKE t1 (OVERWRITING PARTITIONS)",
                "not overwritten",
            ),
            (
                "CREATE TABLE t2 LIKE t1 (KEEPING OPTIONS)",
                "starts with INCLUDING",
            ),
            ("CREATE TABLE t2 LIKE t1 (INCLUDING COLUMNS)", "names ALL"),
            ("CREATE TABLE t2 LIKE t1 (INCLUDING)", "LIKE is written"),
            ("CREATE TABLE t2 LIKE t1 x", "nothing may follow"),
            ("CREATE TABLE t2 LIKE", "LIKE is written"),
        ] {
            let error = rewrite(sql).unwrap_err().to_string();
            assert!(error.contains(expected), "{sql}: {error}");
        }
    }

    #[test]
    fn a_like_inside_a_query_or_an_expression_is_not_the_clause() {
        for sql in [
            "CREATE TABLE t AS SELECT * FROM s WHERE a LIKE 'x%'",
            "CREATE TABLE t (a INT, b AS a LIKE 'x') WITH ('connector' = 'datagen')",
            "SELECT * FROM s WHERE a LIKE 'x%'",
        ] {
            let out = rewrite(sql).unwrap();
            assert!(out.statements[0].like.is_none(), "{sql}");
        }
    }
}
