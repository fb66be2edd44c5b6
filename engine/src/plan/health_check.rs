//! A failover group's `health_check`: its kind, timings and per-site targets, checked at plan
//! time so the monitor never meets a kind it does not know or a member without a URL. A
//! target built from a sensitive value (a URL with a token in it) keeps that mark, so it is
//! shown as `(sensitive value)` wherever standby prints it.

use super::walk::Walker;
use crate::config::Failover;
use crate::diag::Diagnostic;
use crate::plan::model::NodeKey;
use serde::{Deserialize, Serialize};
use standby_provider_sdk::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// How the monitor checks a group's members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthKind {
    /// The provider's replication status: up, and in the role expected.
    #[default]
    Replication,
    /// A query through the provider, such as `SELECT 1`.
    Sql,
    /// A TCP connect to the member's address.
    Tcp,
    /// An HTTP GET answered 2xx.
    Http,
}

impl HealthKind {
    /// The name as written in the topology.
    pub fn name(self) -> &'static str {
        match self {
            HealthKind::Replication => "replication",
            HealthKind::Sql => "sql",
            HealthKind::Tcp => "tcp",
            HealthKind::Http => "http",
        }
    }
}

/// One member's health-check target: an `http://` URL or a `host:port`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    sensitive: bool,
}

impl std::fmt::Debug for Target {
    /// As shown: a debug print in a log must not show a secret either.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({:?})", self.shown())
    }
}

impl Target {
    /// A target; `sensitive` when it was built from a sensitive value.
    pub fn new(text: impl Into<String>, sensitive: bool) -> Target {
        Target {
            text: text.into(),
            sensitive,
        }
    }

    /// The target itself, to connect to. Never print it: use [`Target::shown`].
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The target as plans, logs and errors show it.
    pub fn shown(&self) -> &str {
        if self.sensitive {
            "(sensitive value)"
        } else {
            &self.text
        }
    }
}

/// A group's `health_check` block, evaluated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// Whether the topology has a `health_check` block with anything in it.
    pub declared: bool,
    /// How members are checked.
    pub kind: HealthKind,
    /// Time between checks, if declared.
    pub interval: Option<Duration>,
    /// How long one check may take, if declared.
    pub timeout: Option<Duration>,
    /// Consecutive failed checks before the monitor acts, if declared.
    pub failures: Option<u32>,
    /// Site to `http://` URL.
    pub urls: BTreeMap<String, Target>,
    /// Site to `host:port`.
    pub addresses: BTreeMap<String, Target>,
}

impl HealthCheck {
    /// The monitor's interval: as declared (10 ms at least, so it never spins), else 1 s.
    pub fn interval_or_default(&self) -> Duration {
        self.interval
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(10))
    }

    /// The monitor's timeout per check: as declared (10 ms at least), else 500 ms.
    pub fn timeout_or_default(&self) -> Duration {
        self.timeout
            .unwrap_or(Duration::from_millis(500))
            .max(Duration::from_millis(10))
    }

    /// Consecutive failures before the monitor acts: as declared, else 3.
    pub fn failures_or_default(&self) -> u32 {
        self.failures.unwrap_or(3)
    }

    /// The target the monitor checks at `site` for this kind: a URL for http, else an address.
    pub fn target(&self, site: &str) -> Option<&Target> {
        match self.kind {
            HealthKind::Http => self.urls.get(site),
            _ => self.addresses.get(site),
        }
    }
}

/// How long detecting a failure of a group can take: the health check's interval times its
/// failures, plus the longest DNS TTL among the group's traffic records, during which clients
/// may still resolve the old primary.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Seconds between checks.
    pub interval: f64,
    /// Consecutive failures before acting.
    pub failures: u32,
    /// The longest TTL of the group's `dns_record` traffic, in seconds.
    pub ttl: f64,
    /// Whether that TTL came from a sensitive value, so it is not shown.
    pub ttl_sensitive: bool,
}

impl Detection {
    /// The total, in seconds.
    pub fn seconds(&self) -> f64 {
        self.interval * f64::from(self.failures) + self.ttl
    }

    /// The sum in words, such as `1s x 3 + DNS TTL 60s = 63s`.
    pub fn text(&self) -> String {
        if self.ttl_sensitive {
            format!(
                "{}s x {} + DNS TTL (sensitive value)",
                self.interval, self.failures
            )
        } else {
            format!(
                "{}s x {} + DNS TTL {}s = {}s",
                self.interval,
                self.failures,
                self.ttl,
                self.seconds()
            )
        }
    }
}

