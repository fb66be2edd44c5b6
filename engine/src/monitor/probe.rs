//! The monitor's observation of one group through its members' `Replication` capability:
//! the other members' status, the active member's declared check (bounded by the timeout),
//! each standby's declared check, and after a failed check a second sample of the standbys'
//! positions, a moment later, which shows whether the primary still writes.

use super::detector::{Check, Observation, Seen};
use super::health::Health;
use super::runner::{Probe, Watch};
use crate::registry::Registry;
use standby_provider_sdk::{Member, Replication, Role};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long after a failed check the standbys are sampled again: a live primary under load
/// streams WAL within a fraction of a second.
const WINDOW: Duration = Duration::from_millis(200);

/// Probes through the providers of a registry, on a runtime.
pub struct ReplicationProbe<'a> {
    /// The configured providers.
    pub registry: &'a Registry,
    /// The process's runtime.
    pub rt: &'a tokio::runtime::Runtime,
}

impl ReplicationProbe<'_> {
    /// The healthy members other than the active one, by their replication status.
    fn others(&self, r: &dyn Replication, w: &Watch, timeout: Duration) -> BTreeMap<String, Seen> {
        w.members
            .iter()
            .filter(|(s, _)| **s != w.active)
            .filter_map(|(site, (m, _))| {
                let st = self.rt.block_on(async {
                    tokio::time::timeout(timeout, r.status(m, None))
                        .await
                        .ok()
                        .and_then(Result::ok)
                })?;
                st.healthy.then(|| {
                    let seen = Seen {
                        role: st.role,
                        epoch: st.epoch,
                        position: st.position,
                    };
                    (site.clone(), seen)
                })
            })
            .collect()
    }

    fn check(
        &self,
        h: &Health,
        r: &dyn Replication,
        site: &str,
        m: &Member,
        primary: bool,
        timeout: Duration,
    ) -> Check {
        let t = Instant::now();
        let result = self.rt.block_on(async {
            tokio::time::timeout(timeout, h.check(r, site, m, primary))
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
        });
        Check {
            took: t.elapsed(),
            result,
        }
    }
}

impl Probe for ReplicationProbe<'_> {
    fn observe(&mut self, w: &Watch, at: Duration) -> Option<Observation> {
        let (active, provider) = w.members.get(&w.active)?;
        let p = self.registry.get(provider)?.clone();
        let r = p.replication()?;
        let timeout = w.health.timeout_or_default();
        let health = Health::from_settings(&w.health);
        let others = self.others(r, w, timeout);
        let sampled = Instant::now();
        let primary = self.check(&health, r, &w.active, active, true, timeout);
        // Only standbys are failover targets; by the replication check, answering its status
        // healthy as a standby is passing it.
        let standby_ok = w
            .members
            .iter()
            .filter(|(s, _)| **s != w.active)
            .map(|(site, (m, _))| {
                let standby = others.get(site).is_some_and(|s| s.role == Role::Standby);
                let fine = standby
                    && (health.is_replication()
                        || self
                            .check(&health, r, site, m, false, timeout)
                            .result
                            .is_ok());
                (site.clone(), fine)
            })
            .collect();
        let after = (primary.result.is_err() || primary.took > timeout).then(|| {
            if sampled.elapsed() < WINDOW {
                std::thread::sleep(WINDOW - sampled.elapsed());
            }
            self.others(r, w, timeout)
                .into_iter()
                .filter(|(_, s)| s.role == Role::Standby)
                .map(|(site, s)| (site, s.position))
                .collect()
        });
        Some(Observation {
            at,
            primary,
            others,
            standby_ok,
            after,
        })
    }
}
