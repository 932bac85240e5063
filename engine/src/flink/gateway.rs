//! One session of a Flink SQL Gateway (its REST API, v3 or later): statements are submitted
//! as operations, whose results are fetched page by page, and cancelled or closed.

use super::result_rows::{JsonColumn, JsonRow};
use crate::error::EngineError;
use crate::rest::{CallError, Rest};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// The oldest REST API version that has what Eddy uses (results with their row kinds as
/// JSON, `…/result/N?rowFormat=JSON`).
const API: &str = "v3";

/// A session opened on the gateway; the gateway keeps its catalog (tables declared through
/// it) until it is closed or sits idle past the gateway's timeout.
pub(super) struct GatewaySession {
    rest: Rest,
    /// `HOST:PORT`, as the user wrote it.
    address: String,
    handle: String,
    /// What the gateway said it is (`Apache Flink 2.3.0`).
    product: String,
}

/// A statement submitted in a session.
#[derive(Debug, Clone)]
pub(super) struct Operation(String);

/// How long to wait before asking again for a page that is not ready (or came back empty
/// from a running query): the delay added to a row's way to the display.
pub(super) const POLL: Duration = Duration::from_millis(100);

/// One answer to a fetch.
pub(super) enum Page {
    /// Nothing yet: ask again for the same page.
    NotReady,
    Payload(Payload),
    /// The result has no more rows.
    End,
}

/// Rows of a result (maybe none), and where the next page is, if there is one.
pub(super) struct Payload {
    pub(super) columns: Vec<JsonColumn>,
    pub(super) rows: Vec<JsonRow>,
    pub(super) is_query: bool,
    /// False for a statement that only succeeded (DDL, SET): its one row says "OK".
    pub(super) content: bool,
    pub(super) job: Option<String>,
    pub(super) next: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FetchAnswer {
    result_type: String,
    #[serde(default)]
    is_query_result: bool,
    #[serde(default)]
    result_kind: Option<String>,
    #[serde(rename = "jobID", default)]
    job_id: Option<String>,
    #[serde(default)]
    results: Option<FetchedRows>,
    #[serde(default)]
    next_result_uri: Option<String>,
}

#[derive(Deserialize)]
struct FetchedRows {
    #[serde(default)]
    columns: Vec<JsonColumn>,
    #[serde(default)]
    data: Vec<JsonRow>,
}

impl GatewaySession {
    /// Opens a session on the gateway at `address` (`HOST:PORT`).
    pub(super) async fn open(address: &str) -> Result<Self, EngineError> {
        let rest = Rest::new(address);
        let info = rest
            .get(&format!("/{API}/info"))
            .await
            .map_err(|e| unreachable_gateway(address, e))?;
        let product = format!(
            "{} {}",
            info.get("productName")
                .and_then(Value::as_str)
                .unwrap_or("Flink"),
            info.get("version").and_then(Value::as_str).unwrap_or("")
        )
        .trim()
        .to_string();
        let opened = rest
            .post(
                &format!("/{API}/sessions"),
                // Flink writes a TIMESTAMP_LTZ as the wall-clock time in the session's
                // zone: in UTC, as Eddy's own sessions keep them.
                &json!({
                    "sessionName": "eddy",
                    "properties": { "table.local-time-zone": "UTC" }
                }),
            )
            .await
            .map_err(|e| gateway_error(address, "opening a session", e))?;
        let handle = opened
            .get("sessionHandle")
            .and_then(Value::as_str)
            .ok_or_else(|| EngineError::Flink {
                message: format!("the Flink SQL Gateway at {address} opened no session"),
                hint: None,
            })?
            .to_string();
        Ok(GatewaySession {
            rest,
            address: address.to_string(),
            handle,
            product,
        })
    }

    pub(super) fn product(&self) -> &str {
        &self.product
    }

    fn path(&self, rest: &str) -> String {
        format!("/{API}/sessions/{}{rest}", self.handle)
    }

    /// Submits one statement; it runs on the gateway (and a query, as a Flink job) until it
    /// ends or is cancelled.
    pub(super) async fn submit(&self, statement: &str) -> Result<Operation, EngineError> {
        let answer = self
            .rest
            .post(
                &self.path("/statements"),
                &json!({ "statement": statement }),
            )
            .await
            .map_err(|e| self.error("running the statement", e))?;
        match answer.get("operationHandle").and_then(Value::as_str) {
            Some(handle) => Ok(Operation(handle.to_string())),
            None => Err(EngineError::Flink {
                message: format!("the Flink SQL Gateway at {} took the statement but gave no operation to follow", self.address),
                hint: None,
            }),
        }
    }

    /// The first page of an operation's result.
    pub(super) fn first_page(&self, operation: &Operation) -> String {
        self.path(&format!(
            "/operations/{}/result/0?rowFormat=JSON",
            operation.0
        ))
    }

    /// Fetches the page at `uri` (the first page's, or the `next` a page gave).
    pub(super) async fn fetch(&self, uri: &str) -> Result<Page, EngineError> {
        let answer = self
            .rest
            .get(uri)
            .await
            .map_err(|e| self.error("running the statement", e))?;
        let answer: FetchAnswer =
            serde_json::from_value(answer).map_err(|e| EngineError::Flink {
                message: format!(
                    "the Flink SQL Gateway at {} sent a result Eddy cannot read ({e})",
                    self.address
                ),
                hint: None,
            })?;
        Ok(match answer.result_type.as_str() {
            "NOT_READY" => Page::NotReady,
            "EOS" => Page::End,
            _ => {
                let results = answer.results.unwrap_or(FetchedRows {
                    columns: Vec::new(),
                    data: Vec::new(),
                });
                Page::Payload(Payload {
                    columns: results.columns,
                    rows: results.data,
                    is_query: answer.is_query_result,
                    content: answer.result_kind.as_deref() != Some("SUCCESS"),
                    job: answer.job_id,
                    next: answer.next_result_uri,
                })
            }
        })
    }

