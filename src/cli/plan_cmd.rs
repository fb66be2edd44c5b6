//! `validate`, `plan`, `apply`, `destroy`, `refresh` and `graph`.

use super::args::{EnvArgs, GateArgs, GraphFormat, LockArgs, PlanArgs};
use super::workspace::{state_error, Workspace};
use super::{progress, report, runtime, CliError};
use standby_engine::addr::Target;
use standby_engine::apply::{apply as run_apply, ApplyOptions};
use standby_engine::config::Config;
use standby_engine::eval::Phase;
use standby_engine::plan::{
    execution_graph_text, plan as make_plan, plan_json, render_plan, state_digest, Plan, PlanMode,
    PlanOptions,
};
use standby_engine::registry::Registry;
use standby_engine::state::State;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn targets(list: &[String]) -> Result<Vec<Target>, CliError> {
    list.iter()
        .map(|t| {
            t.parse::<Target>()
                .map_err(|e| CliError::msg("Invalid address", e.to_string()))
        })
        .collect()
}

pub(crate) fn options(
    env: &str,
    p: &PlanArgs,
    phase: Phase,
    digest: String,
) -> Result<PlanOptions, CliError> {
    let mode = match (p.destroy, p.refresh_only) {
        (true, true) => {
            return Err(CliError::msg(
                "Conflicting options",
                "--destroy and --refresh-only cannot be combined.",
            ))
        }
        (true, false) => PlanMode::Destroy,
        (false, true) => PlanMode::RefreshOnly,
        (false, false) => PlanMode::Normal,
    };
    Ok(PlanOptions {
        env: env.to_string(),
        mode,
        refresh: p.refresh || p.refresh_only,
        targets: targets(&p.targets)?,
        replace: targets(&p.replace)?,
        phase,
        topology_digest: digest,
        force: None,
        epoch_floor: Default::default(),
        imports: Vec::new(),
    })
}

/// Loads everything a plan needs.
pub(crate) fn prepare(
    ws: &Workspace,
    env: &EnvArgs,
    allow_missing: bool,
) -> Result<
    (
        String,
        Config,
        String,
        std::collections::BTreeMap<String, standby_provider_sdk::Value>,
    ),
    CliError,
> {
    let env_name = ws.env_name(env)?;
    let mut config = ws.load()?;
    let digest = Workspace::topology_digest(&config);
    let vars = ws.inputs(&mut config, &env_name, env, allow_missing)?;
    Ok((env_name, config, digest, vars))
}

pub(crate) fn validate(ws: &Workspace, env: &EnvArgs, json: bool) -> Result<i32, CliError> {
    let (env_name, config, _, vars) = prepare(ws, env, true)?;
    let registry = Registry::standard();
    let opts = options(
        &env_name,
        &PlanArgs {
            targets: vec![],
            replace: vec![],
            destroy: false,
            refresh_only: false,
            refresh: false,
        },
        Phase::Validate,
        String::new(),
    )?;
    runtime()?
        .block_on(make_plan(&config, &registry, None, vars, &opts))
        .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
    if !json {
        println!("Success! The topology is valid.");
    }
    Ok(0)
}