impl super::model::Plan {
    /// The detection time of failover group `name`, when its health check declares both an
    /// interval and a failure count.
    pub fn detection(&self, name: &str) -> Option<Detection> {
        let g = self.groups.get(name)?;
        let interval = g.health_check.interval?.as_secs_f64();
        let failures = g.health_check.failures?;
        let (mut ttl, mut ttl_sensitive) = (0.0_f64, false);
        for c in &self.changes {
            if !g.traffic.contains(&c.addr.to_string())
                || c.addr.resource.resource.type_name != "dns_record"
            {
                continue;
            }
            // A TTL is a number the rule must count even when marked; the mark only hides it.
            let Some(v) = c.after.as_ref().and_then(|a| a.get("ttl")) else {
                continue;
            };
            if let Value::Number(n) = v.unmarked() {
                if n.to_f64() > ttl {
                    ttl = n.to_f64();
                    ttl_sensitive = v.is_sensitive();
                }
            }
        }
        Some(Detection {
            interval,
            failures,
            ttl,
            ttl_sensitive,
        })
    }
}

impl Walker<'_> {
    /// The health check's kind and its per-site targets.
    pub(super) fn health_targets(
        &mut self,
        fo: &Failover,
        sites: &[String],
        deps: &mut Vec<NodeKey>,
        out: &mut HealthCheck,
    ) {
        const KINDS: [&str; 4] = ["replication", "sql", "tcp", "http"];
        let kind = if fo.health_check.contains_key("type") {
            self.string_attr(&fo.health_check, "type", deps, &KINDS)
                .map(|k| match k.as_str() {
                    "sql" => HealthKind::Sql,
                    "tcp" => HealthKind::Tcp,
                    "http" => HealthKind::Http,
                    _ => HealthKind::Replication,
                })
        } else {
            Some(HealthKind::Replication)
        };
        for key in ["url", "address"] {
            let Some((v, span)) = self.eval_attr(&fo.health_check, key, deps) else {
                continue;
            };
            let example = if key == "url" {
                "url = { east = \"http://10.0.1.5:8008/health\", west = \"http://10.0.2.5:8008/health\" }"
            } else {
                "address = { east = \"10.0.1.5:5432\", west = \"10.0.2.5:5432\" }"
            };
            // A whole map marked sensitive marks every target in it.
            let whole = v.is_sensitive();
            let Value::Map(m) = v.unmarked() else {
                self.diags.push(Diagnostic::at(
                    span,
                    format!("Invalid {key}"),
                    format!("health_check.{key} maps each member's site to its target: {example}."),
                ));
                continue;
            };
            for (site, target) in m {
                // The target is a secret, or a part of one, when it is marked: it is read here to
                // be checked and kept with its mark, never shown.
                let text = match target.unmarked() {
                    Value::String(t) => Some(t.as_str()),
                    _ => None,
                };
                let ok = match text {
                    Some(t) if key == "url" => t.starts_with("http://"),
                    Some(t) => t
                        .rsplit_once(':')
                        .is_some_and(|(_, p)| p.parse::<u16>().is_ok()),
                    None => false,
                };
                if !sites.contains(site) {
                    let site = if whole {
                        "(sensitive value)"
                    } else {
                        site.as_str()
                    };
                    self.diags.push(Diagnostic::at(
                        span.clone(),
                        format!("Unknown member site {site:?} in health_check.{key}"),
                        format!("The group's members are at: {}.", sites.join(", ")),
                    ));
                } else if !ok {
                    self.diags.push(Diagnostic::at(
                        span.clone(),
                        format!("Invalid {key} for {site:?}"),
                        if key == "url" {
                            "Expected an http:// URL; a 2xx answer means healthy."
                        } else {
                            "Expected host:port."
                        },
                    ));
                } else if let Some(t) = text {
                    let target = Target::new(t, whole || target.is_sensitive());
                    let into = if key == "url" {
                        &mut out.urls
                    } else {
                        &mut out.addresses
                    };
                    into.insert(site.clone(), target);
                }
            }
        }
        let Some(kind) = kind else { return };
        if kind == HealthKind::Http {
            let missing: Vec<&str> = sites
                .iter()
                .filter(|s| !out.urls.contains_key(*s))
                .map(String::as_str)
                .collect();
            if let (Some(first), Some(a)) = (missing.first(), fo.health_check.get("type")) {
                self.diags.push(Diagnostic::at(
                    a.expr.span(),
                    "health_check type \"http\" needs a URL for every member",
                    format!(
                        "Add url = {{ {first} = \"http://...\" }} for: {}.",
                        missing.join(", ")
                    ),
                ));
            }
        }
        out.kind = kind;
    }
}
