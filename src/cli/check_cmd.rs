//! `standby check`.

use super::args::{CheckFormat, EnvArgs};
use super::workspace::Workspace;
use super::{runtime, CliError};
use standby_engine::check::{check as run_checks, sarif, Severity};
use standby_engine::eval::Phase;
use standby_engine::plan::{plan, PlanMode, PlanOptions};

pub(crate) fn check(ws: &Workspace, env: &EnvArgs, format: CheckFormat) -> Result<i32, CliError> {
    let env_name = ws.env_name(env)?;
    let mut config = ws.load()?;
    let digest = Workspace::topology_digest(&config);
    let vars = ws.inputs(&mut config, &env_name, env, false)?;
    let state = ws.read_state(ws.backend(&env_name)?.as_ref())?;
    let opts = PlanOptions {
        env: env_name.clone(),
        mode: PlanMode::Normal,
        refresh: false,
        targets: vec![],
        replace: vec![],
        phase: Phase::Plan,
        topology_digest: digest,
        force: None,
        epoch_floor: Default::default(),
        imports: Vec::new(),
    };
    let p = runtime()?
        .block_on(plan(
            &config,
            &ws.registry(&config)?,
            state.as_ref(),
            vars,
            &opts,
        ))
        .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
    let findings =
        run_checks(&mut config, &p).map_err(|d| CliError::Diags(config.sources.clone(), d))?;
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    match format {
        CheckFormat::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&sarif(
                &findings,
                &config.sources,
                &repo_prefix(&config.root_dir),
                browse(&config.root_dir)
                    .as_ref()
                    .map(|(b, c)| (b.as_str(), c.as_str())),
                docs_url()?.as_deref(),
            ))
            .unwrap_or_default()
        ),
        CheckFormat::Json => {
            let list: Vec<_> = findings
                .iter()
                .map(|f| serde_json::json!({ "rule": f.rule, "severity": if f.severity == Severity::Error { "error" } else { "warning" }, "message": f.message, "location": f.span.as_ref().map(|s| config.sources.location(s)) }))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            );
        }
        CheckFormat::Text => {
            for f in &findings {
                let level = if f.severity == Severity::Error {
                    "error"
                } else {
                    "warning"
                };
                println!("{level}[{}]: {}", f.rule, f.message);
                if let Some(s) = &f.span {
                    println!("  --> {}", config.sources.location(s));
                }
            }
            println!(
                "{} finding(s): {errors} error(s), {} warning(s) in environment {env_name:?}.",
                findings.len(),
                findings.len() - errors
            );
        }
    }
    Ok(i32::from(errors > 0))
}

/// The topology directory's path from the root of the git repository that holds it; empty
/// when it is the root or not in a repository.
/// `STANDBY_DOCS_URL`: where the team serves standby's `docs/`, an absolute http(s) URL.
fn docs_url() -> Result<Option<String>, CliError> {
    match std::env::var("STANDBY_DOCS_URL") {
        Ok(u) if u.is_empty() => Ok(None),
        Ok(u)
            if (u.starts_with("https://") || u.starts_with("http://"))
                && !u.contains(char::is_whitespace) =>
        {
            Ok(Some(u))
        }
        Ok(u) => Err(CliError::msg(
            "Invalid STANDBY_DOCS_URL",
            format!(
                "{u:?} is not an absolute http(s) URL, such as https://docs.example.com/standby."
            ),
        )),
        Err(_) => Ok(None),
    }
}

/// The repository's web address and HEAD's commit, for links to policy rules, when the
/// topology is committed as it is.
fn browse(root: &std::path::Path) -> Option<(String, String)> {
    let repo = standby_engine::vcs::Repo::discover(root).ok()?;
    // Line numbers come from the working tree: they match the commit only when the
    // topology has no uncommitted change, so a dirty tree gets no links rather than wrong ones.
    let head = repo.head(root).ok().filter(|h| h.clean)?;
    Some((repo.browse_url()?, head.sha))
}

fn repo_prefix(root: &std::path::Path) -> std::path::PathBuf {
    standby_engine::vcs::Repo::discover(root)
        .ok()
        .and_then(|r| r.relative(root))
        .unwrap_or_default()
}
