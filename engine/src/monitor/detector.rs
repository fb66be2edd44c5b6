//! The failure rule: when one group's observations add up to a failover. Pure: it reads
//! observations and the time they were made and keeps a streak; the probes that make the
//! observations and the clock that stamps them are the runner's.
//!
//! A failed check of the primary counts only when nothing else shows the primary alive: a
//! standby whose replication position advanced while the check failed proves the primary
//! writes and only the monitor lost it. A check that answered after its timeout failed. A
//! failover needs `failures` counted failures in a row; any passing check resets the streak.

use standby_provider_sdk::Role;
use std::collections::BTreeMap;
use std::time::Duration;

/// What the probes saw of one group in one round.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// When the round started, on the runner's clock.
    pub at: Duration,
    /// The active member's check: how long it took and what it said. Probes bound it by the
    /// timeout; a scripted or slow one may still report a longer time, which fails it.
    pub primary: Check,
    /// The other members that answered a replication status, healthy, before the check.
    pub others: BTreeMap<String, Seen>,
    /// Whether each standby passes the declared check too (a standby that fails it is no
    /// failover target).
    pub standby_ok: BTreeMap<String, bool>,
    /// Standby positions sampled again a moment after a failed check; absent when the check
    /// passed.
    pub after: Option<BTreeMap<String, u64>>,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// How long it took.
    pub took: Duration,
    /// `Err` says why it failed.
    pub result: Result<(), String>,
}

impl Default for Check {
    fn default() -> Check {
        Check {
            took: Duration::ZERO,
            result: Ok(()),
        }
    }
}

/// A member other than the active one, as its replication status showed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Its role. A "standby" that is primary means a promotion happened; only a standby (not
    /// a fenced or down member) is a failover target and a witness of the primary's writes.
    pub role: Role,
    /// The fencing epoch it holds.
    pub epoch: u64,
    /// Its replication position.
    pub position: u64,
}

/// What the detector concludes from one observation.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The primary answered.
    Healthy {
        /// Failed checks in a row before this one, when there were any.
        recovered_after: Option<u32>,
    },
    /// The primary failed the check but a standby still receives its writes.
    NotCounted {
        /// Why the check failed.
        error: String,
    },
    /// A counted failure below the threshold (or at it, for a monitor that may not act).
    Failed {
        /// Counted failures in a row.
        streak: u32,
        /// How many trigger a failover.
        failures: u32,
        /// Why the check failed.
        error: String,
    },
    /// Enough failures: fail over to `to`.
    Trigger {
        /// Counted failures in a row.
        streak: u32,
        /// Why the last check failed.
        error: String,
        /// The standby to promote: the healthy one furthest ahead.
        to: String,
        /// From the first counted failure to this round.
        detected_after: Duration,
    },
    /// Enough failures, but no standby is healthy enough to promote.
    NoTarget {
        /// Counted failures in a row.
        streak: u32,
        /// Why the last check failed.
        error: String,
    },
    /// Enough failures, but this monitor does not hold the lease. Reported once per streak.
    NotLeader {
        /// Counted failures in a row.
        streak: u32,
        /// Why the last check failed.
        error: String,
    },
    /// Another member is primary at or above the recorded epoch while the active one does not
    /// answer: a promotion happened that the record lacks. Adopt it (no promotion needed).
    Unrecorded {
        /// The member that is primary.
        site: String,
        /// Its epoch.
        epoch: u64,
        /// Whether this monitor may act on it.
        may_act: bool,
    },
    /// Two primaries answer: the recorded one and `site`. Nobody acts; an operator plans.
    SplitBrain {
        /// The other primary.
        site: String,
        /// Its epoch.
        epoch: u64,
    },
    /// A member below the newest promoted epoch writes: a deposed primary. Nobody acts while
    /// it does.
    Deposed {
        /// The deposed writer.
        site: String,
        /// Its epoch.
        epoch: u64,
        /// The newest promoted epoch.
        promoted: u64,
    },
}

