//! `moved` blocks applied to the recorded state before planning, as Terraform does: what the
//! state holds at an old address is planned at its new one, and apply records the move.

use crate::addr::{AbsInstance, AbsResource, ModuleInstance, ModuleStep, Target};
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
    match (&m.from.resource, &m.to.resource) {
        (Some(_), Some(to_res)) => Some(AbsInstance {
            resource: AbsResource {
                module: m.to.module.clone(),
                resource: to_res.clone(),
            },
            // An instance move names both keys; a resource move keeps each instance's key.
            key: if m.from.key.is_some() {
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
        if let Some(d) = still_declared(config, &m.from) {
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
            if let Some(st) = out.resources.remove(&from) {
                out.resources.insert(to.clone(), st);
            }
            // A chain (a to b, then b to c) is one move from a to c.
            match moves.iter_mut().find(|mv| mv.to == from) {
                Some(mv) => mv.to = to,
                None => moves.push(Move { from, to }),
            }
        }
    }
    diags.into_result((out, moves))
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
