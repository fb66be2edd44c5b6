//! External providers of a topology: which ones it needs (`required_providers`, or implied by a
//! resource type's prefix as in Terraform), `standby init` installing them from a filesystem
//! mirror and pinning them in `.standby.lock.hcl`, and every later run checking the installed
//! package against the lock file before starting it.

use crate::config::{Config, Module};
use crate::registry::Registry;
use standby_provider_plugin::install::{self, InstallError, Mirror, Source};
use standby_provider_plugin::lockfile::{LockFile, Locked, FILE};
use standby_provider_plugin::version::{Constraints, Version};
pub use standby_provider_plugin::LogSink;
use standby_provider_plugin::PluginProvider;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The lock file's name.
pub const LOCK_FILE: &str = FILE;

/// One external provider the topology needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The name resources use (`null` for `null_resource`).
    pub local: String,
    /// Where it comes from.
    pub source: Source,
    /// Every module's constraints, joined.
    pub constraints: String,
    /// Only implied by a resource type's prefix: no `required_providers` names it.
    pub implied: bool,
}

/// What went wrong with an external provider.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{summary}")]
pub struct PluginsError {
    /// One line.
    pub summary: String,
    /// What to do.
    pub detail: String,
}

fn fail(summary: impl Into<String>, detail: impl Into<String>) -> PluginsError {
    PluginsError {
        summary: summary.into(),
        detail: detail.into(),
    }
}

type Collected = BTreeMap<String, (String, Vec<String>, bool)>;

fn collect(m: &Module, builtin: &Registry, out: &mut Collected) -> Result<(), PluginsError> {
    for (local, r) in &m.required_providers {
        let e = out
            .entry(local.clone())
            .or_insert_with(|| (r.source.clone(), Vec::new(), false));
        // A declaration anywhere makes it explicit.
        if e.2 {
            *e = (r.source.clone(), Vec::new(), false);
        }
        // Local names are global in standby (Terraform scopes them to a module): one name,
        // one provider.
        let same = |a: &str, b: &str| match (Source::parse(a), Source::parse(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        if !same(&e.0, &r.source) {
            return Err(fail(
                format!("Provider {local:?} is required with two sources"),
                format!("{:?} and {:?}. standby's provider names are shared by every module; give one of them another local name in required_providers.", e.0, r.source),
            ));
        }
        e.1.extend(r.version.clone());
    }
    // A resource type whose provider nobody declared implies hashicorp/PREFIX, as in Terraform.
    for addr in m.resources.keys() {
        let prefix = addr
            .type_name
            .split_once('_')
            .map_or(addr.type_name.as_str(), |(p, _)| p);
        let data = addr.mode == crate::addr::Mode::Data;
        if builtin.provider_for(&addr.type_name, data).is_none() && !out.contains_key(prefix) {
            out.insert(
                prefix.to_string(),
                (format!("hashicorp/{prefix}"), Vec::new(), true),
            );
        }
    }
    for c in m.calls.values() {
        collect(&c.module, builtin, out)?;
    }
    Ok(())
}

/// The external providers `config` needs; local names of built-in providers stay built in.
pub fn requirements(config: &Config) -> Result<Vec<Requirement>, PluginsError> {
    let builtin = Registry::standard();
    let mut all = BTreeMap::new();
    collect(&config.root, &builtin, &mut all)?;
    let mut out = Vec::new();
    for (local, (source, versions, implied)) in all {
        if builtin.get(&local).is_some() {
            continue;
        }
        let source = Source::parse(&source)
            .map_err(|e| fail(format!("Invalid source for provider {local:?}"), e))?;
        let constraints = versions.join(", ");
        Constraints::parse(&constraints).map_err(|e| {
            fail(
                format!("Invalid version constraint for provider {local:?}"),
                e,
            )
        })?;
        out.push(Requirement {
            local,
            source,
            constraints,
            implied,
        });
    }
    Ok(out)
}

/// The CLI configuration file: `STANDBY_CLI_CONFIG_FILE`, Terraform's `TF_CLI_CONFIG_FILE`,
/// else `~/.terraformrc`. As in Terraform, a file that does not exist is no configuration.
pub fn cli_config_file() -> Option<PathBuf> {
    std::env::var_os("STANDBY_CLI_CONFIG_FILE")
        .or_else(|| std::env::var_os("TF_CLI_CONFIG_FILE"))
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(std::env::var_os("HOME")?).join(".terraformrc")))
        .filter(|f| f.exists())
}

