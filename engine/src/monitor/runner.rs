//! The monitor's loop: every tick, each group is observed through a [`Probe`], judged by its
//! [`Detector`], reported as [`Event`]s and in the [`MonitorStatus`]; a trigger is handed to
//! the [`Operator`], which fails over through the same plan and apply as `standby failover`
//! (the runner never promotes anything itself). Time comes from a [`Clock`], leadership from a
//! [`Leadership`], so that tests drive the whole loop with a fake clock and scripted probes.

use super::detector::{Detector, Observation, Verdict};
use super::event::Event;
use super::status::{MemberStatus, MonitorStatus};
use crate::plan::{Approval, HealthCheck};
use standby_provider_sdk::{Member, Role};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One group as the monitor watches it, from the recorded state and the plan's settings.
#[derive(Debug, Clone)]
pub struct Watch {
    /// The group.
    pub group: String,
    /// The active site.
    pub active: String,
    /// The newest epoch a promotion wrote into the members: a standby found primary below it
    /// is a deposed primary, at or above it an unrecorded promotion to adopt.
    pub epoch: u64,
    /// Site to member and its provider's name.
    pub members: BTreeMap<String, (Member, String)>,
    /// The group's health check.
    pub health: HealthCheck,
    /// Whether a person approves the failover.
    pub approval: Approval,
}

impl Watch {
    fn manual(&self) -> bool {
        self.approval == Approval::Manual
    }

    fn detector(&self) -> Detector {
        Detector::new(
            self.health.failures_or_default(),
            self.health.timeout_or_default(),
            self.epoch,
        )
    }

    fn watching(&self) -> Event {
        Event::Watching {
            group: self.group.clone(),
            active: self.active.clone(),
            check: self.health.kind.name().to_string(),
            interval_seconds: self.health.interval_or_default().as_secs_f64(),
            timeout_seconds: self.health.timeout_or_default().as_secs_f64(),
            failures: self.health.failures_or_default(),
            manual: self.manual(),
        }
    }
}

/// Observes one group: the I/O half of a round.
pub trait Probe {
    /// What the members show now; `None` when the group cannot be checked (no replicating
    /// provider for its active member).
    fn observe(&mut self, w: &Watch, at: Duration) -> Option<Observation>;
}

/// Monotonic time and waiting.
pub trait Clock {
    /// Time since some fixed start.
    fn now(&self) -> Duration;
    /// Waits.
    fn sleep(&self, d: Duration);
}

/// The process's clock.
#[derive(Debug)]
pub struct SystemClock(Instant);

impl SystemClock {
    /// A clock that starts now.
    pub fn new() -> SystemClock {
        SystemClock(Instant::now())
    }
}

impl Default for SystemClock {
    fn default() -> SystemClock {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// One round of the election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Whether this monitor may act (it holds the lease, or no election runs).
    pub may_act: bool,
    /// Whether it won the lease in this round.
    pub won: bool,
}

/// Whether this monitor may act: an etcd lease, or the only monitor.
pub trait Leadership {
    /// Renews or campaigns; once per tick.
    fn round(&mut self) -> Round;
    /// Who holds the lease, for the log and the status.
    fn holder(&self) -> String;
    /// Whether an election runs at all.
    fn elected(&self) -> bool;
    /// Gives the lease up on a clean stop.
    fn resign(&mut self);
}

/// A monitor that is alone: it always may act.
#[derive(Debug, Default)]
pub struct Alone;

impl Leadership for Alone {
    fn round(&mut self) -> Round {
        Round {
            may_act: true,
            won: false,
        }
    }
    fn holder(&self) -> String {
        "this monitor (no election)".into()
    }
    fn elected(&self) -> bool {
        false
    }
    fn resign(&mut self) {}
}

/// How a failover the monitor started ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The apply ran, with this exit code.
    Finished(i32),
    /// `approval = "manual"`: the plan is saved here for `standby approve`.
    AwaitingApproval(String),
    /// It could not run; the monitor watches on.
    Failed(String),
}

/// What the monitor acts through: the recorded state and the plan/apply path.
pub trait Operator {
    /// Why the recorded state could not be read.
    type Error;
    /// The groups to watch, from the recorded state.
    fn watches(&mut self) -> Result<Vec<Watch>, Self::Error>;
    /// Fails `group` over to `to` (or, for an unrecorded promotion, records it); with
    /// `manual`, saves the plan instead.
    fn fail_over(&mut self, group: &str, to: &str, manual: bool) -> Outcome;
}

