//! The graph walk.

use super::instance::run;
use super::switch::{StepCtx, StepError, StepOutcome, SwitchRun};
use super::table::values_from_plan;
use super::{ApplyError, ApplyEvent, ApplyOptions, ApplyReport, Failure};
use crate::addr::AbsInstance;
use crate::config::Config;
use crate::eval::{Evaluator, Iteration, Phase};
use crate::plan::instance::{instance_config, InstanceCtx};
use crate::plan::values::{NodeScope, Values};
use crate::plan::{Action, NodeKey, Plan, PlanMode};
use crate::registry::Registry;
use crate::state::{InstanceState, JournalEntry, OutputState, State, StateStore};
use standby_provider_sdk::{ConfigureRequest, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Running,
    Done,
    Failed,
    Skipped,
}

struct Walk<'a> {
    config: &'a Config,
    registry: &'a Registry,
    plan: &'a Plan,
    values: Values,
    status: Vec<Status>,
    remaining: Vec<usize>,
    dependents: Vec<Vec<u32>>,
    /// For a skipped node, the failed address that caused it.
    culprit: Vec<Option<String>>,
    report: ApplyReport,
    runs: BTreeMap<String, SwitchRun>,
    /// Members' attributes as recorded before this apply, for members the plan leaves alone
    /// (such as an old primary that is gone during an emergency failover).
    recorded_members: BTreeMap<AbsInstance, Value>,
    failed_groups: std::collections::BTreeSet<String>,
    /// The step at which each failed group stopped.
    failed_steps: BTreeMap<String, String>,
    /// Groups whose switch record was written (by the record step or by compensation).
    recorded_groups: std::collections::BTreeSet<String>,
    root: std::path::PathBuf,
}

/// What a spawned task produced.
enum Outcome {
    Resource(Result<Option<Value>, Failure>),
    Step(
        String,
        crate::plan::StepKind,
        Result<StepOutcome, StepError>,
    ),
}

type Task = (u32, Duration, Outcome);

/// The outcome of a node whose task panicked.
fn panicked(step: Option<(String, crate::plan::StepKind)>, e: &tokio::task::JoinError) -> Outcome {
    let detail = format!("{e}; this is a bug in standby or a provider");
    match step {
        Some((group, step)) => {
            let f = Failure {
                addr: format!("failover.{group}: {step}"),
                summary: "the step panicked".into(),
                detail,
            };
            Outcome::Step(group, step, Err(StepError::Failed(f)))
        }
        None => Outcome::Resource(Err(Failure {
            addr: String::new(),
            summary: "the action panicked".into(),
            detail,
        })),
    }
}

