//! How a continuous query's plan reads the rows of one micro-batch: the stream (or window)
//! relation is a table whose rows are swapped in before each tick's plan is built, and a
//! per-query catalog lays such tables over the session's own without touching it.

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    SchemaProvider, Session, TableProvider,
};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

/// A table holding the rows of the current micro-batch.
#[derive(Debug)]
pub(crate) struct MicroBatchTable {
    schema: SchemaRef,
    rows: Mutex<Vec<RecordBatch>>,
}

impl MicroBatchTable {
    pub(crate) fn new(schema: SchemaRef) -> Self {
        MicroBatchTable {
            schema,
            rows: Mutex::new(Vec::new()),
        }
    }

    /// The rows the next plan built over this table reads.
    pub(crate) fn set(&self, batches: Vec<RecordBatch>) {
        *self.rows.lock().unwrap_or_else(|p| p.into_inner()) = batches;
    }

    /// Takes the rows out, leaving the table empty.
    pub(crate) fn take(&self) -> Vec<RecordBatch> {
        std::mem::take(&mut *self.rows.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[async_trait]
impl TableProvider for MicroBatchTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let rows = self.rows.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(MemorySourceConfig::try_new_exec(
            &[rows],
            self.schema.clone(),
            projection.cloned(),
        )?)
    }
}

/// The session's catalogs, with extra tables in the default schema that shadow tables of
/// the same name there.
pub(crate) fn overlay_catalogs(
    base: &Arc<dyn CatalogProviderList>,
    default_catalog: &str,
    default_schema: &str,
    extra: HashMap<String, Arc<dyn TableProvider>>,
) -> Result<Arc<dyn CatalogProviderList>> {
    let list = MemoryCatalogProviderList::new();
    let mut extra = Some(extra);
    for catalog_name in base.catalog_names() {
        let Some(catalog) = base.catalog(&catalog_name) else {
            continue;
        };
        if catalog_name != default_catalog {
            list.register_catalog(catalog_name, catalog);
            continue;
        }
        let copy = MemoryCatalogProvider::new();
        for schema_name in catalog.schema_names() {
            let Some(schema) = catalog.schema(&schema_name) else {
                continue;
            };
            let schema: Arc<dyn SchemaProvider> =
                match (schema_name == default_schema, extra.take()) {
                    (true, Some(tables)) => Arc::new(OverlaySchema {
                        base: schema,
                        tables: RwLock::new(tables),
                    }),
                    (_, taken) => {
                        extra = taken;
                        schema
                    }
                };
            copy.register_schema(&schema_name, schema)?;
        }
        list.register_catalog(catalog_name, Arc::new(copy));
    }
    Ok(Arc::new(list))
}

/// The session's default schema with a query's own tables over it. A query adds tables as
/// it is planned (the views over its stream, each planned over the stream's micro-batch
/// table), so they live behind a lock.
#[derive(Debug)]
struct OverlaySchema {
    base: Arc<dyn SchemaProvider>,
    tables: RwLock<HashMap<String, Arc<dyn TableProvider>>>,
}

impl OverlaySchema {
    fn tables(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<dyn TableProvider>>> {
        // Every change is one insert: a poisoned lock holds a whole map.
        self.tables.read().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl SchemaProvider for OverlaySchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.base.table_names();
        names.extend(self.tables().keys().cloned());
        names.sort_unstable();
        names.dedup();
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let table = self.tables().get(name).cloned();
        match table {
            Some(table) => Ok(Some(table)),
            None => self.base.table(name).await,
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables().contains_key(name) || self.base.table_exist(name)
    }

    /// Adds a table to this query's overlay; the session's own schema is not touched.
    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        let mut tables = self.tables.write().unwrap_or_else(|p| p.into_inner());
        Ok(tables.insert(name, table))
    }
}
