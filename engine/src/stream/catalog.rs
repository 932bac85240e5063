//! Stream tables: tables whose rows arrive over time. DataFusion's catalog holds a
//! placeholder for each (so `DESCRIBE`, completion and `information_schema` see it); the
//! engine keeps what is needed to open its source for each continuous query.

use super::source::StreamSource;
use super::watermark::WatermarkSpec;
use crate::error::EngineError;
use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;

/// Opens a fresh source of a stream table for one continuous query.
pub(crate) trait SourceFactory: Send + Sync {
    /// Checks what can only be checked when the query starts (a file still exists, a
    /// server accepts the connection) and returns the source, not yet running.
    fn open(&self, ctx: &SessionContext) -> Result<Box<dyn StreamSource>, EngineError>;
}

/// A table declared with a streaming connector.
#[derive(Clone)]
pub(crate) struct StreamTable {
    pub(crate) schema: SchemaRef,
    pub(crate) watermark: Option<WatermarkSpec>,
    pub(crate) factory: Arc<dyn SourceFactory>,
    /// Rows its sources skipped as malformed, over all queries of the table.
    pub(crate) skipped: Option<Arc<std::sync::atomic::AtomicU64>>,
}

/// What DataFusion's catalog holds for a stream table: its schema, and an error that says
/// where to use it if a batch plan ever tries to read it.
#[derive(Debug)]
pub(crate) struct StreamPlaceholder {
    pub(crate) name: String,
    pub(crate) schema: SchemaRef,
}

#[async_trait]
impl TableProvider for StreamPlaceholder {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        Err(datafusion::error::DataFusionError::Plan(format!(
            "table {} is a stream: query it directly in a SELECT or INSERT INTO … SELECT \
             (views and CREATE TABLE … AS SELECT over streams are not supported)",
            self.name
        )))
    }
}
