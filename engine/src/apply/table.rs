//! Rebuilding the value table from a plan, so apply can evaluate expressions that were unknown
//! at plan time.

use crate::addr::{AbsResource, ModuleInstance};
use crate::plan::values::{ResourceValues, Values};
use crate::plan::{NodeKey, Plan};
use std::collections::BTreeMap;

pub(crate) fn values_from_plan(plan: &Plan) -> Values {
    let mut v = Values::default();
    v.vars
        .insert(ModuleInstance::root(), plan.variables.clone());
    for e in &plan.expansions {
        match (&e.call, &e.resource) {
            (Some(call), _) => {
                v.modules
                    .insert((e.module.clone(), call.clone()), e.expansion.clone());
            }
            (None, Some(r)) => {
                let abs = AbsResource {
                    module: e.module.clone(),
                    resource: r.clone(),
                };
                v.resources.insert(
                    abs,
                    ResourceValues {
                        expansion: e.expansion.clone(),
                        instances: BTreeMap::new(),
                    },
                );
            }
            (None, None) => {}
        }
    }
    for c in &plan.changes {
        if let (Some(after), Some(rv)) = (&c.after, v.resources.get_mut(&c.addr.resource)) {
            rv.instances.insert(c.addr.key.clone(), after.clone());
        }
    }
    for n in &plan.nodes {
        let Some(val) = &n.value else { continue };
        match &n.key {
            NodeKey::Local { module, name } => {
                v.locals.insert((module.clone(), name.clone()), val.clone());
            }
            NodeKey::Output { module, name } => {
                v.outputs
                    .insert((module.clone(), name.clone()), val.clone());
            }
            NodeKey::Failover { name } => {
                v.failovers.insert(name.clone(), val.clone());
            }
            NodeKey::ModuleVars { module } => {
                if let standby_provider_sdk::Value::Map(m) = val {
                    v.vars.insert(module.clone(), m.clone());
                }
            }
            _ => {}
        }
    }
    v
}
