//! What a connector is: it turns a table's declaration and `WITH` options into a source of
//! rows, either a bounded table or a stream.

use super::sink_table::SinkTable;
use super::ConnectorOptions;
use crate::error::EngineError;
use crate::stream::catalog::SourceFactory;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::execution::context::SessionContext;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// What a `CREATE TABLE` declares, as a connector needs it.
pub(crate) struct Declaration<'a> {
    pub(crate) ctx: &'a SessionContext,
    /// The table's name, without catalog or schema.
    pub(crate) table: &'a str,
    /// The declared columns.
    pub(crate) schema: SchemaRef,
    /// The `PARTITIONED BY` columns (filesystem tables only).
    pub(crate) partition_by: &'a [String],
    /// The `PRIMARY KEY (…) NOT ENFORCED` columns (an upsert table's key).
    pub(crate) primary_key: &'a [String],
    /// The metadata columns (`ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp'`): columns of
    /// `schema` the connector fills from what it knows of each row.
    pub(crate) metadata: &'a [crate::sql::flink_syntax::MetadataColumn],
    /// The event-time column of the table's WATERMARK, if it declares one.
    pub(crate) event_time: Option<&'a str>,
    /// `'scan.watermark.idle-timeout'`: how long a quiet source (or part of one, a Kafka
    /// partition) may hold the watermark back.
    pub(crate) idle_timeout: Option<std::time::Duration>,
}

/// What a connector makes of a declaration.
pub(crate) enum Declared {
    /// Rows that arrive over time: a query over the table runs continuously.
    Stream(CountedSource),
    /// Rows at rest: each query reads the table as a whole.
    Table(FileTable),
    /// Rows go in only (`INSERT INTO`); no query reads them.
    Sink(SinkTable),
}

/// A source of tables, picked by the value of its `'connector'` option.
pub(crate) trait Connector: Sync {
    /// The value of `'connector'` that picks it, as Flink spells it.
    fn name(&self) -> &'static str;

    /// Makes the table from its declaration and options. Every option it takes is read
    /// from `options`, so that one nobody read can be reported as unknown.
    fn declare(
        &self,
        declaration: &Declaration<'_>,
        options: &mut ConnectorOptions,
    ) -> Result<Declared, EngineError>;
}

/// A bounded table, and the count of rows its reading skipped (for tables declared with
/// `'csv.ignore-parse-errors' = 'true'`).
pub(crate) struct FileTable {
    pub(crate) provider: Arc<dyn TableProvider>,
    pub(crate) skipped: Option<Arc<AtomicU64>>,
    /// Where the files are, for a table whose decoded columns may be kept in memory
    /// (`batch/column_memory.rs`): strict CSV and JSON tables, whose reading costs most.
    pub(crate) listing: Option<Box<crate::batch::remembered_table::FileListing>>,
}

/// A stream table's source, and the count of rows its sources skipped (bad lines with
/// `*.ignore-parse-errors`, rows without an event time in a replay), as [`FileTable`]
/// has for a bounded table.
pub(crate) struct CountedSource {
    pub(crate) factory: Arc<dyn SourceFactory>,
    /// `None` when nothing is ever skipped (bad lines fail the query).
    pub(crate) skipped: Option<Arc<AtomicU64>>,
}
