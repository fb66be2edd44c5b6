//! What every command needs: the topology, the environment, variable inputs and the state.

use super::args::{EnvArgs, LockArgs};
use super::CliError;
use sha2::Digest as _;
use standby_engine::config::{load_partial, load_var_file, Config};
use standby_engine::plan::{root_inputs, VarSource};
use standby_engine::plugins::{self, PluginsError, Requirement};
use standby_engine::registry::Registry;
use standby_engine::state::{Backend, LocalBackend, LockGuard, PgBackend, State, StateError};
use standby_provider_sdk::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The topology directory and output settings.
pub(crate) struct Workspace {
    pub root: PathBuf,
    pub color: bool,
    /// `--backend`: `local`, or `pg:CONN_STR` with an optional `#SCHEMA`.
    pub backend: Option<String>,
    /// `--input=false`: never ask on the terminal.
    pub input: bool,
    /// The providers of each set of external requirements, started once per run.
    pub registries: std::sync::Mutex<Vec<(Vec<Requirement>, Registry)>>,
}

/// Where external providers' log lines go: to stderr when `STANDBY_LOG` (or Terraform's
/// `TF_LOG`) is set, else nowhere (their last lines still come with any error).
fn plugin_log() -> plugins::LogSink {
    // As Terraform reads TF_LOG: unset, empty or "off" means off.
    let on = std::env::var("STANDBY_LOG")
        .or_else(|_| std::env::var("TF_LOG"))
        .is_ok_and(|v| {
            !["", "off", "0", "false"].contains(&v.trim().to_ascii_lowercase().as_str())
        });
    std::sync::Arc::new(move |name: &str, line: &str| {
        if on {
            eprintln!("provider[{name}]: {line}");
        }
    })
}

impl Workspace {
    /// The built-in providers and the topology's external ones (checked against the lock file
    /// and started; once per run for the same requirements).
    pub fn registry(&self, config: &Config) -> Result<Registry, CliError> {
        let err = |e: PluginsError| CliError::msg(e.summary, e.detail);
        let reqs = plugins::requirements(config).map_err(err)?;
        if let Some((_, r)) = self
            .registries
            .lock()
            .ok()
            .and_then(|c| c.iter().find(|(k, _)| *k == reqs).cloned())
        {
            return Ok(r);
        }
        let r = super::runtime()?
            .block_on(plugins::registry(config, &reqs, &self.root, plugin_log()))
            .map_err(err)?;
        if let Ok(mut c) = self.registries.lock() {
            c.push((reqs, r.clone()));
        }
        Ok(r)
    }

    /// Stops the external providers this run started, as go-plugin asks.
    pub fn shutdown(&self) {
        let all: Vec<Registry> = self
            .registries
            .lock()
            .map(|mut c| c.drain(..).map(|(_, r)| r).collect())
            .unwrap_or_default();
        if let (false, Ok(rt)) = (all.is_empty(), super::runtime()) {
            rt.block_on(async {
                for r in &all {
                    r.shutdown().await;
                }
            });
        }
    }

