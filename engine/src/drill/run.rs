//! A drill run, as explicit phases: set up (every refusal before any fault), arm (the monitor
//! watches), load (the writer writes), inject, recover (the first write elsewhere and the end
//! of the switch), heal, measure (the timeline), rejoin, verify (checksums and the set
//! checker), report.
//!
//! The run drives standby's own commands (the monitor, a switchover, an apply) and reads the
//! state through a [`Conductor`], which the binary implements with child processes; it reaches
//! members only through their provider's [`DrillTarget`].

use super::after::outcomes;
use super::checker::tally;
use super::fault::{inject, Fault, Injected};
use super::load::{Attempt, DrillMember, Route, Writer};
use super::timeline as marks;
use super::{Event, Objective, Outcome, Report};
use crate::monitor::{Event as MonitorEvent, Stamped};
use crate::plan::GroupSummary;
use crate::registry::Registry;
use crate::state::{State, SwitchRecord};
use standby_provider_sdk::{DrillTarget, Provider};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Why a drill cannot run, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{summary}")]
pub struct DrillError {
    /// What went wrong.
    pub summary: String,
    /// What to do.
    pub hint: String,
}

impl DrillError {
    pub(crate) fn new(summary: impl Into<String>, hint: impl Into<String>) -> DrillError {
        DrillError {
            summary: summary.into(),
            hint: hint.into(),
        }
    }
}

/// A drill's scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// The primary crashes.
    KillPrimary,
    /// The primary shuts down gracefully.
    StopPrimary,
    /// The primary hangs.
    HangPrimary,
    /// The primary is cut off.
    PartitionPrimary,
    /// A planned switchover under load.
    Switchover,
}

impl Scenario {
    /// The name as given on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::KillPrimary => "kill-primary",
            Scenario::StopPrimary => "stop-primary",
            Scenario::HangPrimary => "hang-primary",
            Scenario::PartitionPrimary => "partition-primary",
            Scenario::Switchover => "switchover",
        }
    }

    /// The fault it injects; a switchover injects none.
    pub(crate) fn fault(self) -> Option<Fault> {
        match self {
            Scenario::KillPrimary => Some(Fault::Crash),
            Scenario::StopPrimary => Some(Fault::Stop),
            Scenario::HangPrimary => Some(Fault::Hang),
            Scenario::PartitionPrimary => Some(Fault::Partition),
            Scenario::Switchover => None,
        }
    }
}

/// A command of standby's that the drill started; dropping it stops it.
pub trait Running {
    /// Whether it ended.
    fn finished(&mut self) -> bool;
}

/// What the drill needs of the process that runs it.
pub trait Conductor {
    /// Starts `standby monitor`, writing its typed events to `events` and its log to `log`.
    fn start_monitor(&mut self, events: &Path, log: &Path) -> Result<Box<dyn Running>, DrillError>;
    /// Starts `standby switchover GROUP --to SITE`, approved, logging to `log`.
    fn start_switchover(&mut self, to: &str, log: &Path) -> Result<Box<dyn Running>, DrillError>;
    /// Runs `standby apply --auto-approve` to completion; whether it succeeded.
    fn apply(&mut self) -> bool;
    /// The environment's state as it is now.
    fn read_state(&mut self) -> Result<State, DrillError>;
}

/// What a drill starts from.
pub struct Setup<'a> {
    /// The failover group.
    pub group: &'a str,
    /// The environment.
    pub env: &'a str,
    /// The scenario.
    pub scenario: Scenario,
    /// `--via`.
    pub via: Option<&'a str>,
    /// The state before the drill.
    pub state: &'a State,
    /// The plan's view of the groups.
    pub groups: &'a BTreeMap<String, GroupSummary>,
    /// The configured providers.
    pub registry: &'a Registry,
    /// Where the drill's files go.
    pub dir: &'a Path,
    /// The process's runtime.
    pub rt: tokio::runtime::Handle,
}

