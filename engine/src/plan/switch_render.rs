//! How switches read in plans: one numbered line per step, shared by the text and JSON forms.

use super::model::{StepKind, SwitchKind, SwitchPlan};
use std::fmt::Write as _;

use crate::units::human_bytes as bytes;

/// One sentence for a step.
pub fn describe_step(sw: &SwitchPlan, step: &StepKind) -> String {
    let from = sw.from.as_deref().unwrap_or("-");
    let to = &sw.to;
    match step {
        StepKind::Configure => {
            let standbys: Vec<&str> = sw.members.keys().filter(|s| *s != to).map(String::as_str).collect();
            format!("{to} is primary; {} following it ({})", if standbys.is_empty() { "no standbys".to_string() } else { standbys.join(", ") }, sw.mode)
        }
        StepKind::Precheck => {
            let limit = sw.max_lag_bytes.map_or("no max_lag".to_string(), |m| format!("max_lag {m}"));
            let now = sw.estimate.as_ref().map_or(String::new(), |e| format!("; now {}{}", e.lag_text(), if e.target_healthy { "" } else { ", NOT HEALTHY" }));
            format!("{to} is healthy and within {limit}{now}")
        }
        StepKind::Approval => format!("manual approval: apply stops here unless --approve {} (or an approval file names this plan)", sw.group),
        StepKind::Hook(i) => sw.hooks.get(*i as usize).map_or_else(String::new, |h| format!("{}: {}", h.when, h.shown())),
        StepKind::Fence => {
            if sw.kind == SwitchKind::Failover {
                format!("{from} stops taking writes (best effort: it may be unreachable), epoch {}", sw.epoch)
            } else {
                format!("{from} stops taking writes, epoch {}", sw.epoch)
            }
        }
        StepKind::CatchUp => format!("{to} replays everything {from} wrote before the fence"),
        StepKind::MeasureGap => format!("catch-up skipped: measure how far {to} is behind{}", sw.estimate.as_ref().map_or(String::new(), |e| if e.lag_known { format!(" (estimated {})", bytes(e.lag_bytes)) } else { " (data loss unknown: the old primary does not answer)".to_string() })),
        StepKind::Promote => format!("{to} becomes primary at epoch {}", sw.epoch),
        StepKind::Checksum => format!("checksum {} on {to} before traffic moves (a failure is reported, never undone)", sw.checksum.join(", ")),
        StepKind::Verify => {
            if sw.checksum.is_empty() {
                format!("{to} is a healthy primary")
            } else {
                format!("checksums of {} equal on {from} and {to}; {to} is a healthy primary", sw.checksum.join(", "))
            }
        }
        StepKind::Reprotect => {
            let others: Vec<&str> = sw.members.keys().filter(|s| *s != to).map(String::as_str).collect();
            let stamp = if sw.stamp_epoch { format!("{to} gets epoch {} (claimed like a promotion's), then ", sw.epoch) } else { String::new() };
            format!("{stamp}{} rejoin{} as standby of {to} ({})", others.join(", "), if others.len() == 1 { "s" } else { "" }, sw.mode)
        }
        StepKind::Record => {
            let mut s = format!("the state records {to} active at epoch {}", sw.epoch);
            if let Some(r) = &sw.set_override {
                let _ = write!(s, " with an override ({r})");
            }
            if sw.clear_override {
                s.push_str(" and clears the override");
            }
            s
        }
    }
}

/// The steps with descriptions, plus the repoint of traffic after promotion.
pub fn step_lines(sw: &SwitchPlan) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut repointed = false;
    for step in &sw.steps {
        let traffic_here = matches!(step, StepKind::Verify | StepKind::Record)
            || (sw.kind == SwitchKind::Reconcile && *step == StepKind::Reprotect);
        if traffic_here
            && !repointed
            && matches!(
                sw.kind,
                SwitchKind::Switchover | SwitchKind::Failover | SwitchKind::Reconcile
            )
        {
            repointed = true;
            let what = if sw.traffic.is_empty() {
                "no traffic resources changed".to_string()
            } else {
                format!("{} (in parallel)", sw.traffic.join(", "))
            };
            out.push(("repoint".to_string(), what));
        }
        let name = match step {
            StepKind::Hook(_) => "hook".to_string(),
            other => other.to_string(),
        };
        out.push((name, describe_step(sw, step)));
    }
    out
}

/// The headline of a switch.
pub fn headline(sw: &SwitchPlan) -> String {
    match (sw.kind, &sw.from) {
        (SwitchKind::Initial, _) => format!(
            "failover.{} will set up replication with {} as primary (epoch {})",
            sw.group, sw.to, sw.epoch
        ),
        (SwitchKind::Resync, _) if sw.reason.code == "switch_replication_mode" => format!(
            "failover.{} will change its replication mode to {}",
            sw.group, sw.mode
        ),
        (SwitchKind::Resync, _) => {
            format!("failover.{} will sync its standbys to {}", sw.group, sw.to)
        }
        (SwitchKind::RecordOnly, _) => format!("failover.{} will update its record", sw.group),
        (SwitchKind::Reconcile, _) if sw.reason.code == "switch_reprotect" => format!(
            "failover.{} will re-protect {}: {} stays primary (epoch {})",
            sw.group,
            sw.rejoin.join(", "),
            sw.to,
            sw.epoch
        ),
        (SwitchKind::Reconcile, f) if sw.stamp_epoch => format!(
            "failover.{} will RECORD that {} is primary, as its members say, and write epoch {} into it (its promotion was interrupted before writing one); the state said {}",
            sw.group,
            sw.to,
            sw.epoch,
            f.as_deref().unwrap_or("-")
        ),
        (SwitchKind::Reconcile, f) => format!(
            "failover.{} will RECORD that {} is primary (epoch {}), as its members say; the state said {}",
            sw.group,
            sw.to,
            sw.epoch,
            f.as_deref().unwrap_or("-")
        ),
        (SwitchKind::Failover, f) => format!(
            "failover.{} will FAIL OVER from {} to {} (epoch {} -> {})",
            sw.group,
            f.as_deref().unwrap_or("-"),
            sw.to,
            sw.epoch.saturating_sub(1),
            sw.epoch
        ),
        (SwitchKind::Switchover, f) => format!(
            "failover.{} will switch from {} to {} (epoch {} -> {})",
            sw.group,
            f.as_deref().unwrap_or("-"),
            sw.to,
            sw.epoch.saturating_sub(1),
            sw.epoch
        ),
    }
}
