//! `validate`, `plan`, `apply`, `destroy`, `refresh` and `graph`.

use super::args::{EnvArgs, GateArgs, GraphFormat, LockArgs, PlanArgs};
use super::workspace::{op_error, Workspace};
use super::{runtime, CliError};
use standby_engine::addr::Target;
use standby_engine::config::Config;
use standby_engine::eval::Phase;
use standby_engine::operation::{self, Gates};
use standby_engine::plan::{
    execution_graph_text, plan as make_plan, plan_json, render_plan, PlanMode, PlanOptions,
};
use std::path::Path;
use std::sync::Arc;

fn locking(lock: &LockArgs) -> operation::Locking {
    operation::Locking {
        enabled: lock.lock,
        timeout: lock.lock_timeout,
    }
}

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

/// Validates; returns the providers' warnings, with the sources they point into.
pub(crate) fn validate(
    ws: &Workspace,
    env: &EnvArgs,
) -> Result<
    (
        standby_engine::diag::Sources,
        Vec<standby_engine::diag::Diagnostic>,
    ),
    CliError,
> {
    let (env_name, config, _, vars) = prepare(ws, env, true)?;
    let registry = ws.registry(&config)?;
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
    let plan = runtime()?
        .block_on(make_plan(&config, &registry, None, vars, &opts))
        .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
    Ok((config.sources, plan.warnings))
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
    let (_guard, state) =
        operation::lock_and_read(backend.as_ref(), "plan", locking(lock)).map_err(op_error)?;
    let registry = ws.registry(&config)?;
    let mut opts = options(&env_name, p, Phase::Plan, digest)?;
    opts.force = force;
    let mut plan = runtime()?
        .block_on(make_plan(&config, &registry, state.as_ref(), vars, &opts))
        .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
    plan.operator_inputs = operator_inputs(&config, &env_name, env, &plan.variables);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&plan_json(&plan, Some((&config, &registry))))
                .unwrap_or_default()
        );
    } else {
        print!("{}", render_plan(&plan, ws.color));
        eprint!(
            "{}",
            super::report::render_warnings(&config.sources, &plan.warnings, ws.color)
        );
    }
    if !json
        && plan
            .switches
            .iter()
            .any(|s| s.steps.contains(&standby_engine::plan::StepKind::Approval))
    {
        println!(
            "\nPlan hash: {} (approval files name it as `GROUP HASH`)",
            operation::plan_hash(&plan)
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
    match standby_engine::apply::armed_failpoints() {
        Err(e) => return Err(CliError::msg("STANDBY_FAILPOINT is not valid", e)),
        Ok(armed) if !armed.is_empty() => eprintln!(
            "STANDBY_FAILPOINT is armed ({}): a switch in this apply fails or freezes there on purpose.",
            armed.join(", ")
        ),
        Ok(_) => {}
    }
    let rt = runtime()?;
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
    let registry = ws.registry(&config)?;
    let backend = ws.backend(&env_name)?;
    let guard = match &run.guard {
        Some(g) => Some(g.clone()),
        None => super::monitor_lease::operator_guard(&run.gates.etcd, &env_name, rt)?,
    };
    let source = match (saved, fresh) {
        (Some(plan), _) => operation::Source::Saved {
            plan: Box::new(plan),
            topology_digest: Workspace::topology_digest(&config),
        },
        (None, fresh) => {
            let (digest, vars) = fresh.unwrap_or_default();
            let mut options = options(&env_name, p, Phase::Plan, digest)?;
            options.force = run.force.clone();
            operation::Source::Fresh {
                vars,
                options,
                given: operation::CommandLineInputs {
                    vars: env.vars.clone(),
                    var_files: env.var_files.clone(),
                },
            }
        }
    };
    let gates = Gates {
        accept_data_loss: run.gates.accept_data_loss.iter().cloned().collect(),
        operator_override: run.gates.operator_override.clone(),
        // A monitor's values were checked when it started (see `monitor_inputs_allowed`): an
        // automatic failover must not stop here.
        acting_monitor: run.acting_monitor,
    };
    let commit = standby_engine::vcs::Repo::discover(&config.root_dir)
        .ok()
        .and_then(|r| r.head(&config.root_dir).ok());
    let op = operation::Run {
        config: &config,
        registry: &registry,
        backend: backend.as_ref(),
        operation: if p.destroy { "destroy" } else { "apply" },
        locking: locking(lock),
        source,
        gates: &gates,
        confirm: !run.auto_approve,
        parallelism: run.parallelism,
        commit,
        guard,
    };
    let mut view = super::apply_view::ApplyView::new(rt, &run.gates, run.force.as_ref(), ws)
        .with_sources(config.sources.clone());
    let result = rt.block_on(operation::run(op, &mut view));
    view.done();
    match result {
        Ok(operation::Outcome::NothingToDo(_)) => Ok(0),
        Ok(operation::Outcome::Applied {
            plan,
            report,
            verdict,
        }) => Ok(super::apply_view::finished(
            &plan, &report, verdict, ws.color,
        )),
        Err(operation::OpError::Plan(d)) => Err(CliError::Diags(config.sources.clone(), d)),
        Err(operation::OpError::Cancelled) => Err(CliError::Exit(1)),
        Err(e) => Err(op_error(e)),
    }
}

pub(crate) fn graph(
    ws: &Workspace,
    env: &EnvArgs,
    format: GraphFormat,
    with_plan: bool,
) -> Result<i32, CliError> {
    let mermaid = matches!(format, GraphFormat::Mermaid);
    if !with_plan {
        let config = ws.load()?;
        let registry = ws.registry(&config)?;
        print!(
            "{}",
            standby_engine::plan::config_graph_text(&config, &registry, mermaid)
                .map_err(|d| CliError::Diags(config.sources.clone(), d))?
        );
        return Ok(0);
    }
    let (env_name, config, digest, vars) = prepare(ws, env, false)?;
    let registry = ws.registry(&config)?;
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

/// The values `env` gives from outside the environment's own file (see
/// `operation::operator_inputs`).
pub(crate) fn operator_inputs(
    config: &Config,
    env_name: &str,
    env: &EnvArgs,
    vars: &std::collections::BTreeMap<String, standby_provider_sdk::Value>,
) -> std::collections::BTreeMap<String, standby_provider_sdk::Value> {
    let given = operation::CommandLineInputs {
        vars: env.vars.clone(),
        var_files: env.var_files.clone(),
    };
    operation::operator_inputs(config, env_name, &given, vars)
}

/// A monitor runs what the commit says: in a protected environment it refuses, at start,
/// values from the command line, so that its failovers never carry them.
pub(crate) fn monitor_inputs_allowed(
    ws: &Workspace,
    env_name: &str,
    env: &EnvArgs,
) -> Result<(), CliError> {
    let mut config = ws.load()?;
    if !config.is_protected(env_name) {
        return Ok(());
    }
    let vars = ws.inputs(&mut config, env_name, env, true)?;
    let given = operator_inputs(&config, env_name, env, &vars);
    operation::monitor_inputs_allowed(&config, env_name, &given).map_err(refused)
}

pub(crate) fn refused(r: operation::Refusal) -> CliError {
    CliError::msg(r.summary, r.detail)
}