#[allow(clippy::too_many_arguments)] // Mirrors the plan command's flags.
pub(crate) fn plan(
    ws: &Workspace,
    env: &EnvArgs,
    p: &PlanArgs,
    lock: &LockArgs,
    out: Option<&Path>,
    json: bool,
    detailed: bool,
    revs: (Option<&str>, Option<&str>),
    force: Option<standby_engine::plan::ForcedSwitch>,
) -> Result<i32, CliError> {
    let (env_name, config, digest, vars) = match revs.1 {
        None => prepare(ws, env, false)?,
        Some(head) => {
            let env_name = ws.env_name(env)?;
            let mut config = ws.load_rev(head)?;
            let digest = Workspace::topology_digest(&config);
            let vars = ws.inputs(&mut config, &env_name, env, false)?;
            (env_name, config, digest, vars)
        }
    };
    if let Some(base) = revs.0 {
        let base_config = ws.load_rev(base)?;
        let changes = standby_engine::config::diff(&base_config, &config);
        if !json {
            if changes.is_empty() {
                println!("Topology changes from {base}: none.\n");
            } else {
                println!(
                    "Topology changes from {base} to {}:\n{}",
                    revs.1.unwrap_or("the working tree"),
                    standby_engine::config::render_diff(&changes)
                );
            }
        }
    }
    let backend = ws.backend(&env_name)?;
    let _guard = ws.lock(backend.as_ref(), "plan", lock)?;
    let state = ws.read_state(backend.as_ref())?;
    let registry = Registry::standard();
    let mut opts = options(&env_name, p, Phase::Plan, digest)?;
    opts.force = force;
    let mut plan = runtime()?
        .block_on(make_plan(&config, &registry, state.as_ref(), vars, &opts))
        .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
    plan.operator_inputs = operator_inputs(&config, &env_name, env, &plan.variables);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&plan_json(&plan, Some(&config))).unwrap_or_default()
        );
    } else {
        print!("{}", render_plan(&plan, ws.color));
    }
    if !json
        && plan
            .switches
            .iter()
            .any(|s| s.steps.contains(&standby_engine::plan::StepKind::Approval))
    {
        println!(
            "\nPlan hash: {} (approval files name it as `GROUP HASH`)",
            plan_hash(&plan)
        );
    }
    if let Some(out) = out {
        super::plan_file::save(ws, &plan, out)?;
        if !json {
            println!(
                "\nSaved the plan to: {}\nTo perform exactly these actions, run: standby apply {}",
                out.display(),
                out.display()
            );
        }
    }
    Ok(if detailed && plan.has_changes() { 2 } else { 0 })
}

/// Refuses a saved plan whose state or topology moved on since it was made.
fn check_fresh(plan: &Plan, state: Option<&State>, digest: &str) -> Result<(), CliError> {
    let empty = State::new();
    let s = state.unwrap_or(&empty);
    let stale = |why: String| {
        CliError::msg("Saved plan is stale", format!("{why}\nNothing was changed. Run `standby plan --out FILE` again and review the new plan."))
    };
    if !plan.prior.lineage.is_empty() && state.is_some() && plan.prior.lineage != s.lineage {
        return Err(stale(format!(
            "The plan was made for state lineage {}, but the state now has lineage {}.",
            plan.prior.lineage, s.lineage
        )));
    }
    if plan.prior.serial != s.serial || plan.prior.digest != state_digest(s) {
        return Err(stale(format!(
            "The state changed since the plan was made (serial {} then, {} now).",
            plan.prior.serial, s.serial
        )));
    }
    if plan.topology_digest != digest {
        return Err(stale(
            "The topology files changed since the plan was made.".into(),
        ));
    }
    Ok(())
}

fn confirm(plan: &Plan, input: bool) -> Result<(), CliError> {
    if !input {
        return Err(CliError::msg(
            "Refusing to apply without confirmation",
            "--input=false forbids asking for it. Nothing was changed. Re-run with --auto-approve, or review a saved plan (standby plan --out FILE) and apply it with standby apply FILE.",
        ));
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::msg(
            "Refusing to apply without confirmation",
            "Standard input is not a terminal, so standby cannot ask. Nothing was changed. Re-run with --auto-approve, or review a saved plan (standby plan --out FILE) and apply it with standby apply FILE.",
        ));
    }
    let what = if plan.mode == PlanMode::Destroy {
        "destroy all resources in this environment"
    } else {
        "perform these actions"
    };
    // The environment is named, as Terraform names a workspace other than the default.
    print!(
        "\nDo you want to {what} in environment {:?}?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ",
        plan.env
    );
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::msg("Cannot read the answer", e.to_string()))?;
    if line.trim() != "yes" {
        println!("\nApply cancelled.");
        return Err(CliError::Exit(1));
    }
    Ok(())
}

/// How an apply runs.
pub(crate) struct Run {
    pub auto_approve: bool,
    pub parallelism: usize,
    pub gates: GateArgs,
    pub force: Option<standby_engine::plan::ForcedSwitch>,
    /// Set by an elected monitor: its lease guards fencing and promotion.
    pub guard: Option<Arc<dyn standby_engine::apply::PromotionGuard>>,
    /// A monitor acting on its own: its command-line values were checked when it started.
    pub acting_monitor: bool,
}

