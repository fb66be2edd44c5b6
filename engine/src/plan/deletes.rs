//! Deletions and targeting: instances the configuration no longer has, destroy plans, the
//! reverse-dependency order of deletions, and `--target` pruning.

use super::model::{Action, NodeKey, PlanMode, Reason, ResourceChange};
use super::walk::Walker;
use crate::addr::{AbsInstance, InstanceKey, Mode};
use crate::diag::Diagnostic;
use standby_provider_sdk::Value;
use std::collections::{HashMap, HashSet};

/// The reason code of a deletion whose object a refresh found gone: apply removes the
/// record and calls no provider.
pub const GONE: &str = "delete_because_gone";

impl Walker<'_> {
    /// Instances in state that the configuration no longer has.
    pub(super) fn orphans(&mut self) {
        let orphaned: Vec<AbsInstance> = self
            .state
            .resources
            .keys()
            .filter(|a| !self.seen.contains(*a))
            .cloned()
            .collect();
        for addr in orphaned {
            let reason = self.orphan_reason(&addr);
            self.delete_change(addr, reason);
        }
    }

    fn orphan_reason(&self, addr: &AbsInstance) -> Reason {
        let path = addr.resource.module.path();
        let Some(m) = self.config.module(&path) else {
            return Reason::new(
                "delete_because_no_module",
                format!(
                    "delete because {} is no longer in configuration",
                    addr.resource.module
                ),
            );
        };
        if !self
            .instances
            .get(&path)
            .is_some_and(|is| is.contains(&addr.resource.module))
        {
            return Reason::new(
                "delete_because_no_module",
                format!(
                    "delete because {} is no longer an instance of the module",
                    addr.resource.module
                ),
            );
        }
        if !m.resources.contains_key(&addr.resource.resource) {
            return Reason::new(
                "delete_because_no_resource_config",
                "delete because no longer in configuration",
            );
        }
        match &addr.key {
            Some(InstanceKey::Int(i)) => Reason::new(
                "delete_because_count_index",
                format!("delete because index [{i}] is out of range for count"),
            ),
            Some(InstanceKey::Str(k)) => Reason::new(
                "delete_because_each_key",
                format!("delete because key {k:?} is not in for_each"),
            ),
            None => Reason::new(
                "delete_because_no_resource_config",
                "delete because the resource now uses count or for_each",
            ),
        }
    }

    fn delete_change(&mut self, addr: AbsInstance, reason: Reason) {
        // What the refresh found (upgraded to the provider's schema, with the private data it
        // returned), else what was recorded (an orphan, which the walk did not refresh).
        let Some(st) = self
            .refreshed
            .resources
            .get(&addr)
            .or_else(|| self.state.resources.get(&addr))
        else {
            return;
        };
        if let Some(m) = self.config.module(&addr.resource.module.path()) {
            if let Some(r) = m.resources.get(&addr.resource.resource) {
                if r.lifecycle.prevent_destroy {
                    self.diags.push(Diagnostic::at(r.span.clone(), format!("Instance {addr} cannot be destroyed"), "Its lifecycle sets prevent_destroy = true. Remove that setting first if you really mean to destroy it."));
                    return;
                }
            }
        }
        // Only its provider can destroy it: a provider the configuration no longer requires
        // is not running, and the destroy must not be skipped silently.
        if self.registry.get(&st.provider).is_none() && addr.resource.resource.mode == Mode::Managed
        {
            self.diags.push(Diagnostic::bare(
                format!("Provider configuration not present for {addr}"),
                format!("The state records {addr}, which is to be destroyed, as managed by the provider {:?}, which the configuration no longer has. Add the provider back (in required_providers, and run `standby init`) so that it can destroy the object, or forget the object with `standby state rm {addr}`.", st.provider),
            ));
            return;
        }
        let cid = u32::try_from(self.changes.len()).unwrap_or(u32::MAX);
        self.changes.push(ResourceChange {
            reason: Some(reason),
            dependencies: st.dependencies.clone(),
            site: st.site.clone(),
            schema_version: st.schema_version,
            private: st.private.clone(),
            ..ResourceChange::new(
                addr.clone(),
                st.provider.clone(),
                Action::Delete,
                Some(st.value()),
            )
        });
        self.add_node(NodeKey::Instance { addr }, &[], Some(cid), None);
    }

    pub(super) fn destroy_all(&mut self) {
        // Forget the walk's changes: in destroy mode everything recorded goes.
        self.changes.clear();
        self.nodes.clear();
        self.index.clear();
        self.resource_deps.clear();
        let all: Vec<AbsInstance> = self.state.resources.keys().cloned().collect();
        for addr in all {
            // A refresh that found the object gone (and said so above the plan) leaves
            // nothing to destroy: only the record goes.
            let gone = self.opts.refresh && !self.refreshed.resources.contains_key(&addr);
            let reason = if gone {
                Reason::new(
                    GONE,
                    "already deleted outside standby: only its record is removed",
                )
            } else {
                Reason::new(
                    "delete_because_destroy",
                    "delete because the plan destroys everything",
                )
            };
            self.delete_change(addr, reason);
        }
    }

    /// Deletions run in reverse dependency order: an instance is deleted only after everything
    /// that depended on it (per the state) was deleted or updated.
    pub(super) fn order_deletes(&mut self) {
        let mut by_resource: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if let (NodeKey::Instance { addr }, Some(c)) = (&n.key, n.change) {
                if self.changes[c as usize].action == Action::Delete {
                    by_resource
                        .entry(addr.resource.to_string())
                        .or_default()
                        .push(i as u32);
                }
            }
        }
        if by_resource.is_empty() {
            return;
        }
        for (addr, st) in &self.state.resources {
            let Some(&dependent) = self.index.get(&NodeKey::Instance { addr: addr.clone() }) else {
                continue;
            };
            for d in &st.dependencies {
                for &del in by_resource.get(d).map(Vec::as_slice).unwrap_or(&[]) {
                    if del != dependent && !self.nodes[del as usize].deps.contains(&dependent) {
                        self.nodes[del as usize].deps.push(dependent);
                    }
                }
            }
        }
    }

    /// Keeps only the targeted instances and what they depend on (or, when destroying, what
    /// depends on them); everything else becomes a no-op.
    pub(super) fn apply_targets(&mut self) {
        let destroy = self.opts.mode == PlanMode::Destroy;
        let mut keep: HashSet<u32> = HashSet::new();
        let mut stack: Vec<u32> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(&n.key, NodeKey::Instance { addr } if self.opts.targets.iter().any(|t| t.matches(addr))))
            .map(|(i, _)| i as u32)
            .collect();
        let targets = self.opts.targets.clone();
        self.report_unmatched("--target", &targets);
        let mut dependents: HashMap<u32, Vec<u32>> = HashMap::new();
        if destroy {
            for (i, n) in self.nodes.iter().enumerate() {
                for d in &n.deps {
                    dependents.entry(*d).or_default().push(i as u32);
                }
            }
        }
        while let Some(i) = stack.pop() {
            if !keep.insert(i) {
                continue;
            }
            if destroy {
                stack.extend(dependents.get(&i).cloned().unwrap_or_default());
            } else {
                stack.extend(self.nodes[i as usize].deps.iter().copied());
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if keep.contains(&(i as u32)) {
                continue;
            }
            if let Some(c) = n.change {
                let ch = &mut self.changes[c as usize];
                ch.action = Action::NoOp;
                ch.after = ch.before.clone();
                ch.reason = Some(Reason::new("excluded_by_target", "excluded by --target"));
            }
        }
    }

    /// An error for each of `targets` (given with `flag`) that names no instance of the plan:
    /// a typo or the wrong module key, which planning "No changes." for would hide.
    pub(super) fn report_unmatched(&mut self, flag: &str, targets: &[crate::addr::Target]) {
        let addrs: Vec<String> = self
            .nodes
            .iter()
            .filter_map(|n| match &n.key {
                NodeKey::Instance { addr } => Some(addr.to_string()),
                _ => None,
            })
            .collect();
        for t in targets {
            let hit = self
                .nodes
                .iter()
                .any(|n| matches!(&n.key, NodeKey::Instance { addr } if t.matches(addr)));
            if hit {
                continue;
            }
            let shown = t.to_string();
            let mut close: Vec<&str> = addrs
                .iter()
                .map(String::as_str)
                .filter(|a| strsim::jaro_winkler(a, &shown) > 0.8)
                .collect();
            close.sort_unstable();
            close.dedup();
            close.truncate(5);
            self.diags.push(crate::diag::Diagnostic::bare(
                format!("{flag} {shown} matches nothing in this plan"),
                if close.is_empty() {
                    "No resource instance has that address. `standby state list` lists those in the state.".to_string()
                } else {
                    format!("Did you mean: {}?", close.join(", "))
                },
            ));
        }
    }
}

impl ResourceChange {
    /// A change of `addr` from `before`, with nothing else said: no reason, no planned
    /// value, no dependencies, no provider data.
    pub(crate) fn new(
        addr: AbsInstance,
        provider: String,
        action: Action,
        before: Option<Value>,
    ) -> Self {
        ResourceChange {
            previous_address: None,
            importing: None,
            addr,
            provider,
            action,
            reason: None,
            before,
            after: None,
            requires_replace: vec![],
            dependencies: vec![],
            create_before_destroy: false,
            site: None,
            schema_version: None,
            private: vec![],
        }
    }

    /// A data source's recorded result going away: Terraform neither shows nor counts it,
    /// and no provider is called.
    pub(crate) fn forgets_data(&self) -> bool {
        self.action == Action::Delete && self.addr.resource.resource.mode == Mode::Data
    }

    /// Only the record goes: a data source's result, or an object a refresh found gone.
    pub(crate) fn only_forgets(&self) -> bool {
        self.forgets_data() || self.reason.as_ref().is_some_and(|r| r.code == super::GONE)
    }
}
