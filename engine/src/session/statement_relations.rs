//! Relations a statement declares for itself and takes away when it is done: the tables of
//! its OPTIONS hints (`options_hints.rs`) and the views of the subqueries its legacy group
//! windows read (`windowed_subqueries.rs`). A continuous query keeps what it started with.

use super::Engine;
use datafusion::common::TableReference;

/// The relations a statement declared; dropping this takes them away.
pub(super) struct StatementRelations<'a> {
    engine: &'a Engine,
    names: Vec<String>,
}

impl<'a> StatementRelations<'a> {
    pub(super) fn new(engine: &'a Engine) -> Self {
        StatementRelations {
            engine,
            names: Vec::new(),
        }
    }

    /// `name` was declared for the statement.
    pub(super) fn declared(&mut self, name: &str) {
        self.names.push(name.to_string());
    }
}

impl Drop for StatementRelations<'_> {
    fn drop(&mut self) {
        if self.names.is_empty() {
            return;
        }
        for name in &self.names {
            let _ = self
                .engine
                .ctx
                .deregister_table(TableReference::bare(name.as_str()));
            self.engine.catalog.forget(name);
        }
        self.engine.planning.invalidate();
    }
}
