//! The value table that plan fills and apply updates, and the scope that evaluates
//! expressions against it while recording which nodes they touched.

use super::model::NodeKey;
use crate::addr::{AbsResource, InstanceKey, ModuleInstance, ResourceAddr};
use crate::config::{Config, Module};
use crate::diag::suggestion;
use crate::eval::{Phase, Scope};
use standby_provider_sdk::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub(crate) use super::model::Expansion;

impl Expansion {
    pub(crate) fn keys(&self) -> Vec<Option<InstanceKey>> {
        match self {
            Expansion::Single => vec![None],
            Expansion::Count(n) => (0..*n).map(|i| Some(InstanceKey::Int(i))).collect(),
            Expansion::ForEach(m) => m
                .keys()
                .map(|k| Some(InstanceKey::Str(k.clone())))
                .collect(),
        }
    }

    pub(crate) fn each_value(&self, key: Option<&InstanceKey>) -> Option<Value> {
        match (self, key) {
            (Expansion::ForEach(m), Some(InstanceKey::Str(k))) => m.get(k).cloned(),
            _ => None,
        }
    }

    fn has(&self, key: &InstanceKey) -> bool {
        match (self, key) {
            (Expansion::Count(n), InstanceKey::Int(i)) => i < n,
            (Expansion::ForEach(m), InstanceKey::Str(k)) => m.contains_key(k),
            _ => false,
        }
    }

