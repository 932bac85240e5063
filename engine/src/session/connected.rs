//! A session connected elsewhere: to a Ballista cluster (`%connect df://…`), where its batch
//! queries run while tables stay declared here, what the cluster cannot do being refused
//! here, saying why, never run here instead; or to a Flink SQL Gateway
//! (`%connect flink://…`), where every statement goes as written.

use super::Engine;
use crate::cluster::Cluster;
use crate::error::EngineError;
use crate::flink::FlinkGateway;
use crate::result::StatementResult;
use datafusion::common::TableReference;
use std::sync::Arc;

/// Where a refused statement can run: the session's own engine.
const RUN_HERE: &str = "%disconnect to run it in this kernel";

/// What a session is connected to.
#[derive(Clone)]
pub(super) enum Connection {
    Ballista(Arc<Cluster>),
    Flink(Arc<FlinkGateway>),
}

impl Connection {
    /// What the connection is to, as `%connect` and `%disconnect` say it.
    fn described(&self) -> Connected {
        match self {
            Connection::Ballista(cluster) => Connected::Ballista {
                url: cluster.url().to_string(),
            },
            Connection::Flink(gateway) => Connected::Flink {
                url: gateway.url().to_string(),
                product: gateway.product().to_string(),
            },
        }
    }
}

/// What `%connect` connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connected {
    /// A Ballista scheduler (`df://HOST:PORT`): batch queries run there.
    Ballista { url: String },
    /// A Flink SQL Gateway (`flink://HOST:PORT`), and what it said it runs (`Apache Flink
    /// 2.3.0`): every statement runs there.
    Flink { url: String, product: String },
}

impl Engine {
    /// Sends the statements that follow elsewhere: the batch queries to the Ballista
    /// scheduler at `df://HOST[:PORT]`, or every statement to the Flink SQL Gateway at
    /// `flink://HOST[:PORT]`; replaces a connection made before.
    pub async fn connect(&self, url: &str) -> Result<Connected, EngineError> {
        let connection = if url.starts_with("flink://") {
            Connection::Flink(Arc::new(FlinkGateway::connect(url).await?))
        } else {
            let cluster = Cluster::connect(url, self.ctx.copied_config()).await?;
            Connection::Ballista(Arc::new(cluster))
        };
        let connected = connection.described();
        *self.connection() = Some(connection);
        Ok(connected)
    }

    /// Runs the statements that follow in this process again; returns what was connected.
    pub fn disconnect(&self) -> Option<Connected> {
        self.connection().take().map(|c| c.described())
    }

    /// Whether the session's statements go to a Flink SQL Gateway, as written (the kernel
    /// then splits a cell at its semicolons and runs each with [`Self::run_on_flink`]).
    pub fn on_flink(&self) -> bool {
        matches!(*self.connection(), Some(Connection::Flink(_)))
    }

    /// Runs one statement, as written, on the Flink SQL Gateway the session is connected
    /// to. A query's result comes as a running query, fed from Flink's job; dropping the
    /// future before it returns cancels the statement there.
    pub async fn run_on_flink(
        &self,
        statement: &str,
        max_rows: usize,
    ) -> Result<StatementResult, EngineError> {
        let gateway = match self.connection().clone() {
            Some(Connection::Flink(gateway)) => gateway,
            _ => {
                return Err(EngineError::Flink {
                    message: "not connected to a Flink SQL Gateway".into(),
                    hint: Some("%connect flink://HOST:PORT".into()),
                })
            }
        };
        gateway.run(statement, max_rows).await
    }

    pub(super) fn connected_cluster(&self) -> Option<Arc<Cluster>> {
        match self.connection().as_ref() {
            Some(Connection::Ballista(cluster)) => Some(cluster.clone()),
            _ => None,
        }
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Option<Connection>> {
        // Only ever replaced whole: a panic cannot leave it half-changed.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Refuses `what` while connected to a cluster, saying why it stays here.
    pub(super) fn refuse_on_cluster(&self, what: &str, why: &str) -> Result<(), EngineError> {
        match self.connected_cluster() {
            Some(cluster) => Err(EngineError::NotSupported {
                message: format!(
                    "{what} cannot run on the cluster at {}: {why}; {RUN_HERE}",
                    cluster.url()
                ),
            }),
            None => Ok(()),
        }
    }

    /// Why the cluster cannot read `table`: what keeps its rows in this process.
    pub(super) fn why_not_on_cluster(&self, table: &TableReference) -> String {
        let key = table.to_string();
        if self.catalog.cached_bytes(&key).is_some() {
            return format!(
                "it is cached in this kernel's memory (CACHE TABLE); UNCACHE TABLE {table} \
                 to have the cluster read its files, or {RUN_HERE}"
            );
        }
        let options = self.catalog.options(&key);
        if options
            .get("csv.ignore-parse-errors")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return format!(
                "it skips malformed CSV rows ('csv.ignore-parse-errors'), which only this \
                 kernel's CSV scan does (the cluster's executors read files with \
                 DataFusion's); {RUN_HERE}"
            );
        }
        match options.get("connector") {
            Some(connector) => format!(
                "its rows come from the '{connector}' connector, which only this kernel \
                 reads; the cluster reads tables over files; {RUN_HERE}"
            ),
            None => format!(
                "its rows are in this kernel's memory (a table made from a query or from CSV \
                 lines in a cell); declare it over files the executors can read, or {RUN_HERE}"
            ),
        }
    }
}
