//! A failover group's `health_check` kind and its per-site targets, checked at plan time so the
//! monitor never meets a kind it does not know or a member without a URL.

use super::walk::Walker;
use crate::config::Failover;
use crate::diag::Diagnostic;
use crate::plan::model::NodeKey;
use standby_provider_sdk::Value;
use std::collections::BTreeMap;

impl Walker<'_> {
    /// The health check's kind and its per-site targets, flattened as `type`, `url.SITE` and
    /// `address.SITE`.
    pub(super) fn health_targets(
        &mut self,
        fo: &Failover,
        sites: &[String],
        deps: &mut Vec<NodeKey>,
        out: &mut BTreeMap<String, String>,
    ) {
        const KINDS: [&str; 4] = ["replication", "sql", "tcp", "http"];
        let kind = if fo.health_check.contains_key("type") {
            self.string_attr(&fo.health_check, "type", deps, &KINDS)
        } else {
            Some("replication".into())
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
            let Value::Map(m) = v.unmarked() else {
                self.diags.push(Diagnostic::at(
                    span,
                    format!("Invalid {key}"),
                    format!("health_check.{key} maps each member's site to its target: {example}."),
                ));
                continue;
            };
            for (site, target) in m {
                let ok = match target.as_str() {
                    Some(t) if key == "url" => t.starts_with("http://"),
                    Some(t) => t
                        .rsplit_once(':')
                        .is_some_and(|(_, p)| p.parse::<u16>().is_ok()),
                    None => false,
                };
                if !sites.contains(site) {
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
                } else if let Some(t) = target.as_str() {
                    out.insert(format!("{key}.{site}"), t.to_string());
                }
            }
        }
        let Some(kind) = kind else { return };
        if kind == "http" {
            let missing: Vec<&str> = sites
                .iter()
                .filter(|s| !out.contains_key(&format!("url.{s}")))
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
        out.insert("type".into(), kind);
    }
}
