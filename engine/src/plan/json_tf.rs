//! The parts of the plan JSON that exist for tools written for `terraform show -json`:
//! `planned_values`, the values of `prior_state`, and `configuration`. They follow Terraform's
//! JSON output format 1.0, so a scanner such as checkov reads a standby plan unchanged.

use super::json::public_json;
use super::model::{Plan, ResourceChange};
use crate::addr::{AbsInstance, ModuleInstance};
use crate::config::{Body, Config, Expr, Module};
use crate::eval::{references, RefTarget};
use hcl_edit::expr::{Expression, ObjectKey};
use serde_json::{json, Map, Value as J};
use standby_provider_sdk::Value;
use std::collections::BTreeMap;

/// The Terraform version whose JSON plan format this mirrors (format 1.0, as Terraform 1.0
/// writes it). Tools check it before they read the rest; standby's own version is
/// `standby_version`.
pub(crate) const TERRAFORM_FORMAT_LEVEL: &str = "1.0.0";

/// A resource's values in Terraform's `values` representation.
fn resource_values(addr: &AbsInstance, provider: &str, schema_version: u64, value: &Value) -> J {
    let r = &addr.resource;
    let mut o = Map::new();
    o.insert("address".into(), J::String(addr.to_string()));
    o.insert("mode".into(), json!(r.resource.mode));
    o.insert("type".into(), J::String(r.resource.type_name.clone()));
    o.insert("name".into(), J::String(r.resource.name.clone()));
    if let Some(k) = &addr.key {
        o.insert("index".into(), serde_json::to_value(k).unwrap_or(J::Null));
    }
    o.insert("provider_name".into(), J::String(provider.to_string()));
    o.insert("schema_version".into(), json!(schema_version));
    o.insert("values".into(), object_or_empty(public_json(value)));
    o.insert(
        "sensitive_values".into(),
        object_or_empty(value.sensitive_mask()),
    );
    J::Object(o)
}

/// Terraform's masks and values of a resource are always objects.
pub(crate) fn object_or_empty(j: J) -> J {
    match j {
        J::Object(_) => j,
        _ => J::Object(Map::new()),
    }
}

/// A `root_module` with nested `child_modules`, from resource values by module instance.
fn module_tree(resources: Vec<(ModuleInstance, J)>) -> J {
    let mut by_module: BTreeMap<ModuleInstance, Vec<J>> = BTreeMap::new();
    for (m, r) in resources {
        // Every ancestor exists in the tree, even one without resources of its own.
        let mut anc = m.clone();
        while !anc.is_root() {
            anc.0.pop();
            by_module.entry(anc.clone()).or_default();
        }
        by_module.entry(m).or_default().push(r);
    }
    by_module.entry(ModuleInstance::root()).or_default();
    module_node(&ModuleInstance::root(), &by_module)
}

fn module_node(m: &ModuleInstance, all: &BTreeMap<ModuleInstance, Vec<J>>) -> J {
    let mut o = Map::new();
    if !m.is_root() {
        o.insert("address".into(), J::String(m.to_string()));
    }
    o.insert("resources".into(), J::Array(all[m].clone()));
    let children: Vec<J> = all
        .keys()
        .filter(|c| c.0.len() == m.0.len() + 1 && c.0.starts_with(&m.0))
        .map(|c| module_node(c, all))
        .collect();
    if !children.is_empty() {
        o.insert("child_modules".into(), J::Array(children));
    }
    J::Object(o)
}

fn outputs_values<'a>(outputs: impl Iterator<Item = (&'a String, &'a Value, bool)>) -> J {
    outputs
        .map(|(k, v, sensitive)| {
            let value = if sensitive && !v.is_unknown() {
                J::String("(sensitive value)".into())
            } else {
                public_json(v)
            };
            (k.clone(), json!({ "sensitive": sensitive, "value": value }))
        })
        .collect::<Map<_, _>>()
        .into()
}

/// `planned_values`: every instance as it will be after apply.
pub(crate) fn planned_values(plan: &Plan) -> J {
    let resources = plan
        .changes
        .iter()
        .filter_map(|c| c.after.as_ref().map(|a| (c, a)))
        .map(|(c, a)| {
            let p = plan.provider_address(&c.provider);
            (
                module_of(c),
                resource_values(&c.addr, p, c.schema_version.unwrap_or(0), a),
            )
        })
        .collect();
    json!({
        "outputs": outputs_values(plan.outputs.iter().filter(|(_, o)| !o.after.is_null()).map(|(k, o)| (k, &o.after, o.sensitive))),
        "root_module": module_tree(resources),
    })
}

