//! Finding providers without a network: filesystem mirrors in Terraform's unpacked layout
//! (`HOSTNAME/NAMESPACE/TYPE/VERSION/OS_ARCH/terraform-provider-TYPE*`) or packed layout
//! (`HOSTNAME/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip`), from `-plugin-dir`,
//! a CLI configuration's `provider_installation { filesystem_mirror { path = ... } }`, and
//! Terraform's implied local directories; the newest version the constraints allow; a copy in
//! the working directory's `.standby/providers`, hashed as Terraform's `h1:` does.

use crate::version::{Constraints, Version};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

/// A provider's source address: `registry.terraform.io/hashicorp/null`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source {
    /// `registry.terraform.io`.
    pub host: String,
    /// `hashicorp`.
    pub namespace: String,
    /// `null`.
    pub type_name: String,
}

impl Source {
    /// Parses `null`, `hashicorp/null` or `HOST/hashicorp/null`, as Terraform does (the
    /// default host is the public registry, the default namespace `hashicorp`).
    pub fn parse(s: &str) -> Result<Source, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let valid = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        };
        if parts.iter().any(|p| !valid(p)) || parts.len() > 3 {
            return Err(format!(
                "{s:?} is not a provider source such as \"hashicorp/null\""
            ));
        }
        let (host, namespace, type_name) = match parts.as_slice() {
            [t] => ("registry.terraform.io", "hashicorp", *t),
            [n, t] => ("registry.terraform.io", *n, *t),
            [h, n, t] => (*h, *n, *t),
            _ => return Err(format!("{s:?} is not a provider source")),
        };
        Ok(Source {
            host: host.to_ascii_lowercase(),
            namespace: namespace.to_ascii_lowercase(),
            type_name: type_name.to_ascii_lowercase(),
        })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.host, self.namespace, self.type_name)
    }
}

/// `linux_amd64`, as mirrors name platforms.
pub fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{}_{arch}", std::env::consts::OS)
}

/// A provider package found in a mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Its version.
    pub version: Version,
    /// The `OS_ARCH` directory, or the `.zip` archive when `packed`.
    pub dir: PathBuf,
    /// Whether it is an archive in the packed layout.
    pub packed: bool,
}

/// A package's files ready to hash and install, and for an archive its `zh:` hash (the
/// SHA-256 of the archive, as Terraform records it).
#[derive(Debug)]
pub struct Staged {
    /// The unpacked files.
    pub dir: PathBuf,
    /// `zh:HEX` for an archive.
    pub zh: Option<String>,
    /// Whether `dir` is a temporary unpacking, removed when dropped.
    temporary: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The package's files: its directory as it is, or an archive unpacked under
/// `.standby/providers`, where [`install`] moves it into place.
pub fn stage(root: &Path, pkg: &Package) -> Result<Staged, InstallError> {
    if !pkg.packed {
        return Ok(Staged {
            dir: pkg.dir.clone(),
            zh: None,
            temporary: false,
        });
    }
    let bytes = std::fs::read(&pkg.dir).map_err(io(&pkg.dir))?;
    let dir = root
        .join(".standby/providers")
        .join(format!(".unpacking-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let staged = Staged {
        dir,
        zh: Some(format!("zh:{}", hex::encode(Sha256::digest(&bytes)))),
        temporary: true,
    };
    // Unpacked from the bytes that were hashed: the file may change after it was read.
    crate::zip::unpack(&bytes, &staged.dir).map_err(|e| InstallError::Archive {
        path: pkg.dir.clone(),
        error: e,
    })?;
    Ok(staged)
}

/// A provider no mirror has in a version the constraints allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The provider.
    pub provider: Source,
    /// The constraints, as written.
    pub constraints: String,
    /// `linux_amd64`.
    pub platform: String,
    /// Every directory searched.
    pub searched: Vec<PathBuf>,
    /// Versions seen that the constraints refused.
    pub seen: Vec<String>,
}

/// Why a provider could not be installed or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstallError {
    /// No mirror has a version the constraints allow.
    #[error("no version of {} matching {:?} for {} in {}", .0.provider, .0.constraints, .0.platform, .0.searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotFound(Box<Missing>),
    /// A packed package could not be unpacked.
    #[error("{path}: {error}")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// Why.
        error: crate::zip::ZipError,
    },
    /// A file could not be read or written.
    #[error("{path}: {detail}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What.
        detail: String,
    },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> InstallError + '_ {
    move |e| InstallError::Io {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// A filesystem mirror, and which providers it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Its directory.
    pub path: PathBuf,
    /// `include` patterns (`registry.terraform.io/hashicorp/*`, `hashicorp/null`): when any
    /// are given, only the providers they match.
    pub include: Vec<String>,
    /// `exclude` patterns: never these.
    pub exclude: Vec<String>,
}

