//! An in-process rig for failover engine tests: a topology in a temporary directory, the
//! mock replicating provider, and plan/apply through the library API.

use super::mock::Mock;
use super::replica::Replica;
use standby_engine::apply::{apply, ApplyOptions, ApplyReport, Approvals};
use standby_engine::eval::Phase;
use standby_engine::plan::{plan, ForcedSwitch, Plan, PlanMode, PlanOptions};
use standby_engine::registry::Registry;
use standby_engine::state::{LocalBackend, State, StateStore as _};
use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Two `mockdb_member`s in group `orders`, traffic resources that follow it, an unrelated
/// resource, and an output of the active site.
pub fn topology(active: &str, approval: &str, max_lag: &str) -> String {
    format!(
        r#"
resource "mockdb_member" "east" {{ name = "east" }}
resource "mockdb_member" "west" {{ name = "west" }}

failover "orders" {{
  active  = "{active}"
  members = {{
    east = mockdb_member.east
    west = mockdb_member.west
  }}
  replication {{
    mode    = "sync"
    max_lag = "{max_lag}"
  }}
  approval = "{approval}"
  verify {{
    checksum = ["public.orders"]
  }}
}}

resource "mock_thing" "dns" {{ name = "dns->${{failover.orders.active_member.address}}" }}
resource "mock_thing" "lb" {{ name = "lb->${{failover.orders.active}}" }}
resource "mock_thing" "unrelated" {{ name = "unrelated-{active}" }}

output "active" {{ value = failover.orders.active }}
"#
    )
}

pub struct Rig {
    dir: tempfile::TempDir,
    pub replica: Arc<Replica>,
    registry: Registry,
    pub rt: tokio::runtime::Runtime,
    /// The stop flag every apply of the rig gets (what Ctrl-C raises).
    pub stop: Arc<AtomicBool>,
}

impl Rig {
    pub fn new(hcl: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.hcl"), hcl).unwrap();
        let replica = Arc::new(Replica::default());
        let mut registry = Registry::standard();
        registry.register(replica.clone());
        let mut mock = Mock::with_log(replica.log.clone());
        mock.fail_prefix = replica.traffic_fault.clone();
        registry.register(Arc::new(mock));
        Rig {
            dir,
            replica,
            registry,
            rt: tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap(),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The rig's providers, the mock replicating one among them.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The topology's directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Writes another file of the topology, such as a module's.
    pub fn write_file(&self, rel: &str, content: &str) {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    pub fn write(&self, hcl: &str) {
        std::fs::write(self.dir.path().join("main.hcl"), hcl).unwrap();
    }

    pub fn backend(&self) -> LocalBackend {
        LocalBackend::new(self.dir.path(), "test")
    }

    pub fn state(&self) -> State {
        self.backend().read().unwrap().unwrap_or_default()
    }

    pub fn plan(&self, force: Option<ForcedSwitch>) -> Plan {
        let config = standby_engine::config::load(self.dir.path())
            .map_err(|(_, d)| d)
            .unwrap();
        let state = self.backend().read().unwrap();
        let opts = PlanOptions {
            env: "test".into(),
            mode: PlanMode::Normal,
            refresh: true,
            targets: vec![],
            replace: vec![],
            phase: Phase::Plan,
            topology_digest: String::new(),
            force,
            epoch_floor: Default::default(),
            imports: Vec::new(),
        };
        self.rt
            .block_on(plan(
                &config,
                &self.registry,
                state.as_ref(),
                Default::default(),
                &opts,
            ))
            .unwrap()
    }

    pub fn apply_with(&self, p: &Plan, approvals: Approvals, accept: &[&str]) -> ApplyReport {
        self.apply_guarded(p, approvals, accept, None)
    }

    /// Applies with a promotion guard, as an elected monitor does.
    pub fn apply_guarded(
        &self,
        p: &Plan,
        approvals: Approvals,
        accept: &[&str],
        guard: Option<Arc<dyn standby_engine::apply::PromotionGuard>>,
    ) -> ApplyReport {
        let config = standby_engine::config::load(self.dir.path())
            .map_err(|(_, d)| d)
            .unwrap();
        let opts = ApplyOptions {
            guard,
            parallelism: 10,
            stop: self.stop.clone(),
            events: None,
            approvals,
            accept_data_loss: accept
                .iter()
                .map(|s| s.to_string())
                .collect::<BTreeSet<_>>(),
            commit: None,
            operator_override: None,
        };
        self.rt
            .block_on(apply(
                &config,
                &self.registry,
                p,
                &self.backend(),
                self.state(),
                opts,
            ))
            .unwrap()
    }

    pub fn apply(&self, force: Option<ForcedSwitch>) -> ApplyReport {
        let p = self.plan(force);
        self.apply_with(&p, Approvals::default(), &[])
    }

    pub fn clear_log(&self) {
        self.replica.log.lock().unwrap().clear();
    }
}
