//! Pull-request review: risk flags from a plan and the topology diff, and the review comment
//! (Markdown, split under GitHub's size limit, or JSON for bots).

mod markdown;

pub use markdown::{markdown, MAX_COMMENT};

use crate::config::TopologyChange;
use crate::plan::{plan_json, Action, GroupSummary, Plan};
use crate::units::ByteSize;
use serde::Serialize;
use std::collections::BTreeMap;

/// One environment of a review.
pub struct EnvReview {
    /// The environment.
    pub env: String,
    /// Whether it is protected.
    pub protected: bool,
    /// The plan the head implies against the recorded state.
    pub plan: Plan,
    /// Failover groups as the base revision declares them.
    pub base_groups: BTreeMap<String, GroupSummary>,
    /// The head's `parity { may_differ }`: differences between environments that are meant.
    pub may_differ: Vec<String>,
    /// Whether the environment had a recorded state to plan against: without one, every
    /// group is planned as new and a switch of a running group cannot show.
    pub has_state: bool,
    /// What `standby check` finds in the head's plan: built-in rules and the head's own
    /// `policy/*.hcl`.
    pub findings: Vec<crate::check::Finding>,
}

/// Something a reviewer must look at.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct RiskFlag {
    /// `high` or `medium`.
    pub severity: &'static str,
    /// The environment, or `all` for cross-environment flags.
    pub env: String,
    /// A stable identifier.
    pub code: &'static str,
    /// What and where.
    pub message: String,
}