impl Mirror {
    /// A mirror of every provider.
    pub fn all(path: PathBuf) -> Mirror {
        Mirror {
            path,
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }

    /// Whether `source` may come from it, as Terraform reads `include` and `exclude`.
    pub fn serves(&self, source: &Source) -> bool {
        let hit = |p: &String| pattern_matches(p, source);
        (self.include.is_empty() || self.include.iter().any(hit)) && !self.exclude.iter().any(hit)
    }
}

/// Whether a pattern is one Terraform accepts: two or three parts, none empty, and after a
/// `*` only `*` (`*/null` is refused, as there).
fn valid_pattern(p: &str) -> bool {
    let parts: Vec<&str> = p.split('/').collect();
    (2..=3).contains(&parts.len())
        && parts.iter().all(|x| !x.is_empty())
        && parts.iter().skip_while(|x| **x != "*").all(|x| *x == "*")
}

/// A source pattern: `HOST/NAMESPACE/TYPE` (the host may be left out), each part a name or `*`.
fn pattern_matches(pattern: &str, source: &Source) -> bool {
    let parts: Vec<&str> = pattern.split('/').collect();
    let (host, ns, ty) = match parts.as_slice() {
        [n, t] => ("registry.terraform.io", *n, *t),
        [h, n, t] => (*h, *n, *t),
        _ => return false,
    };
    let part = |p: &str, v: &str| p == "*" || p.eq_ignore_ascii_case(v);
    part(host, &source.host) && part(ns, &source.namespace) && part(ty, &source.type_name)
}

/// The mirrors searched, in order: `-plugin-dir`s when given (and nothing else, as in
/// Terraform); else a CLI configuration's `provider_installation` mirrors when it has the block
/// (which, as in Terraform, replaces the implied directories); else the implied local
/// directories.
pub fn search_dirs(
    root: &Path,
    plugin_dirs: &[PathBuf],
    configured: Option<&[Mirror]>,
) -> Vec<Mirror> {
    if !plugin_dirs.is_empty() {
        return plugin_dirs
            .iter()
            .map(|d| Mirror::all(root.join(d)))
            .collect();
    }
    if let Some(c) = configured {
        return c.to_vec();
    }
    implied_dirs(root).into_iter().map(Mirror::all).collect()
}

fn implied_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.join("terraform.d/plugins")];
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        out.push(home.join(".terraform.d/plugins"));
        let data = std::env::var_os("XDG_DATA_HOME")
            .map_or_else(|| home.join(".local/share"), PathBuf::from);
        out.push(data.join("terraform/plugins"));
    }
    out.push("/usr/local/share/terraform/plugins".into());
    out.push("/usr/share/terraform/plugins".into());
    out
}

/// The filesystem mirrors a CLI configuration file sets:
/// `provider_installation { filesystem_mirror { path = "DIR", include = [...], exclude = [...] } }`,
/// in order; `None` when it has no `provider_installation` block. Other installation methods
/// (`direct`, `network_mirror`) need a network, which standby does not use.
pub fn configured_mirrors(path: &Path) -> Result<Option<Vec<Mirror>>, String> {
    use hcl_edit::expr::Expression;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let body: hcl_edit::structure::Body = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |what: &str| format!("{}: in a filesystem_mirror, {what}", path.display());
    let strings = |b: &hcl_edit::structure::Body, name: &str| -> Result<Vec<String>, String> {
        match b.get_attribute(name).map(|a| &a.value) {
            None => Ok(Vec::new()),
            Some(Expression::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Expression::String(s) if valid_pattern(s.value()) => Ok(s.value().to_string()),
                    Expression::String(s) => Err(bad(&format!("{:?} is not a provider source pattern (HOST/NAMESPACE/TYPE or NAMESPACE/TYPE; after a `*`, only `*`)", s.value().as_str()))),
                    _ => Err(bad(&format!("{name} must be a list of strings"))),
                })
                .collect(),
            Some(_) => Err(bad(&format!("{name} must be a list of strings"))),
        }
    };
    let mut blocks = body.get_blocks("provider_installation").peekable();
    if blocks.peek().is_none() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for pi in blocks {
        let known = [
            "filesystem_mirror",
            "direct",
            "network_mirror",
            "dev_overrides",
        ];
        if let Some(b) = pi
            .body
            .blocks()
            .find(|b| !known.contains(&b.ident.as_str()))
        {
            return Err(format!(
                "{}: provider_installation has no {:?} block; it takes {}",
                path.display(),
                b.ident.as_str(),
                known.join(", ")
            ));
        }
        for m in pi.body.get_blocks("filesystem_mirror") {
            let Some(Expression::String(s)) = m.body.get_attribute("path").map(|a| &a.value) else {
                return Err(bad("path = \"DIR\" is needed"));
            };
            out.push(Mirror {
                path: PathBuf::from(s.value().as_str()),
                include: strings(&m.body, "include")?,
                exclude: strings(&m.body, "exclude")?,
            });
        }
    }
    Ok(Some(out))
}

