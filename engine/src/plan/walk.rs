//! The plan walk: evaluate the configuration in graph order, ask providers for planned states,
//! and build the execution graph.

use super::config_graph::{self, CNode};
use super::diff::about;
use super::instance::{instance_config, InstanceCtx};
use super::model::{
    Action, ExecNode, ExpansionRecord, NodeKey, OutputChange, Plan, PlanMode, PriorState, Reason,
    ResourceChange, PLAN_FORMAT_VERSION,
};
use super::values::{NodeScope, ResourceValues, Values};
use crate::addr::{AbsInstance, AbsResource, Mode, ModuleInstance, Target};
use crate::config::{Body, Config, Expr, Module, Resource};
use crate::diag::{Diagnostic, Diagnostics};
use crate::eval::{Evaluator, Iteration, Phase};
use crate::registry::Registry;
use crate::state::State;
use standby_provider_sdk::{
    ConfigureRequest, ReadDataRequest, ValidateRequest, ValidationIssue, Value,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The environment name.
    pub env: String,
    /// Normal, destroy or refresh-only.
    pub mode: PlanMode,
    /// Read real attributes through the providers first.
    pub refresh: bool,
    /// Limit the plan to these addresses and what they depend on.
    pub targets: Vec<Target>,
    /// Force these instances to be replaced.
    pub replace: Vec<Target>,
    /// `Validate` evaluates without reading data sources.
    pub phase: Phase,
    /// Digest of the topology and inputs, recorded in the plan.
    pub topology_digest: String,
    /// A switch requested on the command line.
    pub force: Option<super::failover::ForcedSwitch>,
    /// By group, the highest epoch already claimed elsewhere (in the monitors' etcd): a new
    /// switch's epoch is above it, so a claim that another actor made is never reused.
    pub epoch_floor: BTreeMap<String, u64>,
    /// `standby import ADDR ID`: objects to adopt besides the topology's `import` blocks.
    pub imports: Vec<(AbsInstance, String)>,
}

pub(crate) struct Walker<'a> {
    pub(super) config: &'a Config,
    pub(super) registry: &'a Registry,
    pub(super) opts: &'a PlanOptions,
    pub(super) state: &'a State,
    pub(super) values: Values,
    pub(super) instances: HashMap<Vec<String>, Vec<ModuleInstance>>,
    pub(super) changes: Vec<ResourceChange>,
    pub(super) drift: Vec<ResourceChange>,
    pub(super) nodes: Vec<ExecNode>,
    pub(super) index: HashMap<NodeKey, u32>,
    /// Resource addresses each node depends on, through expression nodes.
    pub(super) resource_deps: Vec<BTreeSet<String>>,
    pub(super) seen: HashSet<AbsInstance>,
    pub(super) diags: Diagnostics,
    pub(super) warnings: Vec<Diagnostic>,
    pub(super) provider_configs: BTreeMap<String, Value>,
    pub(super) refreshed: State,
    pub(super) expansions: Vec<ExpansionRecord>,
    pub(super) switches: Vec<super::model::SwitchPlan>,
    pub(super) failover_notes: Vec<String>,
    pub(super) member_drift: Vec<String>,
    pub(super) failover_members: BTreeMap<String, BTreeMap<String, AbsInstance>>,
    pub(super) groups: BTreeMap<String, super::model::GroupSummary>,
    /// Instances of resources and modules expanded so far, against the plan-wide limit.
    pub(super) planned_instances: u64,
}

/// Plans `config` against `state`.
pub async fn plan(
    config: &Config,
    registry: &Registry,
    state: Option<&State>,
    root_vars: BTreeMap<String, Value>,
    opts: &PlanOptions,
) -> Result<Plan, Diagnostics> {
    plan_with_values(config, registry, state, root_vars, opts)
        .await
        .map(|(p, _)| p)
}