pub(crate) fn apply(
    ws: &Workspace,
    plan_file: Option<&Path>,
    env: &EnvArgs,
    p: &PlanArgs,
    lock: &LockArgs,
    run: &Run,
) -> Result<i32, CliError> {
    let auto_approve = run.auto_approve;
    match standby_engine::apply::armed_failpoints() {
        Err(e) => return Err(CliError::msg("STANDBY_FAILPOINT is not valid", e)),
        Ok(armed) if !armed.is_empty() => eprintln!(
            "STANDBY_FAILPOINT is armed ({}): a switch in this apply fails or freezes there on purpose.",
            armed.join(", ")
        ),
        Ok(_) => {}
    }
    let rt = runtime()?;
    let registry = Registry::standard();
    let (saved, config, env_name, fresh) = match plan_file {
        Some(file) => {
            saved_plan_options(env, p)?;
            let plan = super::plan_file::read(ws, file)?;
            if env.env.as_deref().is_some_and(|e| e != plan.env) {
                return Err(CliError::msg(
                    "Environment mismatch",
                    format!(
                        "The saved plan is for environment {:?}; drop -e or pass -e {}.",
                        plan.env, plan.env
                    ),
                ));
            }
            let config = ws.load()?;
            let env_name = plan.env.clone();
            (Some(plan), config, env_name, None)
        }
        None => {
            let (env_name, config, digest, vars) = prepare(ws, env, false)?;
            (None, config, env_name, Some((digest, vars)))
        }
    };
    let backend = ws.backend(&env_name)?;
    let operation = if p.destroy { "destroy" } else { "apply" };
    let _guard = ws.lock(backend.as_ref(), operation, lock)?;
    let state = ws.read_state(backend.as_ref())?;
    let guard = match &run.guard {
        Some(g) => Some(g.clone()),
        None => super::monitor_lease::operator_guard(&run.gates.etcd, &env_name, rt)?,
    };
    let plan = match (saved, fresh) {
        (Some(plan), _) => {
            check_fresh(&plan, state.as_ref(), &Workspace::topology_digest(&config))?;
            switch_needs_lock(&plan, lock)?;
            plan
        }
        (None, fresh) => {
            let (digest, vars) = fresh.unwrap_or_default();
            let mut opts = options(&env_name, p, Phase::Plan, digest)?;
            opts.force = run.force.clone();
            if let Some(g) = &guard {
                for group in config.root.failovers.keys() {
                    if let Some(e) = rt.block_on(g.claimed_epoch(group)) {
                        opts.epoch_floor.insert(group.clone(), e);
                    }
                }
            }
            let mut plan = rt
                .block_on(make_plan(&config, &registry, state.as_ref(), vars, &opts))
                .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
            plan.operator_inputs = operator_inputs(&config, &env_name, env, &plan.variables);
            // Refused before the plan is shown: it would not be applied.
            switch_needs_lock(&plan, lock)?;
            print!("{}", render_plan(&plan, ws.color));
            if let Some(f) = &run.force {
                if !plan.switches.iter().any(|s| s.group == f.group) {
                    println!(
                        "\nfailover.{} is already active on {}; nothing to switch.",
                        f.group, f.to
                    );
                }
            }
            if !plan.has_changes() {
                return Ok(0);
            }
            if !auto_approve {
                confirm(&plan, ws.input)?;
            }
            plan
        }
    };
    execute(
        ws,
        rt,
        &registry,
        &config,
        &plan,
        backend.as_ref(),
        state.unwrap_or_default(),
        run,
        guard,
    )
}

/// `--lock=false` is Terraform's, and works here too, except for an apply that touches a
/// failover group: two unlocked applies could both switch it.
fn switch_needs_lock(plan: &Plan, lock: &LockArgs) -> Result<(), CliError> {
    match plan.switches.first() {
        Some(sw) if !lock.lock => Err(CliError::msg(
            "A switch needs the state lock",
            format!("This plan changes failover.{}, and two applies without the lock could both switch it. Nothing was changed. Run it again without --lock=false.", sw.group),
        )),
        _ => Ok(()),
    }
}

