//! What every sink is to a running query ([`Sink`]), and what the table an INSERT writes
//! into declares for its sink ([`SinkDecl`]): the two things a connector's own sink (Kafka's,
//! in its folder) needs from here, in a file of their own.

use crate::error::EngineError;
use crate::stream::StreamUpdate;
use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use std::collections::BTreeMap;

/// What the table an INSERT writes into declares: its `WITH` options, its `PARTITIONED BY`
/// columns (a filesystem sink's directories) and its `PRIMARY KEY` (an upsert sink's key).
#[derive(Debug, Clone, Default)]
pub(crate) struct SinkDecl {
    pub(crate) options: BTreeMap<String, String>,
    pub(crate) partition_by: Vec<String>,
    pub(crate) primary_key: Vec<String>,
    /// The metadata columns (a Kafka record's timestamp and headers are written).
    pub(crate) metadata: Vec<crate::sql::flink_syntax::MetadataColumn>,
    /// The columns as declared, for a table that is also read (a Kafka table): a written
    /// column is as nullable as declared, whatever the query that fills it says (Avro
    /// writes a nullable column differently).
    pub(crate) declared: Option<datafusion::arrow::datatypes::SchemaRef>,
}

/// A running query's destination.
#[async_trait]
pub(crate) trait Sink: Send + Sync {
    /// New rows of an append-only result.
    fn append(&mut self, batches: Vec<RecordBatch>) -> Result<(), EngineError>;

    /// Changes of an updating result: rows of [`crate::stream::changelog_schema`], `op` first.
    fn change(&mut self, changes: RecordBatch);

    /// Writes out what is due (everything, at the end of a bounded stream), given the query's
    /// watermark (milliseconds, when it has one). Returns what the query's display shows of
    /// it, when there is something new.
    async fn flush(
        &mut self,
        end: bool,
        watermark: Option<i64>,
    ) -> Result<Option<StreamUpdate>, EngineError>;
}
