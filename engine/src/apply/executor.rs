//! The graph walk.

use super::instance::run;
use super::record::record;
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
use crate::state::{JournalEntry, State, StateStore};
use standby_provider_sdk::{ConfigureRequest, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Waiting,
    Running,
    Done,
    Failed,
    Skipped,
}

pub(super) struct Walk<'a> {
    pub(super) config: &'a Config,
    pub(super) registry: &'a Registry,
    pub(super) plan: &'a Plan,
    pub(super) values: Values,
    pub(super) status: Vec<Status>,
    pub(super) remaining: Vec<usize>,
    pub(super) dependents: Vec<Vec<u32>>,
    /// For a skipped node, the failed address that caused it.
    pub(super) culprit: Vec<Option<String>>,
    pub(super) report: ApplyReport,
    pub(super) runs: BTreeMap<String, SwitchRun>,
    /// Members' attributes as recorded before this apply, for members the plan leaves alone
    /// (such as an old primary that is gone during an emergency failover).
    pub(super) recorded_members: BTreeMap<AbsInstance, Value>,
    pub(super) failed_groups: std::collections::BTreeSet<String>,
    /// The step at which each failed group stopped.
    pub(super) failed_steps: BTreeMap<String, String>,
    /// Groups whose switch record was written (by the record step or by compensation).
    pub(super) recorded_groups: std::collections::BTreeSet<String>,
    pub(super) root: std::path::PathBuf,
}

