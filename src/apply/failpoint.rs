//! Fault injection for drills, game days and tests: `STANDBY_FAILPOINT=STEP:WHEN[,...]`.
//!
//! - `before` / `after`: the step fails before or after its effect (every step but `record`,
//!   which is the state's own write);
//! - `freeze`: after its effect, the process stops itself (SIGSTOP), as a frozen VM or a
//!   paused container would, so another actor can take over while it holds whatever it held;
//! - `promote:freeze-after-claim`: the same, between the epoch claim and the promotion.
//!
//! A freeze first writes `.standby/failpoint` (`STEP:WHEN PID`), so a test or an operator
//! knows which process to resume (`kill -CONT PID`) or kill.

use crate::plan::StepKind;
use crate::state::JournalEntry;
use std::path::Path;

/// Whether `STANDBY_FAILPOINT` names `STEP:when`.
pub(super) fn failpoint(step: &StepKind, when: &str) -> bool {
    let want = format!("{step}:{when}");
    std::env::var("STANDBY_FAILPOINT").is_ok_and(|v| v.split(',').any(|p| p.trim() == want))
}

/// `record:freeze`: the record step's effect is the journal append of a switch record.
pub(super) fn freeze_after_record(root: &Path, appended: &[JournalEntry]) {
    if appended
        .iter()
        .any(|e| matches!(e, JournalEntry::Failover(..)))
    {
        freeze_if_asked(root, &StepKind::Record, "freeze");
    }
}

/// Stops this process at `STEP:when` if `STANDBY_FAILPOINT` asks for it; returns once it is
/// resumed.
pub(super) fn freeze_if_asked(root: &Path, step: &StepKind, when: &str) {
    if !failpoint(step, when) {
        return;
    }
    let dir = root.join(".standby");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join("failpoint"),
        format!("{step}:{when} {}\n", std::process::id()),
    );
    // SAFETY: raise only sends a signal to this process; SIGSTOP cannot be caught.
    unsafe {
        libc::raise(libc::SIGSTOP);
    }
}
