//! `standby console`: evaluate expressions against an environment, as `terraform console`.

use super::args::{EnvArgs, PlanArgs};
use super::plan_cmd::{options, prepare};
use super::workspace::Workspace;
use super::{report, runtime, CliError};
use standby_engine::eval::Phase;
use standby_engine::plan::Console;
use standby_provider_sdk::Value;
use std::fmt::Write as _;
use std::io::{BufRead as _, IsTerminal as _, Write as _};

pub(crate) fn console(ws: &Workspace, env: &EnvArgs) -> Result<i32, CliError> {
    let (env_name, config, digest, vars) = prepare(ws, env, false)?;
    let backend = ws.backend(&env_name)?;
    // Read-only: the console changes nothing, so it takes no lock.
    let state = ws.read_state(backend.as_ref())?;
    let opts = options(&env_name, &PlanArgs::without_refresh(), Phase::Plan, digest)?;
    let registry = ws.registry(&config)?;
    let rt = runtime()?;
    let mut console = rt
        .block_on(Console::new(
            &config,
            &registry,
            state.as_ref(),
            vars,
            &opts,
        ))
        .map_err(|d| CliError::Diags(config.sources.clone(), d))?;
    let interactive = std::io::stdin().is_terminal();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            print!("> ");
            let _ = std::io::stdout().flush();
        }
        let Some(line) = lines.next() else { break };
        let line = line.map_err(|e| CliError::msg("Cannot read the input", e.to_string()))?;
        let input = line.trim();
        if input.is_empty() {
            continue;
        }
        if input == "exit" {
            break;
        }
        match console.eval(input) {
            Ok(v) => println!("{}", pretty(&v, 0)),
            Err(d) => {
                eprint!("{}", report::render(console.sources(), &d.0, ws.color));
                // Piped input stops at the first error, as Terraform's does, so a script
                // sees it in the exit code.
                if !interactive {
                    return Ok(1);
                }
            }
        }
    }
    Ok(0)
}

/// Terraform console's multi-line rendering of a value.
pub(crate) fn pretty(v: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match v {
        Value::List(items) if !items.is_empty() => {
            let mut s = String::from("[\n");
            for x in items {
                let _ = writeln!(s, "{pad}{},", pretty(x, indent + 1));
            }
            let _ = write!(s, "{end}]");
            s
        }
        Value::Map(m) if !m.is_empty() => {
            let mut s = String::from("{\n");
            for (k, x) in m {
                let key = serde_json::Value::String(k.clone());
                let _ = writeln!(s, "{pad}{key} = {}", pretty(x, indent + 1));
            }
            let _ = write!(s, "{end}}}");
            s
        }
        Value::List(_) => "[]".into(),
        Value::Map(_) => "{}".into(),
        Value::String(s) if s.contains('\n') && !v.is_sensitive() => {
            let mut out = String::from("<<EOT\n");
            out.push_str(&escape_templates(s));
            if !s.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("EOT");
            out
        }
        // In HCL form `${` and `%{` would start a template: written as `$${` and `%%{`, as
        // Terraform prints them, the text pastes back as the same string.
        Value::String(_) => escape_templates(&v.to_string()).to_string(),
        other => other.to_string(),
    }
}

fn escape_templates(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains("${") || s.contains("%{") {
        s.replace("${", "$${").replace("%{", "%%{").into()
    } else {
        s.into()
    }
}
