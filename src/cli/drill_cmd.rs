//! `standby drill`: inject a disaster into a non-production environment while a writer inserts
//! unique rows, let the monitor (or a planned switchover) recover, then check every write and
//! report the timeline against the declared RTO and RPO.

use super::args::{EnvArgs, Scenario};
use super::drill_fault::{signal, Partition, Sig};
use super::drill_load::{connect_rw, writer, DrillMember, Route};
use super::monitor_cmd::{configured_registry, state_and_plan};
use super::workspace::Workspace;
use super::{runtime, CliError};
use standby_engine::drill::timeline as marks;
use standby_engine::drill::{check, Event, Objective, Outcome, Report};
use standby_engine::monitor::Stamped;
use standby_provider_sdk::Role;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// The writer's way to the primary: `--via`, else the group's DNS name, else the members.
fn route(
    via: Option<&str>,
    traffic: &[String],
    state: &standby_engine::state::State,
    members: &[DrillMember],
    primary: &DrillMember,
) -> Result<Route, CliError> {
    let dns = || {
        traffic.iter().find_map(|addr| {
            let (_, st) = state.resources.iter().find(|(a, _)| {
                a.to_string() == *addr && a.resource.resource.type_name == "dns_record"
            })?;
            let v = st.value().deep_unmark().0;
            Some((
                v.get("server")?.as_str()?.to_string(),
                // The name as clients query it, also when written relative to the zone.
                standby_provider_dns::full_name(v.get("name")?.as_str()?, v.get("zone")?.as_str()?),
            ))
        })
    };
    let members = members.to_vec();
    Ok(match via {
        Some("members") => Route::Members(members),
        Some("dns") => {
            let (server, name) = dns().ok_or_else(|| {
                CliError::msg(
                    "--via dns, but the group has no dns_record",
                    "Use --via members, or --via HOST:PORT for a TCP frontend.",
                )
            })?;
            Route::Dns {
                server,
                name,
                members,
            }
        }
        Some(addr) => {
            if addr
                .rsplit_once(':')
                .is_none_or(|(_, p)| p.parse::<u16>().is_err())
            {
                return Err(CliError::msg(
                    format!("Invalid --via {addr:?}"),
                    "Use dns, members, or HOST:PORT of a TCP frontend such as HAProxy's.",
                ));
            }
            Route::Frontend {
                addr: addr.to_string(),
                member: primary.clone(),
            }
        }
        None => match dns() {
            Some((server, name)) => Route::Dns {
                server,
                name,
                members,
            },
            None => Route::Members(members),
        },
    })
}

/// Runs this same binary as a child in the workspace.
fn standby(ws: &Workspace, args: &[String]) -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| "standby".into());
    let mut c = Command::new(exe);
    c.arg("-C").arg(&ws.root);
    if let Some(b) = &ws.backend {
        c.arg("--backend").arg(b);
    }
    c.args(args);
    // The key was taken out of this process's environment so that hooks and servers do not
    // inherit it; the monitor is standby and needs it to read an encrypted state. It gets it
    // through a private file, never through its environment or argv.
    let handoff = key_handoff_path(ws);
    if handoff.exists() {
        c.env("STANDBY_STATE_KEY_FILE", handoff);
    } else if let Some(f) = standby_engine::state::Cipher::captured_file() {
        c.env("STANDBY_STATE_KEY_FILE", f);
    }
    c
}

fn key_handoff_path(ws: &Workspace) -> std::path::PathBuf {
    ws.root
        .join(".standby")
        .join(format!("drill-key.{}", std::process::id()))
}

/// The state key from `STANDBY_STATE_KEY`, in a file only the owner reads, for the drill's
/// child processes; removed when the drill ends.
struct KeyHandoff(Option<std::path::PathBuf>);

