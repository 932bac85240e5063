//! How far a query's job on the cluster has got, for the progress line: the scheduler's
//! REST API (served on its gRPC port) lists the job's stages and each stage's tasks; the
//! gRPC status has no progress at all.

use crate::batch::progress::ScanProgress;
use crate::rest::Rest;
use serde::Deserialize;
use std::time::Duration;

/// How often the scheduler is asked; the progress line is redrawn every 500 ms.
const POLL: Duration = Duration::from_millis(250);

#[derive(Deserialize)]
struct Job {
    num_stages: usize,
    completed_stages: usize,
}

#[derive(Deserialize)]
struct Stages {
    stages: Vec<Stage>,
}

#[derive(Deserialize)]
struct Stage {
    #[serde(default)]
    tasks: Vec<Option<Task>>,
}

#[derive(Deserialize)]
struct Task {
    /// `"Running"`, `"Successful"`, or `{"Failed": {…}}`.
    status: serde_json::Value,
}

/// Reports the job `job_id()` names (once the scheduler has given an id) into `progress`
/// until dropped.
pub(super) async fn follow(
    scheduler: Rest,
    job_id: impl Fn() -> Option<String>,
    progress: ScanProgress,
) {
    loop {
        tokio::time::sleep(POLL).await;
        let Some(id) = job_id() else {
            continue;
        };
        // A scheduler built without its REST API, or one that no longer knows the job,
        // leaves the line as it was: progress is a courtesy, not the query's business.
        if let Some(report) = report(&scheduler, &id).await {
            progress.report_job(report);
        }
    }
}

async fn report(scheduler: &Rest, id: &str) -> Option<String> {
    let job: Job =
        serde_json::from_value(scheduler.get(&format!("/api/job/{id}")).await.ok()?).ok()?;
    let stages: Stages =
        serde_json::from_value(scheduler.get(&format!("/api/job/{id}/stages")).await.ok()?).ok()?;
    let (mut done, mut running, mut failed) = (0, 0, 0);
    for task in stages.stages.iter().flat_map(|s| s.tasks.iter().flatten()) {
        match task.status.as_str() {
            Some("Successful") => done += 1,
            Some("Running") => running += 1,
            _ => failed += 1,
        }
    }
    let mut text = format!(
        "job {id} on the cluster: {} of {} stages done · {done} tasks done, {running} running",
        job.completed_stages, job.num_stages
    );
    if failed > 0 {
        text.push_str(&format!(", {failed} failed"));
    }
    Some(text)
}
