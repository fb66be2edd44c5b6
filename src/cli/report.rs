//! Rendering diagnostics with source snippets, the only place they become text.

use crate::diag::{Diagnostic, Sources};
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource, Report,
};

/// Renders every diagnostic: `Error: summary`, `on file:line:col`, the snippet with the span
/// underlined, and the detail as help.
pub(crate) fn render(sources: &Sources, diags: &[Diagnostic], color: bool) -> String {
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
        let mut md =
            MietteDiagnostic::new(format!("Error: {}", d.summary)).with_help(d.detail.clone());
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
