//! `standby monitor` and `standby approve`: health checks of every failover group's members,
//! and automatic (or approved) failover when the active member is down.
//!
//! A failure counts only when the standby's replication position also stopped advancing, so a
//! blip between the monitor and the primary alone does not trigger anything. With
//! `approval = "auto"` the monitor runs the same emergency failover as `standby failover`, with
//! every safeguard; with `"manual"` it saves that plan and waits for `standby approve PLAN`.

use super::args::{EnvArgs, GateArgs, LockArgs, PlanArgs};
use super::monitor_http::{self, MonitorStatus};
use super::monitor_lease::{ElectionArgs, Lease};
use super::plan_cmd::{apply, plan, Run};
use super::workspace::Workspace;
use super::{runtime, CliError};
use standby_engine::monitor::{
    Event, Leadership, Operator, Outcome, ReplicationProbe, Round, Runner, Stamped, SystemClock,
    Watch,
};
use standby_engine::plan::ForcedSwitch;
use standby_engine::registry::Registry;
use standby_provider_sdk::{ConfigureRequest, Value};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a monitor's failover waits for the state lock that another actor holds.
const MONITOR_LOCK_WAIT: Duration = Duration::from_secs(30);

use standby_engine::monitor::stamp;

/// One line of the monitor's log, stamped.
fn log(m: &str) {
    eprintln!("{} monitor: {m}", stamp());
}

/// The recorded state and a plan of the environment, for its groups' settings.
pub(crate) fn state_and_plan(
    ws: &Workspace,
    env: &EnvArgs,
    env_name: &str,
) -> Result<(standby_engine::state::State, standby_engine::plan::Plan), CliError> {
    let state = ws
        .read_state(ws.backend(env_name)?.as_ref())?
        .unwrap_or_default();
    let mut config = ws.load()?;
    let vars = ws.inputs(&mut config, env_name, env, false)?;
    let opts = standby_engine::plan::PlanOptions {
        env: env_name.to_string(),
        mode: standby_engine::plan::PlanMode::Normal,
        refresh: false,
        targets: vec![],
        replace: vec![],
        phase: standby_engine::eval::Phase::Validate,
        topology_digest: String::new(),
        force: None,
        epoch_floor: Default::default(),
        imports: Vec::new(),
    };
    let p = runtime()?
        .block_on(standby_engine::plan::plan(
            &config,
            &ws.registry(&config)?,
            Some(&state),
            vars,
            &opts,
        ))
        .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
    Ok((state, p))
}

/// The standard providers, configured for this workspace.
pub(crate) fn configured_registry(ws: &Workspace) -> Result<Registry, CliError> {
    let registry = ws.registry(&ws.load()?)?;
    let rt = runtime()?;
    for name in registry.names() {
        if let Some(p) = registry.get(name) {
            let _ = rt.block_on(p.configure(ConfigureRequest {
                config: Value::Null,
                root_dir: ws.root.clone(),
            }));
        }
    }
    Ok(registry)
}

/// The groups to watch, from the recorded state and the topology's settings.
fn watches(ws: &Workspace, env: &EnvArgs, env_name: &str) -> Result<Vec<Watch>, CliError> {
    let (state, p) = state_and_plan(ws, env, env_name)?;
    let mut out = Vec::new();
    for (group, f) in &state.failovers {
        let Some(g) = p.groups.get(group) else {
            continue;
        };
        out.push(Watch {
            group: group.clone(),
            active: f.active.clone(),
            epoch: f.promoted_epoch(),
            members: state.members(f),
            health: g.health_check.clone(),
            approval: g.approval,
        });
    }
    Ok(out)
}

/// Where the monitor reports besides its log.
pub(crate) struct Outputs {
    /// The HTTP status endpoint's address.
    pub listen: Option<std::net::SocketAddr>,
    /// A bearer token the status endpoint requires.
    pub token: Option<String>,
    /// The webhook URL.
    pub webhook: Option<String>,
    /// Where to write every event as a JSON line (`--events FILE`), for drills and tools.
    pub events: Option<std::path::PathBuf>,
}

