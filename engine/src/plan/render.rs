//! The human rendering of a plan, in Terraform's habits: `+`, `~`, `-`, `-/+` markers,
//! attribute-level diffs, line diffs of multi-line strings, and a summary line.

use super::model::{Action, OutputChange, Plan, PlanMode, ResourceChange};
use similar::{ChangeTag, TextDiff};
use standby_provider_sdk::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Colours, or none.
#[derive(Clone, Copy)]
struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn green(self, s: &str) -> String {
        self.wrap("32", s)
    }
    fn red(self, s: &str) -> String {
        self.wrap("31", s)
    }
    fn yellow(self, s: &str) -> String {
        self.wrap("33", s)
    }
    fn cyan(self, s: &str) -> String {
        self.wrap("36", s)
    }
    fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn marker(self, m: &str) -> String {
        match m {
            "+" => self.green(m),
            "-" => self.red(m),
            "~" => self.yellow(m),
            "<=" => self.cyan(m),
            _ => self.yellow(m),
        }
    }
}

/// Renders the whole plan for a terminal or a log.
pub fn render_plan(plan: &Plan, color: bool) -> String {
    let p = Paint { on: color };
    let mut out = String::new();
    if !plan.drift.is_empty() {
        let _ = writeln!(
            out,
            "{}\n",
            p.bold("Note: Objects have changed outside of standby")
        );
        let _ = writeln!(out, "standby detected the following changes made outside of standby since the last apply:\n");
        for c in &plan.drift {
            render_change(&mut out, c, p, true);
        }
        if plan.mode == PlanMode::RefreshOnly {
            let _ = writeln!(out, "Applying this refresh-only plan records these changes in the state; it changes nothing else.\n");
        }
    }
    for m in &plan.member_drift {
        let _ = writeln!(
            out,
            "{} {m}\nApplying this refresh-only plan records it in the state.\n",
            p.bold("Note: the failover members have changed outside the state:")
        );
    }
    let mut changes: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| {
            (c.action != Action::NoOp && !c.forgets_data())
                || c.importing.is_some()
                || c.previous_address.is_some()
        })
        .collect();
    changes.sort_by_key(|c| c.addr.to_string());
    let output_changes: Vec<(&String, &OutputChange)> = plan
        .outputs
        .iter()
        .filter(|(_, o)| o.before.as_ref().is_none_or(|b| !b.same_as(&o.after)))
        .collect();
    for n in &plan.failover_notes {
        let _ = writeln!(out, "{} {n}\n", p.bold("Note:"));
    }
    if changes.is_empty() && output_changes.is_empty() && plan.switches.is_empty() {
        if (plan.drift.is_empty() && plan.member_drift.is_empty())
            || plan.mode != PlanMode::RefreshOnly
        {
            let _ = writeln!(
                out,
                "{} Your infrastructure matches the configuration.",
                p.green(&p.bold("No changes."))
            );
        }
        return out;
    }
    if !changes.is_empty() {
        // The environment is named, as Terraform names a workspace other than the default:
        // a reviewer must not mistake a plan for prod for one for dev.
        if plan.env == "default" {
            let _ = writeln!(out, "standby will perform the following actions:\n");
        } else {
            let _ = writeln!(
                out,
                "standby will perform the following actions in environment {:?}:\n",
                plan.env
            );
        }
        for c in &changes {
            render_change(&mut out, c, p, false);
        }
    }
    for sw in &plan.switches {
        render_switch(&mut out, sw, p);
    }
    if !changes.is_empty() || !plan.switches.is_empty() {
        let (add, change, destroy) = plan.counts();
        let switches: Vec<String> = plan
            .switches
            .iter()
            .filter(|s| s.from.as_ref().is_some_and(|f| *f != s.to))
            .map(|s| {
                format!(
                    "failover.{} {} -> {}",
                    s.group,
                    s.from.as_deref().unwrap_or("-"),
                    s.to
                )
            })
            .collect();
        let switch_text = if switches.is_empty() {
            String::new()
        } else {
            format!(" Switch: {}.", switches.join(", "))
        };
        let imports = plan
            .changes
            .iter()
            .filter(|c| c.importing.is_some())
            .count();
        let import_text = if imports > 0 {
            format!(" {imports} to import,")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{}{import_text} {add} to add, {change} to change, {destroy} to destroy.{switch_text}",
            p.bold("Plan:")
        );
    }
    if !output_changes.is_empty() {
        let _ = writeln!(out, "\nChanges to Outputs:");
        let width = output_changes
            .iter()
            .map(|(k, _)| k.len())
            .max()
            .unwrap_or(0)
            // Rust's formatter takes widths up to u16::MAX; a longer name is printed whole.
            .min(usize::from(u16::MAX));
        for (name, o) in output_changes {
            let (m, text) = match &o.before {
                None => ("+", show(&o.after, o.sensitive)),
                Some(_) if o.after.is_null() => (
                    "-",
                    format!(
                        "{} -> null",
                        show(o.before.as_ref().unwrap_or(&Value::Null), o.sensitive)
                    ),
                ),
                Some(b) => (
                    "~",
                    format!(
                        "{} -> {}",
                        show(b, o.sensitive),
                        show(&o.after, o.sensitive)
                    ),
                ),
            };
            let _ = writeln!(out, "  {} {name:<width$} = {text}", p.marker(m));
        }
    }
    out
}

