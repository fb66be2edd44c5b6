//! Saved plans: written signed, read only when the signature holds. A saved plan is what
//! apply executes without planning again, hooks included, so a hand-edited one must never run.
//!
//! The signature is an HMAC-SHA256 of the plan with a key of the workspace
//! (`.standby/plan.key`, made on first use, mode 0600), or of the file `STANDBY_PLAN_KEY_FILE`
//! names, for pipelines that plan and apply in different jobs and share the key as a secret.

use super::workspace::{state_error, Workspace};
use super::CliError;
use hmac::{KeyInit as _, Mac as _};
use standby_engine::plan::{Plan, PLAN_FORMAT_VERSION};
use std::path::{Path, PathBuf};

type Hmac = hmac::Hmac<sha2_011::Sha256>;

/// The plan key's length: as long as the hash.
const KEY_BYTES: usize = 32;

/// Where the key is, and whether standby may make it there: only the workspace's own key is
/// made; one that `STANDBY_PLAN_KEY_FILE` names must exist (a mistyped path in a pipeline
/// must fail at plan time, not at apply).
fn key_path(ws: &Workspace) -> Result<(PathBuf, bool), CliError> {
    match std::env::var_os("STANDBY_PLAN_KEY_FILE") {
        Some(p) if p.is_empty() => Err(CliError::msg(
            "STANDBY_PLAN_KEY_FILE is empty",
            "Set it to the file that holds the plan key, or unset it to use .standby/plan.key.",
        )),
        Some(p) => Ok((PathBuf::from(p), false)),
        None => Ok((ws.root.join(".standby").join("plan.key"), true)),
    }
}

/// The signing key; made (32 random bytes, mode 0600) when `create` and there is none.
fn key(ws: &Workspace, create: bool) -> Result<Vec<u8>, CliError> {
    let (path, own) = key_path(ws)?;
    let create = create && own;
    match std::fs::read(&path) {
        Ok(bytes) => {
            use base64::Engine as _;
            let text = String::from_utf8_lossy(&bytes);
            let text = text.trim();
            match hex::decode(text)
                .ok()
                .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
            {
                // An empty or short key would let anyone forge a signature.
                Some(k) if k.len() == KEY_BYTES => Ok(k),
                _ => Err(CliError::msg(
                    format!("The plan key {} is not valid", path.display()),
                    if own {
                        format!("It must hold a {KEY_BYTES}-byte key, as 64 hex digits or base64, as standby wrote it. Delete it to make a new one (plans saved with the old key can then no longer be applied).")
                    } else {
                        format!("It must hold a {KEY_BYTES}-byte key, as 64 hex digits or base64: make one with `openssl rand -hex 32`, and give the same file to every job that plans or applies.")
                    },
                )),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let mut k = vec![0_u8; KEY_BYTES];
            getrandom::getrandom(&mut k)
                .map_err(|e| CliError::msg("Cannot make a plan key", e.to_string()))?;
            if let Some(d) = path.parent() {
                std::fs::create_dir_all(d).map_err(|e| {
                    CliError::msg(format!("Cannot create {}", d.display()), e.to_string())
                })?;
            }
            standby_engine::state::atomic_write(&path, hex::encode(&k).as_bytes()).map_err(state_error)?;
            Ok(k)
        }
        Err(e) => Err(CliError::msg(
            format!("Cannot read the plan key {}", path.display()),
            format!("{e}. A saved plan is applied with the key it was signed with: apply it in the workspace that made it, or set STANDBY_PLAN_KEY_FILE to that key."),
        )),
    }
}

/// The plan's canonical bytes (a JSON value's keys are ordered) and their signature.
fn sign(key: &[u8], v: &serde_json::Value) -> Result<String, CliError> {
    let mut mac = Hmac::new_from_slice(key)
        .map_err(|e| CliError::msg("Cannot sign the plan", e.to_string()))?;
    mac.update(&serde_json::to_vec(v).unwrap_or_default());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// Writes `plan` to `out`, signed.
pub(crate) fn save(ws: &Workspace, plan: &Plan, out: &Path) -> Result<(), CliError> {
    let mut v = serde_json::to_value(plan)
        .map_err(|e| CliError::msg("Cannot encode the plan", e.to_string()))?;
    let signature = sign(&key(ws, true)?, &v)?;
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("signature".into(), serde_json::Value::String(signature));
    }
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::msg(format!("Cannot create {}", dir.display()), e.to_string()))?;
    standby_engine::state::atomic_write(out, &serde_json::to_vec(&v).unwrap_or_default())
        .map_err(state_error)
}

/// Reads a saved plan, refusing one whose signature does not hold.
pub(crate) fn read(ws: &Workspace, path: &Path) -> Result<Plan, CliError> {
    let bytes = std::fs::read(path).map_err(|e| {
        CliError::msg(
            format!("Cannot read the plan file {}", path.display()),
            e.to_string(),
        )
    })?;
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        CliError::msg(
            format!("{} is not a saved plan", path.display()),
            format!("It could not be parsed: {e}. Save plans with standby plan --out FILE."),
        )
    })?;
    let version = v
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if version != u64::from(PLAN_FORMAT_VERSION) {
        return Err(CliError::msg(format!("{} has plan format {version}", path.display()), format!("This standby reads plan format {PLAN_FORMAT_VERSION}. Make the plan again with this version.")));
    }
    let given = match &mut v {
        serde_json::Value::Object(m) => m.remove("signature"),
        _ => None,
    };
    let Some(serde_json::Value::String(given)) = given else {
        return Err(CliError::msg(
            format!("{} is not signed", path.display()),
            "standby signs every plan it saves, and applies only signed plans. Make the plan again with standby plan --out FILE.",
        ));
    };
    let expected = sign(&key(ws, false)?, &v)?;
    // Both are hex of the same length; compare without an early exit.
    let same = given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(CliError::msg(
            format!("{} was changed after standby saved it", path.display()),
            "Its signature does not match its content (or it was signed with another plan key). Nothing was changed. Make the plan again with standby plan --out FILE, and review it.",
        ));
    }
    serde_json::from_value(v).map_err(|e| {
        CliError::msg(
            format!("{} is not a valid saved plan", path.display()),
            e.to_string(),
        )
    })
}
