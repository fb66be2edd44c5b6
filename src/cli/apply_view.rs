//! What a person sees of an apply: warnings and progress while it runs (the operation's
//! view), then what happened and the exit code its verdict gives.

use super::progress;
use standby_engine::apply::ApplyReport;
use standby_engine::operation::{self, Verdict};
use standby_engine::plan::{Plan, PlanMode};

/// The operation's view for a person at a terminal: warnings on stderr, a progress display.
pub(crate) struct ApplyView<'a> {
    pub rt: &'a tokio::runtime::Runtime,
    pub total: usize,
    pub progress: progress::Progress,
    pub env: String,
    pub shown: Option<tokio::task::JoinHandle<()>>,
}

impl operation::View for ApplyView<'_> {
    fn warn(&mut self, text: &str) {
        eprintln!("Warning: {text}");
    }

    fn progress(
        &mut self,
    ) -> Option<tokio::sync::mpsc::UnboundedSender<standby_engine::apply::ApplyEvent>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let show = progress::show(rx, self.total, self.progress.clone(), self.env.clone());
        self.shown = Some(self.rt.spawn(show));
        Some(tx)
    }
}

/// Prints what the apply did; returns its exit code.
pub(crate) fn finished(plan: &Plan, report: &ApplyReport, verdict: Verdict, color: bool) -> i32 {
    let (add, change, destroy) = report.counts();
    let failed = verdict == Verdict::Incomplete;
    if !report.failed.is_empty() {
        let diags: Vec<_> = report
            .failed
            .iter()
            .map(|f| {
                standby_engine::diag::Diagnostic::bare(
                    format!("{}: {}", f.addr, f.summary),
                    f.detail.clone(),
                )
            })
            .collect();
        eprint!(
            "{}",
            super::report::render(&Default::default(), &diags, color)
        );
        for (addr, culprit) in &report.skipped {
            eprintln!("Skipped {addr}: it depends on {culprit}, which failed.");
        }
    }
    for c in &report.compensations {
        eprintln!("Compensation: {c}");
    }
    for s in &report.switched {
        println!("Switched {s}");
    }
    for s in &report.recorded {
        println!("Recorded {s}");
    }
    if report.interrupted {
        eprintln!(
            "Apply interrupted: {} action(s) were not started. Run standby apply again to finish.",
            report.not_started.len()
        );
    }
    let verb = if plan.mode == PlanMode::Destroy {
        "Destroy"
    } else {
        "Apply"
    };
    if failed {
        println!("\n{verb} incomplete. Resources: {add} added, {change} changed, {destroy} destroyed. Run standby apply again after fixing the errors; it continues from here.");
    } else if plan.mode == PlanMode::RefreshOnly {
        println!(
            "\nRefresh complete: {} change(s) made outside standby are now recorded in the state.",
            plan.drift.len()
        );
    } else if !report.awaiting_approval.is_empty() {
        println!(
            "\n{verb} stopped at an approval gate. Resources: {add} added, {change} changed, {destroy} destroyed."
        );
    } else {
        let imported = plan
            .changes
            .iter()
            .filter(|c| c.importing.is_some())
            .count();
        let imported = if imported > 0 {
            format!("{imported} imported, ")
        } else {
            String::new()
        };
        println!(
            "\n{verb} complete! Resources: {imported}{add} added, {change} changed, {destroy} destroyed."
        );
    }
    if !report.state.outputs.is_empty() && plan.mode == PlanMode::Normal {
        println!("\nOutputs:\n");
        for (k, o) in &report.state.outputs {
            let v = if o.sensitive {
                "(sensitive value)".to_string()
            } else {
                standby_provider_sdk::Value::from_json(&o.value).to_string()
            };
            println!("{k} = {v}");
        }
    }
    if !report.caveats.is_empty() {
        println!(
            "\n{}",
            if failed {
                "The switch was recorded, but the apply failed (exit 1); its caveats:"
            } else {
                "The switch completed with caveats:"
            }
        );
        for c in &report.caveats {
            println!("  ! {c}");
        }
        if !failed && report.awaiting_approval.is_empty() {
            println!("Exit code 5: check each caveat before trusting the new primary.");
            return verdict.exit_code();
        }
    }
    if !failed && !report.awaiting_approval.is_empty() {
        println!(
            "\nAwaiting approval: {}. Everything before the gate was applied; the switch has not started. Approve it with {} (or approval file lines: {}) and run apply again.",
            report.awaiting_approval.iter().map(|g| format!("failover.{g}")).collect::<Vec<_>>().join(", "),
            report.awaiting_approval.iter().map(|g| format!("--approve {g}")).collect::<Vec<_>>().join(" "),
            report.awaiting_approval.iter().map(|g| format!("`{g} {}`", operation::plan_hash(plan))).collect::<Vec<_>>().join(", ")
        );
        return verdict.exit_code();
    }
    verdict.exit_code()
}
