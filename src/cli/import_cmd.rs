//! `standby import ADDR ID`: adopt an existing object into the state, as `terraform import`.
//! The configuration must declare the instance; nothing but the state changes.

use super::args::{EnvArgs, LockArgs, PlanArgs};
use super::plan_cmd::{options, prepare};
use super::workspace::{state_error, Workspace};
use super::{runtime, CliError};
use standby_engine::addr::Target;
use standby_engine::eval::Phase;

pub(crate) fn import(
    ws: &Workspace,
    addr: &str,
    id: &str,
    env: &EnvArgs,
    lock: &LockArgs,
) -> Result<i32, CliError> {
    let inst = super::state_cmd::parse_instance(addr)?;
    let (env_name, config, digest, vars) = prepare(ws, env, false)?;
    let declared = config
        .module(&inst.resource.module.path())
        .is_some_and(|m| m.resources.contains_key(&inst.resource.resource));
    if !declared {
        return Err(CliError::msg(
            format!("Configuration for import target does not exist: {addr}"),
            format!("The topology declares no {}. Before importing, write its resource block, so standby knows how to manage the object.", inst.resource),
        ));
    }
    let backend = ws.backend(&env_name)?;
    let _guard = ws.lock(backend.as_ref(), "import", lock)?;
    let mut state = ws.read_state(backend.as_ref())?.unwrap_or_default();
    if state.resources.contains_key(&inst) {
        return Err(CliError::msg(
            "Resource already managed by standby",
            format!("{addr} is in the state already. To import another object there, remove it first with standby state rm {addr}."),
        ));
    }
    let mut opts = options(&env_name, &PlanArgs::without_refresh(), Phase::Plan, digest)?;
    opts.imports = vec![(inst.clone(), id.to_string())];
    opts.targets = vec![addr
        .parse::<Target>()
        .map_err(|e| CliError::msg("Invalid address", e.to_string()))?];
    println!("{addr}: Importing from ID {id:?}...");
    let registry = ws.registry(&config)?;
    let mut plan = runtime()?
        .block_on(standby_engine::plan::plan(
            &config,
            &registry,
            Some(&state),
            vars,
            &opts,
        ))
        .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
    // The state of a protected environment changes only from a clean commit on its branch,
    // with the commit's values: an import is no exception.
    standby_engine::operation::protected(&config, &env_name).map_err(super::plan_cmd::refused)?;
    plan.operator_inputs =
        super::plan_cmd::operator_inputs(&config, &env_name, env, &plan.variables);
    standby_engine::operation::operator_inputs_allowed(&config, &plan, None)
        .map_err(super::plan_cmd::refused)?;
    let Some((change, before)) = plan
        .changes
        .iter()
        .find(|c| c.addr == inst && c.importing.is_some())
        .and_then(|c| c.before.as_ref().map(|b| (c, b)))
    else {
        return Err(CliError::msg(
            format!("Cannot import {addr}"),
            "The instance was not planned: check that its count or for_each yields this key.",
        ));
    };
    state.resources.insert(
        inst.clone(),
        standby_engine::apply::record_instance(change, before, &change.private),
    );
    state.serial += 1;
    backend.write(&state).map_err(state_error)?;
    println!("{addr}: Import prepared!\n\nImport successful!\n\n{addr} is now in the state of environment {env_name:?} and is managed by standby from\nnow on. Run standby plan -e {env_name} to see where the object differs from its configuration.");
    Ok(0)
}