    /// The page at `uri` once it is ready; `None` at the end of the result.
    pub(super) async fn payload(&self, uri: &str) -> Result<Option<Payload>, EngineError> {
        loop {
            match self.fetch(uri).await? {
                Page::NotReady => tokio::time::sleep(POLL).await,
                Page::Payload(payload) => return Ok(Some(payload)),
                Page::End => return Ok(None),
            }
        }
    }

    /// Closes an operation: the gateway forgets it, and cancels its Flink job if that still
    /// runs. (The gateway's `cancel` only stops an operation before its job is submitted: a
    /// query's operation has finished once its job runs.)
    pub(super) async fn close(&self, operation: &Operation) -> Result<(), EngineError> {
        self.rest
            .delete(&self.path(&format!("/operations/{}/close", operation.0)))
            .await
            .map(|_| ())
            .map_err(|e| self.error("closing the statement", e))
    }

    /// Tells the gateway the session is still in use, so it does not expire while a
    /// notebook sits idle.
    pub(super) async fn heartbeat(&self) -> Result<(), EngineError> {
        self.rest
            .post(&self.path("/heartbeat"), &json!({}))
            .await
            .map(|_| ())
            .map_err(|e| self.error("keeping the session open", e))
    }

    fn error(&self, doing: &str, error: CallError) -> EngineError {
        gateway_error(&self.address, doing, error)
    }
}

impl Drop for GatewaySession {
    /// Closes the session: the gateway drops what was declared in it, and stops the jobs
    /// of its operations still running.
    fn drop(&mut self) {
        let rest = self.rest.clone();
        let path = self.path("");
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            // Best effort: a gateway that is gone has dropped the session already.
            runtime.spawn(async move { rest.delete(&path).await });
        }
    }
}

fn unreachable_gateway(address: &str, error: CallError) -> EngineError {
    match error {
        CallError::Unreachable(why) => EngineError::Flink {
            message: format!("no Flink SQL Gateway answers at {address}: {why}"),
            hint: Some(
                "start one with dev/flink/cluster (or Flink's bin/sql-gateway.sh start) and \
                 %connect flink://HOST:PORT to its REST endpoint (8083 by default)"
                    .into(),
            ),
        },
        other => gateway_error(address, "asking what it is", other),
    }
}

/// An error the gateway reported, reduced to what the user needs: Flink answers with the
/// whole Java stack trace, whose last "Caused by" says what was wrong with the statement.
fn gateway_error(address: &str, doing: &str, error: CallError) -> EngineError {
    match error {
        CallError::Unreachable(why) => EngineError::Flink {
            message: format!("the Flink SQL Gateway at {address} stopped answering while {doing}: {why}"),
            hint: Some("%connect again once it is back; a new session has none of the old one's tables".into()),
        },
        CallError::Garbled(what) => EngineError::Flink {
            message: format!("the Flink SQL Gateway at {address} sent something Eddy cannot read while {doing}: {what}"),
            hint: None,
        },
        CallError::Refused { status, errors } => {
            let trace = errors.join("\n");
            let message = root_cause(&trace).unwrap_or_else(|| {
                errors
                    .first()
                    .cloned()
                    .unwrap_or_else(|| format!("HTTP status {status}"))
            });
            let hint = (trace.contains("does not exist") && trace.contains("Session"))
                .then(|| {
                    "the gateway no longer knows this session (it was restarted, or the \
                     session expired): %connect again, and declare the tables again"
                        .to_string()
                });
            EngineError::Flink {
                message: format!("Flink: {message}"),
                hint,
            }
        }
    }
}

/// What a Java stack trace says went wrong, without the exception's class name: the first
/// cause of Flink's Table API (its parser's and validator's errors, which say where in the
/// statement), else the innermost cause (a job's failure: `/ by zero`).
fn root_cause(trace: &str) -> Option<String> {
    let causes: Vec<&str> = trace
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Caused by: "))
        .collect();
    let cause = causes
        .iter()
        .find(|cause| cause.starts_with("org.apache.flink.table.api."))
        .or(causes.last())?;
    // "org.apache.flink.table.api.ValidationException: Object 'x' not found" → the message.
    let message = match cause.split_once(": ") {
        Some((class, message)) if !class.contains(' ') => message,
        _ => cause,
    };
    // The message may run on over the following lines, up to the first frame.
    let mut text = message.trim().to_string();
    let mut rest = trace
        .lines()
        .skip_while(|line| !line.contains(cause))
        .skip(1);
    for line in rest.by_ref() {
        let line = line.trim();
        if line.starts_with("at ") || line.starts_with("... ") || line.is_empty() {
            break;
        }
        text.push('\n');
        text.push_str(line);
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::root_cause;

    #[test]
    fn the_innermost_cause_is_what_the_user_reads() {
        let trace = "org.apache.flink.table.gateway.api.utils.SqlGatewayException: Failed to fetchResults.\n\
            \tat org.apache.flink.X.y(X.java:1)\n\
            Caused by: org.apache.flink.table.gateway.service.utils.SqlExecutionException: Failed to execute the operation.\n\
            \tat org.apache.flink.X.z(X.java:2)\n\
            Caused by: org.apache.flink.table.api.ValidationException: SQL validation failed. From line 1, column 15 to line 1, column 21: Object 'nothere' not found\n\
            \tat org.apache.flink.X.w(X.java:3)\n\
            \t... 12 more\n";
        assert_eq!(
            root_cause(trace).unwrap(),
            "SQL validation failed. From line 1, column 15 to line 1, column 21: Object 'nothere' not found"
        );
    }
}