/// `prior_state`: the recorded values the plan was made against.
pub(crate) fn prior_state(plan: &Plan) -> J {
    let resources = plan
        .changes
        .iter()
        .filter_map(|c| c.before.as_ref().map(|b| (c, b)))
        .map(|(c, b)| {
            let p = plan.provider_address(&c.provider);
            (
                module_of(c),
                resource_values(&c.addr, p, c.schema_version.unwrap_or(0), b),
            )
        })
        .collect();
    json!({
        "format_version": super::JSON_FORMAT_VERSION,
        "terraform_version": TERRAFORM_FORMAT_LEVEL,
        "lineage": plan.prior.lineage,
        "serial": plan.prior.serial,
        "values": {
            "outputs": outputs_values(plan.outputs.iter().filter_map(|(k, o)| o.before.as_ref().map(|b| (k, b, o.sensitive)))),
            "root_module": module_tree(resources),
        },
    })
}

/// A state in the shape of `terraform show -json` without a plan: `values.root_module` with
/// nested `child_modules`, and the outputs.
///
/// `sources` gives external providers' source addresses by local name, for `provider_name`.
pub fn state_json(
    state: &crate::state::State,
    sources: &std::collections::BTreeMap<String, String>,
) -> J {
    let resources = state
        .resources
        .iter()
        .map(|(a, st)| {
            let base = st
                .provider
                .split_once('.')
                .map_or(st.provider.as_str(), |(b, _)| b);
            let provider = sources
                .get(base)
                .map_or(st.provider.as_str(), String::as_str);
            let mut r = resource_values(a, provider, st.schema_version.unwrap_or(0), &st.value());
            r["depends_on"] = json!(st.dependencies);
            (a.resource.module.clone(), r)
        })
        .collect();
    let outputs = state
        .outputs
        .iter()
        .map(|(k, o)| {
            let value = if o.sensitive {
                J::String("(sensitive value)".into())
            } else {
                o.value.clone()
            };
            (
                k.clone(),
                json!({ "sensitive": o.sensitive, "value": value }),
            )
        })
        .collect::<Map<_, _>>();
    json!({
        "format_version": super::JSON_FORMAT_VERSION,
        "terraform_version": TERRAFORM_FORMAT_LEVEL,
        "standby_version": env!("CARGO_PKG_VERSION"),
        "lineage": state.lineage,
        "serial": state.serial,
        "values": { "outputs": outputs, "root_module": module_tree(resources) },
    })
}

fn module_of(c: &ResourceChange) -> ModuleInstance {
    c.addr.resource.module.clone()
}

/// `configuration`: the topology's blocks with their expressions as constants or references.
pub(crate) fn configuration(
    config: &Config,
    plan: &Plan,
    registry: &crate::registry::Registry,
) -> J {
    let marked = sensitive_in_plan(plan);
    // Every provider the topology uses, as Terraform lists each provider_config_key.
    let mut providers: Map<String, J> = Map::new();
    for name in used_providers(&config.root, registry) {
        let block = config.root.providers.get(&name);
        let schema = registry.schema(&name).map(|s| &s.provider);
        let expressions = block.map_or(J::Object(Map::new()), |b| {
            body_json(&b.body, &|k| schema.is_some_and(|s| sensitive_attr(s, k)))
        });
        providers.insert(
            name.clone(),
            json!({ "name": name, "full_name": full_name(plan, &name), "expressions": expressions }),
        );
    }
    let sensitive = Sensitive {
        registry,
        marked: &marked,
    };
    json!({ "provider_config": providers, "root_module": module_json(&config.root, &sensitive) })
}

/// What decides that a literal in a resource's configuration is a secret: the provider's
/// schema (external providers' too, from the registry that runs them), or the plan's
/// sensitive marks.
struct Sensitive<'a> {
    registry: &'a crate::registry::Registry,
    /// `(type, attribute)` and `(type, "block.attribute")` marked in any planned value.
    marked: &'a std::collections::BTreeSet<(String, String)>,
}

impl Sensitive<'_> {
    fn attr(&self, r: &crate::config::Resource, block: Option<&str>, name: &str) -> bool {
        let data = r.addr.mode == crate::addr::Mode::Data;
        let schema = self.registry.type_schema(&r.addr.type_name, data);
        let schema = match block {
            Some(b) => schema.and_then(|s| s.blocks.get(b)),
            None => schema,
        };
        let path = block.map_or_else(|| name.to_string(), |b| format!("{b}.{name}"));
        schema.is_some_and(|s| sensitive_attr(s, name))
            || self.marked.contains(&(r.addr.type_name.clone(), path))
    }
}