/// Where `standby init` looks: `-plugin-dir`s alone when given, else the CLI configuration's
/// filesystem mirrors when it has a `provider_installation` block, else Terraform's implied
/// local directories.
pub fn mirrors(root: &Path, plugin_dirs: &[PathBuf]) -> Result<Vec<Mirror>, PluginsError> {
    let configured = match cli_config_file() {
        Some(f) if plugin_dirs.is_empty() => install::configured_mirrors(&f)
            .map_err(|e| fail("Cannot read the CLI configuration file", e))?,
        _ => None,
    };
    Ok(install::search_dirs(
        root,
        plugin_dirs,
        configured.as_deref(),
    ))
}

/// One provider `standby init` installed.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The requirement.
    pub requirement: Requirement,
    /// The version selected.
    pub version: Version,
    /// The mirror package it came from.
    pub from: PathBuf,
    /// Whether the lock file already selected it.
    pub locked: bool,
}

fn install_error(r: &Requirement, e: InstallError) -> PluginsError {
    match e {
        InstallError::NotFound(m) => fail(
            format!(
                "No version of {} for provider {:?} matches {:?}",
                r.source,
                r.local,
                if r.constraints.is_empty() { "any version" } else { &r.constraints }
            ),
            format!(
                "Searched {}{}. Put the package in a filesystem mirror as HOSTNAME/NAMESPACE/TYPE/VERSION/{}/terraform-provider-TYPE_*, and pass -plugin-dir DIR or set provider_installation {{ filesystem_mirror {{ path = DIR }} }} in the CLI configuration.",
                m.searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
                if m.seen.is_empty() { String::new() } else { format!(" (found {}, which the constraints exclude)", m.seen.join(", ")) },
                install::platform()
            ),
        ),
        InstallError::Io { path, detail } => fail(format!("Cannot install {}", r.source), format!("{}: {detail}", path.display())),
        InstallError::Archive { path, error } => fail(
            format!("Cannot unpack {}", r.source),
            format!("{}: {error}. Nothing was installed; get the archive again from its source.", path.display()),
        ),
    }
}

/// What `standby init` did.
#[derive(Debug, Clone, Default)]
pub struct InitReport {
    /// Every provider installed.
    pub installed: Vec<Installed>,
    /// Providers only implied by a resource type that no mirror has: unknown resource types.
    pub unknown: Vec<Requirement>,
}

