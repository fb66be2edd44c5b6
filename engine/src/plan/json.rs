//! The public, versioned JSON form of a plan. Its `resource_changes` follow the shape of
//! `terraform show -json`, so tools that read Terraform plans read these too. Sensitive values
//! are replaced by `"(sensitive value)"`; unknown values are `null` with `after_unknown: true`.

use super::model::{ExecNode, NodeKey, Plan, ResourceChange};
use serde_json::{json, Map, Value as J};
use standby_provider_sdk::Value;

/// The public JSON format's version.
pub const JSON_FORMAT_VERSION: &str = "1.0";

/// JSON with sensitive parts redacted and unknowns as null.
pub fn public_json(v: &Value) -> J {
    match v {
        // An unset sensitive attribute is null, as in Terraform: only a value is hidden.
        Value::Sensitive(inner) if inner.is_null() => J::Null,
        Value::Sensitive(_) => J::String("(sensitive value)".into()),
        Value::Unknown => J::Null,
        Value::List(items) => items.iter().map(public_json).collect(),
        Value::Map(m) => m.iter().map(|(k, x)| (k.clone(), public_json(x))).collect(),
        other => other.to_json(),
    }
}

fn change_json(plan: &Plan, c: &ResourceChange) -> J {
    let r = &c.addr.resource;
    let mut o = Map::new();
    o.insert("address".into(), J::String(c.addr.to_string()));
    if !r.module.is_root() {
        o.insert("module_address".into(), J::String(r.module.to_string()));
    }
    o.insert("mode".into(), json!(r.resource.mode));
    o.insert("type".into(), J::String(r.resource.type_name.clone()));
    o.insert("name".into(), J::String(r.resource.name.clone()));
    if let Some(k) = &c.addr.key {
        o.insert("index".into(), serde_json::to_value(k).unwrap_or(J::Null));
    }
    let provider = plan.provider_address(&c.provider);
    o.insert("provider_name".into(), J::String(provider.to_string()));
    // Terraform's masks of a resource are always objects, `{}` when nothing is marked.
    let mask = |v: &Option<Value>, f: fn(&Value) -> J| {
        super::json_tf::object_or_empty(v.as_ref().map_or(J::Null, f))
    };
    o.insert(
        "change".into(),
        json!({
            "actions": c.action.terraform_actions(),
            "before": c.before.as_ref().map_or(J::Null, public_json),
            "after": c.after.as_ref().map_or(J::Null, public_json),
            "after_unknown": mask(&c.after, Value::unknown_mask),
            "before_sensitive": mask(&c.before, Value::sensitive_mask),
            "after_sensitive": mask(&c.after, Value::sensitive_mask),
            "replace_paths": c.requires_replace.iter().map(|p| json!([p])).collect::<Vec<_>>(),
        }),
    );
    if let Some(prev) = &c.previous_address {
        o.insert("previous_address".into(), J::String(prev.to_string()));
    }
    if let Some(id) = &c.importing {
        o["change"]["importing"] = json!({ "id": id });
    }
    if let Some(reason) = &c.reason {
        o.insert("action_reason".into(), J::String(reason.code.clone()));
        o.insert("reason".into(), J::String(reason.text.clone()));
    }
    J::Object(o)
}

fn node_json(id: usize, n: &ExecNode, plan: &Plan) -> J {
    let (kind, address) = match &n.key {
        NodeKey::Instance { addr } => ("resource_instance", addr.to_string()),
        NodeKey::Resource { addr } => ("resource", addr.to_string()),
        other => (
            match other {
                NodeKey::Local { .. } => "local",
                NodeKey::Output { .. } => "output",
                NodeKey::Failover { .. } => "failover",
                NodeKey::Step { .. } => "switch_step",
                _ => "module_inputs",
            },
            other.to_string(),
        ),
    };
    let mut o = json!({ "id": id, "kind": kind, "address": address, "depends_on": n.deps });
    if let NodeKey::Step { group, step } = &n.key {
        if let Some(sw) = plan.switches.iter().find(|s| s.group == *group) {
            o["step"] = J::String(step.to_string());
            o["reason"] = J::String(super::describe_step(sw, step));
        }
    }
    if let Some(c) = n.change.and_then(|c| plan.changes.get(c as usize)) {
        o["actions"] = json!(c.action.terraform_actions());
        if let Some(r) = &c.reason {
            o["reason"] = J::String(r.text.clone());
        }
    }
    o
}

