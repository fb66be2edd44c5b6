//! Policy checks: built-in rules about failover groups, and user rules written in HCL under
//! `policy/`, evaluated against the plan. Findings carry a location and a severity; the CLI
//! prints them as text or SARIF 2.1.0.

mod sarif;

pub use sarif::sarif;

use crate::config::Config;
use crate::diag::{Diagnostic, Diagnostics, Sources, Span};
use crate::eval::{Evaluator, Iteration, Phase, Scope};
use crate::plan::{public_json, Plan};
use standby_provider_sdk::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Fails the check.
    Error,
    /// Reported only.
    Warning,
}

/// One rule's verdict about one place.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The rule's id, such as `prod-requires-sync`.
    pub rule: String,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Option<Span>,
}

/// Built-in rules, by id and description.
pub const BUILTIN_RULES: [(&str, &str); 4] = [
    (
        "prod-requires-sync-and-manual-approval",
        "failover groups in prod replicate synchronously and switch only with manual approval",
    ),
    (
        "group-has-health-check-and-verify",
        "every failover group has a health_check and a verify block",
    ),
    (
        "rto-covers-detection",
        "rto is at least health_check interval x failures plus the DNS TTL of its traffic",
    ),
    (
        "group-has-a-standby",
        "every failover group has at least one standby",
    ),
];

/// The id of a built-in rule, as `'static`, when `rule` names one.
pub fn builtin_rule(rule: &str) -> Option<&'static str> {
    BUILTIN_RULES
        .iter()
        .map(|(id, _)| *id)
        .find(|id| *id == rule)
}

fn builtin(config: &Config, plan: &Plan) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, g) in &plan.groups {
        let span = config.root.failovers.get(name).map(|f| f.span.clone());
        let mut find = |rule: &str, message: String| {
            out.push(Finding {
                rule: rule.to_string(),
                severity: Severity::Error,
                message,
                span: span.clone(),
            })
        };
        if plan.env == "prod"
            && (g.mode != standby_provider_sdk::ReplicationMode::Sync
                || g.approval != crate::plan::Approval::Manual)
        {
            find(BUILTIN_RULES[0].0, format!("failover.{name} uses {} replication and {} approval in prod; prod requires sync and manual", g.mode, g.approval));
        }
        if !g.health_check.declared || !g.has_verify {
            let missing: Vec<&str> = [
                (!g.health_check.declared, "health_check"),
                (!g.has_verify, "verify"),
            ]
            .into_iter()
            .filter(|(m, _)| *m)
            .map(|(_, b)| b)
            .collect();
            find(
                BUILTIN_RULES[1].0,
                format!("failover.{name} has no {} block", missing.join(" and no ")),
            );
        }
        if let (Some(rto), Some(d)) = (g.rto_seconds, plan.detection(name)) {
            if rto < d.seconds() {
                find(
                    BUILTIN_RULES[2].0,
                    format!(
                        "failover.{name} has rto {rto}s, but detecting a failure takes {}",
                        d.text()
                    ),
                );
            }
        }
        if g.sites.len() < 2 {
            find(
                BUILTIN_RULES[3].0,
                format!(
                    "failover.{name} has no standby: {} is its only member",
                    g.sites.join(", ")
                ),
            );
        }
    }
    out
}

/// What user rules see: `resources`, `failovers`, `env` and `summary`, as evaluator locals.
struct PolicyScope<'a> {
    dir: &'a Path,
}

impl Scope for PolicyScope<'_> {
    fn var(&self, _: &str) -> Result<Value, String> {
        Err("policy rules see resources, failovers, env and summary".into())
    }
    fn local(&self, n: &str) -> Result<Value, String> {
        self.var(n)
    }
    fn resource(
        &self,
        _: &crate::addr::ResourceAddr,
        _: Option<&crate::addr::InstanceKey>,
    ) -> Result<(Value, bool), String> {
        Err(
            "policy rules see resources as a list: resources[*].address, .type, .values, .action"
                .into(),
        )
    }
    fn module(
        &self,
        n: &str,
        _: Option<&crate::addr::InstanceKey>,
        _: Option<&str>,
    ) -> Result<Value, String> {
        self.var(n)
    }
    fn other(&self, r: &str, _: &str) -> Result<Value, String> {
        self.var(r)
    }
    fn phase(&self) -> Phase {
        Phase::Plan
    }
    fn base_dir(&self) -> &Path {
        self.dir
    }
}

