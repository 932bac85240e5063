//! `'connector' = 'blackhole'`, as in Flink: a table that takes rows and keeps none. A
//! continuous `INSERT INTO` it runs the query in full and shows only its figures (every
//! Nexmark query writes into one); a batch `INSERT INTO` it counts the rows it dropped.
//! It takes no options, and no query reads it.

use super::connector::{Connector, Declaration, Declared};
use super::sink_table::SinkTable;
use super::ConnectorOptions;
use crate::error::EngineError;

pub(crate) struct Blackhole;

impl Connector for Blackhole {
    fn name(&self) -> &'static str {
        "blackhole"
    }

    fn declare(
        &self,
        declaration: &Declaration<'_>,
        options: &mut ConnectorOptions,
    ) -> Result<Declared, EngineError> {
        SinkTable::declare(declaration, options, "blackhole", &[])
    }
}