#[allow(clippy::too_many_arguments)] // The pieces of one apply; grouping them would only rename them.
fn execute(
    ws: &Workspace,
    rt: &tokio::runtime::Runtime,
    registry: &Registry,
    config: &Config,
    plan: &Plan,
    backend: &dyn standby_engine::state::Backend,
    state: State,
    run: &Run,
    guard: Option<Arc<dyn standby_engine::apply::PromotionGuard>>,
) -> Result<i32, CliError> {
    for sw in plan.switches.iter().filter(|s| s.needs_data_loss_ack) {
        if !run.gates.accept_data_loss.contains(&sw.group) {
            return Err(CliError::msg(
                format!("failover.{} needs --accept-data-loss {}", sw.group, sw.group),
                format!("The plan estimates that promoting {} loses data ({}). Nothing was changed. If that is acceptable, run again with --accept-data-loss {}.", sw.to, sw.estimate.as_ref().map_or("amount unknown".to_string(), standby_engine::plan::Estimate::lag_text), sw.group),
            ));
        }
    }
    protected(config, &plan.env)?;
    // A monitor's values were checked when it started (see `monitor_inputs_allowed`): an
    // automatic failover must not stop here.
    if !run.acting_monitor {
        operator_inputs_allowed(config, plan, run.gates.operator_override.as_deref())?;
    }
    let total = plan
        .changes
        .iter()
        .filter(|c| c.action != standby_engine::plan::Action::NoOp)
        .count()
        + plan.switches.iter().map(|s| s.steps.len()).sum::<usize>();
    let progress = progress::Progress::new(total);
    let approvals = approvals(ws, plan, &run.gates, &progress)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    rt.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
            eprintln!("\nInterrupt received: no new actions will start. Waiting for running actions to finish and saving the state. Press Ctrl-C again to abort at once.");
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("Aborted. Every action that finished is already recorded in the state journal.");
                std::process::exit(130);
            }
        }
    });
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let shown = rt.spawn(progress::show(rx, total, progress, plan.env.clone()));
    let commit = standby_engine::vcs::Repo::discover(&config.root_dir)
        .ok()
        .and_then(|r| r.head(&config.root_dir).ok());
    let opts = ApplyOptions {
        commit,
        parallelism: run.parallelism,
        stop,
        events: Some(tx),
        approvals,
        accept_data_loss: run.gates.accept_data_loss.iter().cloned().collect(),
        guard,
        operator_override: run.gates.operator_override.clone(),
    };
    let result = rt.block_on(run_apply(config, registry, plan, backend, state, opts));
    let _ = rt.block_on(shown);
    let report = result.map_err(|e| match e {
        standby_engine::apply::ApplyError::State(s) => state_error(s),
        other => CliError::msg("Apply failed", other.to_string()),
    })?;
    let (add, change, destroy) = report.counts();
    let mut failed = !report.failed.is_empty();
    if failed {
        let diags: Vec<_> = report
            .failed
            .iter()
            .map(|f| {
                standby_engine::diag::Diagnostic::bare(
                    format!("{}: {}", f.addr, f.summary),
                    f.detail.clone(),
                )
            })
            .collect();
        eprint!("{}", report::render(&Default::default(), &diags, ws.color));
        for (addr, culprit) in &report.skipped {
            eprintln!("Skipped {addr}: it depends on {culprit}, which failed.");
        }
    }
    for c in &report.compensations {
        eprintln!("Compensation: {c}");
    }
    for s in &report.switched {
        println!("Switched {s}");
    }
    for s in &report.recorded {
        println!("Recorded {s}");
    }
    if report.interrupted {
        failed = true;
        eprintln!(
            "Apply interrupted: {} action(s) were not started. Run standby apply again to finish.",
            report.not_started.len()
        );
    }
    let verb = if plan.mode == PlanMode::Destroy {
        "Destroy"
    } else {
        "Apply"
    };
    if failed {
        println!("\n{verb} incomplete. Resources: {add} added, {change} changed, {destroy} destroyed. Run standby apply again after fixing the errors; it continues from here.");
    } else if plan.mode == PlanMode::RefreshOnly {
        println!(
            "\nRefresh complete: {} change(s) made outside standby are now recorded in the state.",
            plan.drift.len()
        );
    } else if !report.awaiting_approval.is_empty() {
        println!(
            "\n{verb} stopped at an approval gate. Resources: {add} added, {change} changed, {destroy} destroyed."
        );
    } else {
        let imported = plan
            .changes
            .iter()
            .filter(|c| c.importing.is_some())
            .count();
        let imported = if imported > 0 {
            format!("{imported} imported, ")
        } else {
            String::new()
        };
        println!(
            "\n{verb} complete! Resources: {imported}{add} added, {change} changed, {destroy} destroyed."
        );
    }
    if !report.state.outputs.is_empty() && plan.mode == PlanMode::Normal {
        println!("\nOutputs:\n");
        for (k, o) in &report.state.outputs {
            let v = if o.sensitive {
                "(sensitive value)".to_string()
            } else {
                standby_provider_sdk::Value::from_json(&o.value).to_string()
            };
            println!("{k} = {v}");
        }
    }
    if !report.caveats.is_empty() {
        println!(
            "\n{}",
            if failed {
                "The switch was recorded, but the apply failed (exit 1); its caveats:"
            } else {
                "The switch completed with caveats:"
            }
        );
        for c in &report.caveats {
            println!("  ! {c}");
        }
        if !failed && report.awaiting_approval.is_empty() {
            println!("Exit code 5: check each caveat before trusting the new primary.");
            return Ok(5);
        }
    }
    if !failed && !report.awaiting_approval.is_empty() {
        println!(
            "\nAwaiting approval: {}. Everything before the gate was applied; the switch has not started. Approve it with {} (or approval file lines: {}) and run apply again.",
            report.awaiting_approval.iter().map(|g| format!("failover.{g}")).collect::<Vec<_>>().join(", "),
            report.awaiting_approval.iter().map(|g| format!("--approve {g}")).collect::<Vec<_>>().join(" "),
            report.awaiting_approval.iter().map(|g| format!("`{g} {}`", plan_hash(plan))).collect::<Vec<_>>().join(", ")
        );
        return Ok(4);
    }
    Ok(i32::from(failed))
}

