//! Before a group is planned, its members are read: the plan starts from what they are. A
//! switch that completed without its record (a monitor or apply killed after promotion) is
//! adopted; two writable members stop the plan until an operator picks one; a member's epoch
//! wins over the state's, so an epoch is never reused.

use super::failover::{emergency_probe, ForcedSwitch};
use super::failover_settings::Settings;
use super::model::{Action, Reason};
use super::reality::{self, Observed, Verdict};
use super::walk::Walker;
use crate::config::Failover;
use crate::diag::Diagnostic;
use crate::eval::Phase;
use crate::state::{FailoverState, Override};
use std::time::Duration;

/// The record a group is planned from, after reading its members.
pub(crate) struct Reconciled {
    /// The record as the members show it.
    pub recorded: Option<FailoverState>,
    /// The highest epoch any member has seen.
    pub member_epoch: u64,
    /// Set when the members contradict the record: the site the state named as active.
    pub moved_from: Option<String>,
    /// In a split brain that an operator resolves with a forced switch: the other writable
    /// member, which the switch fences.
    pub split_from: Option<String>,
    /// Members that are not following the primary and that the plan wanted to repair: the
    /// repair waits, and re-protect rejoins them first.
    pub reprotect: Vec<String>,
    /// The recorded primary is fenced and nothing was promoted (a switch killed between
    /// fence and promotion): setting the roles up again lifts the fence.
    pub unfence: bool,
    /// The adopted primary carries no epoch of its own promotion (it was interrupted before
    /// writing it): re-protect stamps it with a fresh one, so a deposed primary that comes
    /// back writable is provably the older one.
    pub stamp: bool,
    /// What was read, for notes.
    pub observed: Vec<Observed>,
}

