//! A notebook connected to a Flink SQL Gateway (`%connect flink://HOST:PORT`): every
//! statement goes to Flink as the user wrote it; DDL and SET change the gateway session, a
//! query becomes a Flink job whose result is fed to the same live display Eddy's own
//! continuous queries use.

use super::gateway::{GatewaySession, Operation, Payload};
use super::result_feed::{self, Started};
use super::result_rows::{JsonRow, RowDecoder};
use crate::error::EngineError;
use crate::result::{FirstRows, StatementResult};
use crate::stream::{ContinuousQuery, StreamKind};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The gateway's REST port when the address has none (`sql-gateway.endpoint.rest.port`).
const DEFAULT_PORT: u16 = 8083;

/// How often the session is said to be in use: well inside the gateway's default idle
/// timeout (`sql-gateway.session.idle-timeout`, 10 minutes).
const HEARTBEAT: Duration = Duration::from_secs(60);

pub(crate) struct FlinkGateway {
    session: Arc<GatewaySession>,
    url: String,
    heartbeat: JoinHandle<()>,
}

impl FlinkGateway {
    /// Opens a session on the gateway at `url` (`flink://HOST[:PORT]`).
    pub(crate) async fn connect(url: &str) -> Result<Self, EngineError> {
        let address = address_of(url)?;
        let session = Arc::new(GatewaySession::open(&address).await?);
        let beating = Arc::downgrade(&session);
        let heartbeat = tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                let Some(session) = beating.upgrade() else {
                    return;
                };
                // A missed beat is retried at the next; a session that is gone is reported
                // by the next statement.
                let _ = session.heartbeat().await;
            }
        });
        Ok(FlinkGateway {
            session,
            url: format!("flink://{address}"),
            heartbeat,
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// What the gateway said it runs (`Apache Flink 2.3.0`).
    pub(crate) fn product(&self) -> &str {
        self.session.product()
    }

    /// Runs one statement on Flink. A query's result arrives as a continuous query's
    /// updates; anything else's rows (SHOW, DESCRIBE, EXPLAIN, an INSERT's job id) come
    /// whole. Dropping the future before it returns cancels the statement on Flink.
    pub(crate) async fn run(
        &self,
        statement: &str,
        max_rows: usize,
    ) -> Result<StatementResult, EngineError> {
        // Asked first, so a query that cannot run fails here, before a job is started, and
        // the display knows whether the result only grows or also changes.
        let updating = match is_query(statement) {
            true => self.updates_rows(statement).await?,
            // Rows of a statement Flink calls a query though it does not start like one:
            // shown as a table kept current, which is right either way.
            false => true,
        };
        let (mut pending, first) = self.submit(statement).await?;
        let done = || StatementResult::Done {
            message: format!("{} done on Flink at {}", done_what(statement), self.url),
        };
        let Some(first) = first else {
            pending.close().await;
            return Ok(done());
        };
        if first.is_query {
            let decoder = RowDecoder::new(&first.columns);
            let schema = decoder.schema();
            let kind = match updating {
                true => StreamKind::Updating { key: Vec::new() },
                false => StreamKind::Append,
            };
            let ran_on = match &first.job {
                Some(job) => format!("Flink job {job} at {}", self.url),
                None => format!("Flink at {}", self.url),
            };
            let started = Started {
                decoder,
                first_rows: first.rows,
                next: first.next,
                updating,
            };
            let session = self.session.clone();
            let operation = pending.hand_over();
            return Ok(StatementResult::Stream(ContinuousQuery::run_elsewhere(
                schema,
                kind,
                ran_on,
                move |feed| result_feed::run(session, operation, started, feed),
            )));
        }
        if !first.content {
            pending.close().await;
            return Ok(done());
        }
        let decoder = RowDecoder::new(&first.columns);
        let mut rows = FirstRows::default();
        self.each_page(first, |page| {
            if !page.is_empty() {
                rows.push(decoder.decode(&page)?.0, max_rows);
            }
            Ok(())
        })
        .await?;
        pending.close().await;
        Ok(StatementResult::Rows(rows.into_rows(
            decoder.schema(),
            Some(format!("Flink at {}", self.url)),
        )))
    }

    /// Whether the query's result has updates or deletes, from the changelog mode Flink's
    /// planner gives the plan's root (`EXPLAIN CHANGELOG_MODE`).
    async fn updates_rows(&self, query: &str) -> Result<bool, EngineError> {
        let (mut pending, first) = self
            .submit(&format!("EXPLAIN CHANGELOG_MODE {query}"))
            .await?;
        let mut explained = String::new();
        if let Some(first) = first {
            self.each_page(first, |page| {
                explained.extend(page.iter().filter_map(JsonRow::first_text));
                Ok(())
            })
            .await?;
        }
        pending.close().await;
        // No plan to read: shown as a table kept current, which is right either way.
        Ok(root_changelog_mode(&explained).is_none_or(|mode| mode != "[I]"))
    }

    /// Submits a statement and waits for the first page of its result (`None`: it has no
    /// rows at all). The operation is the caller's to close or hand over.
    async fn submit(&self, statement: &str) -> Result<(Pending, Option<Payload>), EngineError> {
        let operation = self.session.submit(statement).await?;
        let first = self.session.first_page(&operation);
        let pending = Pending {
            session: self.session.clone(),
            operation: Some(operation),
        };
        // Dropped with `pending` on an error or an interrupt: the operation is closed.
        let first = self.session.payload(&first).await?;
        Ok((pending, first))
    }

    /// Takes the rows of `page` and of every page after it, to the end of the result.
    async fn each_page(
        &self,
        mut page: Payload,
        mut take: impl FnMut(Vec<JsonRow>) -> Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        loop {
            take(std::mem::take(&mut page.rows))?;
            let Some(next) = page.next.take() else {
                return Ok(());
            };
            match self.session.payload(&next).await? {
                Some(after) => page = after,
                None => return Ok(()),
            }
        }
    }
}

impl Drop for FlinkGateway {
    /// The session itself closes when its last user is gone: a query still running in the
    /// background (`%sql --background`) keeps it open until it ends.
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

/// An operation the gateway runs until it is handed to a result feed or closed; dropped
/// before either (an interrupt while the first page is awaited), it is cancelled on Flink.
struct Pending {
    session: Arc<GatewaySession>,
    operation: Option<Operation>,
}

impl Pending {
    fn hand_over(&mut self) -> Operation {
        self.operation
            .take()
            .expect("an operation is handed over once")
    }

    async fn close(&mut self) {
        if let Some(operation) = self.operation.take() {
            let _ = self.session.close(&operation).await;
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(operation) = self.operation.take() else {
            return;
        };
        let session = self.session.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = session.close(&operation).await;
            });
        }
    }
}