/// [`plan`], also returning every value it evaluated, for the console.
pub(crate) async fn plan_with_values(
    config: &Config,
    registry: &Registry,
    state: Option<&State>,
    root_vars: BTreeMap<String, Value>,
    opts: &PlanOptions,
) -> Result<(Plan, Values), Diagnostics> {
    let graph = config_graph::build(config, registry)?;
    let empty = State::new();
    let had_state = state.is_some();
    let recorded = state.unwrap_or(&empty);
    // Moves first: everything below plans what the state holds at its new address.
    // Without moved blocks the recorded state is used as it is: no copy of a large state.
    let (moved, moves) = if config.root.moved.is_empty() {
        (std::borrow::Cow::Borrowed(recorded), Vec::new())
    } else {
        let (m, mv) = super::moves::apply_moves(config, recorded)?;
        (std::borrow::Cow::Owned(m), mv)
    };
    let state: &State = &moved;
    let mut w = Walker {
        config,
        registry,
        opts,
        state,
        values: Values::default(),
        instances: HashMap::from([(Vec::new(), vec![ModuleInstance::root()])]),
        changes: Vec::new(),
        drift: Vec::new(),
        nodes: Vec::new(),
        index: HashMap::new(),
        resource_deps: Vec::new(),
        seen: HashSet::new(),
        diags: Diagnostics::default(),
        warnings: Vec::new(),
        provider_configs: BTreeMap::new(),
        refreshed: state.clone(),
        expansions: Vec::new(),
        switches: Vec::new(),
        failover_notes: Vec::new(),
        member_drift: Vec::new(),
        failover_members: BTreeMap::new(),
        groups: BTreeMap::new(),
        planned_instances: 0,
    };
    // Providers without a block are still told where the topology lives.
    for name in registry.names() {
        if !config.root.providers.contains_key(name) {
            if let Some(p) = registry.get(name) {
                let _ = p
                    .configure(ConfigureRequest {
                        config: Value::Null,
                        root_dir: config.root_dir.clone(),
                    })
                    .await;
            }
        }
    }
    w.values
        .vars
        .insert(ModuleInstance::root(), root_vars.clone());
    w.sites();
    for id in &graph.order {
        let node = graph.dag.node(*id).clone();
        w.visit(&node).await;
    }
    if !w.diags.is_empty() {
        return Err(w.diags);
    }
    if opts.mode == PlanMode::Destroy {
        w.destroy_all();
        w.switches.clear();
    } else {
        // Before orphans are planned: an instance moved or imported to an address that the
        // configuration does not declare is an error, not a deletion.
        w.check_moves_and_imports(&moves);
        if !w.diags.is_empty() {
            return Err(w.diags);
        }
        w.orphans();
        w.link_traffic();
        if opts.force.is_some() {
            w.restrict_to_forced();
        }
    }
    w.order_deletes();
    if !opts.targets.is_empty() {
        w.apply_targets();
    }
    let replace = opts.replace.clone();
    w.report_unmatched("--replace", &replace);
    if !w.diags.is_empty() {
        return Err(w.diags);
    }
    let mut outputs = w.root_outputs();
    let prior = PriorState {
        lineage: if had_state {
            recorded.lineage.clone()
        } else {
            String::new()
        },
        serial: state.serial,
        digest: state_digest(recorded),
    };
    let refresh_only = opts.mode == PlanMode::RefreshOnly;
    if refresh_only {
        // Outputs keep what the state records: a refresh changes no configuration.
        outputs.retain(|_, o| o.before.is_some());
        for o in outputs.values_mut() {
            if let Some(b) = &o.before {
                o.after = b.clone();
            }
        }
        for c in &mut w.changes {
            c.action = Action::NoOp;
            c.after = c.before.clone();
            c.reason = None;
        }
    }
    for c in &mut w.changes {
        c.previous_address = moves
            .iter()
            .find(|m| m.to == c.addr)
            .map(|m| m.from.clone());
    }
    let plan = Plan {
        moves,
        format_version: PLAN_FORMAT_VERSION,
        standby_version: env!("CARGO_PKG_VERSION").to_string(),
        env: opts.env.clone(),
        mode: opts.mode,
        prior,
        topology_digest: opts.topology_digest.clone(),
        variables: root_vars,
        operator_inputs: BTreeMap::new(),
        provider_sources: super::json::provider_sources(registry, &w.changes),
        provider_configs: w.provider_configs,
        changes: w.changes,
        drift: w.drift,
        member_drift: w.member_drift,
        nodes: w.nodes,
        outputs,
        expansions: w.expansions,
        switches: w.switches,
        sites: w.values.sites.clone(),
        failover_notes: w.failover_notes,
        failover_members: w.failover_members,
        groups: w.groups,
        refreshed: refresh_only.then_some(w.refreshed),
        warnings: w.warnings,
    };
    Ok((plan, w.values))
}

