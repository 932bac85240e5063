//! Eddy's SQL engine.
//!
//! The engine takes SQL text, owns the catalog of tables, and yields Arrow record batches.
//! It knows nothing of Jupyter: the kernel, a test or a benchmark drive it alike through
//! [`Engine`].
//!
//! - `session/`: the [`Engine`] façade, its catalog and DDL.
//! - `sql/`: Eddy's Flink dialect on DataFusion (syntax, types, functions, rules, limits).
//! - `batch/`: cached tables, CSV error location, scan progress.
//! - `connectors/`: one module per `'connector'`, behind one trait and a registry.
//! - `stream/`: continuous queries, by micro-batches.
//! - `cluster/`: batch queries on a Ballista cluster (`%connect df://…`).

mod batch;
mod cluster;
mod config;
mod connectors;
mod error;
mod flink;
mod rest;
mod result;
mod session;
mod sql;
mod stream;

pub use batch::column_memory::KeptColumns;
pub use batch::inline_csv::{read_inline_csv, InlineCsv};
pub use batch::progress::ScanProgress;
pub use cluster::with_eddy_functions;
pub use config::EngineConfig;
pub use error::{EngineError, Position};
pub use flink::{split_statements, FlinkStatement};
pub use result::{RowSet, StatementResult};
pub use session::{parse, ColumnMemoryState, Connected, Engine, Statement};
pub use sql::completeness::completeness;
pub use sql::completeness::Completeness;
pub use sql::functions::flink_function_names;
pub use sql::introspect::{FunctionInfo, FunctionKind, ObjectInfo, TableInfo, Vocabulary};
pub use sql::limits;
pub use stream::{
    changelog_schema, Canceller, ContinuousQuery, StreamEnd, StreamFigures, StreamKind,
    StreamUpdate,
};

/// Arrow, as the engine's results are expressed in it.
pub use datafusion::arrow;

/// The version of Apache DataFusion whose SQL the engine speaks.
pub const SQL_DIALECT_VERSION: &str = datafusion::DATAFUSION_VERSION;