    fn describe(&self) -> String {
        match self {
            Expansion::Single => "it has no count or for_each, so it takes no index".into(),
            Expansion::Count(n) => format!("it has count = {n}"),
            Expansion::ForEach(m) => format!(
                "its for_each keys are {}",
                m.keys()
                    .map(|k| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The instances of one resource and their current values.
#[derive(Debug, Clone)]
pub(crate) struct ResourceValues {
    pub expansion: Expansion,
    pub instances: BTreeMap<Option<InstanceKey>, Value>,
}

/// Every evaluated value, by module instance.
#[derive(Debug, Default)]
pub(crate) struct Values {
    pub vars: HashMap<ModuleInstance, BTreeMap<String, Value>>,
    pub locals: HashMap<(ModuleInstance, String), Value>,
    pub outputs: HashMap<(ModuleInstance, String), Value>,
    pub resources: HashMap<AbsResource, ResourceValues>,
    pub modules: HashMap<(ModuleInstance, String), Expansion>,
    pub sites: BTreeMap<String, Value>,
    pub failovers: BTreeMap<String, Value>,
}

impl Values {
    /// The value a reference to a whole resource yields: an object, a list, or a map.
    fn collective(&self, r: &ResourceValues) -> Value {
        match &r.expansion {
            Expansion::Single => r.instances.get(&None).cloned().unwrap_or(Value::Unknown),
            Expansion::Count(_) => Value::List(r.instances.values().cloned().collect()),
            Expansion::ForEach(_) => Value::Map(
                r.instances
                    .iter()
                    .filter_map(|(k, v)| match k {
                        Some(InstanceKey::Str(s)) => Some((s.clone(), v.clone())),
                        _ => None,
                    })
                    .collect(),
            ),
        }
    }

    /// The object of a module instance's outputs.
    pub(crate) fn module_object(&self, child: &ModuleInstance, m: &Module) -> Value {
        Value::Map(
            m.outputs
                .iter()
                .map(|(name, o)| {
                    let v = self
                        .outputs
                        .get(&(child.clone(), name.clone()))
                        .cloned()
                        .unwrap_or(Value::Unknown);
                    (name.clone(), if o.sensitive { v.sensitive() } else { v })
                })
                .collect(),
        )
    }
}

/// Resolves references for one module instance, recording what was touched.
pub(crate) struct NodeScope<'a> {
    pub values: &'a Values,
    pub config: &'a Config,
    pub module: &'a ModuleInstance,
    pub cfg: &'a Module,
    pub env: &'a str,
    pub phase: Phase,
    pub deps: RefCell<Vec<NodeKey>>,
}

impl<'a> NodeScope<'a> {
    pub(crate) fn new(
        values: &'a Values,
        config: &'a Config,
        module: &'a ModuleInstance,
        cfg: &'a Module,
        env: &'a str,
        phase: Phase,
    ) -> Self {
        NodeScope {
            values,
            config,
            module,
            cfg,
            env,
            phase,
            deps: RefCell::new(Vec::new()),
        }
    }

    fn touch(&self, k: NodeKey) {
        self.deps.borrow_mut().push(k);
    }

    /// The recorded dependencies, deduplicated.
    pub(crate) fn take_deps(&self) -> Vec<NodeKey> {
        let mut d = std::mem::take(&mut *self.deps.borrow_mut());
        d.sort();
        d.dedup();
        d
    }
}

impl Scope for NodeScope<'_> {
    fn var(&self, name: &str) -> Result<Value, String> {
        if !self.cfg.variables.contains_key(name) {
            return Err(format!("No variable {name:?} is declared in this module.{} Declare it with a variable block.", suggestion(name, self.cfg.variables.keys().map(String::as_str))));
        }
        if !self.module.is_root() {
            self.touch(NodeKey::ModuleVars {
                module: self.module.clone(),
            });
        }
        Ok(self
            .values
            .vars
            .get(self.module)
            .and_then(|v| v.get(name))
            .cloned()
            .unwrap_or(Value::Unknown))
    }

    fn local(&self, name: &str) -> Result<Value, String> {
        if !self.cfg.locals.contains_key(name) {
            return Err(format!(
                "No local value {name:?} is declared in this module.{}",
                suggestion(name, self.cfg.locals.keys().map(String::as_str))
            ));
        }
        self.touch(NodeKey::Local {
            module: self.module.clone(),
            name: name.into(),
        });
        Ok(self
            .values
            .locals
            .get(&(self.module.clone(), name.to_string()))
            .cloned()
            .unwrap_or(Value::Unknown))
    }

    fn resource(
        &self,
        addr: &ResourceAddr,
        key: Option<&InstanceKey>,
    ) -> Result<(Value, bool), String> {
        if !self.cfg.resources.contains_key(addr) {
            let names: Vec<String> = self.cfg.resources.keys().map(ToString::to_string).collect();
            return Err(format!(
                "No {addr} is declared in this module.{}",
                suggestion(&addr.to_string(), names.iter().map(String::as_str))
            ));
        }
        let abs = AbsResource {
            module: self.module.clone(),
            resource: addr.clone(),
        };
        let Some(rv) = self.values.resources.get(&abs) else {
            self.touch(NodeKey::Resource { addr: abs });
            return Ok((Value::Unknown, false));
        };
        let for_each = matches!(rv.expansion, Expansion::ForEach(_));
        match key {
            Some(k) => {
                if !rv.expansion.has(k) {
                    return Err(format!(
                        "{abs} has no instance {k}: {}.",
                        rv.expansion.describe()
                    ));
                }
                self.touch(NodeKey::Instance {
                    addr: crate::addr::AbsInstance {
                        resource: abs,
                        key: Some(k.clone()),
                    },
                });
                Ok((
                    rv.instances
                        .get(&Some(k.clone()))
                        .cloned()
                        .unwrap_or(Value::Unknown),
                    for_each,
                ))
            }
            None => {
                let v = self.values.collective(rv);
                self.touch(NodeKey::Resource { addr: abs });
                Ok((v, for_each))
            }
        }
    }

    fn module(
        &self,
        name: &str,
        key: Option<&InstanceKey>,
        output: Option<&str>,
    ) -> Result<Value, String> {
        let Some(call) = self.cfg.calls.get(name) else {
            return Err(format!(
                "No module call {name:?} is declared in this module.{}",
                suggestion(name, self.cfg.calls.keys().map(String::as_str))
            ));
        };
        let Some(exp) = self
            .values
            .modules
            .get(&(self.module.clone(), name.to_string()))
        else {
            return Ok(Value::Unknown);
        };
        let touch_all = |child: &ModuleInstance| {
            for o in call
                .module
                .outputs
                .keys()
                .filter(|o| output.is_none_or(|only| only == o.as_str()))
            {
                self.touch(NodeKey::Output {
                    module: child.clone(),
                    name: o.clone(),
                });
            }
            self.values.module_object(child, &call.module)
        };
        if let Some(k) = key {
            if !exp.has(k) {
                return Err(format!(
                    "module.{name} has no instance {k}: {}.",
                    exp.describe()
                ));
            }
            return Ok(touch_all(&self.module.child(name, Some(k.clone()))));
        }
        Ok(match exp {
            Expansion::Single => touch_all(&self.module.child(name, None)),
            Expansion::Count(_) => Value::List(
                exp.keys()
                    .into_iter()
                    .map(|k| touch_all(&self.module.child(name, k)))
                    .collect(),
            ),
            Expansion::ForEach(m) => Value::Map(
                m.keys()
                    .map(|k| {
                        (
                            k.clone(),
                            touch_all(&self.module.child(name, Some(InstanceKey::Str(k.clone())))),
                        )
                    })
                    .collect(),
            ),
        })
    }

    fn other(&self, root: &str, attr: &str) -> Result<Value, String> {
        match (root, attr) {
            ("path", "module") => Ok(Value::string(relative(
                &self.config.root_dir,
                &self.cfg.dir,
            ))),
            ("path", "root") => Ok(Value::string(".")),
            ("path", "cwd") => std::env::current_dir()
                .map(|d| Value::string(d.display().to_string()))
                .map_err(|e| e.to_string()),
            ("path", _) => Err(format!(
                "path has module, root and cwd.{}",
                suggestion(attr, ["module", "root", "cwd"])
            )),
            ("env", "name") => Ok(Value::string(self.env)),
            ("site", s) => self.values.sites.get(s).cloned().ok_or_else(|| {
                format!(
                    "No site {s:?} is declared.{}",
                    suggestion(s, self.values.sites.keys().map(String::as_str))
                )
            }),
            ("failover", g) => {
                if !self.config.root.failovers.contains_key(g) {
                    return Err(format!(
                        "No failover group {g:?} is declared.{}",
                        suggestion(g, self.config.root.failovers.keys().map(String::as_str))
                    ));
                }
                self.touch(NodeKey::Failover {
                    name: g.to_string(),
                });
                Ok(self
                    .values
                    .failovers
                    .get(g)
                    .cloned()
                    .unwrap_or(Value::Unknown))
            }
            ("env", _) => Err(format!(
                "env has only the attribute name.{}",
                suggestion(attr, ["name"])
            )),
            _ => Err(format!("{root} is not a known reference root")),
        }
    }

    fn phase(&self) -> Phase {
        self.phase
    }

    fn base_dir(&self) -> &Path {
        // As in Terraform, relative paths in file() and friends are relative to the root
        // directory (the working directory), not to the module: use path.module for that.
        &self.config.root_dir
    }
}

/// `dir` relative to `root`, as Terraform spells path.module: `.` for the root itself.
fn relative(root: &Path, dir: &Path) -> String {
    match dir.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".into(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => dir.display().to_string(),
    }
}
