//! `standby failover`, `standby switchover` and `standby status`.

use super::args::{EnvArgs, GateArgs, LockArgs, PlanArgs};
use super::monitor_http::MonitorStatus;
use super::plan_cmd::{apply, Run};
use super::workspace::Workspace;
use super::{runtime, CliError};
use standby_engine::plan::ForcedSwitch;
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
            acting_monitor: false,
        },
    )
}

/// A group whose newest switch record is newer than the last apply that finished: that apply
/// was killed between the switch's record and its end, where outputs are written.
fn unfinished_apply(state: &standby_engine::state::State) -> Option<String> {
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    };
    let last_apply = state.applies.last().and_then(|a| parse(&a.at));
    state.failovers.iter().find_map(|(group, f)| {
        let h = f.history.last()?;
        // A refresh records an adopted switch without an apply.
        if h.notes
            .iter()
            .any(|n| n.starts_with("recorded by a refresh"))
        {
            return None;
        }
        let started = parse(&h.started)?;
        (last_apply.is_none_or(|a| started > a)).then(|| group.clone())
    })
}

/// How long `status` waits for one member.
const STATUS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

/// Says loudly where the members disagree with the state; returns the exit code: 1 for two
/// writable members or none, 2 for a record the members contradict, 0 when they agree.
fn verdict_lines(
    group: &str,
    f: &standby_engine::state::FailoverState,
    observed: &[standby_engine::plan::reality::Observed],
    env: &str,
) -> i32 {
    use standby_engine::plan::reality::{describe_split, judge, Verdict};
    match judge(&f.active, f.epoch, f.promoted_epoch(), observed) {
        Verdict::Agrees => 0,
        Verdict::SplitBrain(w) => {
            println!("  !! SPLIT BRAIN: {} accept writes. Run `standby plan -e {env}`: it fences the stale member when the record proves which holds the data, and otherwise says how to choose (`standby failover {group} --to SITE -e {env}`).", describe_split(&w));
            1
        }
        Verdict::Stale { site, epoch } => {
            println!("  !! {site} accepts writes at epoch {epoch}, older than the recorded {} at epoch {}, which cannot be read: a deposed primary that was never fenced. Bring {} back, or make {site} primary deliberately with `standby failover {group} --to {site} -e {env}`.", f.active, f.epoch, f.active);
            1
        }
        Verdict::NoPrimary => {
            let active_fenced = observed.iter().any(|o| {
                o.site == f.active
                    && o.status
                        .as_ref()
                        .is_ok_and(|s| s.role == standby_provider_sdk::Role::Fenced)
            });
            if active_fenced {
                // A switch stopped between fence and promotion: the data is on the fenced
                // primary, and a failover now would skip the catch-up.
                println!("  !! no member accepts writes: {} is fenced and nothing was promoted (a switch stopped before its promotion). Run `standby apply -e {env}`: it lifts the fence, or finishes the switch the topology asks for with a full catch-up.", f.active);
            } else {
                println!("  !! no member accepts writes. Promote one with `standby failover {group} --to SITE -e {env}`.");
            }
            1
        }
        Verdict::Moved { primary, epoch } if primary == f.active => {
            println!("  note:     the members have seen epoch {epoch}, newer than the recorded {} (a switch was attempted and stopped); the next switch goes above it", f.epoch);
            0
        }
        Verdict::Moved { primary, epoch } => {
            println!("  !! the state says {} is primary at epoch {}, but the members say {primary} is, at epoch {epoch}. Run `standby apply -e {env}` to record what the members are.", f.active, f.epoch);
            2
        }
    }
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
        if !a.operator_inputs.is_empty() {
            println!(
                "  with values not in the commit: {}{}",
                a.operator_inputs
                    .iter()
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                a.operator_override
                    .as_ref()
                    .map_or_else(String::new, |r| format!(" (operator override: {r})"))
            );
        }
    }
    if state.failovers.is_empty() {
        println!("No failover groups are recorded in environment {env_name:?} yet. Run standby apply first.");
        return Ok(0);
    }
    let unfinished = unfinished_apply(&state);
    if let Some(group) = &unfinished {
        println!("  !! an apply stopped after it recorded the switch of failover.{group}, before it wrote its outputs: `standby output` may still show the old values. Run `standby apply -e {env_name}`.");
    }
    let registry = super::monitor_cmd::configured_registry(ws)?;
    let rt = runtime()?;
    let monitor = running_monitor(ws, &env_name);
    let mut code = if unfinished.is_some() { 2 } else { 0 };
    for (group, f) in &state.failovers {
        let mut observed = Vec::new();
        println!("failover.{group}");
        println!("  active:   {} (epoch {}, {})", f.active, f.epoch, f.mode);
        if let Some(o) = &f.override_ {
            println!(
                "  override: active is {} by {} ({} at {}); the topology file may say otherwise",
                o.site, o.reason, o.by, o.at
            );
        }
        let members = state.members(f);
        let member = |site: &str| -> Option<(Member, String)> { members.get(site).cloned() };
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
                    let st = rt.block_on(async {
                        tokio::time::timeout(STATUS_PATIENCE, r.status(&m, prim))
                            .await
                            .unwrap_or_else(|_| {
                                Err(standby_provider_sdk::ProviderError::new(
                                    "no answer",
                                    format!("within {STATUS_PATIENCE:?}"),
                                ))
                            })
                    });
                    observed.push(standby_engine::plan::reality::Observed {
                        site: site.clone(),
                        status: match &st {
                            Ok(s) => Ok(s.clone()),
                            Err(e) => Err(e.summary.clone()),
                        },
                    });
                    match st {
                        Ok(s) => format!(
                            "{:<8} healthy={} epoch={} position={} lag={}B/{:.1}s{}",
                            s.role.to_string(),
                            s.healthy,
                            s.epoch,
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
        code = code.max(verdict_lines(group, f, &observed, &env_name));
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
        for c in f
            .history
            .last()
            .map(|h| h.caveats.as_slice())
            .unwrap_or_default()
        {
            println!("  caveat:   {c}");
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
    Ok(code)
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
