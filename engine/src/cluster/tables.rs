//! The tables of a plan as the cluster reads them: each file scan becomes DataFusion's
//! listing table (its paths, format and schema are what Ballista's codec carries to the
//! scheduler and executors); a table read any other way is refused.

use crate::batch::remembered_table::RememberedTable;
use crate::error::EngineError;
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::common::TableReference;
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::logical_expr::LogicalPlan;
use std::sync::Arc;

/// `plan` with its file scans read by the cluster. The first table it cannot read is
/// refused with `why_not(table)`: what keeps the table in this process.
pub(super) fn for_cluster(
    plan: LogicalPlan,
    why_not: &(dyn Fn(&TableReference) -> String + Sync),
) -> Result<LogicalPlan, EngineError> {
    let mut refused: Option<TableReference> = None;
    let plan = plan
        .transform_up_with_subqueries(|node| {
            let LogicalPlan::TableScan(mut scan) = node else {
                return Ok(Transformed::no(node));
            };
            match files_of(&source_as_provider(&scan.source)?) {
                Some(files) => {
                    scan.source = provider_as_source(files);
                    Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
                }
                None => {
                    refused.get_or_insert_with(|| scan.table_name.clone());
                    Ok(Transformed::no(LogicalPlan::TableScan(scan)))
                }
            }
        })?
        .data;
    match refused {
        Some(table) => Err(EngineError::NotSupported {
            message: format!("the cluster cannot read table {table}: {}", why_not(&table)),
        }),
        None => Ok(plan),
    }
}

/// The listing table a table reads its files with: the table itself, or the files under
/// the columns this session keeps of them (kept columns stay here; the cluster reads files).
fn files_of(provider: &Arc<dyn TableProvider>) -> Option<Arc<dyn TableProvider>> {
    let files = match provider.as_ref().downcast_ref::<RememberedTable>() {
        Some(remembered) => remembered.files(),
        None => provider.clone(),
    };
    files
        .as_ref()
        .downcast_ref::<ListingTable>()
        .is_some()
        .then_some(files)
}

/// Whether `plan` reads the session's catalog only (`SHOW TABLES`, `DESCRIBE`, queries of
/// `information_schema`): answered here, where the catalog is.
pub(super) fn reads_catalog_only(plan: &LogicalPlan) -> bool {
    if matches!(plan, LogicalPlan::DescribeTable(_)) {
        return true;
    }
    let mut scans = 0;
    let mut catalog = 0;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            scans += 1;
            if scan.table_name.schema() == Some("information_schema") {
                catalog += 1;
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    scans > 0 && scans == catalog
}
