//! The topology diff between two loaded revisions: blocks and attributes added, changed and
//! removed, each with its file:line.

use super::model::{Body, Config, Module};
use crate::diag::{Sources, Span};
use std::collections::BTreeMap;

/// What happened to a block or attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Only in the head.
    Added,
    /// Only in the base.
    Removed,
    /// In both, different.
    Changed,
}

/// One difference.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TopologyChange {
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// The block, such as `failover.orders` or `resource.local_file.conf`.
    pub block: String,
    /// The attribute, such as `active` or `replication.mode`, when the change is inside a block.
    pub attribute: Option<String>,
    /// Source text in the base.
    pub before: Option<String>,
    /// Source text in the head.
    pub after: Option<String>,
    /// `file:line:col` in the head, or in the base for removals.
    pub location: String,
}

/// Attribute name to (source text, location).
type Attrs = BTreeMap<String, (String, String)>;

fn text(sources: &Sources, span: &Span) -> String {
    sources
        .get(span.file)
        .and_then(|(_, t)| t.get(span.range.clone()))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn attrs(sources: &Sources, body: &Body, prefix: &str, out: &mut Attrs) {
    for (name, a) in body {
        let span = a.expr.span();
        out.insert(
            format!("{prefix}{name}"),
            (text(sources, &span), sources.location(&a.span)),
        );
    }
}

/// Every block of a module (and its children) with its attributes and location.
fn blocks(
    sources: &Sources,
    m: &Module,
    prefix: &str,
    out: &mut BTreeMap<String, (String, Attrs)>,
) {
    let loc = |s: &Span| sources.location(s);
    for (n, v) in &m.variables {
        let mut a = Attrs::new();
        if let Some(d) = &v.default {
            a.insert("default".into(), (text(sources, &d.span()), loc(&d.span())));
        }
        a.insert("type".into(), (v.ty.to_string(), loc(&v.span)));
        out.insert(format!("{prefix}variable.{n}"), (loc(&v.span), a));
    }
    for (n, l) in &m.locals {
        out.insert(
            format!("{prefix}local.{n}"),
            (
                loc(&l.span),
                Attrs::from([(
                    "value".into(),
                    (text(sources, &l.expr.span()), loc(&l.span)),
                )]),
            ),
        );
    }
    for (n, o) in &m.outputs {
        out.insert(
            format!("{prefix}output.{n}"),
            (
                loc(&o.span),
                Attrs::from([(
                    "value".into(),
                    (text(sources, &o.value.span()), loc(&o.span)),
                )]),
            ),
        );
    }
    for (addr, r) in &m.resources {
        let kind = if addr.mode == crate::addr::Mode::Data {
            "data"
        } else {
            "resource"
        };
        let mut a = Attrs::new();
        attrs(sources, &r.body, "", &mut a);
        for (k, e) in [
            ("count", &r.count),
            ("for_each", &r.for_each),
            ("site", &r.site),
        ] {
            if let Some(e) = e {
                a.insert(k.into(), (text(sources, &e.span()), loc(&e.span())));
            }
        }
        for (b, _, body, _) in &r.blocks {
            attrs(sources, body, &format!("{b}."), &mut a);
        }
        out.insert(
            format!("{prefix}{kind}.{}.{}", addr.type_name, addr.name),
            (loc(&r.span), a),
        );
    }
    for (n, s) in &m.sites {
        let mut a = Attrs::new();
        attrs(sources, &s.body, "", &mut a);
        out.insert(format!("site.{n}"), (loc(&s.span), a));
    }
    for (n, f) in &m.failovers {
        let mut a = Attrs::new();
        attrs(sources, &f.body, "", &mut a);
        attrs(sources, &f.replication, "replication.", &mut a);
        attrs(sources, &f.health_check, "health_check.", &mut a);
        attrs(sources, &f.verify, "verify.", &mut a);
        for h in &f.hooks {
            a.insert(
                format!("hook.{}", h.when),
                (text(sources, &h.command.span()), loc(&h.span)),
            );
        }
        out.insert(format!("failover.{n}"), (loc(&f.span), a));
    }
    for (n, p) in &m.providers {
        let mut a = Attrs::new();
        attrs(sources, &p.body, "", &mut a);
        out.insert(format!("provider.{n}"), (loc(&p.span), a));
    }
    for (n, c) in &m.calls {
        let mut a = Attrs::new();
        attrs(sources, &c.args, "", &mut a);
        a.insert("source".into(), (format!("{:?}", c.source), loc(&c.span)));
        out.insert(format!("{prefix}module.{n}"), (loc(&c.span), a));
        blocks(sources, &c.module, &format!("{prefix}module.{n}."), out);
    }
}

/// Separates what is shown of a sensitive value from its text, which is only compared.
const SECRET_TEXT: char = '\u{0}';

/// Each environment file as a block `env.NAME` whose attributes are its assignments: a branch
/// that moves prod by editing `env/prod.hcl` shows in the diff like one that edits `main.hcl`.
/// The value of a variable declared sensitive is shown as `(sensitive value)`.
fn env_blocks(c: &Config, out: &mut BTreeMap<String, (String, Attrs)>) {
    use hcl_edit::Span as _;
    for (name, (path, text)) in &c.env_files {
        let Ok(text) = text else {
            continue;
        };
        let shown = path
            .strip_prefix(&c.root_dir)
            .unwrap_or(path)
            .display()
            .to_string();
        let Ok(body) =
            hcl_edit::parser::parse_body(&super::heredoc::empty_heredocs_as_strings(text))
        else {
            continue;
        };
        let at = |offset: usize| {
            let before = &text[..offset.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("{shown}:{line}:{col}")
        };
        let mut a = Attrs::new();
        for st in body.iter() {
            let hcl_edit::structure::Structure::Attribute(attr) = st else {
                continue;
            };
            let key = attr.key.value().to_string();
            let sensitive = c.root.variables.get(&key).is_some_and(|v| v.sensitive);
            let raw = attr
                .value
                .span()
                .and_then(|r| text.get(r))
                .unwrap_or_default()
                .trim();
            // Compared by its text, shown as (sensitive value): a change to a secret is a
            // change, and the secret is not in the diff.
            let value = if sensitive {
                format!("(sensitive value){SECRET_TEXT}{raw}")
            } else {
                raw.to_string()
            };
            let loc = at(attr.span().map_or(0, |r| r.start));
            a.insert(key, (value, loc));
        }
        out.insert(format!("env.{name}"), (at(0), a));
    }
}

/// The differences from `base` to `head`.
pub fn diff(base: &Config, head: &Config) -> Vec<TopologyChange> {
    let (mut b, mut h) = (BTreeMap::new(), BTreeMap::new());
    blocks(&base.sources, &base.root, "", &mut b);
    blocks(&head.sources, &head.root, "", &mut h);
    env_blocks(base, &mut b);
    env_blocks(head, &mut h);
    let mut out = Vec::new();
    for (name, (loc, attrs)) in &h {
        match b.get(name) {
            None => out.push(TopologyChange {
                kind: ChangeKind::Added,
                block: name.clone(),
                attribute: None,
                before: None,
                after: None,
                location: loc.clone(),
            }),
            Some((_, old)) => {
                for (a, (after, aloc)) in attrs {
                    match old.get(a) {
                        None => out.push(TopologyChange {
                            kind: ChangeKind::Added,
                            block: name.clone(),
                            attribute: Some(a.clone()),
                            before: None,
                            after: Some(after.clone()),
                            location: aloc.clone(),
                        }),
                        Some((before, _)) if before != after => out.push(TopologyChange {
                            kind: ChangeKind::Changed,
                            block: name.clone(),
                            attribute: Some(a.clone()),
                            before: Some(before.clone()),
                            after: Some(after.clone()),
                            location: aloc.clone(),
                        }),
                        Some(_) => {}
                    }
                }
                for (a, (before, bloc)) in old {
                    if !attrs.contains_key(a) {
                        out.push(TopologyChange {
                            kind: ChangeKind::Removed,
                            block: name.clone(),
                            attribute: Some(a.clone()),
                            before: Some(before.clone()),
                            after: None,
                            location: bloc.clone(),
                        });
                    }
                }
            }
        }
    }
    for (name, (loc, _)) in &b {
        if !h.contains_key(name) {
            out.push(TopologyChange {
                kind: ChangeKind::Removed,
                block: name.clone(),
                attribute: None,
                before: None,
                after: None,
                location: loc.clone(),
            });
        }
    }
    // A sensitive value was compared by its text, which never leaves this function.
    for c in &mut out {
        for side in [&mut c.before, &mut c.after] {
            if let Some(s) = side.as_mut() {
                if let Some((shown, _)) = s.split_once(SECRET_TEXT) {
                    *s = shown.to_string();
                }
            }
        }
    }
    out
}

/// The diff as text, with line diffs of multi-line values.
pub fn render_diff(changes: &[TopologyChange]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for c in changes {
        let sign = match c.kind {
            ChangeKind::Added => "+",
            ChangeKind::Removed => "-",
            ChangeKind::Changed => "~",
        };
        match (&c.attribute, &c.before, &c.after) {
            (None, _, _) => {
                let _ = writeln!(out, "  {sign} {} ({})", c.block, c.location);
            }
            (Some(a), Some(b), Some(af)) if b.contains('\n') || af.contains('\n') => {
                let _ = writeln!(out, "  {sign} {}.{a} ({})", c.block, c.location);
                for ch in similar::TextDiff::from_lines(b.as_str(), af.as_str()).iter_all_changes()
                {
                    let s = match ch.tag() {
                        similar::ChangeTag::Delete => "-",
                        similar::ChangeTag::Insert => "+",
                        similar::ChangeTag::Equal => " ",
                    };
                    let _ = writeln!(out, "      {s} {}", ch.value().trim_end_matches('\n'));
                }
            }
            (Some(a), b, af) => {
                let _ = writeln!(
                    out,
                    "  {sign} {}.{a}: {} ({})",
                    c.block,
                    match (b, af) {
                        (Some(b), Some(af)) => format!("{b} -> {af}"),
                        (Some(b), None) => b.clone(),
                        (None, Some(af)) => af.clone(),
                        (None, None) => String::new(),
                    },
                    c.location
                );
            }
        }
    }
    out
}
