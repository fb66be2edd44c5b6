//! How values cross the protocol: the configuration shaped by the schema's nesting, Terraform's
//! proposed new state, the configuration a planned value came from, the plan rules, attribute
//! paths and diagnostics.

use crate::cty::{self, Type};
use crate::proto::v6 as pb;
use crate::schema::{Block, Nesting};
use standby_provider_sdk::{ProviderError, Value};
use std::collections::BTreeMap;

/// An attribute path as standby writes it: `a.b[0]["k"]`.
pub(crate) fn path(p: Option<&pb::AttributePath>) -> String {
    use pb::attribute_path::step::Selector;
    let mut out = String::new();
    for s in p.map(|p| p.steps.as_slice()).unwrap_or_default() {
        match &s.selector {
            Some(Selector::AttributeName(n)) if out.is_empty() => out.push_str(n),
            Some(Selector::AttributeName(n)) => {
                out.push('.');
                out.push_str(n);
            }
            Some(Selector::ElementKeyString(k)) => out.push_str(&format!("[{k:?}]")),
            Some(Selector::ElementKeyInt(i)) => out.push_str(&format!("[{i}]")),
            None => {}
        }
    }
    out
}

/// The value at an attribute path.
fn at<'v>(v: &'v Value, p: &pb::AttributePath) -> Option<&'v Value> {
    use pb::attribute_path::step::Selector;
    p.steps.iter().try_fold(v.unmarked(), |v, s| {
        let next = match (&s.selector, v) {
            (Some(Selector::AttributeName(n) | Selector::ElementKeyString(n)), Value::Map(m)) => {
                m.get(n)
            }
            (Some(Selector::ElementKeyInt(i)), Value::List(l)) => {
                usize::try_from(*i).ok().and_then(|i| l.get(i))
            }
            _ => None,
        };
        next.map(Value::unmarked)
    })
}

/// Whether the value at `p` differs between the prior state and the plan (unknown differs).
pub(crate) fn changed(prior: &Value, planned: &Value, p: &pb::AttributePath) -> bool {
    match (at(prior, p), at(planned, p)) {
        (_, Some(Value::Unknown)) => true,
        (a, b) => a.unwrap_or(&Value::Null) != b.unwrap_or(&Value::Null),
    }
}