/// `standby init`: selects, installs and locks every external provider. A version the lock
/// file selects is kept while the constraints allow it, unless `upgrade`; its package must
/// match the locked hashes.
pub fn init(
    root: &Path,
    reqs: &[Requirement],
    mirrors: &[Mirror],
    upgrade: bool,
) -> Result<InitReport, PluginsError> {
    let mut lock = LockFile::read(root).map_err(|e| fail(format!("Cannot read {FILE}"), e))?;
    let mut out = InitReport::default();
    for r in reqs {
        let constraints = Constraints::parse(&r.constraints)
            .map_err(|e| fail("Invalid version constraint", e))?;
        let key = r.source.to_string();
        let locked = lock.providers.get(&key).cloned();
        let pinned = locked
            .as_ref()
            .filter(|_| !upgrade)
            .and_then(|l| Version::parse(&l.version).ok())
            .filter(|v| constraints.allows(v));
        let want = match &pinned {
            Some(v) => {
                Constraints::parse(&format!("= {v}")).map_err(|e| fail("Invalid version", e))?
            }
            None => constraints.clone(),
        };
        let pkg = match install::find(mirrors, &r.source, &want) {
            Ok(p) => p,
            Err(InstallError::NotFound(m)) if pinned.is_some() => {
                let v = pinned.as_ref().map(ToString::to_string).unwrap_or_default();
                return Err(fail(
                    format!("{FILE} selects {} {v}, which no mirror has", r.source),
                    format!("Searched {}. Put that version in a mirror, or run `standby init -upgrade` to select another one the constraints allow.", m.searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")),
                ));
            }
            Err(InstallError::NotFound(_)) if r.implied => {
                out.unknown.push(r.clone());
                continue;
            }
            Err(e) => return Err(install_error(r, e)),
        };
        let mut staged = install::stage(root, &pkg).map_err(|e| install_error(r, e))?;
        let hash = install::h1(&staged.dir).map_err(|e| install_error(r, e))?;
        // As Terraform: a package matches the lock by its h1: hash, or an archive by its zh:.
        let ours: Vec<String> = std::iter::once(hash).chain(staged.zh.clone()).collect();
        let mut hashes = match locked.as_ref().filter(|_| pinned.is_some()) {
            Some(l) if !ours.iter().any(|h| l.hashes.contains(h)) => {
                return Err(fail(
                    format!("The package of {} {} does not match {FILE}", r.source, pkg.version),
                    format!("{} hashes to {}, which the lock file does not list ({}). Someone changed the package since it was locked; if you trust it, run `standby init -upgrade`.", pkg.dir.display(), ours.join(" and "), l.hashes.join(", ")),
                ));
            }
            Some(l) => l.hashes.clone(),
            None => Vec::new(),
        };
        for h in ours {
            if !hashes.contains(&h) {
                hashes.push(h);
            }
        }
        hashes.sort();
        install::install(root, &r.source, &pkg.version, &mut staged)
            .map_err(|e| install_error(r, e))?;
        lock.providers.insert(
            key,
            Locked {
                version: pkg.version.to_string(),
                constraints: Some(r.constraints.clone()).filter(|c| !c.is_empty()),
                hashes,
            },
        );
        out.installed.push(Installed {
            requirement: r.clone(),
            version: pkg.version.clone(),
            from: pkg.dir,
            locked: pinned.is_some(),
        });
    }
    lock.providers.retain(|k, _| {
        out.installed
            .iter()
            .any(|i| i.requirement.source.to_string() == *k)
    });
    // A topology with only built-in providers gets no lock file, as Terraform writes none
    // without providers.
    if !lock.providers.is_empty() || root.join(FILE).exists() {
        lock.write(root)
            .map_err(|e| fail(format!("Cannot write {FILE}"), e))?;
    }
    Ok(out)
}

/// The installed program of `r`, checked against the lock file.
fn verified(root: &Path, lock: &LockFile, r: &Requirement) -> Result<PathBuf, PluginsError> {
    let init = "Run `standby init` to install it.";
    let Some(l) = lock.providers.get(&r.source.to_string()) else {
        return Err(fail(
            format!("Provider {} is not installed", r.source),
            format!("{FILE} does not list it (a package installed without the lock file is not trusted). {init}"),
        ));
    };
    let version = Version::parse(&l.version).map_err(|e| fail(format!("{FILE} is invalid"), e))?;
    let constraints =
        Constraints::parse(&r.constraints).map_err(|e| fail("Invalid version constraint", e))?;
    if !constraints.allows(&version) {
        return Err(fail(
            format!(
                "{FILE} selects {} {version}, which {:?} does not allow",
                r.source, r.constraints
            ),
            "Run `standby init -upgrade` to select a version the constraints allow, or change the constraint.",
        ));
    }
    let dir = install::installed_dir(root, &r.source, &version);
    let exe = install::executable(&dir, &r.source).ok_or_else(|| {
        fail(
            format!(
                "Provider {} {version} is not installed in {}",
                r.source,
                dir.display()
            ),
            init,
        )
    })?;
    let hash = install::h1(&dir)
        .map_err(|e| fail(format!("Cannot read {}", dir.display()), e.to_string()))?;
    if !l.hashes.contains(&hash) {
        return Err(fail(
            format!("The installed package of {} {version} does not match {FILE}", r.source),
            format!("{} hashes to {hash}, not to any of {}: the installed package or the lock file changed since `standby init`, and standby refuses to run it. Run `standby init` to install the locked package again; if the lock file is what changed, check who changed it.", dir.display(), l.hashes.join(", ")),
        ));
    }
    Ok(exe)
}

/// The built-in providers and the topology's external ones (`reqs`, from [`requirements`]),
/// each checked against the lock file and started.
pub async fn registry(
    config: &Config,
    reqs: &[Requirement],
    root: &Path,
    sink: LogSink,
) -> Result<Registry, PluginsError> {
    let mut registry = Registry::standard();
    if reqs.is_empty() {
        return Ok(registry);
    }
    let lock = LockFile::read(root).map_err(|e| fail(format!("Cannot read {FILE}"), e))?;
    for r in reqs {
        // A type no provider offers is the plan's located "unknown resource type" error,
        // with its suggestions, unless `standby init` found a provider for it.
        if r.implied && !lock.providers.contains_key(&r.source.to_string()) {
            continue;
        }
        let exe = verified(root, &lock, r)?;
        // One process per configuration: the default one, and each `alias`.
        let aliases = config
            .root
            .providers
            .keys()
            .filter(|k| k.split_once('.').is_some_and(|(n, _)| n == r.local));
        for name in std::iter::once(&r.local).chain(aliases) {
            // On a runtime worker, where a plugin that dies under the TLS handshake only fails
            // the write (the binary's main thread lets SIGPIPE end the process).
            let (n, x, s) = (name.clone(), exe.clone(), sink.clone());
            let started = tokio::spawn(async move { PluginProvider::start(&n, &x, s).await })
                .await
                .map_err(|e| fail(format!("Cannot start provider {}", r.source), e.to_string()))?;
            let p = started
                .map_err(|e| fail(format!("Cannot start provider {}", r.source), e.to_string()))?;
            registry.register(Arc::new(p.with_source(r.source.to_string())));
        }
    }
    Ok(registry)
}
