//! The whole loop on a fake clock: a scripted probe answers for each second of the run, a fake
//! operator records the failovers it is asked for, and the events are the result.

use super::*;
use crate::monitor::detector::{Check, Seen};
use standby_provider_sdk::Role;
use standby_provider_sdk::Value;
use std::cell::Cell;

#[derive(Default)]
struct FakeClock(Cell<Duration>);

impl Clock for &FakeClock {
    fn now(&self) -> Duration {
        self.0.get()
    }
    fn sleep(&self, d: Duration) {
        self.0.set(self.0.get() + d);
    }
}

/// East answers until `dies` (seconds), then neither its checks nor its status do; west is
/// a standby that stalls with it, until it is the active member. Each check takes 50 ms of
/// fake time.
struct Script<'c> {
    dies: u64,
    clock: &'c FakeClock,
}

impl Probe for Script<'_> {
    fn observe(&mut self, w: &Watch, at: Duration) -> Option<Observation> {
        self.clock.sleep(Duration::from_millis(50));
        let east_dead = at.as_secs() >= self.dies;
        let position = at.as_secs().min(self.dies) * 100;
        let west_active = w.active == "west";
        let dead = east_dead && !west_active;
        let mut others = BTreeMap::new();
        let other = if west_active { "east" } else { "west" };
        if !(west_active && east_dead) {
            let seen = Seen {
                role: Role::Standby,
                epoch: 1,
                position,
            };
            others.insert(other.to_string(), seen);
        }
        Some(Observation {
            at,
            primary: Check {
                took: Duration::from_millis(50),
                result: if dead {
                    Err("connection refused".into())
                } else {
                    Ok(())
                },
            },
            standby_ok: others.keys().map(|s| (s.clone(), true)).collect(),
            after: dead.then(|| BTreeMap::from([(other.to_string(), position)])),
            others,
        })
    }
}

struct FakeOperator {
    watch: Watch,
    /// Set when the recorded state moves to another site before the monitor acts.
    moved_to: Option<String>,
    outcome: Outcome,
    calls: Vec<(String, String, bool)>,
}

impl Operator for &mut FakeOperator {
    type Error = String;
    fn watches(&mut self) -> Result<Vec<Watch>, String> {
        let mut w = self.watch.clone();
        if let Some(to) = &self.moved_to {
            w.active.clone_from(to);
        }
        Ok(vec![w])
    }
    fn fail_over(&mut self, group: &str, to: &str, manual: bool) -> Outcome {
        self.calls.push((group.into(), to.into(), manual));
        if self.outcome == Outcome::Finished(0) {
            // The apply recorded the switch.
            self.moved_to = Some(to.to_string());
        }
        self.outcome.clone()
    }
}

struct NotHolding;

impl Leadership for NotHolding {
    fn round(&mut self) -> Round {
        Round {
            may_act: false,
            won: false,
        }
    }
    fn holder(&self) -> String {
        "monitor-b".into()
    }
    fn elected(&self) -> bool {
        true
    }
    fn resign(&mut self) {}
}

fn watch(manual: bool) -> Watch {
    let member = |site: &str| {
        let m = Member {
            site: site.into(),
            type_name: "postgres_server".into(),
            state: Value::Null,
        };
        (site.to_string(), (m, "postgres".to_string()))
    };
    Watch {
        group: "orders".into(),
        active: "east".into(),
        epoch: 1,
        members: BTreeMap::from([member("east"), member("west")]),
        health: HealthCheck {
            interval: Some(Duration::from_secs(1)),
            failures: Some(3),
            ..HealthCheck::default()
        },
        approval: if manual {
            Approval::Manual
        } else {
            Approval::Auto
        },
    }
}

fn operator(manual: bool) -> FakeOperator {
    FakeOperator {
        watch: watch(manual),
        moved_to: None,
        outcome: Outcome::Finished(0),
        calls: vec![],
    }
}

/// Runs for `secs` of fake time; returns the exit code and the events as `seconds: line`.
fn run<L: Leadership>(op: &mut FakeOperator, lease: L, dies: u64, secs: u64) -> (i32, Vec<String>) {
    let clock = FakeClock::default();
    let mut events = Vec::new();
    let mut emit = |e: Event| events.push(format!("{:.2}: {e}", clock.0.get().as_secs_f64()));
    let watches = vec![watch(op.watch.manual())];
    let runner = Runner {
        probe: Script {
            dies,
            clock: &clock,
        },
        lease,
        operator: &mut *op,
        clock: &clock,
        status: Arc::new(Mutex::new(MonitorStatus::default())),
        snapshot: None,
        run_for: Some(Duration::from_secs(secs)),
        emit: &mut emit,
    };
    let code = runner.run(watches).unwrap();
    (code, events)
}

