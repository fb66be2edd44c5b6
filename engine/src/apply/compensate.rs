//! After a switch stopped: decide what to undo from what the members are, never from which
//! step failed. A target that is primary stays primary (the switch is recorded, with its
//! caveats); an old primary is unfenced only when the target provably was not promoted.

use super::switch::SwitchRun;
use crate::plan::{emergency_probe, SwitchKind, SwitchPlan};
use crate::state::{FailoverState, JournalEntry};
use standby_provider_sdk::{
    Member, MemberStatus, Provider, ProviderError, Replication, Role, Value,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What compensation did for one group.
pub(crate) struct Compensation {
    /// One line each for the operator.
    pub messages: Vec<String>,
    /// The switch's record, when the members show that it happened.
    pub record: Option<JournalEntry>,
    /// The caveats of a switch recorded here.
    pub caveats: Vec<String>,
    /// The completed-switch line, when recorded.
    pub switched: Option<String>,
}

/// Everything compensation needs about one stopped switch.
pub(crate) struct Stopped<'a> {
    pub plan: &'a SwitchPlan,
    pub run: &'a SwitchRun,
    /// The members' attributes, by site.
    pub members: BTreeMap<String, Value>,
    pub previous: Option<&'a FailoverState>,
    pub root: &'a std::path::Path,
    /// The step that failed, for the record.
    pub failed_step: String,
    /// A monitor's lease: one that lapsed leaves undoing to the new holder.
    pub guard: Option<&'a Arc<dyn super::PromotionGuard>>,
}

/// Runs one replication call on a task of its own, so that a panicking provider becomes an
/// error here instead of ending the apply before the state is saved.
async fn isolated<T: Send + 'static>(
    p: &Arc<dyn Provider>,
    m: &Member,
    call: impl for<'a> FnOnce(
            &'a dyn Replication,
            &'a Member,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, ProviderError>> + Send + 'a>,
        > + Send
        + 'static,
) -> Result<T, String> {
    let (p, m) = (p.clone(), m.clone());
    tokio::spawn(async move {
        let r = p.replication().ok_or("the provider cannot replicate")?;
        call(r, &m)
            .await
            .map_err(|e| format!("{}: {}", e.summary, e.detail))
    })
    .await
    .unwrap_or_else(|e| Err(format!("the provider panicked: {e}")))
}

async fn observe(
    p: &Arc<dyn Provider>,
    m: &Member,
    patience: Duration,
) -> Result<MemberStatus, String> {
    let status = isolated(p, m, |r, m| r.status(m, None));
    match tokio::time::timeout(patience, status).await {
        Ok(s) => s,
        Err(_) => Err(format!("no answer within {patience:?}")),
    }
}

fn member(plan: &SwitchPlan, members: &BTreeMap<String, Value>, site: &str) -> Option<Member> {
    Some(plan.members.get(site)?.member(site, members.get(site)))
}

/// Whether this actor may still change a member: always without a lease; with one, only while
/// it holds (the reason otherwise).
async fn may_act(
    guard: Option<&Arc<dyn super::PromotionGuard>>,
    sw: &SwitchPlan,
) -> Result<(), String> {
    match guard {
        None => Ok(()),
        Some(g) => g.may_fence(sw).await,
    }
}

/// Lifts the fence of the old primary of a switch that promoted nothing (the target reads as
/// `target_role`), unless this actor is a monitor that cannot confirm its lease: then the
/// holder decides. Returns the line for the operator.
async fn unfence(
    r: &Arc<dyn Provider>,
    s: &Stopped<'_>,
    from_m: &Member,
    target_role: Role,
) -> String {
    let (g, to, from) = (&s.plan.group, &s.plan.to, &from_m.site);
    if let Err(why) = may_act(s.guard, s.plan).await {
        return format!(
            "failover.{g}: {to} was not promoted and {from} stays fenced: this monitor cannot confirm its lease ({why}), so the lease holder decides"
        );
    }
    match isolated(r, from_m, |r, m| r.unfence(m)).await {
        Ok(()) => format!(
            "failover.{g}: unfenced {from}, which stays primary: {to} was not promoted (it is a {target_role}) and no traffic moved"
        ),
        Err(e) => format!(
            "failover.{g}: could not unfence {from}: {e}. The group has no writable member; run `standby switchover {g} --to {from}` or fix {from} by hand."
        ),
    }
}

