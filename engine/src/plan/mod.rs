//! Planning: diff the configuration against the state into an execution graph.
//!
//! The walk evaluates the configuration in dependency order (see `walk.rs`), asks each
//! provider for a planned state, and picks an action with a reason (`diff.rs`). The result is a
//! [`Plan`]: every resource change plus the execution graph that [`crate::apply`] runs as is.
//! The human and JSON renderings are derived from it.

mod config_graph;
mod console;
mod deletes;
mod diff;
mod expansion;
mod failover;
mod failover_settings;
mod health_check;
pub(crate) mod instance;
mod json;
mod json_tf;
mod model;
mod moves;
mod prior;
pub mod reality;
mod reconcile;
mod render;
mod switch_render;
pub(crate) mod values;
mod variables;
mod walk;

pub use console::Console;
pub use deletes::GONE;
pub use expansion::max_instances_env;
pub use failover::{emergency_probe, ForcedSwitch};
pub use failover_settings::Approval;
pub use health_check::{Detection, HealthCheck, HealthKind, Target};
pub use json::{plan_json, public_json, JSON_FORMAT_VERSION};
pub use json_tf::state_json;
pub use model::{
    Action, Estimate, ExecNode, Expansion, ExpansionRecord, GroupSummary, HookSpec, MemberRef,
    NodeKey, OutputChange, Plan, PlanMode, PriorState, Reason, ResourceChange, StepKind,
    SwitchKind, SwitchPlan, PLAN_FORMAT_VERSION,
};
pub use moves::Move;
pub use render::render_plan;
pub use switch_render::{describe_step, headline as switch_headline, step_lines};
pub use variables::{root_inputs, VarSource};
pub use walk::{plan, state_digest, PlanOptions};

/// Static checks of a (possibly partial) topology: references, schemas and cycles.
pub fn check(
    config: &crate::config::Config,
    registry: &crate::registry::Registry,
) -> crate::diag::Diagnostics {
    config_graph::build(config, registry)
        .err()
        .unwrap_or_default()
}

/// The configuration graph as DOT or Mermaid, for `standby graph`.
pub fn config_graph_text(
    config: &crate::config::Config,
    registry: &crate::registry::Registry,
    mermaid: bool,
) -> Result<String, crate::diag::Diagnostics> {
    let g = config_graph::build(config, registry)?;
    Ok(if mermaid {
        g.dag.to_mermaid(ToString::to_string)
    } else {
        g.dag.to_dot(ToString::to_string)
    })
}

/// The execution graph of a plan as DOT or Mermaid: every node with its action and reason.
pub fn execution_graph_text(plan: &Plan, mermaid: bool) -> String {
    let mut dag = crate::graph::Dag::new();
    let ids: Vec<_> = plan
        .nodes
        .iter()
        .map(|n| {
            let label = match (n.change.and_then(|c| plan.changes.get(c as usize)), &n.key) {
                (Some(c), _) => format!("{} [{}]", n.key, c.action.terraform_actions().join(",")),
                (None, NodeKey::Step { group, step }) => {
                    match plan.switches.iter().find(|s| s.group == *group) {
                        Some(sw) => format!("{}: {}", n.key, describe_step(sw, step)),
                        None => n.key.to_string(),
                    }
                }
                (None, _) => n.key.to_string(),
            };
            dag.add(label)
        })
        .collect();
    for (i, n) in plan.nodes.iter().enumerate() {
        for d in &n.deps {
            dag.depend(ids[i], ids[*d as usize]);
        }
    }
    if mermaid {
        dag.to_mermaid(Clone::clone)
    } else {
        dag.to_dot(Clone::clone)
    }
}
