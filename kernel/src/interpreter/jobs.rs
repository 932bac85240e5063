//! Continuous queries started with `%sql --background`: they keep updating their display
//! after the cell has finished. `%jobs` lists them, `%cancel ID|all` stops them, and
//! shutdown stops all.

use super::live::{status_line, LiveState};
use eddy_engine::{Canceller, StreamFigures};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What `%jobs` knows of one background query.
struct Job {
    sql: String,
    canceller: Canceller,
    figures: StreamFigures,
    state: LiveState,
}

/// The background queries of this kernel, numbered from 1.
#[derive(Clone, Default)]
pub struct Jobs {
    inner: Arc<Mutex<JobTable>>,
}

#[derive(Default)]
struct JobTable {
    next: u32,
    jobs: BTreeMap<u32, Job>,
}

impl Jobs {
    fn table(&self) -> std::sync::MutexGuard<'_, JobTable> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add(&self, sql: &str, canceller: Canceller, figures: StreamFigures) -> u32 {
        let mut table = self.table();
        table.next += 1;
        let id = table.next;
        table.jobs.insert(
            id,
            Job {
                sql: sql.split_whitespace().collect::<Vec<_>>().join(" "),
                canceller,
                figures,
                state: LiveState::Running,
            },
        );
        id
    }

    /// Records a job's latest figures and state (ended jobs stay listed with how they
    /// ended).
    pub fn report(&self, id: u32, figures: StreamFigures, state: LiveState) {
        if let Some(job) = self.table().jobs.get_mut(&id) {
            job.figures = figures;
            job.state = state;
        }
    }

    /// Cancels one job, or every running one; returns the ids cancelled.
    pub fn cancel(&self, which: &str) -> Result<Vec<u32>, String> {
        let table = self.table();
        let running = |job: &&Job| job.state == LiveState::Running;
        if which.trim().eq_ignore_ascii_case("all") {
            let ids: Vec<u32> = table
                .jobs
                .iter()
                .filter(|(_, job)| running(job))
                .map(|(id, job)| {
                    job.canceller.cancel();
                    *id
                })
                .collect();
            return Ok(ids);
        }
        let id: u32 =
            which.trim().trim_start_matches('#').parse().map_err(|_| {
                "write %cancel ID (a number %jobs shows) or %cancel all".to_string()
            })?;
        match table.jobs.get(&id) {
            Some(job) if running(&job) => {
                job.canceller.cancel();
                Ok(vec![id])
            }
            Some(_) => Err(format!("job {id} is not running")),
            None => Err(format!("there is no job {id}; %jobs lists them")),
        }
    }

    pub fn cancel_all(&self) {
        for job in self.table().jobs.values() {
            job.canceller.cancel();
        }
    }

    /// `%jobs`: one line per job.
    pub fn listing(&self) -> String {
        let table = self.table();
        if table.jobs.is_empty() {
            return "No background queries. `%sql --background` starts one.".to_string();
        }
        table
            .jobs
            .iter()
            .map(|(id, job)| {
                let sql: String = job.sql.chars().take(60).collect();
                let ellipsis = if job.sql.chars().count() > 60 {
                    "…"
                } else {
                    ""
                };
                format!(
                    "[{id}] {}\n    {sql}{ellipsis}",
                    status_line(&job.figures, &job.state)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}