/// A drill that passed every check that needs no fault: ready to run.
pub struct Drill<'a> {
    pub(super) setup: Setup<'a>,
    pub(super) group: GroupSummary,
    pub(super) from: String,
    other: String,
    pub(super) members: Vec<DrillMember>,
    primary: DrillMember,
    provider: Arc<dyn Provider>,
    route: Route,
    pub(super) run: String,
}

/// What the inject phase started: a fault, or a switchover.
type Injection = (Option<Injected>, Option<Box<dyn Running>>);

/// Where the recovery stood when the wait ended.
#[derive(Default)]
struct Recovery {
    first_write: Option<f64>,
    switch_done: Option<f64>,
    /// When the DNS answer moved, and to what.
    moved: Option<(f64, String)>,
}

impl<'a> Drill<'a> {
    /// Phase 0: everything a drill can refuse, before any fault.
    pub fn new(setup: Setup<'a>) -> Result<Drill<'a>, DrillError> {
        let (group, env) = (setup.group, setup.env);
        let (Some(f), Some(g)) = (setup.state.failovers.get(group), setup.groups.get(group)) else {
            let known: Vec<&str> = setup.groups.keys().map(String::as_str).collect();
            let hint = match group.strip_prefix("failover.") {
                Some(bare) if known.contains(&bare) => {
                    format!("Name the group without its prefix: `standby drill {bare}`.")
                }
                _ if known.is_empty() => "The topology has no failover group.".to_string(),
                _ if setup.state.failovers.is_empty() => format!(
                    "Apply the topology first; its groups are: {}.",
                    known.join(", ")
                ),
                _ => format!("The groups are: {}.", known.join(", ")),
            };
            return Err(DrillError::new(
                format!("No failover group {group:?} in environment {env:?}"),
                hint,
            ));
        };
        let members = setup.state.members(f);
        let from = f.active.clone();
        let Some((active, provider_name)) = members.get(&from).cloned() else {
            return Err(DrillError::new(
                format!(
                    "The active member of group {group:?} ({from}, {}) is not in the state",
                    f.members.get(&from).map_or("no address".to_string(), ToString::to_string)
                ),
                "It was removed, perhaps with `standby state rm`. Bring it back with `standby import` or `standby apply` before drilling.",
            ));
        };
        let Some(provider) = setup.registry.get(&provider_name).cloned() else {
            return Err(DrillError::new(
                format!("No provider {provider_name:?} for {from}"),
                "The state names a provider this standby does not have.",
            ));
        };
        let Some(t) = provider.drill_target() else {
            return Err(DrillError::new(
                format!(
                    "{from} is a {} of provider {provider_name}, which cannot be drilled",
                    active.type_name
                ),
                "Drills inject faults into a member and write through it under load: its provider must have the drill capability (postgres_server and sqlite_database members have it).",
            ));
        };
        let dms: BTreeMap<String, DrillMember> = members
            .iter()
            .map(|(site, (m, _))| DrillMember::new(m.clone(), t).map(|d| (site.clone(), d)))
            .collect::<Result<_, _>>()
            .map_err(|e| DrillError::new("Cannot drill the group", e))?;
        let primary = dms[&from].clone();
        let Some(other) = dms.keys().find(|s| **s != from).cloned() else {
            return Err(DrillError::new(
                "The group has no standby",
                "Add a second member.",
            ));
        };
        if let Some(why) = setup
            .scenario
            .fault()
            .and_then(|f| f.refused_by(&primary.surface))
        {
            return Err(DrillError::new(
                format!(
                    "{from} is a {}: the {} scenario does not apply to it",
                    active.type_name,
                    setup.scenario.name()
                ),
                format!("{why}. Its scenarios are kill-primary, hang-primary and switchover."),
            ));
        }
        let all: Vec<DrillMember> = dms.values().cloned().collect();
        let route = Route::choose(setup.via, &g.traffic, setup.state, &all, &primary)?;
        Ok(Drill {
            group: g.clone(),
            from,
            other,
            members: all,
            primary,
            provider,
            route,
            run: uuid::Uuid::new_v4().to_string(),
            setup,
        })
    }

    pub(super) fn target(&self) -> &dyn DrillTarget {
        self.provider
            .drill_target()
            .expect("Drill::new checked the drill capability")
    }

    /// Runs every phase; the report says how it went.
    pub fn run(self, c: &mut dyn Conductor) -> Result<Report, DrillError> {
        let started = OffsetDateTime::now_utc();
        self.prepare()?;
        let mon_events = self.setup.dir.join("monitor.events.jsonl");
        let monitor = self.arm(c, &mon_events)?;
        let lag_at_fault = self.standby_lag();
        let writer = Writer::start(
            self.setup.rt.clone(),
            &self.route,
            &self.provider,
            &self.run,
        );
        // Load: the writer settles before the fault.
        std::thread::sleep(Duration::from_millis(1000));
        let fault = Instant::now();
        let fault_wall = OffsetDateTime::now_utc();
        let (mut injected, mut switch) = self.inject(c)?;
        let mut timeline = vec![Event {
            name: "fault injected".into(),
            at: 0.0,
            detail: injected
                .as_ref()
                .map_or("planned switchover under load".to_string(), |i| {
                    i.what.clone()
                }),
        }];
        let recovery = self.recover(
            fault,
            &writer.log,
            switch.as_deref_mut(),
            &mon_events,
            &mut injected,
        );
        drop(injected);
        let mut caveats = Vec::new();
        if let Some(s) = switch.as_deref_mut() {
            finish(s, &mut caveats);
        }
        drop(switch);
        let switched_to = c
            .read_state()?
            .failovers
            .get(self.setup.group)
            .map(|f| f.active.clone())
            .filter(|a| *a != self.from);
        // The writer goes on a moment, to show the old primary takes nothing after waking.
        std::thread::sleep(Duration::from_millis(1000));
        let attempts = writer.finish();
        drop(monitor);
        let events = monitor_events(&mon_events);
        caveats.extend(awaiting_approval(&events, self.setup.group));
        let after = c.read_state()?;
        let record = after
            .failovers
            .get(self.setup.group)
            .and_then(|f| f.history.last())
            .filter(|_| switched_to.is_some())
            .cloned();
        if let Some(r) = &record {
            caveats.extend(r.caveats.iter().map(|c| format!("the switch: {c}")));
        }
        let lsn_gap = self.measure(
            &mut timeline,
            &events,
            &recovery,
            record.as_ref(),
            fault_wall,
        );
        let rejoin = self.rejoin(c, &after, switched_to.is_some());
        let now = c.read_state().unwrap_or(after);
        let checksums = self.checksums(
            record.as_ref(),
            &now,
            switched_to.as_deref(),
            rejoin.0,
            &mut caveats,
        );
        let verified = self.verify(&now, &attempts, fault);
        let mut report = Report {
            format_version: 1,
            scenario: self.setup.scenario.name().into(),
            group: format!("failover.{}", self.setup.group),
            env: self.setup.env.to_string(),
            started: started
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            from: self.from.clone(),
            to: switched_to,
            verdict: String::new(),
            reasons: vec![],
            timeline,
            rto: Objective::new(self.group.rto_seconds, recovery.first_write),
            rpo: verified.as_ref().map_or_else(
                || Objective::new(self.group.rpo_seconds, None),
                |v| v.1.clone(),
            ),
            lsn_gap_bytes: lsn_gap,
            gap_unit: self.gap_unit().to_string(),
            read_back: verified.is_some(),
            writes: verified.map_or_else(|| tally(&outcomes(&attempts)), |v| v.0),
            checksums,
            rejoin,
            traffic_path: self.route.describe(),
            lag_at_fault,
            caveats,
        };
        report.decide();
        Ok(report)
    }

    /// Prepare: the writer's table on the primary, then the drill's directory (a refusal here
    /// leaves nothing behind).
    fn prepare(&self) -> Result<(), DrillError> {
        self.setup
            .rt
            .block_on(self.target().prepare(&self.primary.member))
            .map_err(|e| {
                DrillError::new(
                    format!("Cannot prepare the drill table on {}", self.from),
                    format!("{}: {}", e.summary, e.detail),
                )
            })?;
        std::fs::create_dir_all(self.setup.dir).map_err(|e| {
            DrillError::new(
                format!("Cannot create {}", self.setup.dir.display()),
                e.to_string(),
            )
        })
    }

    /// How far each standby was behind when the fault came, as its provider reports it.
    fn standby_lag(&self) -> Option<String> {
        let r = self.provider.replication()?;
        let lags: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.member.site != self.from)
            .filter_map(|m| {
                let st = self
                    .setup
                    .rt
                    .block_on(r.status(&m.member, Some(&self.primary.member)))
                    .ok()?;
                Some(format!(
                    "{} {} behind ({:.1}s)",
                    m.member.site,
                    crate::units::human_bytes(st.lag_bytes),
                    st.lag_seconds
                ))
            })
            .collect();
        (!lags.is_empty()).then(|| lags.join(", "))
    }

