//! What the monitor reports, as data: the CLI prints each event as a log line (its
//! `Display`), writes it as a JSON line with `--events FILE`, and sends some as webhooks; a
//! drill reads the JSON lines back, never the log text.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One thing the monitor saw or did, with the wall time (RFC 3339) it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamped {
    /// When, RFC 3339.
    pub time: String,
    /// What.
    #[serde(flatten)]
    pub event: Event,
}

/// What the monitor saw or did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// It watches a group.
    Watching {
        /// The group.
        group: String,
        /// The active site.
        active: String,
        /// The health check's kind.
        check: String,
        /// Seconds between checks.
        interval_seconds: f64,
        /// Seconds a check may take.
        timeout_seconds: f64,
        /// Counted failures that trigger a failover.
        failures: u32,
        /// Whether a person approves the failover.
        manual: bool,
    },
    /// The active member failed a counted check.
    CheckFailed {
        /// The group.
        group: String,
        /// The active site.
        active: String,
        /// Counted failures in a row.
        streak: u32,
        /// How many trigger a failover.
        failures: u32,
        /// Why.
        error: String,
    },
    /// The active member answers again.
    Recovered {
        /// The group.
        group: String,
        /// The active site.
        active: String,
        /// Failed checks before it did.
        after: u32,
    },
    /// The active member failed the check, but a standby still receives its writes.
    NotCounted {
        /// The group.
        group: String,
        /// The active site.
        active: String,
    },
    /// Enough failures, but this monitor does not hold the lease.
    NotLeader {
        /// The group.
        group: String,
        /// Who holds it.
        holder: String,
        /// Whether it was about adopting an unrecorded promotion.
        adopt: bool,
    },
    /// Enough failures, but no standby is healthy enough to promote.
    NoTarget {
        /// The group.
        group: String,
    },
    /// Two members answer as primary.
    SplitBrain {
        /// The group.
        group: String,
        /// The recorded primary.
        active: String,
        /// The other one.
        site: String,
        /// Its epoch.
        epoch: u64,
    },
    /// A deposed primary still takes writes.
    Deposed {
        /// The group.
        group: String,
        /// The deposed writer.
        site: String,
        /// Its epoch.
        epoch: u64,
        /// The newest promoted epoch.
        promoted: u64,
    },
    /// The active member is down and another is primary already: the record is adopted.
    Unrecorded {
        /// The group.
        group: String,
        /// The recorded, silent primary.
        active: String,
        /// The member that is primary.
        site: String,
        /// Its epoch.
        epoch: u64,
    },
    /// The monitor fails over.
    Trigger {
        /// The group.
        group: String,
        /// The site it promotes (or adopts).
        to: String,
        /// Seconds from the first counted failure to the trigger; none when it adopts a
        /// promotion that already happened.
        detected_after_seconds: Option<f64>,
        /// Whether a person approves it (the plan is saved, not applied).
        manual: bool,
    },
    /// The recorded state changed before the monitor acted: it watches afresh instead.
    StateMoved {
        /// The group.
        group: String,
    },
    /// `approval = "manual"`: the failover plan is saved for `standby approve`.
    AwaitingApproval {
        /// The group.
        group: String,
        /// The site it would promote.
        to: String,
        /// The saved plan.
        plan: String,
    },
    /// The failover could not run (or its plan could not be saved); the monitor watches on.
    FailoverFailed {
        /// The group.
        group: String,
        /// Why.
        error: String,
    },
    /// The failover's apply finished.
    FailoverFinished {
        /// The group.
        group: String,
        /// The site it promoted.
        to: String,
        /// The apply's exit code.
        exit_code: i32,
    },
}

impl Event {
    /// The group the event is about.
    pub fn group(&self) -> &str {
        match self {
            Event::Watching { group, .. }
            | Event::CheckFailed { group, .. }
            | Event::Recovered { group, .. }
            | Event::NotCounted { group, .. }
            | Event::NotLeader { group, .. }
            | Event::NoTarget { group }
            | Event::SplitBrain { group, .. }
            | Event::Deposed { group, .. }
            | Event::Unrecorded { group, .. }
            | Event::Trigger { group, .. }
            | Event::StateMoved { group }
            | Event::AwaitingApproval { group, .. }
            | Event::FailoverFailed { group, .. }
            | Event::FailoverFinished { group, .. } => group,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Watching {
                group,
                active,
                check,
                interval_seconds,
                timeout_seconds,
                failures,
                manual,
            } => write!(
                f,
                "watching failover.{group} (active {active}, {check} check every {interval_seconds}s, timeout {timeout_seconds}s, {failures} failures, {} approval)",
                if *manual { "manual" } else { "auto" }
            ),
            Event::CheckFailed {
                group,
                active,
                streak,
                failures,
                error,
            } => write!(
                f,
                "failover.{group}: check {streak}/{failures} of {active} failed: {error}"
            ),
            Event::Recovered {
                group,
                active,
                after,
            } => write!(
                f,
                "failover.{group}: {active} answers again after {after} failed check(s)"
            ),
            Event::NotCounted { group, active } => write!(
                f,
                "failover.{group}: {active} does not answer the monitor, but its standby still receives WAL: not counted"
            ),
            Event::NotLeader {
                group,
                holder,
                adopt,
            } => write!(
                f,
                "failover.{group}: would {}, but this monitor does not hold the lease ({holder}); not acting",
                if *adopt { "record it" } else { "fail over" }
            ),
            Event::NoTarget { group } => write!(
                f,
                "failover.{group}: triggered, but no healthy standby to promote"
            ),
            Event::SplitBrain {
                group,
                active,
                site,
                epoch,
            } => write!(
                f,
                "failover.{group}: SPLIT BRAIN: {active} answers as primary and {site} is primary too (epoch {epoch}); not acting: run `standby status` and `standby plan`, which decide from the members"
            ),
            Event::Deposed {
                group,
                site,
                epoch,
                promoted,
            } => write!(
                f,
                "failover.{group}: {site} accepts writes at epoch {epoch}, older than the newest promoted epoch {promoted}: a deposed primary; not acting while it does (`standby plan` says what to do)"
            ),
            Event::Unrecorded {
                group,
                active,
                site,
                epoch,
            } => write!(
                f,
                "failover.{group}: {active} does not answer and {site} is already primary (epoch {epoch}): the record is stale; adopting what the members say"
            ),
            Event::Trigger {
                group,
                to,
                detected_after_seconds,
                ..
            } => write!(
                f,
                "failover.{group}: TRIGGER: failing over to {to}{}",
                detected_after_seconds.map_or(String::new(), |s| format!(
                    " ({s:.1}s after the first counted failure)"
                ))
            ),
            Event::StateMoved { group } => write!(
                f,
                "failover.{group}: the recorded state changed meanwhile; watching it afresh instead of acting"
            ),
            Event::AwaitingApproval { group, plan, .. } => write!(
                f,
                "failover.{group}: approval = \"manual\": saved the failover plan; run `standby approve {plan}` to fail over"
            ),
            Event::FailoverFailed { group, error } => write!(
                f,
                "failover.{group}: the failover did not run: {error}; watching on"
            ),
            Event::FailoverFinished {
                group, exit_code, ..
            } => write!(
                f,
                "failover.{group}: failover finished with exit code {exit_code}"
            ),
        }
    }
}