#[test]
fn a_primary_that_dies_is_failed_over_after_three_ticks() {
    let mut op = operator(false);
    let (code, events) = run(&mut op, Alone, 5, 12);
    assert_eq!(code, 0);
    assert_eq!(op.calls, [("orders".into(), "west".into(), false)]);
    assert_eq!(
        events,
        [
            "0.00: watching failover.orders (active east, replication check every 1s, timeout 0.5s, 3 failures, auto approval)",
            "5.05: failover.orders: check 1/3 of east failed: connection refused",
            "6.05: failover.orders: check 2/3 of east failed: connection refused",
            "7.05: failover.orders: check 3/3 of east failed: connection refused",
            "7.05: failover.orders: TRIGGER: failing over to west (2.0s after the first counted failure)",
            "7.05: failover.orders: failover finished with exit code 0",
            // From the record the failover wrote: west is active and answers.
        ]
    );
}

#[test]
fn a_manual_group_saves_the_plan_and_stops_with_exit_4() {
    let mut op = operator(true);
    op.outcome = Outcome::AwaitingApproval("pending/orders.plan".into());
    let (code, events) = run(&mut op, Alone, 2, 60);
    assert_eq!(code, AWAITING_APPROVAL);
    assert_eq!(op.calls, [("orders".into(), "west".into(), true)]);
    assert_eq!(
        events.last().unwrap(),
        "4.05: failover.orders: approval = \"manual\": saved the failover plan; run `standby approve pending/orders.plan` to fail over"
    );
}

#[test]
fn a_record_that_moved_meanwhile_is_watched_afresh_not_acted_on() {
    let mut op = operator(false);
    op.moved_to = Some("west".into());
    let (_, events) = run(&mut op, Alone, 1, 4);
    assert!(op.calls.is_empty(), "{events:#?}");
    assert!(
        events.contains(&"3.05: failover.orders: the recorded state changed meanwhile; watching it afresh instead of acting".to_string()),
        "{events:#?}"
    );
}

#[test]
fn a_monitor_without_the_lease_never_fails_over() {
    let mut op = operator(false);
    let (code, events) = run(&mut op, NotHolding, 1, 8);
    assert_eq!(code, 0);
    assert!(op.calls.is_empty());
    // Once per streak; a monitor that may not act reads the record afresh every 5 s, which
    // starts the streak over.
    let not_leader: Vec<&String> = events.iter().filter(|e| e.contains("lease")).collect();
    assert_eq!(
        not_leader,
        [
            "3.05: failover.orders: would fail over, but this monitor does not hold the lease (monitor-b); not acting",
            "7.05: failover.orders: would fail over, but this monitor does not hold the lease (monitor-b); not acting"
        ]
    );
}

#[test]
fn a_failover_that_cannot_run_is_reported_and_the_monitor_watches_on() {
    let mut op = operator(false);
    op.outcome = Outcome::Failed("the state is locked".into());
    let (code, events) = run(&mut op, Alone, 1, 8);
    assert_eq!(code, 0);
    assert_eq!(op.calls.len(), 2, "{events:#?}");
    assert!(events.contains(
        &"3.05: failover.orders: the failover did not run: the state is locked; watching on"
            .to_string()
    ));
}

#[test]
fn the_status_follows_the_checks() {
    let mut op = operator(false);
    let clock = FakeClock::default();
    let status = Arc::new(Mutex::new(MonitorStatus::default()));
    let mut emit = |_e: Event| {};
    Runner {
        probe: Script {
            dies: 2,
            clock: &clock,
        },
        lease: Alone,
        operator: &mut op,
        clock: &clock,
        status: status.clone(),
        snapshot: None,
        run_for: Some(Duration::from_millis(3500)),
        emit: &mut emit,
    }
    .run(vec![watch(false)])
    .unwrap();
    let st = status.lock().unwrap();
    let g = &st.groups["orders"];
    assert_eq!((g.consecutive_failures, g.failures_to_trigger), (2, 3));
    assert!(!g.members["east"].healthy && g.members["west"].healthy);
    assert_eq!(g.members["west"].position, Some(200));
    assert_eq!(g.members["east"].role, "primary");
}

/// Regression: with `interval = "8s"`, `monitor --for 1s` ran 8 s (and with 24h, forever).
#[test]
fn a_run_for_shorter_than_the_interval_ends_on_time() {
    let mut op = operator(false);
    op.watch.health.interval = Some(Duration::from_secs(8 * 3600));
    let clock = FakeClock::default();
    let mut emit = |_e: Event| {};
    let mut w = watch(false);
    w.health.interval = Some(Duration::from_secs(8 * 3600));
    let code = Runner {
        probe: Script {
            dies: 100,
            clock: &clock,
        },
        lease: Alone,
        operator: &mut op,
        clock: &clock,
        status: Arc::new(Mutex::new(MonitorStatus::default())),
        snapshot: None,
        run_for: Some(Duration::from_secs(1)),
        emit: &mut emit,
    }
    .run(vec![w])
    .unwrap();
    assert_eq!(code, 0);
    assert_eq!(clock.0.get(), Duration::from_secs(1));
}