/// The plan's hash, which approval files name.
pub(crate) fn plan_hash(plan: &Plan) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(
        serde_json::to_vec(plan).unwrap_or_default(),
    ))
}

fn approvals(
    ws: &Workspace,
    plan: &Plan,
    gates: &GateArgs,
    progress: &progress::Progress,
) -> Result<standby_engine::apply::Approvals, CliError> {
    let mut file = Vec::new();
    if let Some(f) = &gates.approval_file {
        let text = std::fs::read_to_string(f).map_err(|e| {
            CliError::msg(
                format!("Cannot read the approval file {}", f.display()),
                e.to_string(),
            )
        })?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some(g), Some(h)) => file.push((g.to_string(), h.to_string())),
                _ => {
                    return Err(CliError::msg(
                        "Invalid approval file",
                        format!("{line:?} is not a `GROUP PLAN-HASH` line"),
                    ))
                }
            }
        }
    }
    let color = ws.color;
    let env = plan.env.clone();
    let progress = progress.clone();
    let prompt: Option<standby_engine::apply::Prompt> = if std::io::stdin().is_terminal() {
        Some(Arc::new(move |sw: &standby_engine::plan::SwitchPlan| {
            let what = format!(
                "switch of failover.{} from {} to {} in environment {env:?}",
                sw.group,
                sw.from.as_deref().unwrap_or("-"),
                sw.to
            );
            // The progress bar stays off the screen while the question waits for its answer.
            progress.ask(|| {
                eprint!(
                    "\n{}\n  Approve the {what}? Only 'yes' will be accepted.\n  Enter a value: ",
                    if color {
                        "\x1b[1mApproval gate\x1b[0m"
                    } else {
                        "Approval gate"
                    }
                );
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).is_ok() && line.trim() == "yes"
            })
        }))
    } else {
        None
    };
    Ok(standby_engine::apply::Approvals {
        groups: gates.approve.iter().cloned().collect(),
        file,
        plan_hash: plan_hash(plan),
        prompt,
    })
}

