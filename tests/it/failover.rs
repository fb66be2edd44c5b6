//! The failover model through the library API with a mock replicating provider: step order,
//! approval gates, data-loss acknowledgement, failure at every step with its compensation, and
//! the override rules.

use crate::support::rig::{topology, Rig};
use standby_engine::apply::Approvals;
use standby_engine::plan::{ForcedSwitch, StepKind};
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn approve(group: &str) -> Approvals {
    Approvals {
        groups: [group.to_string()].into(),
        ..Approvals::default()
    }
}

#[test]
fn a_switch_runs_its_steps_in_order_with_traffic_after_promotion() {
    let r = Rig::new(&topology("east", "auto", "1MiB"));
    let report = r.apply(None);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(r
        .replica
        .steps()
        .contains(&"configure east <- west (Sync)".to_string()));
    assert_eq!(r.state().failovers["orders"].active, "east");
    r.clear_log();
    r.write(&topology("west", "auto", "1MiB"));
    let p = r.plan(None);
    let sw = &p.switches[0];
    assert_eq!(
        sw.steps,
        [
            StepKind::Precheck,
            StepKind::Fence,
            StepKind::CatchUp,
            StepKind::Promote,
            StepKind::Checksum,
            StepKind::Verify,
            StepKind::Reprotect,
            StepKind::Record
        ]
    );
    assert_eq!(sw.traffic, ["mock_thing.dns", "mock_thing.lb"]);
    let report = r.apply_with(&p, Approvals::default(), &[]);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let log = r.replica.steps();
    let pos = |s: &str| {
        log.iter()
            .position(|l| l.starts_with(s))
            .unwrap_or_else(|| panic!("{s} missing from {log:?}"))
    };
    // The precheck checksums the current primary before anything changes; verification
    // checksums it again after traffic moved.
    assert_eq!(log[0], "checksum east", "{log:?}");
    let last = |s: &str| log.iter().rposition(|l| l.starts_with(s)).unwrap();
    assert!(pos("fence east epoch 2") < pos("catch_up west from east to 100"));
    assert!(pos("catch_up west") < pos("promote west epoch 2"));
    for traffic in ["update dns->west.db.internal", "update lb->west"] {
        assert!(
            pos("promote west") < pos(traffic),
            "{traffic} must follow promotion: {log:?}"
        );
        assert!(
            pos(traffic) < last("checksum east"),
            "{traffic} must precede verification: {log:?}"
        );
    }
    assert!(pos("checksum west") < pos("rejoin east to west"));
    let f = &r.state().failovers["orders"];
    assert_eq!((f.active.as_str(), f.epoch), ("west", 2));
    let last = f.history.last().unwrap();
    assert_eq!(
        (
            last.kind.to_string().as_str(),
            last.from.as_deref(),
            last.to.as_str()
        ),
        ("switchover", Some("east"), "west")
    );
    assert_eq!(
        last.steps
            .iter()
            .map(|s| s.step.to_string())
            .collect::<Vec<_>>(),
        [
            "precheck",
            "fence",
            "catch-up",
            "promote",
            "checksum",
            "verify",
            "re-protect",
            "record"
        ]
    );
    assert_eq!(
        last.verification["public.orders"],
        ("sum".to_string(), "sum".to_string())
    );
}

#[test]
fn the_approval_gate_stops_before_the_switch_and_opens_with_approval() {
    let r = Rig::new(&topology("east", "manual", "1MiB"));
    r.apply(None);
    r.write(&topology("west", "manual", "1MiB"));
    r.clear_log();
    let p = r.plan(None);
    assert!(p.switches[0].steps.contains(&StepKind::Approval));
    // CI without approval: the gate holds; work before it (precheck, unrelated resources) ran.
    let report = r.apply_with(&p, Approvals::default(), &[]);
    assert_eq!(report.awaiting_approval, ["orders"]);
    assert!(report.failed.is_empty());
    let log = r.replica.steps();
    assert!(log.iter().any(|l| l == "update unrelated-west"), "{log:?}");
    assert!(
        !log.iter().any(|l| l.starts_with("fence")),
        "nothing after the gate may run: {log:?}"
    );
    assert_eq!(r.state().failovers["orders"].active, "east");
    // An approval file must name this exact plan.
    let p = r.plan(None);
    let wrong = Approvals {
        file: vec![("orders".into(), "0000".into())],
        plan_hash: "abcd".into(),
        ..Approvals::default()
    };
    assert_eq!(r.apply_with(&p, wrong, &[]).awaiting_approval, ["orders"]);
    // Interactively: a refusal fails the gate, a yes passes it.
    let no = Approvals {
        prompt: Some(Arc::new(|_| false)),
        ..Approvals::default()
    };
    let report = r.apply_with(&p, no, &[]);
    assert_eq!(report.failed[0].summary, "approval refused");
    let p = r.plan(None);
    let yes = Approvals {
        prompt: Some(Arc::new(|sw| sw.group == "orders")),
        ..Approvals::default()
    };
    let report = r.apply_with(&p, yes, &[]);
    assert!(
        report.failed.is_empty() && report.awaiting_approval.is_empty(),
        "{:?}",
        report.failed
    );
    assert_eq!(r.state().failovers["orders"].active, "west");
    // --approve GROUP for CI, and a matching approval file, also pass.
    r.write(&topology("east", "manual", "1MiB"));
    let p = r.plan(None);
    assert!(r
        .apply_with(&p, approve("orders"), &[])
        .awaiting_approval
        .is_empty());
    assert_eq!(r.state().failovers["orders"].active, "east");
    r.write(&topology("west", "manual", "1MiB"));
    let p = r.plan(None);
    let file = Approvals {
        file: vec![("orders".into(), "h1".into())],
        plan_hash: "h1".into(),
        ..Approvals::default()
    };
    assert!(r.apply_with(&p, file, &[]).awaiting_approval.is_empty());
    assert_eq!(r.state().failovers["orders"].active, "west");
}

