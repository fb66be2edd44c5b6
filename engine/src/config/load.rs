//! Reading directories of `.hcl` files, and variable files.

use super::decode::{Decoder, PendingCall};
use super::model::{Attr, Body, Config, Expr, Module, ModuleCall};

use crate::diag::{Diagnostic, Diagnostics, FileId, Sources, Span};
use hcl_edit::structure::Structure;
use hcl_edit::Span as _;
use std::path::{Path, PathBuf};

/// Where topology files come from: the disk, or a git tree read without a checkout.
pub trait FileSource {
    /// Whether `p` is a directory.
    fn is_dir(&self, p: &Path) -> bool;
    /// The `.hcl` files directly in `dir`, sorted.
    fn hcl_files(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>>;
    /// A file's text.
    fn read(&self, p: &Path) -> std::io::Result<String>;
    /// A canonical form of `p`, for detecting module recursion.
    fn canonical(&self, p: &Path) -> PathBuf;
}

/// The filesystem.
pub struct Disk;

impl FileSource for Disk {
    fn is_dir(&self, p: &Path) -> bool {
        p.is_dir()
    }
    fn hcl_files(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        hcl_files(dir)
    }
    fn read(&self, p: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(p)
    }
    fn canonical(&self, p: &Path) -> PathBuf {
        p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Files held in memory by absolute path, such as a git tree.
#[derive(Debug, Clone, Default)]
pub struct MemoryFiles {
    /// Path to text.
    pub files: std::collections::BTreeMap<PathBuf, String>,
}

/// `a/b/../c` to `a/c`, without touching the disk.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

impl FileSource for MemoryFiles {
    fn is_dir(&self, p: &Path) -> bool {
        let p = normalize(p);
        self.files.keys().any(|f| f.starts_with(&p) && *f != p)
    }
    fn hcl_files(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let dir = normalize(dir);
        Ok(self
            .files
            .keys()
            .filter(|f| f.parent() == Some(dir.as_path()) && topology_file(f))
            .cloned()
            .collect())
    }
    fn read(&self, p: &Path) -> std::io::Result<String> {
        self.files.get(&normalize(p)).cloned().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is not in the revision", p.display()),
            )
        })
    }
    fn canonical(&self, p: &Path) -> PathBuf {
        normalize(p)
    }
}

/// Loads the topology in `dir` and every local module it calls. Reports every error found.
pub fn load(dir: &Path) -> Result<Config, (Sources, Diagnostics)> {
    let (config, diags) = load_partial(dir);
    if diags.is_empty() {
        Ok(config)
    } else {
        Err((config.sources, diags))
    }
}

/// Loads as much of the topology as can be read, with every error found. Later checks can run
/// on the partial result, so that all problems are reported at once.
pub fn load_partial(dir: &Path) -> (Config, Diagnostics) {
    load_partial_from(dir, &Disk)
}

/// As [`load_partial`], reading files from `fs`.
pub fn load_partial_from(dir: &Path, fs: &dyn FileSource) -> (Config, Diagnostics) {
    let mut sources = Sources::default();
    let mut diags = Diagnostics::default();
    let root_dir = dir.to_path_buf();
    if !fs.is_dir(dir) {
        diags.push(Diagnostic::bare(
            format!("No topology directory at {}", dir.display()),
            "Pass the directory holding your .hcl files with -C DIR, or run standby from inside it.",
        ));
        return (
            Config {
                sources,
                root: Module::default(),
                root_dir,
                env_files: Default::default(),
                revision: None,
            },
            diags,
        );
    }
    let mut stack = Vec::new();
    let root = load_module(fs, dir, dir, &mut sources, &mut diags, &mut stack);
    if root.resources.is_empty()
        && root.calls.is_empty()
        && root.outputs.is_empty()
        && diags.is_empty()
        && sources.iter().next().is_none()
    {
        diags.push(Diagnostic::bare(
            format!("No .hcl files in {}", dir.display()),
            "A topology is a directory of .hcl files; pass it with -C DIR.",
        ));
    }
    let env_files = env_files(fs, &dir.join("env"));
    (
        Config {
            sources,
            root,
            root_dir,
            env_files,
            revision: None,
        },
        diags,
    )
}

/// The environment files in `dir` (`env/`), by name.
#[allow(clippy::type_complexity)] // reason: the field's own type, built here
fn env_files(
    fs: &dyn FileSource,
    dir: &Path,
) -> std::collections::BTreeMap<String, (PathBuf, Result<String, String>)> {
    let mut out = std::collections::BTreeMap::new();
    if !fs.is_dir(dir) {
        return out;
    }
    for p in fs.hcl_files(dir).unwrap_or_default() {
        let Some(name) = p.file_stem() else {
            continue;
        };
        let text = fs.read(&p).map_err(|e| e.to_string());
        out.insert(name.to_string_lossy().into_owned(), (p.clone(), text));
    }
    out
}