/// The package directory in a mirror laid out as Terraform's unpacked layout.
fn package_dir(mirror: &Path, source: &Source, version: &str) -> PathBuf {
    mirror
        .join(&source.host)
        .join(&source.namespace)
        .join(&source.type_name)
        .join(version)
        .join(platform())
}

/// The newest version the constraints allow, over every mirror.
pub fn find(
    mirrors: &[Mirror],
    source: &Source,
    constraints: &Constraints,
) -> Result<Package, InstallError> {
    let mut best: Option<Package> = None;
    let mut seen = Vec::new();
    let dirs: Vec<PathBuf> = mirrors
        .iter()
        .filter(|m| m.serves(source))
        .map(|m| m.path.clone())
        .collect();
    for mirror in &dirs {
        let versions = mirror
            .join(&source.host)
            .join(&source.namespace)
            .join(&source.type_name);
        let Ok(rd) = std::fs::read_dir(&versions) else {
            continue;
        };
        let archive = format!("terraform-provider-{}_", source.type_name);
        let suffix = format!("_{}.zip", platform());
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // The packed layout: an archive named with its version and platform.
            let packed = name
                .strip_prefix(&archive)
                .and_then(|n| n.strip_suffix(&suffix));
            let (version, dir) = match packed {
                Some(v) => (v.to_string(), e.path()),
                None => (name.clone(), package_dir(mirror, source, &name)),
            };
            let Ok(v) = Version::parse(&version) else {
                continue;
            };
            if packed.is_none() && executable(&dir, source).is_none() {
                continue;
            }
            if !constraints.allows(&v) {
                seen.push(v.to_string());
                continue;
            }
            // For one version, an unpacked directory is preferred to an archive.
            let better = best
                .as_ref()
                .is_none_or(|b| v > b.version || (v == b.version && b.packed && packed.is_none()));
            if better {
                best = Some(Package {
                    version: v,
                    dir,
                    packed: packed.is_some(),
                });
            }
        }
    }
    best.ok_or_else(|| {
        InstallError::NotFound(Box::new(Missing {
            provider: source.clone(),
            constraints: constraints.text().to_string(),
            platform: platform(),
            searched: dirs,
            seen,
        }))
    })
}

