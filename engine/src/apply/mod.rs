//! Applying a plan: walk its execution graph with tokio, never planning again.
//!
//! A node starts when all its dependencies succeeded; at most `parallelism` provider calls run
//! at once. Finished actions are appended to the state journal in groups (one fsync per group)
//! before their dependents start, so a crash loses at most the actions in flight. The snapshot
//! is rewritten once, at the end.

mod compensate;
mod executor;
mod failpoint;
mod instance;
mod record;
mod stamp;
mod switch;
mod table;
mod walk_switch;

pub use executor::apply;
pub use failpoint::armed as armed_failpoints;
pub use record::record as record_instance;
pub use switch::{Approvals, PromotionGuard, Prompt};

use crate::plan::Action;
use crate::state::State;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Errors that stop an apply before or after the walk.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// State could not be read or written.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// A provider could not be configured.
    #[error("cannot configure provider {0}: {1}")]
    Configure(String, String),
}

/// Something that happened during apply, for progress displays.
#[derive(Debug, Clone)]
pub enum ApplyEvent {
    /// An action started.
    Started {
        /// The instance.
        addr: String,
        /// The action.
        action: Action,
    },
    /// An action finished.
    Finished {
        /// The instance.
        addr: String,
        /// The action.
        action: Action,
        /// How long it took.
        elapsed: Duration,
        /// The error, if it failed.
        error: Option<String>,
    },
    /// A switch stopped at its approval gate: nothing failed, it waits for an approval.
    AwaitingApproval {
        /// The step.
        addr: String,
        /// How long the gate was checked.
        elapsed: Duration,
    },
}

/// How to apply.
#[derive(Clone)]
pub struct ApplyOptions {
    /// At most this many provider actions at once.
    pub parallelism: usize,
    /// Set by the caller (on Ctrl-C) to start no new actions.
    pub stop: Arc<AtomicBool>,
    /// Progress events.
    pub events: Option<tokio::sync::mpsc::UnboundedSender<ApplyEvent>>,
    /// How approval gates are passed.
    pub approvals: Approvals,
    /// Groups whose promotion may lose data (`--accept-data-loss GROUP`).
    pub accept_data_loss: std::collections::BTreeSet<String>,
    /// The commit being applied, recorded in the state.
    pub commit: Option<crate::vcs::CommitInfo>,
    /// Checked before fencing and promotion, when the caller was elected.
    pub guard: Option<Arc<dyn PromotionGuard>>,
    /// The reason given with `--operator-override`, recorded in the history.
    pub operator_override: Option<String>,
}

/// One failed action.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The instance.
    pub addr: String,
    /// One line.
    pub summary: String,
    /// What the provider said.
    pub detail: String,
    /// What the failed action left that exists and is to be recorded in place of the prior.
    pub partial: Option<Box<Partial>>,
}

/// An object a failed action left.
#[derive(Debug, Clone)]
pub struct Partial {
    /// Its state; null when no object is left (a replacement deleted the old object and
    /// failed to create the new one), so the record goes.
    pub value: standby_provider_sdk::Value,
    /// The provider's private data for it.
    pub private: Vec<u8>,
    /// Whether the next plan must replace it: a create that failed part way.
    pub tainted: bool,
}

/// What apply did.
#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    /// Actions that succeeded, with their durations.
    pub done: Vec<(String, Action, Duration)>,
    /// Actions that failed.
    pub failed: Vec<Failure>,
    /// What providers warned about while acting, by instance.
    pub warnings: Vec<Failure>,
    /// Actions not run because something they depend on failed, with the culprit.
    pub skipped: Vec<(String, String)>,
    /// Actions not started because of an interrupt.
    pub not_started: Vec<String>,
    /// True if the stop flag was raised.
    pub interrupted: bool,
    /// Groups whose switch stopped at an approval gate.
    pub awaiting_approval: Vec<String>,
    /// Compensating actions taken after a failed switch.
    pub compensations: Vec<String>,
    /// Completed switches, one line each.
    pub switched: Vec<String>,
    /// Groups whose record changed without a switch (set up, re-protected, resynced), one
    /// line each.
    pub recorded: Vec<String>,
    /// What did not go as planned in switches that completed, `failover.GROUP: ...` each:
    /// an unconfirmed fence, an unknown gap, skipped or failed verification.
    pub caveats: Vec<String>,
    /// The state after apply.
    pub state: State,
}

impl ApplyReport {
    /// Counts of (added, changed, destroyed).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for (_, a, _) in &self.done {
            match a {
                Action::Create => c.0 += 1,
                Action::Update => c.1 += 1,
                Action::Delete => c.2 += 1,
                Action::CreateThenDelete | Action::DeleteThenCreate => {
                    c.0 += 1;
                    c.2 += 1;
                }
                _ => {}
            }
        }
        c
    }
}
