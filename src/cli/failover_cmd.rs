//! `standby failover`, `standby switchover` and `standby status`.

use super::args::{EnvArgs, GateArgs, LockArgs, PlanArgs};
use super::monitor_http::MonitorStatus;
use super::plan_cmd::{apply, Run};
use super::workspace::Workspace;
use super::{runtime, CliError};
use crate::plan::ForcedSwitch;
use standby_provider_sdk::Member;

#[allow(clippy::too_many_arguments)] // One command's flags.
pub(crate) fn switch(
    ws: &Workspace,
    group: &str,
    to: &str,
    emergency: bool,
    env: &EnvArgs,
    lock: &LockArgs,
    gates: GateArgs,
    auto_approve: bool,
) -> Result<i32, CliError> {
    let config = ws.load()?;
    if !config.root.failovers.contains_key(group) {
        return Err(CliError::msg(
            format!("No failover group {group:?}"),
            format!(
                "The topology declares {}.",
                if config.root.failovers.is_empty() {
                    "no failover groups".to_string()
                } else {
                    config
                        .root
                        .failovers
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        ));
    }
    let plan = PlanArgs {
        targets: vec![],
        replace: vec![],
        destroy: false,
        refresh_only: false,
        refresh: true,
    };
    let force = ForcedSwitch {
        group: group.to_string(),
        to: to.to_string(),
        emergency,
    };
    apply(
        ws,
        None,
        env,
        &plan,
        lock,
        &Run {
            auto_approve,
            parallelism: 10,
            gates,
            force: Some(force),
            guard: None,
        },
    )
}

pub(crate) fn status(ws: &Workspace, env: &EnvArgs) -> Result<i32, CliError> {
    let env_name = ws.env_name(env)?;
    let state = ws
        .read_state(ws.backend(&env_name)?.as_ref())?
        .unwrap_or_default();
    if let Some(a) = state.applies.last() {
        let (add, change, destroy) = a.counts;
        match &a.commit {
            Some(c) => println!("last apply: {} by {} from commit {} ({}{}) by {}: {add} added, {change} changed, {destroy} destroyed", a.at, a.by, &c.sha[..12.min(c.sha.len())], c.summary, if c.clean { "" } else { ", dirty tree" }, c.author),
            None => println!("last apply: {} by {} (not from a git repository): {add} added, {change} changed, {destroy} destroyed", a.at, a.by),
        }
    }
    if state.failovers.is_empty() {
        println!("No failover groups are recorded in environment {env_name:?} yet. Run standby apply first.");
        return Ok(0);
    }
    let registry = super::monitor_cmd::configured_registry(ws)?;
    let rt = runtime()?;
    let monitor = running_monitor(ws, &env_name);
    for (group, f) in &state.failovers {
        println!("failover.{group}");
        println!("  active:   {} (epoch {}, {})", f.active, f.epoch, f.mode);
        if let Some(o) = &f.override_ {
            println!(
                "  override: active is {} by {} ({} at {}); the topology file may say otherwise",
                o.site, o.reason, o.by, o.at
            );
        }
        let member = |site: &str| -> Option<(Member, String)> {
            let addr = f.members.get(site)?;
            let (a, st) = state
                .resources
                .iter()
                .find(|(a, _)| a.to_string() == *addr)?;
            Some((
                Member {
                    site: site.to_string(),
                    type_name: a.resource.resource.type_name.clone(),
                    state: st.value().deep_unmark().0,
                },
                st.provider.clone(),
            ))
        };
        let primary = member(&f.active).map(|(m, _)| m);
        for site in f.members.keys() {
            let Some((m, provider)) = member(site) else {
                println!("  {site:<8}  (no member in the state)");
                continue;
            };
            let line = match registry
                .get(&provider)
                .and_then(|p| p.replication().map(|_| p.clone()))
            {
                Some(p) => {
                    let r = p.replication().expect("checked above");
                    let prim = primary.as_ref().filter(|p| p.site != *site);
                    match rt.block_on(r.status(&m, prim)) {
                        Ok(s) => format!(
                            "{:<8} healthy={} position={} lag={}B/{:.1}s{}",
                            s.role.to_string(),
                            s.healthy,
                            s.position,
                            s.lag_bytes,
                            s.lag_seconds,
                            if s.in_sync && s.role.to_string() == "standby" {
                                " in-sync"
                            } else {
                                ""
                            }
                        ),
                        Err(e) => format!("unknown ({})", e.summary),
                    }
                }
                None => "provider cannot report status".into(),
            };
            println!("  {site:<8}  {line}");
        }
        match f.history.last() {
            Some(h) => println!(
                "  last:     {} {} -> {} at {} by {} in {:.2}s{}",
                h.kind,
                h.from.as_deref().unwrap_or("-"),
                h.to,
                h.started,
                h.by,
                h.seconds,
                h.git_commit.as_ref().map_or(String::new(), |c| format!(
                    " (commit {})",
                    &c[..12.min(c.len())]
                ))
            ),
            None => println!("  last:     never switched"),
        }
        if let Some(m) = &monitor {
            if let Some(g) = m.groups.get(group) {
                println!(
                    "  monitor:  {} of {} failed checks, last check {}, {} failover(s) triggered, {} approval",
                    g.consecutive_failures,
                    g.failures_to_trigger,
                    g.last_check,
                    g.failovers_triggered,
                    g.approval
                );
            }
        }
    }
    Ok(0)
}

/// The running monitors' snapshots, announced; returns the one that acts (the lease holder, or
/// a lone monitor), none when no monitor runs.
fn running_monitor(ws: &Workspace, env_name: &str) -> Option<MonitorStatus> {
    let mut found: Vec<MonitorStatus> = std::fs::read_dir(super::monitor_cmd::status_dir(ws))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n == format!("{env_name}.json")
                || (n.starts_with(&format!("{env_name}.")) && n.ends_with(".json"))
        })
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .filter(|m: &MonitorStatus| m.env == env_name)
        .collect();
    found.sort_by(|a, b| b.leader.cmp(&a.leader).then(a.name.cmp(&b.name)));
    let mut acting = None;
    for m in found {
        let who = if m.name.is_empty() {
            String::new()
        } else {
            format!(" {}", m.name)
        };
        if !std::path::Path::new(&format!("/proc/{}", m.pid)).exists() {
            println!(
                "monitor{who}: not running (the last one, pid {}, started {})",
                m.pid, m.started
            );
            continue;
        }
        let role = if m.leader { ", acting" } else { "" };
        println!(
            "monitor{who}: pid {} since {}{role}; lease holder: {}",
            m.pid, m.started, m.lease_holder
        );
        if acting.is_none() {
            acting = Some(m);
        }
    }
    acting
}