/// The provider program in a package directory: `terraform-provider-TYPE` or
/// `terraform-provider-TYPE_vVERSION[_xN]`.
pub fn executable(dir: &Path, source: &Source) -> Option<PathBuf> {
    let prefix = format!("terraform-provider-{}", source.type_name);
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n == prefix || n.starts_with(&format!("{prefix}_"))
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Terraform's `h1:` hash of a package directory (Go's `dirhash.Hash1`): the SHA-256 of the
/// lines `HEX-SHA256  NAME\n` of every file, sorted by name, in base64.
pub fn h1(dir: &Path) -> Result<String, InstallError> {
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    let mut summary = String::new();
    for name in &files {
        let bytes = std::fs::read(dir.join(name)).map_err(io(&dir.join(name)))?;
        summary.push_str(&format!(
            "{}  {name}\n",
            hex::encode(Sha256::digest(&bytes))
        ));
    }
    Ok(format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(summary.as_bytes()))
    ))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), InstallError> {
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let p = e.path();
        // As Go's filepath.Walk: a symlink is not followed as a directory.
        if e.file_type().map_err(io(&p))?.is_dir() {
            walk(root, &p, out)?;
        } else {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// Where a package is installed in the working directory.
pub fn installed_dir(root: &Path, source: &Source, version: &Version) -> PathBuf {
    package_dir(
        &root.join(".standby/providers"),
        source,
        &version.to_string(),
    )
}

/// Puts a staged package into the working directory, replacing what was there: an unpacked
/// archive is moved, a mirror's directory copied.
pub fn install(
    root: &Path,
    source: &Source,
    version: &Version,
    staged: &mut Staged,
) -> Result<PathBuf, InstallError> {
    let to = installed_dir(root, source, version);
    if to == staged.dir {
        return Ok(to);
    }
    let _ = std::fs::remove_dir_all(&to);
    if staged.temporary {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::rename(&staged.dir, &to).map_err(io(&to))?;
        staged.temporary = false;
        return Ok(to);
    }
    std::fs::create_dir_all(&to).map_err(io(&to))?;
    let mut files = Vec::new();
    walk(&staged.dir, &staged.dir, &mut files)?;
    for f in files {
        let (from, dest) = (staged.dir.join(&f), to.join(&f));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::copy(&from, &dest).map_err(io(&from))?;
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_default_as_in_terraform() {
        assert_eq!(
            Source::parse("null").unwrap().to_string(),
            "registry.terraform.io/hashicorp/null"
        );
        assert_eq!(
            Source::parse("hashicorp/null").unwrap().to_string(),
            "registry.terraform.io/hashicorp/null"
        );
        assert_eq!(
            Source::parse("Example.com/Acme/Thing").unwrap().to_string(),
            "example.com/acme/thing"
        );
        assert!(
            Source::parse("a/b/c/d").is_err()
                && Source::parse("a//b").is_err()
                && Source::parse("a b").is_err()
        );
    }

    /// The hash of a known directory, computed the way Go's dirhash.Hash1 does by hand.
    #[test]
    fn h1_is_dirhash_hash1() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("b"), "second").unwrap();
        std::fs::create_dir(d.path().join("a")).unwrap();
        std::fs::write(d.path().join("a/x"), "first").unwrap();
        let lines = format!(
            "{}  a/x\n{}  b\n",
            hex::encode(Sha256::digest(b"first")),
            hex::encode(Sha256::digest(b"second"))
        );
        let want = format!(
            "h1:{}",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(lines.as_bytes()))
        );
        assert_eq!(h1(d.path()).unwrap(), want);
    }

    #[test]
    fn a_cli_configuration_is_read_as_terraform_reads_it() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("rc");
        std::fs::write(&f, "plugin_cache_dir = \"/x\"\n").unwrap();
        assert_eq!(configured_mirrors(&f).unwrap(), None);
        std::fs::write(
            &f,
            "provider_installation {\n  filesystem_mirror {\n    path = \"/m\"\n    include = [\"hashicorp/*\"]\n  }\n  direct {}\n}\n",
        )
        .unwrap();
        let m = configured_mirrors(&f).unwrap().unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m[0].path.to_str(), m[0].include.as_slice()),
            (Some("/m"), &["hashicorp/*".to_string()][..])
        );
        std::fs::write(
            &f,
            "provider_installation {\n  filesystem_mirorr {\n    path = \"/m\"\n  }\n}\n",
        )
        .unwrap();
        let e = configured_mirrors(&f).unwrap_err();
        assert!(e.contains("no \"filesystem_mirorr\" block"), "{e}");
    }

    #[test]
    fn include_and_exclude_patterns_choose_what_a_mirror_serves() {
        let null = Source::parse("hashicorp/null").unwrap();
        let lxd = Source::parse("terraform-lxd/lxd").unwrap();
        let m = |include: &[&str], exclude: &[&str]| Mirror {
            path: PathBuf::new(),
            include: include.iter().map(ToString::to_string).collect(),
            exclude: exclude.iter().map(ToString::to_string).collect(),
        };
        assert!(m(&[], &[]).serves(&null));
        assert!(m(&["registry.terraform.io/hashicorp/*"], &[]).serves(&null));
        assert!(!m(&["hashicorp/*"], &[]).serves(&lxd));
        assert!(!m(&[], &["hashicorp/null"]).serves(&null));
        assert!(m(&[], &["hashicorp/null"]).serves(&lxd));
        assert!(valid_pattern("registry.terraform.io/*/*") && valid_pattern("hashicorp/*"));
        assert!(!valid_pattern("*/null") && !valid_pattern("null") && !valid_pattern("a//b"));
        assert!(!m(&["example.com/*/*"], &[]).serves(&null));
    }

    #[test]
    fn the_newest_allowed_version_wins_and_a_miss_names_what_it_searched() {
        let m = tempfile::tempdir().unwrap();
        let src = Source::parse("hashicorp/null").unwrap();
        for v in ["2.1.2", "2.2.0", "3.0.0"] {
            let d = package_dir(m.path(), &src, v);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(format!("terraform-provider-null_v{v}_x4")), "bin").unwrap();
        }
        let dirs = [Mirror::all(m.path().to_path_buf())];
        let found = find(&dirs, &src, &Constraints::parse("~> 2.1").unwrap()).unwrap();
        assert_eq!(found.version.to_string(), "2.2.0");
        let miss = find(&dirs, &src, &Constraints::parse("~> 4.0").unwrap()).unwrap_err();
        let text = miss.to_string();
        assert!(
            text.contains("\"~> 4.0\"") && text.contains(&m.path().display().to_string()),
            "{text}"
        );
    }
}