/// Applies `plan`, recording progress in `store`. `state` is the state the plan was checked
/// against; the caller holds the lock.
pub async fn apply(
    config: &Config,
    registry: &Registry,
    plan: &Plan,
    store: &dyn StateStore,
    state: State,
    opts: ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    let mut state = state;
    if plan.mode == PlanMode::RefreshOnly {
        let mut refreshed = plan.refreshed.clone().unwrap_or(state);
        refreshed.serial += 1;
        store.write(&refreshed)?;
        return Ok(ApplyReport {
            state: refreshed,
            ..ApplyReport::default()
        });
    }
    for name in registry.names() {
        let cfg = plan
            .provider_configs
            .get(name)
            .map(|v| v.deep_unmark().0)
            .unwrap_or(Value::Null);
        if let Some(p) = registry.get(name) {
            p.configure(ConfigureRequest {
                config: cfg,
                root_dir: config.root_dir.clone(),
            })
            .await
            .map_err(|e| ApplyError::Configure(name.to_string(), e.to_string()))?;
        }
    }
    if plan.prior.lineage.is_empty() && plan.prior.serial == 0 {
        // The first apply in an environment: write the empty snapshot first, so the journal
        // entries appended below always have a base to be replayed onto after a crash.
        store.write(&state)?;
    }
    let n = plan.nodes.len();
    let mut dependents = vec![Vec::new(); n];
    for (i, node) in plan.nodes.iter().enumerate() {
        for d in &node.deps {
            dependents[*d as usize].push(i as u32);
        }
    }
    let mut w = Walk {
        config,
        registry,
        plan,
        values: values_from_plan(plan),
        status: vec![Status::Waiting; n],
        remaining: plan.nodes.iter().map(|n| n.deps.len()).collect(),
        dependents,
        culprit: vec![None; n],
        report: ApplyReport::default(),
        runs: BTreeMap::new(),
        recorded_members: plan
            .failover_members
            .values()
            .flat_map(|m| m.values())
            .filter_map(|a| state.resources.get(a).map(|st| (a.clone(), st.value())))
            .collect(),
        failed_groups: std::collections::BTreeSet::new(),
        failed_steps: BTreeMap::new(),
        recorded_groups: std::collections::BTreeSet::new(),
        root: config.root_dir.clone(),
    };
    let base = (state.lineage.clone(), state.serial);
    let mut ready: Vec<u32> = (0..n as u32)
        .filter(|i| w.remaining[*i as usize] == 0)
        .collect();
    ready.reverse();
    let mut running: JoinSet<Task> = JoinSet::new();
    let parallelism = opts.parallelism.max(1);
    loop {
        // Start what is ready, within the parallelism limit.
        while let Some(&i) = ready.last() {
            if w.needs_provider(i) && running.len() >= parallelism {
                break;
            }
            ready.pop();
            if w.status[i as usize] == Status::Skipped {
                w.finish(i, &mut ready);
                continue;
            }
            // Ctrl-C stops new actions, but a switch past its fence runs to its record:
            // stopping between fence and promotion would leave no writable member.
            if opts.stop.load(Ordering::SeqCst) && !w.in_flight_switch(i) {
                w.report.interrupted = true;
                w.status[i as usize] = Status::Skipped;
                if let Some(c) = w.change_of(i).filter(|c| c.action != Action::NoOp) {
                    w.report.not_started.push(c.addr.to_string());
                }
                continue;
            }
            match w.start(i, &opts) {
                Some(fut) => {
                    w.status[i as usize] = Status::Running;
                    let step = w.step_of(i);
                    // A panicking action must not lose its node: run it on a task of its own
                    // and turn a panic into that node's failure, so its group is compensated.
                    running.spawn(async move {
                        let t = Instant::now();
                        match tokio::spawn(fut).await {
                            Ok(done) => done,
                            Err(e) => (i, t.elapsed(), panicked(step, &e)),
                        }
                    });
                }
                None => w.finish(i, &mut ready),
            }
        }
        let Some(first) = running.join_next().await else {
            break;
        };
        // Group commit: take every action that has finished by now, journal them with one
        // fsync, and only then release their dependents.
        let mut batch = vec![first];
        while let Some(more) = running.try_join_next() {
            batch.push(more);
        }
        let mut entries = Vec::new();
        let mut finished = Vec::new();
        for joined in batch {
            let (i, elapsed, result) = match joined {
                Ok(r) => r,
                // The outer task only awaits the inner one and cannot panic itself.
                Err(e) => {
                    w.report.failed.push(Failure {
                        addr: "?".into(),
                        summary: "an action's task was lost".into(),
                        detail: e.to_string(),
                    });
                    continue;
                }
            };
            let result = match result {
                Outcome::Step(group, step, r) => {
                    w.step_done(i, &group, &step, elapsed, r, &opts, &state, &mut entries);
                    finished.push(i);
                    continue;
                }
                Outcome::Resource(r) => r,
            };
            let change = w.change_of(i).cloned();
            let Some(change) = change else { continue };
            let addr = change.addr.to_string();
            match result {
                Ok(new) => {
                    let entry = match &new {
                        Some(v) => JournalEntry::Set(change.addr.clone(), record(&change, v)),
                        None => JournalEntry::Remove(change.addr.clone()),
                    };
                    entries.push(entry);
                    w.set_value(&change.addr, new);
                    w.report.done.push((addr.clone(), change.action, elapsed));
                    w.status[i as usize] = Status::Done;
                    emit(
                        &opts,
                        ApplyEvent::Finished {
                            addr,
                            action: change.action,
                            elapsed,
                            error: None,
                        },
                    );
                }
                Err(mut f) => {
                    if f.addr.is_empty() {
                        f.addr.clone_from(&addr);
                    }
                    emit(
                        &opts,
                        ApplyEvent::Finished {
                            addr: addr.clone(),
                            action: change.action,
                            elapsed,
                            error: Some(format!("{}: {}", f.summary, f.detail)),
                        },
                    );
                    w.report.failed.push(f);
                    w.status[i as usize] = Status::Failed;
                    w.skip_dependents(i, &addr);
                }
            }
            finished.push(i);
        }
        if !entries.is_empty() {
            let r = tokio::task::block_in_place(|| store.append(&base.0, base.1, &entries));
            r?;
            for e in &entries {
                e.apply_to(&mut state);
            }
        }
        for i in finished {
            w.finish(i, &mut ready);
        }
    }
    let entries = w.compensate(registry, &state).await;
    if !entries.is_empty() {
        store.append(&base.0, base.1, &entries)?;
        for e in &entries {
            e.apply_to(&mut state);
        }
    }
    // Data sources read at plan time are recorded as they were read.
    for c in &plan.changes {
        if c.action == Action::NoOp && c.addr.resource.resource.mode == crate::addr::Mode::Data {
            if let Some(after) = &c.after {
                state.resources.insert(c.addr.clone(), record(c, after));
            }
        }
    }
    state.outputs = w.root_outputs(&state.outputs);
    let (add, change, destroy) = w.report.counts();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    state.retire_memberless_failovers(&now);
    state.applies.push(crate::state::ApplyRecord {
        at: now,
        by: crate::state::LockInfo::new("apply").who,
        commit: opts.commit.clone(),
        counts: (add, change, destroy),
    });
    let excess = state.applies.len().saturating_sub(50);
    state.applies.drain(..excess);
    state.serial += 1;
    state.standby_version = env!("CARGO_PKG_VERSION").to_string();
    store.write(&state)?;
    w.report.state = state;
    Ok(w.report)
}

