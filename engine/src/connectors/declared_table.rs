//! A table declared with `CREATE TABLE … WITH (…)` whose rows come from a plan over its files
//! (text columns cast to the declared types, bad rows filtered out). DataFusion's
//! `ViewTable` would run that plan, but it tells the catalog it is a view: `DROP TABLE`
//! then refuses it and `information_schema` lists it as a VIEW, though the user made a table.

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use std::borrow::Cow;
use std::sync::Arc;

/// A base table that behaves as the view over its plan does in every query.
#[derive(Debug)]
pub(crate) struct DeclaredTable {
    plan: Arc<dyn TableProvider>,
}

impl DeclaredTable {
    /// `plan` is the view that computes the table's rows.
    pub(crate) fn new(plan: Arc<dyn TableProvider>) -> Self {
        DeclaredTable { plan }
    }
}

#[async_trait]
impl TableProvider for DeclaredTable {
    fn schema(&self) -> SchemaRef {
        self.plan.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Planners inline the plan, so projections and filters reach the file scan below it.
    fn get_logical_plan(&'_ self) -> Option<Cow<'_, LogicalPlan>> {
        self.plan.get_logical_plan()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.plan.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.plan.scan(state, projection, filters, limit).await
    }
}