/// Reads the members of a stopped switch and acts on what they are.
pub(crate) async fn compensate(r: &Arc<dyn Provider>, s: Stopped<'_>) -> Compensation {
    let sw = s.plan;
    let g = &sw.group;
    let mut out = Compensation {
        messages: Vec::new(),
        record: None,
        caveats: Vec::new(),
        switched: None,
    };
    let (Some(from), true) = (
        sw.from.clone(),
        matches!(sw.kind, SwitchKind::Switchover | SwitchKind::Failover),
    ) else {
        return out;
    };
    let (Some(to_m), Some(from_m)) = (
        member(sw, &s.members, &sw.to),
        member(sw, &s.members, &from),
    ) else {
        return out;
    };
    let patience = if sw.kind == SwitchKind::Failover {
        emergency_probe(&sw.health_check)
    } else {
        Duration::from_secs(10)
    };
    // A target that is down may still finish a promotion it was asked for: once the promote
    // step started, only a target seen as a standby proves that nothing was promoted.
    let promote_started = s.failed_step == "promote" || s.run.promoted;
    let to_st = match observe(r, &to_m, patience).await {
        Ok(t)
            if t.role == Role::Down
                || (promote_started && t.role != Role::Standby && t.role != Role::Primary) =>
        {
            Err(format!("it reports {} ({})", t.role, t.detail))
        }
        other => other,
    };
    let from_st = observe(r, &from_m, patience).await;
    let to = &sw.to;
    // Only an unfence is left to decide on: a monitor whose lease lapsed leaves it to the holder.
    match (&to_st, &from_st) {
        (Ok(t), _) if t.role == Role::Primary && t.epoch > sw.epoch => {
            out.messages.push(format!(
                "failover.{g}: {to} is primary at epoch {}, newer than this switch's {}: another actor promoted it. Nothing is undone or recorded here; the next plan records what the members are.",
                t.epoch, sw.epoch
            ));
        }
        (Ok(t), Ok(f)) if t.role == Role::Primary && f.role == Role::Primary => {
            out.messages.push(format!(
                "failover.{g}: SPLIT BRAIN: both {from} (epoch {}) and {to} (epoch {}) accept writes. standby changed nothing more. Decide which one holds the data, then run `standby failover {g} --to SITE` to fence the other.",
                f.epoch, t.epoch
            ));
        }
        (Ok(t), _) if t.role == Role::Primary && !promote_started => {
            // Already primary before this switch promoted anything (an operator keeping one
            // side of a split brain): nothing of this run to record or undo.
            out.messages.push(format!(
                "failover.{g}: {to} was already primary (epoch {}) and this switch stopped at {} before its promotion: nothing is recorded; {from} is left as it is{}. Run the switch again to finish it.",
                t.epoch,
                s.failed_step,
                if s.run.fenced { ", fenced" } else { "" }
            ));
        }
        (Ok(t), _) if t.role == Role::Primary => {
            // Past the point of no return: keep the old primary fenced and record the switch.
            let mut run = s.run.clone();
            run.promoted = true;
            run.caveats.push(format!(
                "the switch stopped at {} after {to} was promoted; {from} stays fenced; traffic may still point at {from}: run `standby apply` again to repoint it",
                s.failed_step
            ));
            let rec = run.record(sw, s.previous, s.root);
            out.messages.push(format!(
                "failover.{g}: {to} is primary (epoch {}) although the switch stopped at {}: {from} stays fenced and the switch is recorded",
                t.epoch, s.failed_step
            ));
            out.caveats.clone_from(&run.caveats);
            out.switched = Some(format!(
                "failover.{g}: {from} -> {to} (epoch {}), stopped at {}",
                sw.epoch, s.failed_step
            ));
            out.record = Some(JournalEntry::Failover(g.clone(), rec));
        }
        (Err(e), _) => {
            out.messages.push(format!(
                "failover.{g}: cannot tell whether {to} was promoted ({e}); {from} is left as it is{}. Run `standby status -e ENV` once {to} answers, then `standby apply` again.",
                if s.run.fenced { ", fenced" } else { "" }
            ));
        }
        (Ok(t), Ok(f)) if f.role == Role::Fenced => {
            out.messages.push(unfence(r, &s, &from_m, t.role).await);
        }
        (Ok(_), Ok(f)) if f.role == Role::Primary => {
            if s.run.fenced {
                out.messages.push(format!(
                    "failover.{g}: {from} is primary again and {to} was not promoted; nothing to undo"
                ));
            }
        }
        (Ok(_), Ok(f)) => out.messages.push(format!(
            "failover.{g}: {from} is {} and {to} was not promoted: the group has no writable member. Run `standby plan` to see what the members are, then `standby failover {g} --to {to}` to promote it.",
            f.role
        )),
        (Ok(_), Err(e)) => out.messages.push(format!(
            "failover.{g}: {from} does not answer ({e}) and {to} was not promoted: the group has no writable member. Run `standby failover {g} --to {to}` to promote it."
        )),
    }
    out
}
