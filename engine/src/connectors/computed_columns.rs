//! Computed columns of a table declared with a connector: `dateTime AS CASE … END` (as
//! Nexmark declares its event time), `pt AS PROCTIME()`. The connector makes the declared
//! columns only; the computed ones are added to every batch before a query sees it, so a
//! WATERMARK may be on one and every query reads them as columns.
//!
//! A stream's source is wrapped ([`WithComputed`]): each batch is evaluated once, by
//! DataFusion's physical expressions planned when the table is declared. A bounded table
//! becomes a plan that projects the computed columns over the connector's table, which
//! planners inline (filters and projections still reach the files).

use super::declared_table::DeclaredTable;
use crate::error::EngineError;
use crate::sql::flink_syntax::ComputedColumn;
use crate::stream::catalog::SourceFactory;
use crate::stream::changelog_source;
use crate::stream::source::{BatchSender, StreamSource};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::{Column, DFSchema};
use datafusion::datasource::{provider_as_source, ViewTable};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder};
use datafusion::physical_expr::PhysicalExpr;
use futures::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A table's columns, declared and computed, in the order the CREATE TABLE lists them.
pub(crate) struct ComputedColumns {
    /// The table's schema.
    schema: SchemaRef,
    /// One logical expression per column of `schema`, over the declared columns.
    logical: Vec<Expr>,
    /// The same, planned.
    physical: Vec<Arc<dyn PhysicalExpr>>,
}

impl ComputedColumns {
    /// Plans `computed` over the `declared` columns of `table`.
    pub(crate) fn plan(
        ctx: &SessionContext,
        table: &str,
        declared: &SchemaRef,
        computed: &[ComputedColumn],
    ) -> Result<Self, EngineError> {
        let df_schema = DFSchema::try_from(declared.as_ref().clone())?;
        let mut by_index: Vec<Option<&ComputedColumn>> =
            vec![None; declared.fields().len() + computed.len()];
        for column in computed {
            if let Some(slot) = by_index.get_mut(column.index) {
                *slot = Some(column);
            }
        }
        let mut fields = Vec::with_capacity(by_index.len());
        let mut logical = Vec::with_capacity(by_index.len());
        let mut physical = Vec::with_capacity(by_index.len());
        let mut declared_fields = declared.fields().iter();
        for slot in by_index {
            let (field, expr) = match slot {
                Some(column) => {
                    let expr = ctx
                        .parse_sql_expr(&column.expression, &df_schema)
                        .map_err(|e| computed_error(table, column, e))?;
                    let planned = ctx
                        .create_physical_expr(expr.clone(), &df_schema)
                        .map_err(|e| computed_error(table, column, e))?;
                    let data_type = planned.data_type(declared)?;
                    let nullable = planned.nullable(declared)?;
                    let field = Field::new(&column.name, data_type, nullable);
                    (Arc::new(field), expr.alias(&column.name))
                }
                None => {
                    let Some(field) = declared_fields.next() else {
                        return Err(EngineError::Internal {
                            message: format!("table {table}'s columns went out of step"),
                            source: None,
                        });
                    };
                    let expr = Expr::Column(Column::from_name(field.name()));
                    (field.clone(), expr)
                }
            };
            physical.push(ctx.create_physical_expr(expr.clone(), &df_schema)?);
            fields.push(field);
            logical.push(expr);
        }
        let schema = Arc::new(Schema::new(fields));
        if let Some(duplicate) = duplicate_name(&schema) {
            return Err(EngineError::Plan {
                message: format!("table {table} declares the column {duplicate} twice"),
                position: None,
                hint: None,
            });
        }
        Ok(ComputedColumns {
            schema,
            logical,
            physical,
        })
    }

    /// The table's schema: declared and computed columns.
    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// A batch of declared columns with the computed ones added.
    fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch, EngineError> {
        let columns = self
            .physical
            .iter()
            .map(|expr| expr.evaluate(batch)?.into_array(batch.num_rows()))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = RecordBatch::try_new(self.schema.clone(), columns)?;
        // A changelog source's weight (its last column, read by no expression) goes on.
        if !changelog_source::is_weighted(batch.schema().as_ref()) {
            return Ok(rows);
        }
        let mut columns = rows.columns().to_vec();
        columns.push(batch.column(batch.num_columns() - 1).clone());
        Ok(RecordBatch::try_new(
            changelog_source::weighted_schema(&self.schema),
            columns,
        )?)
    }

    /// A bounded table of the connector's `provider` with the computed columns added.
    pub(crate) fn table(
        &self,
        table: &str,
        provider: Arc<dyn TableProvider>,
    ) -> Result<Arc<dyn TableProvider>, EngineError> {
        let plan = LogicalPlanBuilder::scan(table, provider_as_source(provider), None)?
            .project(self.logical.clone())?
            .build()?;
        Ok(Arc::new(DeclaredTable::new(Arc::new(ViewTable::new(
            plan, None,
        )))))
    }
}

fn computed_error(
    table: &str,
    column: &ComputedColumn,
    error: datafusion::error::DataFusionError,
) -> EngineError {
    EngineError::Plan {
        message: format!(
            "the computed column {} of {table} ({}) cannot be planned: {}",
            column.name,
            column.expression,
            EngineError::from(error)
        ),
        position: Some(column.position),
        hint: Some("a computed column reads the table's other declared columns".into()),
    }
}

fn duplicate_name(schema: &Schema) -> Option<String> {
    let mut names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
    names.sort_unstable();
    names
        .windows(2)
        .find(|w| w[0] == w[1])
        .map(|w| w[0].clone())
}

/// A stream table's source with its computed columns.
pub(crate) struct WithComputed {
    pub(crate) inner: Arc<dyn SourceFactory>,
    pub(crate) columns: Arc<ComputedColumns>,
}

impl SourceFactory for WithComputed {
    fn open(&self, ctx: &SessionContext) -> Result<Box<dyn StreamSource>, EngineError> {
        Ok(Box::new(ComputedSource {
            inner: self.inner.open(ctx)?,
            columns: self.columns.clone(),
        }))
    }

    fn describe(&self) -> Option<Result<datafusion::arrow::array::RecordBatch, EngineError>> {
        self.inner.describe()
    }

    fn is_changelog(&self) -> bool {
        self.inner.is_changelog()
    }
}

struct ComputedSource {
    inner: Box<dyn StreamSource>,
    columns: Arc<ComputedColumns>,
}

impl StreamSource for ComputedSource {
    fn schema(&self) -> SchemaRef {
        // A changelog source's rows keep their weight, last.
        match changelog_source::is_weighted(&self.inner.schema()) {
            true => changelog_source::weighted_schema(&self.columns.schema()),
            false => self.columns.schema(),
        }
    }

    fn is_bounded(&self) -> bool {
        self.inner.is_bounded()
    }

    fn report(&self) -> Option<Arc<crate::stream::source_report::SourceReport>> {
        self.inner.report()
    }

    fn run(self: Box<Self>, out: BatchSender) -> BoxFuture<'static, Result<(), EngineError>> {
        let ComputedSource { inner, columns } = *self;
        Box::pin(async move {
            let (declared_tx, mut declared) = mpsc::channel(4);
            let produce = inner.run(declared_tx);
            let compute = async move {
                while let Some(batch) = declared.recv().await {
                    if out.send(columns.apply(&batch)?).await.is_err() {
                        // The query is gone; dropping `declared` stops the connector too.
                        break;
                    }
                }
                Ok::<(), EngineError>(())
            };
            let (produced, computed) = futures::join!(produce, compute);
            computed?;
            produced
        })
    }
}