#[test]
fn promotion_beyond_max_lag_needs_an_acknowledgement() {
    let r = Rig::new(&topology("east", "auto", "1KiB"));
    r.apply(None);
    r.replica.lag.store(1_000_000, Ordering::SeqCst);
    r.write(&topology("west", "auto", "1KiB"));
    let p = r.plan(None);
    assert!(p.switches[0].needs_data_loss_ack);
    assert_eq!(
        p.switches[0].estimate.as_ref().unwrap().lag_bytes,
        1_000_000
    );
    let report = r.apply_with(&p, Approvals::default(), &[]);
    assert!(
        report.failed[0].summary.contains("beyond max_lag"),
        "{:?}",
        report.failed
    );
    assert_eq!(r.state().failovers["orders"].active, "east");
    let p = r.plan(None);
    let report = r.apply_with(&p, Approvals::default(), &["orders"]);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(r.state().failovers["orders"].active, "west");
}

#[test]
fn an_emergency_failover_leaves_an_override_that_plans_never_silently_undo() {
    let r = Rig::new(&topology("east", "manual", "1MiB"));
    r.apply(None);
    r.replica.down.lock().unwrap().insert("east".into());
    r.clear_log();
    let force = ForcedSwitch {
        group: "orders".into(),
        to: "west".into(),
        emergency: true,
    };
    let p = r.plan(Some(force));
    let sw = &p.switches[0];
    assert!(
        !sw.steps.contains(&StepKind::Approval)
            && sw.steps.contains(&StepKind::MeasureGap)
            && !sw.steps.contains(&StepKind::CatchUp)
    );
    let unrelated = p
        .changes
        .iter()
        .find(|c| c.addr.to_string() == "mock_thing.unrelated")
        .unwrap();
    assert_eq!(unrelated.action, standby_engine::plan::Action::NoOp);
    let report = r.apply_with(&p, Approvals::default(), &[]);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let log = r.replica.steps();
    assert!(
        log.contains(&"fence east unconfirmed".to_string())
            && log.contains(&"promote west epoch 2".to_string()),
        "{log:?}"
    );
    let f = r.state().failovers["orders"].clone();
    assert_eq!(f.active, "west");
    let ov = f.override_.unwrap();
    assert_eq!(
        (ov.site.as_str(), ov.reason.as_str()),
        ("west", "emergency failover")
    );
    let caveats = &f.history.last().unwrap().caveats;
    assert!(
        caveats
            .iter()
            .any(|n| n.contains("fence of east not confirmed")),
        "{caveats:?}"
    );
    assert!(
        report
            .caveats
            .iter()
            .any(|c| c == "failover.orders: fence of east not confirmed: east is unreachable"),
        "the report lists every caveat: {:?}",
        report.caveats
    );
    // east comes back, never fenced: two members accept writes. The record proves west took
    // over at epoch 2 while east never learnt it, so the plan fences east and rejoins it.
    r.replica.down.lock().unwrap().clear();
    assert_eq!(r.replica.writable(), ["east", "west"]);
    let p = r.plan(None);
    let sw = &p.switches[0];
    assert_eq!(sw.kind, standby_engine::plan::SwitchKind::Reconcile);
    assert_eq!(sw.reason.code, "switch_split_brain");
    assert_eq!(
        (sw.from.as_deref(), sw.to.as_str(), sw.epoch),
        (Some("east"), "west", 2)
    );
    assert_eq!(
        sw.steps,
        [StepKind::Fence, StepKind::Reprotect, StepKind::Record]
    );
    assert!(
        p.failover_notes
            .iter()
            .any(|n| n.starts_with("SPLIT BRAIN")),
        "{:?}",
        p.failover_notes
    );
    let report = r.apply_with(&p, Approvals::default(), &[]);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(r.replica.writable(), ["west"]);
    assert_eq!(r.state().failovers["orders"].epoch, 2);
    // The topology still says east: no switch back, and the plan says why and what to do.
    let p = r.plan(None);
    assert!(p.switches.is_empty());
    assert!(
        p.failover_notes[0].contains("will not switch back on its own"),
        "{:?}",
        p.failover_notes
    );
    assert!(p.failover_notes[0].contains("set active = \"west\""));
    // Once the file agrees, the override is cleared.
    r.write(&topology("west", "manual", "1MiB"));
    let p = r.plan(None);
    assert_eq!(
        p.switches[0].kind,
        standby_engine::plan::SwitchKind::RecordOnly
    );
    assert!(p.switches[0].clear_override);
    r.apply_with(&p, Approvals::default(), &[]);
    assert!(r.state().failovers["orders"].override_.is_none());
}

