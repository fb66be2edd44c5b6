//! Planning failover groups: which site should be active, and the ordered, gated steps of a
//! switch as nodes of the execution graph.

use super::failover_settings::Settings;
use super::model::{Estimate, HookSpec, NodeKey, Reason, StepKind, SwitchKind, SwitchPlan};
use super::walk::Walker;
use crate::diag::Diagnostic;
use crate::eval::Phase;
use standby_provider_sdk::{Member, Value};

/// How long an emergency failover waits for the old primary to answer a status probe, at plan
/// time and in its precheck: the group's declared `health_check.timeout`, else 1 s. The
/// primary is believed gone, and a frozen or partitioned one would otherwise hold each probe
/// for a whole connection deadline; the declared timeout is what the monitor judged it by.
pub fn emergency_probe(health_check: &super::HealthCheck) -> std::time::Duration {
    health_check
        .timeout
        .map_or(std::time::Duration::from_secs(1), |t| {
            t.clamp(
                std::time::Duration::from_millis(50),
                std::time::Duration::from_secs(60),
            )
        })
}

/// A switch requested on the command line (`standby failover` or `standby switchover`).
#[derive(Debug, Clone)]
pub struct ForcedSwitch {
    /// The group.
    pub group: String,
    /// The site to make active.
    pub to: String,
    /// Emergency failover: best-effort fencing, no catch-up.
    pub emergency: bool,
}

