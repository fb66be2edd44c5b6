//! An operation, [`run`]: lock → read the state → a saved plan checked for freshness, or a
//! plan made under the lock → show and confirm it → gates (`gate.rs`) → apply, which persists
//! as it goes → a [`Verdict`]. It reaches the person who runs it only through a [`View`].
//! `standby apply`, `destroy`, `switchover`, `failover`, `approve` and the monitor's
//! failovers all run through it, so they pass the same gates in the same order and end in the
//! same verdict, whose exit code the CLI returns.
//!
//! What stays with the caller: finding the topology, the environment, the variables and the
//! backend (the CLI's workspace), and rendering. `standby plan` locks and reads with
//! [`lock_and_read`] but applies nothing; `import` checks the protected-environment gates on
//! its own, since it records without applying.

pub mod gate;

pub use gate::{
    data_loss_acknowledged, fresh, monitor_inputs_allowed, operator_inputs,
    operator_inputs_allowed, plan_hash, protected, switch_needs_lock, CommandLineInputs, Refusal,
};

use crate::apply::{
    apply, ApplyError, ApplyEvent, ApplyOptions, ApplyReport, Approvals, PromotionGuard,
};
use crate::config::Config;
use crate::plan::{Plan, PlanMode, PlanOptions};
use crate::registry::Registry;
use crate::state::{Backend, LockGuard, LockInfo, State, StateError};
use standby_provider_sdk::Value;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Why an operation stopped before changing anything, or could not record what it did.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// A gate refused; nothing was changed.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The state could not be locked, read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// The apply could not start (a provider could not be configured).
    #[error("{0}")]
    Apply(String),
    /// The topology could not be planned.
    #[error("the plan failed")]
    Plan(crate::diag::Diagnostics),
    /// The person declined at the confirmation; nothing was changed.
    #[error("cancelled")]
    Cancelled,
}

impl From<ApplyError> for OpError {
    fn from(e: ApplyError) -> OpError {
        match e {
            ApplyError::State(s) => OpError::State(s),
            other => OpError::Apply(other.to_string()),
        }
    }
}

/// How the state lock is taken: `--lock` and `--lock-timeout`.
#[derive(Debug, Clone, Copy)]
pub struct Locking {
    /// Whether to take it at all.
    pub enabled: bool,
    /// How long to wait for the current holder.
    pub timeout: Duration,
}

/// Takes the state lock for `operation`. Going without it is refused once the environment
/// records failover groups, except to plan: an unlocked write could overwrite a switch
/// recorded meanwhile.
pub fn lock(
    backend: &dyn Backend,
    operation: &str,
    locking: Locking,
) -> Result<Option<LockGuard>, OpError> {
    if locking.enabled {
        return Ok(Some(
            backend.lock(LockInfo::new(operation), locking.timeout)?,
        ));
    }
    unlocked_allowed(operation, backend.read()?.as_ref())?;
    Ok(None)
}

/// `--lock=false` only where no switch can be overwritten: a plan, or a state without groups.
fn unlocked_allowed(operation: &str, state: Option<&State>) -> Result<(), OpError> {
    if operation != "plan" && state.is_some_and(|s| !s.failovers.is_empty()) {
        return Err(Refusal::new(
            format!("--lock=false is refused for {operation} here"),
            format!("The state of this environment records failover groups, and an unlocked {operation} could overwrite a switch recorded meanwhile. Nothing was changed. Run it without --lock=false."),
        )
        .into());
    }
    Ok(())
}

/// [`lock`], then reads the state under it (a missing state is `None`). Unlocked, the one
/// read both decides whether that is allowed and is the state returned.
pub fn lock_and_read(
    backend: &dyn Backend,
    operation: &str,
    locking: Locking,
) -> Result<(Option<LockGuard>, Option<State>), OpError> {
    if locking.enabled {
        let guard = backend.lock(LockInfo::new(operation), locking.timeout)?;
        return Ok((Some(guard), backend.read()?));
    }
    let state = backend.read()?;
    unlocked_allowed(operation, state.as_ref())?;
    Ok((None, state))
}