/// Risk flags for every environment, plus cross-environment drift.
pub fn risk_flags(envs: &[EnvReview]) -> Vec<RiskFlag> {
    let mut out = Vec::new();
    for e in envs {
        let mut flag = |severity, code, message: String| {
            out.push(RiskFlag {
                severity,
                env: e.env.clone(),
                code,
                message,
            })
        };
        // The built-in failover rules (a standby, an rto that covers detection, ...) are the
        // same rules `standby check` applies: each finding is one flag, under its rule's id.
        for f in &e.findings {
            let severity = match f.severity {
                crate::check::Severity::Error => "high",
                crate::check::Severity::Warning => "medium",
            };
            match crate::check::builtin_rule(&f.rule) {
                Some(id) => flag(severity, id, format!("{} ({id})", f.message)),
                None => flag(
                    severity,
                    "policy",
                    format!("policy rule {} fails in {}: {}", f.rule, e.env, f.message),
                ),
            }
        }
        if !e.has_state {
            flag("medium", "no_state", format!("{} has no recorded state here, so its plan creates everything and a switch of a group that runs already cannot show: run the review where the state is readable (STANDBY_BACKEND)", e.env));
        }
        for sw in &e.plan.switches {
            if let Some(from) = sw.from.as_ref().filter(|f| **f != sw.to) {
                if e.protected {
                    flag("high", "switch_protected", format!("switches the active site of protected environment {}: failover.{} {from} -> {}", e.env, sw.group, sw.to));
                } else {
                    flag(
                        "medium",
                        "switch",
                        format!("switches failover.{} from {from} to {}", sw.group, sw.to),
                    );
                }
            }
        }
        for (name, g) in &e.plan.groups {
            let Some(b) = e.base_groups.get(name) else {
                continue;
            };
            if b.mode == standby_provider_sdk::ReplicationMode::Sync
                && g.mode == standby_provider_sdk::ReplicationMode::Async
            {
                flag(
                    "high",
                    "sync_to_async",
                    format!("lowers failover.{name} from sync to async replication"),
                );
            }
            let raised = |old: Option<f64>, new: Option<f64>| match (old, new) {
                (Some(o), Some(n)) => n > o,
                (Some(_), None) => true,
                _ => false,
            };
            if raised(b.rpo_seconds, g.rpo_seconds) {
                flag(
                    "medium",
                    "rpo_raised",
                    format!(
                        "raises failover.{name} rpo from {}s to {}",
                        b.rpo_seconds.unwrap_or(0.0),
                        g.rpo_seconds.map_or("unset".into(), |v| format!("{v}s"))
                    ),
                );
            }
            if raised(
                b.max_lag_bytes.map(|v| v.bytes() as f64),
                g.max_lag_bytes.map(|v| v.bytes() as f64),
            ) {
                flag(
                    "medium",
                    "max_lag_raised",
                    format!(
                        "raises failover.{name} max_lag from {} to {} bytes",
                        b.max_lag_bytes.map_or(0, ByteSize::bytes),
                        g.max_lag_bytes
                            .map_or("unlimited".into(), |v| v.bytes().to_string())
                    ),
                );
            }
            let removed: Vec<&String> = b.sites.iter().filter(|s| !g.sites.contains(s)).collect();
            if !removed.is_empty() {
                flag(
                    "high",
                    "standby_removed",
                    format!(
                        "removes {} from failover.{name}",
                        removed
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
            if b.approval == crate::plan::Approval::Manual
                && g.approval == crate::plan::Approval::Auto
            {
                flag(
                    "high",
                    "approval_removed",
                    format!("changes failover.{name} approval from manual to auto"),
                );
            }
        }
        // Members as the head or the base declares them: a removed member is still one.
        let mut members: Vec<String> = e
            .plan
            .failover_members
            .values()
            .flat_map(|m| m.values().map(ToString::to_string))
            .collect();
        members.extend(
            e.base_groups
                .values()
                .flat_map(|g| g.members.values().cloned()),
        );
        for c in &e.plan.changes {
            let addr = c.addr.to_string();
            if members.contains(&addr) && (c.action == Action::Delete || c.action.is_replace()) {
                flag(
                    "high",
                    "member_destroyed",
                    format!(
                        "{} failover member {addr} ({})",
                        if c.action == Action::Delete {
                            "destroys"
                        } else {
                            "replaces"
                        },
                        c.reason.as_ref().map_or("", |r| r.text.as_str())
                    ),
                );
            }
        }
    }
    // Environments drifting apart: the same group configured differently.
    for pair in envs.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        for (name, ga) in &a.plan.groups {
            match b.plan.groups.get(name) {
                None if a.may_differ.contains(&format!("failover.{name}")) => {}
                None => out.push(RiskFlag {
                    severity: "medium",
                    env: "all".into(),
                    code: "env_drift",
                    message: format!("failover.{name} exists in {} but not in {}", a.env, b.env),
                }),
                Some(gb) => {
                    let differing: Vec<&str> = [
                        ("replication.mode", ga.mode != gb.mode),
                        ("approval", ga.approval != gb.approval),
                        ("sites", ga.sites != gb.sites),
                        // Each setting on its own, named as `envs diff` names it.
                        (
                            "health_check.declared",
                            ga.health_check.declared != gb.health_check.declared,
                        ),
                        (
                            "health_check.type",
                            ga.health_check.kind != gb.health_check.kind,
                        ),
                        (
                            "health_check.interval",
                            ga.health_check.interval != gb.health_check.interval,
                        ),
                        (
                            "health_check.timeout",
                            ga.health_check.timeout != gb.health_check.timeout,
                        ),
                        (
                            "health_check.failures",
                            ga.health_check.failures != gb.health_check.failures,
                        ),
                        ("verify.checksum", ga.checksum != gb.checksum),
                    ]
                    .into_iter()
                    .filter(|(_, differs)| *differs)
                    .map(|(k, _)| k)
                    // What the parity block says may differ is not drift.
                    .filter(|k| {
                        !a.may_differ.iter().any(|m| {
                            *m == format!("failover.{name}")
                                || *m == format!("failover.{name}.{k}")
                                || format!("failover.{name}.{k}").starts_with(&format!("{m}."))
                        })
                    })
                    .collect();
                    if !differing.is_empty() {
                        out.push(RiskFlag {
                            severity: "medium",
                            env: "all".into(),
                            code: "env_drift",
                            message: format!(
                                "failover.{name} differs between {} and {} ({})",
                                a.env,
                                b.env,
                                differing.join(", ")
                            ),
                        });
                    }
                }
            }
        }
    }
    out.sort_by(|x, y| {
        x.severity
            .cmp(y.severity)
            .then_with(|| x.env.cmp(&y.env))
            .then_with(|| x.message.cmp(&y.message))
    });
    out
}

/// The review as JSON, for bots.
pub fn json(
    base: &str,
    head: &str,
    changes: &[TopologyChange],
    envs: &[EnvReview],
    flags: &[RiskFlag],
) -> serde_json::Value {
    serde_json::json!({
        "format_version": "1.0",
        "base": base,
        "head": head,
        "risk_flags": flags,
        "topology_changes": changes,
        "environments": envs.iter().map(|e| {
            let (add, change, destroy) = e.plan.counts();
            serde_json::json!({
                "env": e.env,
                "protected": e.protected,
                "summary": { "add": add, "change": change, "destroy": destroy, "switches": e.plan.switches.iter().filter(|s| s.from.as_ref().is_some_and(|f| *f != s.to)).map(|s| format!("{} {} -> {}", s.group, s.from.as_deref().unwrap_or("-"), s.to)).collect::<Vec<_>>() },
                "plan": plan_json(&e.plan, None),
            })
        }).collect::<Vec<_>>(),
    })
}
