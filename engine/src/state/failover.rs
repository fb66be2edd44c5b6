//! What the state records about failover groups: the active site, the epoch, an override left
//! by an emergency failover or a switchover command, and the history of every switch.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One failover group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FailoverState {
    /// The site whose member is primary.
    pub active: String,
    /// The fencing token: increases with every switch.
    pub epoch: u64,
    /// `sync` or `async`.
    pub mode: String,
    /// The declared `replication.max_lag`, in bytes, as last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lag_bytes: Option<u64>,
    /// Member resource address by site.
    pub members: BTreeMap<String, String>,
    /// Set by `standby failover` and `standby switchover`: the active site differs from what
    /// the topology says until the topology agrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_: Option<Override>,
    /// Every completed switch, oldest first.
    #[serde(default)]
    pub history: Vec<SwitchRecord>,
}

impl FailoverState {
    /// The newest epoch a promotion wrote into the members (the initial setup writes none):
    /// a writer below it has provably been deposed.
    pub fn promoted_epoch(&self) -> u64 {
        self.history
            .iter()
            .rev()
            .find(|h| matches!(h.kind.as_str(), "switchover" | "failover" | "reconcile"))
            .map_or(0, |h| h.epoch)
    }
}

/// An active site chosen outside the topology file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Override {
    /// The site made active.
    pub site: String,
    /// Why, such as `emergency failover`.
    pub reason: String,
    /// Who.
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
}

/// One completed switch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SwitchRecord {
    /// `initial`, `switchover`, `failover` or `resync`.
    pub kind: String,
    /// The previous active site.
    pub from: Option<String>,
    /// The new active site.
    pub to: String,
    /// The epoch after the switch.
    pub epoch: u64,
    /// Who ran it.
    pub by: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// Total seconds.
    pub seconds: f64,
    /// The git commit of the topology, when it is in a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Each step with its duration and outcome.
    pub steps: Vec<StepRecord>,
    /// Checksum results by data set: old primary, new primary.
    #[serde(default)]
    pub verification: BTreeMap<String, (String, String)>,
    /// Notes such as an unconfirmed fence or a measured data-loss gap.
    #[serde(default)]
    pub notes: Vec<String>,
    /// What did not go as planned although the switch completed: an unconfirmed fence, an
    /// unknown gap, skipped or failed verification, a member not re-protected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caveats: Vec<String>,
}

/// One step of a switch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepRecord {
    /// The step.
    pub step: String,
    /// Seconds it took.
    pub seconds: f64,
    /// What it did.
    pub detail: String,
}
