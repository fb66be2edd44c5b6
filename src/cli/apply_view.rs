//! What a person sees of an apply: warnings and progress while it runs (the operation's
//! view), then what happened and the exit code its verdict gives.

use super::args::GateArgs;
use super::progress;
use super::workspace::Workspace;
use standby_engine::apply::{ApplyReport, Approvals};
use standby_engine::operation::{self, OpError, Refusal, Verdict};
use standby_engine::plan::{render_plan, ForcedSwitch, Plan, PlanMode};
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The operation's view for a person at a terminal: the plan and its confirmation, warnings
/// on stderr, the approval prompt, Ctrl-C, a progress display. Nothing of the apply's part
/// exists until the gates passed.
pub(crate) struct ApplyView<'a> {
    rt: &'a tokio::runtime::Runtime,
    gates: &'a GateArgs,
    force: Option<&'a ForcedSwitch>,
    color: bool,
    input: bool,
    total: usize,
    env: String,
    progress: Option<progress::Progress>,
    shown: Option<tokio::task::JoinHandle<()>>,
    interrupt: Option<tokio::task::JoinHandle<()>>,
    /// The topology's files, to show providers' warnings in.
    sources: Option<standby_engine::diag::Sources>,
}

impl<'a> ApplyView<'a> {
    /// Shows warnings in the topology's files.
    pub(crate) fn with_sources(mut self, sources: standby_engine::diag::Sources) -> Self {
        self.sources = Some(sources);
        self
    }

    pub(crate) fn new(
        rt: &'a tokio::runtime::Runtime,
        gates: &'a GateArgs,
        force: Option<&'a ForcedSwitch>,
        ws: &Workspace,
    ) -> Self {
        ApplyView {
            rt,
            gates,
            force,
            color: ws.color,
            input: ws.input,
            total: 0,
            env: String::new(),
            progress: None,
            shown: None,
            interrupt: None,
            sources: None,
        }
    }

    fn progress_bar(&mut self) -> progress::Progress {
        let total = self.total;
        self.progress
            .get_or_insert_with(|| progress::Progress::new(total))
            .clone()
    }

    /// After the apply: the progress display finishes, and Ctrl-C is no longer ours (a
    /// monitor applies again and again in one process).
    pub(crate) fn done(&mut self) {
        if let Some(shown) = self.shown.take() {
            let _ = self.rt.block_on(shown);
        }
        if let Some(listener) = self.interrupt.take() {
            listener.abort();
        }
    }
}

/// Actions and switch steps: the progress display's total.
fn total(plan: &Plan) -> usize {
    plan.changes
        .iter()
        .filter(|c| c.action != standby_engine::plan::Action::NoOp)
        .count()
        + plan.switches.iter().map(|s| s.steps.len()).sum::<usize>()
}

impl operation::View for ApplyView<'_> {
    fn plan_ready(&mut self, plan: &Plan) {
        print!("{}", render_plan(plan, self.color));
        if let Some(sources) = &self.sources {
            eprint!(
                "{}",
                super::report::render_warnings(sources, &plan.warnings, self.color)
            );
        }
        if let Some(f) = self.force {
            if !plan.switches.iter().any(|s| s.group == f.group) {
                println!(
                    "\nfailover.{} is already active on {}; nothing to switch.",
                    f.group, f.to
                );
            }
        }
    }

    fn confirm(&mut self, plan: &Plan) -> Result<(), OpError> {
        confirm(plan, self.input)
    }

    fn warn(&mut self, text: &str) {
        eprintln!("Warning: {text}");
    }

    fn approvals(&mut self, plan: &Plan) -> Result<Approvals, Refusal> {
        self.total = total(plan);
        self.env.clone_from(&plan.env);
        let progress = self.progress_bar();
        approvals(plan, self.gates, &progress, self.color)
    }

    fn stop(&mut self) -> Arc<AtomicBool> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        self.interrupt = Some(self.rt.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
                eprintln!("\nInterrupt received: no new actions will start. Waiting for running actions to finish and saving the state. Press Ctrl-C again to abort at once.");
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("Aborted. Every action that finished is already recorded in the state journal.");
                    std::process::exit(130);
                }
            }
        }));
        stop
    }

    fn progress(
        &mut self,
    ) -> Option<tokio::sync::mpsc::UnboundedSender<standby_engine::apply::ApplyEvent>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let show = progress::show(rx, self.total, self.progress_bar(), self.env.clone());
        self.shown = Some(self.rt.spawn(show));
        Some(tx)
    }
}

