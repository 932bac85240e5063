//! A session's connection to a Ballista scheduler, and the queries it runs there.

use super::job::JobWatch;
use super::job_progress;
use super::tables;
use crate::batch::progress::ScanProgress;
use crate::error::EngineError;
use crate::rest::Rest;
use crate::result::{FirstRows, RowSet};
use ballista_core::extension::SessionStateExt;
use datafusion::common::TableReference;
use datafusion::execution::context::SessionContext;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionConfig;
use futures::StreamExt;
use std::time::Duration;

/// Ballista's scheduler port, when `df://HOST` names none.
const DEFAULT_PORT: u16 = 50050;

/// How long `%connect` waits for the scheduler to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A Ballista scheduler this session sends its batch queries to.
pub(crate) struct Cluster {
    /// `df://HOST:PORT`, as results name where they ran.
    url: String,
    /// The scheduler's gRPC endpoint.
    scheduler: String,
    /// A session whose query planner sends plans to the scheduler.
    ctx: SessionContext,
}

impl Cluster {
    /// Connects to the scheduler at `url` (`df://HOST[:PORT]`). Ballista's client connects
    /// only when a query runs; the scheduler is reached once here, so that a wrong address
    /// is said by `%connect`, not by the next query.
    pub(crate) async fn connect(url: &str, config: SessionConfig) -> Result<Self, EngineError> {
        let (host, port) = address(url)?;
        let reached = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await;
        let failure = match reached {
            Ok(Ok(_)) => None,
            Ok(Err(error)) => Some((error.to_string(), Some(error.into()))),
            Err(_) => Some((
                format!("no answer in {} s", CONNECT_TIMEOUT.as_secs()),
                None,
            )),
        };
        if let Some((why, source)) = failure {
            return Err(EngineError::Cluster {
                message: format!(
                    "no Ballista scheduler answers at {host}:{port} ({why}); start one with \
                     `eddy cluster scheduler --bind-port {port}`"
                ),
                source,
            });
        }
        let scheduler = format!("http://{host}:{port}");
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build()
            .upgrade_for_ballista(scheduler.clone())?;
        // Ballista's client learns a job's id from the scheduler's answer to the submission
        // when it polls for the job's state, but only with the first state change when the
        // scheduler pushes them: an interrupt before that could not cancel the job.
        state
            .config_mut()
            .options_mut()
            .set("ballista.client.pull", "true")?;
        let ctx = SessionContext::new_with_state(state);
        // Ballista's upgrade sets its own function list: Flink's go on top, as the
        // scheduler's and executors' sessions have them (`with_eddy_functions`).
        crate::sql::functions::register_flink_functions(&ctx);
        Ok(Cluster {
            url: format!("df://{host}:{port}"),
            scheduler,
            ctx,
        })
    }

    /// `df://HOST:PORT`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Whether `plan` is run here though connected: it reads the session's catalog only.
    pub(crate) fn answers_here(plan: &LogicalPlan) -> bool {
        tables::reads_catalog_only(plan)
    }

    /// Runs `plan` (planned by the session) on the cluster, keeping its first `max_rows`
    /// rows. `why_not` says why a table the cluster cannot read stays here. Dropping the
    /// future cancels the cluster's job.
    pub(crate) async fn run(
        &self,
        plan: LogicalPlan,
        max_rows: usize,
        why_not: &(dyn Fn(&TableReference) -> String + Sync),
        progress: &ScanProgress,
    ) -> Result<RowSet, EngineError> {
        let plan = tables::for_cluster(plan, why_not)?;
        let physical = self
            .ctx
            .state()
            .create_physical_plan(&plan)
            .await
            .map_err(|error| self.failed(error))?;
        let job = JobWatch::of(&physical, &self.scheduler);
        let mut stream = datafusion::physical_plan::execute_stream(physical, self.ctx.task_ctx())
            .map_err(|error| self.failed(error))?;
        let schema = stream.schema();
        let mut rows = FirstRows::default();
        let address = self.scheduler.trim_start_matches("http://");
        let follow = job_progress::follow(Rest::new(address), job.ids(), progress.clone());
        tokio::pin!(follow);
        loop {
            tokio::select! {
                batch = stream.next() => match batch {
                    Some(batch) => rows.push(batch.map_err(|error| self.failed(error))?, max_rows),
                    None => break,
                },
                // Never ends: it reports until the rows are all in.
                _ = &mut follow => {}
            }
        }
        job.finished();
        Ok(rows.into_rows(
            schema,
            Some(format!("the Ballista cluster at {}", self.url)),
        ))
    }

    /// An error of a query on the cluster: the engine's kind of error for what the
    /// planner says here, the cluster's for what its job says.
    fn failed(&self, error: datafusion::error::DataFusionError) -> EngineError {
        let message = error.to_string();
        // Ballista's client reports the scheduler's and executors' failures as execution
        // errors carrying the job's or the transport's words.
        let remote = [
            "Job ",
            "transport error",
            "Status {",
            "Fail to execute query",
        ]
        .iter()
        .any(|mark| message.contains(mark));
        if !remote {
            return EngineError::from(error);
        }
        let mut message = format!(
            "the cluster at {} failed the query: {}",
            self.url,
            tidy(&message)
        );
        // The scheduler lists a table's files and the executors read them, each on its own
        // machine: a path this kernel reads may not be there.
        if ["No such file", "not found", "NotFound", "does not exist"]
            .iter()
            .any(|mark| message.contains(mark))
        {
            message.push_str(
                " (the cluster reads a table's files itself: its path must name the same \
                 files on every machine of the cluster, e.g. a shared directory or an object \
                 store URL)",
            );
        }
        EngineError::Cluster {
            message,
            source: Some(Box::new(error)),
        }
    }
}

/// Ballista's messages nest DataFusion's prefixes ("Execution error: Job … failed: …");
/// the user needs the innermost words.
fn tidy(message: &str) -> String {
    message
        .replace("Execution error: ", "")
        .replace("External error: ", "")
        .trim()
        .to_string()
}

/// The host and port of `df://HOST[:PORT]`.
fn address(url: &str) -> Result<(String, u16), EngineError> {
    let bad = |why: &str| EngineError::Plan {
        message: format!("'{url}' is not a Ballista scheduler's address: {why}"),
        position: None,
        hint: Some("write df://HOST:PORT, e.g. df://127.0.0.1:50050".into()),
    };
    let rest = url
        .trim()
        .strip_prefix("df://")
        .ok_or_else(|| bad("it starts with df://"))?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => {
            let port = port
                .parse::<u16>()
                .map_err(|_| bad(&format!("'{port}' is not a port number")))?;
            (host, port)
        }
        None => (rest, DEFAULT_PORT),
    };
    if host.is_empty() || host.contains('/') {
        return Err(bad("it names a host"));
    }
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::address;

    #[test]
    fn an_address_names_a_host_and_a_port() {
        assert_eq!(
            address("df://127.0.0.1:50050").ok(),
            Some(("127.0.0.1".to_string(), 50050))
        );
        assert_eq!(
            address("df://scheduler").ok(),
            Some(("scheduler".to_string(), 50050))
        );
        for bad in ["http://h:1", "df://", "df://h:port", "df://h:70000", "h:1"] {
            let error = address(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                error.contains("is not a Ballista scheduler's address"),
                "{bad}: {error}"
            );
        }
    }
}