#[test]
fn a_switchover_command_is_a_planned_switch_with_an_override() {
    let r = Rig::new(&topology("east", "auto", "1MiB"));
    r.apply(None);
    let force = ForcedSwitch {
        group: "orders".into(),
        to: "west".into(),
        emergency: false,
    };
    let report = r.apply(Some(force));
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let f = r.state().failovers["orders"].clone();
    assert_eq!(f.active, "west");
    assert_eq!(f.override_.unwrap().reason, "switchover command");
    assert!(r
        .replica
        .steps()
        .iter()
        .any(|l| l.starts_with("catch_up west")));
}

#[test]
fn adding_a_standby_site_plans_its_provisioning_and_initial_sync() {
    let one = topology("east", "auto", "1MiB").replace("    west = mockdb_member.west\n", "");
    let r = Rig::new(&one);
    r.apply(None);
    assert_eq!(r.state().failovers["orders"].members.len(), 1);
    r.write(&topology("east", "auto", "1MiB"));
    r.clear_log();
    let p = r.plan(None);
    assert_eq!(p.switches[0].kind, standby_engine::plan::SwitchKind::Resync);
    assert_eq!(p.switches[0].steps, [StepKind::Configure, StepKind::Record]);
    let report = r.apply_with(&p, Approvals::default(), &[]);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(r
        .replica
        .steps()
        .contains(&"configure east <- west (Sync)".to_string()));
    assert_eq!(r.state().failovers["orders"].members.len(), 2);
    assert!(r.plan(None).switches.is_empty(), "nothing left to do");
}

/// A module instance that takes the active member's address as an input: its resources are
/// traffic too, wherever they sit in the module tree.
#[test]
fn switchover_and_failover_repoint_traffic_inside_modules() {
    let nested = r#"
module "edge" {
  source  = "./modules/edge"
  address = failover.orders.active_member.address
}
"#;
    let r = Rig::new(&(topology("east", "auto", "1MiB") + nested));
    r.write_file(
        "modules/edge/main.hcl",
        r#"
variable "address" { type = string }
locals { target = "proxy->${var.address}" }
module "inner" {
  source = "./inner"
  target = local.target
}
"#,
    );
    r.write_file(
        "modules/edge/inner/main.hcl",
        r#"
variable "target" { type = string }
resource "mock_thing" "proxy" { name = var.target }
"#,
    );
    let report = r.apply(None);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let proxy = |r: &Rig| {
        r.state()
            .resources
            .iter()
            .find(|(a, _)| a.to_string() == "module.edge.module.inner.mock_thing.proxy")
            .and_then(|(_, i)| {
                i.value()
                    .get("name")
                    .and_then(standby_provider_sdk::Value::as_str)
                    .map(str::to_string)
            })
            .unwrap()
    };
    assert_eq!(proxy(&r), "proxy->east.db.internal");
    for (to, emergency) in [("west", false), ("east", true)] {
        let p = r.plan(Some(ForcedSwitch {
            group: "orders".into(),
            to: to.into(),
            emergency,
        }));
        let sw = &p.switches[0];
        assert!(
            sw.traffic
                .contains(&"module.edge.module.inner.mock_thing.proxy".to_string()),
            "the switch lists the nested traffic resource: {:?}",
            sw.traffic
        );
        let lines = standby_engine::plan::step_lines(sw);
        assert!(
            lines
                .iter()
                .any(|(k, v)| k == "repoint"
                    && v.contains("module.edge.module.inner.mock_thing.proxy")),
            "{lines:?}"
        );
        let report = r.apply_with(&p, Approvals::default(), &["orders"]);
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        assert_eq!(
            proxy(&r),
            format!("proxy->{to}.db.internal"),
            "after the switch to {to}"
        );
        let log = r.replica.steps();
        let pos = |s: &str| {
            log.iter()
                .position(|l| l.starts_with(s))
                .unwrap_or(usize::MAX)
        };
        assert!(
            pos(&format!("promote {to}")) < pos(&format!("update proxy->{to}")),
            "nested traffic moves after promotion: {log:?}"
        );
    }
    // The JSON plan lists it too.
    r.write(&(topology("west", "auto", "1MiB") + nested));
    let p = r.plan(None);
    let json = standby_engine::plan::plan_json(&p, None);
    assert!(
        json.to_string()
            .contains("module.edge.module.inner.mock_thing.proxy"),
        "{json}"
    );
}

