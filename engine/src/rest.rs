//! JSON over HTTP/1.1 to one REST endpoint (a Flink SQL Gateway's, a Ballista scheduler's),
//! through hyper's pooled client, which Ballista's crates already build. Each call has a time limit: a gateway that
//! stops answering fails the call, it does not hang the cell.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::time::Duration;

/// How long one request may take. Fetching a page of results answers at once (with no rows
/// when none are ready), so only a stuck gateway takes this long.
const CALL_LIMIT: Duration = Duration::from_secs(60);

/// What went wrong with one call.
#[derive(Debug)]
pub(crate) enum CallError {
    /// Nothing answered at the address, or the connection broke.
    Unreachable(String),
    /// The endpoint answered with an error status; `errors` is what its body said (Flink's
    /// REST handlers answer `{"errors": [...]}`).
    Refused { status: u16, errors: Vec<String> },
    /// The answer was not the JSON asked for.
    Garbled(String),
}

/// A REST endpoint at `http://HOST:PORT`.
#[derive(Clone)]
pub(crate) struct Rest {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Rest {
    pub(crate) fn new(host_port: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        Rest {
            base: format!("http://{host_port}"),
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Value, CallError> {
        self.call(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Result<Value, CallError> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Result<Value, CallError> {
        self.call(Method::DELETE, path, None).await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let body = match body {
            Some(json) => Bytes::from(json.to_string()),
            None => Bytes::new(),
        };
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(Full::new(body))
            .map_err(|e| CallError::Garbled(format!("the request for {path}: {e}")))?;
        let answer = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| CallError::Unreachable(describe(&e)))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| CallError::Unreachable(e.to_string()))?
                .to_bytes();
            Ok::<_, CallError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(CALL_LIMIT, answer)
            .await
            .map_err(|_| {
                CallError::Unreachable(format!("no answer within {} s", CALL_LIMIT.as_secs()))
            })??;
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if status != StatusCode::OK {
            let errors = match json.as_ref().and_then(|j| j.get("errors")) {
                Some(Value::Array(errors)) => errors
                    .iter()
                    .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
                    .collect(),
                _ => vec![String::from_utf8_lossy(&bytes).into_owned()],
            };
            return Err(CallError::Refused {
                status: status.as_u16(),
                errors,
            });
        }
        json.ok_or_else(|| {
            CallError::Garbled(format!(
                "{path} answered {} bytes that are not JSON",
                bytes.len()
            ))
        })
    }
}

/// A client error with its causes: hyper's own message ("client error (Connect)") hides
/// the one that says what happened ("Connection refused").
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
