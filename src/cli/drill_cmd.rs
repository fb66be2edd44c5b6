//! `standby drill`: inject a disaster into a non-production environment while a writer inserts
//! unique rows, let the monitor (or a planned switchover) recover, then check every write and
//! report the timeline against the declared RTO and RPO.

use super::args::{EnvArgs, Scenario};
use super::monitor_cmd::{configured_registry, state_and_plan};
use super::workspace::Workspace;
use super::{runtime, CliError};
use standby_engine::drill::{default_dir, Conductor, Drill, DrillError, Running, Setup};
use standby_engine::state::State;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs this same binary as a child in the workspace.
fn standby(ws: &Workspace, args: &[String]) -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| "standby".into());
    let mut c = Command::new(exe);
    c.arg("-C").arg(&ws.root);
    if let Some(b) = &ws.backend {
        c.arg("--backend").arg(b);
    }
    c.args(args);
    // The key was taken out of this process's environment so that hooks and servers do not
    // inherit it; the monitor is standby and needs it to read an encrypted state. It gets it
    // through a private file, never through its environment or argv.
    let handoff = key_handoff_path(ws);
    if handoff.exists() {
        c.env("STANDBY_STATE_KEY_FILE", handoff);
    } else if let Some(f) = standby_engine::state::Cipher::captured_file() {
        c.env("STANDBY_STATE_KEY_FILE", f);
    }
    c
}

fn key_handoff_path(ws: &Workspace) -> std::path::PathBuf {
    ws.root
        .join(".standby")
        .join(format!("drill-key.{}", std::process::id()))
}

/// The state key from `STANDBY_STATE_KEY`, in a file only the owner reads, for the drill's
/// child processes; removed when the drill ends.
struct KeyHandoff(Option<std::path::PathBuf>);

impl KeyHandoff {
    fn new(ws: &Workspace) -> Result<KeyHandoff, CliError> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let Some(key) = standby_engine::state::Cipher::captured_env() else {
            return Ok(KeyHandoff(None));
        };
        let path = key_handoff_path(ws);
        // A drill stopped by a signal cannot remove its file: remove those of drills gone.
        if let Ok(rd) = std::fs::read_dir(ws.root.join(".standby")) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let gone = name
                    .strip_prefix("drill-key.")
                    .and_then(|pid| pid.parse::<u32>().ok())
                    .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
                if gone {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let err = |e: std::io::Error| {
            CliError::msg(format!("Cannot write {}", path.display()), e.to_string())
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let _ = std::fs::remove_file(&path);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(err)?;
        f.write_all(key.as_bytes()).map_err(err)?;
        Ok(KeyHandoff(Some(path)))
    }
}

impl Drop for KeyHandoff {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn env_flags(env_name: &str, env: &EnvArgs) -> Vec<String> {
    let mut v = vec!["-e".to_string(), env_name.to_string()];
    for x in &env.vars {
        v.extend(["--var".to_string(), x.clone()]);
    }
    for f in &env.var_files {
        v.extend(["--var-file".to_string(), f.display().to_string()]);
    }
    v
}

/// A command of standby's running as a child; dropping it kills it.
struct Child(std::process::Child);

impl Running for Child {
    fn finished(&mut self) -> bool {
        self.0.try_wait().ok().flatten().is_some()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The drill's commands as children of this process, and the state through the workspace.
struct Children<'a> {
    ws: &'a Workspace,
    env_name: &'a str,
    group: &'a str,
    flags: Vec<String>,
}

fn failed(what: &str) -> impl Fn(std::io::Error) -> DrillError + '_ {
    move |e| DrillError {
        summary: format!("Cannot {what}"),
        hint: e.to_string(),
    }
}

impl Conductor for Children<'_> {
    fn start_monitor(&mut self, events: &Path, log: &Path) -> Result<Box<dyn Running>, DrillError> {
        let mut args = vec!["monitor".to_string()];
        args.extend(self.flags.iter().cloned());
        args.extend(["--for".into(), "300s".into()]);
        args.extend(["--events".into(), events.display().to_string()]);
        let file = std::fs::File::create(log).map_err(failed("write the monitor log"))?;
        let child = standby(self.ws, &args)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .map_err(failed("start the monitor"))?;
        Ok(Box::new(Child(child)))
    }