impl Outputs {
    /// Sends the webhook for the events that have one.
    fn notify_event(&self, env: &str, e: &Event) {
        let approval = |manual: bool| if manual { "manual" } else { "auto" };
        let (name, extra) = match e {
            Event::Trigger { to, manual, .. } => (
                "failover_triggered",
                serde_json::json!({"to": to, "approval": approval(*manual)}),
            ),
            Event::AwaitingApproval { to, plan, .. } => (
                "failover_awaiting_approval",
                serde_json::json!({"to": to, "plan": plan, "approve": format!("standby approve {plan}")}),
            ),
            Event::FailoverFinished { to, exit_code, .. } => (
                "failover_finished",
                serde_json::json!({"to": to, "exit_code": exit_code}),
            ),
            _ => return,
        };
        self.notify(name, env, e.group(), extra);
    }

    fn notify(&self, event: &str, env: &str, group: &str, extra: serde_json::Value) {
        let Some(url) = &self.webhook else { return };
        let mut body =
            serde_json::json!({"event": event, "env": env, "group": group, "at": stamp()});
        if let (Some(b), serde_json::Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        if let Err(e) = monitor_http::notify(url, &body) {
            log(&format!("webhook {event} failed: {e}"));
        }
    }
}

/// The status snapshots' directory, which `standby status` reads.
pub(crate) fn status_dir(ws: &Workspace) -> std::path::PathBuf {
    ws.root.join(".standby").join("monitor")
}

/// A monitor's status snapshot: `ENV.json`, or `ENV.NAME.json` when several monitors are
/// elected among.
fn status_file(ws: &Workspace, env_name: &str, lease: &Lease) -> std::path::PathBuf {
    status_dir(ws).join(if lease.elected() {
        format!("{env_name}.{}.json", lease.name)
    } else {
        format!("{env_name}.json")
    })
}

pub(crate) fn monitor(
    ws: &Workspace,
    env: &EnvArgs,
    lock: &LockArgs,
    run_for: Option<Duration>,
    outputs: &Outputs,
    election: &ElectionArgs,
) -> Result<i32, CliError> {
    let env_name = ws.env_name(env)?;
    super::plan_cmd::monitor_inputs_allowed(ws, &env_name, env)?;
    let registry = configured_registry(ws)?;
    let rt = runtime()?;
    let mut lease = Lease::connect(election, &env_name, rt)?;
    if lease.elected() {
        log(&format!(
            "{} joins the election for {env_name} (lease TTL {:?})",
            lease.name, election.ttl
        ));
    } else {
        log("warning: no etcd lease is configured, so this monitor is a single point of failure; run only one per environment");
    }
    let groups = watches(ws, env, &env_name)?;
    if groups.is_empty() {
        return Err(CliError::msg(
            format!("Nothing to monitor in environment {env_name:?}"),
            "No failover group is recorded in the state yet; apply the topology first.",
        ));
    }
    let status = Arc::new(Mutex::new(MonitorStatus {
        env: env_name.clone(),
        pid: std::process::id(),
        started: stamp(),
        name: if lease.elected() {
            lease.name.clone()
        } else {
            String::new()
        },
        leader: false,
        lease_holder: lease.holder_text(),
        groups: BTreeMap::new(),
    }));
    if outputs.listen.is_none() && outputs.token.is_some() {
        return Err(CliError::msg(
            "--listen-token-file needs --listen",
            "The token protects the status endpoint, which only --listen ADDR serves.",
        ));
    }
    if let Some(addr) = outputs.listen {
        if !addr.ip().is_loopback() && outputs.token.is_none() {
            log(&format!("warning: the status endpoint on {addr} is reachable beyond this host and needs no token; pass --listen-token-file, or listen on loopback"));
        }
        let listener = std::net::TcpListener::bind(addr).map_err(|e| {
            CliError::msg(
                format!("Cannot listen on {addr}"),
                format!("{e}. Choose another --listen address."),
            )
        })?;
        // With port 0 the system picks one: say which.
        let addr = listener.local_addr().unwrap_or(addr);
        log(&format!(
            "status on http://{addr}/ and http://{addr}/metrics"
        ));
        monitor_http::serve(listener, status.clone(), outputs.token.clone())
            .map_err(|e| CliError::msg(format!("Cannot serve on {addr}"), e.to_string()))?;
    }
    let snapshot = status_file(ws, &env_name, &lease);
    let mut events =
        match &outputs.events {
            Some(f) => Some(std::fs::File::create(f).map_err(|e| {
                CliError::msg(format!("Cannot write {}", f.display()), e.to_string())
            })?),
            None => None,
        };
    let mut emit = |e: Event| {
        log(&e.to_string());
        if let Some(f) = events.as_mut() {
            let line = serde_json::to_string(&Stamped {
                time: stamp(),
                event: e.clone(),
            })
            .unwrap_or_default();
            let _ = writeln!(f, "{line}");
        }
        outputs.notify_event(&env_name, &e);
    };
    let guard = lease.guard();
    Runner {
        probe: ReplicationProbe {
            registry: &registry,
            rt,
        },
        lease: Elected {
            lease: &mut lease,
            rt,
        },
        operator: Failover {
            ws,
            env,
            env_name: &env_name,
            lock,
            guard,
        },
        clock: SystemClock::new(),
        status,
        snapshot: Some(snapshot),
        run_for,
        emit: &mut emit,
    }
    .run(groups)
}

/// The election as the runner sees it.
struct Elected<'a> {
    lease: &'a mut Lease,
    rt: &'a tokio::runtime::Runtime,
}

