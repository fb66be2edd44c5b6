//! What the state records about failover groups: the active site, the epoch, an override left
//! by an emergency failover or a switchover command, and the history of every switch.

use crate::addr::AbsInstance;
use serde::{Deserialize, Serialize};
use standby_provider_sdk::ReplicationMode;
use std::collections::BTreeMap;

/// One failover group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FailoverState {
    /// The site whose member is primary.
    pub active: String,
    /// The fencing token: increases with every switch.
    pub epoch: u64,
    /// `sync` or `async`.
    pub mode: ReplicationMode,
    /// The declared `replication.max_lag`, in bytes, as last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lag_bytes: Option<crate::units::ByteSize>,
    /// Member resource instance by site, recorded as its address.
    #[serde(with = "member_addrs")]
    pub members: BTreeMap<String, AbsInstance>,
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
            .find(|h| {
                matches!(
                    h.kind,
                    SwitchKind::Switchover | SwitchKind::Failover | SwitchKind::Reconcile
                )
            })
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
    /// `initial`, `switchover`, `failover`, `resync` or `reconcile`.
    pub kind: SwitchKind,
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
    #[serde(with = "step_name")]
    pub step: StepKind,
    /// Seconds it took.
    pub seconds: f64,
    /// What it did.
    pub detail: String,
    /// The data-loss gap a `catch-up` (0) or `measure-gap` step established, in the unit of the
    /// provider's replication position (bytes of WAL for PostgreSQL, write transactions for
    /// SQLite); absent when it is unknown (the old primary's final position could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<u64>,
}

/// The steps of a switch, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Make one member primary and the others standbys (first apply, or a new member).
    Configure,
    /// The target is healthy and close enough.
    Precheck,
    /// Manual approval.
    Approval,
    /// A hook command; the index is into the group's hooks.
    Hook(u32),
    /// The old primary stops taking writes.
    Fence,
    /// The target replays everything the fenced primary wrote.
    CatchUp,
    /// Emergency failover: measure how far behind the target is instead of waiting.
    MeasureGap,
    /// The target becomes primary: the point of no return, and nothing else.
    Promote,
    /// The new primary's checksums, taken before traffic moves. Past the point of no return:
    /// a failure here is a caveat, never a reason to undo the switch.
    Checksum,
    /// Checksums and health after traffic moved.
    Verify,
    /// The former primary rejoins as a standby.
    Reprotect,
    /// The state records the switch.
    Record,
}

impl std::fmt::Display for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepKind::Configure => write!(f, "configure"),
            StepKind::Precheck => write!(f, "precheck"),
            StepKind::Approval => write!(f, "approval"),
            StepKind::Hook(i) => write!(f, "hook[{i}]"),
            StepKind::Fence => write!(f, "fence"),
            StepKind::CatchUp => write!(f, "catch-up"),
            StepKind::MeasureGap => write!(f, "measure-gap"),
            StepKind::Promote => write!(f, "promote"),
            StepKind::Checksum => write!(f, "checksum"),
            StepKind::Verify => write!(f, "verify"),
            StepKind::Reprotect => write!(f, "re-protect"),
            StepKind::Record => write!(f, "record"),
        }
    }
}

impl std::str::FromStr for StepKind {
    type Err = String;

    /// The name as `Display` writes it, as the state records it.
    fn from_str(s: &str) -> Result<StepKind, String> {
        Ok(match s {
            "configure" => StepKind::Configure,
            "precheck" => StepKind::Precheck,
            "approval" => StepKind::Approval,
            "fence" => StepKind::Fence,
            "catch-up" => StepKind::CatchUp,
            "measure-gap" => StepKind::MeasureGap,
            "promote" => StepKind::Promote,
            "checksum" => StepKind::Checksum,
            "verify" => StepKind::Verify,
            "re-protect" => StepKind::Reprotect,
            "record" => StepKind::Record,
            _ => {
                let i = s
                    .strip_prefix("hook[")
                    .and_then(|r| r.strip_suffix(']'))
                    .and_then(|i| i.parse().ok())
                    .ok_or_else(|| format!("unknown switch step {s:?}"))?;
                StepKind::Hook(i)
            }
        })
    }
}

/// A step recorded in the state by its name (`catch-up`, `hook[0]`), as the history shows it.
mod step_name {
    use super::StepKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(k: &StepKind, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(k)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<StepKind, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What kind of switch a group undergoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchKind {
    /// First apply: set up roles.
    Initial,
    /// Members changed: sync the new ones.
    Resync,
    /// A planned switch, from the topology or `standby switchover`.
    Switchover,
    /// `standby failover`: the primary is down or unreachable.
    Failover,
    /// Only the state changes (an override is cleared).
    RecordOnly,
    /// The members show a switch the state does not: record it, and re-protect the others.
    Reconcile,
}

impl std::fmt::Display for SwitchKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SwitchKind::Initial => "initial",
            SwitchKind::Resync => "resync",
            SwitchKind::Switchover => "switchover",
            SwitchKind::Failover => "failover",
            SwitchKind::RecordOnly => "record_only",
            SwitchKind::Reconcile => "reconcile",
        })
    }
}

/// Member instances recorded by their canonical address, `module.m.sqlite_database.east`.
mod member_addrs {
    use crate::addr::{AbsInstance, Target};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::BTreeMap;

    pub(super) fn serialize<S: Serializer>(
        m: &BTreeMap<String, AbsInstance>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(site, a)| (site, a.to_string())))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, AbsInstance>, D::Error> {
        let text = BTreeMap::<String, String>::deserialize(d)?;
        text.into_iter()
            .map(|(site, a)| {
                let t: Target = a.parse().map_err(serde::de::Error::custom)?;
                let inst = t.as_instance().ok_or_else(|| {
                    serde::de::Error::custom(format!("{a:?} names no resource instance"))
                })?;
                Ok((site, inst))
            })
            .collect()
    }
}
