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

/// The failpoints `STANDBY_FAILPOINT` arms, checked: an unknown step or moment is an error,
/// so that a game day never silently rehearses nothing.
pub fn armed() -> Result<Vec<String>, String> {
    let Ok(v) = std::env::var("STANDBY_FAILPOINT") else {
        return Ok(Vec::new());
    };
    const STEPS: [&str; 11] = [
        "configure",
        "precheck",
        "approval",
        "fence",
        "catch-up",
        "measure-gap",
        "promote",
        "checksum",
        "verify",
        "re-protect",
        "record",
    ];
    let mut out = Vec::new();
    for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((step, when)) = p.split_once(':') else {
            return Err(format!("{p:?} is not STEP:WHEN"));
        };
        let hook = step
            .strip_prefix("hook[")
            .and_then(|r| r.strip_suffix(']'))
            .is_some_and(|n| n.parse::<u32>().is_ok());
        if !hook && !STEPS.contains(&step) {
            return Err(format!(
                "{p:?}: unknown step {step:?}; the steps are {} and hook[N]",
                STEPS.join(", ")
            ));
        }
        let ok = match (step, when) {
            ("record", w) => w == "freeze",
            ("promote", "freeze-after-claim") => true,
            (_, w) => matches!(w, "before" | "after" | "freeze"),
        };
        if !ok {
            return Err(format!(
                "{p:?}: {step} cannot stop at {when:?}; use before, after or freeze (record: freeze only; promote also freeze-after-claim, which needs an etcd claim)"
            ));
        }
        out.push(p.to_string());
    }
    Ok(out)
}

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
    let _ = crate::state::atomic_write(
        &dir.join("failpoint"),
        format!("{step}:{when} {}\n", std::process::id()).as_bytes(),
    );
    // SAFETY: raise only sends a signal to this process; SIGSTOP cannot be caught.
    unsafe {
        libc::raise(libc::SIGSTOP);
    }
    // Resumed: the marker would send the next game day to a stale pid.
    let _ = std::fs::remove_file(dir.join("failpoint"));
}

#[cfg(test)]
mod tests {
    #[test]
    fn misspelled_failpoints_are_refused() {
        // One test, since it sets the process's environment.
        let check = |v: &str| {
            std::env::set_var("STANDBY_FAILPOINT", v);
            super::armed()
        };
        assert_eq!(
            check("promote:after, hook[1]:before").unwrap(),
            ["promote:after", "hook[1]:before"]
        );
        assert!(check("promot:freeze").unwrap_err().contains("unknown step"));
        assert!(check("promote:frezee").is_err());
        assert!(check("catch_up:after").is_err());
        assert!(check("record:after").is_err());
        assert!(check("promote:after bogus").is_err());
        assert!(check("promote").is_err());
        assert!(check("verify:freeze-after-claim").is_err());
        std::env::remove_var("STANDBY_FAILPOINT");
        assert!(super::armed().unwrap().is_empty());
    }
}