/// What a spawned task produced.
enum Outcome {
    Resource(Result<super::instance::Done, Failure>),
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
                partial: None,
            };
            Outcome::Step(group, step, Err(StepError::Failed(f)))
        }
        None => Outcome::Resource(Err(Failure {
            addr: String::new(),
            summary: "the action panicked".into(),
            detail,
            partial: None,
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
    // A saved plan was made by another process: its secrets are redacted here too.
    for v in plan.variables.values() {
        v.register_secrets();
    }
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
    // Moves and imports are recorded before any action: the actions below act on the
    // instances at their new addresses, and an import's object is managed from now on.
    let adopted: Vec<JournalEntry> = plan
        .moves
        .iter()
        .map(|m| JournalEntry::Move(m.from.clone(), m.to.clone()))
        .chain(
            plan.changes
                .iter()
                .filter(|c| c.importing.is_some())
                .filter_map(|c| {
                    c.before
                        .as_ref()
                        .map(|b| JournalEntry::Set(c.addr.clone(), record(c, b, &c.private)))
                }),
        )
        .collect();
    if !adopted.is_empty() {
        tokio::task::block_in_place(|| store.append(&base.0, base.1, &adopted))?;
        for e in &adopted {
            e.apply_to(&mut state);
        }
    }
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
            // stopping between fence and promotion would leave no writable member. Nodes
            // without an action (values, module inputs) always run: they release the rest.
            if opts.stop.load(Ordering::SeqCst) && w.needs_provider(i) && !w.in_flight_switch(i) {
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
                        partial: None,
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
                Ok((new, warned)) => {
                    w.report
                        .warnings
                        .extend(warned.into_iter().map(|i| Failure {
                            addr: addr.clone(),
                            summary: i.summary,
                            detail: i.detail,
                            partial: None,
                        }));
                    let entry = match &new {
                        Some((v, private)) => {
                            JournalEntry::Set(change.addr.clone(), record(&change, v, private))
                        }
                        None => JournalEntry::Remove(change.addr.clone()),
                    };
                    entries.push(entry);
                    w.set_value(&change.addr, new.map(|(v, _)| v));
                    // An object found gone was not destroyed here, nor is a data source's
                    // result: they count as nothing.
                    let counted = if change.only_forgets() {
                        Action::NoOp
                    } else {
                        change.action
                    };
                    w.report.done.push((addr.clone(), counted, elapsed));
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
                    // What a failed create left exists: it is recorded, tainted, so that the
                    // next plan replaces it; a failed update's result is recorded as it is.
                    match f.partial.take() {
                        Some(left) if matches!(left.value, Value::Null) => {
                            entries.push(JournalEntry::Remove(change.addr.clone()));
                        }
                        Some(left) => {
                            let mut st = record(&change, &left.value, &left.private);
                            st.tainted = left.tainted;
                            entries.push(JournalEntry::Set(change.addr.clone(), st));
                        }
                        None => {}
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
            super::failpoint::freeze_after_record(&w.root, &entries);
        }
        for i in finished {
            w.finish(i, &mut ready);
        }
    }
    let entries = w.compensate(registry, &state, opts.guard.as_ref()).await;
    if !entries.is_empty() {
        tokio::task::block_in_place(|| store.append(&base.0, base.1, &entries))?;
        for e in &entries {
            e.apply_to(&mut state);
        }
    }
    super::record::unchanged(plan, &mut state);
    state.outputs = w.root_outputs(&state.outputs);
    let (add, change, destroy) = w.report.counts();
    let now = crate::state::now_rfc3339();
    state.retire_memberless_failovers(&now);
    state.applies.push(crate::state::ApplyRecord {
        at: now,
        by: crate::state::LockInfo::new("apply").who,
        commit: opts.commit.clone(),
        counts: (add, change, destroy),
        operator_inputs: plan
            .operator_inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
        operator_override: opts.operator_override.clone(),
    });
    let excess = state.applies.len().saturating_sub(50);
    state.applies.drain(..excess);
    state.serial += 1;
    state.standby_version = env!("CARGO_PKG_VERSION").to_string();
    store.write(&state)?;
    w.report.state = state;
    Ok(w.report)
}

pub(super) fn emit(opts: &ApplyOptions, e: ApplyEvent) {
    if let Some(tx) = &opts.events {
        let _ = tx.send(e);
    }
}

impl Walk<'_> {
    pub(super) fn change_of(&self, i: u32) -> Option<&crate::plan::ResourceChange> {
        self.plan.nodes[i as usize]
            .change
            .and_then(|c| self.plan.changes.get(c as usize))
    }

    pub(super) fn needs_provider(&self, i: u32) -> bool {
        self.change_of(i).is_some_and(|c| c.action != Action::NoOp)
            || matches!(self.plan.nodes[i as usize].key, NodeKey::Step { .. })
    }

    pub(super) fn set_value(&mut self, addr: &AbsInstance, v: Option<Value>) {
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
    pub(super) fn finish(&mut self, i: u32, ready: &mut Vec<u32>) {
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

    pub(super) fn skip_dependents(&mut self, i: u32, culprit: &str) {
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
                                partial: None,
                            });
                            self.status[i as usize] = Status::Failed;
                            self.skip_dependents(i, &a);
                            return None;
                        }
                    }
                };
                // Only the record goes: no provider is needed, nor called.
                if change.only_forgets() {
                    return Some(Box::pin(async move {
                        (i, Duration::ZERO, Outcome::Resource(Ok((None, Vec::new()))))
                    }));
                }
                let Some(provider) = self.registry.get(&change.provider).cloned() else {
                    // The plan refuses this; a saved plan applied with other providers is not.
                    emit(
                        opts,
                        ApplyEvent::Finished {
                            addr: addr.to_string(),
                            action: change.action,
                            elapsed: Duration::ZERO,
                            error: Some(format!(
                                "the provider {:?} is not available",
                                change.provider
                            )),
                        },
                    );
                    self.report.failed.push(Failure {
                        addr: addr.to_string(),
                        summary: format!("the provider {:?} is not available", change.provider),
                        detail: "The plan needs it for this instance; run `standby init` with the configuration the plan was made from.".into(),
                        partial: None,
                    });
                    self.status[i as usize] = Status::Failed;
                    self.skip_dependents(i, &addr.to_string());
                    return None;
                };
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
}
