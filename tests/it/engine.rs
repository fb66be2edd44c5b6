//! Engine tests through the library API with a mock provider: ordering, parallelism,
//! failure handling and re-runs.

use crate::support::mock::Mock;
use standby_engine::apply::{apply, ApplyOptions};
use standby_engine::eval::Phase;
use standby_engine::plan::{plan, Action, PlanMode, PlanOptions};
use standby_engine::registry::Registry;
use standby_engine::state::{LocalBackend, StateStore as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

struct Engine {
    dir: tempfile::TempDir,
    mock: Arc<Mock>,
    registry: Registry,
}

impl Engine {
    fn new(hcl: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.hcl"), hcl).unwrap();
        let mock = Arc::new(Mock::default());
        let mut registry = Registry::standard();
        registry.register(mock.clone());
        Engine {
            dir,
            mock,
            registry,
        }
    }

    fn rewrite(&self, hcl: &str) {
        std::fs::write(self.dir.path().join("main.hcl"), hcl).unwrap();
    }

    fn backend(&self) -> LocalBackend {
        LocalBackend::new(self.dir.path(), "test")
    }

    /// Plans and applies; returns the plan's actions by address and the apply report.
    fn run(
        &self,
        mode: PlanMode,
        parallelism: usize,
    ) -> (Vec<(String, Action)>, standby_engine::apply::ApplyReport) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = standby_engine::config::load(self.dir.path())
            .map_err(|(_, d)| d)
            .unwrap();
        let state = self.backend().read().unwrap();
        let opts = PlanOptions {
            env: "test".into(),
            mode,
            refresh: true,
            targets: vec![],
            replace: vec![],
            phase: Phase::Plan,
            topology_digest: String::new(),
            force: None,
            epoch_floor: Default::default(),
            imports: Vec::new(),
        };
        let p = rt
            .block_on(plan(
                &config,
                &self.registry,
                state.as_ref(),
                standby_engine::plan::root_inputs(&config, "test", &[], false).unwrap(),
                &opts,
            ))
            .unwrap();
        let actions = p
            .changes
            .iter()
            .map(|c| (c.addr.to_string(), c.action))
            .collect();
        let opts = ApplyOptions {
            guard: None,
            parallelism,
            stop: Arc::new(AtomicBool::new(false)),
            events: None,
            approvals: Default::default(),
            accept_data_loss: Default::default(),
            commit: None,
            operator_override: None,
        };
        let report = rt
            .block_on(apply(
                &config,
                &self.registry,
                &p,
                &self.backend(),
                state.unwrap_or_default(),
                opts,
            ))
            .unwrap();
        (actions, report)
    }
}

#[test]
fn dependencies_finish_before_dependents_start() {
    let e = Engine::new(
        r#"
resource "mock_thing" "a" {
  name     = "a"
  delay_ms = 50
}
resource "mock_thing" "b" { name = "b-${mock_thing.a.id}" }
resource "mock_thing" "c" {
  name       = "c"
  depends_on = [mock_thing.b]
}
"#,
    );
    let (_, report) = e.run(PlanMode::Normal, 10);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(e.mock.entries(), ["create a", "create b-id-a", "create c"]);
}

#[test]
fn parallelism_bounds_concurrent_actions() {
    let e = Engine::new(
        r#"
resource "mock_thing" "many" {
  count    = 12
  name     = "m${count.index}"
  delay_ms = 30
}
"#,
    );
    let (_, report) = e.run(PlanMode::Normal, 3);
    assert_eq!(report.done.len(), 12);
    assert_eq!(e.mock.max_running.load(Ordering::SeqCst), 3);
}

#[test]
fn a_failure_skips_dependents_and_lets_independent_branches_finish() {
    let hcl = |fail: bool| {
        format!(
            r#"
resource "mock_thing" "bad" {{
  name = "bad"
  fail = {fail}
}}
resource "mock_thing" "child" {{ name = "child-${{mock_thing.bad.id}}" }}
resource "mock_thing" "grandchild" {{ name = "gc-${{mock_thing.child.id}}" }}
resource "mock_thing" "independent" {{
  name     = "independent"
  delay_ms = 20
}}
"#
        )
    };
    let e = Engine::new(&hcl(true));
    let (_, report) = e.run(PlanMode::Normal, 10);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].addr, "mock_thing.bad");
    let skipped: Vec<&str> = report.skipped.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(skipped.len(), 2);
    assert!(skipped.contains(&"mock_thing.child") && skipped.contains(&"mock_thing.grandchild"));
    assert!(report
        .skipped
        .iter()
        .all(|(_, culprit)| culprit == "mock_thing.bad"));
    assert_eq!(e.mock.entries(), ["create independent"]);
    // The state keeps what finished; a re-run after the fix converges.
    assert_eq!(e.backend().read().unwrap().unwrap().resources.len(), 1);
    e.rewrite(&hcl(false));
    let (actions, report) = e.run(PlanMode::Normal, 10);
    assert!(report.failed.is_empty());
    let created: Vec<&str> = actions
        .iter()
        .filter(|(_, a)| *a == Action::Create)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        created,
        [
            "mock_thing.bad",
            "mock_thing.child",
            "mock_thing.grandchild"
        ]
    );
    let (actions, _) = e.run(PlanMode::Normal, 10);
    assert!(
        actions.iter().all(|(_, a)| *a == Action::NoOp),
        "{actions:?}"
    );
}

