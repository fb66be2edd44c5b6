//! The switch side of the walk: step outcomes and their caveats, the record, compensation
//! from what the members are, Ctrl-C during a switch, and outputs that follow only recorded
//! switches.

use super::executor::{emit, Status, Walk};
use super::switch::{StepError, StepOutcome, SwitchRun};
use super::{ApplyEvent, ApplyOptions};
use crate::plan::{Action, NodeKey, PlanMode};
use crate::registry::Registry;
use crate::state::{JournalEntry, OutputState, State};
use standby_provider_sdk::Value;
use std::collections::BTreeMap;
use std::time::Duration;

impl Walk<'_> {
    /// Whether node `i` belongs to a switch whose fence already ran: one of its steps, or a
    /// traffic resource it repoints.
    pub(super) fn in_flight_switch(&self, i: u32) -> bool {
        let past_fence = |g: &str| {
            self.runs.get(g).is_some_and(|r| {
                r.steps
                    .iter()
                    .any(|s| s.step == crate::plan::StepKind::Fence)
            })
        };
        if let Some((group, _)) = self.step_of(i) {
            return past_fence(&group);
        }
        self.change_of(i).is_some_and(|c| {
            let addr = c.addr.to_string();
            self.plan
                .switches
                .iter()
                .any(|sw| sw.traffic.contains(&addr) && past_fence(&sw.group))
        })
    }

    pub(super) fn step_of(&self, i: u32) -> Option<(String, crate::plan::StepKind)> {
        match &self.plan.nodes[i as usize].key {
            NodeKey::Step { group, step } => Some((group.clone(), step.clone())),
            _ => None,
        }
    }

    /// The group's value for traffic resources, with member attributes as applied.
    pub(super) fn refresh_failover(&mut self, name: &str) {
        let Some(mut v) = self.values.failovers.get(name).cloned() else {
            return;
        };
        let Some(members) = self.plan.failover_members.get(name) else {
            return;
        };
        let current: BTreeMap<String, Value> = members
            .iter()
            .map(|(site, a)| {
                (
                    site.clone(),
                    self.values
                        .resources
                        .get(&a.resource)
                        .and_then(|rv| rv.instances.get(&a.key))
                        .cloned()
                        .unwrap_or(Value::Null),
                )
            })
            .collect();
        if let Value::Map(m) = &mut v {
            let active = m
                .get("active")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            m.insert(
                "active_member".into(),
                current.get(&active).cloned().unwrap_or(Value::Null),
            );
            m.insert("members".into(), Value::Map(current));
        }
        self.values.failovers.insert(name.to_string(), v);
    }

    #[allow(clippy::too_many_arguments)] // The pieces of one completion; a struct would only rename them.
    pub(super) fn step_done(
        &mut self,
        i: u32,
        group: &str,
        step: &crate::plan::StepKind,
        elapsed: Duration,
        r: Result<StepOutcome, StepError>,
        opts: &ApplyOptions,
        state: &State,
        entries: &mut Vec<JournalEntry>,
    ) {
        let label = format!("failover.{group}: {step}");
        let promoted = self.runs.get(group).is_some_and(|r| r.promoted);
        let r = match r {
            // Past the point of no return nothing is undone: a later step's failure is a
            // caveat of a switch that happened, and the remaining steps still run.
            Err(StepError::Failed(f)) if promoted => {
                let caveat = format!("{step} failed after promotion: {}: {}", f.summary, f.detail);
                Ok(StepOutcome {
                    detail: caveat.clone(),
                    caveats: vec![caveat],
                    ..StepOutcome::default()
                })
            }
            other => other,
        };
        match r {
            Ok(o) => {
                // Shown on the step's line too, not only in the final list.
                let caveat =
                    (!o.caveats.is_empty()).then(|| format!("caveat: {}", o.caveats.join("; ")));
                self.runs
                    .entry(group.to_string())
                    .or_insert_with(SwitchRun::new)
                    .absorb(step, elapsed, o);
                if *step == crate::plan::StepKind::Record {
                    self.record_switch(group, state, entries);
                }
                self.status[i as usize] = Status::Done;
                self.report
                    .done
                    .push((label.clone(), Action::NoOp, elapsed));
                emit(
                    opts,
                    ApplyEvent::Finished {
                        addr: label,
                        action: Action::Update,
                        elapsed,
                        error: caveat,
                    },
                );
            }
            Err(StepError::AwaitingApproval) => {
                self.report.awaiting_approval.push(group.to_string());
                self.status[i as usize] = Status::Skipped;
                emit(
                    opts,
                    ApplyEvent::AwaitingApproval {
                        addr: label.clone(),
                        elapsed,
                    },
                );
                self.skip_dependents(i, &format!("the approval of failover.{group}"));
            }
            Err(StepError::Failed(f)) => {
                emit(
                    opts,
                    ApplyEvent::Finished {
                        addr: label.clone(),
                        action: Action::Update,
                        elapsed,
                        error: Some(format!("{}: {}", f.summary, f.detail)),
                    },
                );
                self.report.failed.push(f);
                self.failed_groups.insert(group.to_string());
                self.failed_steps
                    .insert(group.to_string(), step.to_string());
                self.status[i as usize] = Status::Failed;
                self.skip_dependents(i, &label);
            }
        }
    }

    /// The record step: the group's state record, its caveats and its summary line.
    pub(super) fn record_switch(
        &mut self,
        group: &str,
        state: &State,
        entries: &mut Vec<JournalEntry>,
    ) {
        let (Some(sw), Some(run)) = (
            self.plan.switches.iter().find(|s| s.group == group),
            self.runs.get(group),
        ) else {
            return;
        };
        let rec = run.record(sw, state.failovers.get(group), &self.root);
        entries.push(JournalEntry::Failover(group.to_string(), rec));
        self.recorded_groups.insert(group.to_string());
        self.report
            .caveats
            .extend(run.caveats.iter().map(|c| format!("failover.{group}: {c}")));
        match &sw.from {
            Some(f) if *f != sw.to && sw.reason.code == "switch_reconcile" => {
                self.report.recorded.push(format!(
                    "failover.{group}: {} is primary (epoch {}), as the members say: adopted from a switch that did not finish; the state said {f}{}",
                    sw.to,
                    sw.epoch,
                    if run.rejoined.is_empty() {
                        String::new()
                    } else {
                        format!("; re-protected {}", run.rejoined.join(", "))
                    }
                ));
            }
            Some(f) if *f != sw.to => self.report.switched.push(format!(
                "failover.{group}: {f} -> {} (epoch {}) in {:.2}s{}",
                sw.to,
                sw.epoch,
                run.started.elapsed().as_secs_f64(),
                match run.caveats.len() {
                    0 => String::new(),
                    n => format!(", with {n} caveat(s) listed below"),
                }
            )),
            _ => self.report.recorded.push(format!(
                "failover.{group}: {} is primary (epoch {}){}",
                sw.to,
                sw.epoch,
                if run.rejoined.is_empty() {
                    String::new()
                } else {
                    format!("; re-protected {}", run.rejoined.join(", "))
                }
            )),
        }
    }

    /// After a failed switch: read the members and act on what they are (see `compensate`).
    pub(super) async fn compensate(
        &mut self,
        registry: &Registry,
        state: &State,
        guard: Option<&std::sync::Arc<dyn super::PromotionGuard>>,
    ) -> Vec<JournalEntry> {
        let mut entries = Vec::new();
        for group in self.failed_groups.clone() {
            let Some(run) = self.runs.get(&group).cloned() else {
                continue;
            };
            let Some(sw) = self.plan.switches.iter().find(|s| s.group == group) else {
                continue;
            };
            let Some(r) = sw
                .members
                .get(&sw.to)
                .and_then(|m| registry.get(&m.provider))
                .cloned()
            else {
                continue;
            };
            let failed_step = self
                .failed_steps
                .get(&group)
                .cloned()
                .unwrap_or_else(|| "?".into());
            let c = super::compensate::compensate(
                &r,
                super::compensate::Stopped {
                    plan: sw,
                    run: &run,
                    members: self.member_values(sw),
                    previous: state.failovers.get(&group),
                    root: &self.root,
                    failed_step,
                    guard,
                },
            )
            .await;
            self.report.compensations.extend(c.messages);
            self.report
                .caveats
                .extend(c.caveats.iter().map(|x| format!("failover.{group}: {x}")));
            self.report.switched.extend(c.switched);
            if let Some(e) = c.record {
                self.recorded_groups.insert(group.clone());
                entries.push(e);
            }
        }
        entries
    }

    /// The members' current attributes, falling back to the recorded ones.
    pub(super) fn member_values(&self, sw: &crate::plan::SwitchPlan) -> BTreeMap<String, Value> {
        sw.members
            .iter()
            .map(|(site, m)| {
                let current = self
                    .values
                    .resources
                    .get(&m.addr.resource)
                    .and_then(|rv| rv.instances.get(&m.addr.key))
                    .cloned();
                let value = current
                    .filter(|v| !v.is_null())
                    .or_else(|| self.recorded_members.get(&m.addr).cloned())
                    .unwrap_or(Value::Null);
                (site.clone(), value)
            })
            .collect()
    }

    /// Nodes whose value depends on a switch that did not complete: they keep their recorded
    /// values, because the switch they describe did not happen.
    pub(super) fn unswitched(&self) -> std::collections::BTreeSet<u32> {
        let mut stack: Vec<u32> = self
            .plan
            .switches
            .iter()
            .filter(|sw| {
                matches!(
                    sw.kind,
                    crate::plan::SwitchKind::Switchover
                        | crate::plan::SwitchKind::Failover
                        | crate::plan::SwitchKind::Reconcile
                ) && !self.recorded_groups.contains(&sw.group)
            })
            .filter_map(|sw| {
                let key = NodeKey::Failover {
                    name: sw.group.clone(),
                };
                self.plan
                    .nodes
                    .iter()
                    .position(|n| n.key == key)
                    .map(|i| i as u32)
            })
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        while let Some(i) = stack.pop() {
            if seen.insert(i) {
                stack.extend(self.dependents[i as usize].iter().copied());
            }
        }
        seen
    }

    pub(super) fn root_outputs(
        &self,
        prior: &BTreeMap<String, OutputState>,
    ) -> BTreeMap<String, OutputState> {
        if self.plan.mode == PlanMode::Destroy {
            return BTreeMap::new();
        }
        let root = crate::addr::ModuleInstance::root();
        let unswitched = self.unswitched();
        let stale: std::collections::BTreeSet<&str> = self
            .plan
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| unswitched.contains(&(*i as u32)))
            .filter_map(|(_, n)| match &n.key {
                NodeKey::Output { module, name } if module.is_root() => Some(name.as_str()),
                _ => None,
            })
            .collect();
        self.config
            .root
            .outputs
            .iter()
            .filter_map(|(name, o)| {
                if stale.contains(name.as_str()) {
                    return prior.get(name).map(|p| (name.clone(), p.clone()));
                }
                let v = self.values.outputs.get(&(root.clone(), name.clone()))?;
                Some((
                    name.clone(),
                    OutputState {
                        value: v.deep_unmark().0.to_json(),
                        sensitive: o.sensitive || v.contains_sensitive(),
                    },
                ))
            })
            .collect()
    }
}
