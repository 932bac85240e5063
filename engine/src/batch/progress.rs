//! How far a running batch query has got, for the kernel's progress line: the rows its
//! scans have read so far, taken from DataFusion's live operator metrics, or, for a query
//! run as a cluster's job, the job's stages and tasks as the cluster reports them.

use datafusion::physical_plan::ExecutionPlan;
use std::sync::{Arc, Mutex};

/// Shared between the statement that runs and whoever shows its progress.
#[derive(Clone, Default)]
pub struct ScanProgress {
    plan: Arc<Mutex<Option<Arc<dyn ExecutionPlan>>>>,
    /// What the cluster running the query as a job last said of it.
    job: Arc<Mutex<Option<String>>>,
}

impl ScanProgress {
    pub(crate) fn report_job(&self, report: String) {
        *self.job.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
    }

    /// How far the query's job on a cluster has got (`job 3Xf…: 1 of 3 stages done · 4
    /// tasks done, 2 running`), once the cluster has said.
    pub fn job_report(&self) -> Option<String> {
        self.job.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn watch(&self, plan: Arc<dyn ExecutionPlan>) {
        *self.plan.lock().unwrap_or_else(|p| p.into_inner()) = Some(plan);
    }

    /// Rows read by the plan's scans so far; `None` before the plan runs or when its
    /// scans do not count rows.
    pub fn rows_scanned(&self) -> Option<u64> {
        let plan = self
            .plan
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        let mut total = None;
        add_leaf_rows(&plan, &mut total);
        total
    }
}

fn add_leaf_rows(plan: &Arc<dyn ExecutionPlan>, total: &mut Option<u64>) {
    let children = plan.children();
    if children.is_empty() {
        if let Some(rows) = plan.metrics().and_then(|m| m.output_rows()) {
            *total = Some(total.unwrap_or(0) + rows as u64);
        }
        return;
    }
    for child in children {
        add_leaf_rows(child, total);
    }
}
