//! The phases after recovery, read from the members themselves: rejoin (the old primary a
//! healthy standby, or one apply to make it one), checksums, and the read-back that the set
//! checker judges.

use super::load::Attempt;
use super::run::{Conductor, Drill};
use super::{check, Objective, Outcome, SetResult};
use crate::state::{State, SwitchRecord};
use standby_provider_sdk::Role;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Each attempt's outcome by id.
pub(crate) fn outcomes(attempts: &[Attempt]) -> BTreeMap<i64, Outcome> {
    attempts.iter().map(|a| (a.id, a.outcome)).collect()
}

impl Drill<'_> {
    /// Whether the old primary is now a healthy standby, read from the member itself.
    fn rejoined(&self, state: &State) -> bool {
        let Some(f) = state.failovers.get(self.setup.group) else {
            return false;
        };
        let members = state.members(f);
        let Some((m, p)) = members.get(&self.from) else {
            return false;
        };
        let Some(r) = self.setup.registry.get(p).and_then(|p| p.replication()) else {
            return false;
        };
        self.setup
            .rt
            .block_on(r.status(m, None))
            .is_ok_and(|s| s.healthy && s.role == Role::Standby)
    }

    /// Rejoin: the old primary should now be a standby; one apply converges it if not.
    pub(crate) fn rejoin(
        &self,
        c: &mut dyn Conductor,
        after: &State,
        switched: bool,
    ) -> (bool, String) {
        if self.rejoined(after) {
            return (true, "rejoined during the switch".to_string());
        }
        if !switched {
            return (false, "the group did not switch".to_string());
        }
        let ok = c.apply();
        let now = c.read_state().unwrap_or_else(|_| after.clone());
        (
            ok && self.rejoined(&now),
            format!(
                "rejoined by `standby apply` after the drill (apply {})",
                if ok { "succeeded" } else { "failed" }
            ),
        )
    }

    /// The switch's own checksums when it could compare, otherwise the rejoined old primary
    /// against the new one once it has replayed (which says so in the caveats).
    pub(crate) fn checksums(
        &self,
        record: Option<&SwitchRecord>,
        now: &State,
        to: Option<&str>,
        rejoined: bool,
        caveats: &mut Vec<String>,
    ) -> BTreeMap<String, (String, String)> {
        let recorded = record.map(|r| r.verification.clone()).unwrap_or_default();
        let tables = &self.group.checksum;
        if !recorded.is_empty() || !rejoined || tables.is_empty() {
            return recorded;
        }
        let members = now
            .failovers
            .get(self.setup.group)
            .map(|f| now.members(f))
            .unwrap_or_default();
        let Some(((old, p), (new, _))) =
            to.and_then(|to| Some((members.get(&self.from)?, members.get(to)?)))
        else {
            return recorded;
        };
        let Some(r) = self.setup.registry.get(p).and_then(|p| p.replication()) else {
            return recorded;
        };
        caveats.push(format!(
            "the switch could not compare checksums; the table compares {} after it rejoined as a standby of the new primary, which shows replication converged, not what {} held at the fault",
            self.from, self.from
        ));
        let mut out = recorded;
        for _ in 0..20 {
            let (a, b) = self
                .setup
                .rt
                .block_on(async { (r.checksum(old, tables).await, r.checksum(new, tables).await) });
            let (Ok(a), Ok(b)) = (a, b) else { break };
            out = tables
                .iter()
                .map(|t| {
                    let sum = |m: &BTreeMap<String, String>| m.get(t).cloned().unwrap_or_default();
                    (t.clone(), (sum(&a), sum(&b)))
                })
                .collect();
            if a == b {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        out
    }

    /// Verify: every write read back from the member the state names active, through the set
    /// checker, and the data-loss window against the RPO; `None` when nothing could be read
    /// back (no member recovered).
    pub(crate) fn verify(
        &self,
        now: &State,
        attempts: &[Attempt],
        fault: Instant,
    ) -> Option<(SetResult, Objective)> {
        let t = self.target();
        let active = now.failovers.get(self.setup.group)?.active.clone();
        let m = self.members.iter().find(|m| m.member.site == active)?;
        let present = self.setup.rt.block_on(async {
            // Only a member that takes writes is the group's truth.
            drop(t.connect(&m.member, None).await?);
            t.read_back(&m.member, &self.run).await.ok()
        })?;
        let writes = check(&outcomes(attempts), &present);
        let lost_window = attempts
            .iter()
            .filter(|a| writes.lost.binary_search(&a.id).is_ok())
            .map(|a| {
                fault
                    .saturating_duration_since(a.at)
                    .as_secs_f64()
                    .max(0.001)
            })
            .reduce(f64::max);
        let rpo = Objective::new(
            Some(self.group.rpo_seconds.unwrap_or(0.0)),
            Some(lost_window.unwrap_or(0.0)),
        );
        Some((writes, rpo))
    }
}
