//! `standby monitor` and `standby approve`: health checks of every failover group's members,
//! and automatic (or approved) failover when the active member is down.
//!
//! A failure counts only when the standby's replication position also stopped advancing, so a
//! blip between the monitor and the primary alone does not trigger anything. With
//! `approval = "auto"` the monitor runs the same emergency failover as `standby failover`, with
//! every safeguard; with `"manual"` it saves that plan and waits for `standby approve PLAN`.

use super::args::{EnvArgs, GateArgs, LockArgs, PlanArgs};
use super::health::Health;
use super::monitor_http::{self, MemberStatus, MonitorStatus};
use super::monitor_lease::{ElectionArgs, Lease};
use super::plan_cmd::{apply, plan, Run};
use super::workspace::Workspace;
use super::{runtime, CliError};
use standby_engine::plan::ForcedSwitch;
use standby_engine::registry::Registry;
use standby_provider_sdk::{ConfigureRequest, Member, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One group as the monitor watches it.
struct Watch {
    group: String,
    active: String,
    /// The newest epoch a promotion wrote into the members: a standby found primary below it
    /// is a deposed primary, at or above it an unrecorded promotion to adopt.
    epoch: u64,
    members: BTreeMap<String, (Member, String)>,
    interval: Duration,
    timeout: Duration,
    failures: u32,
    manual: bool,
    streak: u32,
    health: Health,
}

/// How long a monitor's failover waits for the state lock that another actor holds.
const MONITOR_LOCK_WAIT: Duration = Duration::from_secs(30);

fn stamp() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

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
            &Registry::standard(),
            Some(&state),
            vars,
            &opts,
        ))
        .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
    Ok((state, p))
}

/// A group's members as providers see them: site to (member, provider name).
pub(crate) fn members_of(
    state: &standby_engine::state::State,
    f: &standby_engine::state::FailoverState,
) -> BTreeMap<String, (Member, String)> {
    let mut members = BTreeMap::new();
    for (site, addr) in &f.members {
        if let Some((a, st)) = state.resources.iter().find(|(a, _)| a.to_string() == *addr) {
            members.insert(
                site.clone(),
                (
                    Member {
                        site: site.clone(),
                        type_name: a.resource.resource.type_name.clone(),
                        state: st.value().deep_unmark().0,
                    },
                    st.provider.clone(),
                ),
            );
        }
    }
    members
}

/// The standard providers, configured for this workspace.
pub(crate) fn configured_registry(ws: &Workspace) -> Result<Registry, CliError> {
    let registry = Registry::standard();
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
            members: members_of(&state, f),
            interval: g.health_check.interval_or_default(),
            timeout: g.health_check.timeout_or_default(),
            failures: g.health_check.failures_or_default(),
            manual: g.approval == "manual",
            streak: 0,
            health: Health::from_settings(&g.health_check),
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
}

