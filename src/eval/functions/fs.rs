//! Filesystem and path functions. Relative paths resolve against the topology directory.

use super::super::expr::{EvalError, Evaluator, Iteration};
use super::super::{Phase, Scope};
use super::{arg, str_arg, FnCtx};
use crate::addr::{InstanceKey, ResourceAddr};
use standby_provider_sdk::Value;
use std::path::{Path, PathBuf};

type R = Result<Value, String>;

fn resolve(ctx: &FnCtx, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        ctx.base_dir.join(path)
    }
}

/// The largest file the file functions read.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// Reads a regular file. It is opened without blocking and checked before reading, so a FIFO
/// or a device (which would block the plan forever, or never end) is an error.
fn read(ctx: &FnCtx, p: &str) -> Result<String, String> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let err = |e: std::io::Error| format!("cannot read {p:?}: {e}");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(resolve(ctx, p))
        .map_err(err)?;
    let meta = f.metadata().map_err(err)?;
    if !meta.is_file() {
        return Err(format!(
            "cannot read {p:?}: it is not a regular file (a directory, a FIFO or a device)"
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "cannot read {p:?}: it has {} bytes, more than the {MAX_FILE_BYTES} the file functions read",
            meta.len()
        ));
    }
    let mut s = String::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut s)
        .map_err(err)?;
    Ok(s)
}

pub(super) fn file(a: &[Value], ctx: &FnCtx) -> R {
    read(ctx, str_arg(a, 0)?).map(Value::String)
}

pub(super) fn fileexists(a: &[Value], ctx: &FnCtx) -> R {
    Ok(Value::Bool(resolve(ctx, str_arg(a, 0)?).is_file()))
}

pub(super) fn abspath(a: &[Value], ctx: &FnCtx) -> R {
    let p = resolve(ctx, str_arg(a, 0)?);
    let abs = if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map_err(|e| e.to_string())?.join(p)
    };
    Ok(Value::String(abs.display().to_string()))
}

pub(super) fn basename(a: &[Value], _: &FnCtx) -> R {
    let p = str_arg(a, 0)?;
    Ok(Value::from(
        Path::new(p)
            .file_name()
            .map_or(p.to_string(), |n| n.to_string_lossy().to_string()),
    ))
}

pub(super) fn dirname(a: &[Value], _: &FnCtx) -> R {
    let p = Path::new(str_arg(a, 0)?);
    Ok(Value::from(match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.display().to_string(),
        _ => ".".to_string(),
    }))
}

/// The scope of a template file: only its own variables exist.
struct TemplateScope<'a> {
    phase: Phase,
    dir: &'a Path,
}

impl Scope for TemplateScope<'_> {
    fn var(&self, _: &str) -> Result<Value, String> {
        Err("templates see only the variables passed to templatefile()".into())
    }
    fn local(&self, n: &str) -> Result<Value, String> {
        self.var(n)
    }
    fn resource(&self, _: &ResourceAddr, _: Option<&InstanceKey>) -> Result<(Value, bool), String> {
        Err("templates see only the variables passed to templatefile()".into())
    }
    fn module(&self, n: &str, _: Option<&InstanceKey>, _: Option<&str>) -> Result<Value, String> {
        self.var(n)
    }
    fn other(&self, r: &str, _: &str) -> Result<Value, String> {
        self.var(r)
    }
    fn phase(&self) -> Phase {
        self.phase
    }
    fn base_dir(&self) -> &Path {
        self.dir
    }
}

pub(super) fn templatefile(a: &[Value], ctx: &FnCtx) -> R {
    let path = str_arg(a, 0)?;
    let text = read(ctx, path)?;
    let vars = match arg(a, 1)? {
        Value::Map(m) => m.clone(),
        other => {
            return Err(format!(
                "the second argument must be a map of variables, found {}",
                other.type_name()
            ))
        }
    };
    let template =
        hcl_edit::parser::parse_template(&text).map_err(|e| format!("{path}: {}", e.message()))?;
    let scope = TemplateScope {
        phase: ctx.phase,
        dir: ctx.base_dir,
    };
    let mut ev = Evaluator::new(&scope, u32::MAX, Iteration::default());
    for (k, v) in vars {
        ev.push_local(&k, v);
    }
    ev.template(&template, None).map_err(|e: EvalError| {
        let line = text[..e.span.range.start.min(text.len())]
            .matches('\n')
            .count()
            + 1;
        format!("{path}:{line}: {}: {}", e.summary, e.detail)
    })
}

/// A leading `~` as the home directory; any other path unchanged.
pub(super) fn pathexpand(a: &[Value], _: &FnCtx) -> R {
    let p = str_arg(a, 0)?;
    let home = || {
        std::env::var("HOME").map_err(|_| "HOME is not set, so ~ cannot be expanded".to_string())
    };
    Ok(Value::String(match p.strip_prefix('~') {
        Some("") => home()?,
        Some(rest) if rest.starts_with('/') => format!("{}{rest}", home()?),
        _ => p.to_string(),
    }))
}