fn emit(opts: &ApplyOptions, e: ApplyEvent) {
    if let Some(tx) = &opts.events {
        let _ = tx.send(e);
    }
}

/// The state record of an instance after its action.
fn record(change: &crate::plan::ResourceChange, v: &Value) -> InstanceState {
    let (plain, paths) = v.deep_unmark();
    InstanceState {
        provider: change.provider.clone(),
        attributes: plain.to_json(),
        sensitive_attributes: paths,
        dependencies: change.dependencies.clone(),
        create_before_destroy: change.create_before_destroy,
        site: change.site.clone(),
    }
}

impl Walk<'_> {
    fn change_of(&self, i: u32) -> Option<&crate::plan::ResourceChange> {
        self.plan.nodes[i as usize]
            .change
            .and_then(|c| self.plan.changes.get(c as usize))
    }

    /// Whether node `i` belongs to a switch whose fence already ran: one of its steps, or a
    /// traffic resource it repoints.
    fn in_flight_switch(&self, i: u32) -> bool {
        let past_fence = |g: &str| {
            self.runs
                .get(g)
                .is_some_and(|r| r.steps.iter().any(|s| s.step == "fence"))
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

    fn step_of(&self, i: u32) -> Option<(String, crate::plan::StepKind)> {
        match &self.plan.nodes[i as usize].key {
            NodeKey::Step { group, step } => Some((group.clone(), step.clone())),
            _ => None,
        }
    }

    fn needs_provider(&self, i: u32) -> bool {
        self.change_of(i).is_some_and(|c| c.action != Action::NoOp)
            || matches!(self.plan.nodes[i as usize].key, NodeKey::Step { .. })
    }

    /// The group's value for traffic resources, with member attributes as applied.
    fn refresh_failover(&mut self, name: &str) {
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
    fn step_done(
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
                    ApplyEvent::Finished {
                        addr: label.clone(),
                        action: Action::Update,
                        elapsed,
                        error: Some("awaiting approval".into()),
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
    fn record_switch(&mut self, group: &str, state: &State, entries: &mut Vec<JournalEntry>) {
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
        self.report.switched.push(match &sw.from {
            Some(f) if *f != sw.to => format!(
                "failover.{group}: {f} -> {} (epoch {}) in {:.2}s{}",
                sw.to,
                sw.epoch,
                run.started.elapsed().as_secs_f64(),
                match run.caveats.len() {
                    0 => String::new(),
                    n => format!(", with {n} caveat(s) listed below"),
                }
            ),
            _ => format!(
                "failover.{group}: {} is primary (epoch {})",
                sw.to, sw.epoch
            ),
        });
    }

    /// After a failed switch: read the members and act on what they are (see `compensate`).
    async fn compensate(&mut self, registry: &Registry, state: &State) -> Vec<JournalEntry> {
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
    fn member_values(&self, sw: &crate::plan::SwitchPlan) -> BTreeMap<String, Value> {
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

    fn set_value(&mut self, addr: &AbsInstance, v: Option<Value>) {
        if let Some(rv) = self.values.resources.get_mut(&addr.resource) {
            match v {
                Some(v) => {
                    rv.instances.insert(addr.key.clone(), v);
                }
                None => {
                    rv.instances.remove(&addr.key);
                }
            }
        }
    }

    /// Marks a node done and queues dependents whose dependencies are all done.
    fn finish(&mut self, i: u32, ready: &mut Vec<u32>) {
        if self.status[i as usize] == Status::Waiting {
            self.status[i as usize] = Status::Done;
        }
        for d in self.dependents[i as usize].clone() {
            let r = &mut self.remaining[d as usize];
            *r -= 1;
            if *r == 0 {
                ready.push(d);
            }
        }
    }

    fn skip_dependents(&mut self, i: u32, culprit: &str) {
        let mut stack = self.dependents[i as usize].clone();
        while let Some(d) = stack.pop() {
            if self.status[d as usize] != Status::Waiting {
                continue;
            }
            // A switch past its promotion goes on to record what happened: the failure of
            // something it waits for (a traffic resource) is a caveat, not a reason to stop.
            if let Some((group, _)) = self.step_of(d) {
                if let Some(run) = self.runs.get_mut(&group).filter(|r| r.promoted) {
                    let c = format!("{culprit} failed after promotion and may still point at the old primary: run `standby apply` again to repoint it");
                    if !run.caveats.contains(&c) {
                        run.caveats.push(c);
                    }
                    continue;
                }
            }
            self.status[d as usize] = Status::Skipped;
            self.culprit[d as usize] = Some(culprit.to_string());
            if let Some(c) = self.change_of(d).filter(|c| c.action != Action::NoOp) {
                self.report
                    .skipped
                    .push((c.addr.to_string(), culprit.to_string()));
            }
            stack.extend(self.dependents[d as usize].iter().copied());
        }
    }

    /// Starts a node: expression nodes are evaluated here and return `None`; resource actions
    /// return the future to run.
    fn start(
        &mut self,
        i: u32,
        opts: &ApplyOptions,
    ) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = Task> + Send + 'static>>> {
        let node = &self.plan.nodes[i as usize];
        match &node.key {
            NodeKey::Failover { name } => {
                let name = name.clone();
                self.refresh_failover(&name);
                None
            }
            NodeKey::Step { group, step } => {
                let sw = self
                    .plan
                    .switches
                    .iter()
                    .find(|s| s.group == *group)?
                    .clone();
                let provider = self
                    .registry
                    .get(&sw.members.get(&sw.to)?.provider)?
                    .clone();
                let (group, step) = (group.clone(), step.clone());
                let run = self
                    .runs
                    .entry(group.clone())
                    .or_insert_with(SwitchRun::new);
                let (final_position, target_checksums) =
                    (run.final_position, run.target_checksums.clone());
                let members = self.member_values(&sw);
                let ctx = StepCtx {
                    step: step.clone(),
                    provider,
                    members,
                    final_position,
                    target_checksums,
                    accept_data_loss: opts.accept_data_loss.contains(&group),
                    approvals: opts.approvals.clone(),
                    guard: opts.guard.clone(),
                    root: self.root.clone(),
                    env: self.plan.env.clone(),
                    plan: sw,
                };
                emit(
                    opts,
                    ApplyEvent::Started {
                        addr: format!("failover.{group}: {step}"),
                        action: Action::Update,
                    },
                );
                Some(Box::pin(async move {
                    let t = Instant::now();
                    let r = if step == crate::plan::StepKind::Record {
                        Ok(StepOutcome::default())
                    } else {
                        ctx.run().await
                    };
                    (i, t.elapsed(), Outcome::Step(group, step, r))
                }))
            }
            NodeKey::Local { module, name } => {
                if node.value.as_ref().is_some_and(|v| !v.is_wholly_known()) {
                    if let Some(v) =
                        self.reeval(module, |m| m.locals.get(name).map(|l| l.expr.clone()))
                    {
                        self.values.locals.insert((module.clone(), name.clone()), v);
                    }
                }
                None
            }
            NodeKey::Output { module, name } => {
                if node.value.as_ref().is_some_and(|v| !v.is_wholly_known()) {
                    if let Some(v) =
                        self.reeval(module, |m| m.outputs.get(name).map(|o| o.value.clone()))
                    {
                        let sensitive = self
                            .config
                            .module(&module.path())
                            .and_then(|m| m.outputs.get(name))
                            .is_some_and(|o| o.sensitive);
                        self.values.outputs.insert(
                            (module.clone(), name.clone()),
                            if sensitive { v.sensitive() } else { v },
                        );
                    }
                }
                None
            }
            NodeKey::ModuleVars { .. } | NodeKey::Resource { .. } => None,
            NodeKey::Instance { addr } => {
                let change = self.change_of(i)?.clone();
                if change.action == Action::NoOp {
                    return None;
                }
                let config = if change.after.as_ref().is_some_and(Value::is_wholly_known)
                    || change.action == Action::Delete
                {
                    None
                } else {
                    match self.instance_config(addr) {
                        Ok(v) => Some(v),
                        Err(detail) => {
                            let a = addr.to_string();
                            self.report.failed.push(Failure {
                                addr: a.clone(),
                                summary: "cannot evaluate the configuration".into(),
                                detail,
                            });
                            self.status[i as usize] = Status::Failed;
                            self.skip_dependents(i, &a);
                            return None;
                        }
                    }
                };
                let provider = self.registry.get(&change.provider)?.clone();
                emit(
                    opts,
                    ApplyEvent::Started {
                        addr: addr.to_string(),
                        action: change.action,
                    },
                );
                Some(Box::pin(async move {
                    let t = Instant::now();
                    let r = run(provider, change, config).await;
                    (i, t.elapsed(), Outcome::Resource(r))
                }))
            }
        }
    }

    fn reeval(
        &self,
        module: &crate::addr::ModuleInstance,
        pick: impl Fn(&crate::config::Module) -> Option<crate::config::Expr>,
    ) -> Option<Value> {
        let cfg = self.config.module(&module.path())?;
        let expr = pick(cfg)?;
        let scope = NodeScope::new(
            &self.values,
            self.config,
            module,
            cfg,
            &self.plan.env,
            Phase::Apply,
        );
        Evaluator::new(&scope, expr.file, Iteration::default())
            .eval(&expr.inner)
            .ok()
    }

    fn instance_config(&self, addr: &AbsInstance) -> Result<Value, String> {
        let cfg = self
            .config
            .module(&addr.resource.module.path())
            .ok_or("the module is no longer in the configuration")?;
        let r = cfg
            .resources
            .get(&addr.resource.resource)
            .ok_or("the resource is no longer in the configuration")?;
        let data = addr.resource.resource.mode == crate::addr::Mode::Data;
        let schema = self
            .registry
            .type_schema(&addr.resource.resource.type_name, data)
            .ok_or("unknown resource type")?;
        let each = self
            .values
            .resources
            .get(&addr.resource)
            .and_then(|rv| rv.expansion.each_value(addr.key.as_ref()));
        let cx = InstanceCtx {
            config: self.config,
            values: &self.values,
            module: &addr.resource.module,
            cfg,
            resource: r,
            schema,
            env: &self.plan.env,
            phase: Phase::Apply,
        };
        instance_config(&cx, addr.key.as_ref(), each)
            .0
            .map_err(|d| {
                d.0.iter()
                    .map(|x| format!("{}: {}", x.summary, x.detail))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
    }

    /// Nodes whose value depends on a switch that did not complete: they keep their recorded
    /// values, because the switch they describe did not happen.
    fn unswitched(&self) -> std::collections::BTreeSet<u32> {
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

    fn root_outputs(&self, prior: &BTreeMap<String, OutputState>) -> BTreeMap<String, OutputState> {
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
