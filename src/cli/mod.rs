//! The command-line interface: the only module that prints.

mod apply_view;
mod args;
mod bounded_listener;
mod check_cmd;
mod console_cmd;
mod drill_cmd;
mod envs_cmd;
mod failover_cmd;
mod fmt_cmd;
mod generate_cmd;
mod import_cmd;
mod init_cmd;
mod monitor_cmd;
mod monitor_http;
mod monitor_lease;
mod plan_cmd;
mod plan_file;
mod progress;
mod report;
mod review_cmd;
mod state_cmd;
mod terraform_args;
mod workspace;

pub use args::Cli;

use args::Command;
use clap::Parser as _;
use standby_engine::diag::{Diagnostic, Diagnostics, Sources};
use std::io::IsTerminal as _;
use workspace::Workspace;

/// How a command ends when it does not succeed.
#[derive(Debug)]
pub(crate) enum CliError {
    /// Problems in the topology, with the files to quote.
    Diags(Sources, Diagnostics),
    /// One problem without a source location.
    Message(Diagnostic),
    /// Exit with this code; what needed saying was said.
    Exit(i32),
}

impl CliError {
    pub(crate) fn msg(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        CliError::Message(Diagnostic::bare(summary, detail))
    }

    /// One line for a log: the summary and detail of each problem.
    pub(crate) fn oneline(&self) -> String {
        let line = |d: &Diagnostic| format!("{}: {}", d.summary, d.detail);
        match self {
            CliError::Diags(_, ds) => ds.0.iter().map(line).collect::<Vec<_>>().join("; "),
            CliError::Message(d) => line(d),
            CliError::Exit(code) => format!("exit code {code}"),
        }
    }
}

/// Runs standby with the process's arguments and returns the exit code.
pub fn main() -> i32 {
    // The state key must not reach hooks or the servers standby starts, which inherit the
    // environment: take it out before anything else runs.
    // SAFETY: the first thing main does; no other thread exists yet.
    unsafe { standby_engine::state::Cipher::capture_env() };
    let cli = match Cli::try_parse_from(terraform_args::normalize(std::env::args_os())) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // A usage error exits 1, as in Terraform: 2 is what --detailed-exitcode says for
            // "changes present", and a CI script must not read a typo as a plan.
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 1,
            };
        }
    };
    if let Err(e) = standby_engine::plan::max_instances_env() {
        eprintln!("Error: {e}");
        return 1;
    }
    let color =
        !cli.no_color && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if let Some(dir) = &cli.dir {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!("Error: cannot use -C {}: {e}", dir.display());
            return 1;
        }
    }
    let root = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .unwrap_or_else(|_| ".".into());
    let ws = Workspace {
        root,
        color,
        backend: cli.backend.clone(),
        input: cli.input,
        registries: std::sync::Mutex::new(Vec::new()),
    };
    let result = run(&ws, cli.command);
    ws.shutdown();
    match result {
        Ok(code) => code,
        Err(CliError::Exit(code)) => code,
        Err(CliError::Diags(sources, diags)) => {
            eprint!("{}", report::render(&sources, &diags.0, ws.color));
            1
        }
        Err(CliError::Message(d)) => {
            eprint!("{}", report::render(&Sources::default(), &[d], ws.color));
            1
        }
    }
}

/// The process's async runtime, started on first use: every command, the monitor's rounds
/// and a drill's writer run on it. Two keep their own on their own thread: the PostgreSQL
/// state backend's worker (the synchronous state traits are called from inside async code,
/// where blocking on this one would panic) and the monitor's status endpoint (which must
/// answer while a failover's apply keeps these workers busy).
fn runtime() -> Result<&'static tokio::runtime::Runtime, CliError> {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // SIGPIPE ends the process when stdout's reader goes away (main.rs); a provider
        // process that dies under a connection must only fail that connection's writes.
        .on_thread_start(block_sigpipe)
        .build()
        .map_err(|e| CliError::msg("Cannot start the async runtime", e.to_string()))?;
    Ok(RUNTIME.get_or_init(|| rt))
}

