//! SARIF 2.1.0 output, so code hosts can annotate pull requests.

use super::{Finding, Severity, BUILTIN_RULES};
use crate::diag::Sources;
use serde_json::{json, Value};

/// The findings as a SARIF 2.1.0 log. Locations are relative to the repository root
/// (`uriBaseId` `%SRCROOT%`), which code scanning resolves against the checkout: `prefix` is
/// the topology directory's path from there (empty when the topology is the root).
pub fn sarif(findings: &[Finding], sources: &Sources, prefix: &std::path::Path) -> Value {
    let mut rules: Vec<Value> = BUILTIN_RULES
        .iter()
        .map(|(id, d)| json!({ "id": id, "shortDescription": { "text": d } }))
        .collect();
    for f in findings {
        if !rules.iter().any(|r| r["id"] == f.rule.as_str()) {
            rules.push(json!({ "id": f.rule, "shortDescription": { "text": f.rule } }));
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
            // No informationUri: the project has no public page yet, and a placeholder would
            // send readers nowhere. Each rule's description says what it checks.
            "tool": { "driver": { "name": "standby", "version": env!("CARGO_PKG_VERSION"), "rules": rules } },
            "results": results,
        }],
    })
}
