//! SARIF 2.1.0 output, so code hosts can annotate pull requests.

use super::{Finding, Severity, BUILTIN_RULES};
use crate::diag::Sources;
use serde_json::{json, Value};

/// The findings as a SARIF 2.1.0 log.
pub fn sarif(findings: &[Finding], sources: &Sources) -> Value {
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
                let uri = sources.get(span.file).map(|(p, _)| p.display().to_string()).unwrap_or_default();
                r["locations"] = json!([{ "physicalLocation": { "artifactLocation": { "uri": uri }, "region": { "startLine": line, "startColumn": col } } }]);
            }
            r
        })
        .collect();
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": { "driver": { "name": "standby", "version": env!("CARGO_PKG_VERSION"), "informationUri": "https://example.invalid/standby", "rules": rules } },
            "results": results,
        }],
    })
}
