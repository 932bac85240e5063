//! Eddy's SQL engine.
//!
//! The engine takes SQL text, owns the catalog of tables, and yields Arrow record batches.
//! It knows nothing of Jupyter: the kernel, a test or a benchmark drive it alike through
//! [`Engine`].

mod cache;
mod cached_scan;
mod completeness;
mod config;
mod connectors;
mod csv_locate;
mod error;
mod flink_sql;
mod flink_types;
mod functions;
mod introspect;
mod kept_state;
pub mod limits;
mod progress;
mod result;
mod scan_display;
mod session;
mod stream;
mod time_grouping;

pub use completeness::Completeness;
pub use config::EngineConfig;
pub use error::{EngineError, Position};
pub use introspect::{FunctionInfo, FunctionKind, ObjectInfo, TableInfo, Vocabulary};
pub use progress::ScanProgress;
pub use result::{RowSet, StatementResult};
pub use session::{Engine, Statement};
pub use stream::{
    changelog_schema, Canceller, ContinuousQuery, StreamEnd, StreamFigures, StreamKind,
    StreamUpdate,
};

/// Arrow, as the engine's results are expressed in it.
pub use datafusion::arrow;

/// The version of Apache DataFusion whose SQL the engine speaks.
pub const SQL_DIALECT_VERSION: &str = datafusion::DATAFUSION_VERSION;