/// The whole plan as public JSON, with the topology's `configuration` when it is given.
pub fn plan_json(
    plan: &Plan,
    config: Option<(&crate::config::Config, &crate::registry::Registry)>,
) -> J {
    let outputs: Map<String, J> = plan
        .outputs
        .iter()
        .map(|(k, o)| {
            let show = |v: &Value| {
                if o.sensitive && !v.is_unknown() {
                    J::String("(sensitive value)".into())
                } else {
                    public_json(v)
                }
            };
            let actions: &[&str] = match &o.before {
                None => &["create"],
                Some(b) if b.same_as(&o.after) => &["no-op"],
                Some(_) if o.after.is_null() => &["delete"],
                Some(_) => &["update"],
            };
            (
                k.clone(),
                json!({
                    "actions": actions,
                    "before": o.before.as_ref().map_or(J::Null, show),
                    "after": show(&o.after),
                    "after_unknown": o.after.unknown_mask(),
                    "before_sensitive": o.sensitive,
                    "after_sensitive": o.sensitive,
                    "sensitive": o.sensitive,
                }),
            )
        })
        .collect();
    let (add, change, destroy) = plan.counts();
    let mut j = json!({
        "format_version": JSON_FORMAT_VERSION,
        "terraform_version": super::json_tf::TERRAFORM_FORMAT_LEVEL,
        "standby_version": plan.standby_version,
        "environment": plan.env,
        "plan_mode": plan.mode,
        "planned_values": super::json_tf::planned_values(plan),
        "prior_state": super::json_tf::prior_state(plan),
        "variables": plan.variables.iter().map(|(k, v)| (k.clone(), json!({ "value": public_json(v) }))).collect::<Map<_, _>>(),
        "resource_changes": plan.changes.iter().filter(|c| !c.forgets_data()).map(|c| change_json(plan, c)).collect::<Vec<_>>(),
        "resource_drift": plan.drift.iter().map(|c| change_json(plan, c)).collect::<Vec<_>>(),
        "output_changes": outputs,
        "execution_graph": { "nodes": plan.nodes.iter().enumerate().map(|(i, n)| node_json(i, n, plan)).collect::<Vec<_>>() },
        "failover_switches": plan.switches.iter().map(switch_json).collect::<Vec<_>>(),
        "failover_notes": plan.failover_notes,
        "summary": { "add": add, "change": change, "destroy": destroy, "has_changes": plan.has_changes() },
    });
    if let Some((c, registry)) = config {
        j["configuration"] = super::json_tf::configuration(c, plan, registry);
    }
    j
}

fn switch_json(sw: &super::SwitchPlan) -> J {
    json!({
        "group": sw.group,
        "kind": sw.kind,
        "from": sw.from,
        "to": sw.to,
        "epoch": sw.epoch,
        "stamp_epoch": sw.stamp_epoch,
        "mode": sw.mode,
        "approval": sw.approval,
        "reason": sw.reason.text,
        "action_reason": sw.reason.code,
        "steps": super::step_lines(sw).into_iter().map(|(step, description)| json!({ "step": step, "description": description })).collect::<Vec<_>>(),
        "traffic": sw.traffic,
        "estimate": sw.estimate,
        "needs_data_loss_ack": sw.needs_data_loss_ack,
        "notes": sw.notes,
    })
}

/// The source addresses of the external providers `changes` use, by local name.
pub(crate) fn provider_sources(
    registry: &crate::registry::Registry,
    changes: &[ResourceChange],
) -> std::collections::BTreeMap<String, String> {
    changes
        .iter()
        .filter_map(|c| Some((c.provider.clone(), registry.get(&c.provider)?.source()?)))
        .collect()
}

impl Plan {
    /// The provider's address as Terraform's JSON names it: an external provider's source
    /// address (without the alias), a built-in provider's local name.
    pub(crate) fn provider_address<'a>(&'a self, local: &'a str) -> &'a str {
        self.provider_sources
            .get(local)
            .map_or(local, String::as_str)
    }
}
