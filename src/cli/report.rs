//! Rendering diagnostics with source snippets, the only place they become text.

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource, Report,
};
use standby_engine::diag::{Diagnostic, Sources};

/// Renders every diagnostic: `Error: summary`, `on file:line:col`, the snippet with the span
/// underlined, and the detail as help.
pub(crate) fn render(sources: &Sources, diags: &[Diagnostic], color: bool) -> String {
    render_as("Error", sources, diags, color)
}

/// Renders warnings as [`render`] renders errors, under `Warning:`.
pub(crate) fn render_warnings(sources: &Sources, diags: &[Diagnostic], color: bool) -> String {
    render_as("Warning", sources, diags, color)
}

fn render_as(level: &str, sources: &Sources, diags: &[Diagnostic], color: bool) -> String {
    let severity = if level == "Warning" {
        miette::Severity::Warning
    } else {
        miette::Severity::Error
    };
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(110)
        .with_wrap_lines(false)
        .with_context_lines(1);
    let mut out = String::new();
    for d in diags {
        let mut md = MietteDiagnostic::new(format!("{level}: {}", d.summary))
            .with_help(d.detail.clone())
            .with_severity(severity);
        let located = d
            .span
            .as_ref()
            .and_then(|s| sources.get(s.file).map(|(p, t)| (s, p, t)));
        if let Some((span, _, text)) = located {
            let len = span
                .range
                .end
                .saturating_sub(span.range.start)
                .max(usize::from(!text.is_empty()));
            let start = span.range.start.min(text.len().saturating_sub(1));
            md = md.with_label(LabeledSpan::at(
                start..start + len.min(text.len() - start),
                "here",
            ));
        }
        let report = match located {
            Some((_, path, text)) => Report::new(md).with_source_code(NamedSource::new(
                path.display().to_string(),
                text.to_string(),
            )),
            None => Report::new(md),
        };
        let mut s = String::new();
        if handler.render_report(&mut s, report.as_ref()).is_ok() {
            out.push_str(&s);
        }
        out.push('\n');
    }
    out
}

/// Diagnostics in the shape of Terraform's `validate -json` (format 1.0): `valid`, the counts,
/// and each diagnostic with its file range (line and column from 1, byte offsets from 0).
pub(crate) fn validate_json(
    sources: &Sources,
    diags: &[Diagnostic],
    warnings: &[Diagnostic],
) -> String {
    let severity = |d: &Diagnostic| {
        if warnings.contains(d) && !diags.contains(d) {
            "warning"
        } else {
            "error"
        }
    };
    let items: Vec<serde_json::Value> = diags
        .iter()
        .chain(warnings)
        .map(|d| {
            let mut v = serde_json::json!({
                "severity": severity(d),
                "summary": d.summary,
                "detail": d.detail,
            });
            if let Some(span) = &d.span {
                let at = |offset: usize| {
                    let (line, column) = sources.line_col(span.file, offset);
                    serde_json::json!({ "line": line, "column": column, "byte": offset })
                };
                let filename = sources
                    .get(span.file)
                    .map(|(p, _)| p.display().to_string())
                    .unwrap_or_default();
                v["range"] = serde_json::json!({
                    "filename": filename,
                    "start": at(span.range.start),
                    "end": at(span.range.end),
                });
            }
            v
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "format_version": "1.0",
        "valid": diags.is_empty(),
        "error_count": diags.len(),
        "warning_count": warnings.len(),
        "diagnostics": items,
    }))
    .unwrap_or_default()
}