/// SHA-256 of a state's JSON form.
pub fn state_digest(state: &State) -> String {
    use sha2::Digest as _;
    if state.serial == 0 && state.resources.is_empty() && state.outputs.is_empty() {
        return String::new();
    }
    hex::encode(sha2::Sha256::digest(
        serde_json::to_vec(state).unwrap_or_default(),
    ))
}

impl<'a> Walker<'a> {
    fn module_cfg(&self, path: &[String]) -> &'a Module {
        self.config.module(path).unwrap_or(&self.config.root)
    }

    /// Evaluates an expression in a module instance; returns the value and the nodes touched.
    pub(crate) fn eval(
        &self,
        mi: &ModuleInstance,
        cfg: &Module,
        e: &Expr,
        iter: Iteration,
    ) -> (Result<Value, Diagnostic>, Vec<NodeKey>) {
        let scope = NodeScope::new(
            &self.values,
            self.config,
            mi,
            cfg,
            &self.opts.env,
            self.opts.phase,
        );
        let r = Evaluator::new(&scope, e.file, iter)
            .eval(&e.inner)
            .map_err(Diagnostic::from);
        (r, scope.take_deps())
    }

    /// Evaluates every attribute of a body into an object.
    pub(crate) fn eval_body(
        &mut self,
        mi: &ModuleInstance,
        cfg: &Module,
        body: &Body,
        iter: &Iteration,
        deps: &mut Vec<NodeKey>,
    ) -> Option<BTreeMap<String, Value>> {
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (name, a) in body {
            let (r, d) = self.eval(mi, cfg, &a.expr, iter.clone());
            deps.extend(d);
            match r {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(diag) => {
                    self.diags.push(diag);
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    pub(super) fn node_index(&self, key: &NodeKey) -> Option<&u32> {
        self.index.get(key)
    }

    /// Evaluates `site` blocks; `site.NAME` reads them.
    fn sites(&mut self) {
        let root = ModuleInstance::root();
        for (name, site) in &self.config.root.sites {
            let mut obj = BTreeMap::from([("name".to_string(), Value::string(name.clone()))]);
            for (k, a) in &site.body {
                let (r, _) = self.eval(&root, &self.config.root, &a.expr, Iteration::default());
                match r {
                    Ok(v) => {
                        obj.insert(k.clone(), v);
                    }
                    Err(d) => self.diags.push(d),
                }
            }
            self.values.sites.insert(name.clone(), Value::Map(obj));
        }
    }

    pub(super) fn add_node(
        &mut self,
        key: NodeKey,
        deps: &[NodeKey],
        change: Option<u32>,
        value: Option<Value>,
    ) -> u32 {
        let id = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
        let mut dep_ids: Vec<u32> = deps
            .iter()
            .filter_map(|k| self.index.get(k).copied())
            .filter(|d| *d != id)
            .collect();
        dep_ids.sort_unstable();
        dep_ids.dedup();
        let mut rdeps = BTreeSet::new();
        for k in deps {
            match k {
                NodeKey::Instance { addr } => {
                    rdeps.insert(addr.resource.to_string());
                }
                NodeKey::Resource { addr } => {
                    rdeps.insert(addr.to_string());
                }
                _ => {
                    if let Some(i) = self.index.get(k) {
                        rdeps.extend(self.resource_deps[*i as usize].iter().cloned());
                    }
                }
            }
        }
        self.resource_deps.push(rdeps);
        self.index.insert(key.clone(), id);
        self.nodes.push(ExecNode {
            key,
            deps: dep_ids,
            change,
            value,
        });
        id
    }

    async fn visit(&mut self, node: &CNode) {
        match node {
            CNode::Provider(name) => self.provider(name).await,
            CNode::Failover(name) => self.failover(name).await,
            CNode::Call(path, name) => {
                for mi in self.instances.get(path).cloned().unwrap_or_default() {
                    self.module_call(path, &mi, name);
                }
            }
            CNode::Local(path, name) => {
                let cfg = self.module_cfg(path);
                let l = &cfg.locals[name];
                for mi in self.instances.get(path).cloned().unwrap_or_default() {
                    let (r, deps) = self.eval(&mi, cfg, &l.expr, Iteration::default());
                    let v = r.unwrap_or_else(|d| {
                        self.diags.push(d);
                        Value::Unknown
                    });
                    self.values
                        .locals
                        .insert((mi.clone(), name.clone()), v.clone());
                    self.add_node(
                        NodeKey::Local {
                            module: mi,
                            name: name.clone(),
                        },
                        &deps,
                        None,
                        Some(v),
                    );
                }
            }
            CNode::Output(path, name) => {
                let cfg = self.module_cfg(path);
                let o = &cfg.outputs[name];
                for mi in self.instances.get(path).cloned().unwrap_or_default() {
                    let (r, mut deps) = self.eval(&mi, cfg, &o.value, Iteration::default());
                    // A root output is kept in the state, which cannot record an infinity.
                    let r = r.and_then(|v| {
                        if path.is_empty() && v.contains_infinity() {
                            return Err(Diagnostic::at(
                                o.value.span(),
                                "Invalid number",
                                "This output holds an infinite number (a division by zero?); standby cannot record one.",
                            ));
                        }
                        Ok(v)
                    });
                    for d in &o.depends_on {
                        if let Some(addr) = &d.resource {
                            deps.push(NodeKey::Resource {
                                addr: AbsResource {
                                    module: mi.clone(),
                                    resource: addr.clone(),
                                },
                            });
                        }
                    }
                    let mut v = r.unwrap_or_else(|d| {
                        self.diags.push(d);
                        Value::Unknown
                    });
                    if o.sensitive {
                        v = v.sensitive();
                    } else if mi.is_root() && v.contains_sensitive() {
                        self.diags.push(Diagnostic::at(o.span.clone(), "Output refers to sensitive values", format!("The value of output {name:?} includes sensitive data. Add sensitive = true to the output block to confirm it may be stored, and it will be shown as (sensitive value).")));
                    }
                    self.values
                        .outputs
                        .insert((mi.clone(), name.clone()), v.clone());
                    self.add_node(
                        NodeKey::Output {
                            module: mi,
                            name: name.clone(),
                        },
                        &deps,
                        None,
                        Some(v),
                    );
                }
            }
            CNode::Resource(path, addr) => {
                let cfg = self.module_cfg(path);
                let r = &cfg.resources[addr];
                for mi in self.instances.get(path).cloned().unwrap_or_default() {
                    self.resource(&mi, cfg, r).await;
                }
            }
        }
    }

    async fn provider(&mut self, name: &str) {
        let block = &self.config.root.providers[name];
        let mut deps = Vec::new();
        let Some(body) = self.eval_body(
            &ModuleInstance::root(),
            &self.config.root,
            &block.body,
            &Iteration::default(),
            &mut deps,
        ) else {
            return;
        };
        let v = Value::Map(body);
        if !v.is_wholly_known() {
            self.diags.push(Diagnostic::at(block.span.clone(), format!("Provider {name:?} configuration depends on unknown values"), "A provider block may only use values known at plan time: variables, locals and literals."));
            return;
        }
        self.provider_configs.insert(name.to_string(), v.clone());
        if let Some(p) = self.registry.get(name) {
            if let Err(e) = p
                .configure(ConfigureRequest {
                    config: v.deep_unmark().0,
                    root_dir: self.config.root_dir.clone(),
                })
                .await
            {
                self.diags.push(Diagnostic::at(
                    block.span.clone(),
                    format!("Cannot configure provider {name:?}: {}", e.summary),
                    e.detail,
                ));
            }
        }
    }

    fn module_call(&mut self, path: &[String], mi: &ModuleInstance, name: &str) {
        let cfg = self.module_cfg(path);
        let call = &cfg.calls[name];
        let mut deps = Vec::new();
        let Some(exp) = self.expansion(
            mi,
            cfg,
            call.count.as_ref(),
            call.for_each.as_ref(),
            &call.span,
            &mut deps,
        ) else {
            return;
        };
        let mut child_path = path.to_vec();
        child_path.push(name.to_string());
        for key in exp.keys() {
            let child = mi.child(name, key.clone());
            let iter = Iteration::for_key(key.as_ref(), exp.each_value(key.as_ref()));
            let mut d = deps.clone();
            let Some(args) = self.eval_body(mi, cfg, &call.args, &iter, &mut d) else {
                continue;
            };
            let vars =
                super::variables::module_inputs(self, &child, &call.module, &call.args, args);
            self.values.vars.insert(child.clone(), vars.clone());
            self.add_node(
                NodeKey::ModuleVars {
                    module: child.clone(),
                },
                &d,
                None,
                Some(Value::Map(vars)),
            );
            self.instances
                .entry(child_path.clone())
                .or_default()
                .push(child);
        }
        self.expansions.push(ExpansionRecord {
            module: mi.clone(),
            call: Some(name.to_string()),
            resource: None,
            expansion: exp.clone(),
        });
        self.values
            .modules
            .insert((mi.clone(), name.to_string()), exp);
    }

    async fn resource(&mut self, mi: &ModuleInstance, cfg: &Module, r: &Resource) {
        let abs = AbsResource {
            module: mi.clone(),
            resource: r.addr.clone(),
        };
        let mut base_deps = Vec::new();
        let Some(exp) = self.expansion(
            mi,
            cfg,
            r.count.as_ref(),
            r.for_each.as_ref(),
            &r.span,
            &mut base_deps,
        ) else {
            return;
        };
        for d in &r.depends_on {
            match (&d.resource, &d.module) {
                (Some(addr), _) => base_deps.push(NodeKey::Resource {
                    addr: AbsResource {
                        module: mi.clone(),
                        resource: addr.clone(),
                    },
                }),
                (None, Some(m)) => {
                    if let Some(call) = cfg.calls.get(m) {
                        for child in self
                            .instances
                            .get(&[mi.path(), vec![m.clone()]].concat())
                            .cloned()
                            .unwrap_or_default()
                        {
                            for o in call.module.outputs.keys() {
                                base_deps.push(NodeKey::Output {
                                    module: child.clone(),
                                    name: o.clone(),
                                });
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        self.expansions.push(ExpansionRecord {
            module: mi.clone(),
            call: None,
            resource: Some(r.addr.clone()),
            expansion: exp.clone(),
        });
        self.values.resources.insert(
            abs.clone(),
            ResourceValues {
                expansion: exp.clone(),
                instances: BTreeMap::new(),
            },
        );
        let data = r.addr.mode == Mode::Data;
        let provider = r.provider.clone().unwrap_or_else(|| {
            let p = self.registry.provider_for(&r.addr.type_name, data);
            p.unwrap_or_default().to_string()
        });
        let Some(schema) = self.registry.type_schema(&r.addr.type_name, data).cloned() else {
            return;
        };
        let mut instance_ids = Vec::new();
        for key in exp.keys() {
            let addr = AbsInstance {
                resource: abs.clone(),
                key: key.clone(),
            };
            let mut deps = base_deps.clone();
            let cx = InstanceCtx {
                config: self.config,
                values: &self.values,
                module: mi,
                cfg,
                resource: r,
                schema: &schema,
                env: &self.opts.env,
                phase: self.opts.phase,
            };
            let (result, d) = instance_config(&cx, key.as_ref(), exp.each_value(key.as_ref()));
            deps.extend(d);
            let config_value = match result {
                Ok(v) => v,
                Err(diags) => {
                    self.diags.0.extend(diags.0);
                    continue;
                }
            };
            let p = self.registry.get(&provider).cloned();
            let Some(p) = p else { continue };
            // The provider validates the plain configuration: its messages may quote a secret.
            let secrets = config_value.secrets();
            let redact = |s: &str| Value::redact(s, &secrets);
            match p
                .validate(ValidateRequest {
                    type_name: r.addr.type_name.clone(),
                    config: config_value.deep_unmark().0,
                })
                .await
            {
                Ok(resp) => {
                    let at = |i: &_| super::diff::located(r, i, &secrets);
                    for i in &resp.issues {
                        self.diags.push(at(i));
                    }
                    for i in &resp.warnings {
                        let d = at(i);
                        if !self.warnings.contains(&d) {
                            self.warnings.push(d);
                        }
                    }
                }
                Err(e) => self.diags.push(Diagnostic::at(
                    r.span.clone(),
                    redact(&e.summary),
                    redact(&e.detail),
                )),
            }
            self.seen.insert(addr.clone());
            let change = if data {
                self.plan_data(&addr, &provider, config_value).await
            } else {
                self.plan_managed(&addr, r, &provider, &schema, config_value)
                    .await
            };
            let Some(mut change) = change else { continue };
            if let Some(e) = &r.site {
                let (res, d) = self.eval(mi, cfg, e, Iteration::default());
                deps.extend(d);
                match res.map(|v| v.get("name").and_then(Value::as_str).map(str::to_string)) {
                    Ok(Some(name)) => change.site = Some(name),
                    Ok(None) => self.diags.push(Diagnostic::at(
                        e.span(),
                        "Invalid site",
                        "site must be a site reference, such as site.east.",
                    )),
                    Err(d) => self.diags.push(d),
                }
            }
            let value = change.after.clone().unwrap_or(Value::Null);
            if let Some(rv) = self.values.resources.get_mut(&abs) {
                rv.instances.insert(key.clone(), value);
            }
            let cid = u32::try_from(self.changes.len()).unwrap_or(u32::MAX);
            let nid = self.add_node(
                NodeKey::Instance { addr: addr.clone() },
                &deps,
                Some(cid),
                None,
            );
            change.dependencies = self.resource_deps[nid as usize].iter().cloned().collect();
            self.changes.push(change);
            instance_ids.push(NodeKey::Instance { addr });
        }
        self.add_node(NodeKey::Resource { addr: abs }, &instance_ids, None, None);
    }

    async fn plan_data(
        &mut self,
        addr: &AbsInstance,
        provider: &str,
        config: Value,
    ) -> Option<ResourceChange> {
        let before = self
            .state
            .resources
            .get(addr)
            .map(crate::state::InstanceState::value);
        let mut change =
            ResourceChange::new(addr.clone(), provider.to_string(), Action::NoOp, before);
        if self.opts.phase == Phase::Validate || !config.is_wholly_known() {
            change.action = Action::Read;
            change.reason = Some(Reason::new("read_because_config_unknown", "read during apply because its configuration depends on values known only after apply"));
            change.after = Some(Value::Unknown);
            return Some(change);
        }
        let p = self.registry.get(provider)?.clone();
        let (plain, paths) = config.deep_unmark();
        match p
            .read_data(ReadDataRequest {
                type_name: addr.resource.resource.type_name.clone(),
                config: plain,
            })
            .await
        {
            Ok(resp) => {
                let secrets = config.secrets();
                let about = |i: &ValidationIssue| about(addr, &i.summary, &i.detail, &secrets);
                self.warnings.extend(resp.warnings.iter().map(about));
                change.after = Some(resp.state.mark_paths(&paths));
                Some(change)
            }
            Err(e) => {
                let secrets = config.secrets();
                self.diags
                    .push(about(addr, &e.summary, &e.detail, &secrets));
                None
            }
        }
    }

    fn root_outputs(&self) -> BTreeMap<String, OutputChange> {
        let mut out = BTreeMap::new();
        if self.opts.mode == PlanMode::Destroy {
            for (name, o) in &self.state.outputs {
                let before = Value::from_json(&o.value);
                let before = if o.sensitive {
                    before.sensitive()
                } else {
                    before
                };
                out.insert(
                    name.clone(),
                    OutputChange {
                        before: Some(before),
                        after: Value::Null,
                        sensitive: o.sensitive,
                    },
                );
            }
            return out;
        }
        for (name, o) in &self.config.root.outputs {
            let after = self
                .values
                .outputs
                .get(&(ModuleInstance::root(), name.clone()))
                .cloned()
                .unwrap_or(Value::Null);
            let before = self.state.outputs.get(name).map(|s| {
                let v = Value::from_json(&s.value);
                if s.sensitive {
                    v.sensitive()
                } else {
                    v
                }
            });
            out.insert(
                name.clone(),
                OutputChange {
                    before,
                    after,
                    sensitive: o.sensitive,
                },
            );
        }
        out
    }
}
