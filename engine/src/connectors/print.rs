//! `'connector' = 'print'`, as in Flink: each row a continuous `INSERT INTO` writes becomes
//! a line with its change kind, `+I[1, ann]` (`-U`, `+U`, `-D` for an updating result).
//! Flink prints them on a task manager's standard output; Eddy shows them in the cell.
//!
//! Options: `print-identifier` (a prefix: `id> +I[…]`) and `standard-error` (accepted for
//! Flink's DDL; the lines go to the cell either way). No query reads the table.

use super::connector::{Connector, Declaration, Declared};
use super::sink_table::SinkTable;
use super::ConnectorOptions;
use crate::error::EngineError;

pub(crate) struct Print;

impl Connector for Print {
    fn name(&self) -> &'static str {
        "print"
    }

    fn declare(
        &self,
        declaration: &Declaration<'_>,
        options: &mut ConnectorOptions,
    ) -> Result<Declared, EngineError> {
        // 'standard-error' is read to be checked; the lines go to the cell either way.
        options.flag("standard-error", false)?;
        SinkTable::declare(declaration, options, "print", &["print-identifier"])
    }
}
