//! The line a long statement shows while it runs ("running… 4.2 s · 1,234,567 rows read"),
//! updated in place and then replaced by the statement's result, so a cell never looks stuck.

use crate::render;
use crate::server::Outputs;
use eddy_engine::ScanProgress;
use std::time::{Duration, Instant};

/// How often the line is redrawn once shown.
pub const REFRESH: Duration = Duration::from_millis(500);

pub struct ProgressLine {
    started: Instant,
    statement: usize,
    statements: usize,
    display_id: Option<String>,
    scan: ScanProgress,
}

impl ProgressLine {
    pub fn new(statement: usize, statements: usize, scan: ScanProgress) -> Self {
        ProgressLine {
            started: Instant::now(),
            statement,
            statements,
            display_id: None,
            scan,
        }
    }

    /// Shows the line the first time, redraws it afterwards.
    pub fn tick(&mut self, out: &Outputs<'_>) {
        let mut text = format!("running… {:.1} s", self.started.elapsed().as_secs_f64());
        if let Some(rows) = self.scan.rows_scanned().filter(|&rows| rows > 0) {
            text.push_str(&format!(" · {} rows read", super::live::thousands(rows)));
        }
        if let Some(job) = self.scan.job_report() {
            text.push_str(&format!(" · {job}"));
        }
        if self.statements > 1 {
            text.push_str(&format!(
                " (statement {} of {})",
                self.statement + 1,
                self.statements
            ));
        }
        let bundle = render::plain(text);
        match &self.display_id {
            Some(id) => out.update(id, bundle),
            None => {
                let id = format!("eddy-progress-{}", uuid::Uuid::new_v4());
                out.display_with_id(&id, bundle);
                self.display_id = Some(id);
            }
        }
    }

    /// The display the line occupies, if it was shown.
    pub fn display_id(&self) -> Option<&str> {
        self.display_id.as_deref()
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}