fn facts(plan: &Plan) -> Vec<(&'static str, Value)> {
    let resources = plan
        .changes
        .iter()
        .map(|c| {
            Value::object([
                ("address", Value::string(c.addr.to_string())),
                (
                    "type",
                    Value::string(c.addr.resource.resource.type_name.clone()),
                ),
                ("name", Value::string(c.addr.resource.resource.name.clone())),
                (
                    "action",
                    Value::string(c.action.terraform_actions().join(",")),
                ),
                (
                    "values",
                    c.after
                        .as_ref()
                        .or(c.before.as_ref())
                        .map_or(Value::Null, |v| Value::from_json(&public_json(v))),
                ),
            ])
        })
        .collect();
    let failovers = plan
        .groups
        .iter()
        .map(|(n, g)| {
            let opt = |v: Option<f64>| v.map_or(Value::Null, Value::from);
            (
                n.clone(),
                Value::object([
                    ("active", Value::string(g.active.clone())),
                    (
                        "sites",
                        Value::List(g.sites.iter().map(|s| Value::string(s.clone())).collect()),
                    ),
                    ("mode", Value::string(g.mode.name())),
                    ("approval", Value::string(g.approval.name())),
                    (
                        "max_lag_bytes",
                        g.max_lag_bytes
                            .map_or(Value::Null, |b| Value::from(b.bytes() as i64)),
                    ),
                    ("rpo_seconds", opt(g.rpo_seconds)),
                    ("rto_seconds", opt(g.rto_seconds)),
                    (
                        "checksum",
                        Value::List(
                            g.checksum
                                .iter()
                                .map(|s| Value::string(s.clone()))
                                .collect(),
                        ),
                    ),
                    (
                        "traffic",
                        Value::List(g.traffic.iter().map(|s| Value::string(s.clone())).collect()),
                    ),
                ]),
            )
        })
        .collect();
    let (add, change, destroy) = plan.counts();
    let switches = plan
        .switches
        .iter()
        .filter(|s| s.from.as_ref().is_some_and(|f| *f != s.to))
        .count();
    vec![
        ("resources", Value::List(resources)),
        ("failovers", Value::Map(failovers)),
        ("env", Value::string(plan.env.clone())),
        (
            "summary",
            Value::object([
                ("add", Value::from(add as i64)),
                ("change", Value::from(change as i64)),
                ("destroy", Value::from(destroy as i64)),
                ("switches", Value::from(switches as i64)),
            ]),
        ),
    ]
}

/// Loads `policy/*.hcl` of the topology's revision and evaluates every rule. Rule files that do not parse, or rules whose
/// condition fails to evaluate, are errors in the returned diagnostics.
fn user_rules(
    config: &Config,
    plan: &Plan,
    sources: &mut Sources,
) -> Result<Vec<Finding>, Diagnostics> {
    let root = config.root_dir.as_path();
    let mut diags = Diagnostics::default();
    let mut out = Vec::new();
    let files = config.policy_files();
    let facts = facts(plan);
    let scope = PolicyScope { dir: root };
    for path in files {
        let shown = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let Some((file, body)) =
            crate::config::parse_policy_file(config.files(), &path, &shown, sources, &mut diags)
        else {
            continue;
        };
        for b in body.blocks() {
            let head = Span::new(file, hcl_edit::Span::span(&b.ident));
            if b.ident.value().as_str() != "rule" || b.labels.len() != 1 {
                diags.push(Diagnostic::at(
                    head,
                    "Expected rule \"NAME\" { condition, message, severity }",
                    "A policy file holds rule blocks only.",
                ));
                continue;
            }
            let id = match &b.labels[0] {
                hcl_edit::structure::BlockLabel::String(s) => s.value().to_string(),
                hcl_edit::structure::BlockLabel::Ident(i) => i.value().to_string(),
            };
            let attr = |k: &str| b.body.get_attribute(k).map(|a| a.value.clone());
            let eval = |e: &hcl_edit::expr::Expression| {
                let mut ev = Evaluator::new(&scope, file, Iteration::default());
                for (k, v) in &facts {
                    ev.push_local(k, v.clone());
                }
                ev.eval(e)
            };
            let (Some(cond), Some(msg)) = (attr("condition"), attr("message")) else {
                diags.push(Diagnostic::at(
                    head,
                    format!("Rule {id:?} needs condition and message"),
                    "Add condition = <bool expression> and message = \"...\".",
                ));
                continue;
            };
            let severity = match attr("severity").map(|e| eval(&e)) {
                None => Severity::Error,
                Some(Ok(v)) if v.as_str() == Some("error") => Severity::Error,
                Some(Ok(v)) if v.as_str() == Some("warning") => Severity::Warning,
                Some(_) => {
                    diags.push(Diagnostic::at(
                        head,
                        format!("Invalid severity in rule {id:?}"),
                        "severity is \"error\" or \"warning\".",
                    ));
                    continue;
                }
            };
            match eval(&cond).map(|v| v.unmarked().clone()) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => {
                    let message = match eval(&msg) {
                        Ok(m) if m.is_sensitive() => format!(
                            "rule {id} failed (its message includes a sensitive value, so it is not shown)"
                        ),
                        Ok(m) => m
                            .as_str()
                            .map_or_else(|| format!("rule {id} failed"), str::to_string),
                        // A message that does not evaluate is a mistake in the rule: say so,
                        // rather than a bare "failed" that looks like a withheld secret.
                        Err(e) => {
                            diags.push(Diagnostic::from(e));
                            continue;
                        }
                    };
                    out.push(Finding {
                        rule: id,
                        severity,
                        message,
                        span: Some(Span::new(file, hcl_edit::Span::span(&cond))),
                    });
                }
                Ok(other) => diags.push(Diagnostic::at(
                    Span::new(file, hcl_edit::Span::span(&cond)),
                    format!("The condition of rule {id:?} is not a bool"),
                    format!("It evaluated to {other}."),
                )),
                Err(e) => diags.push(Diagnostic::from(e)),
            }
        }
    }
    diags.into_result(out)
}

/// Every finding for a plan: built-in rules first, then the topology's own.
pub fn check(config: &mut Config, plan: &Plan) -> Result<Vec<Finding>, Diagnostics> {
    let mut findings = builtin(config, plan);
    let mut sources = std::mem::take(&mut config.sources);
    let user = user_rules(config, plan, &mut sources);
    config.sources = sources;
    findings.extend(user?);
    Ok(findings)
}

/// Findings by rule id, for summaries.
pub fn by_rule(findings: &[Finding]) -> BTreeMap<&str, usize> {
    let mut m = BTreeMap::new();
    for f in findings {
        *m.entry(f.rule.as_str()).or_insert(0) += 1;
    }
    m
}
