//! Leader election among monitors, and the fencing token that guards every promotion.
//!
//! Several monitors may watch one environment, one per site; only the holder of a lease in etcd
//! may act. The revision at which the holder created its leader key is its fencing token. A
//! promotion is a compare-and-swap on the group's epoch key that succeeds only while the leader
//! key still exists at that revision and the epoch key is unchanged since it was read, so a
//! monitor whose lease expired (paused, partitioned, or slow to notice) cannot promote, and two
//! promotions can never claim the same epoch.
//!
//! Keys, under `/standby/ENV/`:
//! - `leader`: the holder's name, attached to its lease;
//! - `failover/GROUP/epoch`: the last claimed epoch, its token, holder and target, as JSON.

mod etcd;
mod guard;

pub use etcd::{Claim, Election, Standing};
pub use guard::{epoch_guard, operator_guard};

/// Why the lease or a claim failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// No etcd endpoint answered.
    #[error("cannot reach etcd at {endpoints}: {detail}")]
    Unreachable {
        /// The endpoints tried.
        endpoints: String,
        /// What the client said.
        detail: String,
    },
    /// A request failed.
    #[error("etcd request failed: {0}")]
    Etcd(String),
    /// This monitor does not hold the lease (any more).
    #[error("this monitor does not hold the lease: {0}")]
    NotHolder(String),
    /// The epoch was already claimed, so the caller's plan is stale.
    #[error("epoch {held} of failover.{group} is already claimed in etcd by {by}; a promotion at epoch {wanted} is stale")]
    StaleEpoch {
        /// The group.
        group: String,
        /// The claimed epoch.
        held: u64,
        /// Who claimed it.
        by: String,
        /// The epoch asked for.
        wanted: u64,
    },
}

impl From<etcd_client::Error> for LeaseError {
    fn from(e: etcd_client::Error) -> Self {
        LeaseError::Etcd(e.to_string())
    }
}