#[test]
fn deletions_run_in_reverse_dependency_order() {
    let e = Engine::new(
        r#"
resource "mock_thing" "base" { name = "base" }
resource "mock_thing" "mid" { name = "mid-${mock_thing.base.id}" }
resource "mock_thing" "top" { name = "top-${mock_thing.mid.id}" }
"#,
    );
    e.run(PlanMode::Normal, 10);
    let (actions, report) = e.run(PlanMode::Destroy, 10);
    assert!(report.failed.is_empty());
    assert!(actions.iter().all(|(_, a)| *a == Action::Delete));
    let log = e.mock.entries();
    assert_eq!(
        &log[3..],
        [
            "delete top-id-mid-id-base",
            "delete mid-id-base",
            "delete base"
        ]
    );
    assert!(e.backend().read().unwrap().unwrap().resources.is_empty());
}

#[test]
fn unknown_values_are_resolved_at_apply_without_replanning() {
    let e = Engine::new(
        r#"
locals { joined = "${mock_thing.a.id}+${mock_thing.b.id}" }
resource "mock_thing" "a" { name = "a" }
resource "mock_thing" "b" { name = "b" }
resource "mock_thing" "c" { name = upper(local.joined) }
output "joined" { value = local.joined }
"#,
    );
    let (_, report) = e.run(PlanMode::Normal, 10);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(e.mock.entries().contains(&"create ID-A+ID-B".to_string()));
    assert_eq!(
        report.state.outputs["joined"].value,
        serde_json::json!("id-a+id-b")
    );
}

#[test]
fn the_journal_records_each_action_before_the_snapshot_is_compacted() {
    let e = Engine::new(
        r#"
resource "mock_thing" "x" {
  count = 5
  name  = "x${count.index}"
}
"#,
    );
    let (_, report) = e.run(PlanMode::Normal, 2);
    assert_eq!(report.done.len(), 5);
    let state = e.backend().read().unwrap().unwrap();
    assert_eq!(state.serial, 1);
    assert_eq!(state.resources.len(), 5);
    assert!(
        !e.dir.path().join(".standby/state/test.journal").exists(),
        "the journal is compacted away at the end"
    );
}

#[test]
fn ignore_changes_keeps_the_recorded_value() {
    let hcl = |v: &str| {
        format!("resource \"mock_thing\" \"a\" {{\n  name  = \"a\"\n  value = \"{v}\"\n  lifecycle {{\n    ignore_changes = [value]\n  }}\n}}\n")
    };
    let e = Engine::new(&hcl("one"));
    e.run(PlanMode::Normal, 10);
    e.rewrite(&hcl("two"));
    let (actions, _) = e.run(PlanMode::Normal, 10);
    assert_eq!(actions, [("mock_thing.a".to_string(), Action::NoOp)]);
}

#[test]
fn create_before_destroy_creates_the_replacement_first() {
    let hcl = |n: &str| {
        format!("resource \"standby_data\" \"t\" {{\n  triggers_replace = \"{n}\"\n  lifecycle {{\n    create_before_destroy = true\n  }}\n}}\n")
    };
    let e = Engine::new(&hcl("1"));
    e.run(PlanMode::Normal, 10);
    e.rewrite(&hcl("2"));
    let (actions, report) = e.run(PlanMode::Normal, 10);
    assert_eq!(
        actions,
        [("standby_data.t".to_string(), Action::CreateThenDelete)]
    );
    assert!(report.failed.is_empty());
}

#[test]
fn data_sources_are_read_at_plan_time_and_feed_resources() {
    let e = Engine::new(
        r#"
data "local_file" "seed" {
  filename = "seed.txt"
}
resource "mock_thing" "from_seed" {
  name = trimspace(data.local_file.seed.content)
}
"#,
    );
    std::fs::write(e.dir.path().join("seed.txt"), "seeded\n").unwrap();
    let (_, report) = e.run(PlanMode::Normal, 10);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(e.mock.entries(), ["create seeded"]);
    let state = e.backend().read().unwrap().unwrap();
    assert!(state
        .resources
        .keys()
        .any(|a| a.to_string() == "data.local_file.seed"));
}

