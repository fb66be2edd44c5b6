//! A failover block's settings, evaluated once into typed values: members, mode, limits,
//! health check, verification and hooks, each with a located error when it is wrong.

use super::health_check::HealthCheck;
use super::model::{HookSpec, MemberRef, NodeKey};
use super::walk::Walker;
use crate::addr::{AbsInstance, AbsResource, Mode, ModuleInstance};
use crate::config::{Body, Failover};
use crate::diag::{Diagnostic, Span};
use crate::eval::{references, Iteration, RefTarget};
use serde::{Deserialize, Serialize};
use standby_provider_sdk::ReplicationMode;
use standby_provider_sdk::Value;
use std::collections::BTreeMap;

/// Durations in seconds, for `rpo` and `rto`.
fn parse_seconds(s: &str) -> Result<f64, String> {
    crate::units::parse_duration(s)
        .map(|d| d.as_secs_f64())
        .map_err(|e| e.to_string())
}

const CHECK_TIMING: &str = "must be more than 0 and at most 24h, such as 1s or 500ms.";

/// A health check's `interval` or `timeout`, in seconds; its bounds are checked by the caller.
fn parse_check_seconds(s: &str) -> Result<f64, String> {
    match crate::units::parse_duration(s) {
        Err(crate::units::DurationError::TooLong(_)) => Err(format!("{s:?} {CHECK_TIMING}")),
        other => other.map(|d| d.as_secs_f64()).map_err(|e| e.to_string()),
    }
}

/// Who lets a monitor's failover run: `approval = "auto"` (the default) or `"manual"` (the
/// monitor saves the plan for `standby approve`; a person's switch passes the approval gate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// Nobody is asked.
    #[default]
    Auto,
    /// A person approves.
    Manual,
}

impl Approval {
    /// `auto` or `manual`.
    pub fn name(self) -> &'static str {
        match self {
            Approval::Auto => "auto",
            Approval::Manual => "manual",
        }
    }
}

impl std::fmt::Display for Approval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A group's settings, evaluated.
pub(crate) struct Settings {
    pub active: String,
    pub members: BTreeMap<String, MemberRef>,
    pub member_values: BTreeMap<String, Value>,
    pub mode: ReplicationMode,
    pub max_lag_bytes: Option<crate::units::ByteSize>,
    pub rpo_seconds: Option<f64>,
    pub rto_seconds: Option<f64>,
    pub approval: Approval,
    pub checksum: Vec<String>,
    pub hooks: Vec<HookSpec>,
    pub health_check: HealthCheck,
    pub deps: Vec<NodeKey>,
}

