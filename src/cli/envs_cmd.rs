//! `standby envs list` and `standby envs diff A B`: environment parity.

use super::args::{EnvArgs, EnvsCommand};
use super::workspace::Workspace;
use super::{runtime, CliError};
use standby_engine::eval::Phase;
use standby_engine::plan::{plan, Plan, PlanMode, PlanOptions};
use std::collections::{BTreeMap, BTreeSet};

/// The environment's plan, and its topology's `must_match` and `may_differ` lists.
fn evaluate(ws: &Workspace, env: &str) -> Result<(Plan, Vec<String>, Vec<String>), CliError> {
    let args = EnvArgs {
        env: Some(env.to_string()),
        vars: vec![],
        var_files: vec![],
    };
    let env_name = ws.env_name(&args)?;
    let mut config = ws.load()?;
    let vars = ws.inputs(&mut config, &env_name, &args, false)?;
    let opts = PlanOptions {
        env: env_name,
        mode: PlanMode::Normal,
        refresh: false,
        targets: vec![],
        replace: vec![],
        phase: Phase::Validate,
        topology_digest: String::new(),
        force: None,
        epoch_floor: Default::default(),
        imports: Vec::new(),
    };
    let registry = ws.registry(&config)?;
    let p = runtime()?
        .block_on(plan(&config, &registry, None, vars, &opts))
        .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
    let list =
        |f: fn(&standby_engine::config::Parity) -> &Vec<(String, standby_engine::diag::Span)>| {
            config
                .root
                .parity
                .as_ref()
                .map(|p| f(p).iter().map(|(s, _)| s.clone()).collect())
                .unwrap_or_default()
        };
    Ok((p, list(|p| &p.must_match), list(|p| &p.may_differ)))
}

/// The failover settings that must agree between environments.
fn group_facts(p: &Plan) -> BTreeMap<String, BTreeMap<&'static str, String>> {
    p.switches
        .iter()
        .map(|s| {
            let mut f = BTreeMap::new();
            f.insert("replication.mode", s.mode.to_string());
            f.insert(
                "replication.max_lag",
                s.max_lag_bytes
                    .map_or("unset".into(), |b| format!("{} bytes", b.bytes())),
            );
            f.insert(
                "rpo",
                s.rpo_seconds.map_or("unset".into(), |v| format!("{v}s")),
            );
            f.insert(
                "rto",
                s.rto_seconds.map_or("unset".into(), |v| format!("{v}s")),
            );
            f.insert("approval", s.approval.to_string());
            f.insert(
                "sites",
                s.members.keys().cloned().collect::<Vec<_>>().join(", "),
            );
            f.insert("verify.checksum", s.checksum.join(", "));
            f.insert(
                "hooks",
                s.hooks
                    .iter()
                    .map(|h| h.when.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            let hc = &s.health_check;
            f.insert("health_check.type", hc.kind.name().to_string());
            let secs = |d: Option<std::time::Duration>| {
                d.map_or_else(
                    || "(default)".to_string(),
                    |d| format!("{}s", d.as_secs_f64()),
                )
            };
            f.insert("health_check.interval", secs(hc.interval));
            f.insert("health_check.timeout", secs(hc.timeout));
            f.insert(
                "health_check.failures",
                hc.failures
                    .map_or_else(|| "(default)".to_string(), |n| n.to_string()),
            );
            (s.group.clone(), f)
        })
        .collect()
}

pub(crate) fn envs(ws: &Workspace, cmd: EnvsCommand) -> Result<i32, CliError> {
    let (a, b) = match cmd {
        EnvsCommand::List => {
            for e in ws.environments() {
                println!("{e}");
            }
            return Ok(0);
        }
        EnvsCommand::Diff { a, b } => (a, b),
    };
    let (pa, must_match, may_differ) = evaluate(ws, &a)?;
    let (pb, _, _) = evaluate(ws, &b)?;
    // Each difference with the address it is about, matched against may_differ.
    let mut diffs: Vec<(String, String)> = Vec::new();
    let addrs = |p: &Plan| {
        p.changes
            .iter()
            .map(|c| c.addr.to_string())
            .collect::<BTreeSet<_>>()
    };
    let (ra, rb) = (addrs(&pa), addrs(&pb));
    for only in ra.difference(&rb) {
        diffs.push((only.clone(), format!("{only}: only in {a}")));
    }
    for only in rb.difference(&ra) {
        diffs.push((only.clone(), format!("{only}: only in {b}")));
    }
    let (ga, gb) = (group_facts(&pa), group_facts(&pb));
    for g in ga.keys().chain(gb.keys()).collect::<BTreeSet<_>>() {
        match (ga.get(g), gb.get(g)) {
            (Some(x), Some(y)) => {
                for (k, va) in x {
                    let vb = y.get(k).cloned().unwrap_or_default();
                    if *va != vb {
                        diffs.push((
                            format!("failover.{g}.{k}"),
                            format!("failover.{g}: {k} is {va} in {a} but {vb} in {b}"),
                        ));
                    }
                }
            }
            (Some(_), None) => diffs.push((
                format!("failover.{g}"),
                format!("failover.{g}: only in {a}"),
            )),
            (None, Some(_)) => diffs.push((
                format!("failover.{g}"),
                format!("failover.{g}: only in {b}"),
            )),
            (None, None) => {}
        }
    }
    for path in &must_match {
        let value = |p: &Plan| -> Option<String> {
            let (addr, attr) = path.rsplit_once('.')?;
            let c = p.changes.iter().find(|c| c.addr.to_string() == addr)?;
            c.after.as_ref()?.get(attr).map(ToString::to_string)
        };
        let (va, vb) = (value(&pa), value(&pb));
        if va != vb {
            // must_match is a promise: may_differ does not excuse it.
            diffs.push((
                String::new(),
                format!(
                    "{path} (must match): {} in {a} but {} in {b}",
                    va.unwrap_or_else(|| "absent".into()),
                    vb.unwrap_or_else(|| "absent".into())
                ),
            ));
        }
    }
    let intended = |key: &str| {
        !key.is_empty()
            && may_differ
                .iter()
                .any(|m| key == m || key.starts_with(&format!("{m}.")))
    };
    let (meant, unmeant): (Vec<_>, Vec<_>) = diffs.into_iter().partition(|(k, _)| intended(k));
    if unmeant.is_empty() {
        println!(
            "Environments {a} and {b} agree: same resources, same failover policy{}{}.",
            if must_match.is_empty() {
                String::new()
            } else {
                format!(
                    ", and the {} must_match value(s) are equal",
                    must_match.len()
                )
            },
            if meant.is_empty() {
                String::new()
            } else {
                format!(
                    ", apart from {} difference(s) the parity block allows",
                    meant.len()
                )
            }
        );
        for (_, d) in &meant {
            println!("  ~ {d} (may differ)");
        }
        return Ok(0);
    }
    println!("Environments {a} and {b} differ:");
    for (_, d) in &unmeant {
        println!("  - {d}");
    }
    for (_, d) in &meant {
        println!("  ~ {d} (may differ)");
    }
    Ok(2)
}
