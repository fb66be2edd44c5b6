//! The rules an apply passes before anything changes, each refusing with what to do instead:
//! a saved plan still fresh, the state lock for a switch, data loss acknowledged, a protected
//! environment applied from a clean commit on its branch with the values of that commit.

use crate::config::Config;
use crate::plan::{state_digest, Plan};
use crate::state::State;
use standby_provider_sdk::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Why an operation did not run; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{summary}")]
pub struct Refusal {
    /// One line.
    pub summary: String,
    /// What happened and what to do.
    pub detail: String,
}

impl Refusal {
    /// A refusal.
    pub fn new(summary: impl Into<String>, detail: impl Into<String>) -> Refusal {
        Refusal {
            summary: summary.into(),
            detail: detail.into(),
        }
    }
}

/// The plan's hash, which approval files name (`GROUP HASH`).
pub fn plan_hash(plan: &Plan) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(
        serde_json::to_vec(plan).unwrap_or_default(),
    ))
}

/// Refuses a saved plan whose state or topology moved on since it was made.
pub fn fresh(plan: &Plan, state: Option<&State>, topology_digest: &str) -> Result<(), Refusal> {
    let empty = State::new();
    let s = state.unwrap_or(&empty);
    let stale = |why: String| {
        Refusal::new("Saved plan is stale", format!("{why}\nNothing was changed. Run `standby plan --out FILE` again and review the new plan."))
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
    if plan.topology_digest != topology_digest {
        return Err(stale(
            "The topology files changed since the plan was made.".into(),
        ));
    }
    Ok(())
}

/// `--lock=false` is Terraform's, and works here too, except for an apply that touches a
/// failover group: two unlocked applies could both switch it.
pub fn switch_needs_lock(plan: &Plan, locked: bool) -> Result<(), Refusal> {
    match plan.switches.first() {
        Some(sw) if !locked => Err(Refusal::new(
            "A switch needs the state lock",
            format!("This plan changes failover.{}, and two applies without the lock could both switch it. Nothing was changed. Run it again without --lock=false.", sw.group),
        )),
        _ => Ok(()),
    }
}

/// Every switch the plan estimates to lose data is acknowledged (`--accept-data-loss GROUP`).
pub fn data_loss_acknowledged(plan: &Plan, accepted: &BTreeSet<String>) -> Result<(), Refusal> {
    for sw in plan.switches.iter().filter(|s| s.needs_data_loss_ack) {
        if !accepted.contains(&sw.group) {
            return Err(Refusal::new(
                format!("failover.{} needs --accept-data-loss {}", sw.group, sw.group),
                format!("The plan estimates that promoting {} loses data ({}). Nothing was changed. If that is acceptable, run again with --accept-data-loss {}.", sw.to, sw.estimate.as_ref().map_or("amount unknown".to_string(), crate::plan::Estimate::lag_text), sw.group),
            ));
        }
    }
    Ok(())
}

/// A protected environment applies only from a clean tree at a commit on its branch.
pub fn protected(config: &Config, env: &str) -> Result<(), Refusal> {
    let Some(rule) = config.root.environments.get(env).filter(|e| e.protected) else {
        return Ok(());
    };
    let repo = crate::vcs::Repo::discover(&config.root_dir).map_err(|e| {
        Refusal::new(
            format!("Environment {env:?} is protected and needs git"),
            format!("{e}. Protected environments apply only committed topology."),
        )
    })?;
    let head = repo
        .head(&config.root_dir)
        .map_err(|e| Refusal::new("Cannot read the current commit", e.to_string()))?;
    if !head.clean {
        return Err(Refusal::new(
            format!("Environment {env:?} is protected: refusing to apply from a dirty tree"),
            format!("The topology directory has uncommitted changes. Nothing was changed. Commit them, get them reviewed and merged into {}, then apply from there.", rule.branch),
        ));
    }
    let on = repo.on_branch(&head.sha, &rule.branch).map_err(|e| {
        Refusal::new(
            format!("Cannot check branch {}", rule.branch),
            e.to_string(),
        )
    })?;
    if !on {
        return Err(Refusal::new(
            format!("Environment {env:?} is protected: commit {} is not on branch {}", &head.sha[..12], rule.branch),
            format!("Apply {env} only from commits reachable from {}. Nothing was changed. Merge the change first.", rule.branch),
        ));
    }
    Ok(())
}

/// A protected environment applies what its commit says: values from the command line are
/// refused unless the operator overrides, with a reason the history records. `Ok(Some)` is
/// the warning an override must show.
pub fn operator_inputs_allowed(
    config: &Config,
    plan: &Plan,
    reason: Option<&str>,
) -> Result<Option<String>, Refusal> {
    if !config.is_protected(&plan.env) || plan.operator_inputs.is_empty() {
        return Ok(None);
    }
    let names = || plan.operator_inputs.keys().cloned().collect::<Vec<_>>();
    match reason.map(str::trim) {
        Some(r) if !r.is_empty() => Ok(Some(format!(
            "applying values that are not in the commit to protected environment {:?} ({}), as an operator override: {r}",
            plan.env,
            names().join(", ")
        ))),
        _ => Err(Refusal::new(
            format!(
                "Environment {:?} is protected: refusing values that are not in the commit ({})",
                plan.env,
                names().iter().map(|k| format!("var.{k}")).collect::<Vec<_>>().join(", ")
            ),
            format!("A protected environment applies what its commit says. Nothing was changed. Put the values in env/{}.hcl and merge the change, or, in an emergency, pass --operator-override \"REASON\": the history then records the values and the reason.", plan.env),
        )),
    }
}

/// Values given on the command line: `--var NAME=VALUE` and `--var-file FILE`.
#[derive(Debug, Clone, Default)]
pub struct CommandLineInputs {
    /// Each `--var`, as written.
    pub vars: Vec<String>,
    /// Each `--var-file`.
    pub var_files: Vec<PathBuf>,
}

/// The root variables set from outside the environment's own file: every `--var`, and the
/// assignments of every `--var-file` but `env/ENV.hcl` itself as git holds it. A committed
/// `--var-file` is refused too: review reads `env/ENV.hcl`, not the files a command line
/// names, so only that file may change what a protected environment runs. Empty outside
/// protected environments, where `--var` is ordinary use.
pub fn operator_inputs(
    config: &Config,
    env_name: &str,
    given: &CommandLineInputs,
    vars: &BTreeMap<String, Value>,
) -> BTreeMap<String, Value> {
    if !config.is_protected(env_name) {
        return BTreeMap::new();
    }
    let mut names: Vec<String> = given
        .vars
        .iter()
        .filter_map(|v| v.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect();
    let repo = crate::vcs::Repo::discover(&config.root_dir).ok();
    let own_env_file =
        std::fs::canonicalize(config.root_dir.join("env").join(format!("{env_name}.hcl"))).ok();
    for f in &given.var_files {
        let abs = std::fs::canonicalize(f).ok();
        let own = abs.is_some() && abs == own_env_file;
        let committed = repo
            .as_ref()
            .zip(abs.as_ref())
            .is_some_and(|(r, p)| r.committed_unchanged(p));
        if own && committed {
            continue;
        }
        let mut scratch = crate::diag::Sources::default();
        if let Ok(vf) = crate::config::load_var_file(f, &mut scratch) {
            names.extend(vf.values.keys().cloned());
        }
    }
    names
        .into_iter()
        .filter_map(|n| vars.get(&n).map(|v| (n.clone(), v.clone())))
        .collect()
}

/// A monitor fails over on its own, so it runs what the commit says: in a protected
/// environment it refuses values from the command line when it starts.
pub fn monitor_inputs_allowed(
    config: &Config,
    env_name: &str,
    given: &BTreeMap<String, Value>,
) -> Result<(), Refusal> {
    if !config.is_protected(env_name) || given.is_empty() {
        return Ok(());
    }
    Err(Refusal::new(
        format!(
            "Environment {env_name:?} is protected: the monitor refuses values that are not in the commit ({})",
            given.keys().map(|k| format!("var.{k}")).collect::<Vec<_>>().join(", ")
        ),
        format!("A monitor fails over on its own, so it runs what the commit says. Put the values in env/{env_name}.hcl, merge the change, and start the monitor without them."),
    ))
}