fn hcl_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && topology_file(p))
        .collect();
    files.sort();
    Ok(files)
}

/// A `.hcl` file of the topology. As in Terraform, names starting with a dot are not: the
/// lock file `.standby.lock.hcl` is one, and editors' hidden files.
fn topology_file(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "hcl")
        && !p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// Parses one file into `sources`, reporting a syntax error as a diagnostic.
pub(crate) fn parse_file(
    fs: &dyn FileSource,
    path: &Path,
    shown_as: &Path,
    sources: &mut Sources,
    diags: &mut Diagnostics,
) -> Option<(FileId, hcl_edit::structure::Body)> {
    let text = match fs.read(path) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::bare(
                format!("Cannot read {}", path.display()),
                e.to_string(),
            ));
            return None;
        }
    };
    let file = sources.add(shown_as.to_path_buf(), text.clone());
    match hcl_edit::parser::parse_body(&super::heredoc::empty_heredocs_as_strings(&text)) {
        Ok(body) => Some((file, body)),
        Err(e) => {
            let loc = e.location();
            let offset = loc.offset();
            diags.push(Diagnostic::at(
                Span { file, range: offset..(offset + 1).min(text.len()).max(offset) },
                "Syntax error",
                format!(
                    "The file could not be parsed at line {}, column {}: {}. Check for a missing brace, quote or `=`.",
                    loc.line(),
                    loc.column(),
                    e.message().replace('\n', " ")
                ),
            ));
            None
        }
    }
}

fn load_module(
    fs: &dyn FileSource,
    root: &Path,
    dir: &Path,
    sources: &mut Sources,
    diags: &mut Diagnostics,
    stack: &mut Vec<PathBuf>,
) -> Module {
    let canonical = fs.canonical(dir);
    stack.push(canonical);
    let mut module = Module {
        dir: dir.to_path_buf(),
        ..Module::default()
    };
    let mut calls: Vec<PendingCall> = Vec::new();
    let files = match fs.hcl_files(dir) {
        Ok(f) => f,
        Err(e) => {
            diags.push(Diagnostic::bare(
                format!("Cannot list {}", dir.display()),
                e.to_string(),
            ));
            Vec::new()
        }
    };
    for path in files {
        let shown = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        if let Some((file, body)) = parse_file(fs, &path, &shown, sources, diags) {
            let root_module = stack.len() == 1;
            Decoder {
                file,
                module: &mut module,
                calls: &mut calls,
                diags,
                root: root_module,
            }
            .body(&body);
        }
    }
    for call in calls {
        let Some(source) = call.source.clone() else {
            continue;
        };
        if !(source.starts_with("./") || source.starts_with("../")) {
            diags.push(Diagnostic::at(
                call.span.clone(),
                format!("Unsupported module source {source:?}"),
                "Only local modules are supported: the source must start with ./ or ../.",
            ));
            continue;
        }
        let child_dir = dir.join(&source);
        let child_canon = fs.canonical(&child_dir);
        if stack.contains(&child_canon) {
            diags.push(Diagnostic::at(
                call.span.clone(),
                "Module calls itself",
                format!("{source:?} is already being loaded higher up the call chain; module recursion is not allowed."),
            ));
            continue;
        }
        if !fs.is_dir(&child_dir) {
            diags.push(Diagnostic::at(
                call.span.clone(),
                format!("Module directory {source:?} does not exist"),
                format!("Create {} or fix the source path.", child_dir.display()),
            ));
            continue;
        }
        let child = load_module(fs, root, &child_dir, sources, diags, stack);
        for (name, arg) in &call.args {
            if !child.variables.contains_key(name) {
                diags.push(Diagnostic::at(
                    arg.span.clone(),
                    format!("Unsupported argument {name:?} for module {:?}", call.name),
                    format!(
                        "The module declares no variable {name:?}.{}",
                        crate::diag::suggestion(name, child.variables.keys().map(String::as_str))
                    ),
                ));
            }
        }
        for (name, v) in &child.variables {
            if v.default.is_none() && !call.args.contains_key(name) {
                diags.push(Diagnostic::at(
                    call.span.clone(),
                    format!("Missing required argument {name:?} for module {:?}", call.name),
                    format!("The module's variable {name:?} has no default; set {name} = ... in the module block."),
                ));
            }
        }
        module.calls.insert(
            call.name.clone(),
            ModuleCall {
                name: call.name,
                source,
                count: call.count,
                for_each: call.for_each,
                depends_on: call.depends_on,
                args: call.args,
                span: call.span,
                module: Box::new(child),
            },
        );
    }
    stack.pop();
    module
}