#[test]
fn for_each_modules_and_removed_keys_are_deleted_with_a_reason() {
    let e = Engine::new(
        r#"
variable "names" {
  default = ["a", "b"]
}
module "m" {
  source   = "./m"
  for_each = toset(var.names)
  name     = each.key
}
"#,
    );
    std::fs::create_dir_all(e.dir.path().join("m")).unwrap();
    std::fs::write(
        e.dir.path().join("m/main.hcl"),
        "variable \"name\" {}\nresource \"mock_thing\" \"x\" {\n  name = var.name\n}\n",
    )
    .unwrap();
    e.run(PlanMode::Normal, 10);
    e.rewrite("module \"m\" {\n  source   = \"./m\"\n  for_each = toset([\"a\"])\n  name     = each.key\n}\n");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = standby_engine::config::load(e.dir.path())
        .map_err(|(_, d)| d)
        .unwrap();
    let state = e.backend().read().unwrap();
    let opts = PlanOptions {
        env: "test".into(),
        mode: PlanMode::Normal,
        refresh: false,
        targets: vec![],
        replace: vec![],
        phase: Phase::Plan,
        topology_digest: String::new(),
        force: None,
        epoch_floor: Default::default(),
        imports: Vec::new(),
    };
    let p = rt
        .block_on(plan(
            &config,
            &e.registry,
            state.as_ref(),
            Default::default(),
            &opts,
        ))
        .unwrap();
    let gone = p
        .changes
        .iter()
        .find(|c| c.action == Action::Delete)
        .unwrap();
    assert_eq!(gone.addr.to_string(), "module.m[\"b\"].mock_thing.x");
    assert_eq!(
        gone.reason.as_ref().unwrap().code,
        "delete_because_no_module"
    );
}

/// A state recorded with an older schema version goes through the provider's upgrade before
/// the refresh and the plan, once: the upgraded value and the new version are recorded, and a
/// later run finds nothing to upgrade.
#[test]
fn a_state_of_an_older_schema_version_is_upgraded_once_by_the_provider() {
    let e = Engine::new("resource \"mock_thing\" \"a\" { name = \"a\" }\n");
    let (_, report) = e.run(PlanMode::Normal, 10);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let recorded = |e: &Engine| {
        let st = e.backend().read().unwrap().unwrap();
        let (_, inst) = st.resources.iter().next().unwrap();
        (inst.schema_version, inst.attributes["id"].clone())
    };
    assert_eq!(recorded(&e), (Some(0), serde_json::json!("id-a")));
    e.mock.schema_version.store(2, Ordering::SeqCst);
    let (actions, report) = e.run(PlanMode::Normal, 10);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(actions, [("mock_thing.a".to_string(), Action::NoOp)]);
    assert_eq!(recorded(&e), (Some(2), serde_json::json!("v2:id-a")));
    // Equal versions still go through the provider (it may normalize), and log nothing.
    let calls = e.mock.upgrades.load(Ordering::SeqCst);
    e.run(PlanMode::Normal, 10);
    assert_eq!(e.mock.entries(), ["create a", "upgrade a from 0"]);
    assert_eq!(e.mock.upgrades.load(Ordering::SeqCst), calls + 1);
}

/// A state recorded before standby kept schema versions is taken to be in the provider's
/// current schema, as standby then treated every state: no upgrade from version 0 runs, and
/// the next apply records the version.
#[test]
fn a_state_without_a_schema_version_is_taken_as_current() {
    let e = Engine::new(
        "resource \"mock_thing\" \"a\" { name = \"a\" }\nresource \"mock_thing\" \"b\" { name = \"b\" }\n",
    );
    e.run(PlanMode::Normal, 10);
    let mut st = e.backend().read().unwrap().unwrap();
    for inst in st.resources.values_mut() {
        inst.schema_version = None;
    }
    e.backend().write(&st).unwrap();
    e.mock.schema_version.store(3, Ordering::SeqCst);
    e.rewrite(
        "resource \"mock_thing\" \"a\" { name = \"a\" }\nresource \"mock_thing\" \"b\" { name = \"b2\" }\n",
    );
    let (_, report) = e.run(PlanMode::Normal, 10);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(
        !e.mock.entries().iter().any(|l| l.starts_with("upgrade")),
        "{:?}",
        e.mock.entries()
    );
    let st = e.backend().read().unwrap().unwrap();
    let versions: Vec<_> = st.resources.values().map(|i| i.schema_version).collect();
    assert_eq!(versions, [Some(3), Some(3)]);
}
