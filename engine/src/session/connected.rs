//! A session connected to a Ballista cluster (`%connect df://…`): its batch queries run
//! there; what the cluster cannot do is refused here, saying why, never run here instead.

use super::Engine;
use crate::cluster::Cluster;
use crate::error::EngineError;
use datafusion::common::TableReference;
use std::sync::Arc;

/// Where a refused statement can run: the session's own engine.
const RUN_HERE: &str = "%disconnect to run it in this kernel";

impl Engine {
    /// Sends the batch queries that follow to the Ballista scheduler at `url`
    /// (`df://HOST[:PORT]`), replacing a cluster connected before. Returns the address.
    pub async fn connect(&self, url: &str) -> Result<String, EngineError> {
        let cluster = Cluster::connect(url, self.ctx.copied_config()).await?;
        let address = cluster.url().to_string();
        *self.connected() = Some(Arc::new(cluster));
        Ok(address)
    }

    /// Runs the queries that follow in this process again; returns the cluster's address
    /// if one was connected.
    pub fn disconnect(&self) -> Option<String> {
        self.connected()
            .take()
            .map(|cluster| cluster.url().to_string())
    }

    /// The cluster queries run on (`df://HOST:PORT`), if the session is connected.
    pub fn cluster(&self) -> Option<String> {
        self.connected_cluster()
            .map(|cluster| cluster.url().to_string())
    }

    pub(super) fn connected_cluster(&self) -> Option<Arc<Cluster>> {
        self.connected().clone()
    }

    fn connected(&self) -> std::sync::MutexGuard<'_, Option<Arc<Cluster>>> {
        // Only ever replaced whole: a panic cannot leave it half-changed.
        self.cluster
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
