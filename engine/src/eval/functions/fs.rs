//! Filesystem and path functions. Relative paths resolve against the topology directory.

use super::super::expr::{EvalError, Evaluator, Iteration};
use super::super::{Phase, Scope};
use super::encoding::{digest_text, Hash};
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
    String::from_utf8(read_bytes(ctx, p)?).map_err(|_| {
        format!("cannot read {p:?}: it is not valid UTF-8 (use filebase64 for binary files)")
    })
}

/// Reads a regular file's bytes; see [`read`].
fn read_bytes(ctx: &FnCtx, p: &str) -> Result<Vec<u8>, String> {
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
    let mut s = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut s)
        .map_err(err)?;
    Ok(s)
}

pub(super) fn filebase64(a: &[Value], ctx: &FnCtx) -> R {
    use base64::Engine as _;
    let bytes = read_bytes(ctx, &str_arg(a, 0)?)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

fn file_hashed(a: &[Value], ctx: &FnCtx, h: Hash, base64: bool) -> R {
    let bytes = read_bytes(ctx, &str_arg(a, 0)?)?;
    Ok(Value::String(digest_text(h, &bytes, base64)))
}

pub(super) fn filemd5(a: &[Value], ctx: &FnCtx) -> R {
    file_hashed(a, ctx, Hash::Md5, false)
}

pub(super) fn filesha1(a: &[Value], ctx: &FnCtx) -> R {
    file_hashed(a, ctx, Hash::Sha1, false)
}

pub(super) fn filesha256(a: &[Value], ctx: &FnCtx) -> R {
    file_hashed(a, ctx, Hash::Sha256, false)
}

pub(super) fn filesha512(a: &[Value], ctx: &FnCtx) -> R {
    file_hashed(a, ctx, Hash::Sha512, false)
}

pub(super) fn filebase64sha256(a: &[Value], ctx: &FnCtx) -> R {
    file_hashed(a, ctx, Hash::Sha256, true)
}

pub(super) fn filebase64sha512(a: &[Value], ctx: &FnCtx) -> R {
    file_hashed(a, ctx, Hash::Sha512, true)
}

/// The most files `fileset` walks past: a pattern over a huge tree is an error, not a hang.
const MAX_FILESET_ENTRIES: usize = 100_000;

/// `fileset(path, pattern)`: the files (not directories) under `path` whose path relative to
/// it matches `pattern`, with `*`, `?`, `[...]`, `{a,b}` and `**` across directories.
pub(super) fn fileset(a: &[Value], ctx: &FnCtx) -> R {
    let base = resolve(ctx, &str_arg(a, 0)?);
    // The pattern is joined to the path, as Terraform joins them: a leading `/` separates.
    let pattern = str_arg(a, 1)?;
    let pattern: &str = pattern.trim_start_matches('/');
    let expanded = expand_braces(pattern);
    if expanded.len() > MAX_BRACE_EXPANSIONS {
        return Err(format!(
            "the pattern {pattern:?} expands to more than {MAX_BRACE_EXPANSIONS} alternatives"
        ));
    }
    let patterns = expanded
        .iter()
        .map(|p| glob::Pattern::new(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("failed to glob pattern {pattern:?}: {e}"))?;
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let mut out = Vec::new();
    let mut stack = vec![base.clone()];
    let mut seen = 0usize;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_FILESET_ENTRIES {
                return Err(format!(
                    "the directory has more than {MAX_FILESET_ENTRIES} entries to match"
                ));
            }
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(&base).unwrap_or(&path);
            let rel = rel.to_string_lossy().to_string();
            if path.is_file() && patterns.iter().any(|p| p.matches_with(&rel, opts)) {
                out.push(Value::String(rel));
            }
        }
    }
    out.sort_by(Value::set_order);
    Ok(Value::List(out))
}

/// The most patterns one `fileset` pattern's braces may expand to.
const MAX_BRACE_EXPANSIONS: usize = 1024;

/// `a{b,c}d` as `abd` and `acd`; nested and repeated braces expand in turn, stopping once
/// past [`MAX_BRACE_EXPANSIONS`].
fn expand_braces(p: &str) -> Vec<String> {
    let Some(open) = p.find('{') else {
        return vec![p.to_string()];
    };
    let mut depth = 0;
    let mut close = None;
    let mut cuts = Vec::new();
    for (i, c) in p[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            ',' if depth == 1 => cuts.push(open + i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![p.to_string()];
    };
    let mut bounds = vec![open];
    bounds.extend(cuts);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt = &p[w[0] + 1..w[1]];
        out.extend(expand_braces(&format!(
            "{}{alt}{}",
            &p[..open],
            &p[close + 1..]
        )));
        if out.len() > MAX_BRACE_EXPANSIONS {
            break;
        }
    }
    out
}

pub(super) fn file(a: &[Value], ctx: &FnCtx) -> R {
    read(ctx, &str_arg(a, 0)?).map(Value::String)
}

/// Whether a regular file exists; a directory is an error, as in Terraform.
pub(super) fn fileexists(a: &[Value], ctx: &FnCtx) -> R {
    let p = resolve(ctx, &str_arg(a, 0)?);
    if p.is_dir() {
        return Err(format!("{} is a directory, not a file", p.display()));
    }
    Ok(Value::Bool(p.is_file()))
}

/// An absolute path, cleaned as Go's `filepath.Abs` cleans it (`a/../b` is `b`).
pub(super) fn abspath(a: &[Value], ctx: &FnCtx) -> R {
    let p = resolve(ctx, &str_arg(a, 0)?);
    let abs = if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map_err(|e| e.to_string())?.join(p)
    };
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in abs.components() {
        match c {
            std::path::Component::Normal(x) => parts.push(x),
            std::path::Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let clean: PathBuf = std::iter::once(std::ffi::OsStr::new("/"))
        .chain(parts)
        .collect();
    Ok(Value::String(clean.display().to_string()))
}

pub(super) fn basename(a: &[Value], _: &FnCtx) -> R {
    let p: &str = &str_arg(a, 0)?;
    Ok(Value::from(
        Path::new(p)
            .file_name()
            .map_or(p.to_string(), |n| n.to_string_lossy().to_string()),
    ))
}

pub(super) fn dirname(a: &[Value], _: &FnCtx) -> R {
    let arg0 = str_arg(a, 0)?;
    let p = Path::new(&*arg0);
    Ok(Value::from(match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.display().to_string(),
        // Go's filepath.Dir: the root's directory is the root.
        None if p.has_root() => "/".to_string(),
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
    let path: &str = &str_arg(a, 0)?;
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
    ev.template(&template, crate::eval::template::Kind::heredoc(None))
        .map_err(|e: EvalError| {
            let line = text[..e.span.range.start.min(text.len())]
                .matches('\n')
                .count()
                + 1;
            format!("{path}:{line}: {}: {}", e.summary, e.detail)
        })
}

/// A leading `~` as the home directory; any other path unchanged.
pub(super) fn pathexpand(a: &[Value], _: &FnCtx) -> R {
    let p: &str = &str_arg(a, 0)?;
    let home = || {
        std::env::var("HOME").map_err(|_| "HOME is not set, so ~ cannot be expanded".to_string())
    };
    Ok(Value::String(match p.strip_prefix('~') {
        Some("") => home()?,
        Some(rest) if rest.starts_with('/') => format!("{}{rest}", home()?),
        _ => p.to_string(),
    }))
}
