//! The replication capability: what a provider implements so that its resources can be members
//! of a failover group. The engine drives a switch through these operations only.

use crate::provider::ProviderError;
use crate::value::Value;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::time::Duration;

/// One member of a failover group: its resource type and recorded attributes.
#[derive(Debug, Clone)]
pub struct Member {
    /// The site the member belongs to.
    pub site: String,
    /// The resource type, such as `sqlite_database`.
    pub type_name: String,
    /// The member resource's attributes (no sensitive marks).
    pub state: Value,
}

/// Replication mode of a group, written `sync` or `async` in topologies, plans and states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Commits wait for a standby.
    Sync,
    /// Commits do not wait (the default of a `replication` block).
    #[default]
    Async,
}

impl Mode {
    /// `sync` or `async`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Sync => "sync",
            Mode::Async => "async",
        }
    }

    /// From `sync` or `async`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "sync" => Some(Mode::Sync),
            "async" => Some(Mode::Async),
            _ => None,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A member's role as the provider observes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepts writes.
    Primary,
    /// Follows a primary.
    Standby,
    /// Refuses writes on standby's order.
    Fenced,
    /// Not reachable or not running.
    Down,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Primary => "primary",
            Role::Standby => "standby",
            Role::Fenced => "fenced",
            Role::Down => "down",
        })
    }
}

/// What [`Replication::status`] reports.
#[derive(Debug, Clone)]
pub struct MemberStatus {
    /// The role.
    pub role: Role,
    /// Whether it answers health checks.
    pub healthy: bool,
    /// Its replication position (written for a primary, replayed for a standby), in bytes or
    /// another monotonic unit of the provider.
    pub position: u64,
    /// How far behind its primary it is, in bytes; 0 for a primary.
    pub lag_bytes: u64,
    /// How far behind its primary it is, in seconds.
    pub lag_seconds: f64,
    /// Whether it is a synchronous standby that is in sync.
    pub in_sync: bool,
    /// The highest fencing epoch it has seen.
    pub epoch: u64,
    /// Anything worth showing.
    pub detail: String,
}

/// The outcome of fencing.
#[derive(Debug, Clone)]
pub struct FenceOutcome {
    /// Whether the provider confirmed that the member refuses writes.
    pub confirmed: bool,
    /// The member's final position, when it could be read.
    pub final_position: Option<u64>,
    /// What was done and what could not be confirmed.
    pub detail: String,
}

/// The outcome of checksumming.
pub type Checksums = BTreeMap<String, String>;

/// A provider whose resources can replicate.
#[async_trait]
pub trait Replication: Send + Sync {
    /// The unit of [`MemberStatus::position`] and of a switch's gap, as a report names it.
    fn position_unit(&self) -> &'static str {
        "bytes"
    }

    /// Whether resources of this type can be failover members. A provider that manages other
    /// types too (files next to databases) names the ones that replicate.
    fn replicates(&self, _type_name: &str) -> bool {
        true
    }
    /// Observes a member.
    async fn status(
        &self,
        member: &Member,
        primary: Option<&Member>,
    ) -> Result<MemberStatus, ProviderError>;
    /// A light liveness probe, such as `SELECT 1` for a database. By default, a healthy status.
    async fn probe(&self, member: &Member) -> Result<(), ProviderError> {
        let s = self.status(member, None).await?;
        if s.healthy {
            Ok(())
        } else {
            Err(ProviderError::new("unhealthy", s.detail))
        }
    }
    /// Where clients connect to the member, as host:port, for TCP health checks.
    fn address(&self, _member: &Member) -> Option<String> {
        None
    }
    /// Makes `primary` the primary and `standbys` follow it in `mode`, copying data as needed.
    async fn configure_roles(
        &self,
        primary: &Member,
        standbys: &[Member],
        mode: Mode,
    ) -> Result<(), ProviderError>;
    /// Makes a member refuse writes. With `best_effort`, an unreachable member is not an error:
    /// the outcome says what could not be confirmed.
    async fn fence(
        &self,
        member: &Member,
        epoch: u64,
        best_effort: bool,
    ) -> Result<FenceOutcome, ProviderError>;
    /// Lifts a fence (compensation when a switch stops before traffic moved).
    async fn unfence(&self, member: &Member) -> Result<(), ProviderError>;
    /// Waits until `target` has replayed `primary` up to `position`.
    async fn catch_up(
        &self,
        target: &Member,
        primary: &Member,
        position: u64,
        timeout: Duration,
    ) -> Result<u64, ProviderError>;
    /// Promotes `target` to primary under `epoch`; refuses if a newer epoch was seen. On a
    /// member that is already primary it must only record `epoch` (and open it for writes):
    /// the engine calls it so to finish a promotion that stopped before writing its epoch.
    async fn promote(&self, target: &Member, epoch: u64) -> Result<(), ProviderError>;
    /// Makes the former primary a standby of the new one. Returns a note for the switch's
    /// record when it set aside writes of the former primary that the new one never received
    /// (saying where they are kept), since becoming a standby discards them.
    async fn rejoin(
        &self,
        former: &Member,
        primary: &Member,
        mode: Mode,
    ) -> Result<Option<String>, ProviderError>;
    /// Deterministic hashes of the named data sets.
    async fn checksum(
        &self,
        member: &Member,
        datasets: &[String],
    ) -> Result<Checksums, ProviderError>;
}