    fn gap_unit(&self) -> &'static str {
        self.provider
            .replication()
            .map_or("bytes", |r| r.position_unit())
    }

    /// Arm: the monitor runs and watches before anything happens (not for a switchover).
    fn arm(
        &self,
        c: &mut dyn Conductor,
        events: &Path,
    ) -> Result<Option<Box<dyn Running>>, DrillError> {
        if self.setup.scenario == Scenario::Switchover {
            return Ok(None);
        }
        let log = self.setup.dir.join("monitor.log");
        let mut monitor = c.start_monitor(events, &log)?;
        let t = Instant::now();
        while !monitor_events(events)
            .iter()
            .any(|e| marks::watching(&e.event))
        {
            if t.elapsed() > Duration::from_secs(30) || monitor.finished() {
                return Err(DrillError::new(
                    "The monitor did not start",
                    std::fs::read_to_string(&log).unwrap_or_default(),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Some(monitor))
    }

    /// Inject: the fault, or the switchover.
    fn inject(&self, c: &mut dyn Conductor) -> Result<Injection, DrillError> {
        match self.setup.scenario.fault() {
            Some(f) => inject(self.target(), &self.primary.member, f)
                .map(|i| (Some(i), None))
                .map_err(|e| DrillError::new(e.summary, e.detail)),
            None => {
                let log = self.setup.dir.join("switchover.log");
                Ok((None, Some(c.start_switchover(&self.other, &log)?)))
            }
        }
    }

    /// Recover: waits for the first write on another member and the end of the switch, at
    /// most twice the RTO; wakes a hung or cut-off primary once the others moved on, since
    /// whatever the fence left of it must not take writes.
    fn recover(
        &self,
        fault: Instant,
        log: &Mutex<Vec<Attempt>>,
        mut switch: Option<&mut (dyn Running + 'static)>,
        mon_events: &Path,
        injected: &mut Option<Injected>,
    ) -> Recovery {
        let limit = Duration::from_secs_f64(self.group.rto_seconds.unwrap_or(30.0).max(10.0) * 2.0);
        let old = self.primary.addr();
        let old_host = self.primary.endpoint().map(|(h, _)| h.to_string());
        let mut r = Recovery::default();
        while fault.elapsed() < limit {
            let now = || fault.elapsed().as_secs_f64();
            if r.moved.is_none() {
                if let Some(answer) = self.setup.rt.block_on(self.route.answer()) {
                    if Some(&answer) != old_host.as_ref() {
                        r.moved = Some((now(), answer));
                    }
                }
            }
            if r.switch_done.is_none() && switch.as_mut().is_some_and(|s| s.finished()) {
                r.switch_done = Some(now());
            }
            if r.first_write.is_none() {
                r.first_write = log.lock().ok().and_then(|l| {
                    l.iter()
                        .find(|a| {
                            a.at > fault && a.outcome == Outcome::Acknowledged && *a.server != *old
                        })
                        .map(|a| (a.at - fault).as_secs_f64())
                });
                if r.first_write.is_some() {
                    if let Some(i) = injected.as_mut() {
                        i.wake();
                    }
                }
            }
            let events = match self.setup.scenario {
                Scenario::Switchover => Vec::new(),
                _ => monitor_events(mon_events),
            };
            let finished = match self.setup.scenario {
                Scenario::Switchover => r.switch_done.is_some(),
                _ => events.iter().any(|e| marks::finished(&e.event)),
            };
            if finished && r.first_write.is_some() {
                break;
            }
            // A manual approval waits for a person, not for the drill.
            if awaiting_approval(&events, self.setup.group).is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        r
    }

    /// Measure: the monitor's marks, the switch's fence and promote, when traffic moved and
    /// the first write; returns the switch's measured gap.
    fn measure(
        &self,
        timeline: &mut Vec<Event>,
        events: &[Stamped],
        r: &Recovery,
        record: Option<&SwitchRecord>,
        fault_wall: OffsetDateTime,
    ) -> Option<u64> {
        timeline.extend(marks::monitor_marks(events, self.setup.group, fault_wall));
        let mut gap = None;
        if let Some(rec) = record {
            let (m, g) = marks::switch_marks(rec, fault_wall);
            timeline.extend(m);
            gap = g;
        }
        let traffic = match (&self.route, &r.moved) {
            // The poll runs every few milliseconds; a write through the name that came first
            // proves the answer had already moved.
            (Route::Dns { name, .. }, Some((t, answer))) => Some((
                r.first_write.map_or(*t, |w| w.min(*t)),
                format!("{name} answers {answer}"),
            )),
            (Route::Frontend { addr, .. }, _) => r.first_write.map(|t| {
                (
                    t,
                    format!("{addr} led to the new primary: the writer's first acknowledged insert there"),
                )
            }),
            _ => if self.setup.scenario == Scenario::Switchover {
                r.switch_done
            } else {
                marks::first(events, fault_wall, marks::finished)
            }
            .map(|t| (t, "the switch's apply, traffic dependants included, finished".to_string())),
        };
        if let Some((at, detail)) = traffic {
            timeline.push(Event {
                name: "traffic switched".into(),
                at,
                detail,
            });
        }
        if let Some(at) = r.first_write {
            timeline.push(Event {
                name: "first successful write".into(),
                at,
                detail: "writer".into(),
            });
        }
        timeline.sort_by(|a, b| a.at.total_cmp(&b.at));
        gap
    }
}

/// A switchover started by the drill gets a minute to finish before it is stopped, which the
/// report says.
fn finish(s: &mut dyn Running, caveats: &mut Vec<String>) {
    let t = Instant::now();
    while !s.finished() {
        if t.elapsed() > Duration::from_secs(60) {
            caveats.push("the switchover was still running a minute after the drill stopped waiting, and was stopped: run `standby status` and `standby apply` to see and converge where it stopped".to_string());
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The monitor's saved plan, when the group's approval is manual.
fn awaiting_approval(events: &[Stamped], group: &str) -> Option<String> {
    events.iter().find_map(|e| match &e.event {
        MonitorEvent::AwaitingApproval { group: g, plan, .. } if g == group => Some(format!(
            "approval = \"manual\": the monitor saved the failover plan and waited; run `standby approve {plan}` to fail over"
        )),
        _ => None,
    })
}

/// The monitor's events so far (`standby monitor --events FILE`).
fn monitor_events(file: &Path) -> Vec<Stamped> {
    marks::parse_events(&std::fs::read_to_string(file).unwrap_or_default())
}

/// Where a drill's files go by default: `.standby/drills/ENV-GROUP-SCENARIO-UNIX`.
pub fn default_dir(root: &Path, env: &str, group: &str, scenario: Scenario) -> PathBuf {
    root.join(".standby").join("drills").join(format!(
        "{env}-{group}-{}-{}",
        scenario.name(),
        OffsetDateTime::now_utc().unix_timestamp()
    ))
}
