//! `standby review`.

use super::args::{EnvArgs, ReviewFormat};
use super::workspace::Workspace;
use super::{runtime, CliError};
use standby_engine::eval::Phase;
use standby_engine::plan::{plan, root_inputs, PlanMode, PlanOptions, VarSource};
use standby_engine::review::{json, markdown, risk_flags, EnvReview, MAX_COMMENT};
use std::path::Path;

pub(crate) fn review(
    ws: &Workspace,
    base: &str,
    head: Option<&str>,
    envs: &[String],
    format: ReviewFormat,
    output: Option<&Path>,
) -> Result<i32, CliError> {
    let base_config = ws.load_rev(base)?;
    let head_config = match head {
        Some(h) => ws.load_rev(h)?,
        None => ws.load()?,
    };
    let changes = standby_engine::config::diff(&base_config, &head_config);
    let registry = ws.registry(&head_config)?;
    let rt = runtime()?;
    let mut reviews = Vec::new();
    for env in envs {
        let args = EnvArgs {
            env: Some(env.clone()),
            vars: vec![],
            var_files: vec![],
        };
        let env_name = ws.env_name(&args)?;
        let mut config = head_config.clone();
        let vars = ws.inputs(&mut config, &env_name, &args, false)?;
        let state = ws.read_state(ws.backend(&env_name)?.as_ref())?;
        let opts = |phase| PlanOptions {
            env: env_name.clone(),
            mode: PlanMode::Normal,
            refresh: false,
            targets: vec![],
            replace: vec![],
            phase,
            topology_digest: String::new(),
            force: None,
            epoch_floor: Default::default(),
            imports: Vec::new(),
        };
        let p = rt
            .block_on(plan(
                &config,
                &registry,
                state.as_ref(),
                vars,
                &opts(Phase::Plan),
            ))
            .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
        // The base's failover settings, evaluated with the same environment inputs.
        // The base's own environment file: a branch that changes env/ENV.hcl changes what
        // the base and the head plan from.
        let mut bc = base_config.clone();
        let mut sources = Vec::new();
        if let Some(mut f) = super::workspace::env_var_file(&mut bc, &env_name)? {
            f.values.retain(|k, _| bc.root.variables.contains_key(k));
            sources.push(VarSource::File(f));
        }
        let base_groups = root_inputs(&bc, &env_name, &sources, true)
            .ok()
            .and_then(|bv| {
                rt.block_on(plan(&bc, &registry, None, bv, &opts(Phase::Validate)))
                    .ok()
            })
            .map(|bp| bp.groups)
            .unwrap_or_default();
        let protected = head_config.is_protected(&env_name);
        // The head's policy files judge the head's plan, as `standby check` would on it.
        let findings = standby_engine::check::check(&mut config, &p)
            .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
        reviews.push(EnvReview {
            findings,
            env: env_name,
            protected,
            plan: p,
            base_groups,
            may_differ: head_config
                .root
                .parity
                .as_ref()
                .map(|p| p.may_differ.iter().map(|(m, _)| m.clone()).collect())
                .unwrap_or_default(),
            has_state: state.is_some(),
        });
    }
    let mut flags = risk_flags(&reviews);
    // The head's own rules judged it: a change to them must be seen, or a branch could weaken
    // the rules that would flag it.
    let (before, after) = (base_config.policy_texts(), head_config.policy_texts());
    let mut edited: Vec<String> = Vec::new();
    for p in before
        .keys()
        .chain(after.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let how = match (before.get(p), after.get(p)) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(_), Some(_)) => "changed",
            (Some(_), None) => "removed",
            _ => "added",
        };
        edited.push(format!("{} {how}", p.display()));
    }
    if !edited.is_empty() {
        flags.insert(
            0,
            standby_engine::review::RiskFlag {
                severity: "high",
                env: "all".into(),
                code: "policy_changed",
                message: format!(
                    "edits the policy rules that judge it ({}); this review's policy findings use the head's rules",
                    edited.join(", ")
                ),
            },
        );
    }
    let head_name = head.unwrap_or("working tree");
    match format {
        ReviewFormat::Json => {
            let text =
                serde_json::to_string_pretty(&json(base, head_name, &changes, &reviews, &flags))
                    .unwrap_or_default();
            match output {
                Some(f) => std::fs::write(f, text).map_err(|e| {
                    CliError::msg(format!("Cannot write {}", f.display()), e.to_string())
                })?,
                None => println!("{text}"),
            }
        }
        ReviewFormat::Markdown => {
            let parts = markdown(base, head_name, &changes, &reviews, &flags, MAX_COMMENT);
            match output {
                Some(f) if parts.len() == 1 => std::fs::write(f, &parts[0]).map_err(|e| {
                    CliError::msg(format!("Cannot write {}", f.display()), e.to_string())
                })?,
                Some(f) => {
                    for (i, p) in parts.iter().enumerate() {
                        let name = f.with_extension(format!("{}.md", i + 1));
                        std::fs::write(&name, p).map_err(|e| {
                            CliError::msg(format!("Cannot write {}", name.display()), e.to_string())
                        })?;
                        println!("{}", name.display());
                    }
                }
                None => {
                    for (i, p) in parts.iter().enumerate() {
                        if i > 0 {
                            println!("\n<!-- standby: next comment -->\n");
                        }
                        print!("{p}");
                    }
                }
            }
        }
    }
    Ok(0)
}