fn show(v: &Value, sensitive: bool) -> String {
    if sensitive && !v.is_unknown() {
        "(sensitive value)".into()
    } else {
        v.to_string()
    }
}

fn headline(c: &ResourceChange, drift: bool) -> (&'static str, String) {
    let a = &c.addr;
    if drift {
        return match c.action {
            Action::Delete => ("-", format!("# {a} has been deleted")),
            _ => ("~", format!("# {a} has changed")),
        };
    }
    match (c.action, &c.previous_address, &c.importing) {
        (Action::NoOp, Some(prev), _) => return (" ", format!("# {prev} has moved to {a}")),
        (Action::NoOp, _, Some(_)) => return (" ", format!("# {a} will be imported")),
        _ => {}
    }
    if c.reason.as_ref().is_some_and(|r| r.code == super::GONE) {
        return (
            "-",
            format!("# {a} is already gone; its record will be removed"),
        );
    }
    match c.action {
        Action::Create => ("+", format!("# {a} will be created")),
        Action::Update => ("~", format!("# {a} will be updated in place")),
        Action::Delete => ("-", format!("# {a} will be destroyed")),
        Action::DeleteThenCreate => ("-/+", format!("# {a} must be replaced")),
        Action::CreateThenDelete => ("+/-", format!("# {a} must be replaced")),
        Action::Read => ("<=", format!("# {a} will be read during apply")),
        Action::NoOp => (" ", format!("# {a}")),
    }
}

