//! Stream tables: tables whose rows arrive over time, and the views over them. DataFusion's
//! catalog holds a placeholder for each (so `DESCRIBE`, completion and `information_schema`
//! see it); the engine keeps what is needed to open a table's source, and to plan a view
//! again, for each continuous query.

use super::source::StreamSource;
use super::views::StreamView;
use super::watermark::WatermarkSpec;
use crate::error::EngineError;
use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use std::collections::HashMap;
use std::sync::Arc;

/// Opens a fresh source of a stream table for one continuous query.
pub(crate) trait SourceFactory: Send + Sync {
    /// Checks what can only be checked when the query starts (a file still exists, a
    /// server accepts the connection) and returns the source, not yet running.
    fn open(&self, ctx: &SessionContext) -> Result<Box<dyn StreamSource>, EngineError>;

    /// What the source is like right now, as rows for `%table` (a Kafka table's partitions,
    /// their offsets and a group's lag); `None` when it has nothing to say. May ask a server,
    /// within a deadline.
    fn describe(&self) -> Option<Result<RecordBatch, EngineError>> {
        None
    }

    /// Whether its sources send changes, each row weighted (`changelog_source.rs`): a topic
    /// of change events, an upsert topic. Their table is updating.
    fn is_changelog(&self) -> bool {
        false
    }
}

/// A table declared with a streaming connector.
#[derive(Clone)]
pub(crate) struct StreamTable {
    pub(crate) schema: SchemaRef,
    pub(crate) watermark: Option<WatermarkSpec>,
    /// Its computed columns `pt AS PROCTIME()`: processing-time attributes windows may use.
    pub(crate) proctime: Vec<String>,
    pub(crate) factory: Arc<dyn SourceFactory>,
    /// Rows its sources skipped as malformed, over all queries of the table.
    pub(crate) skipped: Option<Arc<std::sync::atomic::AtomicU64>>,
}

/// The stream tables and the views over them, by name, as a continuous query starts with
/// them.
#[derive(Clone, Default)]
pub(crate) struct StreamRelations {
    pub(crate) tables: HashMap<String, StreamTable>,
    pub(crate) views: HashMap<String, StreamView>,
}

impl StreamRelations {
    /// Whether a statement naming `name` reads a stream.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.tables.contains_key(name) || self.views.contains_key(name)
    }
}

/// What DataFusion's catalog holds for a stream table or a view over one: its schema (and
/// a view's definition, for `%table` and `SHOW CREATE`), and an error that says where to
/// use it if a batch plan ever tries to read it.
#[derive(Debug)]
pub(crate) struct StreamPlaceholder {
    pub(crate) name: String,
    pub(crate) schema: SchemaRef,
    /// A view's `CREATE VIEW` statement; `None` for a table.
    pub(crate) definition: Option<String>,
}

#[async_trait]
impl TableProvider for StreamPlaceholder {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        // DROP VIEW removes only what says it is a view, DROP TABLE only a table.
        match self.definition {
            Some(_) => TableType::View,
            None => TableType::Base,
        }
    }

    fn get_table_definition(&self) -> Option<&str> {
        self.definition.as_deref()
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        Err(datafusion::error::DataFusionError::Plan(format!(
            "{} is a stream: query it in a SELECT or INSERT INTO … SELECT, which runs \
             continuously (CREATE TABLE … AS SELECT over a stream is not supported)",
            self.name
        )))
    }
}
