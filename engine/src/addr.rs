//! Typed addresses with one canonical string form, such as
//! `module.db["east"].local_file.conf[0]`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The key of one instance of a resource or module with `count` or `for_each`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InstanceKey {
    /// A `count` index.
    Int(u64),
    /// A `for_each` key.
    Str(String),
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::Int(i) => write!(f, "[{i}]"),
            InstanceKey::Str(s) => write!(f, "[{}]", serde_json::Value::String(s.clone())),
        }
    }
}

/// One step of a module instance path: the call name and the instance key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ModuleStep {
    /// The `module "NAME"` label.
    pub name: String,
    /// The instance key, when the call has `count` or `for_each`.
    pub key: Option<InstanceKey>,
}

/// A module instance: empty for the root module.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ModuleInstance(pub Vec<ModuleStep>);

impl ModuleInstance {
    /// The root module.
    pub fn root() -> Self {
        Self::default()
    }

    /// A child instance of this one.
    pub fn child(&self, name: &str, key: Option<InstanceKey>) -> Self {
        let mut steps = self.0.clone();
        steps.push(ModuleStep {
            name: name.to_string(),
            key,
        });
        Self(steps)
    }

    /// The static module path: call names without instance keys.
    pub fn path(&self) -> Vec<String> {
        self.0.iter().map(|s| s.name.clone()).collect()
    }

    /// True for the root module.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ModuleInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ".")?;
            }
            write!(f, "module.{}", s.name)?;
            if let Some(k) = &s.key {
                write!(f, "{k}")?;
            }
        }
        Ok(())
    }
}

/// Managed resource or data source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A `resource` block.
    Managed,
    /// A `data` block.
    Data,
}

/// A resource within a module: `local_file.conf` or `data.local_file.x`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceAddr {
    /// Managed or data.
    pub mode: Mode,
    /// The resource type, such as `local_file`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The block's name label.
    pub name: String,
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mode == Mode::Data {
            write!(f, "data.")?;
        }
        write!(f, "{}.{}", self.type_name, self.name)
    }
}

/// A resource in a module instance, with all its instances: `module.a.local_file.x`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AbsResource {
    /// The module instance.
    pub module: ModuleInstance,
    /// The resource.
    pub resource: ResourceAddr,
}

impl fmt::Display for AbsResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.module.is_root() {
            write!(f, "{}.", self.module)?;
        }
        write!(f, "{}", self.resource)
    }
}

/// One resource instance: the unit of state and of planned change.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AbsInstance {
    /// The resource.
    pub resource: AbsResource,
    /// The instance key, when the resource has `count` or `for_each`.
    pub key: Option<InstanceKey>,
}

impl fmt::Display for AbsInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.resource)?;
        if let Some(k) = &self.key {
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

/// An address that failed to parse.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid address {input:?}: {reason}")]
pub struct AddrError {
    input: String,
    reason: &'static str,
}

/// A parsed address that may name a whole resource or module, or one instance, used by
/// `--target`, `--replace` and `state` commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Module steps; a step without a key matches every instance.
    pub module: ModuleInstance,
    /// The resource, if the address goes that deep.
    pub resource: Option<ResourceAddr>,
    /// The instance key, if given.
    pub key: Option<InstanceKey>,
}

impl Target {
    /// True if the instance is this target or inside it.
    pub fn matches(&self, inst: &AbsInstance) -> bool {
        let m = &inst.resource.module.0;
        if m.len() < self.module.0.len() {
            return false;
        }
        for (want, have) in self.module.0.iter().zip(m) {
            if want.name != have.name || (want.key.is_some() && want.key != have.key) {
                return false;
            }
        }
        match &self.resource {
            None => true,
            Some(r) => {
                m.len() == self.module.0.len()
                    && *r == inst.resource.resource
                    && (self.key.is_none() || self.key == inst.key)
            }
        }
    }