/// A file of variable assignments: an environment file or a `--var-file`.
#[derive(Debug, Clone, Default)]
pub struct VarFile {
    /// The assignments, in file order.
    pub values: Body,
}

/// Loads a file of `name = value` assignments into `sources`.
pub fn load_var_file(path: &Path, sources: &mut Sources) -> Result<VarFile, Diagnostics> {
    load_var_file_from(&Disk, path, sources)
}

/// As [`load_var_file`], reading the file from `fs` (a git revision, say).
pub fn load_var_file_from(
    fs: &dyn FileSource,
    path: &Path,
    sources: &mut Sources,
) -> Result<VarFile, Diagnostics> {
    let mut diags = Diagnostics::default();
    // A `.json` var file (Terraform's `.tfvars.json`) is one JSON object; its values are
    // written out as HCL, whose literals JSON's are, and read like any other var file.
    let json_text;
    let mut fs = fs;
    if path.extension().is_some_and(|e| e == "json") {
        match json_var_file(fs, path) {
            Ok(m) => {
                json_text = m;
                fs = &json_text;
            }
            Err(d) => {
                diags.push(d);
                return Err(diags);
            }
        }
    }
    let Some((file, body)) = parse_file(fs, path, path, sources, &mut diags) else {
        return Err(diags);
    };
    let mut values = Body::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let name = a.key.value().to_string();
                values.insert(
                    name.clone(),
                    Attr {
                        name,
                        expr: Expr {
                            file,
                            inner: a.value.clone(),
                        },
                        span: Span::new(file, a.span()),
                    },
                );
            }
            Structure::Block(b) => diags.push(Diagnostic::at(
                Span::new(file, b.ident.span()),
                "Blocks are not allowed in a variables file",
                "A variables file holds only assignments such as `region = \"us-east\"`.",
            )),
        }
    }
    diags.into_result(VarFile { values })
}

/// A JSON value as the HCL literal of the same value. Strings are literal, as Terraform reads
/// `.tfvars.json`: `${` and `%{` are escaped rather than made templates, and control
/// characters are written as `\uNNNN`, which HCL reads (it has no `\b` or `\f`).
fn hcl_literal(v: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match v {
        J::String(s) => {
            let mut out = String::from("\"");
            let mut chars = s.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '$' | '%' if chars.peek() == Some(&'{') => {
                        out.push(c);
                        out.push(c);
                    }
                    c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        J::Array(items) => format!(
            "[{}]",
            items.iter().map(hcl_literal).collect::<Vec<_>>().join(", ")
        ),
        J::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, x)| format!(
                    "{} = {}",
                    hcl_literal(&J::String(k.clone())),
                    hcl_literal(x)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// A JSON var file as the HCL assignments it stands for.
fn json_var_file(fs: &dyn FileSource, path: &Path) -> Result<MemoryFiles, Diagnostic> {
    let text = fs
        .read(path)
        .map_err(|e| Diagnostic::bare(format!("Cannot read {}", path.display()), e.to_string()))?;
    let bad = |detail: String| {
        Diagnostic::bare(format!("Invalid JSON var file {}", path.display()), detail)
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "{e}. A JSON var file is one object of NAME: VALUE."
        ))
    })?;
    let serde_json::Value::Object(m) = v else {
        return Err(bad("It must be one object of NAME: VALUE.".into()));
    };
    let mut hcl = String::new();
    for (k, v) in m {
        let ident = !k.is_empty()
            && k.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            && !k.starts_with(|c: char| c.is_ascii_digit() || c == '-');
        if !ident {
            return Err(bad(format!("{k:?} is not a variable name.")));
        }
        hcl.push_str(&format!("{k} = {}\n", hcl_literal(&v)));
    }
    Ok(MemoryFiles {
        files: std::collections::BTreeMap::from([(normalize(path), hcl)]),
    })
}

/// Parses a policy file of `fs` into `sources`, for `standby check` and review.
pub fn parse_policy_file(
    fs: &dyn FileSource,
    path: &Path,
    shown_as: &Path,
    sources: &mut Sources,
    diags: &mut Diagnostics,
) -> Option<(FileId, hcl_edit::structure::Body)> {
    parse_file(fs, path, shown_as, sources, diags)
}
