//! What the members of a failover group really are, read before anything is decided: each
//! member's role and epoch, and the verdict against the recorded state. Plans, `status` and
//! the monitor start from this, never from the state file alone.

use super::model::MemberRef;
use crate::registry::Registry;
use standby_provider_sdk::{MemberStatus, Role, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// One member as observed.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The member's site.
    pub site: String,
    /// Its status, or why it could not be read.
    pub status: Result<MemberStatus, String>,
}

impl Observed {
    fn writable(&self) -> Option<u64> {
        self.status
            .as_ref()
            .ok()
            .filter(|s| s.role == Role::Primary)
            .map(|s| s.epoch)
    }
}

/// The members against the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The recorded active member is the only writable one, at an epoch the record knows.
    Agrees,
    /// Exactly one member accepts writes, but not the recorded one, or at a newer epoch than
    /// recorded (a switch that completed without its record: a killed monitor or apply).
    Moved {
        /// The writable member's site.
        primary: String,
        /// Its epoch.
        epoch: u64,
    },
    /// Exactly one member accepts writes, not the recorded one, below the newest epoch a
    /// promotion wrote into the members, while the recorded one cannot be read: a deposed
    /// primary that was never fenced.
    Stale {
        /// The stale writer's site.
        site: String,
        /// Its epoch.
        epoch: u64,
    },
    /// Several members accept writes: `(site, epoch)` each.
    SplitBrain(Vec<(String, u64)>),
    /// No member accepts writes.
    NoPrimary,
}

/// Reads every member's status, each for at most `patience`, concurrently.
pub async fn observe(
    registry: &Registry,
    members: &BTreeMap<String, MemberRef>,
    values: &BTreeMap<String, Value>,
    patience: Duration,
) -> Vec<Observed> {
    let probes = members.iter().map(|(site, m)| {
        let member = m.member(site, values.get(site));
        let provider = registry.get(&m.provider).cloned();
        // Concurrently: an unreachable member costs `patience` once, not once per member.
        tokio::spawn(async move {
            let status = match provider.as_ref().and_then(|p| p.replication()) {
                None => Err("the provider cannot report replication status".to_string()),
                Some(r) => match tokio::time::timeout(patience, r.status(&member, None)).await {
                    Ok(Ok(s)) => Ok(s),
                    Ok(Err(e)) => Err(format!("{}: {}", e.summary, e.detail)),
                    Err(_) => Err(format!("no answer within {patience:?}")),
                },
            };
            Observed {
                site: member.site,
                status,
            }
        })
    });
    let handles: Vec<_> = probes.collect();
    let mut out = Vec::new();
    for (h, site) in handles.into_iter().zip(members.keys()) {
        out.push(h.await.unwrap_or_else(|e| Observed {
            site: site.clone(),
            status: Err(format!("the status probe panicked: {e}")),
        }));
    }
    out
}

/// The verdict for a group recorded as `active` at `epoch`.
///
/// `promoted` is the newest epoch a promotion wrote into the members
/// ([`crate::state::FailoverState::promoted_epoch`]): only a writer below it is provably stale.
pub fn judge(active: &str, epoch: u64, promoted: u64, observed: &[Observed]) -> Verdict {
    let answers = |site: &str| {
        observed
            .iter()
            .any(|o| o.site == site && o.status.as_ref().is_ok_and(|s| s.role != Role::Down))
    };
    let writable: Vec<(String, u64)> = observed
        .iter()
        .filter_map(|o| o.writable().map(|e| (o.site.clone(), e)))
        .collect();
    match writable.as_slice() {
        [] => Verdict::NoPrimary,
        [(site, e)] if site == active && *e <= epoch => Verdict::Agrees,
        // A promotion always raises the epoch, so a newer one proves a switch happened; so
        // does a recorded primary that answers without being writable (a switch stopped
        // inside its promotion, before the epoch was written).
        [(site, e)] if site == active || *e > epoch || *e >= promoted || answers(active) => {
            Verdict::Moved {
                primary: site.clone(),
                epoch: *e,
            }
        }
        [(site, e)] => Verdict::Stale {
            site: site.clone(),
            epoch: *e,
        },
        _ => Verdict::SplitBrain(writable),
    }
}

/// The highest epoch any member has seen.
pub fn max_epoch(observed: &[Observed]) -> u64 {
    observed
        .iter()
        .filter_map(|o| o.status.as_ref().ok().map(|s| s.epoch))
        .max()
        .unwrap_or(0)
}

/// One line per writable member, for messages.
pub fn describe_split(writable: &[(String, u64)]) -> String {
    writable
        .iter()
        .map(|(s, e)| format!("{s} (epoch {e})"))
        .collect::<Vec<_>>()
        .join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(site: &str, role: Role, epoch: u64) -> Observed {
        Observed {
            site: site.into(),
            status: Ok(MemberStatus {
                role,
                healthy: true,
                position: 0,
                lag_bytes: 0,
                lag_seconds: 0.0,
                in_sync: false,
                epoch,
                detail: String::new(),
            }),
        }
    }

    #[test]
    fn verdicts() {
        use Role::*;
        let check = |active: &str, epoch, members: &[Observed], want: Verdict| {
            assert_eq!(judge(active, epoch, epoch, members), want);
        };
        check(
            "east",
            1,
            &[obs("east", Primary, 0), obs("west", Standby, 0)],
            Verdict::Agrees,
        );
        check(
            "east",
            11,
            &[obs("east", Down, 11), obs("west", Primary, 12)],
            Verdict::Moved {
                primary: "west".into(),
                epoch: 12,
            },
        );
        check(
            "west",
            2,
            &[obs("east", Standby, 2), obs("west", Primary, 3)],
            Verdict::Moved {
                primary: "west".into(),
                epoch: 3,
            },
        );
        check(
            "east",
            11,
            &[obs("east", Primary, 11), obs("west", Primary, 12)],
            Verdict::SplitBrain(vec![("east".into(), 11), ("west".into(), 12)]),
        );
        check(
            "east",
            1,
            &[obs("east", Fenced, 1), obs("west", Standby, 1)],
            Verdict::NoPrimary,
        );
        let down = Observed {
            site: "east".into(),
            status: Err("refused".into()),
        };
        check(
            "east",
            1,
            &[down, obs("west", Standby, 0)],
            Verdict::NoPrimary,
        );
        check(
            "east",
            1,
            &[obs("east", Fenced, 1), obs("west", Primary, 1)],
            Verdict::Moved {
                primary: "west".into(),
                epoch: 1,
            },
        );
        // A promotion from the initial setup stopped before writing its epoch: no member
        // ever saw epoch 1, so the writer is not provably stale.
        assert_eq!(
            judge(
                "east",
                1,
                0,
                &[obs("east", Down, 0), obs("west", Primary, 0)]
            ),
            Verdict::Moved {
                primary: "west".into(),
                epoch: 0
            }
        );
        check(
            "west",
            2,
            &[obs("east", Primary, 0), obs("west", Down, 0)],
            Verdict::Stale {
                site: "east".into(),
                epoch: 0,
            },
        );
    }
}