    /// The instance this target names exactly, if it names one.
    pub fn as_instance(&self) -> Option<AbsInstance> {
        Some(AbsInstance {
            resource: AbsResource {
                module: self.module.clone(),
                resource: self.resource.clone()?,
            },
            key: self.key.clone(),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(r) = &self.resource else {
            return write!(f, "{}", self.module);
        };
        if !self.module.is_root() {
            write!(f, "{}.", self.module)?;
        }
        write!(f, "{r}")?;
        if let Some(k) = &self.key {
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Target {
    type Err = AddrError;

    fn from_str(input: &str) -> Result<Self, AddrError> {
        let err = |reason| AddrError {
            input: input.to_string(),
            reason,
        };
        let mut rest = input.trim();
        let mut module = ModuleInstance::root();
        let mut resource = None;
        let mut key = None;
        while !rest.is_empty() {
            let (word, after) = split_word(rest);
            match word {
                "module" => {
                    let (name, after) = split_word(
                        after
                            .strip_prefix('.')
                            .ok_or(err("expected '.' after module"))?,
                    );
                    if name.is_empty() {
                        return Err(err("expected a module name"));
                    }
                    let (k, after) = parse_key(after).map_err(err)?;
                    module.0.push(ModuleStep {
                        name: name.to_string(),
                        key: k,
                    });
                    rest = after.strip_prefix('.').unwrap_or(after);
                    if !after.is_empty() && !after.starts_with('.') {
                        return Err(err("unexpected text after module"));
                    }
                }
                "" => return Err(err("expected a name")),
                _ => {
                    let (mode, type_name, after) = if word == "data" {
                        let (t, a) = split_word(
                            after
                                .strip_prefix('.')
                                .ok_or(err("expected '.' after data"))?,
                        );
                        (Mode::Data, t, a)
                    } else {
                        (Mode::Managed, word, after)
                    };
                    let (name, after) =
                        split_word(after.strip_prefix('.').ok_or(err("expected TYPE.NAME"))?);
                    if name.is_empty() || type_name.is_empty() {
                        return Err(err("expected TYPE.NAME"));
                    }
                    let (k, after) = parse_key(after).map_err(err)?;
                    if !after.is_empty() {
                        return Err(err("unexpected text after the resource"));
                    }
                    resource = Some(ResourceAddr {
                        mode,
                        type_name: type_name.into(),
                        name: name.into(),
                    });
                    key = k;
                    rest = "";
                }
            }
        }
        Ok(Target {
            module,
            resource,
            key,
        })
    }
}

fn split_word(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(s.len());
    s.split_at(end)
}

fn parse_key(s: &str) -> Result<(Option<InstanceKey>, &str), &'static str> {
    let Some(inner) = s.strip_prefix('[') else {
        return Ok((None, s));
    };
    if inner.starts_with('"') {
        // A string key as `Display` writes it: JSON-quoted, so it may hold `]`, `"` and `\`.
        let mut escaped = false;
        let end = inner
            .char_indices()
            .skip(1)
            .find(|&(_, c)| {
                let close = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                close
            })
            .map(|(i, _)| i)
            .ok_or("unclosed string key")?;
        let key: String = serde_json::from_str(&inner[..=end]).map_err(|_| "invalid string key")?;
        let after = inner[end + 1..]
            .strip_prefix(']')
            .ok_or("expected ']' after the key")?;
        return Ok((Some(InstanceKey::Str(key)), after));
    }
    let close = inner.find(']').ok_or("unclosed '['")?;
    let (k, after) = (&inner[..close], &inner[close + 1..]);
    let key = InstanceKey::Int(
        k.parse()
            .map_err(|_| "instance key must be a number or a quoted string")?,
    );
    Ok((Some(key), after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        let t: Target = input.parse().unwrap();
        let got = match t.as_instance() {
            Some(i) => i.to_string(),
            None => t.module.to_string(),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn canonical_forms_round_trip() {
        check("local_file.a", "local_file.a");
        check("local_file.a[3]", "local_file.a[3]");
        check("data.local_file.a[\"k\"]", "data.local_file.a[\"k\"]");
        check(
            "module.m[\"x\"].module.n.local_file.a[0]",
            "module.m[\"x\"].module.n.local_file.a[0]",
        );
        check("module.m", "module.m");
        // Regression: keys holding `]`, quotes or backslashes did not come back as written,
        // and the state records failover members by these addresses.
        for key in ["eu[1]", "a\"b", "back\\slash", "tab\there", "ünï", "]", ""] {
            let inst = AbsInstance {
                resource: AbsResource {
                    module: ModuleInstance(vec![ModuleStep {
                        name: "m".into(),
                        key: Some(InstanceKey::Str(key.into())),
                    }]),
                    resource: ResourceAddr {
                        mode: Mode::Managed,
                        type_name: "sqlite_database".into(),
                        name: "db".into(),
                    },
                },
                key: Some(InstanceKey::Str(key.into())),
            };
            let text = inst.to_string();
            let back = text.parse::<Target>().unwrap().as_instance().unwrap();
            assert_eq!(back, inst, "{text}");
        }
    }

    #[test]
    fn bad_addresses_are_errors() {
        assert!("local_file".parse::<Target>().is_err());
        assert!("local_file.a[x]".parse::<Target>().is_err());
        assert!("module.".parse::<Target>().is_err());
    }
}
