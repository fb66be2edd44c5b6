//! `show`, `output`, `state ...` and `force-unlock`.

use super::args::{EnvArgs, StateCommand};
use super::workspace::{state_error, Workspace};
use super::CliError;
use standby_engine::addr::{AbsInstance, Target};
use standby_engine::plan::{plan_json, render_plan};
use standby_engine::state::State;
use standby_provider_sdk::Value;

fn must_state(ws: &Workspace, env_name: &str) -> Result<State, CliError> {
    ws.read_state(ws.backend(env_name)?.as_ref())?
        .ok_or_else(|| {
            CliError::msg(
                format!("No state for environment {env_name:?}"),
                "Nothing has been applied in this environment yet. Run standby apply first.",
            )
        })
}

fn instance_text(addr: &AbsInstance, st: &standby_engine::state::InstanceState) -> String {
    let v = st.value();
    // As Terraform marks it.
    let tainted = if st.tainted { " (tainted)" } else { "" };
    let mut out = format!(
        "# {addr}:{tainted}\n{} {:?} {:?} {{\n",
        if addr.resource.resource.mode == standby_engine::addr::Mode::Data {
            "data"
        } else {
            "resource"
        },
        addr.resource.resource.type_name,
        addr.resource.resource.name
    );
    if let Value::Map(m) = v.unmarked() {
        let width = m
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(0)
            .min(usize::from(u16::MAX));
        for (k, x) in m {
            if !x.is_null() {
                out.push_str(&format!("    {k:<width$} = {x}\n"));
            }
        }
    }
    out.push_str("}\n");
    out
}

pub(crate) fn show(
    ws: &Workspace,
    plan_file: Option<&std::path::Path>,
    env: &EnvArgs,
    json: bool,
) -> Result<i32, CliError> {
    if let Some(f) = plan_file {
        let plan = super::plan_file::read(ws, f)?;
        if json {
            // The working tree's configuration only when it is the one the plan was made
            // from; otherwise the JSON has no configuration rather than another one.
            let config = ws
                .load()
                .ok()
                .filter(|c| Workspace::topology_digest(c) == plan.topology_digest);
            // The providers' schemas say which literals are secrets.
            let registry = match &config {
                Some(c) => Some(ws.registry(c)?),
                None => None,
            };
            let both = config.as_ref().zip(registry.as_ref());
            println!(
                "{}",
                serde_json::to_string_pretty(&plan_json(&plan, both)).unwrap_or_default()
            );
        } else {
            print!("{}", render_plan(&plan, ws.color));
        }
        return Ok(0);
    }
    let env_name = ws.env_name(env)?;
    let state = ws
        .read_state(ws.backend(&env_name)?.as_ref())?
        .unwrap_or_default();
    if json {
        // External providers by source address, as the working tree requires them.
        let sources = ws
            .load()
            .ok()
            .and_then(|c| standby_engine::plugins::requirements(&c).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.local, r.source.to_string()))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&standby_engine::plan::state_json(&state, &sources))
                .unwrap_or_default()
        );
        return Ok(0);
    }
    if state.resources.is_empty() {
        println!("The state of environment {env_name:?} is empty.");
    }
    for (a, st) in &state.resources {
        println!("{}", instance_text(a, st));
    }
    if !state.outputs.is_empty() {
        println!("Outputs:\n");
        for (k, o) in &state.outputs {
            println!(
                "{k} = {}",
                if o.sensitive {
                    "(sensitive value)".into()
                } else {
                    Value::from_json(&o.value).to_string()
                }
            );
        }
    }
    Ok(0)
}