impl Leadership for Elected<'_> {
    fn round(&mut self) -> Round {
        let (may_act, won) = self.lease.round(self.rt, log);
        Round { may_act, won }
    }
    fn holder(&self) -> String {
        self.lease.holder_text()
    }
    fn elected(&self) -> bool {
        self.lease.elected()
    }
    fn resign(&mut self) {
        self.lease.resign(self.rt);
    }
}

/// Fails over through the same plan and apply as `standby failover`: an emergency switch
/// with every safeguard, or with `approval = "manual"` a saved plan for `standby approve`.
struct Failover<'a> {
    ws: &'a Workspace,
    env: &'a EnvArgs,
    env_name: &'a str,
    lock: &'a LockArgs,
    guard: Option<Arc<dyn standby_engine::apply::PromotionGuard>>,
}

impl Operator for Failover<'_> {
    type Error = CliError;

    fn watches(&mut self) -> Result<Vec<Watch>, CliError> {
        watches(self.ws, self.env, self.env_name)
    }

    fn fail_over(&mut self, group: &str, to: &str, manual: bool) -> Outcome {
        let force = ForcedSwitch {
            group: group.to_string(),
            to: to.to_string(),
            emergency: true,
        };
        let plain = PlanArgs::without_refresh();
        // Another monitor may hold the state lock (frozen, or finishing its own failover):
        // wait for it rather than give up at once; its apply re-checks its lease.
        let lock = &LockArgs {
            lock_timeout: self.lock.lock_timeout.max(MONITOR_LOCK_WAIT),
            lock: true,
        };
        if manual {
            let dir = self.ws.root.join(".standby").join("pending");
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!(
                "{}-{group}-{}.plan",
                self.env_name,
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            ));
            return match plan(
                self.ws,
                self.env,
                &plain,
                lock,
                Some(&file),
                false,
                false,
                (None, None),
                Some(force),
            ) {
                Ok(_) => Outcome::AwaitingApproval(file.display().to_string()),
                Err(e) => {
                    Outcome::Failed(format!("cannot save the failover plan: {}", e.oneline()))
                }
            };
        }
        let run = Run {
            auto_approve: true,
            parallelism: 10,
            gates: GateArgs::default(),
            force: Some(force),
            guard: self.guard.clone(),
            acting_monitor: true,
        };
        match apply(self.ws, None, self.env, &plain, lock, &run) {
            Ok(code) => Outcome::Finished(code),
            Err(e) => Outcome::Failed(e.oneline()),
        }
    }
}

pub(crate) fn approve(
    ws: &Workspace,
    plan_file: &std::path::Path,
    lock: &LockArgs,
    etcd: Vec<String>,
) -> Result<i32, CliError> {
    let plan = super::plan_file::read(ws, plan_file)?;
    let gates = GateArgs {
        approve: plan.switches.iter().map(|s| s.group.clone()).collect(),
        approval_file: None,
        accept_data_loss: vec![],
        etcd,
        operator_override: None,
    };
    let env = EnvArgs {
        env: Some(plan.env.clone()),
        vars: vec![],
        var_files: vec![],
    };
    // A saved plan fixed everything: no plan-shaping option (refresh included) is passed.
    let plain = PlanArgs {
        refresh: true,
        ..PlanArgs::without_refresh()
    };
    apply(
        ws,
        Some(plan_file),
        &env,
        &plain,
        lock,
        &Run {
            auto_approve: true,
            parallelism: 10,
            gates,
            force: None,
            guard: None,
            acting_monitor: false,
        },
    )
}