fn render_change(out: &mut String, c: &ResourceChange, p: Paint, drift: bool) {
    let (marker, head) = headline(c, drift);
    let _ = writeln!(out, "  {}", p.bold(&head));
    if !drift && c.action != Action::NoOp {
        if let Some(prev) = &c.previous_address {
            let _ = writeln!(out, "  # (moved from {prev})");
        }
        if let Some(id) = &c.importing {
            let _ = writeln!(out, "  # (imported from {id:?})");
        }
    }
    if let Some(r) = &c.reason {
        if !drift {
            let _ = writeln!(out, "  # ({})", r.text);
        }
        if r.code == super::GONE && !drift {
            // The drift note above showed what it was; there is nothing left to show.
            let _ = writeln!(out);
            return;
        }
    }
    let kind = if c.addr.resource.resource.mode == crate::addr::Mode::Data {
        "data"
    } else {
        "resource"
    };
    let pad = " ".repeat(3usize.saturating_sub(marker.len()));
    let _ = writeln!(
        out,
        "{pad}{} {kind} {:?} {:?} {{",
        p.marker(marker),
        c.addr.resource.resource.type_name,
        c.addr.resource.resource.name
    );
    let empty = BTreeMap::new();
    let before = match c.before.as_ref().map(Value::unmarked) {
        Some(Value::Map(m)) => m,
        _ => &empty,
    };
    let after = match c.after.as_ref().map(Value::unmarked) {
        Some(Value::Map(m)) => m,
        _ => &empty,
    };
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut lines: Vec<(String, String, String)> = Vec::new();
    let mut unchanged = 0;
    let null = Value::Null;
    for k in keys {
        let b = before.get(k).unwrap_or(&null);
        let a = after.get(k).unwrap_or(&null);
        let deleting = c.action == Action::Delete && !drift;
        let creating = c.action == Action::Create || (c.before.is_none() && !deleting);
        if deleting {
            if !b.is_null() {
                lines.push(("-".into(), k.clone(), format!("{b} -> null")));
            }
        } else if creating {
            if !a.is_null() {
                lines.push(("+".into(), k.clone(), value_text(a, None)));
            }
        } else if b.same_as(a) {
            unchanged += 1;
        } else if b.is_null() {
            lines.push(("+".into(), k.clone(), value_text(a, None)));
        } else if a.is_null() {
            lines.push(("-".into(), k.clone(), format!("{b} -> null")));
        } else {
            let mut t = value_text(a, Some(b));
            if c.requires_replace.contains(k) {
                t.push_str(" # forces replacement");
            }
            lines.push(("~".into(), k.clone(), t));
        }
    }
    let width = lines
        .iter()
        .map(|(_, k, _)| k.len())
        .max()
        .unwrap_or(0)
        .min(usize::from(u16::MAX));
    for (m, k, text) in &lines {
        let text = if text.contains('\n') {
            text.replace('\n', "\n      ")
        } else {
            text.clone()
        };
        let text = if c.requires_replace.contains(k) && p.on {
            text.replace("# forces replacement", &p.red("# forces replacement"))
        } else {
            text
        };
        let _ = writeln!(out, "      {} {k:<width$} = {text}", p.marker(m));
    }
    if unchanged > 0 {
        let _ = writeln!(
            out,
            "        # ({unchanged} unchanged attribute{} hidden)",
            if unchanged == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(out, "    }}\n");
}

/// A value, or a change from `before`; multi-line strings become heredocs with a line diff.
fn value_text(after: &Value, before: Option<&Value>) -> String {
    let multi = |v: &Value| matches!(v, Value::String(s) if s.contains('\n'));
    match before {
        Some(b) if multi(b) || multi(after) => {
            let (Some(old), Some(new)) = (
                b.as_str().filter(|_| !b.is_sensitive()),
                after.as_str().filter(|_| !after.is_sensitive()),
            ) else {
                return format!("{b} -> {after}");
            };
            let mut s = String::from("<<-EOT\n");
            for change in TextDiff::from_lines(old, new).iter_all_changes() {
                let sign = match change.tag() {
                    ChangeTag::Delete => "- ",
                    ChangeTag::Insert => "+ ",
                    ChangeTag::Equal => "  ",
                };
                let _ = writeln!(s, "    {sign}{}", change.value().trim_end_matches('\n'));
            }
            s.push_str("  EOT");
            s
        }
        Some(b) => format!("{b} -> {after}"),
        None if multi(after) => {
            let mut s = String::from("<<-EOT\n");
            for line in after.as_str().unwrap_or_default().lines() {
                let _ = writeln!(s, "      {line}");
            }
            s.push_str("  EOT");
            s
        }
        None => after.to_string(),
    }
}

fn render_switch(out: &mut String, sw: &super::SwitchPlan, p: Paint) {
    let _ = writeln!(
        out,
        "  {}",
        p.bold(&format!("# {}", super::switch_headline(sw)))
    );
    let _ = writeln!(out, "  # ({})", sw.reason.text);
    for n in &sw.notes {
        let _ = writeln!(out, "  # note: {n}");
    }
    if sw.needs_data_loss_ack {
        let _ = writeln!(
            out,
            "  # {}",
            p.red(&format!(
                "promotion may lose data: apply needs --accept-data-loss {}",
                sw.group
            ))
        );
    }
    let _ = writeln!(out, "{} failover {:?} {{", p.yellow("<->"), sw.group);
    for (i, (name, text)) in super::step_lines(sw).iter().enumerate() {
        let _ = writeln!(out, "      {:>2}. {name:<11} {text}", i + 1);
    }
    let _ = writeln!(out, "    }}\n");
}