fn summary(observed: &[Observed]) -> String {
    observed
        .iter()
        .map(|o| match &o.status {
            Ok(s) => format!("{}: {} at epoch {}", o.site, s.role, s.epoch),
            Err(e) => format!("{}: unknown ({e})", o.site),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// In a split brain, the stale member when the record proves which one holds the data: the
/// recorded active member is writable at the recorded epoch, and the only other writable
/// member has seen an older epoch (it was deposed while unreachable and never fenced).
fn provable(rec: &FailoverState, writable: &[(String, u64)]) -> Option<String> {
    let [a, b] = writable else { return None };
    let (active, other) = if a.0 == rec.active { (a, b) } else { (b, a) };
    (active.0 == rec.active && active.1 == rec.epoch && other.1 < active.1 && rec.epoch > 0)
        .then(|| other.0.clone())
}

impl Walker<'_> {
    /// Holds back the planned change of a member that is not positively a standby: repairing
    /// it as it is (starting a stopped server) could start a second primary, so re-protect
    /// rejoins it as a standby first and the next plan repairs what is left. True if a change
    /// was held back.
    fn hold_back(&mut self, st: &Settings, site: &str, why: &str) -> bool {
        let Some(m) = st.members.get(site) else {
            return false;
        };
        let Some(c) = self
            .changes
            .iter_mut()
            .find(|c| c.addr == m.addr && c.action != Action::NoOp)
        else {
            return false;
        };
        c.action = Action::NoOp;
        c.after = c.before.clone();
        c.reason = Some(Reason::new(
            "held_back_for_reprotect",
            format!("held back: {why}; repairing it as it is could start a second primary, so re-protect rejoins it as a standby first"),
        ));
        true
    }

    /// Reads the members of group `name` and returns the record to plan from; `None` when the
    /// group must not be planned (an error was reported).
    pub(super) async fn reconcile(
        &mut self,
        name: &str,
        fo: &Failover,
        st: &Settings,
        forced: Option<&ForcedSwitch>,
    ) -> Option<Reconciled> {
        let recorded = self.state.failovers.get(name).cloned();
        let mut out = Reconciled {
            recorded,
            member_epoch: 0,
            moved_from: None,
            split_from: None,
            unfence: false,
            stamp: false,
            reprotect: Vec::new(),
            observed: Vec::new(),
        };
        // Even with --refresh=false: a role read is cheap, and planning a switch from a stale
        // record is what makes a second primary.
        let wanted = self.opts.phase == Phase::Plan && self.opts.mode != super::PlanMode::Destroy;
        let Some(rec) = out.recorded.clone().filter(|_| wanted) else {
            return Some(out);
        };
        let patience = if forced.is_some_and(|f| f.emergency) {
            emergency_probe(&st.health_check)
        } else {
            emergency_probe(&st.health_check).max(Duration::from_secs(3))
        };
        // Only members the record knows can be rivals: a member being added has never been
        // part of the group and is set up by the plan.
        let known: std::collections::BTreeMap<_, _> = st
            .members
            .iter()
            .filter(|(site, _)| rec.members.contains_key(*site))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.observed = reality::observe(self.registry, &known, &st.member_values, patience).await;
        out.member_epoch = reality::max_epoch(&out.observed);
        match reality::judge(&rec.active, rec.epoch, rec.promoted_epoch(), &out.observed) {
            Verdict::Agrees => self.reprotect_strays(name, st, &mut out, &rec),
            Verdict::Stale { site, epoch } if forced.is_none() => {
                self.diags.push(Diagnostic::at(
                    fo.span.clone(),
                    format!("failover.{name}: {site} accepts writes at epoch {epoch}, but the state records {} as primary at epoch {}", rec.active, rec.epoch),
                    format!(
                        "{site} looks like a deposed primary that was never fenced, and {} cannot be read, so standby cannot tell which holds the data and plans nothing for this group. Bring {} back (the next plan then fences {site}), or make {site} primary deliberately with `standby failover {name} --to {site} -e {env}`. Members: {}.",
                        rec.active, rec.active, summary(&out.observed), env = self.opts.env
                    ),
                ));
                return None;
            }
            // An operator forces a target: the stale writer is fenced, unless it is the
            // target the operator chose.
            Verdict::Stale { site, epoch } => {
                if forced.is_some_and(|f| f.to != site) {
                    self.failover_notes.push(format!(
                        "failover.{name}: {site} accepts writes at epoch {epoch} although {} was recorded primary at epoch {}: this switch fences it.",
                        rec.active, rec.epoch
                    ));
                    out.split_from = Some(site);
                }
            }
            Verdict::NoPrimary => {
                use standby_provider_sdk::Role;
                let role = |o: &Observed| o.status.as_ref().ok().map(|s| s.role);
                // Unfence only when every other member is provably a standby: an unreadable
                // one may have been promoted.
                let fenced = out.observed.iter().all(|o| {
                    role(o)
                        == Some(if o.site == rec.active {
                            Role::Fenced
                        } else {
                            Role::Standby
                        })
                });
                if fenced && forced.is_none() {
                    out.unfence = true;
                    self.failover_notes.push(format!(
                        "No member of failover.{name} accepts writes: {} is fenced and nothing was promoted ({}); a switch stopped between fence and promotion. The plan lifts the fence unless the topology asks for another site.",
                        rec.active,
                        summary(&out.observed)
                    ));
                } else if forced.is_none() {
                    self.failover_notes.push(format!(
                        "No member of failover.{name} accepts writes ({}). standby does not promote on its own: promote one with `standby failover {name} --to SITE`.",
                        summary(&out.observed)
                    ));
                }
            }
            Verdict::SplitBrain(writable)
                if forced.is_none() && provable(&rec, &writable).is_some() =>
            {
                let stale = provable(&rec, &writable).unwrap_or_default();
                self.failover_notes.push(format!(
                    "SPLIT BRAIN in failover.{name}: {} accept writes. The record shows {} took over at epoch {} from {stale}, which never learnt it: the plan fences {stale} and rejoins it as a standby (its writes since epoch {} are discarded).",
                    reality::describe_split(&writable), rec.active, rec.epoch, rec.epoch
                ));
                out.split_from = Some(stale);
            }
            Verdict::SplitBrain(writable) => {
                let others: Vec<&(String, u64)> = writable
                    .iter()
                    .filter(|(s, _)| forced.is_none_or(|f| *s != f.to))
                    .collect();
                match (forced, others.as_slice()) {
                    (Some(f), [(other, _)]) if writable.iter().any(|(s, _)| *s == f.to) => {
                        self.failover_notes.push(format!(
                            "SPLIT BRAIN in failover.{name}: {} accept writes. The operator keeps {} and this switch fences {other}; the writes {other} took since the split are discarded when it rejoins.",
                            reality::describe_split(&writable), f.to
                        ));
                        out.split_from = Some(other.clone());
                    }
                    _ => {
                        self.diags.push(Diagnostic::at(
                            fo.span.clone(),
                            format!(
                                "failover.{name}: SPLIT BRAIN: {} accept writes",
                                reality::describe_split(&writable)
                            ),
                            format!(
                                "standby plans nothing for this group until an operator decides which member holds the data: compare them (standby status -e {env}), then keep one with `standby failover {name} --to SITE -e {env}`, which fences the other and rejoins it as a standby (its writes since the split are discarded). Members: {}.",
                                summary(&out.observed),
                                env = self.opts.env
                            ),
                        ));
                        return None;
                    }
                }
            }
            Verdict::Moved { primary, epoch } if primary == rec.active => {
                // Only the epoch moved on: it wins, so the next switch never reuses it.
                out.member_epoch = out.member_epoch.max(epoch);
                self.reprotect_strays(name, st, &mut out, &rec);
            }
            Verdict::Moved { primary, epoch } => {
                self.adopt(name, st, &mut out, &rec, &primary, epoch);
            }
        }
        Some(out)
    }

    /// A switch completed without its record: plan from the member that is primary, and hold
    /// back repairs of the others, which only re-protect may bring back (as standbys).
    fn adopt(
        &mut self,
        name: &str,
        st: &Settings,
        out: &mut Reconciled,
        rec: &FailoverState,
        primary: &str,
        epoch: u64,
    ) {
        let mut r = rec.clone();
        r.active = primary.to_string();
        r.epoch = rec.epoch.max(epoch);
        r.override_ = (st.active != primary).then(|| Override {
            site: primary.to_string(),
            reason: format!(
                "reconciled: {primary} was found primary at epoch {epoch} while the state said {}",
                rec.active
            ),
            by: crate::state::LockInfo::new("plan").who,
            at: crate::state::now_rfc3339(),
        });
        for site in st.members.keys().filter(|s| *s != primary) {
            self.hold_back(
                st,
                site,
                &format!("{site} was primary before {primary} was promoted"),
            );
        }
        out.moved_from = Some(rec.active.clone());
        // A finished promotion wrote an epoch above the record's; one at or below it never
        // wrote its own.
        // A writer below the newest promoted epoch is a deposed primary, never stamped newer.
        out.stamp = epoch <= rec.epoch && epoch >= rec.promoted_epoch();
        out.recorded = Some(r);
        self.failover_notes.push(format!(
            "failover.{name}: the state says {} is primary at epoch {}, but the members say {primary} is, at epoch {epoch} ({}). {}",
            rec.active,
            rec.epoch,
            summary(&out.observed),
            if self.opts.mode == super::PlanMode::RefreshOnly {
                "A refresh records what the members are; `standby apply` re-protects the others."
            } else {
                "The plan records what the members are and re-protects the others."
            }
        ));
    }

    /// With the primary where the record says, members that are not standbys (a deposed
    /// primary that is down, fenced, or writable) are never repaired as they are.
    fn reprotect_strays(
        &mut self,
        name: &str,
        st: &Settings,
        out: &mut Reconciled,
        rec: &FailoverState,
    ) {
        let strays: Vec<(String, String)> = out
            .observed
            .iter()
            .filter(|o| o.site != rec.active)
            .filter_map(|o| match &o.status {
                Ok(s) if s.role == standby_provider_sdk::Role::Standby => None,
                Ok(s) => Some((o.site.clone(), s.role.to_string())),
                Err(e) => Some((o.site.clone(), format!("unknown: {e}"))),
            })
            .collect();
        for (site, role) in strays {
            let held = self.hold_back(
                st,
                &site,
                &format!("{site} is not following {} ({role})", rec.active),
            );
            // A reachable member that is not a standby (left fenced by an interrupted switch)
            // is re-protected too; one that does not answer waits until it does.
            let reachable = role == standby_provider_sdk::Role::Fenced.to_string();
            if held || reachable {
                self.failover_notes.push(format!(
                    "failover.{name}: {site} is not following {} ({role}); re-protect rejoins it as a standby{}.",
                    rec.active,
                    if held { " before its repair" } else { "" }
                ));
                out.reprotect.push(site);
            }
        }
    }

    /// A refresh-only plan records an adopted switch in the refreshed state, with a history
    /// entry, so `standby refresh` and the nightly drift check see it.
    pub(super) fn refresh_members(&mut self, name: &str, rc: &Reconciled) {
        let (Some(r), Some(old)) = (&rc.recorded, &rc.moved_from) else {
            return;
        };
        if rc.stamp {
            // Recording it at the old epoch would leave it without one of its own for good:
            // only an apply, which writes the epoch, records this adoption.
            self.member_drift.push(format!(
                "failover.{name}: the members say {} is primary, but its promotion never wrote its epoch; the state says {old}. Run `standby apply` to record it and write a fresh epoch into it.",
                r.active
            ));
            return;
        }
        let mut r = r.clone();
        let now = crate::state::now_rfc3339();
        r.history.push(crate::state::SwitchRecord {
            kind: crate::state::SwitchKind::Reconcile,
            from: Some(old.clone()),
            to: r.active.clone(),
            epoch: r.epoch,
            by: crate::state::LockInfo::new("refresh").who,
            started: now,
            seconds: 0.0,
            git_commit: None,
            steps: Vec::new(),
            verification: Default::default(),
            notes: vec!["recorded by a refresh from what the members are".into()],
            caveats: vec![format!("{old} was not re-protected: run `standby apply`")],
        });
        self.member_drift.push(format!(
            "failover.{name}: the members say {} is primary at epoch {}; the state said {old}.",
            r.active, r.epoch
        ));
        self.refreshed.failovers.insert(name.to_string(), r);
    }
}
