//! `moved` blocks applied to the recorded state before planning, as Terraform does: what the
//! state holds at an old address is planned at its new one, and apply records the move.

use super::walk::Walker;
use crate::addr::{AbsInstance, AbsResource, Mode, ModuleInstance, ModuleStep, Target};
use crate::config::{Config, Moved};
use crate::diag::{Diagnostic, Diagnostics};
use crate::state::State;
use serde::{Deserialize, Serialize};

/// One instance the plan moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// Where the state records it.
    pub from: AbsInstance,
    /// Where it is planned.
    pub to: AbsInstance,
}

/// Where `m` moves `inst`, if it applies to it.
fn destination(m: &Moved, inst: &AbsInstance) -> Option<AbsInstance> {
    if !m.from.matches(inst) {
        return None;
    }
    // `a` to `a[0]` (count added) moves only the instance without a key.
    if m.from.key.is_none() && m.to.key.is_some() && inst.key.is_some() {
        return None;
    }
    match (&m.from.resource, &m.to.resource) {
        (Some(_), Some(to_res)) => Some(AbsInstance {
            resource: AbsResource {
                module: m.to.module.clone(),
                resource: to_res.clone(),
            },
            // An instance move names its keys (a[0] to a has none on the right); a resource
            // move keeps each instance's key.
            key: if m.from.key.is_some() || m.to.key.is_some() {
                m.to.key.clone()
            } else {
                inst.key.clone()
            },
        }),
        (None, None) => {
            let have = &inst.resource.module.0;
            let n = m.from.module.0.len();
            if n == 0 || m.to.module.0.is_empty() {
                return None;
            }
            let mut steps: Vec<ModuleStep> = m
                .to
                .module
                .0
                .iter()
                .enumerate()
                .map(|(i, s)| ModuleStep {
                    name: s.name.clone(),
                    // module.a to module.b keeps each instance's key; keys written on both
                    // sides (module.a[0] to module.b["x"]) are the new key.
                    key: if i + 1 == m.to.module.0.len() && m.from.module.0[n - 1].key.is_none() {
                        have[n - 1].key.clone()
                    } else {
                        s.key.clone()
                    },
                })
                .collect();
            steps.extend(have[n..].iter().cloned());
            Some(AbsInstance {
                resource: AbsResource {
                    module: ModuleInstance(steps),
                    resource: inst.resource.resource.clone(),
                },
                key: inst.key.clone(),
            })
        }
        _ => None,
    }
}

/// Why a `moved` block cannot be applied whatever the state holds.
fn static_problem(m: &Moved) -> Option<String> {
    match (&m.from.resource, &m.to.resource) {
        (Some(a), Some(b)) if a.mode == Mode::Data || b.mode == Mode::Data => {
            Some("data sources hold no object to move; remove the moved block".into())
        }
        (Some(a), Some(b)) if a.type_name != b.type_name => Some(format!(
            "{} and {} are different resource types; an object keeps its type (write a new resource and import the object, or let standby replace it)",
            a.type_name, b.type_name
        )),
        _ => None,
    }
}

/// The state with every `moved` block applied (in order, so chains of moves work), and the
/// moves made. A move onto an address the state already holds is an error.
pub(crate) fn apply_moves(
    config: &Config,
    state: &State,
) -> Result<(State, Vec<Move>), Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut out = state.clone();
    let mut moves: Vec<Move> = Vec::new();
    for m in &config.root.moved {
        if let Some(why) = static_problem(m) {
            diags.push(Diagnostic::at(m.span.clone(), "Invalid moved block", why));
            continue;
        }
        let same_resource = m.from.module == m.to.module && m.from.resource == m.to.resource;
        if let Some(d) = still_declared(config, &m.from).filter(|_| !same_resource) {
            diags.push(Diagnostic::at(m.span.clone(), format!("Moved object still exists: {d}"), "A moved block's from must no longer be in the configuration: the state's object moves to the new address. Remove the old block, or the moved block."));
            continue;
        }
        let found: Vec<(AbsInstance, AbsInstance)> = out
            .resources
            .keys()
            .filter_map(|a| destination(m, a).map(|to| (a.clone(), to)))
            .collect();
        for (from, to) in found {
            if out.resources.contains_key(&to) {
                diags.push(Diagnostic::at(
                    m.span.clone(),
                    format!("Cannot move {from} to {to}"),
                    format!("The state already holds {to}. Remove one with standby state rm, or drop the moved block."),
                ));
                continue;
            }
            out.move_instance(&from, &to);
            // A chain (a to b, then b to c) is one move from a to c.
            match moves.iter_mut().find(|mv| mv.to == from) {
                Some(mv) => mv.to = to,
                None => moves.push(Move { from, to }),
            }
        }
    }
    // Blocks that lead an object back where it was (a to b, b to a) form a cycle.
    for mv in moves.iter().filter(|mv| mv.from == mv.to) {
        if let Some(m) = config.root.moved.first() {
            diags.push(Diagnostic::at(
                m.span.clone(),
                "Cyclic moved blocks",
                format!("The moved blocks move {} back to where it was; remove the blocks that undo each other.", mv.from),
            ));
        }
    }
    moves.retain(|mv| mv.from != mv.to);
    diags.into_result((out, moves))
}