/// What the person running an operation sees of it, besides its result. The gates run
/// before any of these is asked for, so a refusal leaves nothing behind (no listener, no
/// progress display, no approval file read).
pub trait View {
    /// A plan made by [`run`], before it is confirmed (a saved plan was shown when saved).
    fn plan_ready(&mut self, plan: &Plan);
    /// Asks whether to apply `plan`; `Err` (a refusal, or [`OpError::Cancelled`]) changes
    /// nothing.
    fn confirm(&mut self, plan: &Plan) -> Result<(), OpError>;
    /// Something they must know before it runs, such as an operator override.
    fn warn(&mut self, text: &str);
    /// How the apply's approval gates are passed (`--approve`, an approval file, a prompt);
    /// an unreadable approval file refuses.
    fn approvals(&mut self, plan: &Plan) -> Result<Approvals, Refusal>;
    /// The flag that stops new actions from starting (Ctrl-C).
    fn stop(&mut self) -> Arc<AtomicBool>;
    /// Where the apply's progress events go, if anywhere.
    fn progress(&mut self) -> Option<tokio::sync::mpsc::UnboundedSender<ApplyEvent>>;
}

/// The gates' inputs that come from whoever runs the operation.
#[derive(Debug, Clone, Default)]
pub struct Gates {
    /// `--accept-data-loss GROUP`.
    pub accept_data_loss: BTreeSet<String>,
    /// `--operator-override REASON`.
    pub operator_override: Option<String>,
    /// A monitor acting on its own: its command-line values were refused when it started.
    pub acting_monitor: bool,
}

/// How an apply ended, from its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everything ran (exit 0).
    Complete,
    /// Something failed or was interrupted; a re-run continues (exit 1).
    Incomplete,
    /// A switch stopped at its approval gate; everything before it ran (exit 4).
    AwaitingApproval,
    /// A switch completed, with caveats to check before trusting the new primary (exit 5).
    CompleteWithCaveats,
}

impl Verdict {
    /// The verdict of a report.
    pub fn of(report: &ApplyReport) -> Verdict {
        let failed = !report.failed.is_empty() || report.interrupted;
        if failed {
            Verdict::Incomplete
        } else if !report.caveats.is_empty() && report.awaiting_approval.is_empty() {
            Verdict::CompleteWithCaveats
        } else if !report.awaiting_approval.is_empty() {
            Verdict::AwaitingApproval
        } else {
            Verdict::Complete
        }
    }

    /// The process's exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Complete => 0,
            Verdict::Incomplete => 1,
            Verdict::AwaitingApproval => 4,
            Verdict::CompleteWithCaveats => 5,
        }
    }
}

/// A plan about to be applied, with everything applying it needs.
pub struct Execution<'a> {
    /// The topology it was planned from.
    pub config: &'a Config,
    /// The providers.
    pub registry: &'a Registry,
    /// The plan, fresh or saved (and found fresh).
    pub plan: &'a Plan,
    /// Where the state is persisted (the caller holds its lock).
    pub backend: &'a dyn Backend,
    /// The state the plan was made from.
    pub state: State,
    /// The gates' inputs.
    pub gates: &'a Gates,
    /// At most this many provider actions at once.
    pub parallelism: usize,
    /// The commit being applied, recorded in the state.
    pub commit: Option<crate::vcs::CommitInfo>,
    /// What fencing and promotion run under (an elected monitor's lease, an operator's claim).
    pub guard: Option<Arc<dyn PromotionGuard>>,
}

/// Gates, then applies and persists: the journal as actions finish, the snapshot at the end.
/// A refusal changes nothing.
pub async fn execute(
    e: Execution<'_>,
    view: &mut dyn View,
) -> Result<(ApplyReport, Verdict), OpError> {
    data_loss_acknowledged(e.plan, &e.gates.accept_data_loss)?;
    protected(e.config, &e.plan.env)?;
    if !e.gates.acting_monitor {
        let reason = e.gates.operator_override.as_deref();
        if let Some(warning) = operator_inputs_allowed(e.config, e.plan, reason)? {
            view.warn(&warning);
        }
    }
    let options = ApplyOptions {
        approvals: view.approvals(e.plan)?,
        stop: view.stop(),
        events: view.progress(),
        parallelism: e.parallelism,
        accept_data_loss: e.gates.accept_data_loss.clone(),
        commit: e.commit,
        guard: e.guard,
        operator_override: e.gates.operator_override.clone(),
    };
    let report = apply(e.config, e.registry, e.plan, e.backend, e.state, options).await?;
    let verdict = Verdict::of(&report);
    Ok((report, verdict))
}