/// `HOST:PORT` of `flink://HOST[:PORT]`.
fn address_of(url: &str) -> Result<String, EngineError> {
    let rest = url
        .strip_prefix("flink://")
        .ok_or_else(|| EngineError::Flink {
            message: format!("{url} is not a Flink SQL Gateway address"),
            hint: Some("write it flink://HOST:PORT".into()),
        })?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') || rest.contains('@') {
        return Err(EngineError::Flink {
            message: format!("{url} is not a Flink SQL Gateway address"),
            hint: Some("write it flink://HOST:PORT, the gateway's REST endpoint".into()),
        });
    }
    Ok(match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => rest.to_string(),
        Some(_) => {
            return Err(EngineError::Flink {
                message: format!("{url}: the port must be a number from 1 to 65535"),
                hint: None,
            })
        }
        None => format!("{rest}:{DEFAULT_PORT}"),
    })
}

/// Whether a statement is a query (its result is a table that may grow or change), from
/// its first word.
fn is_query(statement: &str) -> bool {
    let word = first_word(statement);
    ["SELECT", "WITH", "VALUES", "TABLE", "("]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w))
}

/// The first word of a statement, past comments and opening parentheses.
fn first_word(statement: &str) -> &str {
    let mut text = statement.trim_start();
    loop {
        if let Some(rest) = text.strip_prefix("--") {
            text = rest
                .split_once('\n')
                .map_or("", |(_, after)| after)
                .trim_start();
        } else if let Some(rest) = text.strip_prefix("/*") {
            text = rest
                .split_once("*/")
                .map_or("", |(_, after)| after)
                .trim_start();
        } else {
            break;
        }
    }
    if text.starts_with('(') {
        return "(";
    }
    let end = text
        .find(|c: char| !c.is_alphanumeric() && c != '_')
        .unwrap_or(text.len());
    &text[..end]
}

/// What a statement without rows did, in its own words (`CREATE TABLE`, `SET`).
fn done_what(statement: &str) -> String {
    let words: Vec<&str> = statement.split_whitespace().take(2).collect();
    let head = match words.first() {
        Some(w)
            if w.eq_ignore_ascii_case("CREATE")
                || w.eq_ignore_ascii_case("DROP")
                || w.eq_ignore_ascii_case("ALTER") =>
        {
            words.join(" ")
        }
        Some(w) => (*w).to_string(),
        None => String::new(),
    };
    head.to_ascii_uppercase()
}

/// The changelog mode of the root of the optimised plan in `EXPLAIN CHANGELOG_MODE`'s text
/// (`[I]`, `[I,UB,UA]`, `[I,UB,UA,D]`).
fn root_changelog_mode(explained: &str) -> Option<&str> {
    let plan = explained.split("== Optimized Physical Plan ==").nth(1)?;
    let root = plan.lines().map(str::trim).find(|line| !line.is_empty())?;
    let at = root.rfind("changelogMode=")?;
    let mode = &root[at + "changelogMode=".len()..];
    let end = mode.find(']')?;
    Some(&mode[..=end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_take_the_gateway_port_when_none_is_written() {
        assert_eq!(address_of("flink://localhost").unwrap(), "localhost:8083");
        assert_eq!(
            address_of("flink://127.0.0.1:9999/").unwrap(),
            "127.0.0.1:9999"
        );
        assert!(address_of("flink://host:port").is_err());
        assert!(address_of("flink://host/path").is_err());
        assert!(address_of("df://host:1").is_err());
    }

    #[test]
    fn queries_are_told_by_their_first_word() {
        assert!(is_query("  -- the top films\n/* c */ select 1"));
        assert!(is_query("(SELECT 1) UNION (SELECT 2)"));
        assert!(is_query("WITH a AS (SELECT 1) SELECT * FROM a"));
        assert!(!is_query("INSERT INTO t SELECT 1"));
        assert!(!is_query("SET 'a' = 'b'"));
        assert!(!is_query("EXPLAIN SELECT 1"));
    }

    #[test]
    fn the_root_changelog_mode_is_read_from_the_optimised_plan() {
        let explained = "== Abstract Syntax Tree ==\nLogicalAggregate(group=[{0}])\n\n\
            == Optimized Physical Plan ==\n\
            GroupAggregate(groupBy=[k], select=[k, COUNT(*) AS c], changelogMode=[I,UB,UA])\n\
            +- Exchange(distribution=[hash[k]], changelogMode=[I])\n\n\
            == Optimized Execution Plan ==\nGroupAggregate(...)\n";
        assert_eq!(root_changelog_mode(explained), Some("[I,UB,UA]"));
        let append = "== Optimized Physical Plan ==\nCalc(select=[a], changelogMode=[I])\n";
        assert_eq!(root_changelog_mode(append), Some("[I]"));
    }
}
