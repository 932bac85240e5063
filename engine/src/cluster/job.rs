//! A query's job on the cluster, cancelled when the query is dropped before its end.
//!
//! Ballista's client neither cancels a job when its result stream is dropped nor offers a
//! call to do it; the scheduler's `CancelJob` request does. An interrupt drops the
//! statement's future, so the watch asks the scheduler to cancel from its `Drop`.

use ballista_core::execution_plans::DistributedQueryExec;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::CancelJobParams;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::protobuf::LogicalPlanNode;
use std::sync::Arc;

/// The job a distributed plan runs as, once the scheduler has accepted it.
pub(super) struct JobWatch {
    query: Option<DistributedQueryExec<LogicalPlanNode>>,
    scheduler: String,
    finished: bool,
}

impl JobWatch {
    /// Watches the job of `plan` (a plan Ballista's query planner made) on `scheduler`.
    pub(super) fn of(plan: &Arc<dyn ExecutionPlan>, scheduler: &str) -> Self {
        JobWatch {
            query: find_query(plan),
            scheduler: scheduler.to_string(),
            finished: false,
        }
    }

    /// The job's id, once the scheduler has given one.
    pub(super) fn id(&self) -> Option<String> {
        self.query.as_ref()?.job_id().map(String::from)
    }

    /// What gives the job's id once the scheduler has given one, apart from the watch.
    pub(super) fn ids(&self) -> impl Fn() -> Option<String> + use<> {
        let query = self.query.clone();
        move || query.as_ref()?.job_id().map(String::from)
    }

    /// The job ended (all its rows read, or failed on the cluster): nothing to cancel.
    pub(super) fn finished(mut self) {
        self.finished = true;
    }
}

/// The distributed query in `plan`: its root, or below the nodes the client adds on top.
fn find_query(plan: &Arc<dyn ExecutionPlan>) -> Option<DistributedQueryExec<LogicalPlanNode>> {
    if let Some(query) = plan
        .as_ref()
        .downcast_ref::<DistributedQueryExec<LogicalPlanNode>>()
    {
        return Some(query.clone());
    }
    plan.children().into_iter().find_map(find_query)
}

impl Drop for JobWatch {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (Some(job_id), Ok(runtime)) = (self.id(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        let scheduler = self.scheduler.clone();
        runtime.spawn(async move {
            match SchedulerGrpcClient::connect(scheduler.clone()).await {
                Ok(mut client) => {
                    if let Err(error) = client.cancel_job(CancelJobParams { job_id }).await {
                        log::warn!("the cluster at {scheduler} did not cancel a job: {error}");
                    }
                }
                Err(error) => {
                    log::warn!("cannot reach the cluster at {scheduler} to cancel a job: {error}")
                }
            }
        });
    }
}