    /// The environment name: `-e NAME`, or `default`. A named environment must have a file.
    pub fn env_name(&self, env: &EnvArgs) -> Result<String, CliError> {
        let Some(name) = &env.env else {
            return Ok("default".into());
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        {
            return Err(CliError::msg(
                format!("Invalid environment name {name:?}"),
                "Environment names use letters, digits, - and _.",
            ));
        }
        if name == "default" || self.root.join("env").join(format!("{name}.hcl")).is_file() {
            return Ok(name.clone());
        }
        let known = self.environments();
        Err(CliError::msg(
            format!("No environment {name:?}"),
            if known.is_empty() {
                format!("There is no env/{name}.hcl and no env/ directory in {}. Create env/{name}.hcl with the environment's variable values.", self.root.display())
            } else {
                format!(
                    "There is no env/{name}.hcl. Environments that exist: {}.",
                    known.join(", ")
                )
            },
        ))
    }

    /// Names of `env/*.hcl`.
    pub fn environments(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root.join("env"))
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(|n| n.strip_suffix(".hcl"))
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Loads the topology; errors carry their sources for rendering.
    pub fn load(&self) -> Result<Config, CliError> {
        let (config, mut diags) = load_partial(&self.root);
        if diags.is_empty() {
            return Ok(config);
        }
        // Report the structural errors together with what the static checks find in the rest,
        // with the external providers when they can start (else their types would be unknown).
        let Ok(registry) = self.registry(&config) else {
            return Err(CliError::Diags(config.sources, diags));
        };
        let more = standby_engine::plan::check(&config, &registry);
        for d in more.0 {
            if !diags.0.contains(&d) {
                diags.push(d);
            }
        }
        Err(CliError::Diags(config.sources, diags))
    }

    /// Loads the topology as it is at a git revision, straight from git objects.
    pub fn load_rev(&self, rev: &str) -> Result<Config, CliError> {
        let repo = standby_engine::vcs::Repo::discover(&self.root)
            .map_err(|e| CliError::msg("Cannot read the topology from git", e.to_string()))?;
        let files = repo
            .tree_files(rev, &self.root)
            .map_err(|e| CliError::msg(format!("Cannot read revision {rev}"), e.to_string()))?;
        let (config, diags) = standby_engine::config::load_partial_from(&self.root, &files);
        let mut config = config;
        config.revision = Some(std::sync::Arc::new(files));
        if diags.is_empty() {
            Ok(config)
        } else {
            Err(CliError::Diags(config.sources, diags))
        }
    }

    /// SHA-256 over every topology file's path and content, environment files included: a
    /// saved plan made from an edited `env/ENV.hcl` is stale once the edit is undone.
    pub fn topology_digest(config: &Config) -> String {
        let mut h = sha2::Sha256::new();
        for (p, t) in config.sources.iter() {
            h.update(p.to_string_lossy().as_bytes());
            h.update([0]);
            h.update(t.as_bytes());
            h.update([0]);
        }
        for (name, (_, t)) in &config.env_files {
            h.update(b"env/");
            h.update(name.as_bytes());
            h.update([0]);
            h.update(format!("{t:?}").as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    /// Root variable values from env/NAME.hcl, --var-file and --var, in that order.
    pub fn inputs(
        &self,
        config: &mut Config,
        env_name: &str,
        env: &EnvArgs,
        allow_missing: bool,
    ) -> Result<BTreeMap<String, Value>, CliError> {
        let mut sources = Vec::new();
        // The environment file of the topology's own revision (a branch's, under --head).
        if let Some(f) = env_var_file(config, env_name)? {
            sources.push(VarSource::File(f));
        }
        for vf in &env.var_files {
            // A var file inside the topology is part of its revision: under --head (and in
            // review) it is read from that commit, not from the working tree.
            let abs = self.root.join(vf);
            // A file the revision does not hold (a gitignored secrets file, say) is read from
            // the disk, as an operator's input.
            let in_revision = config.revision.as_ref().is_some_and(|rev| {
                !vf.components()
                    .any(|c| c == std::path::Component::ParentDir)
                    && abs.starts_with(&self.root)
                    && standby_engine::config::FileSource::read(rev.as_ref(), &abs).is_ok()
            });
            let f = match &config.revision {
                Some(rev) if in_revision => {
                    let rev = rev.clone();
                    standby_engine::config::load_var_file_from(
                        rev.as_ref(),
                        &abs,
                        &mut config.sources,
                    )
                }
                _ => load_var_file(vf, &mut config.sources),
            }
            .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
            sources.push(VarSource::File(f));
        }
        for v in &env.vars {
            let Some((k, val)) = v.split_once('=') else {
                return Err(CliError::msg(
                    format!("Invalid --var {v:?}"),
                    "Write --var NAME=VALUE.",
                ));
            };
            sources.push(VarSource::Flag(k.trim().to_string(), val.to_string()));
        }
        root_inputs(config, env_name, &sources, allow_missing)
            .map_err(|d| CliError::Diags(config.sources.clone(), d))
    }

    /// The environment's state backend.
    pub fn backend(&self, env_name: &str) -> Result<Box<dyn Backend>, CliError> {
        // --backend / STANDBY_BACKEND wins over the topology's backend block.
        let spec = match &self.backend {
            Some(s) => Some(s.clone()),
            None => {
                let (config, _) = standby_engine::config::load_partial(&self.root);
                config
                    .root
                    .backend
                    .map(|b| match (b.kind.as_str(), b.conn_str) {
                        ("pg", Some(c)) => {
                            format!("pg:{}#{}", c, b.schema.unwrap_or_else(|| "standby".into()))
                        }
                        (kind, _) => kind.to_string(),
                    })
            }
        };
        open_backend(&self.root, spec.as_deref(), env_name)
    }

    /// Takes the state lock for `operation` (see `operation::lock`).
    pub fn lock(
        &self,
        backend: &dyn Backend,
        operation: &str,
        lock: &LockArgs,
    ) -> Result<Option<LockGuard>, CliError> {
        let locking = standby_engine::operation::Locking {
            enabled: lock.lock,
            timeout: lock.lock_timeout,
        };
        standby_engine::operation::lock(backend, operation, locking).map_err(op_error)
    }

    /// Reads the state; a missing state is an empty one.
    pub fn read_state(&self, backend: &dyn Backend) -> Result<Option<State>, CliError> {
        backend.read().map_err(state_error)
    }
}

/// Whether the lock's holder is a process of this host that is stopped (state T in /proc): it
/// holds the lock until it is resumed.
fn process_stopped(info: &standby_engine::state::LockInfo) -> bool {
    let here = standby_engine::state::LockInfo::new("check");
    let host = |who: &str| who.rsplit_once('@').map(|(_, h)| h.to_string());
    if host(&info.who) != host(&here.who) {
        return false;
    }
    std::fs::read_to_string(format!("/proc/{}/stat", info.pid)).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('T') || rest.starts_with('t'))
    })
}

/// Turns an operation's error into a message that says what to do.
pub(crate) fn op_error(e: standby_engine::operation::OpError) -> CliError {
    use standby_engine::operation::OpError;
    match e {
        OpError::Refused(r) => CliError::msg(r.summary, r.detail),
        OpError::State(s) => state_error(s),
        OpError::Apply(detail) => CliError::msg("Apply failed", detail),
        OpError::Plan(d) => CliError::Diags(Default::default(), d),
        OpError::Cancelled => CliError::Exit(1),
    }
}

/// Turns a state error into a message that says what to do.
pub(crate) fn state_error(e: StateError) -> CliError {
    match e {
        StateError::Corrupt { path, detail, backup } => CliError::msg(
            format!("The state file {} is corrupt", path.display()),
            format!(
                "It could not be parsed ({detail}). standby will not overwrite it. {}",
                match backup {
                    Some(b) => format!("The previous version is kept at {}; inspect both, then copy the good one into place.", b.display()),
                    None => "No backup exists; restore it from your own backups.".to_string(),
                }
            ),
        ),
        StateError::Locked(info) if process_stopped(&info) => CliError::msg(
            "The state is locked by a stopped process",
            format!("It is held by {info}, which is stopped (SIGSTOP, a debugger, or a STANDBY_FAILPOINT freeze: see .standby/failpoint) and will not release it by itself.\nResume it with `kill -CONT {pid}` to let it finish, or end it with `kill -9 {pid}`; the next plan reads the members and converges from what it left.", pid = info.pid),
        ),
        StateError::Locked(info) => CliError::msg(
            "The state is locked",
            format!("It is held by {info}.\nWait for that operation to finish, pass --lock-timeout to wait longer, or, if that process is gone, run `standby force-unlock {}`.", info.id),
        ),
        StateError::Key(detail) => CliError::msg("State encryption", detail),
        other => CliError::msg("State error", other.to_string()),
    }
}

/// Opens a backend from its spec: `local` (the default) or `pg:CONN_STR[#SCHEMA]`.
pub(crate) fn open_backend(
    root: &std::path::Path,
    spec: Option<&str>,
    env_name: &str,
) -> Result<Box<dyn Backend>, CliError> {
    let cipher = standby_engine::state::Cipher::from_env()
        .map_err(state_error)?
        .map(std::sync::Arc::new);
    open_backend_with(root, spec, env_name, cipher.clone(), cipher)
}

/// [`open_backend`] writing with the state key `write` (None: plain) and reading with `read`.
pub(crate) fn open_backend_with(
    root: &std::path::Path,
    spec: Option<&str>,
    env_name: &str,
    write: Option<std::sync::Arc<standby_engine::state::Cipher>>,
    read: Option<std::sync::Arc<standby_engine::state::Cipher>>,
) -> Result<Box<dyn Backend>, CliError> {
    match spec {
        None | Some("local" | "") => Ok(Box::new(
            LocalBackend::new(root, env_name)
                .encrypted(write)
                .reading_with(read),
        )),
        Some(s) => match s.strip_prefix("pg:") {
            Some(rest) => {
                let (conn, schema) = rest.rsplit_once('#').unwrap_or((rest, "standby"));
                Ok(Box::new(
                    PgBackend::new(conn, schema, env_name)
                        .map_err(state_error)?
                        .encrypted(write)
                        .reading_with(read),
                ))
            }
            None => Err(CliError::msg(format!("Unknown backend {s:?}"), "Use local, or pg:CONN_STR[#SCHEMA] such as pg:host=127.0.0.1 port=5432 user=standby dbname=standby#standby.")),
        },
    }
}

/// `env/NAME.hcl` of `config`'s revision, parsed; None when the environment has none.
pub(crate) fn env_var_file(
    config: &mut Config,
    env_name: &str,
) -> Result<Option<standby_engine::config::VarFile>, CliError> {
    let Some((path, text)) = config.env_files.get(env_name).cloned() else {
        return Ok(None);
    };
    let text = text.map_err(|e| {
        CliError::msg(
            format!("Cannot read {}", path.display()),
            format!(
                "{e}. The environment's variables are in it; nothing was planned without them."
            ),
        )
    })?;
    let files = standby_engine::config::MemoryFiles {
        files: std::collections::BTreeMap::from([(path.clone(), text)]),
    };
    standby_engine::config::load_var_file_from(&files, &path, &mut config.sources)
        .map(Some)
        .map_err(|d| CliError::Diags(config.sources.clone(), d))
}