pub(crate) fn output(
    ws: &Workspace,
    name: Option<&str>,
    env: &EnvArgs,
    json: bool,
    raw: bool,
) -> Result<i32, CliError> {
    let env_name = ws.env_name(env)?;
    let state = ws
        .read_state(ws.backend(&env_name)?.as_ref())?
        .unwrap_or_default();
    let shown = |o: &standby_engine::state::OutputState| {
        if o.sensitive {
            Value::string("(sensitive value)")
        } else {
            Value::from_json(&o.value)
        }
    };
    // Terraform's `output` reads the selected workspace; standby's counterpart of its
    // `default` workspace is the environment without -e. When that one is empty but named
    // environments exist, say so rather than print nothing.
    let hint = (state.outputs.is_empty() && env.env.is_none())
        .then(|| ws.environments())
        .filter(|e| !e.is_empty())
        .map(|e| format!(" Without -e this is the default environment; the topology's environments are {}: pass -e NAME or set STANDBY_ENV.", e.join(", ")));
    if let Some(n) = name {
        let o = state.outputs.get(n).ok_or_else(|| {
            CliError::msg(
                format!("Output {n:?} not found"),
                format!(
                    "The state of environment {env_name:?} has {}.{}",
                    if state.outputs.is_empty() {
                        "no outputs; run standby apply first".to_string()
                    } else {
                        state.outputs.keys().cloned().collect::<Vec<_>>().join(", ")
                    },
                    hint.clone().unwrap_or_default()
                ),
            )
        })?;
        if raw && o.sensitive {
            return Err(CliError::msg(
                format!("Output {n:?} is sensitive"),
                "standby does not print secrets, not even with --raw (Terraform does): a script would read the placeholder as the value. Read the secret where it is kept.",
            ));
        }
        match (json, raw, shown(o)) {
            (true, _, v) => println!("{}", v.to_json()),
            (_, _, _) if o.sensitive => println!("(sensitive value)"),
            (_, true, Value::String(s)) => print!("{s}"),
            (_, true, v @ (Value::Number(_) | Value::Bool(_))) => print!("{v}"),
            (_, true, _) => {
                return Err(CliError::msg(
                    "Unsupported value for raw output",
                    format!("--raw prints only strings, numbers and booleans; output {n:?} is not one. Use --json."),
                ))
            }
            // As Terraform 0.14 and later: the value in HCL form, a string quoted, a map or
            // a list over several lines as `console` prints it.
            (_, _, v) => println!("{}", super::console_cmd::pretty(&v, 0)),
        }
        return Ok(0);
    }
    if json {
        let m: serde_json::Map<_, _> = state
            .outputs
            .iter()
            .map(|(k, o)| {
                (
                    k.clone(),
                    serde_json::json!({
                        "sensitive": o.sensitive,
                        // A sensitive output's type is withheld too: object keys can be secrets.
                        "type": if o.sensitive {
                            serde_json::Value::from("dynamic")
                        } else {
                            standby_engine::eval::unify::type_json(&Value::from_json(&o.value))
                        },
                        "value": shown(o).to_json(),
                    }),
                )
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&m).unwrap_or_default());
    } else if state.outputs.is_empty() {
        // Terraform's warning, on stderr so that scripts reading stdout see nothing.
        eprintln!(
            "Warning: No outputs found\n\nThe state of environment {env_name:?} has no outputs.{}",
            hint.unwrap_or_else(|| " Declare an output block and run standby apply.".into())
        );
    } else {
        for (k, o) in &state.outputs {
            println!("{k} = {}", shown(o));
        }
    }
    Ok(0)
}

pub(crate) fn parse_instance(s: &str) -> Result<AbsInstance, CliError> {
    let t: Target = s.parse().map_err(|e: standby_engine::addr::AddrError| {
        CliError::msg("Invalid address", e.to_string())
    })?;
    t.as_instance().ok_or_else(|| {
        CliError::msg(
            "Invalid address",
            format!("{s:?} names a module, not a resource instance."),
        )
    })
}