/// Asks at the terminal whether to apply; refuses without one (or with `--input=false`).
fn confirm(plan: &Plan, input: bool) -> Result<(), OpError> {
    let refuse = |why: &str| {
        OpError::Refused(Refusal::new(
            "Refusing to apply without confirmation",
            format!("{why} Nothing was changed. Re-run with --auto-approve, or review a saved plan (standby plan --out FILE) and apply it with standby apply FILE."),
        ))
    };
    if !input {
        return Err(refuse("--input=false forbids asking for it."));
    }
    if !std::io::stdin().is_terminal() {
        return Err(refuse(
            "Standard input is not a terminal, so standby cannot ask.",
        ));
    }
    let what = if plan.mode == PlanMode::Destroy {
        "destroy all resources in this environment"
    } else {
        "perform these actions"
    };
    // The environment is named, as Terraform names a workspace other than the default.
    print!(
        "\nDo you want to {what} in environment {:?}?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ",
        plan.env
    );
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| OpError::Refused(Refusal::new("Cannot read the answer", e.to_string())))?;
    if line.trim() != "yes" {
        println!("\nApply cancelled.");
        return Err(OpError::Cancelled);
    }
    Ok(())
}

/// How the apply's approval gates are passed: `--approve`, an approval file, or a prompt on a
/// terminal that pauses the progress display while it waits.
fn approvals(
    plan: &Plan,
    gates: &GateArgs,
    progress: &progress::Progress,
    color: bool,
) -> Result<Approvals, Refusal> {
    let mut file = Vec::new();
    if let Some(f) = &gates.approval_file {
        let text = std::fs::read_to_string(f).map_err(|e| {
            Refusal::new(
                format!("Cannot read the approval file {}", f.display()),
                e.to_string(),
            )
        })?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some(g), Some(h)) => file.push((g.to_string(), h.to_string())),
                _ => {
                    return Err(Refusal::new(
                        "Invalid approval file",
                        format!("{line:?} is not a `GROUP PLAN-HASH` line"),
                    ))
                }
            }
        }
    }
    let env = plan.env.clone();
    let progress = progress.clone();
    let prompt: Option<standby_engine::apply::Prompt> = if std::io::stdin().is_terminal() {
        Some(Arc::new(move |sw: &standby_engine::plan::SwitchPlan| {
            let what = format!(
                "switch of failover.{} from {} to {} in environment {env:?}",
                sw.group,
                sw.from.as_deref().unwrap_or("-"),
                sw.to
            );
            // The progress bar stays off the screen while the question waits for its answer.
            progress.ask(|| {
                eprint!(
                    "\n{}\n  Approve the {what}? Only 'yes' will be accepted.\n  Enter a value: ",
                    if color {
                        "\x1b[1mApproval gate\x1b[0m"
                    } else {
                        "Approval gate"
                    }
                );
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).is_ok() && line.trim() == "yes"
            })
        }))
    } else {
        None
    };
    Ok(Approvals {
        groups: gates.approve.iter().cloned().collect(),
        file,
        plan_hash: operation::plan_hash(plan),
        prompt,
    })
}

/// What went wrong (or is worth a warning) with instances, as diagnostics naming them.
fn about_instances(
    list: &[standby_engine::apply::Failure],
) -> Vec<standby_engine::diag::Diagnostic> {
    list.iter()
        .map(|f| {
            standby_engine::diag::Diagnostic::bare(
                format!("{}: {}", f.addr, f.summary),
                f.detail.clone(),
            )
        })
        .collect()
}

/// Prints what the apply did; returns its exit code.
pub(crate) fn finished(plan: &Plan, report: &ApplyReport, verdict: Verdict, color: bool) -> i32 {
    let (add, change, destroy) = report.counts();
    let failed = verdict == Verdict::Incomplete;
    if !report.failed.is_empty() {
        let diags = about_instances(&report.failed);
        eprint!(
            "{}",
            super::report::render(&Default::default(), &diags, color)
        );
        for (addr, culprit) in &report.skipped {
            eprintln!("Skipped {addr}: it depends on {culprit}, which failed.");
        }
    }
    let warnings = about_instances(&report.warnings);
    eprint!(
        "{}",
        super::report::render_warnings(&Default::default(), &warnings, color)
    );
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
    let verb = operation::verb(plan);
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
        if verdict == Verdict::CompleteWithCaveats {
            println!("Exit code 5: check each caveat before trusting the new primary.");
        }
    }
    if verdict == Verdict::AwaitingApproval {
        println!(
            "\nAwaiting approval: {}. Everything before the gate was applied; the switch has not started. Approve it with {} (or approval file lines: {}) and run apply again.",
            report.awaiting_approval.iter().map(|g| format!("failover.{g}")).collect::<Vec<_>>().join(", "),
            report.awaiting_approval.iter().map(|g| format!("--approve {g}")).collect::<Vec<_>>().join(" "),
            report.awaiting_approval.iter().map(|g| format!("`{g} {}`", operation::plan_hash(plan))).collect::<Vec<_>>().join(", ")
        );
    }
    verdict.exit_code()
}