    fn start_switchover(&mut self, to: &str, log: &Path) -> Result<Box<dyn Running>, DrillError> {
        let mut args = vec![
            "switchover".to_string(),
            self.group.to_string(),
            "--to".into(),
            to.to_string(),
        ];
        args.extend(self.flags.iter().cloned());
        args.extend([
            "--auto-approve".into(),
            "--approve".into(),
            self.group.to_string(),
        ]);
        let file = std::fs::File::create(log).map_err(failed("write the switchover log"))?;
        let child = standby(self.ws, &args)
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .map_err(failed("start the switchover"))?;
        Ok(Box::new(Child(child)))
    }

    fn apply(&mut self) -> bool {
        let mut args = vec!["apply".to_string()];
        args.extend(self.flags.iter().cloned());
        args.push("--auto-approve".into());
        standby(self.ws, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn read_state(&mut self) -> Result<State, DrillError> {
        let read = || -> Result<State, CliError> {
            Ok(self
                .ws
                .read_state(self.ws.backend(self.env_name)?.as_ref())?
                .unwrap_or_default())
        };
        read().map_err(|e| DrillError {
            summary: "Cannot read the state".into(),
            hint: e.oneline(),
        })
    }
}

impl From<Scenario> for standby_engine::drill::Scenario {
    fn from(s: Scenario) -> Self {
        match s {
            Scenario::KillPrimary => Self::KillPrimary,
            Scenario::StopPrimary => Self::StopPrimary,
            Scenario::HangPrimary => Self::HangPrimary,
            Scenario::PartitionPrimary => Self::PartitionPrimary,
            Scenario::Switchover => Self::Switchover,
        }
    }
}

fn drill_err(e: DrillError) -> CliError {
    CliError::msg(e.summary, e.hint)
}

/// `standby drill GROUP -e ENV --scenario NAME`.
pub(crate) fn drill(
    ws: &Workspace,
    group: &str,
    env: &EnvArgs,
    scenario: Scenario,
    i_know: bool,
    via: Option<&str>,
    out: Option<&Path>,
) -> Result<i32, CliError> {
    let env_name = ws.env_name(env)?;
    let config = ws.load()?;
    if config.is_protected(&env_name) && !i_know {
        return Err(CliError::msg(
            format!("Refusing to drill the protected environment {env_name:?}"),
            "Drills inject real faults. Run them against staging, or pass --i-know if this is intended.",
        ));
    }
    let (state, plan) = state_and_plan(ws, env, &env_name)?;
    let _key = KeyHandoff::new(ws)?;
    let registry = configured_registry(ws)?;
    let scenario = standby_engine::drill::Scenario::from(scenario);
    let dir = out.map_or_else(
        || default_dir(&ws.root, &env_name, group, scenario),
        Path::to_path_buf,
    );
    let setup = Setup {
        group,
        env: &env_name,
        scenario,
        via,
        state: &state,
        groups: &plan.groups,
        registry: &registry,
        dir: &dir,
        rt: runtime()?.handle().clone(),
    };
    // Every refusal comes before the directory, the monitor and the fault.
    let drill = Drill::new(setup).map_err(drill_err)?;
    let mut children = Children {
        ws,
        env_name: &env_name,
        group,
        flags: env_flags(&env_name, env),
    };
    let report = drill.run(&mut children).map_err(drill_err)?;
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    for (name, text) in [
        ("report.json", json),
        ("report.md", report.markdown()),
        ("timeline.svg", report.svg()),
    ] {
        std::fs::write(dir.join(name), text)
            .map_err(|e| CliError::msg(format!("Cannot write {name}"), e.to_string()))?;
    }
    println!("{}", report.markdown());
    println!("Reports written to {}", dir.display());
    Ok(i32::from(!report.passed()))
}
