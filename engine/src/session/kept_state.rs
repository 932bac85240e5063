//! The session state statements are planned with, kept from one statement to the next.
//!
//! Each statement plans against its own view of the session, which also fixes the time
//! `now()` stands for. `SessionContext::state()` makes that view by copying the session,
//! and its task context copies the function registries again: a few hundred entries each
//! time, about a tenth of a cached `COUNT(*)`'s run. The catalog inside a view is shared
//! with the session, so a kept view sees tables come and go. Only a change to the session
//! itself (`SET`, DDL run by the context) makes it stale: [`KeptState::invalidate`].

use datafusion::execution::context::SessionContext;
use datafusion::execution::session_state::SessionState;
use datafusion::execution::TaskContext;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// At most one idle view of the session, and the generation it must match to be used.
#[derive(Default)]
pub(crate) struct KeptState {
    generation: AtomicU64,
    idle: Mutex<Option<Planning>>,
}

/// A statement's view of the session.
pub(crate) struct Planning {
    pub state: SessionState,
    /// What the statement's plan runs with; made from `state`.
    pub task: Arc<TaskContext>,
    generation: u64,
}

impl KeptState {
    /// The kept view if the session has not changed since it was made, otherwise a new
    /// one; either way starting now. Statements running side by side get views of their own.
    pub fn take(&self, ctx: &SessionContext) -> Planning {
        let generation = self.generation.load(Ordering::Acquire);
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.take());
        match idle {
            Some(mut planning) if planning.generation == generation => {
                planning.state.mark_start_execution();
                planning
            }
            _ => {
                let state = ctx.state();
                let task = state.task_ctx();
                Planning {
                    state,
                    task,
                    generation,
                }
            }
        }
    }

    /// Keeps `planning` for the next statement, unless the session changed meanwhile.
    pub fn give_back(&self, planning: Planning) {
        if let Ok(mut idle) = self.idle.lock() {
            if planning.generation == self.generation.load(Ordering::Acquire) {
                *idle = Some(planning);
            }
        }
    }

    /// The session changed: views made before now are not used again.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut idle) = self.idle.lock() {
            *idle = None;
        }
    }
}