/// `replication.mode` and `max_lag` are desired state: a change is planned with a reason and
/// applied to the members; giving up sync in a protected environment waits for approval.
#[test]
fn replication_settings_changes_are_planned_and_applied() {
    let async_topology = topology("east", "auto", "1MiB").replace("\"sync\"", "\"async\"");
    let r = Rig::new(&async_topology);
    r.apply(None);
    assert_eq!(r.state().failovers["orders"].mode.name(), "async");
    r.clear_log();
    r.write(&topology("east", "auto", "1MiB"));
    let p = r.plan(None);
    assert!(p.has_changes(), "a mode change is a change");
    let sw = &p.switches[0];
    assert_eq!(sw.reason.code, "switch_replication_mode");
    assert!(
        sw.reason.text.contains("from async to sync"),
        "{}",
        sw.reason.text
    );
    assert_eq!(sw.steps, [StepKind::Configure, StepKind::Record]);
    let report = r.apply_with(&p, Approvals::default(), &[]);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(
        r.replica
            .steps()
            .contains(&"configure east <- west (Sync)".to_string()),
        "{:?}",
        r.replica.steps()
    );
    let f = &r.state().failovers["orders"];
    assert_eq!((f.mode.name(), f.epoch), ("sync", 1));
    assert!(!r.plan(None).has_changes());
    // max_lag is recorded too.
    r.write(&topology("east", "auto", "2MiB"));
    let p = r.plan(None);
    assert_eq!(p.switches[0].reason.code, "switch_max_lag");
    r.apply_with(&p, Approvals::default(), &[]);
    assert_eq!(
        r.state().failovers["orders"].max_lag_bytes,
        Some(standby_engine::units::ByteSize::new(2 * 1_048_576))
    );
    assert!(!r.plan(None).has_changes());
    // sync -> async in a protected environment stops at an approval gate.
    let protected = "environment \"test\" {\n  protected = true\n}\n";
    r.write(
        &(async_topology
            .replace("2MiB", "1MiB")
            .replace("1MiB", "2MiB")
            + protected),
    );
    let p = r.plan(None);
    let sw = &p.switches[0];
    assert_eq!(
        sw.steps,
        [StepKind::Approval, StepKind::Configure, StepKind::Record]
    );
    assert!(
        sw.reason.text.contains("needs approval"),
        "{}",
        sw.reason.text
    );
    let report = r.apply_with(&p, Approvals::default(), &[]);
    assert_eq!(report.awaiting_approval, ["orders"]);
    assert_eq!(r.state().failovers["orders"].mode.name(), "sync");
    let p = r.plan(None);
    r.apply_with(&p, approve("orders"), &[]);
    assert_eq!(r.state().failovers["orders"].mode.name(), "async");
}

/// Regression: an epoch at the top of its range (from a member's own record) overflowed when
/// the next switch added one, and every plan after a switch to it panicked.
#[test]
fn an_epoch_at_the_largest_value_is_a_located_error_not_a_panic() {
    let t = crate::support::Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let sidecar = "out/dev/west/orders.db.standby.json";
    let mut v: serde_json::Value = serde_json::from_str(&t.read(sidecar)).unwrap();
    v["epoch"] = serde_json::json!(u64::MAX - 1);
    t.write(sidecar, &v.to_string());
    // The switch to west takes the last epoch there is.
    t.run(&[
        "apply",
        "-e",
        "dev",
        "--var",
        "active_site=west",
        "--auto-approve",
    ])
    .code(0)
    .stdout_has("epoch 18446744073709551615");
    // Nothing can be fenced above it: a switch back is refused, with where and why.
    t.run(&["plan", "-e", "dev"])
        .code(1)
        .stderr_has("failover.orders is at the largest epoch there is (18446744073709551615)")
        .stderr_has("failover.hcl")
        .stderr_lacks("panicked");
    // Staying where it is, and destroying, still work.
    t.run(&["plan", "-e", "dev", "--var", "active_site=west"])
        .code(0)
        .stderr_lacks("panicked");
    t.run(&[
        "destroy",
        "-e",
        "dev",
        "--var",
        "active_site=west",
        "--auto-approve",
    ])
    .code(0);
}