impl KeyHandoff {
    fn new(ws: &Workspace) -> Result<KeyHandoff, CliError> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let Some(key) = standby_engine::state::Cipher::captured_env() else {
            return Ok(KeyHandoff(None));
        };
        let path = key_handoff_path(ws);
        // A drill stopped by a signal cannot remove its file: remove those of drills gone.
        if let Ok(rd) = std::fs::read_dir(ws.root.join(".standby")) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let gone = name
                    .strip_prefix("drill-key.")
                    .and_then(|pid| pid.parse::<u32>().ok())
                    .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
                if gone {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let err = |e: std::io::Error| {
            CliError::msg(format!("Cannot write {}", path.display()), e.to_string())
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let _ = std::fs::remove_file(&path);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(err)?;
        f.write_all(key.as_bytes()).map_err(err)?;
        Ok(KeyHandoff(Some(path)))
    }
}

impl Drop for KeyHandoff {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn env_flags(env_name: &str, env: &EnvArgs) -> Vec<String> {
    let mut v = vec!["-e".to_string(), env_name.to_string()];
    for x in &env.vars {
        v.extend(["--var".to_string(), x.clone()]);
    }
    for f in &env.var_files {
        v.extend(["--var-file".to_string(), f.display().to_string()]);
    }
    v
}

/// The monitor's events so far (`standby monitor --events FILE`).
fn monitor_events(file: &Path) -> Vec<Stamped> {
    marks::parse_events(&std::fs::read_to_string(file).unwrap_or_default())
}

struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `standby drill GROUP -e ENV --scenario NAME`.
#[allow(clippy::too_many_lines)] // reason: one drill, read top to bottom as its timeline
pub(crate) fn drill(
    ws: &Workspace,
    group: &str,
    env: &EnvArgs,
    scenario: Scenario,
    i_know: bool,
    via: Option<&str>,
    out: Option<&Path>,
) -> Result<i32, CliError> {
    let env_name = ws.env_name(env)?;
    let config = ws.load()?;
    if config
        .root
        .environments
        .get(&env_name)
        .is_some_and(|e| e.protected)
        && !i_know
    {
        return Err(CliError::msg(
            format!("Refusing to drill the protected environment {env_name:?}"),
            "Drills inject real faults. Run them against staging, or pass --i-know if this is intended.",
        ));
    }
    let (state, plan) = state_and_plan(ws, env, &env_name)?;
    let _key = KeyHandoff::new(ws)?;
    let (Some(f), Some(g)) = (state.failovers.get(group), plan.groups.get(group)) else {
        return Err(CliError::msg(
            format!("No failover group {group:?} in environment {env_name:?}"),
            "Apply the topology first; `standby status` lists the groups.",
        ));
    };
    let members = state.members(f);
    let from = f.active.clone();
    let Some((active, provider_name)) = members.get(&from).cloned() else {
        return Err(CliError::msg(
            format!(
                "The active member of group {group:?} ({from}, {}) is not in the state",
                f.members.get(&from).map_or("no address".to_string(), ToString::to_string)
            ),
            "It was removed, perhaps with `standby state rm`. Bring it back with `standby import` or `standby apply` before drilling.",
        ));
    };
    let registry = configured_registry(ws)?;
    let Some(provider) = registry.get(&provider_name).cloned() else {
        return Err(CliError::msg(
            format!("No provider {provider_name:?} for {from}"),
            "The state names a provider this standby does not have.",
        ));
    };
    let Some(t) = provider.drill_target() else {
        return Err(CliError::msg(
            format!(
                "{from} is a {} of provider {provider_name}, which cannot be drilled",
                active.type_name
            ),
            "Drills inject faults into a member's processes and write through it under load: its provider must have the drill capability (postgres_server members have it).",
        ));
    };
    let dms: BTreeMap<String, DrillMember> = members
        .iter()
        .map(|(site, (m, _))| DrillMember::new(m.clone(), t).map(|d| (site.clone(), d)))
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::msg("Cannot drill the group", e))?;
    let Some(primary) = dms.get(&from).cloned() else {
        return Err(CliError::msg(
            "Cannot drill the group",
            format!("{from} has no endpoint"),
        ));
    };
    let Some(other) = dms.keys().find(|s| **s != from).cloned() else {
        return Err(CliError::msg(
            "The group has no standby",
            "Add a second member.",
        ));
    };
    let rt = runtime()?;
    let run = uuid::Uuid::new_v4().to_string();
    rt.block_on(t.prepare(&primary.member)).map_err(|e| {
        CliError::msg(
            format!("Cannot prepare the drill table on {from}"),
            format!("{}: {}", e.summary, e.detail),
        )
    })?;
    let started = OffsetDateTime::now_utc();
    let dir = out.map_or_else(
        || {
            ws.root.join(".standby").join("drills").join(format!(
                "{env_name}-{group}-{}-{}",
                scenario.name(),
                started.unix_timestamp()
            ))
        },
        Path::to_path_buf,
    );
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::msg(format!("Cannot create {}", dir.display()), e.to_string()))?;
    let flags = env_flags(&env_name, env);
    let mon_log = dir.join("monitor.log");
    let mon_events = dir.join("monitor.events.jsonl");
    let mut monitor = Guard(None);
    if scenario != Scenario::Switchover {
        let mut args = vec!["monitor".to_string()];
        args.extend(flags.iter().cloned());
        args.extend(["--for".into(), "300s".into()]);
        args.extend(["--events".into(), mon_events.display().to_string()]);
        let file = std::fs::File::create(&mon_log)
            .map_err(|e| CliError::msg("Cannot write the monitor log", e.to_string()))?;
        monitor.0 = Some(
            standby(ws, &args)
                .stdout(Stdio::null())
                .stderr(file)
                .spawn()
                .map_err(|e| CliError::msg("Cannot start the monitor", e.to_string()))?,
        );
        let t = Instant::now();
        while !monitor_events(&mon_events)
            .iter()
            .any(|e| marks::watching(&e.event))
        {
            if t.elapsed() > Duration::from_secs(30) {
                return Err(CliError::msg(
                    "The monitor did not start",
                    std::fs::read_to_string(&mon_log).unwrap_or_default(),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // The writer goes the way clients do: through the traffic path.
    let all: Vec<DrillMember> = dms.values().cloned().collect();
    let route = route(via, &g.traffic, &state, &all, &primary)?;
    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(Vec::new()));
    let w = writer(
        route.clone(),
        provider.clone(),
        run.clone(),
        stop.clone(),
        log.clone(),
    );
    std::thread::sleep(Duration::from_millis(1000));
    let pids = t
        .processes(&primary.member)
        .map_err(|e| CliError::msg(e.summary, e.detail))?;
    let fault = Instant::now();
    let fault_wall = OffsetDateTime::now_utc();
    let mut timeline = vec![];
    let mut switch_child = Guard(None);
    let mut partition = None;
    let mut frozen = scenario == Scenario::HangPrimary;
    let what = match scenario {
        Scenario::KillPrimary => {
            signal(&pids[..1], Sig::Kill);
            "SIGKILL to the primary's postmaster".to_string()
        }
        Scenario::StopPrimary => {
            signal(&pids[..1], Sig::Int);
            "fast shutdown (SIGINT) of the primary".to_string()
        }
        Scenario::HangPrimary => {
            signal(&pids, Sig::Stop);
            "SIGSTOP to the primary's postmaster and backends".to_string()
        }
        Scenario::PartitionPrimary => match Partition::cut(&primary.host, primary.port) {
            Ok(p) => {
                let what = format!(
                    "network partition of {}:{}: {}",
                    primary.host,
                    primary.port,
                    p.describe()
                );
                partition = Some(p);
                what
            }
            Err(why) => {
                // The documented substitute: a frozen machine is unreachable too.
                signal(&pids, Sig::Stop);
                frozen = true;
                format!("SIGSTOP to the primary's processes, standing in for a partition ({why})")
            }
        },
        Scenario::Switchover => {
            let mut args = vec![
                "switchover".to_string(),
                group.to_string(),
                "--to".into(),
                other.clone(),
            ];
            args.extend(flags.iter().cloned());
            args.extend([
                "--auto-approve".into(),
                "--approve".into(),
                group.to_string(),
            ]);
            switch_child.0 = Some(
                standby(ws, &args)
                    .stdout(
                        std::fs::File::create(dir.join("switchover.log"))
                            .map_err(|e| CliError::msg("Cannot write the log", e.to_string()))?,
                    )
                    .stderr(Stdio::null())
                    .spawn()
                    .map_err(|e| CliError::msg("Cannot start the switchover", e.to_string()))?,
            );
            "planned switchover under load".to_string()
        }
    };
    timeline.push(Event {
        name: "fault injected".into(),
        at: 0.0,
        detail: what,
    });
    // Wait for the first write on another member, and for the switch to finish.
    let limit = Duration::from_secs_f64(g.rto_seconds.unwrap_or(30.0).max(10.0) * 2.0);
    let old = primary.addr();
    let mut first_write: Option<f64> = None;
    let mut switch_done: Option<f64> = None;
    let mut woke = false;
    // When the traffic path itself moved, seen from the client's side.
    let mut moved: Option<(f64, String)> = None;
    while fault.elapsed() < limit {
        if moved.is_none() {
            if let Some(answer) = rt.block_on(route.answer()) {
                if answer != primary.host {
                    moved = Some((fault.elapsed().as_secs_f64(), answer));
                }
            }
        }
        if let Some(c) = switch_child.0.as_mut() {
            if switch_done.is_none() && c.try_wait().ok().flatten().is_some() {
                switch_done = Some(fault.elapsed().as_secs_f64());
            }
        }
        if first_write.is_none() {
            first_write = log.lock().ok().and_then(|l| {
                l.iter()
                    .find(|a| {
                        a.at > fault && a.outcome == Outcome::Acknowledged && *a.server != *old
                    })
                    .map(|a| (a.at - fault).as_secs_f64())
            });
        }
        if first_write.is_some() && !woke {
            // The frozen or cut-off machine comes back once the others moved on: whatever
            // the fence left of it must not take writes.
            if frozen {
                signal(&pids, Sig::Cont);
            }
            partition = None;
            woke = true;
        }
        let finished = match scenario {
            Scenario::Switchover => switch_done.is_some(),
            _ => monitor_events(&mon_events)
                .iter()
                .any(|e| marks::finished(&e.event)),
        };
        if finished && first_write.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if frozen && !woke {
        signal(&pids, Sig::Cont);
    }
    drop(partition);
    let switched_to = ws
        .read_state(ws.backend(&env_name)?.as_ref())?
        .unwrap_or_default()
        .failovers
        .get(group)
        .map(|f| f.active.clone())
        .filter(|a| *a != from);
    std::thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::SeqCst);
    let _ = w.join();
    drop(monitor);
    let events = monitor_events(&mon_events);
    timeline.extend(marks::monitor_marks(&events, group, fault_wall));
    // Fence and promote from the switch's own record.
    let after = ws
        .read_state(ws.backend(&env_name)?.as_ref())?
        .unwrap_or_default();
    let record = after
        .failovers
        .get(group)
        .and_then(|f| f.history.last())
        .filter(|_| switched_to.is_some())
        .cloned();
    let mut lsn_gap = None;
    if let Some(r) = &record {
        let (marks, gap) = marks::switch_marks(r, fault_wall);
        timeline.extend(marks);
        lsn_gap = gap;
    }
    let traffic = match (&route, &moved) {
        // The poll runs every few milliseconds; a write through the name that came first
        // proves the answer had already moved.
        (Route::Dns { name, .. }, Some((t, answer))) => Some((
            first_write.map_or(*t, |w| w.min(*t)),
            format!("{name} answers {answer}"),
        )),
        (Route::Frontend { addr, .. }, _) => first_write.map(|t| {
            (
                t,
                format!(
                    "{addr} led to the new primary: the writer's first acknowledged insert there"
                ),
            )
        }),
        _ => if scenario == Scenario::Switchover {
            switch_done
        } else {
            marks::first(&events, fault_wall, marks::finished)
        }
        .map(|t| {
            (
                t,
                "the switch's apply, traffic dependants included, finished".to_string(),
            )
        }),
    };
    if let Some((t, detail)) = traffic {
        timeline.push(Event {
            name: "traffic switched".into(),
            at: t,
            detail,
        });
    }
    if let Some(t) = first_write {
        timeline.push(Event {
            name: "first successful write".into(),
            at: t,
            detail: "writer".into(),
        });
    }
    timeline.sort_by(|a, b| a.at.total_cmp(&b.at));
    // Rejoin: the old primary should now be a standby; one apply converges it if not.
    let now_members = after
        .failovers
        .get(group)
        .map(|f| after.members(f))
        .unwrap_or_default();
    let rejoined = |members: &BTreeMap<String, (standby_provider_sdk::Member, String)>| {
        let (m, p) = members.get(&from)?;
        let r = registry.get(p)?.replication()?;
        let s = rt.block_on(r.status(m, None)).ok()?;
        Some(s.healthy && s.role == Role::Standby)
    };
    let mut rejoin = (
        rejoined(&now_members) == Some(true),
        "rejoined during the switch".to_string(),
    );
    if !rejoin.0 && switched_to.is_some() {
        let mut args = vec!["apply".to_string()];
        args.extend(flags.iter().cloned());
        args.push("--auto-approve".into());
        let ok = standby(ws, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        rejoin = (
            ok && rejoined(&now_members) == Some(true),
            format!(
                "rejoined by `standby apply` after the drill (apply {})",
                if ok { "succeeded" } else { "failed" }
            ),
        );
    }
    // Checksums: the switch's own when it could compare, otherwise the rejoined old primary
    // against the new one once it has replayed.
    let mut checksums = record
        .as_ref()
        .map(|r| r.verification.clone())
        .unwrap_or_default();
    if checksums.is_empty() && rejoin.0 && !g.checksum.is_empty() {
        if let Some(((old, p), (new, _))) = switched_to
            .as_ref()
            .and_then(|to| Some((now_members.get(&from)?, now_members.get(to)?)))
        {
            if let Some(r) = registry.get(p).and_then(|p| p.replication()) {
                for _ in 0..20 {
                    let (a, b) = rt.block_on(async {
                        (
                            r.checksum(old, &g.checksum).await,
                            r.checksum(new, &g.checksum).await,
                        )
                    });
                    let (Ok(a), Ok(b)) = (a, b) else { break };
                    checksums = g
                        .checksum
                        .iter()
                        .map(|t| {
                            (
                                t.clone(),
                                (
                                    a.get(t).cloned().unwrap_or_default(),
                                    b.get(t).cloned().unwrap_or_default(),
                                ),
                            )
                        })
                        .collect();
                    if a == b {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
            }
        }
    }
    // Read everything back from whoever takes writes now.
    let present: BTreeSet<i64> = rt
        .block_on(async {
            let mut start = 0;
            let (session, m) = connect_rw(t, &all, &mut start).await?;
            drop(session);
            t.read_back(&m.member, &run).await.ok()
        })
        .ok_or_else(|| {
            CliError::msg(
                "Cannot read the drill's rows back",
                "No member accepts writes after the drill: the group did not recover.",
            )
        })?;
    let attempts = log
        .lock()
        .map(|l| {
            l.iter()
                .map(|a| (a.id, a.outcome))
                .collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default();
    let writes = check(&attempts, &present);
    let lost_window = log.lock().ok().and_then(|l| {
        l.iter()
            .filter(|a| writes.lost.binary_search(&a.id).is_ok())
            .map(|a| {
                fault
                    .saturating_duration_since(a.at)
                    .as_secs_f64()
                    .max(0.001)
            })
            .reduce(f64::max)
    });
    let mut report = Report {
        format_version: 1,
        scenario: scenario.name().into(),
        group: format!("failover.{group}"),
        env: env_name.clone(),
        started: started
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        from: from.clone(),
        to: switched_to,
        verdict: String::new(),
        reasons: vec![],
        timeline,
        rto: Objective::new(g.rto_seconds, first_write),
        rpo: Objective::new(
            Some(g.rpo_seconds.unwrap_or(0.0)),
            Some(lost_window.unwrap_or(0.0)),
        ),
        lsn_gap_bytes: lsn_gap,
        writes,
        checksums,
        rejoin,
        traffic_path: route.describe(),
    };
    report.decide();
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    for (name, text) in [
        ("report.json", json),
        ("report.md", report.markdown()),
        ("timeline.svg", report.svg()),
    ] {
        std::fs::write(dir.join(name), text)
            .map_err(|e| CliError::msg(format!("Cannot write {name}"), e.to_string()))?;
    }
    println!("{}", report.markdown());
    println!("Reports written to {}", dir.display());
    Ok(i32::from(!report.passed()))
}