pub(crate) fn state(ws: &Workspace, cmd: StateCommand) -> Result<i32, CliError> {
    match cmd {
        StateCommand::List { env, filter } => {
            let env_name = ws.env_name(&env)?;
            let state = ws
                .read_state(ws.backend(&env_name)?.as_ref())?
                .unwrap_or_default();
            let filters: Vec<Target> = filter
                .iter()
                .map(|f| {
                    f.parse::<Target>()
                        .map_err(|e| CliError::msg("Invalid address", e.to_string()))
                })
                .collect::<Result<_, _>>()?;
            for a in state
                .resources
                .keys()
                .filter(|a| filters.is_empty() || filters.iter().any(|f| f.matches(a)))
            {
                println!("{a}");
            }
            Ok(0)
        }
        StateCommand::Show { addr, env } => {
            let env_name = ws.env_name(&env)?;
            let state = must_state(ws, &env_name)?;
            let a = parse_instance(&addr)?;
            let st = state.resources.get(&a).ok_or_else(|| {
                CliError::msg(
                    format!("No instance {addr} in the state"),
                    "List what exists with standby state list.",
                )
            })?;
            print!("{}", instance_text(&a, st));
            Ok(0)
        }
        StateCommand::Rm { addrs, env, lock } => {
            let env_name = ws.env_name(&env)?;
            let backend = ws.backend(&env_name)?;
            let _g = ws.lock(backend.as_ref(), "state rm", &lock)?;
            let mut state = must_state(ws, &env_name)?;
            for addr in &addrs {
                let a = parse_instance(addr)?;
                if state.resources.remove(&a).is_none() {
                    return Err(CliError::msg(
                        format!("No instance {addr} in the state"),
                        "Nothing was removed. List what exists with standby state list.",
                    ));
                }
            }
            state.serial += 1;
            backend.write(&state).map_err(state_error)?;
            println!(
                "Removed {} instance(s) from the state. The real objects were not touched.",
                addrs.len()
            );
            Ok(0)
        }
        StateCommand::Mv {
            from,
            to,
            env,
            lock,
        } => {
            let env_name = ws.env_name(&env)?;
            let backend = ws.backend(&env_name)?;
            let _g = ws.lock(backend.as_ref(), "state mv", &lock)?;
            let mut state = must_state(ws, &env_name)?;
            let (f, t) = (parse_instance(&from)?, parse_instance(&to)?);
            if f.resource.resource.type_name != t.resource.resource.type_name {
                return Err(CliError::msg(
                    "Cannot move between resource types",
                    format!("{from} and {to} have different types."),
                ));
            }
            if state.resources.contains_key(&t) {
                return Err(CliError::msg(
                    format!("{to} already exists in the state"),
                    "Remove it first with standby state rm, or pick another address.",
                ));
            }
            if !state.resources.contains_key(&f) {
                return Err(CliError::msg(
                    format!("No instance {from} in the state"),
                    "List what exists with standby state list.",
                ));
            }
            // With every failover record that names it as a member, as `moved` blocks do.
            state.move_instance(&f, &t);
            state.serial += 1;
            backend.write(&state).map_err(state_error)?;
            println!("Moved {from} to {to}.");
            Ok(0)
        }
        StateCommand::Migrate {
            to,
            force,
            encryption,
            env,
            lock,
        } => {
            let env_name = ws.env_name(&env)?;
            let from = ws.backend(&env_name)?;
            let key = standby_engine::state::Cipher::from_env()
                .map_err(state_error)?
                .map(std::sync::Arc::new);
            let cipher = match encryption {
                Some(super::args::Encryption::Off) => None,
                Some(super::args::Encryption::On) if key.is_none() => {
                    return Err(CliError::msg(
                        "No state key",
                        "Set STANDBY_STATE_KEY_FILE (or STANDBY_STATE_KEY) to a 32-byte key, such as one from `openssl rand -hex 32`.",
                    ))
                }
                _ => key.clone(),
            };
            let encrypts = cipher.is_some();
            // The target reads with the key too: it may be the source, encrypted.
            let target =
                super::workspace::open_backend_with(&ws.root, Some(&to), &env_name, cipher, key)?;
            let _a = ws.lock(from.as_ref(), "state migrate", &lock)?;
            // Encrypting or decrypting in place: the target is the source, already locked.
            let _b = if target.describe() == from.describe() {
                None
            } else {
                Some(ws.lock(target.as_ref(), "state migrate", &lock)?)
            };
            let state = must_state(ws, &env_name)?;
            if let Some(existing) = ws.read_state(target.as_ref())? {
                if !force {
                    return Err(CliError::msg(
                        "The target already has state",
                        format!("{} holds serial {} of lineage {}. Nothing was copied; pass --force to overwrite it.", target.describe(), existing.serial, existing.lineage),
                    ));
                }
            }
            target.write(&state).map_err(state_error)?;
            if target.describe() == from.describe() {
                println!(
                    "Rewrote the state of {env_name:?} in place at {}, {}.",
                    target.describe(),
                    if encrypts {
                        "encrypted with the state key"
                    } else {
                        "plain"
                    }
                );
                return Ok(0);
            }
            println!("Copied the state of {env_name:?} (lineage {}, serial {}, {} instance(s)) from {} to {}.", state.lineage, state.serial, state.resources.len(), from.describe(), target.describe());
            println!("Point standby at the new backend (backend block, --backend or STANDBY_BACKEND) before the next apply.");
            Ok(0)
        }
        StateCommand::Push {
            file,
            force,
            env,
            lock,
        } => push(ws, &file, force, &env, &lock),
        StateCommand::Pull { env } => {
            let env_name = ws.env_name(&env)?;
            let state = must_state(ws, &env_name)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&state).unwrap_or_default()
            );
            Ok(0)
        }
    }
}