impl Walker<'_> {
    /// Plans one failover group: its value for traffic resources and, when needed, a switch.
    pub(crate) async fn failover(&mut self, name: &str) {
        let fo = self.config.root.failovers[name].clone();
        let Some(st) = self.settings(&fo) else { return };
        self.failover_members.insert(
            name.to_string(),
            st.members
                .iter()
                .map(|(s, m)| (s.clone(), m.addr.clone()))
                .collect(),
        );
        self.groups.insert(
            name.to_string(),
            super::model::GroupSummary {
                active: String::new(),
                sites: st.members.keys().cloned().collect(),
                members: st
                    .members
                    .iter()
                    .map(|(s, m)| (s.clone(), m.addr.to_string()))
                    .collect(),
                mode: st.mode,
                approval: st.approval,
                max_lag_bytes: st.max_lag_bytes,
                rpo_seconds: st.rpo_seconds,
                rto_seconds: st.rto_seconds,
                health_check: st.health_check.clone(),
                checksum: st.checksum.clone(),
                has_verify: !fo.verify.is_empty(),
                traffic: Vec::new(),
            },
        );
        let forced = self.opts.force.clone().filter(|f| f.group == name);
        let Some(rc) = self.reconcile(name, &fo, &st, forced.as_ref()).await else {
            return;
        };
        let recorded = rc.recorded.clone();
        let mut notes = Vec::new();
        let mut set_override = None;
        let mut clear_override = false;
        if let Some(f) = &forced {
            if !st.members.contains_key(&f.to) {
                self.diags.push(Diagnostic::at(
                    fo.span.clone(),
                    format!("failover.{name} has no member at site {:?}", f.to),
                    format!(
                        "Its sites are {}.",
                        st.members.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
                return;
            }
        }
        let target = match (
            &forced,
            recorded.as_ref().and_then(|r| r.override_.as_ref()),
        ) {
            (Some(f), _) => {
                set_override = Some(if f.emergency {
                    "emergency failover".to_string()
                } else {
                    "switchover command".to_string()
                });
                f.to.clone()
            }
            (None, Some(ov)) if ov.site == st.active => {
                clear_override = true;
                notes.push(format!("The topology now says active = {:?}, which matches the override set by {} at {}; the override is cleared.", st.active, ov.reason, ov.at));
                ov.site.clone()
            }
            (None, Some(ov)) => {
                self.failover_notes.push(format!(
                    "failover.{name} is active on {:?} by override ({} by {} at {}), but the topology says active = {:?}. standby will not switch back on its own. To resolve it, set active = {:?} in the topology, which clears the override, or switch back explicitly with `standby failover {name} --to {}` or `standby switchover {name} --to {}`.",
                    ov.site, ov.reason, ov.by, ov.at, st.active, ov.site, st.active, st.active
                ));
                ov.site.clone()
            }
            (None, None) => st.active.clone(),
        };
        // A refresh records what is; it never switches, whatever the topology asks for. What
        // the members are is part of what is: an unrecorded switch is recorded.
        if self.opts.mode == super::PlanMode::RefreshOnly {
            self.refresh_members(name, &rc);
        }
        let target = match &recorded {
            Some(r) if self.opts.mode == super::PlanMode::RefreshOnly => r.active.clone(),
            _ => target,
        };
        if rc.moved_from.is_some() && forced.is_none() {
            if st.active == target {
                // The record's own override, not the reconciled one: a switchover killed
                // after promotion must not leave the override it meant to replace.
                clear_override = self
                    .state
                    .failovers
                    .get(name)
                    .is_some_and(|r| r.override_.is_some());
            } else {
                set_override = recorded
                    .as_ref()
                    .and_then(|r| r.override_.as_ref())
                    .map(|o| o.reason.clone());
            }
        }
        if let Some(g) = self.groups.get_mut(name) {
            g.active = target.clone();
        }
        let recorded_members: Vec<String> = recorded
            .as_ref()
            .map(|r| r.members.keys().cloned().collect())
            .unwrap_or_default();
        let kind = match &recorded {
            _ if self.opts.mode == super::PlanMode::RefreshOnly => None,
            None => Some(SwitchKind::Initial),
            // The recorded primary was fenced and nobody promoted: set the roles up again.
            Some(r) if rc.unfence && r.active == target => Some(SwitchKind::Resync),
            // Two writable members, and the record proves which is stale: fence it.
            Some(_) if rc.split_from.is_some() && forced.is_none() => Some(SwitchKind::Reconcile),
            // Two writable members, and an operator picked one: fence the other.
            Some(_) if rc.split_from.is_some() => Some(SwitchKind::Failover),
            // A switch happened without its record: record it and re-protect the others.
            Some(r) if rc.moved_from.is_some() && r.active == target => Some(SwitchKind::Reconcile),
            Some(r) if r.active != target => {
                Some(if forced.as_ref().is_some_and(|f| f.emergency) {
                    SwitchKind::Failover
                } else {
                    SwitchKind::Switchover
                })
            }
            Some(_) if recorded_members != st.members.keys().cloned().collect::<Vec<_>>() => {
                Some(SwitchKind::Resync)
            }
            // Replication settings are desired state: a new mode is applied to the members.
            Some(r) if r.mode != st.mode => Some(SwitchKind::Resync),
            // Members that do not follow the primary are rejoined before they are repaired
            // (after a change of mode or members, which sets every member up anyway).
            Some(r) if !rc.reprotect.is_empty() && r.active == target && forced.is_none() => {
                Some(SwitchKind::Reconcile)
            }
            Some(r) if r.max_lag_bytes != st.max_lag_bytes && forced.is_none() => {
                Some(SwitchKind::RecordOnly)
            }
            Some(_) if forced.is_some() => None,
            Some(_) if clear_override => Some(SwitchKind::RecordOnly),
            Some(_) => None,
        };
        // Who is fenced or replaced: the stale writer of a split brain, the member the state
        // named when a reconcile adopts another, else the recorded primary.
        let from = rc
            .split_from
            .clone()
            .or_else(|| {
                rc.moved_from
                    .clone()
                    .filter(|_| kind == Some(SwitchKind::Reconcile))
            })
            .or_else(|| recorded.as_ref().map(|r| r.active.clone()));
        // A member's epoch wins over the record's, and a promotion goes above any epoch
        // claimed elsewhere too: an epoch is never claimed twice.
        let base = recorded
            .as_ref()
            .map_or(0, |r| r.epoch)
            .max(rc.member_epoch);
        let stamp = rc.stamp && kind == Some(SwitchKind::Reconcile);
        let epoch = if stamp
            || matches!(
                kind,
                Some(SwitchKind::Initial | SwitchKind::Switchover | SwitchKind::Failover)
            ) {
            let next = base
                .max(self.opts.epoch_floor.get(name).copied().unwrap_or(0))
                .checked_add(1);
            // Destroying promotes nothing: the group may go at any epoch.
            let next = next.or((self.opts.mode == super::PlanMode::Destroy).then_some(base));
            let Some(next) = next else {
                // A member (or the record) claims the largest epoch there is: no promotion can
                // be fenced above it. Only a person can look at how that happened.
                self.diags.push(Diagnostic::at(
                    fo.span.clone(),
                    format!("failover.{name} is at the largest epoch there is ({base})"),
                    "A member or the state records epoch 18446744073709551615, so no switch can get a higher one and fence the others. Nothing was planned for this group. Check each member's recorded epoch (a damaged or hand-edited member), fix it, and plan again.",
                ));
                return;
            };
            next
        } else {
            base
        };
        let standbys: Vec<Value> = st
            .members
            .keys()
            .filter(|s| **s != target)
            .map(|s| Value::string(s.clone()))
            .collect();
        let value = Value::object([
            ("name", Value::string(name)),
            ("active", Value::string(target.clone())),
            (
                "active_member",
                st.member_values
                    .get(&target)
                    .cloned()
                    .unwrap_or(Value::Unknown),
            ),
            ("standbys", Value::List(standbys)),
            ("epoch", Value::from(epoch as i64)),
            ("mode", Value::string(st.mode.name())),
            ("members", Value::Map(st.member_values.clone())),
        ]);
        self.values
            .failovers
            .insert(name.to_string(), value.clone());
        let Some(kind) = kind else {
            self.add_node(
                NodeKey::Failover { name: name.into() },
                &st.deps,
                None,
                Some(value),
            );
            return;
        };
        let mode_change = recorded
            .as_ref()
            .filter(|r| r.mode != st.mode)
            .map(|r| r.mode);
        let protected = self.config.is_protected(&self.opts.env);
        let mut steps = Vec::new();
        match kind {
            SwitchKind::Resync
                if mode_change == Some(standby_provider_sdk::ReplicationMode::Sync)
                    && protected =>
            {
                // Giving up synchronous replication in a protected environment weakens its
                // RPO: a person approves it, whatever the group's approval setting.
                steps.push(StepKind::Approval);
                steps.push(StepKind::Configure);
            }
            SwitchKind::Initial | SwitchKind::Resync => steps.push(StepKind::Configure),
            SwitchKind::RecordOnly => {}
            SwitchKind::Reconcile => {
                if rc.split_from.is_some() {
                    steps.push(StepKind::Fence);
                }
                steps.push(StepKind::Reprotect);
            }
            SwitchKind::Switchover | SwitchKind::Failover => {
                let emergency = kind == SwitchKind::Failover;
                steps.push(StepKind::Precheck);
                if st.approval == super::Approval::Manual && !emergency {
                    steps.push(StepKind::Approval);
                }
                steps.extend(hooks_at(&st.hooks, "before_fence"));
                steps.push(StepKind::Fence);
                steps.push(if emergency {
                    StepKind::MeasureGap
                } else {
                    StepKind::CatchUp
                });
                steps.push(StepKind::Promote);
                if !st.checksum.is_empty() {
                    steps.push(StepKind::Checksum);
                }
                steps.extend(hooks_at(&st.hooks, "after_promote"));
                steps.push(StepKind::Verify);
                steps.extend(hooks_at(&st.hooks, "after_switch"));
                steps.push(StepKind::Reprotect);
            }
        }
        steps.push(StepKind::Record);
        let estimate = if matches!(kind, SwitchKind::Switchover | SwitchKind::Failover)
            && self.opts.phase == Phase::Plan
        {
            self.estimate(&st, from.as_deref(), &target, &rc.observed)
                .await
        } else {
            None
        };
        let needs_data_loss_ack = estimate.as_ref().is_some_and(|e| {
            let beyond = st.max_lag_bytes.is_some_and(|m| e.lag_bytes > m.bytes());
            let unsynced_sync = kind == SwitchKind::Failover
                && st.mode == standby_provider_sdk::ReplicationMode::Sync
                && !e.in_sync;
            let gap = kind == SwitchKind::Failover
                && e.lag_bytes > 0
                && st.max_lag_bytes.is_none_or(|m| e.lag_bytes > m.bytes());
            // A gap that the recovery point objective does not allow (any gap under an RPO of
            // 0 s), while the old primary still answers, is data loss a switchover would avoid:
            // the operator must accept it, even within max_lag. (With the primary gone, max_lag
            // alone decides, so that a monitor can still fail over.)
            let over_rpo = kind == SwitchKind::Failover
                && e.primary_reachable
                && e.lag_bytes > 0
                && st
                    .rpo_seconds
                    .is_some_and(|rpo| rpo == 0.0 || e.lag_seconds > rpo);
            beyond || unsynced_sync || gap || over_rpo
        });
        let reason = match (kind, &from) {
            (SwitchKind::Initial, _) => Reason::new(
                "switch_initial",
                format!(
                    "set up replication: {target} is primary, {} following it ({})",
                    if st.members.len() > 1 {
                        st.members
                            .keys()
                            .filter(|s| **s != target)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    } else {
                        "no standbys".into()
                    },
                    st.mode
                ),
            ),
            (SwitchKind::Resync, _) if rc.unfence => Reason::new(
                "switch_unfence",
                format!("{target} is fenced and no member was promoted: {target} takes writes again, the others follow it"),
            ),
            (SwitchKind::Resync, _) => match &mode_change {
                Some(old) => Reason::new(
                    "switch_replication_mode",
                    format!(
                        "replication.mode changes from {old} to {}: the primary {} its standbys{}",
                        st.mode,
                        if st.mode == standby_provider_sdk::ReplicationMode::Sync {
                            "waits for one of"
                        } else {
                            "no longer waits for"
                        },
                        if st.mode == standby_provider_sdk::ReplicationMode::Async && protected {
                            "; this weakens the RPO of a protected environment, so it needs approval"
                        } else {
                            ""
                        }
                    ),
                ),
                None => Reason::new(
                    "switch_resync",
                    "sync the standbys because the members changed",
                ),
            },
            (SwitchKind::Reconcile, Some(stale)) if rc.split_from.is_some() => Reason::new(
                "switch_split_brain",
                format!(
                    "SPLIT BRAIN: {stale} accepts writes at an older epoch than {target} (epoch {epoch}), which the state records as primary: fence {stale} and rejoin it as a standby"
                ),
            ),
            (SwitchKind::Reconcile, _) if rc.moved_from.is_none() => Reason::new(
                "switch_reprotect",
                format!(
                    "{} not following {target}: re-protect rejoins them as standbys before anything repairs them",
                    rc.reprotect.join(", ")
                ),
            ),
            (SwitchKind::Reconcile, _) => Reason::new(
                "switch_reconcile",
                format!(
                    "the members say {target} is primary at epoch {}, but the state says {}: record what happened{} and re-protect the others",
                    rc.member_epoch,
                    rc.moved_from.as_deref().unwrap_or("-"),
                    if stamp { format!(", write epoch {epoch} into {target}") } else { String::new() }
                ),
            ),
            (SwitchKind::RecordOnly, _) if !clear_override => Reason::new(
                "switch_max_lag",
                format!(
                    "replication.max_lag changes from {} to {}",
                    recorded
                        .as_ref()
                        .and_then(|r| r.max_lag_bytes)
                        .map_or("none".to_string(), |b| b.to_string()),
                    st.max_lag_bytes
                        .map_or("none".to_string(), |b| b.to_string())
                ),
            ),
            (SwitchKind::RecordOnly, _) => Reason::new(
                "switch_record_only",
                "record that the topology agrees with the override",
            ),
            (SwitchKind::Failover, Some(f)) => Reason::new(
                "switch_failover",
                format!("emergency failover from {f} to {target} requested by `standby failover`"),
            ),
            (_, Some(f)) if forced.is_some() => Reason::new(
                "switch_requested",
                format!("switch from {f} to {target} requested by `standby switchover`"),
            ),
            (_, f) => Reason::new(
                "switch_active_changed",
                format!(
                    "switch because active changed from {:?} to {target:?}",
                    f.as_deref().unwrap_or("")
                ),
            ),
        };
        // Nodes: the steps in a chain after the members are provisioned; the group's value
        // (which traffic resources read) after promotion.
        let mut prev: Vec<NodeKey> = st.deps.clone();
        let mut value_added = false;
        for step in &steps {
            let key = NodeKey::Step {
                group: name.into(),
                step: step.clone(),
            };
            let traffic_here = matches!(step, StepKind::Verify | StepKind::Record)
                || (kind == SwitchKind::Reconcile && *step == StepKind::Reprotect);
            if traffic_here && !value_added {
                self.add_node(
                    NodeKey::Failover { name: name.into() },
                    &prev,
                    None,
                    Some(value.clone()),
                );
                prev.push(NodeKey::Failover { name: name.into() });
                value_added = true;
            }
            self.add_node(key.clone(), &prev, None, None);
            prev = vec![key];
        }
        // A reconcile records what the members are, not new settings it did not apply: the
        // next plan applies those (with their approval, if any).
        let reconciling = kind == SwitchKind::Reconcile;
        let (mode, max_lag_bytes) = match recorded.as_ref().filter(|_| reconciling) {
            Some(r) => (r.mode, r.max_lag_bytes),
            None => (st.mode, st.max_lag_bytes),
        };
        let rejoin = if reconciling && rc.moved_from.is_none() && rc.split_from.is_none() {
            rc.reprotect.clone()
        } else {
            Vec::new()
        };
        let plan = SwitchPlan {
            group: name.to_string(),
            kind,
            from,
            to: target,
            epoch,
            members: st.members,
            mode,
            max_lag_bytes,
            rpo_seconds: st.rpo_seconds,
            rto_seconds: st.rto_seconds,
            approval: st.approval,
            checksum: st.checksum,
            hooks: st.hooks,
            health_check: st.health_check,
            estimate,
            needs_data_loss_ack,
            set_override,
            clear_override,
            reason,
            notes,
            traffic: Vec::new(),
            steps,
            rejoin,
            stamp_epoch: stamp,
        };
        self.switches.push(plan);
    }

    async fn estimate(
        &self,
        st: &Settings,
        from: Option<&str>,
        to: &str,
        observed: &[super::reality::Observed],
    ) -> Option<Estimate> {
        let member = |site: &str| -> Option<Member> {
            let m = st.members.get(site)?;
            Some(Member {
                site: site.to_string(),
                type_name: m.addr.resource.resource.type_name.clone(),
                state: st.member_values.get(site)?.deep_unmark().0,
            })
        };
        let target = member(to)?;
        let primary = from.and_then(member);
        let repl = self.registry.get(&st.members.get(to)?.provider)?.clone();
        let r = repl.replication()?;
        // In an emergency the old primary is believed gone: a frozen or partitioned one
        // would hold the plan for a whole connection deadline, so ask it only briefly.
        let patience = if self.opts.force.as_ref().is_some_and(|f| f.emergency) {
            emergency_probe(&st.health_check)
        } else {
            std::time::Duration::from_secs(60)
        };
        // The plan read every member a moment ago: ask the primary again only if it did not.
        let seen = from.and_then(|f| observed.iter().find(|o| o.site == f));
        let primary_reachable = match (&primary, seen) {
            (Some(_), Some(o)) => o.status.as_ref().is_ok_and(|s| s.healthy),
            (Some(p), None) => tokio::time::timeout(patience, r.status(p, None))
                .await
                .is_ok_and(|s| s.is_ok_and(|s| s.healthy)),
            (None, _) => false,
        };
        let s = r
            .status(&target, primary.as_ref().filter(|_| primary_reachable))
            .await
            .ok();
        Some(Estimate {
            target_healthy: s.as_ref().is_some_and(|s| s.healthy),
            lag_bytes: s.as_ref().map_or(0, |s| s.lag_bytes),
            lag_seconds: s.as_ref().map_or(0.0, |s| s.lag_seconds),
            in_sync: s.as_ref().is_some_and(|s| s.in_sync),
            primary_reachable,
            lag_known: primary_reachable && s.is_some(),
        })
    }

    /// The resource instances that read a group's value, anywhere in the module tree: found by
    /// following the execution graph from the group's node through expressions (module inputs,
    /// locals, outputs) up to the first resource instance on each path.
    fn traffic_of(&self, fnode: u32) -> Vec<u32> {
        let mut dependents = vec![Vec::new(); self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for d in &n.deps {
                dependents[*d as usize].push(i as u32);
            }
        }
        let mut found = std::collections::BTreeSet::new();
        let mut seen = std::collections::BTreeSet::from([fnode]);
        let mut stack = dependents[fnode as usize].clone();
        while let Some(i) = stack.pop() {
            if !seen.insert(i) {
                continue;
            }
            let n = &self.nodes[i as usize];
            if n.change.is_some() {
                found.insert(i);
            } else if !matches!(n.key, NodeKey::Step { .. } | NodeKey::Failover { .. }) {
                stack.extend(dependents[i as usize].iter().copied());
            }
        }
        found.into_iter().collect()
    }

    /// Verification waits for every traffic resource: instances that read a group's value.
    pub(crate) fn link_traffic(&mut self) {
        // Every group's traffic resources, switching or not, for checks and reviews.
        let groups: Vec<String> = self.groups.keys().cloned().collect();
        for group in groups {
            if let Some(&fnode) = self.index.get(&NodeKey::Failover {
                name: group.clone(),
            }) {
                let mut names: Vec<String> = self
                    .traffic_of(fnode)
                    .into_iter()
                    .filter_map(|t| {
                        self.nodes[t as usize]
                            .change
                            .and_then(|c| self.changes.get(c as usize))
                            .map(|c| c.addr.to_string())
                    })
                    .collect();
                names.sort();
                if let Some(summary) = self.groups.get_mut(&group) {
                    summary.traffic = names;
                }
            }
        }
        for i in 0..self.switches.len() {
            let group = self.switches[i].group.clone();
            let Some(&fnode) = self.node_index(&NodeKey::Failover {
                name: group.clone(),
            }) else {
                continue;
            };
            // A reconcile has no verify step, but its traffic still moves.
            let verify = self
                .node_index(&NodeKey::Step {
                    group: group.clone(),
                    step: StepKind::Verify,
                })
                .copied();
            let traffic = self.traffic_of(fnode);
            let mut names = Vec::new();
            for t in traffic {
                if let Some(c) = self.nodes[t as usize]
                    .change
                    .and_then(|c| self.changes.get(c as usize))
                {
                    if c.action != super::model::Action::NoOp {
                        names.push(c.addr.to_string());
                    }
                }
                if let Some(v) = verify {
                    if !self.nodes[v as usize].deps.contains(&t) {
                        self.nodes[v as usize].deps.push(t);
                    }
                }
            }
            names.sort();
            self.switches[i].traffic = names;
        }
    }
}

impl Walker<'_> {
    /// `standby failover` and `standby switchover` run only the group's switch and the traffic
    /// that follows it; every other pending change waits for a normal apply.
    pub(crate) fn restrict_to_forced(&mut self) {
        let Some(f) = self.opts.force.clone() else {
            return;
        };
        self.switches.retain(|s| s.group == f.group);
        let traffic: std::collections::BTreeSet<String> = self
            .switches
            .iter()
            .flat_map(|s| s.traffic.iter().cloned())
            .collect();
        for c in &mut self.changes {
            if c.action != super::model::Action::NoOp && !traffic.contains(&c.addr.to_string()) {
                c.action = super::model::Action::NoOp;
                c.after = c.before.clone();
                c.reason = Some(Reason::new(
                    "excluded_by_switch",
                    format!(
                        "excluded: `standby {}` runs only the switch of failover.{}",
                        if f.emergency {
                            "failover"
                        } else {
                            "switchover"
                        },
                        f.group
                    ),
                ));
            }
        }
    }
}

fn hooks_at(hooks: &[HookSpec], when: &str) -> Vec<StepKind> {
    hooks
        .iter()
        .enumerate()
        .filter(|(_, h)| h.when == when)
        .map(|(i, _)| StepKind::Hook(i as u32))
        .collect()
}
