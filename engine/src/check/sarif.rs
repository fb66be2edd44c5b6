//! SARIF 2.1.0 output, so code hosts can annotate pull requests.

use super::{Finding, Severity, BUILTIN_RULES};
use crate::diag::Sources;
use serde_json::{json, Value};

/// The findings as a SARIF 2.1.0 log. Locations are relative to the repository root
/// (`uriBaseId` `%SRCROOT%`), which code scanning resolves against the checkout: `prefix` is
/// the topology directory's path from there (empty when the topology is the root).
///
/// `browse` is the repository's web address and the commit (`https://github.com/o/r`,
/// `SHA`), when its `origin` remote names one: each rule of the topology's own `policy/`
/// then has a `helpUri` to its definition at that commit, which code scanning links to.
///
/// `docs` is where the team serves standby's `docs/` (`STANDBY_DOCS_URL`): the tool's
/// `informationUri`, and each built-in rule's `helpUri` to its row in `policy.md`.
pub fn sarif(
    findings: &[Finding],
    sources: &Sources,
    prefix: &std::path::Path,
    browse: Option<(&str, &str)>,
    docs: Option<&str>,
) -> Value {
    let mut rules: Vec<Value> = BUILTIN_RULES
        .iter()
        .map(|(id, d)| {
            let mut r = json!({ "id": id, "shortDescription": { "text": d }, "help": { "text": format!("{d}. Built into standby: see docs/policy.md, section Built-in rules.") } });
            if let Some(base) = docs {
                r["helpUri"] = json!(format!("{}/policy.md#built-in-rules", base.trim_end_matches('/')));
            }
            r
        })
        .collect();
    for f in findings {
        if !rules.iter().any(|r| r["id"] == f.rule.as_str()) {
            let mut rule = json!({ "id": f.rule, "shortDescription": { "text": f.rule } });
            if let (Some((base, commit)), Some(span)) = (browse, &f.span) {
                if let Some((p, _)) = sources.get(span.file) {
                    let (line, _) = sources.line_col(span.file, span.range.start);
                    // GitLab's file view is under /-/blob/, GitHub's and most others' /blob/.
                    let blob = if base.contains("gitlab") {
                        "-/blob"
                    } else {
                        "blob"
                    };
                    rule["helpUri"] = json!(format!(
                        "{base}/{blob}/{commit}/{}#L{line}",
                        prefix.join(p).display()
                    ));
                }
            }
            rules.push(rule);
        }
    }
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut r = json!({
                "ruleId": f.rule,
                "level": if f.severity == Severity::Error { "error" } else { "warning" },
                "message": { "text": f.message },
            });
            if let Some(span) = &f.span {
                let (line, col) = sources.line_col(span.file, span.range.start);
                let uri = sources
                    .get(span.file)
                    .map(|(p, _)| prefix.join(p).display().to_string())
                    .unwrap_or_default();
                r["locations"] = json!([{ "physicalLocation": { "artifactLocation": { "uri": uri, "uriBaseId": "%SRCROOT%" }, "region": { "startLine": line, "startColumn": col } } }]);
            }
            r
        })
        .collect();
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            // standby has no public page: informationUri is where the team serves its docs,
            // when it says so, and absent otherwise, rather than a placeholder.
            "tool": { "driver": driver(rules, docs) },
            "results": results,
        }],
    })
}

fn driver(rules: Vec<Value>, docs: Option<&str>) -> Value {
    let mut d = json!({ "name": "standby", "version": env!("CARGO_PKG_VERSION"), "rules": rules });
    if let Some(base) = docs {
        d["informationUri"] = json!(base.trim_end_matches('/'));
    }
    d
}