pub(crate) fn graph(
    ws: &Workspace,
    env: &EnvArgs,
    format: GraphFormat,
    with_plan: bool,
) -> Result<i32, CliError> {
    let mermaid = matches!(format, GraphFormat::Mermaid);
    let registry = Registry::standard();
    if !with_plan {
        let config = ws.load()?;
        print!(
            "{}",
            standby_engine::plan::config_graph_text(&config, &registry, mermaid)
                .map_err(|d| CliError::Diags(config.sources.clone(), d))?
        );
        return Ok(0);
    }
    let (env_name, config, digest, vars) = prepare(ws, env, false)?;
    let state = ws.read_state(ws.backend(&env_name)?.as_ref())?;
    let opts = options(
        &env_name,
        &PlanArgs {
            targets: vec![],
            replace: vec![],
            destroy: false,
            refresh_only: false,
            refresh: false,
        },
        Phase::Plan,
        digest,
    )?;
    let plan = runtime()?
        .block_on(make_plan(&config, &registry, state.as_ref(), vars, &opts))
        .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
    print!("{}", execution_graph_text(&plan, mermaid));
    Ok(0)
}

/// A saved plan fixed its variables and what it plans: options that would change either are
/// refused, as Terraform refuses them, instead of being ignored.
fn saved_plan_options(env: &EnvArgs, p: &PlanArgs) -> Result<(), CliError> {
    if !env.vars.is_empty() || !env.var_files.is_empty() {
        return Err(CliError::msg(
            "Can't set variables when applying a saved plan",
            "The --var and --var-file options cannot be used when applying a saved plan file, because a saved plan includes the variable values that were set when it was created. Make a new plan with them instead.",
        ));
    }
    let shaping: Vec<&str> = [
        (!p.targets.is_empty(), "--target"),
        (!p.replace.is_empty(), "--replace"),
        (p.destroy, "--destroy"),
        (p.refresh_only, "--refresh-only"),
        (!p.refresh, "--refresh=false"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    if !shaping.is_empty() {
        return Err(CliError::msg(
            format!("Can't use {} when applying a saved plan", shaping.join(", ")),
            "These options shape a plan, and a saved plan is already made. Pass them to standby plan --out FILE instead.",
        ));
    }
    Ok(())
}

/// A protected environment applies what its commit says: values from the command line are
/// refused unless the operator overrides, with a reason the history records.
pub(crate) fn operator_inputs_allowed(
    config: &Config,
    plan: &Plan,
    reason: Option<&str>,
) -> Result<(), CliError> {
    let protected = config
        .root
        .environments
        .get(&plan.env)
        .is_some_and(|e| e.protected);
    if !protected || plan.operator_inputs.is_empty() {
        return Ok(());
    }
    match reason.map(str::trim) {
        Some(r) if !r.is_empty() => {
            eprintln!(
                "Warning: applying values that are not in the commit to protected environment {:?} ({}), as an operator override: {r}",
                plan.env,
                plan.operator_inputs.keys().cloned().collect::<Vec<_>>().join(", ")
            );
            Ok(())
        }
        _ => Err(CliError::msg(
            format!(
                "Environment {:?} is protected: refusing values that are not in the commit ({})",
                plan.env,
                plan.operator_inputs
                    .keys()
                    .map(|k| format!("var.{k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!("A protected environment applies what its commit says. Nothing was changed. Put the values in env/{}.hcl and merge the change, or, in an emergency, pass --operator-override \"REASON\": the history then records the values and the reason.", plan.env),
        )),
    }
}

/// A monitor runs what the commit says: in a protected environment it refuses, at start,
/// values from the command line, so that its failovers never carry them.
pub(crate) fn monitor_inputs_allowed(
    ws: &Workspace,
    env_name: &str,
    env: &EnvArgs,
) -> Result<(), CliError> {
    let mut config = ws.load()?;
    if !config
        .root
        .environments
        .get(env_name)
        .is_some_and(|e| e.protected)
    {
        return Ok(());
    }
    let vars = ws.inputs(&mut config, env_name, env, true)?;
    let given = operator_inputs(&config, env_name, env, &vars);
    if given.is_empty() {
        return Ok(());
    }
    Err(CliError::msg(
        format!(
            "Environment {env_name:?} is protected: the monitor refuses values that are not in the commit ({})",
            given.keys().map(|k| format!("var.{k}")).collect::<Vec<_>>().join(", ")
        ),
        format!("A monitor fails over on its own, so it runs what the commit says. Put the values in env/{env_name}.hcl, merge the change, and start the monitor without them."),
    ))
}

/// The root variables `env` sets from outside the environment's own file: every `--var`,
/// and the assignments of every `--var-file` but `env/ENV.hcl` itself as git holds it. A
/// committed `--var-file` is refused too: review reads `env/ENV.hcl`, not the files a command
/// line names, so only that file may change what a protected environment runs.
pub(crate) fn operator_inputs(
    config: &Config,
    env_name: &str,
    env: &EnvArgs,
    vars: &std::collections::BTreeMap<String, standby_provider_sdk::Value>,
) -> std::collections::BTreeMap<String, standby_provider_sdk::Value> {
    // Elsewhere --var is ordinary use, not worth a line in every history entry.
    if !config
        .root
        .environments
        .get(env_name)
        .is_some_and(|e| e.protected)
    {
        return Default::default();
    }
    let mut names: Vec<String> = env
        .vars
        .iter()
        .filter_map(|v| v.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect();
    let repo = standby_engine::vcs::Repo::discover(&config.root_dir).ok();
    let own_env_file =
        std::fs::canonicalize(config.root_dir.join("env").join(format!("{env_name}.hcl"))).ok();
    for f in &env.var_files {
        let abs = std::fs::canonicalize(f).ok();
        let own = abs.is_some() && abs == own_env_file;
        let committed = repo
            .as_ref()
            .zip(abs.as_ref())
            .is_some_and(|(r, p)| r.committed_unchanged(p));
        if own && committed {
            continue;
        }
        let mut scratch = standby_engine::diag::Sources::default();
        if let Ok(vf) = standby_engine::config::load_var_file(f, &mut scratch) {
            names.extend(vf.values.keys().cloned());
        }
    }
    names
        .into_iter()
        .filter_map(|n| vars.get(&n).map(|v| (n.clone(), v.clone())))
        .collect()
}

/// A protected environment applies only from a clean tree at a commit on its branch.
pub(crate) fn protected(config: &Config, env: &str) -> Result<(), CliError> {
    let Some(rule) = config.root.environments.get(env).filter(|e| e.protected) else {
        return Ok(());
    };
    let repo = standby_engine::vcs::Repo::discover(&config.root_dir).map_err(|e| {
        CliError::msg(
            format!("Environment {env:?} is protected and needs git"),
            format!("{e}. Protected environments apply only committed topology."),
        )
    })?;
    let head = repo
        .head(&config.root_dir)
        .map_err(|e| CliError::msg("Cannot read the current commit", e.to_string()))?;
    if !head.clean {
        return Err(CliError::msg(
            format!("Environment {env:?} is protected: refusing to apply from a dirty tree"),
            format!("The topology directory has uncommitted changes. Nothing was changed. Commit them, get them reviewed and merged into {}, then apply from there.", rule.branch),
        ));
    }
    let on = repo.on_branch(&head.sha, &rule.branch).map_err(|e| {
        CliError::msg(
            format!("Cannot check branch {}", rule.branch),
            e.to_string(),
        )
    })?;
    if !on {
        return Err(CliError::msg(
            format!("Environment {env:?} is protected: commit {} is not on branch {}", &head.sha[..12], rule.branch),
            format!("Apply {env} only from commits reachable from {}. Nothing was changed. Merge the change first.", rule.branch),
        ));
    }
    Ok(())
}