impl Walker<'_> {
    /// After the walk, what only the expanded configuration can tell: a moved object whose
    /// old address is still declared (a module call, or a key that count or for_each still
    /// yields), and an import into an instance the configuration does not declare.
    pub(super) fn check_moves_and_imports(&mut self, moves: &[Move]) {
        // Validating without values plans no instance of what depends on them: only the
        // blocks can be checked, not the instances.
        if self.validating_without().is_some() {
            let undeclared: Vec<crate::config::ImportBlock> = self
                .config
                .root
                .imports
                .iter()
                .filter(|i| {
                    self.config
                        .module(&i.to.resource.module.path())
                        .is_none_or(|m| !m.resources.contains_key(&i.to.resource.resource))
                })
                .cloned()
                .collect();
            for i in undeclared {
                self.diags.push(Diagnostic::at(
                    i.span.clone(),
                    format!("Configuration for import target does not exist: {}", i.to),
                    "The topology declares no such resource. Write the resource block first, so standby knows how to manage the object.",
                ));
            }
            return;
        }
        let planned = |addr: &AbsInstance, changes: &[super::ResourceChange]| {
            changes.iter().any(|c| c.addr == *addr)
        };
        for mv in moves {
            if !planned(&mv.to, &self.changes) {
                let span = self.move_span(&mv.from);
                self.diags.push(Diagnostic::at(
                    span,
                    format!("Moved object has no configuration at {}", mv.to),
                    format!("The state's {} would move to {}, which the configuration does not declare, and be destroyed there. Declare it (check count and for_each keys), or fix the moved block's to.", mv.from, mv.to),
                ));
                continue;
            }
            if planned(&mv.from, &self.changes) {
                let span = self.move_span(&mv.from);
                self.diags.push(Diagnostic::at(
                    span,
                    format!("Moved object still exists: {}", mv.from),
                    format!("The configuration still declares {}, so its object cannot move to {}. Remove the old declaration (or the key from count/for_each), or the moved block.", mv.from, mv.to),
                ));
            }
        }
        let imports: Vec<(AbsInstance, Option<crate::diag::Span>)> = self
            .config
            .root
            .imports
            .iter()
            .map(|i| (i.to.clone(), Some(i.span.clone())))
            .chain(self.opts.imports.iter().map(|(a, _)| (a.clone(), None)))
            .collect();
        for (to, span) in imports {
            let summary = format!("Configuration for import target does not exist: {to}");
            let detail = "The topology declares no such instance (check the resource block, and the keys its count or for_each yields). Write the resource block first, so standby knows how to manage the object.";
            match self.changes.iter().find(|c| c.addr == to) {
                None => self.diags.push(match span {
                    Some(s) => Diagnostic::at(s, summary, detail),
                    None => Diagnostic::bare(summary, detail),
                }),
                // Importing an object only to replace it destroys what was adopted: the
                // id and the configuration disagree about which object this is.
                Some(c) if c.importing.is_some() && c.action.is_replace() => {
                    let attrs = c.requires_replace.join(", ");
                    let summary = format!("Importing {to} would replace the object it imports");
                    let detail = format!("The configuration and the imported object differ in {attrs}, which cannot change in place: apply would destroy the object just adopted. Import the object the configuration describes, or change the configuration to match it.");
                    self.diags.push(match span {
                        Some(s) => Diagnostic::at(s, summary, detail),
                        None => Diagnostic::bare(summary, detail),
                    });
                }
                Some(_) => {}
            }
        }
    }

    fn move_span(&self, from: &AbsInstance) -> crate::diag::Span {
        self.config
            .root
            .moved
            .iter()
            .find(|m| m.from.matches(from))
            .or(self.config.root.moved.first())
            .map(|m| m.span.clone())
            .unwrap_or_else(|| crate::diag::Span::new(0, None))
    }
}

/// The `from` of a resource move that the configuration still declares, as text.
fn still_declared(config: &Config, from: &Target) -> Option<String> {
    let r = from.resource.as_ref()?;
    if from.key.is_some() {
        // Moving one instance to another key of the same resource keeps the resource.
        return None;
    }
    let m = config.module(&from.module.path())?;
    m.resources.contains_key(r).then(|| {
        if from.module.is_root() {
            r.to_string()
        } else {
            format!("{}.{r}", from.module)
        }
    })
}