fn block_sigpipe() {
    // SAFETY: a fresh signal set, filled and passed to pthread_sigmask for this thread only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn run(ws: &Workspace, cmd: Command) -> Result<i32, CliError> {
    use plan_cmd::Run;
    let plain = |destroy, refresh_only, targets| args::PlanArgs {
        targets,
        replace: vec![],
        destroy,
        refresh_only,
        refresh: true,
    };
    match cmd {
        Command::Validate { env, json } => {
            let r = plan_cmd::validate(ws, &env);
            if !json {
                let (sources, warnings) = r?;
                eprint!("{}", report::render_warnings(&sources, &warnings, ws.color));
                println!("Success! The topology is valid.");
                return Ok(0);
            }
            // Terraform's `validate -json` shape, so tools that read it read this too.
            let (sources, diags, warnings) = match r {
                Ok((s, w)) => (s, Vec::new(), w),
                Err(CliError::Diags(s, d)) => (s, d.0, Vec::new()),
                Err(CliError::Message(d)) => (Sources::default(), vec![d], Vec::new()),
                Err(e) => return Err(e),
            };
            println!("{}", report::validate_json(&sources, &diags, &warnings));
            Ok(i32::from(!diags.is_empty()))
        }
        Command::Plan {
            env,
            plan,
            lock,
            out,
            json,
            detailed_exitcode,
            base,
            head,
        } => plan_cmd::plan(
            ws,
            &env,
            &plan,
            &lock,
            out.as_deref(),
            json,
            detailed_exitcode,
            (base.as_deref(), head.as_deref()),
            None,
        ),
        Command::Apply {
            plan_file,
            env,
            plan,
            lock,
            gates,
            auto_approve,
            parallelism,
        } => plan_cmd::apply(
            ws,
            plan_file.as_deref(),
            &env,
            &plan,
            &lock,
            &Run {
                auto_approve,
                parallelism,
                gates,
                force: None,
                guard: None,
                acting_monitor: false,
            },
        ),
        Command::Destroy {
            env,
            lock,
            targets,
            auto_approve,
            parallelism,
        } => plan_cmd::apply(
            ws,
            None,
            &env,
            &plain(true, false, targets),
            &lock,
            &Run {
                auto_approve,
                parallelism,
                gates: Default::default(),
                force: None,
                guard: None,
                acting_monitor: false,
            },
        ),
        Command::Refresh { env, lock } => plan_cmd::apply(
            ws,
            None,
            &env,
            &plain(false, true, vec![]),
            &lock,
            &Run {
                auto_approve: true,
                parallelism: 10,
                gates: Default::default(),
                force: None,
                guard: None,
                acting_monitor: false,
            },
        ),
        Command::Failover {
            group,
            to,
            env,
            lock,
            gates,
            auto_approve,
        } => failover_cmd::switch(ws, &group, &to, true, &env, &lock, gates, auto_approve),
        Command::Switchover {
            group,
            to,
            env,
            lock,
            gates,
            auto_approve,
        } => failover_cmd::switch(ws, &group, &to, false, &env, &lock, gates, auto_approve),
        Command::Status { env } => failover_cmd::status(ws, &env),
        Command::Check { env, format } => check_cmd::check(ws, &env, format),
        Command::Monitor {
            env,
            lock,
            run_for,
            listen,
            listen_token_file,
            webhook,
            etcd,
            lease_ttl,
            name,
            events,
        } => monitor_cmd::monitor(
            ws,
            &env,
            &lock,
            run_for,
            &monitor_cmd::Outputs {
                listen,
                token: listen_token_file
                    .as_deref()
                    .map(monitor_http::read_token)
                    .transpose()?,
                webhook,
                events,
            },
            &monitor_lease::ElectionArgs {
                etcd,
                ttl: lease_ttl,
                name,
            },
        ),
        Command::Approve {
            plan_file,
            lock,
            etcd,
        } => monitor_cmd::approve(ws, &plan_file, &lock, etcd),
        Command::Drill {
            group,
            env,
            scenario,
            i_know,
            via,
            out,
        } => drill_cmd::drill(
            ws,
            &group,
            &env,
            scenario,
            i_know,
            via.as_deref(),
            out.as_deref(),
        ),
        Command::Review {
            base,
            head,
            envs,
            format,
            output,
        } => review_cmd::review(ws, &base, head.as_deref(), &envs, format, output.as_deref()),
        Command::Envs(c) => envs_cmd::envs(ws, c),
        Command::Graph { env, format, plan } => plan_cmd::graph(ws, &env, format, plan),
        Command::Show {
            plan_file,
            env,
            json,
        } => state_cmd::show(ws, plan_file.as_deref(), &env, json),
        Command::Output {
            name,
            env,
            json,
            raw,
        } => state_cmd::output(ws, name.as_deref(), &env, json, raw),
        Command::State(sc) => state_cmd::state(ws, sc),
        Command::Fmt {
            paths,
            check,
            recursive,
            diff,
        } => fmt_cmd::fmt(ws, &paths, check, recursive, diff),
        Command::Version { json } => {
            let platform = format!(
                "{}_{}",
                std::env::consts::OS,
                match std::env::consts::ARCH {
                    "x86_64" => "amd64",
                    "aarch64" => "arm64",
                    other => other,
                }
            );
            if json {
                let registry = standby_engine::registry::Registry::standard();
                let providers: Vec<&str> = registry.names().collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "standby_version": env!("CARGO_PKG_VERSION"),
                        "platform": platform,
                        // Terraform's key: provider name to version. standby's providers are
                        // built in, so each has standby's version.
                        "provider_selections": providers.iter().map(|p| (p.to_string(), serde_json::Value::String(env!("CARGO_PKG_VERSION").into()))).collect::<serde_json::Map<_, _>>(),
                        "providers": providers,
                    }))
                    .unwrap_or_default()
                );
            } else {
                println!("standby v{}\non {platform}", env!("CARGO_PKG_VERSION"));
            }
            Ok(0)
        }
        Command::ForceUnlock { id, env } => state_cmd::force_unlock(ws, &id, &env),
        Command::Init {
            upgrade,
            plugin_dirs,
            reconfigure,
        } => init_cmd::init(ws, upgrade, &plugin_dirs, reconfigure),
        Command::Import {
            addr,
            id,
            env,
            lock,
        } => import_cmd::import(ws, &addr, &id, &env, &lock),
        Command::Console { env } => console_cmd::console(ws, &env),
        Command::Completions { shell } => generate_cmd::completions(shell),
        Command::Man { out_dir } => generate_cmd::man(out_dir.as_deref()),
    }
}