impl Walker<'_> {
    pub(super) fn eval_attr(
        &mut self,
        body: &Body,
        name: &str,
        deps: &mut Vec<NodeKey>,
    ) -> Option<(Value, Span)> {
        let a = body.get(name)?;
        let (r, d) = self.eval(
            &ModuleInstance::root(),
            &self.config.root,
            &a.expr,
            Iteration::default(),
        );
        deps.extend(d);
        match r {
            Ok(v) => Some((v, a.expr.span())),
            Err(diag) => {
                self.diags.push(diag);
                None
            }
        }
    }

    /// A setting that decides the plan and is shown in it, in reviews and in the switch history,
    /// so it may not be sensitive: a secret there would be either shown or hidden from the
    /// reviewer who must approve it.
    pub(super) fn plain_attr(
        &mut self,
        body: &Body,
        name: &str,
        deps: &mut Vec<NodeKey>,
    ) -> Option<(Value, Span)> {
        let (v, span) = self.eval_attr(body, name, deps)?;
        if v.contains_sensitive() {
            self.diags.push(Diagnostic::at(
                span,
                format!("{name} cannot be sensitive"),
                "Failover settings are shown in plans, reviews and the switch history, so they may not come from a sensitive value. Only health_check targets and hook commands may carry secrets.",
            ));
            return None;
        }
        Some((v, span))
    }

    pub(super) fn string_attr(
        &mut self,
        body: &Body,
        name: &str,
        deps: &mut Vec<NodeKey>,
        allowed: &[&str],
    ) -> Option<String> {
        let (v, span) = self.plain_attr(body, name, deps)?;
        match &v {
            Value::String(s) if allowed.is_empty() || allowed.contains(&s.as_str()) => {
                Some(s.clone())
            }
            // Validating without an environment: the setting is not known, which is no error
            // (as in Terraform's validate); the group is not planned.
            Value::Unknown if self.validating_without().is_some() => None,
            Value::Unknown => {
                self.diags.push(Diagnostic::at(
                    span,
                    format!("{name} must be known at plan time"),
                    "Failover settings decide the plan; they may use variables and literals, not values known only after apply.",
                ));
                None
            }
            other => {
                self.diags.push(Diagnostic::at(
                    span,
                    format!("Invalid {name}"),
                    if allowed.is_empty() {
                        format!("Expected a string; found {}.", other.type_name())
                    } else {
                        format!("Expected one of {}; found {other}.", allowed.join(", "))
                    },
                ));
                None
            }
        }
    }

    fn parsed<T>(
        &mut self,
        body: &Body,
        name: &str,
        deps: &mut Vec<NodeKey>,
        parse: fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let s = self.string_attr(body, name, deps, &[])?;
        let span = body[name].expr.span();
        parse(&s)
            .map_err(|e| {
                self.diags
                    .push(Diagnostic::at(span, format!("Invalid {name}"), e))
            })
            .ok()
    }

    /// Evaluates a `failover` block.
    pub(crate) fn settings(&mut self, fo: &Failover) -> Option<Settings> {
        let mut deps = Vec::new();
        let errors = self.diags.0.len();
        // Members: each entry must name a resource of the root module whose provider replicates.
        let mut members = BTreeMap::new();
        if let Some(a) = fo.body.get("members") {
            match &a.expr.inner {
                hcl_edit::expr::Expression::Object(o) => {
                    for (k, v) in o.iter() {
                        let site = match k {
                            hcl_edit::expr::ObjectKey::Ident(i) => i.value().to_string(),
                            hcl_edit::expr::ObjectKey::Expression(hcl_edit::expr::Expression::String(s)) => s.value().to_string(),
                            _ => continue,
                        };
                        let refs = references(a.expr.file, v.expr());
                        let Some(RefTarget::Resource(addr)) = refs.first().map(|r| r.target.clone()).filter(|_| refs.len() == 1) else {
                            self.diags.push(Diagnostic::at(Span::new(a.expr.file, hcl_edit::Span::span(v.expr())), format!("Invalid member for site {site:?}"), "Each member must be a plain reference to one resource, such as sqlite_database.east."));
                            continue;
                        };
                        if !self.config.root.sites.is_empty() && !self.config.root.sites.contains_key(&site) {
                            self.diags.push(Diagnostic::at(Span::new(a.expr.file, hcl_edit::Span::span(v.expr())), format!("Unknown site {site:?}"), format!("Declare site {site:?} {{ ... }} or use one of: {}.", self.config.root.sites.keys().cloned().collect::<Vec<_>>().join(", "))));
                        }
                        let provider = self.registry.provider_for(&addr.type_name, false).unwrap_or_default().to_string();
                        let replicates = self.registry.get(&provider).and_then(|p| p.replication()).is_some_and(|r| r.replicates(&addr.type_name));
                        if addr.mode != Mode::Managed || !replicates {
                            self.diags.push(Diagnostic::at(Span::new(a.expr.file, hcl_edit::Span::span(v.expr())), format!("{addr} cannot be a failover member"), format!("The provider {provider:?} cannot replicate {}. Members must be of a type whose provider implements replication, such as sqlite_database.", addr.type_name)));
                            continue;
                        }
                        let inst = AbsInstance { resource: AbsResource { module: ModuleInstance::root(), resource: addr }, key: None };
                        if let Some((other, _)) = self.failover_members.iter().find(|(_, ms)| ms.values().any(|m| *m == inst)) {
                            self.diags.push(Diagnostic::at(Span::new(a.expr.file, hcl_edit::Span::span(v.expr())), format!("{inst} is already a member of failover.{other}"), "A database can follow only one primary: two groups would fence, promote and rejoin it independently, and each would believe its own epoch. Give each group its own members."));
                        }
                        deps.push(NodeKey::Instance { addr: inst.clone() });
                        members.insert(site, MemberRef { addr: inst, provider });
                    }
                }
                _ => self.diags.push(Diagnostic::at(a.expr.span(), "Invalid members", "members is an object from site name to member resource: { east = sqlite_database.east, west = sqlite_database.west }.")),
            }
        }
        let member_values: BTreeMap<String, Value> = members
            .iter()
            .map(|(site, m)| {
                let v = self
                    .values
                    .resources
                    .get(&m.addr.resource)
                    .and_then(|rv| rv.instances.get(&None))
                    .cloned()
                    .unwrap_or(Value::Unknown);
                (site.clone(), v)
            })
            .collect();
        let sites: Vec<&str> = members.keys().map(String::as_str).collect();
        let sites: Vec<String> = sites.iter().map(|s| (*s).to_string()).collect();
        let site_refs: Vec<&str> = sites.iter().map(String::as_str).collect();
        let active = self.string_attr(&fo.body, "active", &mut deps, &site_refs);
        let mode = if fo.replication.contains_key("mode") {
            self.string_attr(&fo.replication, "mode", &mut deps, &["sync", "async"])
                .and_then(|m| ReplicationMode::parse(&m))
        } else {
            Some(ReplicationMode::Async)
        };
        let max_lag_bytes = if fo.replication.contains_key("max_lag") {
            self.parsed(&fo.replication, "max_lag", &mut deps, |s: &str| {
                s.parse::<crate::units::ByteSize>()
            })
        } else {
            None
        };
        let rpo_seconds = if fo.body.contains_key("rpo") {
            self.parsed(&fo.body, "rpo", &mut deps, parse_seconds)
        } else {
            None
        };
        let rto_seconds = if fo.body.contains_key("rto") {
            self.parsed(&fo.body, "rto", &mut deps, parse_seconds)
        } else {
            None
        };
        let approval = if fo.body.contains_key("approval") {
            self.string_attr(&fo.body, "approval", &mut deps, &["manual", "auto"])
        } else {
            Some("auto".into())
        };
        let mut health_check = HealthCheck {
            declared: !fo.health_check.is_empty(),
            ..HealthCheck::default()
        };
        for k in ["interval", "timeout"] {
            if fo.health_check.contains_key(k) {
                if let Some(secs) = self.parsed(&fo.health_check, k, &mut deps, parse_check_seconds)
                {
                    if !(secs > 0.0 && secs <= 86_400.0) {
                        self.diags.push(Diagnostic::at(
                            fo.health_check[k].expr.span(),
                            format!("Invalid {k}"),
                            format!("health_check.{k} {CHECK_TIMING}"),
                        ));
                        continue;
                    }
                    let d = std::time::Duration::from_secs_f64(secs);
                    if k == "interval" {
                        health_check.interval = Some(d);
                    } else {
                        health_check.timeout = Some(d);
                    }
                }
            }
        }
        if let Some((v, span)) = self.plain_attr(&fo.health_check, "failures", &mut deps) {
            match v.as_f64() {
                Some(n) if (1.0..=1e6).contains(&n) && n.fract() == 0.0 => {
                    health_check.failures = Some(n as u32);
                }
                _ => self.diags.push(Diagnostic::at(span, "Invalid failures", "health_check.failures is a whole number of consecutive failed checks, at least 1.")),
            }
        }
        self.health_targets(fo, &sites, &mut deps, &mut health_check);
        let mut checksum = Vec::new();
        if let Some((v, span)) = self.plain_attr(&fo.verify, "checksum", &mut deps) {
            match &v {
                Value::List(items) if items.iter().all(|i| i.as_str().is_some()) => {
                    checksum = items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_string))
                        .collect()
                }
                _ => self.diags.push(Diagnostic::at(
                    span,
                    "Invalid checksum",
                    "verify.checksum is a list of data set names, such as [\"public.orders\"].",
                )),
            }
        }
        let mut hooks = Vec::new();
        for h in &fo.hooks {
            let (r, d) = self.eval(
                &ModuleInstance::root(),
                &self.config.root,
                &h.command,
                Iteration::default(),
            );
            deps.extend(d);
            // The whole list sensitive marks every argument; an element marks itself.
            let whole = r.as_ref().is_ok_and(Value::is_sensitive);
            match r.map(|v| v.unmarked().clone()) {
                Ok(Value::List(items)) if !items.is_empty() && items.iter().all(|i| i.unmarked().as_str().is_some()) => hooks.push(HookSpec {
                    when: h.when.clone(),
                    command: items.iter().filter_map(|i| i.unmarked().as_str().map(str::to_string)).collect(),
                    sensitive: items.iter().map(|i| whole || i.is_sensitive()).collect(),
                }),
                Ok(Value::Unknown) => self.diags.push(Diagnostic::at(h.command.span(), "Hook command must be known at plan time", "Build the command from variables, locals and literals, not from values known only after apply.")),
                // The value is shown marked, or by its type: it may hold a secret.
                Ok(other) => self.diags.push(Diagnostic::at(h.command.span(), "Invalid hook command", format!("command is a non-empty list of strings: the program and its arguments; found {}.", if whole { "(sensitive value)".to_string() } else { other.to_string() }))),
                Err(d) => self.diags.push(d),
            }
        }
        if self.diags.0.len() > errors {
            return None;
        }
        Some(Settings {
            active: active?,
            members,
            member_values,
            mode: mode?,
            max_lag_bytes,
            rpo_seconds,
            rto_seconds,
            approval: if approval? == "manual" {
                Approval::Manual
            } else {
                Approval::Auto
            },
            checksum,
            hooks,
            health_check,
            deps,
        })
    }
}
