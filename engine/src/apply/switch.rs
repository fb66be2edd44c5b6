//! Running the steps of a failover switch through the members' replication capability.

use super::failpoint::{failpoint, freeze_if_asked};
use super::Failure;
use crate::plan::{emergency_probe, StepKind, SwitchKind, SwitchPlan};
use crate::state::{FailoverState, Override, StepRecord, SwitchRecord};
use standby_provider_sdk::{Member, Provider, Role, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an emergency failover waits for the old primary to rejoin before recording the
/// switch without it (a later apply rejoins it).
const REJOIN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Proof, at the moment a switch acts, that whoever runs it still has the right to: a monitor
/// elected through a lease claims the plan's epoch with its fencing token. Without a guard
/// (a person running apply holds the state lock) nothing extra is asked.
#[async_trait::async_trait]
pub trait PromotionGuard: Send + Sync {
    /// Before the old primary is fenced: the caller may still act.
    async fn may_fence(&self, plan: &SwitchPlan) -> Result<(), String>;
    /// Immediately before promotion: claims `plan.epoch` atomically; returns a line for the
    /// switch's record.
    async fn claim(&self, plan: &SwitchPlan) -> Result<String, String>;
    /// Before planning: the highest epoch of `group` claimed so far, so the plan goes above
    /// it (an actor may have claimed an epoch and died before promoting).
    async fn claimed_epoch(&self, _group: &str) -> Option<u64> {
        None
    }
}

/// Asks a person to approve a switch.
pub type Prompt = Arc<dyn Fn(&SwitchPlan) -> bool + Send + Sync>;

/// Decides approval gates.
#[derive(Clone, Default)]
pub struct Approvals {
    /// Groups approved with `--approve GROUP`.
    pub groups: BTreeSet<String>,
    /// `(group, plan hash)` lines of an approval file.
    pub file: Vec<(String, String)>,
    /// The hash of the plan being applied.
    pub plan_hash: String,
    /// Asks a person; `None` when nobody can be asked.
    pub prompt: Option<Prompt>,
}

/// What one step did.
#[derive(Debug, Clone, Default)]
pub(crate) struct StepOutcome {
    pub detail: String,
    pub final_position: Option<u64>,
    /// The data-loss gap the step established, in bytes, when it is known.
    pub gap: Option<u64>,
    pub fenced: bool,
    pub promoted: bool,
    pub verification: BTreeMap<String, (String, String)>,
    pub target_checksums: BTreeMap<String, String>,
    pub notes: Vec<String>,
    /// What the operator must know about a switch that completed: an unconfirmed fence, an
    /// unknown gap, skipped or failed verification.
    pub caveats: Vec<String>,
    /// Members that re-protect rejoined.
    pub rejoined: Vec<String>,
}

/// Why a step did not succeed.
#[derive(Debug, Clone)]
pub(crate) enum StepError {
    Failed(Failure),
    AwaitingApproval,
}

/// Everything a step needs, owned, so the step can run on its own task.
pub(crate) struct StepCtx {
    pub plan: SwitchPlan,
    pub step: StepKind,
    pub provider: Arc<dyn Provider>,
    pub members: BTreeMap<String, Value>,
    pub final_position: Option<u64>,
    /// The new primary's checksums, taken at promotion, before traffic moved.
    pub target_checksums: BTreeMap<String, String>,
    pub accept_data_loss: bool,
    pub approvals: Approvals,
    pub guard: Option<Arc<dyn PromotionGuard>>,
    pub root: PathBuf,
    pub env: String,
}

/// The progress of one group's switch during apply.
#[derive(Debug, Clone)]
pub(crate) struct SwitchRun {
    pub started: Instant,
    pub started_at: String,
    pub steps: Vec<StepRecord>,
    pub verification: BTreeMap<String, (String, String)>,
    pub target_checksums: BTreeMap<String, String>,
    pub notes: Vec<String>,
    pub caveats: Vec<String>,
    pub rejoined: Vec<String>,
    pub final_position: Option<u64>,
    pub fenced: bool,
    pub promoted: bool,
}

impl SwitchRun {
    pub(crate) fn new() -> Self {
        SwitchRun {
            started: Instant::now(),
            started_at: crate::state::now_rfc3339(),
            steps: Vec::new(),
            verification: BTreeMap::new(),
            target_checksums: BTreeMap::new(),
            notes: Vec::new(),
            caveats: Vec::new(),
            rejoined: Vec::new(),
            final_position: None,
            fenced: false,
            promoted: false,
        }
    }

    pub(crate) fn absorb(&mut self, step: &StepKind, took: Duration, o: StepOutcome) {
        self.steps.push(StepRecord {
            step: step.clone(),
            seconds: took.as_secs_f64(),
            detail: o.detail,
            gap: o.gap,
        });
        self.final_position = o.final_position.or(self.final_position);
        self.fenced |= o.fenced;
        self.promoted |= o.promoted;
        self.verification.extend(o.verification);
        self.target_checksums.extend(o.target_checksums);
        self.notes.extend(o.notes);
        self.caveats.extend(o.caveats);
        self.rejoined.extend(o.rejoined);
    }

    /// The group's state record once the switch completed.
    pub(crate) fn record(
        &self,
        plan: &SwitchPlan,
        previous: Option<&FailoverState>,
        root: &std::path::Path,
    ) -> FailoverState {
        let by = crate::state::LockInfo::new("switch").who;
        let mut history = previous.map(|p| p.history.clone()).unwrap_or_default();
        // A re-protect that rejoined nobody (the member still does not answer) changed
        // nothing worth a history entry; its caveat is in the apply's report.
        let idle = plan.reason.code == "switch_reprotect" && self.rejoined.is_empty();
        if plan.kind != SwitchKind::RecordOnly && !idle {
            history.push(SwitchRecord {
                kind: plan.kind,
                from: plan.from.clone(),
                to: plan.to.clone(),
                epoch: plan.epoch,
                by: by.clone(),
                started: self.started_at.clone(),
                seconds: self.started.elapsed().as_secs_f64(),
                git_commit: git_commit(root),
                steps: self.steps.clone(),
                verification: self.verification.clone(),
                notes: self.notes.clone(),
                caveats: self.caveats.clone(),
            });
        }
        let override_ = match (&plan.set_override, plan.clear_override) {
            (Some(reason), _) => Some(Override {
                site: plan.to.clone(),
                reason: reason.clone(),
                by,
                at: crate::state::now_rfc3339(),
            }),
            (None, true) => None,
            (None, false) => previous.and_then(|p| p.override_.clone()),
        };
        FailoverState {
            active: plan.to.clone(),
            epoch: plan.epoch,
            mode: plan.mode,
            max_lag_bytes: plan.max_lag_bytes,
            members: plan
                .members
                .iter()
                .map(|(s, m)| (s.clone(), m.addr.clone()))
                .collect(),
            override_,
            history,
        }
    }
}

/// The commit the topology is at, when it is in a repository.
fn git_commit(root: &std::path::Path) -> Option<String> {
    crate::vcs::Repo::discover(root).ok()?.head_sha().ok()
}

use crate::units::human_bytes;

impl StepCtx {
    fn member(&self, site: &str) -> Result<Member, StepError> {
        let m = self.plan.members.get(site).ok_or_else(|| {
            self.fail("unknown site", format!("the group has no member at {site}"))
        })?;
        Ok(m.member(site, self.members.get(site)))
    }

    pub(super) fn fail(&self, summary: &str, detail: impl Into<String>) -> StepError {
        StepError::Failed(Failure {
            addr: format!("failover.{}: {}", self.plan.group, self.step),
            summary: summary.to_string(),
            detail: detail.into(),
            partial: None,
        })
    }

    pub(super) fn pe(&self, e: standby_provider_sdk::ProviderError) -> StepError {
        self.fail(&e.summary, e.detail)
    }

    /// The target is healthy and close enough; a checksum that cannot be taken is a mistake in
    /// the topology, found while nothing has changed rather than after the point of no return.
    async fn precheck(
        &self,
        r: &dyn standby_provider_sdk::Replication,
        from: Option<&Member>,
        to: &Member,
        out: &mut StepOutcome,
    ) -> Result<(), StepError> {
        let emergency = self.plan.kind == SwitchKind::Failover;
        let patience = if emergency {
            emergency_probe(&self.plan.health_check)
        } else {
            Duration::from_secs(60)
        };
        let reachable = match from {
            Some(f) => tokio::time::timeout(patience, r.status(f, None))
                .await
                .is_ok_and(|s| s.is_ok_and(|s| s.healthy && s.role != Role::Down)),
            None => false,
        };
        // On the current primary: the target may not have replayed a new table yet, and
        // catch-up brings it before promotion. Not in an emergency: a failover must not wait
        // on verification.
        let source = from.filter(|_| reachable).unwrap_or(to);
        let checksum = async {
            if emergency || self.plan.checksum.is_empty() {
                Ok(Default::default())
            } else {
                r.checksum(source, &self.plan.checksum).await
            }
        };
        let (st, sums) = tokio::join!(r.status(to, from.filter(|_| reachable)), checksum);
        let st = st.map_err(|e| self.pe(e))?;
        if !st.healthy || st.role == Role::Down {
            return Err(self.fail(
                &format!("{} is not healthy", self.plan.to),
                format!("status: {} {}", st.role, st.detail),
            ));
        }
        if let Err(e) = sums {
            return Err(self.fail(
                &format!("cannot checksum {} on {}", self.plan.checksum.join(", "), source.site),
                format!("{}: {}. Nothing was changed. Fix verify.checksum, or create the data set on the primary so that it replicates.", e.summary, e.detail),
            ));
        }
        let beyond = self
            .plan
            .max_lag_bytes
            .is_some_and(|m| st.lag_bytes > m.bytes());
        if beyond && !self.accept_data_loss {
            return Err(self.fail(
                &format!("{} is {} behind, beyond max_lag", self.plan.to, human_bytes(st.lag_bytes)),
                format!("max_lag is {}. Wait for it to catch up, or accept the risk with --accept-data-loss {}.", self.plan.max_lag_bytes.unwrap_or_default(), self.plan.group),
            ));
        }
        out.detail = format!(
            "{} healthy ({}), lag {} / {:.1}s{}",
            self.plan.to,
            st.role,
            human_bytes(st.lag_bytes),
            st.lag_seconds,
            if reachable {
                ""
            } else {
                "; current primary unreachable"
            }
        );
        Ok(())
    }

    /// Runs the step.
    pub(crate) async fn run(self) -> Result<StepOutcome, StepError> {
        let injected = |when: &str| {
            self.fail(
                "injected failure",
                format!(
                    "STANDBY_FAILPOINT={}:{when} stopped the step {when} its effect",
                    self.step
                ),
            )
        };
        if failpoint(&self.step, "before") {
            return Err(injected("before"));
        }
        let out = self.act().await?;
        freeze_if_asked(&self.root, &self.step, "freeze");
        if failpoint(&self.step, "after") {
            return Err(injected("after"));
        }
        Ok(out)
    }

    async fn act(&self) -> Result<StepOutcome, StepError> {
        let r = self
            .provider
            .replication()
            .ok_or_else(|| self.fail("the provider cannot replicate", self.plan.group.clone()))?;
        // A reconcile re-protects after a switch nobody finished: like an emergency, the old
        // primary may be gone, and it must not hold the record hostage.
        let emergency = matches!(self.plan.kind, SwitchKind::Failover | SwitchKind::Reconcile);
        let to = self.member(&self.plan.to)?;
        let from = match &self.plan.from {
            Some(f) => Some(self.member(f)?),
            None => None,
        };
        let mut out = StepOutcome::default();
        match &self.step {
            StepKind::Configure => {
                let standbys: Vec<Member> = self
                    .plan
                    .members
                    .keys()
                    .filter(|s| **s != self.plan.to)
                    .map(|s| self.member(s))
                    .collect::<Result<_, _>>()?;
                r.configure_roles(&to, &standbys, self.plan.mode)
                    .await
                    .map_err(|e| self.pe(e))?;
                out.detail = format!(
                    "{} is primary; {} following it ({})",
                    self.plan.to,
                    if standbys.is_empty() {
                        "no standbys".to_string()
                    } else {
                        standbys
                            .iter()
                            .map(|m| m.site.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                    self.plan.mode
                );
            }
            StepKind::Precheck => self.precheck(r, from.as_ref(), &to, &mut out).await?,
            StepKind::Approval => {
                let a = &self.approvals;
                let by_file = a
                    .file
                    .iter()
                    .any(|(g, h)| *g == self.plan.group && *h == a.plan_hash);
                if a.groups.contains(&self.plan.group) || by_file {
                    out.detail = if by_file {
                        format!(
                            "approved by approval file for plan {}",
                            &a.plan_hash[..12.min(a.plan_hash.len())]
                        )
                    } else {
                        "approved with --approve".into()
                    };
                } else if let Some(prompt) = a.prompt.clone() {
                    let plan = self.plan.clone();
                    let yes = tokio::task::spawn_blocking(move || prompt(&plan))
                        .await
                        .unwrap_or(false);
                    if !yes {
                        return Err(self.fail(
                            "approval refused",
                            "the switch was not approved at the prompt; nothing after the gate ran",
                        ));
                    }
                    out.detail = "approved at the prompt".into();
                } else {
                    return Err(StepError::AwaitingApproval);
                }
            }
            StepKind::Hook(i) => {
                let h = self
                    .plan
                    .hooks
                    .get(*i as usize)
                    .ok_or_else(|| self.fail("unknown hook", i.to_string()))?;
                let o = tokio::process::Command::new(&h.command[0])
                    .args(&h.command[1..])
                    .current_dir(&self.root)
                    .env("STANDBY_GROUP", &self.plan.group)
                    .env("STANDBY_FROM", self.plan.from.clone().unwrap_or_default())
                    .env("STANDBY_TO", &self.plan.to)
                    .env("STANDBY_EPOCH", self.plan.epoch.to_string())
                    .env("STANDBY_ENV", &self.env)
                    .env("STANDBY_HOOK", &h.when)
                    .stdin(std::process::Stdio::null())
                    .output()
                    .await
                    .map_err(|e| {
                        self.fail(&format!("cannot run hook {}", h.shown()), e.to_string())
                    })?;
                if !o.status.success() {
                    let err = String::from_utf8_lossy(&o.stderr);
                    let tail = err
                        .lines()
                        .rev()
                        .take(5)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n");
                    // The hook may echo a secret it was given.
                    let tail = Value::redact(&tail, &h.secrets());
                    return Err(self.fail(
                        &format!("hook {} failed with {}", h.shown(), o.status),
                        if tail.is_empty() {
                            "it wrote nothing to stderr".to_string()
                        } else {
                            tail
                        },
                    ));
                }
                out.detail = format!("{} ran: {}", h.when, h.shown());
            }
            StepKind::Fence => {
                let f = from
                    .as_ref()
                    .ok_or_else(|| self.fail("nothing to fence", "no previous primary"))?;
                if let Some(g) = &self.guard {
                    g.may_fence(&self.plan)
                        .await
                        .map_err(|e| self.fail("not allowed to fence", e))?;
                }
                let o = r
                    .fence(f, self.plan.epoch, emergency)
                    .await
                    .map_err(|e| self.pe(e))?;
                if !o.confirmed && !emergency {
                    return Err(self.fail(
                        &format!("fencing {} could not be confirmed", f.site),
                        o.detail,
                    ));
                }
                if !o.confirmed {
                    out.caveats
                        .push(format!("fence of {} not confirmed: {}", f.site, o.detail));
                }
                out.fenced = o.confirmed;
                out.final_position = o.final_position;
                out.detail = o.detail;
            }
            StepKind::CatchUp => {
                let f = from
                    .as_ref()
                    .ok_or_else(|| self.fail("nothing to catch up with", "no previous primary"))?;
                let want = self.final_position.unwrap_or(0);
                let timeout =
                    Duration::from_secs_f64(self.plan.rto_seconds.unwrap_or(60.0).max(1.0));
                let got = r
                    .catch_up(&to, f, want, timeout)
                    .await
                    .map_err(|e| self.pe(e))?;
                out.detail = format!(
                    "{} replayed position {got} (fenced primary's final position {want})",
                    self.plan.to
                );
                out.gap = Some(0);
            }
            StepKind::MeasureGap => {
                let st = r.status(&to, None).await.map_err(|e| self.pe(e))?;
                // The fenced (or dead) primary's final position, when the provider could read
                // it, against what the target has replayed; else the target's own estimate.
                let gap = match self.final_position {
                    Some(p) => p.saturating_sub(st.position),
                    None => st.lag_bytes,
                };
                // Positions are in the provider's unit (write transactions for SQLite); a
                // lag estimate is in bytes. Only bytes compare with max_lag.
                let unit = self.final_position.map_or("bytes", |_| r.position_unit());
                let (in_bytes, amount) = (unit == "bytes", format!("{gap} {unit}"));
                let sync = self.plan.mode == standby_provider_sdk::ReplicationMode::Sync;
                let measured = if self.final_position.is_some() {
                    ""
                } else {
                    " (the old primary's final position is unknown: measured from the target's own status)"
                };
                let note = if self.final_position.is_none() && !sync {
                    format!("catch-up skipped; data loss unknown{measured}")
                } else if sync {
                    format!("catch-up skipped; sync mode: every commit the old primary acknowledged is on {}; {amount} of unacknowledged changes are discarded{measured}", self.plan.to)
                } else {
                    format!("catch-up skipped; estimated loss {amount}: {} was that far behind the old primary's final position{measured}", self.plan.to)
                };
                // In sync mode commits wait for the standby, so WAL it lacks was never
                // acknowledged; only a standby known to be out of sync risks acknowledged data.
                let needs_ack = if sync {
                    !st.in_sync
                        && self
                            .plan
                            .estimate
                            .as_ref()
                            .is_some_and(|e| !e.in_sync && e.primary_reachable)
                } else {
                    // A gap that is not in bytes cannot be held to max_lag: any loss asks.
                    match self.plan.max_lag_bytes {
                        Some(m) if in_bytes => gap > m.bytes(),
                        _ => gap > 0,
                    }
                };
                if needs_ack && !self.accept_data_loss {
                    return Err(self.fail(
                        "promotion would lose data",
                        format!(
                            "{note}. Accept it with --accept-data-loss {}.",
                            self.plan.group
                        ),
                    ));
                }
                // The record's gap is in the provider's unit; a byte estimate of another is not.
                out.gap = (self.final_position.is_some() || (sync && unit == r.position_unit()))
                    .then_some(gap);
                if self.final_position.is_none() {
                    out.caveats.push(format!("data-loss gap unknown: the old primary's final position could not be read, and {} cannot see what it never received", self.plan.to));
                }
                out.notes.push(note.clone());
                out.detail = note;
            }
            StepKind::Promote => {
                self.claim_epoch(&mut out, "promotion").await?;
                if let Err(e) = r.promote(&to, self.plan.epoch).await {
                    // The promotion may have happened even though the call failed (a timeout,
                    // a lost connection): the member decides, not the error.
                    let st = r.status(&to, None).await;
                    match st {
                        // Promoted by this run (a newer epoch would be another actor's).
                        Ok(st) if st.role == Role::Primary && st.epoch <= self.plan.epoch => {
                            out.caveats.push(format!(
                                "promote reported an error ({}: {}), but {} is primary (epoch {})",
                                e.summary, e.detail, self.plan.to, st.epoch
                            ));
                        }
                        _ => return Err(self.pe(e)),
                    }
                }
                out.promoted = true;
                out.detail = format!("{} promoted at epoch {}", self.plan.to, self.plan.epoch);
            }
            StepKind::Checksum => {
                // After the point of no return: a failure is a caveat, the switch goes on.
                match r.checksum(&to, &self.plan.checksum).await {
                    Ok(c) => {
                        out.detail = format!(
                            "{} checksummed on {} before traffic moved",
                            self.plan.checksum.join(", "),
                            self.plan.to
                        );
                        out.target_checksums = c;
                    }
                    Err(e) => {
                        let c = format!(
                            "verification failed: cannot checksum {} on {}: {}: {}",
                            self.plan.checksum.join(", "),
                            self.plan.to,
                            e.summary,
                            e.detail
                        );
                        out.detail.clone_from(&c);
                        out.caveats.push(c);
                    }
                }
            }
            StepKind::Verify => {
                let st = r.status(&to, None).await.map_err(|e| self.pe(e))?;
                if st.role != Role::Primary || !st.healthy {
                    return Err(self.fail(
                        &format!("{} is not a healthy primary after promotion", self.plan.to),
                        format!("status: {} {}", st.role, st.detail),
                    ));
                }
                let mut parts = vec![format!("{} is a healthy primary", self.plan.to)];
                if !self.plan.checksum.is_empty() {
                    match &from {
                        Some(f) if r.status(f, None).await.is_ok_and(|s| s.role != Role::Down) => {
                            let old = r
                                .checksum(f, &self.plan.checksum)
                                .await
                                .map_err(|e| self.pe(e))?;
                            // Taken by the checksum step, before traffic moved; when that step
                            // could not take them, it already said so, and a checksum taken
                            // now would include writes that arrived through the new route.
                            if self.target_checksums.is_empty() {
                                out.detail = format!(
                                    "{} is a healthy primary; checksums not compared",
                                    self.plan.to
                                );
                                return Ok(out);
                            }
                            let new = self.target_checksums.clone();
                            for name in &self.plan.checksum {
                                let (a, b) = (
                                    old.get(name).cloned().unwrap_or_default(),
                                    new.get(name).cloned().unwrap_or_default(),
                                );
                                if a != b && !emergency {
                                    return Err(self.fail(
                                        &format!("checksum of {name} differs"),
                                        format!("old primary {a}, new primary {b}"),
                                    ));
                                }
                                if a != b {
                                    out.caveats.push(format!("verification failed: checksum of {name} differs after the emergency failover: old {a}, new {b}"));
                                }
                                out.verification.insert(name.clone(), (a, b));
                            }
                            parts.push(format!(
                                "checksums equal for {}",
                                self.plan.checksum.join(", ")
                            ));
                        }
                        _ => out.caveats.push(format!(
                            "checksums skipped: the old primary {} is unreachable",
                            self.plan.from.as_deref().unwrap_or("-")
                        )),
                    }
                }
                out.detail = parts.join("; ");
            }
            StepKind::Reprotect => {
                if self.plan.stamp_epoch {
                    self.stamp(r, &to, &mut out).await?;
                }
                if self.plan.reason.code == "switch_reconcile" {
                    // Nobody knows how far the adopted switch got past its promotion.
                    out.caveats.push(format!(
                        "{0} was promoted by a switch that did not finish: its checksums, verification and after_switch hooks may not have run; check {0} before trusting it",
                        self.plan.to
                    ));
                }
                let mut done = Vec::new();
                let chosen =
                    |s: &String| self.plan.rejoin.is_empty() || self.plan.rejoin.contains(s);
                for site in self
                    .plan
                    .members
                    .keys()
                    .filter(|s| **s != self.plan.to && chosen(s))
                {
                    let m = self.member(site)?;
                    // After a failover the old primary may be frozen, not dead: it must not
                    // hold the switch's record hostage, so give up on it after a while.
                    let rejoin = r.rejoin(&m, &to, self.plan.mode);
                    let result = if emergency {
                        tokio::time::timeout(REJOIN_PATIENCE, rejoin)
                            .await
                            .unwrap_or_else(|_| {
                                Err(standby_provider_sdk::ProviderError::new(
                                    "no answer",
                                    format!("gave up after {REJOIN_PATIENCE:?}"),
                                ))
                            })
                    } else {
                        rejoin.await
                    };
                    match result {
                        Ok(kept) => {
                            out.caveats.extend(kept.map(|k| format!("{site} had writes that {} never received: {k}", self.plan.to)));
                            done.push(site.clone());
                        }
                        Err(e) if emergency => out.caveats.push(format!("{site} is not re-protected: it could not rejoin yet ({}); run apply again once it is reachable", e.summary)),
                        Err(e) => return Err(self.pe(e)),
                    }
                }
                out.rejoined.clone_from(&done);
                out.detail = format!(
                    "{} following {} ({})",
                    if done.is_empty() {
                        "no standbys".to_string()
                    } else {
                        done.join(", ")
                    },
                    self.plan.to,
                    self.plan.mode
                );
            }
            StepKind::Record => {}
        }
        Ok(out)
    }
}