/// How long a monitor that may not act keeps a view before reading the record again.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// Exit code when a manual failover awaits approval.
pub const AWAITING_APPROVAL: i32 = 4;

/// The loop, until `run_for` passes (exit 0) or a manual failover awaits approval (exit 4).
pub struct Runner<'a, P, L, O, C> {
    /// Observes the groups.
    pub probe: P,
    /// The election.
    pub lease: L,
    /// Acts.
    pub operator: O,
    /// Time.
    pub clock: C,
    /// The status that the endpoint serves.
    pub status: Arc<Mutex<MonitorStatus>>,
    /// Where the status is saved after every round, for `standby status`.
    pub snapshot: Option<std::path::PathBuf>,
    /// Stop after this long; `None` runs until a failover awaits approval.
    pub run_for: Option<Duration>,
    /// Receives every event.
    pub emit: &'a mut dyn FnMut(Event),
}

type Trigger = (String, String, bool, Option<f64>);

impl<P: Probe, L: Leadership, O: Operator, C: Clock> Runner<'_, P, L, O, C> {
    /// Runs the loop over `watches`.
    pub fn run(mut self, watches: Vec<Watch>) -> Result<i32, O::Error> {
        for w in &watches {
            (self.emit)(w.watching());
        }
        let mut groups = with_detectors(watches);
        let started = self.clock.now();
        let mut reloaded = started;
        let tick = groups
            .iter()
            .map(|(w, _)| w.health.interval_or_default())
            .min()
            .unwrap_or(Duration::from_secs(1));
        let mut triggered: BTreeMap<String, u64> = BTreeMap::new();
        loop {
            let t0 = self.clock.now();
            if self.run_for.is_some_and(|d| t0 - started >= d) {
                self.lease.resign();
                return Ok(0);
            }
            let round = self.lease.round();
            // A monitor that was not acting may hold an old view: another one may have failed
            // over meanwhile. Start from the recorded state whenever it wins, and now and then.
            if round.won || (!round.may_act && t0 - reloaded >= RELOAD_EVERY) {
                groups = with_detectors(self.operator.watches()?);
                reloaded = t0;
            }
            if let Ok(mut st) = self.status.lock() {
                st.leader = round.may_act && self.lease.elected();
                st.lease_holder = self.lease.holder();
            }
            let mut trigger = None;
            for (w, d) in &mut groups {
                let at = self.clock.now();
                let Some(o) = self.probe.observe(w, at) else {
                    continue;
                };
                let v = d.observe(&o, round.may_act);
                self.record(w, d, &o, &triggered);
                if let Some(t) = self.report(w, v) {
                    trigger = Some(t);
                }
            }
            if let Some(t) = trigger {
                match self.act(t, &groups, &mut triggered)? {
                    Acted::Stop(code) => return Ok(code),
                    Acted::Reload(fresh) => groups = with_detectors(fresh),
                }
            }
            if let (Some(file), Ok(st)) = (&self.snapshot, self.status.lock()) {
                st.save(file);
            }
            let now = self.clock.now();
            let spent = now - t0;
            if spent < tick {
                // `--for` ends the run on time even with a long interval.
                let left = self
                    .run_for
                    .map_or(Duration::MAX, |d| (started + d).saturating_sub(now));
                self.clock.sleep((tick - spent).min(left));
            }
        }
    }

    /// Emits what a verdict says; returns the failover it calls for.
    fn report(&mut self, w: &Watch, v: Verdict) -> Option<Trigger> {
        let group = w.group.clone();
        let active = w.active.clone();
        let event = match v {
            Verdict::Healthy {
                recovered_after: None,
            } => return None,
            Verdict::Healthy {
                recovered_after: Some(after),
            } => Event::Recovered {
                group,
                active,
                after,
            },
            Verdict::NotCounted { .. } => Event::NotCounted { group, active },
            Verdict::Failed {
                streak,
                failures,
                error,
            } => Event::CheckFailed {
                group,
                active,
                streak,
                failures,
                error,
            },
            Verdict::NotLeader { streak, error } => {
                (self.emit)(failed(w, streak, error));
                Event::NotLeader {
                    group,
                    holder: self.lease.holder(),
                    adopt: false,
                }
            }
            Verdict::NoTarget { streak, error } => {
                (self.emit)(failed(w, streak, error));
                Event::NoTarget { group }
            }
            Verdict::Trigger {
                streak,
                error,
                to,
                detected_after,
            } => {
                (self.emit)(failed(w, streak, error));
                return Some((group, to, w.manual(), Some(detected_after.as_secs_f64())));
            }
            Verdict::Unrecorded {
                site,
                epoch,
                may_act,
            } => {
                (self.emit)(Event::Unrecorded {
                    group: group.clone(),
                    active,
                    site: site.clone(),
                    epoch,
                });
                if may_act {
                    return Some((group, site, false, None));
                }
                Event::NotLeader {
                    group,
                    holder: self.lease.holder(),
                    adopt: true,
                }
            }
            Verdict::SplitBrain { site, epoch } => Event::SplitBrain {
                group,
                active,
                site,
                epoch,
            },
            Verdict::Deposed {
                site,
                epoch,
                promoted,
            } => Event::Deposed {
                group,
                site,
                epoch,
                promoted,
            },
        };
        (self.emit)(event);
        None
    }

    /// Runs a triggered failover, unless the record moved meanwhile.
    fn act(
        &mut self,
        (group, to, manual, detected): Trigger,
        groups: &[(Watch, Detector)],
        triggered: &mut BTreeMap<String, u64>,
    ) -> Result<Acted, O::Error> {
        // The recorded state decides: if someone switched meanwhile, start over from it.
        let fresh = self.operator.watches()?;
        let moved = fresh.iter().any(|f| {
            groups
                .iter()
                .any(|(g, _)| f.group == g.group && f.active != g.active)
        });
        if moved {
            (self.emit)(Event::StateMoved { group });
            return Ok(Acted::Reload(fresh));
        }
        (self.emit)(Event::Trigger {
            group: group.clone(),
            to: to.clone(),
            detected_after_seconds: detected,
            manual,
        });
        *triggered.entry(group.clone()).or_default() += 1;
        if let Ok(mut st) = self.status.lock() {
            if let Some(gs) = st.groups.get_mut(&group) {
                gs.failovers_triggered = triggered[&group];
            }
        }
        match self.operator.fail_over(&group, &to, manual) {
            Outcome::AwaitingApproval(plan) => {
                (self.emit)(Event::AwaitingApproval { group, to, plan });
                Ok(Acted::Stop(AWAITING_APPROVAL))
            }
            Outcome::Failed(error) => {
                // The members decide the next round: a monitor never dies of a lost race.
                (self.emit)(Event::FailoverFailed { group, error });
                Ok(Acted::Reload(self.operator.watches()?))
            }
            Outcome::Finished(exit_code) => {
                (self.emit)(Event::FailoverFinished {
                    group,
                    to,
                    exit_code,
                });
                Ok(Acted::Reload(self.operator.watches()?))
            }
        }
    }

    /// The group's line in the status.
    fn record(&self, w: &Watch, d: &Detector, o: &Observation, triggered: &BTreeMap<String, u64>) {
        let Ok(mut st) = self.status.lock() else {
            return;
        };
        let gs = st.groups.entry(w.group.clone()).or_default();
        gs.active.clone_from(&w.active);
        gs.failures_to_trigger = w.health.failures_or_default();
        gs.approval = w.approval.to_string();
        gs.last_check = super::stamp();
        gs.failovers_triggered = triggered.get(&w.group).copied().unwrap_or(0);
        gs.consecutive_failures = d.streak();
        gs.members = w
            .members
            .keys()
            .map(|site| {
                let primary = *site == w.active;
                let seen = o.others.get(site).filter(|s| s.role == Role::Standby);
                let status = MemberStatus {
                    role: if primary { "primary" } else { "standby" }.to_string(),
                    healthy: if primary {
                        !d.failed(&o.primary)
                    } else {
                        o.standby_ok.get(site).copied().unwrap_or(false)
                    },
                    position: seen.map(|s| s.position),
                };
                (site.clone(), status)
            })
            .collect();
    }
}

/// The counted failure that comes with a verdict at or past the threshold.
fn failed(w: &Watch, streak: u32, error: String) -> Event {
    Event::CheckFailed {
        group: w.group.clone(),
        active: w.active.clone(),
        streak,
        failures: w.health.failures_or_default(),
        error,
    }
}

enum Acted {
    Stop(i32),
    Reload(Vec<Watch>),
}

fn with_detectors(watches: Vec<Watch>) -> Vec<(Watch, Detector)> {
    watches
        .into_iter()
        .map(|w| {
            let d = w.detector();
            (w, d)
        })
        .collect()
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;