pub(crate) fn force_unlock(ws: &Workspace, id: &str, env: &EnvArgs) -> Result<i32, CliError> {
    let env_name = ws.env_name(env)?;
    let backend = ws.backend(&env_name)?;
    match backend.force_unlock(id) {
        Ok(()) => {
            println!("The lock {id} was released.");
            Ok(0)
        }
        Err(standby_engine::state::StateError::Locked(info)) => Err(CliError::msg(
            "The lock is held by a live process",
            format!("{info}. On the local backend a lock is released when its process ends; stop that process instead."),
        )),
        Err(standby_engine::state::StateError::NoSuchLock(_)) => Err(CliError::msg(format!("No lock with id {id}"), match backend.holder() {
            Ok(Some(h)) => format!("The current lock is {h}."),
            _ => "The state is not locked.".into(),
        })),
        Err(e) => Err(state_error(e)),
    }
}

/// `state push`: the rules are Terraform's, so a stale copy never overwrites newer state.
fn push(
    ws: &Workspace,
    file: &std::path::Path,
    force: bool,
    env: &EnvArgs,
    lock: &crate::cli::args::LockArgs,
) -> Result<i32, CliError> {
    use std::io::Read as _;
    let env_name = ws.env_name(env)?;
    let mut bytes = Vec::new();
    let read = if file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(file).map(|b| bytes = b)
    };
    read.map_err(|e| CliError::msg(format!("Cannot read {}", file.display()), e.to_string()))?;
    let pushed: standby_engine::state::State = serde_json::from_slice(&bytes).map_err(|e| {
        CliError::msg(
            format!("{} is not a standby state", file.display()),
            format!("{e}. Push what `standby state pull` printed. Nothing was changed."),
        )
    })?;
    let backend = ws.backend(&env_name)?;
    if !lock.lock && !pushed.failovers.is_empty() {
        return Err(CliError::msg(
            "--lock=false is refused for state push here",
            "The pushed state records failover groups: an unlocked push could overwrite a switch recorded meanwhile, or be overwritten by one. Nothing was changed. Push it without --lock=false.",
        ));
    }
    let _g = ws.lock(backend.as_ref(), "state push", lock)?;
    if let Some(current) = ws.read_state(backend.as_ref())? {
        let refuse = |summary: String, detail: &str| {
            Err(CliError::msg(
                summary,
                format!("{detail} Nothing was changed. Pass --force to push it anyway."),
            ))
        };
        if !force && current.lineage != pushed.lineage {
            return refuse(
                format!(
                    "The pushed state has lineage {}, the environment's state {}",
                    pushed.lineage, current.lineage
                ),
                "It is the state of another environment or of another history.",
            );
        }
        if !force && pushed.serial < current.serial {
            return refuse(
                format!(
                    "The pushed state has serial {}, older than the current {}",
                    pushed.serial, current.serial
                ),
                "Something was applied since it was pulled.",
            );
        }
        if !force && pushed.serial == current.serial && pushed != current {
            return refuse(
                format!(
                    "The pushed state has the current serial {} but other contents",
                    pushed.serial
                ),
                "Raise its serial to say it is newer.",
            );
        }
    }
    backend.write(&pushed).map_err(state_error)?;
    println!(
        "Pushed the state (lineage {}, serial {}) to environment {env_name:?}.",
        pushed.lineage, pushed.serial
    );
    Ok(0)
}