/// Every `(type, attribute)` and `(type, "block.attribute")` that a planned or prior value
/// marks sensitive.
fn sensitive_in_plan(plan: &Plan) -> std::collections::BTreeSet<(String, String)> {
    let mut out = std::collections::BTreeSet::new();
    let objects = |v: &Value| -> Vec<BTreeMap<String, Value>> {
        match v.unmarked() {
            Value::Map(m) => vec![m.clone()],
            Value::List(items) => items
                .iter()
                .filter_map(|i| match i.unmarked() {
                    Value::Map(m) => Some(m.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    for c in &plan.changes {
        let t = &c.addr.resource.resource.type_name;
        for v in c.before.iter().chain(c.after.iter()) {
            let Value::Map(m) = v.unmarked() else {
                continue;
            };
            for (k, x) in m {
                if x.contains_sensitive() {
                    out.insert((t.clone(), k.clone()));
                }
                let nested = match x.unmarked() {
                    Value::Map(inner)
                        if inner
                            .values()
                            .all(|i| matches!(i.unmarked(), Value::Map(_))) =>
                    {
                        inner.values().flat_map(objects).collect()
                    }
                    other => objects(other),
                };
                for o in nested {
                    for (k2, y) in o {
                        if matches!(y, Value::Sensitive(_)) {
                            out.insert((t.clone(), format!("{k}.{k2}")));
                        }
                    }
                }
            }
        }
    }
    out
}

/// A provider configuration's provider: an external one's source address, else built in.
fn full_name(plan: &Plan, name: &str) -> String {
    let base = name.split_once('.').map_or(name, |(b, _)| b);
    match plan
        .provider_sources
        .get(name)
        .or_else(|| plan.provider_sources.get(base))
    {
        Some(source) => source.clone(),
        None => format!("standby/builtin/{name}"),
    }
}

/// Whether `schema` calls attribute `name` sensitive.
fn sensitive_attr(schema: &standby_provider_sdk::Schema, name: &str) -> bool {
    schema.attributes.get(name).is_some_and(|a| a.sensitive)
}

fn used_providers(
    m: &Module,
    registry: &crate::registry::Registry,
) -> std::collections::BTreeSet<String> {
    let mut out: std::collections::BTreeSet<String> = m
        .resources
        .values()
        .filter_map(|r| {
            registry.provider_for(&r.addr.type_name, r.addr.mode == crate::addr::Mode::Data)
        })
        .map(str::to_string)
        .collect();
    out.extend(m.providers.keys().cloned());
    for c in m.calls.values() {
        out.extend(used_providers(&c.module, registry));
    }
    out
}

fn module_json(m: &Module, sensitive: &Sensitive<'_>) -> J {
    let resources: Vec<J> = m
        .resources
        .values()
        .map(|r| {
            let mut o = Map::new();
            o.insert("address".into(), J::String(r.addr.to_string()));
            o.insert("mode".into(), json!(r.addr.mode));
            o.insert("type".into(), J::String(r.addr.type_name.clone()));
            o.insert("name".into(), J::String(r.addr.name.clone()));
            // A built-in provider's name; an external one's local name (with its alias), as
            // the resource chose it or its type's prefix implies it.
            let provider = sensitive
                .registry
                .provider_for(&r.addr.type_name, r.addr.mode == crate::addr::Mode::Data)
                .map(str::to_string)
                .or_else(|| r.provider.clone())
                .unwrap_or_else(|| {
                    let t = &r.addr.type_name;
                    t.split_once('_').map_or(t.as_str(), |(p, _)| p).to_string()
                });
            o.insert("provider_config_key".into(), J::String(provider));
            // A literal written for an attribute the schema calls sensitive is a secret in
            // the topology: its expression shows only its references, as for an output.
            let mut exprs = body_json(&r.body, &|k| sensitive.attr(r, None, k));
            for (name, _, body, _) in &r.blocks {
                if let J::Object(e) = &mut exprs {
                    let list = e.entry(name.clone()).or_insert_with(|| J::Array(vec![]));
                    if let J::Array(items) = list {
                        items.push(body_json(body, &|k| sensitive.attr(r, Some(name), k)));
                    }
                }
            }
            o.insert("expressions".into(), exprs);
            o.insert("schema_version".into(), json!(0));
            if let Some(c) = &r.count {
                o.insert("count_expression".into(), expr_json(c, false));
            }
            if let Some(f) = &r.for_each {
                o.insert("for_each_expression".into(), expr_json(f, false));
            }
            J::Object(o)
        })
        .collect();
    let calls: Map<String, J> = m
        .calls
        .values()
        .map(|c| {
            let mut o = Map::new();
            o.insert("source".into(), J::String(c.source.clone()));
            let child = &c.module;
            o.insert(
                "expressions".into(),
                body_json(&c.args, &|k| {
                    child.variables.get(k).is_some_and(|v| v.sensitive)
                }),
            );
            if let Some(x) = &c.count {
                o.insert("count_expression".into(), expr_json(x, false));
            }
            if let Some(x) = &c.for_each {
                o.insert("for_each_expression".into(), expr_json(x, false));
            }
            o.insert("module".into(), module_json(&c.module, sensitive));
            (c.name.clone(), J::Object(o))
        })
        .collect();
    let outputs: Map<String, J> = m
        .outputs
        .values()
        .map(|o| {
            let mut j = json!({ "expression": expr_json(&o.value, o.sensitive) });
            if o.sensitive {
                j["sensitive"] = J::Bool(true);
            }
            if let Some(d) = &o.description {
                j["description"] = J::String(d.clone());
            }
            (o.name.clone(), j)
        })
        .collect();
    let variables: Map<String, J> = m
        .variables
        .values()
        .map(|v| {
            let mut j = Map::new();
            // A sensitive variable's default is a secret written in the topology.
            if let Some(d) = v
                .default
                .as_ref()
                .filter(|_| !v.sensitive)
                .and_then(|d| literal(&d.inner))
            {
                j.insert("default".into(), d);
            }
            if let Some(d) = &v.description {
                j.insert("description".into(), J::String(d.clone()));
            }
            if v.sensitive {
                j.insert("sensitive".into(), J::Bool(true));
            }
            (v.name.clone(), J::Object(j))
        })
        .collect();
    json!({ "outputs": outputs, "resources": resources, "module_calls": calls, "variables": variables })
}

fn body_json(body: &Body, sensitive: &dyn Fn(&str) -> bool) -> J {
    body.values()
        .map(|a| (a.name.clone(), expr_json(&a.expr, sensitive(&a.name))))
        .collect::<Map<_, _>>()
        .into()
}

/// Terraform's expression representation: `constant_value` for a literal, else the
/// references it makes (each with its shorter prefixes, as Terraform lists them).
fn expr_json(e: &Expr, sensitive: bool) -> J {
    let mut refs: Vec<String> = Vec::new();
    for r in references(e.file, &e.inner) {
        let forms = match r.target {
            RefTarget::Var(n) => vec![format!("var.{n}")],
            RefTarget::Local(n) => vec![format!("local.{n}")],
            RefTarget::Resource(a) => vec![a.to_string()],
            RefTarget::Module(n, Some(o)) => vec![format!("module.{n}.{o}"), format!("module.{n}")],
            RefTarget::Module(n, None) => vec![format!("module.{n}")],
            RefTarget::Other(root, attr) => vec![format!("{root}.{attr}")],
        };
        for f in forms {
            if !refs.contains(&f) {
                refs.push(f);
            }
        }
    }
    if !refs.is_empty() {
        return json!({ "references": refs });
    }
    if sensitive {
        return J::Object(Map::new());
    }
    match literal(&e.inner) {
        Some(v) => json!({ "constant_value": v }),
        None => J::Object(Map::new()),
    }
}

/// The JSON value of an expression made only of literals, or `None`.
fn literal(e: &Expression) -> Option<J> {
    Some(match e {
        Expression::Null(_) => J::Null,
        Expression::Bool(b) => J::Bool(*b.value()),
        Expression::Number(n) => {
            let n = n.value();
            n.as_i64().map(J::from).or_else(|| {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(J::Number)
            })?
        }
        Expression::String(s) => J::String(s.value().to_string()),
        Expression::StringTemplate(t) => {
            let mut out = String::new();
            for el in t.iter() {
                match el {
                    hcl_edit::template::Element::Literal(l) => out.push_str(l.value()),
                    _ => return None,
                }
            }
            J::String(out)
        }
        Expression::Parenthesis(p) => literal(p.inner())?,
        Expression::Array(a) => J::Array(a.iter().map(literal).collect::<Option<_>>()?),
        Expression::Object(o) => {
            let mut m = Map::new();
            for (k, v) in o.iter() {
                let key = match k {
                    ObjectKey::Ident(i) => i.value().to_string(),
                    ObjectKey::Expression(x) => match literal(x)? {
                        J::String(s) => s,
                        other => other.to_string(),
                    },
                };
                m.insert(key, literal(v.expr())?);
            }
            J::Object(m)
        }
        _ => return None,
    })
}