/// The failure rule's memory for one group.
#[derive(Debug, Clone)]
pub struct Detector {
    failures: u32,
    timeout: Duration,
    /// The newest epoch a promotion wrote into the members.
    epoch: u64,
    streak: u32,
    first_failure: Option<Duration>,
}

impl Detector {
    /// A detector that triggers after `failures` counted failures of checks bounded by
    /// `timeout`, for a group whose newest promoted epoch is `epoch`.
    pub fn new(failures: u32, timeout: Duration, epoch: u64) -> Detector {
        Detector {
            failures: failures.max(1),
            timeout,
            epoch,
            streak: 0,
            first_failure: None,
        }
    }

    /// Counted failures in a row.
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// Judges one round. `may_act` is whether this monitor holds the lease.
    pub fn observe(&mut self, o: &Observation, may_act: bool) -> Verdict {
        let primary = o
            .others
            .iter()
            .find(|(_, s)| s.role == Role::Primary)
            .map(|(site, s)| (site.clone(), s.epoch));
        let error = self.failure(&o.primary);
        match primary {
            Some((site, epoch)) if epoch < self.epoch => {
                return Verdict::Deposed {
                    site,
                    epoch,
                    promoted: self.epoch,
                }
            }
            Some((site, epoch)) => {
                return match error {
                    None => Verdict::SplitBrain { site, epoch },
                    Some(_) => Verdict::Unrecorded {
                        site,
                        epoch,
                        may_act,
                    },
                };
            }
            None => {}
        }
        let Some(error) = error else {
            let recovered_after = (self.streak > 0).then_some(self.streak);
            self.streak = 0;
            self.first_failure = None;
            return Verdict::Healthy { recovered_after };
        };
        if self.advancing(o) {
            return Verdict::NotCounted { error };
        }
        self.streak += 1;
        let first = *self.first_failure.get_or_insert(o.at);
        let streak = self.streak;
        if streak < self.failures {
            return Verdict::Failed {
                streak,
                failures: self.failures,
                error,
            };
        }
        if !may_act {
            return if streak == self.failures {
                Verdict::NotLeader { streak, error }
            } else {
                Verdict::Failed {
                    streak,
                    failures: self.failures,
                    error,
                }
            };
        }
        match self.target(o) {
            Some(to) => Verdict::Trigger {
                streak,
                error,
                to,
                detected_after: o.at.saturating_sub(first),
            },
            None => Verdict::NoTarget { streak, error },
        }
    }

    /// Whether a check failed by this rule (an error, or an answer after the timeout).
    pub fn failed(&self, c: &Check) -> bool {
        self.failure(c).is_some()
    }

    /// Why the primary's check failed, if it did; answering after the timeout is failing.
    fn failure(&self, c: &Check) -> Option<String> {
        match &c.result {
            Err(e) => Some(e.clone()),
            Ok(()) if c.took > self.timeout => Some(format!(
                "answered after {:.1}s, beyond the timeout of {:.1}s",
                c.took.as_secs_f64(),
                self.timeout.as_secs_f64()
            )),
            Ok(()) => None,
        }
    }

    /// Whether a standby's position moved between the check and the sample after it.
    fn advancing(&self, o: &Observation) -> bool {
        o.after.as_ref().is_some_and(|after| {
            after.iter().any(|(site, pos)| {
                o.others
                    .get(site)
                    .is_some_and(|s| s.role == Role::Standby && *pos > s.position)
            })
        })
    }

    /// The healthy standby furthest ahead after the check.
    fn target(&self, o: &Observation) -> Option<String> {
        let positions = o.after.as_ref().unwrap_or(&BTreeMap::new()).clone();
        positions
            .into_iter()
            .filter(|(site, _)| {
                o.standby_ok.get(site).copied().unwrap_or(false)
                    && o.others.get(site).is_some_and(|s| s.role == Role::Standby)
            })
            .max_by_key(|(_, pos)| *pos)
            .map(|(site, _)| site)
    }
}

#[cfg(test)]
#[path = "detector_tests.rs"]
mod tests;
