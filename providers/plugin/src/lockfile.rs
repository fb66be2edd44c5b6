//! `.standby.lock.hcl`, in the format of Terraform's dependency lock file: one `provider`
//! block per source address with the selected version, the constraints it was selected under,
//! and the package hashes (`h1:` of the unpacked package, `zh:` of a registry's zip) that any
//! later run must match.

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};
use std::collections::BTreeMap;
use std::path::Path;

/// The file's name in the topology's root.
pub const FILE: &str = ".standby.lock.hcl";

/// One provider's entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locked {
    /// The selected version.
    pub version: String,
    /// The constraints it was selected under, as written.
    pub constraints: Option<String>,
    /// Every hash that the package may have.
    pub hashes: Vec<String>,
}

/// The whole file, by source address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockFile {
    /// Entries by `registry.terraform.io/hashicorp/null`.
    pub providers: BTreeMap<String, Locked>,
}

fn string(e: &Expression) -> Option<String> {
    match e {
        Expression::String(s) => Some(s.value().to_string()),
        _ => None,
    }
}

impl LockFile {
    /// Parses the file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<LockFile, String> {
        let body: Body = text
            .parse()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut out = LockFile::default();
        for s in body.iter() {
            let Structure::Block(b) = s else {
                return Err(format!(
                    "{}: only provider blocks belong in a lock file",
                    path.display()
                ));
            };
            if b.ident.value().as_str() != "provider" || b.labels.len() != 1 {
                return Err(format!(
                    "{}: unexpected block {:?}",
                    path.display(),
                    b.ident.value().as_str()
                ));
            }
            let source = b.labels[0].as_str().to_string();
            let mut l = Locked::default();
            for a in b.body.attributes() {
                let bad = || {
                    format!(
                        "{}: provider {source:?}: {} is not what Terraform writes",
                        path.display(),
                        a.key.value().as_str()
                    )
                };
                match a.key.value().as_str() {
                    "version" => l.version = string(&a.value).ok_or_else(bad)?,
                    "constraints" => l.constraints = Some(string(&a.value).ok_or_else(bad)?),
                    "hashes" => {
                        let Expression::Array(items) = &a.value else {
                            return Err(bad());
                        };
                        l.hashes = items
                            .iter()
                            .map(|i| string(i).ok_or_else(bad))
                            .collect::<Result<_, _>>()?;
                    }
                    _ => {}
                }
            }
            if l.version.is_empty() {
                return Err(format!(
                    "{}: provider {source:?} has no version",
                    path.display()
                ));
            }
            out.providers.insert(source, l);
        }
        Ok(out)
    }

    /// Reads the file in `root`; a missing file is an empty lock.
    pub fn read(root: &Path) -> Result<LockFile, String> {
        let path = root.join(FILE);
        match std::fs::read_to_string(&path) {
            Ok(t) => LockFile::parse(&t, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LockFile::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// The file's text, as Terraform lays it out.
    pub fn render(&self) -> String {
        let mut s = String::from("# This file is maintained automatically by \"standby init\".\n# Manual edits may be lost in future updates.\n");
        for (source, l) in &self.providers {
            s.push_str(&format!(
                "\nprovider {source:?} {{\n  version     = {:?}\n",
                l.version
            ));
            if let Some(c) = &l.constraints {
                s.push_str(&format!("  constraints = {c:?}\n"));
            }
            s.push_str("  hashes = [\n");
            for h in &l.hashes {
                s.push_str(&format!("    {h:?},\n"));
            }
            s.push_str("  ]\n}\n");
        }
        s
    }

    /// Writes the file into `root`.
    pub fn write(&self, root: &Path) -> Result<(), String> {
        let path = root.join(FILE);
        std::fs::write(&path, self.render()).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TERRAFORMS: &str = r#"# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/hashicorp/null" {
  version     = "2.1.2"
  constraints = "~> 2.1"
  hashes = [
    "h1:CFnENdqQu4g3LJNevA32aDxcUz2qGkRGQpFfkI8TCdE=",
    "zh:0cc7236f1e4b2f6f3aa2a1e3b9d4dc1b3d8e0e5cd0f6d7e3f1a2a4a5b6c7d8e9",
  ]
}
"#;

    #[test]
    fn terraforms_file_round_trips() {
        let l = LockFile::parse(TERRAFORMS, Path::new("x")).unwrap();
        let p = &l.providers["registry.terraform.io/hashicorp/null"];
        assert_eq!(p.version, "2.1.2");
        assert_eq!(p.constraints.as_deref(), Some("~> 2.1"));
        assert_eq!(p.hashes.len(), 2);
        assert_eq!(LockFile::parse(&l.render(), Path::new("x")).unwrap(), l);
    }

    #[test]
    fn a_broken_file_is_an_error_naming_it() {
        let e = LockFile::parse(
            "provider \"x\" { hashes = 3 }",
            Path::new("/w/.standby.lock.hcl"),
        )
        .unwrap_err();
        assert!(e.starts_with("/w/.standby.lock.hcl"), "{e}");
        assert!(LockFile::parse("provider \"x\" {}", Path::new("f"))
            .unwrap_err()
            .contains("no version"));
    }
}