/// The verb of an apply's summary line.
pub fn verb(plan: &Plan) -> &'static str {
    if plan.mode == PlanMode::Destroy {
        "Destroy"
    } else {
        "Apply"
    }
}

/// Where the plan an operation applies comes from.
#[allow(clippy::large_enum_variant)] // reason: one value per operation, moved once
pub enum Source {
    /// A saved plan: applied as it is if the state and the topology did not move on.
    Saved {
        /// The plan.
        plan: Box<Plan>,
        /// The digest of the topology as it is now.
        topology_digest: String,
    },
    /// A plan made under the lock, from the state read there.
    Fresh {
        /// The root module's variables.
        vars: BTreeMap<String, Value>,
        /// How to plan.
        options: PlanOptions,
        /// What the command line gave, for a protected environment's gate.
        given: CommandLineInputs,
    },
}

/// An apply from lock to persist.
pub struct Run<'a> {
    /// The topology.
    pub config: &'a Config,
    /// The providers.
    pub registry: &'a Registry,
    /// The state's backend.
    pub backend: &'a dyn Backend,
    /// What the lock says is running (`apply`, `destroy`).
    pub operation: &'a str,
    /// How the lock is taken.
    pub locking: Locking,
    /// The plan.
    pub source: Source,
    /// The gates' inputs.
    pub gates: &'a Gates,
    /// Whether to ask before applying a fresh plan (`--auto-approve` says no).
    pub confirm: bool,
    /// At most this many provider actions at once.
    pub parallelism: usize,
    /// The commit being applied.
    pub commit: Option<crate::vcs::CommitInfo>,
    /// What fencing and promotion run under; its claimed epochs are floors for a fresh plan.
    pub guard: Option<Arc<dyn PromotionGuard>>,
}

/// How an operation ended.
#[allow(clippy::large_enum_variant)] // reason: one value per operation, moved once
pub enum Outcome {
    /// The plan changes nothing; nothing ran.
    NothingToDo(Box<Plan>),
    /// The plan was applied.
    Applied {
        /// The plan.
        plan: Box<Plan>,
        /// What the apply did.
        report: ApplyReport,
        /// Its verdict.
        verdict: Verdict,
    },
}

/// Locks, reads the state, takes a saved plan (if still fresh) or plans, shows and confirms a
/// fresh plan through the view, then [`execute`]s it. The lock is held throughout.
pub async fn run(r: Run<'_>, view: &mut dyn View) -> Result<Outcome, OpError> {
    let (_lock, state) = lock_and_read(r.backend, r.operation, r.locking)?;
    let plan = match r.source {
        Source::Saved {
            plan,
            topology_digest,
        } => {
            fresh(&plan, state.as_ref(), &topology_digest)?;
            switch_needs_lock(&plan, r.locking.enabled)?;
            *plan
        }
        Source::Fresh {
            vars,
            mut options,
            given,
        } => {
            if let Some(g) = &r.guard {
                for group in r.config.root.failovers.keys() {
                    if let Some(e) = g.claimed_epoch(group).await {
                        options.epoch_floor.insert(group.clone(), e);
                    }
                }
            }
            let mut plan = crate::plan::plan(r.config, r.registry, state.as_ref(), vars, &options)
                .await
                .map_err(OpError::Plan)?;
            plan.operator_inputs = operator_inputs(r.config, &options.env, &given, &plan.variables);
            // Refused before the plan is shown: it would not be applied.
            switch_needs_lock(&plan, r.locking.enabled)?;
            view.plan_ready(&plan);
            if !plan.has_changes() {
                return Ok(Outcome::NothingToDo(Box::new(plan)));
            }
            if r.confirm {
                view.confirm(&plan)?;
            }
            plan
        }
    };
    let execution = Execution {
        config: r.config,
        registry: r.registry,
        plan: &plan,
        backend: r.backend,
        state: state.unwrap_or_default(),
        gates: r.gates,
        parallelism: r.parallelism,
        commit: r.commit,
        guard: r.guard,
    };
    let (report, verdict) = execute(execution, view).await?;
    Ok(Outcome::Applied {
        plan: Box::new(plan),
        report,
        verdict,
    })
}
