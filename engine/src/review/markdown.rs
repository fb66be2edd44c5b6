//! The review comment in Markdown, split into parts under GitHub's comment limit.

use super::{EnvReview, RiskFlag};
use crate::config::{render_diff, TopologyChange};
use crate::plan::render_plan;
use std::fmt::Write as _;

/// GitHub's limit on one comment, in characters.
pub const MAX_COMMENT: usize = 65_536;

/// Room kept for the part header and closing fences.
const MARGIN: usize = 512;

/// The comment, as one part or several, each within `limit` characters.
pub fn markdown(
    base: &str,
    head: &str,
    changes: &[TopologyChange],
    envs: &[EnvReview],
    flags: &[RiskFlag],
    limit: usize,
) -> Vec<String> {
    let mut head_md = format!("## standby review: `{base}` → {head}\n\n");
    if flags.is_empty() {
        head_md.push_str("**No risk flags.**\n\n");
    } else {
        let _ = writeln!(head_md, "### ⚠️ Risk flags\n");
        for f in flags {
            let _ = writeln!(head_md, "- **{}** ({}): {}", f.severity, f.env, f.message);
        }
        head_md.push('\n');
    }
    let _ = writeln!(head_md, "### Summary\n\n| environment | add | change | destroy | switches |\n| --- | ---: | ---: | ---: | --- |");
    for e in envs {
        let (a, c, d) = e.plan.counts();
        let sw: Vec<String> = e
            .plan
            .switches
            .iter()
            .filter(|s| s.from.as_ref().is_some_and(|f| *f != s.to))
            .map(|s| {
                format!(
                    "{} {} → {}",
                    s.group,
                    s.from.as_deref().unwrap_or("-"),
                    s.to
                )
            })
            .collect();
        let _ = writeln!(
            head_md,
            "| {}{} | {a} | {c} | {d} | {} |",
            e.env,
            if e.protected { " 🔒" } else { "" },
            if sw.is_empty() {
                "—".to_string()
            } else {
                sw.join(", ")
            }
        );
    }
    head_md.push('\n');
    let mut blocks = vec![head_md];
    if !changes.is_empty() {
        blocks.push(format!(
            "### Topology changes\n\n```diff\n{}```\n\n",
            render_diff(changes)
        ));
    }
    for e in envs {
        let text = render_plan(&e.plan, false);
        let summary = format!("Plan for {}", e.env);
        let body_limit = limit.saturating_sub(MARGIN + summary.len() + 64).max(1024);
        let lines: Vec<&str> = text.lines().collect();
        let mut chunk = String::new();
        let mut chunks = Vec::new();
        for l in lines {
            if chunk.len() + l.len() + 1 > body_limit && !chunk.is_empty() {
                chunks.push(std::mem::take(&mut chunk));
            }
            chunk.push_str(l);
            chunk.push('\n');
        }
        chunks.push(chunk);
        let n = chunks.len();
        for (i, c) in chunks.into_iter().enumerate() {
            let title = if n > 1 {
                format!("{summary} ({}/{n})", i + 1)
            } else {
                summary.clone()
            };
            blocks.push(format!(
                "<details><summary>{title}</summary>\n\n```\n{c}```\n\n</details>\n\n"
            ));
        }
    }
    // Pack blocks into parts.
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    for b in blocks {
        if !cur.is_empty() && cur.len() + b.len() > limit - MARGIN {
            parts.push(std::mem::take(&mut cur));
        }
        cur.push_str(&b);
    }
    parts.push(cur);
    let n = parts.len();
    if n > 1 {
        for (i, p) in parts.iter_mut().enumerate() {
            p.insert_str(0, &format!("_standby review, part {} of {n}_\n\n", i + 1));
        }
    }
    parts
}