/// The provider's error diagnostics as one error; warnings do not fail a call.
pub(crate) fn diagnostics(name: &str, ds: &[pb::Diagnostic]) -> Result<(), ProviderError> {
    let errors: Vec<String> = ds
        .iter()
        .filter(|d| d.severity == pb::diagnostic::Severity::Error as i32)
        .map(|d| {
            let at = path(d.attribute.as_ref());
            let at = if at.is_empty() {
                String::new()
            } else {
                format!(" (at {at})")
            };
            if d.detail.trim().is_empty() {
                format!("{}{at}.", d.summary.trim_end_matches('.'))
            } else {
                format!("{}{at}: {}", d.summary, d.detail)
            }
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    Err(ProviderError::new(
        format!("the provider {name} reported an error"),
        errors.join("\n"),
    ))
}

/// A provider diagnostic as an issue: the attribute it names, its summary and detail.
pub(crate) fn issue(d: &pb::Diagnostic) -> standby_provider_sdk::ValidationIssue {
    standby_provider_sdk::ValidationIssue {
        attribute: Some(path(d.attribute.as_ref())).filter(|p| !p.is_empty()),
        summary: d.summary.clone(),
        detail: d.detail.clone(),
    }
}

/// The warnings among a call's diagnostics.
pub(crate) fn warnings(ds: &[pb::Diagnostic]) -> Vec<standby_provider_sdk::ValidationIssue> {
    ds.iter()
        .filter(|d| d.severity == pb::diagnostic::Severity::Warning as i32)
        .map(issue)
        .collect()
}

pub(crate) fn dynamic(v: &Value, ty: &Type) -> Result<pb::DynamicValue, ProviderError> {
    Ok(pb::DynamicValue {
        msgpack: cty::encode(v, ty)
            .map_err(|e| ProviderError::new("cannot encode a value for the provider", e.0))?,
        json: Vec::new(),
    })
}

pub(crate) fn undynamic(
    call: &'static str,
    d: Option<&pb::DynamicValue>,
    ty: &Type,
) -> Result<Value, ProviderError> {
    let Some(d) = d else { return Ok(Value::Null) };
    if d.msgpack.is_empty() && !d.json.is_empty() {
        let j: serde_json::Value = serde_json::from_slice(&d.json).map_err(|e| {
            ProviderError::new(
                format!("the provider sent bad JSON in {call}"),
                e.to_string(),
            )
        })?;
        return Ok(Value::from_json(&j));
    }
    if d.msgpack.is_empty() {
        return Ok(Value::Null);
    }
    cty::decode(&d.msgpack, ty).map_err(|e| {
        ProviderError::new(
            format!("the provider sent a value standby cannot read in {call}"),
            e.0,
        )
    })
}

fn get(v: &Value, k: &str) -> Value {
    match v.unmarked() {
        Value::Map(m) => m.get(k).cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// The configuration in the shape the schema gives it. standby's configuration holds one
/// object per nested block type; a provider expects a list or set of them (the legacy SDK
/// declares even a single block as a list of one), an empty collection for none, and a group
/// block's object even when it is absent.
pub(crate) fn normalize(block: &Block, config: &Value) -> Value {
    let Value::Map(m) = config.unmarked() else {
        return config.clone();
    };
    let mut out = m.clone();
    for (k, nb) in &block.blocks {
        let v = m.get(k).cloned().unwrap_or(Value::Null);
        let shaped = match (nb.nesting, v) {
            (Nesting::List | Nesting::Set, Value::Null) => Value::List(Vec::new()),
            (Nesting::List | Nesting::Set, v @ Value::Map(_)) => {
                Value::List(vec![normalize(&nb.block, &v)])
            }
            (Nesting::List | Nesting::Set, Value::List(items)) => {
                Value::List(items.iter().map(|i| normalize(&nb.block, i)).collect())
            }
            (Nesting::Map, Value::Null) => Value::Map(BTreeMap::new()),
            (Nesting::Group, Value::Null) => normalize(&nb.block, &Value::Map(BTreeMap::new())),
            (Nesting::Single | Nesting::Group, v @ Value::Map(_)) => normalize(&nb.block, &v),
            (_, v) => v,
        };
        out.insert(k.clone(), shaped);
    }
    Value::Map(out)
}

/// Terraform's proposed new state (`objchange.ProposedNew`): the configuration, with what the
/// configuration leaves unset of computed attributes taken from the prior state, into nested
/// blocks (single and group blocks by name, list blocks by position).
pub(crate) fn proposed(block: &Block, prior: &Value, config: &Value) -> Value {
    if matches!(config.unmarked(), Value::Null) {
        return Value::Null;
    }
    let mut out = BTreeMap::new();
    for (k, a) in &block.attributes {
        let c = get(config, k);
        let keep_prior = a.computed && matches!(c, Value::Null);
        out.insert(k.clone(), if keep_prior { get(prior, k) } else { c });
    }
    for (k, nb) in &block.blocks {
        let (c, p) = (get(config, k), get(prior, k));
        let merged = match (nb.nesting, c, p) {
            (Nesting::Single | Nesting::Group, c @ Value::Map(_), p) => proposed(&nb.block, &p, &c),
            (Nesting::List, Value::List(cs), p) => {
                let ps = match p {
                    Value::List(ps) => ps,
                    _ => Vec::new(),
                };
                let at = |i: usize| ps.get(i).cloned().unwrap_or(Value::Null);
                Value::List(
                    cs.iter()
                        .enumerate()
                        .map(|(i, c)| proposed(&nb.block, &at(i), c))
                        .collect(),
                )
            }
            (_, c, _) => c,
        };
        out.insert(k.clone(), merged);
    }
    Value::Map(out)
}

/// The first attribute the configuration sets to a known value that the plan changed
/// (Terraform's rule, checked on string, number and bool attributes, compared as the
/// provider's types: a `"1"` written for a number is 1).
pub(crate) fn overridden(block: &Block, config: &Value, planned: &Value) -> Option<String> {
    block.attributes.iter().find_map(|(k, a)| {
        if a.computed || !matches!(a.ty, Type::String | Type::Number | Type::Bool) {
            return None;
        }
        let cv = get(config, k).deep_unmark().0;
        if matches!(cv, Value::Null) || !cv.is_wholly_known() {
            return None;
        }
        let as_typed = |v: &Value| cty::encode(v, &a.ty).ok();
        let pv = get(planned, k).deep_unmark().0;
        (as_typed(&cv) != as_typed(&pv)).then(|| k.clone())
    })
}

/// The configuration a planned value came from, as far as it shows: computed-only attributes
/// and values still unknown in computed ones are unset.
pub(crate) fn config_of(block: &Block, planned: &Value) -> Value {
    let Value::Map(m) = planned.unmarked() else {
        return planned.clone();
    };
    let mut out = BTreeMap::new();
    for (k, a) in &block.attributes {
        let v = m.get(k).cloned().unwrap_or(Value::Null);
        let set_by_config = a.required || a.optional;
        let keep = set_by_config && !(a.computed && matches!(v, Value::Unknown));
        out.insert(k.clone(), if keep { v } else { Value::Null });
    }
    for (k, nb) in &block.blocks {
        let v = m.get(k).cloned().unwrap_or(Value::Null);
        let inner = match v {
            Value::List(items) => {
                Value::List(items.iter().map(|i| config_of(&nb.block, i)).collect())
            }
            Value::Map(_) if matches!(nb.nesting, Nesting::Single | Nesting::Group) => {
                config_of(&nb.block, &v)
            }
            other => other,
        };
        out.insert(k.clone(), inner);
    }
    Value::Map(out)
}
