//! Fault injection at every step of a switch, over the mock replicating provider: a failure
//! before each operation's effect, one after it, and a panic inside it, for a planned switch
//! and an emergency failover. After each case the members are asked (not the state): at most
//! one is writable, the state names it with its epoch, outputs and traffic follow it or did not
//! move, and a plain re-run converges on the new primary. The table is printed.

use crate::support::rig::{topology, Rig};
use standby_engine::plan::ForcedSwitch;
use standby_provider_sdk::Value;

#[derive(Clone, Copy, Debug)]
enum Fault {
    Before,
    After,
    Panic,
}

/// What one case left behind, as the members and the state say.
struct Outcome {
    writable: Vec<String>,
    recorded: (String, u64),
    traffic: String,
    output: String,
    exit: &'static str,
}

fn traffic(r: &Rig) -> String {
    let st = r.state();
    st.resources
        .iter()
        .find(|(a, _)| a.to_string() == "mock_thing.dns")
        .and_then(|(_, i)| {
            i.value()
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default()
}

fn output(r: &Rig) -> String {
    r.state()
        .outputs
        .get("active")
        .and_then(|o| o.value.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A member of the rig's group, to act on it behind standby's back.
fn member(site: &str) -> standby_provider_sdk::Member {
    standby_provider_sdk::Member {
        site: site.into(),
        type_name: "mockdb_member".into(),
        state: Value::Null,
    }
}

fn inject(r: &Rig, op: &str, fault: Fault) {
    match (op, fault) {
        ("dns", _) => *r.replica.traffic_fault.lock().unwrap() = Some("dns->".into()),
        (_, Fault::Before) => *r.replica.fail_on.lock().unwrap() = Some(op.into()),
        (_, Fault::After) => *r.replica.fail_after.lock().unwrap() = Some(op.into()),
        (_, Fault::Panic) => *r.replica.panic_on.lock().unwrap() = Some(op.into()),
    }
}

fn heal(r: &Rig) {
    *r.replica.fail_on.lock().unwrap() = None;
    *r.replica.fail_after.lock().unwrap() = None;
    *r.replica.panic_on.lock().unwrap() = None;
    *r.replica.traffic_fault.lock().unwrap() = None;
    r.replica.down.lock().unwrap().clear();
}

fn run_case(op: &str, fault: Fault, emergency: bool) -> Outcome {
    let r = Rig::new(&topology("east", "auto", "1MiB"));
    r.apply(None);
    assert_eq!(r.replica.writable(), ["east"]);
    let force = if emergency {
        Some(ForcedSwitch {
            group: "orders".into(),
            to: "west".into(),
            emergency: true,
        })
    } else {
        r.write(&topology("west", "auto", "1MiB"));
        None
    };
    let p = r.plan(force.clone());
    inject(&r, op, fault);
    if op == "unfence" {
        // Compensation is the only caller of unfence: make the switch stop after the fence.
        *r.replica.fail_after.lock().unwrap() = Some("fence".into());
    }
    let report = r.apply_with(&p, Default::default(), &["orders"]);
    let exit = if !report.failed.is_empty() {
        "failed"
    } else if !report.caveats.is_empty() {
        "caveats"
    } else {
        "ok"
    };
    let case = format!("{op}/{fault:?}/emergency={emergency}");
    // Asked of the members, not the state.
    let writable = r.replica.writable();
    assert!(writable.len() <= 1, "{case}: split brain {writable:?}");
    if writable.is_empty() {
        // Only when the unfence itself failed: the operator is told, with the command to run.
        assert_eq!(op, "unfence", "{case}: no writable member");
        assert!(
            report
                .compensations
                .iter()
                .any(|c| c.contains("could not unfence east")
                    && c.contains("standby switchover orders --to east")),
            "{case}: {:?}",
            report.compensations
        );
        assert_eq!(r.state().failovers["orders"].active, "east");
        heal(&r);
        return Outcome {
            writable,
            recorded: ("east".into(), r.state().failovers["orders"].epoch),
            traffic: traffic(&r),
            output: output(&r),
            exit: "failed",
        };
    }
    let w = writable[0].clone();
    let st = r.state();
    let f = &st.failovers["orders"];
    assert_eq!(
        f.active, w,
        "{case}: the state names {} but {w} is writable; {:?}",
        f.active, report.compensations
    );
    let member_epoch = r.replica.epoch_of(&w);
    if member_epoch > 0 {
        assert_eq!(f.epoch, member_epoch, "{case}: epochs differ");
    }
    let t = traffic(&r);
    assert!(
        t == format!("dns->{w}.db.internal") || t == "dns->east.db.internal",
        "{case}: traffic points at {t}"
    );
    assert_eq!(
        output(&r),
        w,
        "{case}: the output names another site than the writable one"
    );
    if w == "west" && exit == "ok" {
        assert_eq!(
            t, "dns->west.db.internal",
            "{case}: a clean switch moved traffic"
        );
    }
    let out = Outcome {
        writable,
        recorded: (f.active.clone(), f.epoch),
        traffic: t,
        output: output(&r),
        exit,
    };
    // A plain re-run, with the fault gone, converges on west with traffic and outputs.
    heal(&r);
    let p = r.plan(force);
    let report = r.apply_with(&p, Default::default(), &["orders"]);
    assert!(
        report.failed.is_empty(),
        "{case} rerun: {:?}",
        report.failed
    );
    let p = r.plan(None);
    let report = r.apply_with(&p, Default::default(), &["orders"]);
    assert!(
        report.failed.is_empty(),
        "{case} second rerun: {:?}",
        report.failed
    );
    assert_eq!(r.replica.writable(), ["west"], "{case}: rerun");
    assert_eq!(
        r.state().failovers["orders"].active,
        "west",
        "{case}: rerun state"
    );
    assert_eq!(
        traffic(&r),
        "dns->west.db.internal",
        "{case}: rerun traffic"
    );
    assert_eq!(output(&r), "west", "{case}: rerun output");
    assert!(
        !r.plan(None).has_changes(),
        "{case}: the rerun leaves no changes"
    );
    out
}

#[test]
fn every_step_fails_before_after_and_panics_and_the_members_stay_consistent() {
    let ops = [
        "status",
        "fence",
        "catch_up",
        "promote",
        "checksum_error",
        "checksum_promoted",
        "checksum",
        "dns",
        "rejoin",
        "unfence",
    ];
    let mut rows = Vec::new();
    for emergency in [false, true] {
        for op in ops {
            for fault in [Fault::Before, Fault::After, Fault::Panic] {
                if op == "dns" && !matches!(fault, Fault::Before) {
                    continue;
                }
                if emergency && op == "catch_up" {
                    continue; // an emergency failover does not catch up
                }
                let o = run_case(op, fault, emergency);
                rows.push(format!(
                    "| {} | {op} | {fault:?} | {} | {} at {} | {} | {} | {} |",
                    if emergency { "failover" } else { "switchover" },
                    o.writable.join(","),
                    o.recorded.0,
                    o.recorded.1,
                    o.traffic,
                    o.output,
                    o.exit
                ));
            }
        }
    }
    println!("fault matrix: {} cases, all consistent", rows.len());
    println!("| switch | operation | fault | writable | state | traffic | output | apply |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        println!("{r}");
    }
    assert!(rows.len() >= 40, "{}", rows.len());
}

/// A monitor killed right after promotion leaves the state naming the dead old primary.
/// The next plan reads the members, records the switch that happened, never repairs the old
/// primary back into a writer, and a returning old primary is fenced as stale.
#[test]
fn a_switch_without_its_record_is_adopted_and_the_old_primary_never_writes_again() {
    use standby_provider_sdk::Replication as _;
    let r = Rig::new(&topology("east", "auto", "1MiB"));
    r.apply(None);
    // What a monitor did before it was killed: east died, west was promoted at epoch 2.
    r.replica.down.lock().unwrap().insert("east".into());
    let west = member("west");
    r.rt.block_on(r.replica.promote(&west, 2)).unwrap();
    assert_eq!(r.state().failovers["orders"].active, "east");
    let p = r.plan(None);
    let sw = &p.switches[0];
    assert_eq!(sw.kind, standby_engine::plan::SwitchKind::Reconcile);
    assert_eq!((sw.to.as_str(), sw.epoch), ("west", 2));
    assert!(
        p.failover_notes
            .iter()
            .any(|n| n.contains("the members say west is")),
        "{:?}",
        p.failover_notes
    );
    let report = r.apply_with(&p, Default::default(), &[]);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let f = r.state().failovers["orders"].clone();
    assert_eq!((f.active.as_str(), f.epoch), ("west", 2));
    assert_eq!(f.history.last().unwrap().kind.to_string(), "reconcile");
    assert!(f.override_.is_some(), "the topology still says east");
    assert_eq!(traffic(&r), "dns->west.db.internal");
    assert_eq!(output(&r), "west");
    // east comes back as it was: writable at epoch 0. The record proves it stale.
    r.replica.down.lock().unwrap().clear();
    let p = r.plan(None);
    assert_eq!(p.switches[0].reason.code, "switch_split_brain");
    r.apply_with(&p, Default::default(), &[]);
    assert_eq!(r.replica.writable(), ["west"]);
    assert!(!r.plan(None).has_changes());
    // The next switch goes above every epoch a member has seen, not the recorded one.
    r.write(&topology("west", "auto", "1MiB"));
    let p = r.plan(None);
    r.apply_with(&p, Default::default(), &[]);
    r.rt.block_on(r.replica.promote(&west, 7)).unwrap();
    r.write(&topology("east", "auto", "1MiB"));
    let p = r.plan(None);
    assert_eq!(r.state().failovers["orders"].epoch, 2);
    assert_eq!(p.switches[0].epoch, 8, "above west's epoch 7");
}

/// A guard whose lease lapses between the epoch claim and the promotion: the claim lands,
/// then the holder froze; when it wakes, it must not promote.
struct LapsesAfterClaim(std::sync::atomic::AtomicUsize);

#[async_trait::async_trait]
impl standby_engine::apply::PromotionGuard for LapsesAfterClaim {
    async fn may_fence(&self, _plan: &standby_engine::plan::SwitchPlan) -> Result<(), String> {
        match self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => Ok(()),
            _ => Err("the lease is held by m2".into()),
        }
    }

    async fn claim(&self, plan: &standby_engine::plan::SwitchPlan) -> Result<String, String> {
        Ok(format!("epoch {} claimed", plan.epoch))
    }
}

#[test]
fn a_holder_whose_lease_lapsed_after_its_claim_does_not_promote() {
    let r = Rig::new(&topology("east", "auto", "1MiB"));
    r.apply(None);
    r.replica.down.lock().unwrap().insert("east".into());
    let p = r.plan(Some(ForcedSwitch {
        group: "orders".into(),
        to: "west".into(),
        emergency: true,
    }));
    let guard = std::sync::Arc::new(LapsesAfterClaim(Default::default()));
    let report = r.apply_guarded(&p, Default::default(), &["orders"], Some(guard));
    assert!(
        report
            .failed
            .iter()
            .any(|f| f.summary.contains("the lease lapsed after the epoch claim")),
        "{:?}",
        report.failed
    );
    assert!(
        !r.replica.steps().iter().any(|l| l.starts_with("promote")),
        "{:?}",
        r.replica.steps()
    );
    assert_eq!(r.state().failovers["orders"].active, "east");
}

/// The lease lapses after the claim of a switchover whose old primary is alive and fenced:
/// the promotion is refused, and compensation does not unfence east either, since the new
/// lease holder decides from the members.
#[test]
fn a_holder_whose_lease_lapsed_undoes_nothing() {
    let r = Rig::new(&topology("east", "auto", "1MiB"));
    r.apply(None);
    let p = r.plan(Some(ForcedSwitch {
        group: "orders".into(),
        to: "west".into(),
        emergency: false,
    }));
    let guard = std::sync::Arc::new(LapsesAfterClaim(Default::default()));
    let report = r.apply_guarded(&p, Default::default(), &["orders"], Some(guard));
    assert!(
        report
            .compensations
            .iter()
            .any(|c| c.contains("east stays fenced") && c.contains("cannot confirm its lease")),
        "{:?}",
        report.compensations
    );
    assert_eq!(
        r.replica.role("east"),
        Some(standby_provider_sdk::Role::Fenced)
    );
    assert!(r.replica.writable().is_empty());
    assert!(!r.replica.steps().iter().any(|l| l.starts_with("unfence")));
}

/// A guard whose lease is gone by the time it is asked.
struct Lapsed;

#[async_trait::async_trait]
impl standby_engine::apply::PromotionGuard for Lapsed {
    async fn may_fence(&self, _plan: &standby_engine::plan::SwitchPlan) -> Result<(), String> {
        Err("the lease is held by m2".into())
    }

    async fn claim(&self, plan: &standby_engine::plan::SwitchPlan) -> Result<String, String> {
        Ok(format!("epoch {} claimed", plan.epoch))
    }
}

/// Adopting an interrupted promotion writes its epoch only while the lease holds.
#[test]
fn an_epoch_is_not_written_on_a_lapsed_lease() {
    use standby_provider_sdk::Replication as _;
    let r = Rig::new(&topology("east", "auto", "1MiB"));
    r.apply(None);
    r.replica.down.lock().unwrap().insert("east".into());
    r.rt.block_on(r.replica.promote(&member("west"), 0))
        .unwrap();
    let p = r.plan(None);
    assert!(p.switches[0].stamp_epoch);
    let report = r.apply_guarded(
        &p,
        Default::default(),
        &[],
        Some(std::sync::Arc::new(Lapsed)),
    );
    assert!(
        report
            .failed
            .iter()
            .any(|f| f.summary.contains("the lease lapsed after the epoch claim")),
        "{:?}",
        report.failed
    );
    assert_eq!(r.replica.epoch_of("west"), 0);
    assert_eq!(r.state().failovers["orders"].active, "east");
}

/// standby killed between fence and promotion leaves the primary fenced and nothing promoted.
/// The next plan reads that and lifts the fence when the topology still wants that site.
#[test]
fn a_fenced_primary_with_nothing_promoted_is_unfenced_by_the_next_plan() {
    use standby_provider_sdk::Replication as _;
    let r = Rig::new(&topology("east", "auto", "1MiB"));
    r.apply(None);
    let east = member("east");
    r.rt.block_on(r.replica.fence(&east, 2, false)).unwrap();
    assert!(r.replica.writable().is_empty());
    let p = r.plan(None);
    assert_eq!(p.switches[0].reason.code, "switch_unfence");
    let report = r.apply_with(&p, Default::default(), &[]);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(r.replica.writable(), ["east"]);
    assert!(!r.plan(None).has_changes());
}

/// Ctrl-C while the old primary is being fenced: no new actions start, but the switch past its
/// fence runs to its record, so the group is never left without a writable member.
#[test]
fn ctrl_c_after_the_fence_lets_the_switch_finish() {
    let r = Rig::new(&topology("east", "auto", "1MiB"));
    r.apply(None);
    r.write(&topology("west", "auto", "1MiB"));
    let p = r.plan(None);
    *r.replica.raise_on.lock().unwrap() = Some(("fence".into(), r.stop.clone()));
    let report = r.apply_with(&p, Default::default(), &["orders"]);
    assert!(r.stop.load(std::sync::atomic::Ordering::SeqCst));
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(r.replica.writable(), ["west"]);
    assert_eq!(r.state().failovers["orders"].active, "west");
    assert_eq!(traffic(&r), "dns->west.db.internal");
    assert_eq!(output(&r), "west");
}

/// A promotion from the initial setup stopped before its epoch was written (the monitor was
/// killed inside `promote`): west is writable at epoch 0, below the recorded 1 that no member
/// ever saw. It is adopted, not refused as a deposed primary.
#[test]
fn an_interrupted_first_promotion_is_adopted() {
    use standby_provider_sdk::Replication as _;
    let r = Rig::new(&topology("east", "auto", "1MiB"));
    r.apply(None);
    r.replica.down.lock().unwrap().insert("east".into());
    let west = member("west");
    r.rt.block_on(r.replica.promote(&west, 0)).unwrap();
    let p = r.plan(None);
    assert_eq!(
        p.switches[0].kind,
        standby_engine::plan::SwitchKind::Reconcile
    );
    assert!(p.switches[0].stamp_epoch, "{:?}", p.switches[0]);
    let report = r.apply_with(&p, Default::default(), &[]);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(r.state().failovers["orders"].active, "west");
    assert_eq!(r.replica.writable(), ["west"]);
    // The adoption wrote a fresh epoch into west, the one the state records ...
    let epoch = r.state().failovers["orders"].epoch;
    assert_eq!(r.replica.epoch_of("west"), epoch);
    assert!(epoch > r.replica.epoch_of("east"));
    // ... so when east comes back still writable, it is provably the deposed one: the plan
    // fences it instead of refusing a split brain it cannot decide.
    r.replica.down.lock().unwrap().clear();
    assert_eq!(r.replica.writable(), ["east", "west"]);
    let p = r.plan(None);
    r.apply_with(&p, Default::default(), &[]);
    assert_eq!(r.replica.writable(), ["west"]);
}
