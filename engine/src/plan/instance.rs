//! Evaluating one resource instance's configuration: shared by the plan walk and by apply,
//! which re-evaluates instances whose configuration was partly unknown at plan time.

use super::model::NodeKey;
use super::values::{NodeScope, Values};
use crate::addr::{InstanceKey, ModuleInstance};
use crate::config::{Config, Module, Resource};
use crate::diag::{Diagnostic, Diagnostics};
use crate::eval::{Evaluator, Iteration, Phase};
use standby_provider_sdk::{BlockNesting, Schema, Value};
use std::collections::BTreeMap;

/// Where an instance lives and how to evaluate it.
pub(crate) struct InstanceCtx<'a> {
    pub config: &'a Config,
    pub values: &'a Values,
    pub module: &'a ModuleInstance,
    pub cfg: &'a Module,
    pub resource: &'a Resource,
    pub schema: &'a Schema,
    pub env: &'a str,
    pub phase: Phase,
}

/// The instance's configuration as an object: converted to the schema's types, with schema
/// sensitivity applied; plus the nodes it referenced.
pub(crate) fn instance_config(
    cx: &InstanceCtx<'_>,
    key: Option<&InstanceKey>,
    each_value: Option<Value>,
) -> (Result<Value, Diagnostics>, Vec<NodeKey>) {
    let scope = NodeScope::new(cx.values, cx.config, cx.module, cx.cfg, cx.env, cx.phase);
    let mut diags = Diagnostics::default();
    let mut out = BTreeMap::new();
    for (name, a) in &cx.resource.body {
        let mut ev = Evaluator::new(
            &scope,
            a.expr.file,
            Iteration::for_key(key, each_value.clone()),
        );
        let v = match ev.eval_kept(&a.expr.inner) {
            Ok(v) => v,
            Err(e) => {
                diags.push(Diagnostic::from(e));
                continue;
            }
        };
        let Some(attr) = cx.schema.attributes.get(name) else {
            continue;
        };
        match attr.ty.convert(&v) {
            Ok(c) => {
                out.insert(name.clone(), if attr.sensitive { c.sensitive() } else { c });
            }
            Err(expected) => diags.push(Diagnostic::at(
                a.expr.span(),
                "Incorrect attribute value type",
                format!("{name} must be {expected}; found {}.", v.type_name()),
            )),
        }
    }
    // Nested blocks arrive as attributes named after the block: an object, a list of objects
    // in order, or a map of objects by label, as their nesting says.
    let mut repeated: BTreeMap<String, Value> = BTreeMap::new();
    for (kind, labels, body, _) in &cx.resource.blocks {
        let Some(bs) = cx.schema.blocks.get(kind) else {
            continue;
        };
        let mut obj = BTreeMap::new();
        for (name, a) in body {
            let mut ev = Evaluator::new(
                &scope,
                a.expr.file,
                Iteration::for_key(key, each_value.clone()),
            );
            match ev.eval_kept(&a.expr.inner) {
                Ok(v) => match bs
                    .attributes
                    .get(name)
                    .map(|at| (at.ty.convert(&v), at.sensitive))
                {
                    Some((Ok(c), sensitive)) => {
                        obj.insert(name.clone(), if sensitive { c.sensitive() } else { c });
                    }
                    Some((Err(expected), _)) => diags.push(Diagnostic::at(
                        a.expr.span(),
                        "Incorrect attribute value type",
                        format!("{kind}.{name} must be {expected}; found {}.", v.type_name()),
                    )),
                    None => {}
                },
                Err(e) => diags.push(Diagnostic::from(e)),
            }
        }
        let obj = Value::Map(obj);
        match cx.schema.nesting.get(kind).copied().unwrap_or_default() {
            BlockNesting::Single => {
                out.insert(kind.clone(), obj);
            }
            BlockNesting::List => {
                let list = repeated
                    .entry(kind.clone())
                    .or_insert_with(|| Value::List(Vec::new()));
                if let Value::List(items) = list {
                    items.push(obj);
                }
            }
            BlockNesting::Map => {
                let map = repeated
                    .entry(kind.clone())
                    .or_insert_with(|| Value::Map(BTreeMap::new()));
                if let (Value::Map(m), Some(label)) = (map, labels.first()) {
                    m.insert(label.clone(), obj);
                }
            }
        }
    }
    out.extend(repeated);
    let deps = scope.take_deps();
    (diags.into_result(Value::Map(out)), deps)
}