impl Outputs {
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
    let mut lease = Lease::connect(election, &env_name, &rt)?;
    if lease.elected() {
        log(&format!(
            "{} joins the election for {env_name} (lease TTL {:?})",
            lease.name, election.ttl
        ));
    } else {
        log("warning: no etcd lease is configured, so this monitor is a single point of failure; run only one per environment");
    }
    let mut groups = watches(ws, env, &env_name)?;
    if groups.is_empty() {
        return Err(CliError::msg(
            format!("Nothing to monitor in environment {env_name:?}"),
            "No failover group is recorded in the state yet; apply the topology first.",
        ));
    }
    for g in &groups {
        log(&format!("watching failover.{} (active {}, {} check every {:?}, timeout {:?}, {} failures, {} approval)", g.group, g.active, g.health.name(), g.interval, g.timeout, g.failures, if g.manual { "manual" } else { "auto" }));
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
    let mut triggered: BTreeMap<String, u64> = BTreeMap::new();
    let started = Instant::now();
    let mut reloaded = started;
    let tick = groups
        .iter()
        .map(|g| g.interval)
        .min()
        .unwrap_or(Duration::from_secs(1));
    loop {
        if run_for.is_some_and(|d| started.elapsed() >= d) {
            lease.resign(&rt);
            return Ok(0);
        }
        let t0 = Instant::now();
        let (may_act, won) = lease.round(&rt, log);
        // A monitor that was not acting may hold an old view: another one may have failed
        // over meanwhile. Start from the recorded state whenever it wins, and now and then.
        if won || (!may_act && reloaded.elapsed() >= Duration::from_secs(5)) {
            groups = watches(ws, env, &env_name)?;
            reloaded = Instant::now();
        }
        if let Ok(mut st) = status.lock() {
            st.leader = may_act && lease.elected();
            st.lease_holder = lease.holder_text();
        }
        let mut trigger: Option<(String, String, bool)> = None;
        for g in &mut groups {
            let Some((active, provider)) = g.members.get(&g.active).cloned() else {
                continue;
            };
            let Some(p) = registry.get(&provider).cloned() else {
                continue;
            };
            let Some(r) = p.replication() else { continue };
            // What the standbys see, before and after asking the primary: a position that
            // advances meanwhile means the primary lives and only the monitor lost it.
            let observe = |g: &Watch| -> BTreeMap<String, standby_provider_sdk::MemberStatus> {
                g.members
                    .iter()
                    .filter(|(s, _)| **s != g.active)
                    .filter_map(|(site, (m, _))| {
                        let st = rt.block_on(async {
                            tokio::time::timeout(g.timeout, r.status(m, None))
                                .await
                                .ok()
                                .and_then(Result::ok)
                        })?;
                        st.healthy.then(|| (site.clone(), st))
                    })
                    .collect()
            };
            // Only standbys are failover targets and witnesses of the primary's WAL.
            let is_standby = |st: &standby_provider_sdk::MemberStatus| {
                st.role == standby_provider_sdk::Role::Standby
            };
            let positions = |g: &Watch| -> BTreeMap<String, u64> {
                observe(g)
                    .into_iter()
                    .filter(|(_, st)| is_standby(st))
                    .map(|(s, st)| (s, st.position))
                    .collect()
            };
            let seen = observe(g);
            // A "standby" that is primary means the record is stale: a failover completed
            // without its record (its monitor or apply was killed after promotion).
            let promoted = seen
                .iter()
                .find(|(_, st)| st.role == standby_provider_sdk::Role::Primary)
                .map(|(site, st)| (site.clone(), st.epoch));
            // A writer below the newest promoted epoch is a deposed primary; at or above it, a
            // promotion that was not recorded.
            let (promoted, stale) = match promoted {
                Some((site, epoch)) if epoch >= g.epoch => (Some((site, epoch)), None),
                other => (None, other),
            };
            if let Some((site, epoch)) = &stale {
                // Promoting a third member now would leave this writer writable: an operator
                // decides (`standby plan` says how).
                log(&format!("failover.{}: {site} accepts writes at epoch {epoch}, older than the newest promoted epoch {}: a deposed primary; not acting while it does (`standby plan` says what to do)", g.group, g.epoch));
                continue;
            }
            let before: BTreeMap<String, u64> = seen
                .into_iter()
                .filter(|(_, st)| is_standby(st))
                .map(|(s, st)| (s, st.position))
                .collect();
            let sampled = Instant::now();
            let verdict = rt.block_on(async {
                tokio::time::timeout(g.timeout, g.health.check(r, &g.active, &active, true))
                    .await
                    .unwrap_or_else(|_| Err(format!("no answer within {:?}", g.timeout)))
            });
            let ok = verdict.is_ok();
            // The standbys by the declared check too (the replication check's answer is
            // their position, sampled above): a standby that fails it is no target.
            let standby_ok: BTreeMap<String, bool> = g
                .members
                .iter()
                .filter(|(s, _)| **s != g.active)
                .map(|(site, (m, _))| {
                    let fine = before.contains_key(site)
                        && (g.health.is_replication()
                            || rt.block_on(async {
                                tokio::time::timeout(g.timeout, g.health.check(r, site, m, false))
                                    .await
                                    .is_ok_and(|v| v.is_ok())
                            }));
                    (site.clone(), fine)
                })
                .collect();
            if let Ok(mut st) = status.lock() {
                let gs = st.groups.entry(g.group.clone()).or_default();
                gs.active.clone_from(&g.active);
                gs.failures_to_trigger = g.failures;
                gs.approval = if g.manual { "manual" } else { "auto" }.to_string();
                gs.last_check = stamp();
                gs.failovers_triggered = triggered.get(&g.group).copied().unwrap_or(0);
                gs.members = g
                    .members
                    .keys()
                    .map(|site| {
                        let primary = *site == g.active;
                        let position = before.get(site).copied();
                        (
                            site.clone(),
                            MemberStatus {
                                role: if primary { "primary" } else { "standby" }.to_string(),
                                healthy: if primary {
                                    ok
                                } else {
                                    standby_ok.get(site).copied().unwrap_or(false)
                                },
                                position,
                            },
                        )
                    })
                    .collect();
                gs.consecutive_failures = if ok { 0 } else { g.streak + 1 };
            }
            let (advancing, best) = if ok {
                (false, None)
            } else {
                // A live primary under load streams WAL within a fraction of a second.
                let window = Duration::from_millis(200);
                if sampled.elapsed() < window {
                    std::thread::sleep(window - sampled.elapsed());
                }
                let after = positions(g);
                let advancing = after
                    .iter()
                    .any(|(site, pos)| before.get(site).is_some_and(|p| pos > p));
                let best = after
                    .into_iter()
                    .filter(|(site, _)| standby_ok.get(site).copied().unwrap_or(false))
                    .max_by_key(|(_, pos)| *pos);
                (advancing, best)
            };
            if let Some((site, epoch)) = &promoted {
                if ok {
                    log(&format!("failover.{}: SPLIT BRAIN: {} answers as primary and {site} is primary too (epoch {epoch}); not acting: run `standby status` and `standby plan`, which decide from the members", g.group, g.active));
                    continue;
                }
                log(&format!("failover.{}: {} does not answer and {site} is already primary (epoch {epoch}): the record is stale; adopting what the members say", g.group, g.active));
                if may_act {
                    trigger = Some((g.group.clone(), site.clone(), false));
                } else {
                    log(&format!("failover.{}: would record it, but this monitor does not hold the lease ({}); not acting", g.group, lease.holder_text()));
                }
                continue;
            }
            if ok {
                if g.streak > 0 {
                    log(&format!(
                        "failover.{}: {} answers again after {} failed check(s)",
                        g.group, g.active, g.streak
                    ));
                }
                g.streak = 0;
                continue;
            }
            if advancing {
                log(&format!("failover.{}: {} does not answer the monitor, but its standby still receives WAL: not counted", g.group, g.active));
                continue;
            }
            g.streak += 1;
            log(&format!(
                "failover.{}: check {}/{} of {} failed: {}",
                g.group,
                g.streak,
                g.failures,
                g.active,
                verdict.err().unwrap_or_default()
            ));
            if g.streak >= g.failures && !may_act {
                if g.streak == g.failures {
                    log(&format!("failover.{}: would fail over, but this monitor does not hold the lease ({}); not acting", g.group, lease.holder_text()));
                }
            } else if g.streak >= g.failures {
                match best {
                    Some((to, _)) => trigger = Some((g.group.clone(), to, g.manual)),
                    None => log(&format!(
                        "failover.{}: triggered, but no healthy standby to promote",
                        g.group
                    )),
                }
            }
        }
        if let Some((group, to, manual)) = trigger {
            // The recorded state decides: if someone switched meanwhile, start over from it.
            let fresh = watches(ws, env, &env_name)?;
            let moved = fresh.iter().any(|f| {
                groups
                    .iter()
                    .any(|g| f.group == g.group && f.active != g.active)
            });
            if moved {
                log(&format!("failover.{group}: the recorded state changed meanwhile; watching it afresh instead of acting"));
                groups = fresh;
                continue;
            }
            log(&format!("failover.{group}: TRIGGER: failing over to {to}"));
            *triggered.entry(group.clone()).or_default() += 1;
            outputs.notify(
                "failover_triggered",
                &env_name,
                &group,
                serde_json::json!({"to": to, "approval": if manual { "manual" } else { "auto" }}),
            );
            let force = ForcedSwitch {
                group: group.clone(),
                to: to.clone(),
                emergency: true,
            };
            let plain = PlanArgs::without_refresh();
            // Another monitor may hold the state lock (frozen, or finishing its own failover):
            // wait for it rather than give up at once; its apply re-checks its lease.
            let lock = &LockArgs {
                lock_timeout: lock.lock_timeout.max(MONITOR_LOCK_WAIT),
                lock: true,
            };
            if manual {
                let dir = ws.root.join(".standby").join("pending");
                let _ = std::fs::create_dir_all(&dir);
                let file = dir.join(format!(
                    "{env_name}-{group}-{}.plan",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                ));
                if let Err(e) = plan(
                    ws,
                    env,
                    &plain,
                    lock,
                    Some(&file),
                    false,
                    false,
                    (None, None),
                    Some(force),
                ) {
                    log(&format!(
                        "failover.{group}: cannot save the failover plan: {}; watching on",
                        e.oneline()
                    ));
                    groups = watches(ws, env, &env_name)?;
                    continue;
                }
                log(&format!("failover.{group}: approval = \"manual\": saved the failover plan; run `standby approve {}` to fail over", file.display()));
                outputs.notify(
                    "failover_awaiting_approval",
                    &env_name,
                    &group,
                    serde_json::json!({"to": to, "plan": file.display().to_string(), "approve": format!("standby approve {}", file.display())}),
                );
                return Ok(4);
            }
            let code = match apply(
                ws,
                None,
                env,
                &plain,
                lock,
                &Run {
                    auto_approve: true,
                    parallelism: 10,
                    gates: GateArgs::default(),
                    force: Some(force),
                    guard: lease.guard(),
                    acting_monitor: true,
                },
            ) {
                Ok(code) => code,
                Err(e) => {
                    // The members decide the next round: a monitor never dies of a lost race.
                    log(&format!(
                        "failover.{group}: the failover did not run: {}; watching on",
                        e.oneline()
                    ));
                    groups = watches(ws, env, &env_name)?;
                    continue;
                }
            };
            log(&format!(
                "failover.{group}: failover finished with exit code {code}"
            ));
            outputs.notify(
                "failover_finished",
                &env_name,
                &group,
                serde_json::json!({"to": to, "exit_code": code}),
            );
            groups = watches(ws, env, &env_name)?;
        }
        if let Ok(st) = status.lock() {
            st.save(&snapshot);
        }
        let spent = t0.elapsed();
        if spent < tick {
            std::thread::sleep(tick - spent);
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
