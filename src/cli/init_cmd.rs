//! `standby init`: check that the topology's providers exist and its state backend answers,
//! as `terraform init` prepares a working directory. standby's providers are built in, so
//! nothing is downloaded: Terraform providers come from filesystem mirrors (docs/providers.md).

use super::workspace::Workspace;
use super::CliError;
use standby_engine::addr::Mode;
use standby_engine::config::Module;
use standby_engine::plugins;
use standby_engine::registry::Registry;
use std::collections::{BTreeMap, BTreeSet};

pub(crate) fn init(
    ws: &Workspace,
    upgrade: bool,
    plugin_dirs: &[std::path::PathBuf],
    reconfigure: bool,
) -> Result<i32, CliError> {
    let config = ws.load()?;
    if reconfigure {
        println!("(-reconfigure: standby keeps no backend settings between runs; the backend is read afresh.)");
    }
    println!("Initializing the backend...");
    let envs = {
        let e = ws.environments();
        if e.is_empty() {
            vec!["default".to_string()]
        } else {
            e
        }
    };
    let dot = ws.root.join(".standby");
    std::fs::create_dir_all(&dot)
        .map_err(|e| CliError::msg(format!("Cannot create {}", dot.display()), e.to_string()))?;
    for env in &envs {
        let backend = ws.backend(env)?;
        let kind = backend.describe();
        // Reading proves the backend answers and, for an encrypted state, that the key opens it.
        match ws.read_state(backend.as_ref())? {
            Some(s) => println!("- {env}: state serial {} ({kind})", s.serial),
            None => println!("- {env}: no state yet ({kind})"),
        }
    }
    println!("\nInitializing provider plugins...");
    let registry = Registry::standard();
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut unknown = Vec::new();
    collect_types(&config.root, &registry, &mut used, &mut unknown);
    let err = |e: plugins::PluginsError| CliError::msg(e.summary, e.detail);
    let reqs = plugins::requirements(&config).map_err(err)?;
    let mirrors = plugins::mirrors(&ws.root, plugin_dirs).map_err(err)?;
    let report = plugins::init(&ws.root, &reqs, &mirrors, upgrade).map_err(err)?;
    if upgrade && report.installed.is_empty() {
        println!("(-upgrade: the providers are built into standby v{}; there is nothing newer to fetch.)", env!("CARGO_PKG_VERSION"));
    }
    for i in &report.installed {
        let r = &i.requirement;
        unknown.retain(|t| t.split_once('_').map_or(t.as_str(), |(p, _)| p) != r.local);
        println!(
            "- {}: {} v{}{} from {}",
            r.local,
            r.source,
            i.version,
            if i.locked {
                " (as the lock file selects)"
            } else {
                ""
            },
            i.from.display()
        );
    }
    if !report.installed.is_empty() {
        println!("\nstandby recorded the providers it selected in {}; commit it so that every run uses the same packages.", standby_engine::plugins::LOCK_FILE);
    }
    for (provider, types) in &used {
        println!(
            "- {provider}: built in, v{} ({})",
            env!("CARGO_PKG_VERSION"),
            types.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    if !unknown.is_empty() {
        unknown.sort();
        unknown.dedup();
        return Err(CliError::msg(
            "Unknown resource types",
            format!(
                "No built-in provider manages {}, and no filesystem mirror has a provider for it (searched {}). The built-in providers are: {}; declare others in terraform {{ required_providers {{ ... }} }}.",
                unknown.join(", "),
                mirrors.iter().map(|m| m.path.display().to_string()).collect::<Vec<_>>().join(", "),
                registry.names().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    println!(
        "\nstandby has been successfully initialized!\n\nYou may now begin working with standby. Try running \"standby plan -e {}\" to see\nany changes that are required for your topology.",
        envs[0]
    );
    Ok(0)
}

fn collect_types(
    m: &Module,
    registry: &Registry,
    used: &mut BTreeMap<String, BTreeSet<String>>,
    unknown: &mut Vec<String>,
) {
    for r in m.resources.values() {
        let data = r.addr.mode == Mode::Data;
        match registry.provider_for(&r.addr.type_name, data) {
            Some(p) => {
                used.entry(p.to_string())
                    .or_default()
                    .insert(r.addr.type_name.clone());
            }
            None => unknown.push(r.addr.type_name.clone()),
        }
    }
    for c in m.calls.values() {
        collect_types(&c.module, registry, used, unknown);
    }
}
