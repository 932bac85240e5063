//! What DataFusion's catalog holds for a table rows only go into (`blackhole`, `print`): its
//! columns, an error for a query that reads it, and, for a blackhole, a batch `INSERT INTO`
//! that counts the rows and drops them. A continuous `INSERT INTO` does not come here: it
//! opens the connector's sink in `stream/sink`.

use super::connector::{Declaration, Declared};
use super::ConnectorOptions;
use crate::error::EngineError;
use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::sink::{DataSink, DataSinkExec};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan};
use futures::StreamExt;
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct SinkTable {
    name: String,
    connector: &'static str,
    schema: SchemaRef,
}

impl SinkTable {
    /// The table `declaration` declares for `connector`, which takes the options `known`
    /// besides `'connector'` (checked, so that a typo is an error).
    pub(crate) fn declare(
        declaration: &Declaration<'_>,
        options: &mut ConnectorOptions,
        connector: &'static str,
        known: &[&str],
    ) -> Result<Declared, EngineError> {
        options.get("connector");
        for key in known {
            options.get(key);
        }
        options.finish(connector)?;
        Ok(Declared::Sink(SinkTable {
            name: declaration.table.to_string(),
            connector,
            schema: declaration.schema.clone(),
        }))
    }
}

#[async_trait]
impl TableProvider for SinkTable {
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
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Err(DataFusionError::Plan(format!(
            "{} is a {} table: rows go into it (INSERT INTO {} SELECT …), and no query \
             reads them back",
            self.name, self.connector, self.name
        )))
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        _insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if self.connector != "blackhole" {
            return Err(DataFusionError::NotImplemented(format!(
                "a batch INSERT INTO {}, a {} table: it prints the rows of a continuous \
                 query; INSERT INTO {} SELECT … FROM a stream",
                self.name, self.connector, self.name
            )));
        }
        Ok(Arc::new(DataSinkExec::new(
            input,
            Arc::new(Discard {
                schema: self.schema.clone(),
            }),
            None,
        )))
    }
}

/// A batch INSERT INTO a blackhole: reads every row, keeps none, says how many.
#[derive(Debug)]
struct Discard {
    schema: SchemaRef,
}

impl DisplayAs for Discard {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blackhole")
    }
}

#[async_trait]
impl DataSink for Discard {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(
        &self,
        mut data: SendableRecordBatchStream,
        _context: &Arc<TaskContext>,
    ) -> Result<u64> {
        let mut rows = 0;
        while let Some(batch) = data.next().await {
            rows += batch?.num_rows() as u64;
        }
        Ok(rows)
    }
}
