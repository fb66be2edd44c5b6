//! Choosing an action for one managed resource instance, and saying why.

use super::model::{Action, Reason, ResourceChange};
use crate::addr::AbsInstance;
use crate::config::Resource;
use crate::diag::Diagnostic;
use standby_provider_sdk::{PlanRequest, Provider, Schema, Value};
use std::collections::BTreeMap;

pub(crate) enum Decision {
    Change(Box<ResourceChange>),
    Error(Diagnostic),
}

/// Attribute names whose values differ between two objects.
pub(crate) fn changed_attrs(a: &Value, b: &Value) -> Vec<String> {
    let empty = BTreeMap::new();
    let am = match a.unmarked() {
        Value::Map(m) => m,
        _ => &empty,
    };
    let bm = match b.unmarked() {
        Value::Map(m) => m,
        _ => &empty,
    };
    let mut keys: Vec<&String> = am.keys().chain(bm.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| {
            let x = am.get(*k).unwrap_or(&Value::Null);
            let y = bm.get(*k).unwrap_or(&Value::Null);
            !x.same_as(y)
        })
        .cloned()
        .collect()
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A provider's issue at the attribute it names, else at the resource; redacted of
/// `secrets`, as the provider saw the plain values.
pub(crate) fn located(
    r: &Resource,
    i: &standby_provider_sdk::ValidationIssue,
    secrets: &[String],
) -> Diagnostic {
    let span = i
        .attribute
        .as_ref()
        .and_then(|a| r.body.get(a.split(['.', '[']).next().unwrap_or(a)))
        .map_or(r.span.clone(), |a| a.expr.span());
    Diagnostic::at(
        span,
        Value::redact(&i.summary, secrets),
        Value::redact(&i.detail, secrets),
    )
}

/// A provider's message about `addr` (a data source read), redacted of `secrets`.
pub(crate) fn about(
    addr: &AbsInstance,
    summary: &str,
    detail: &str,
    secrets: &[String],
) -> Diagnostic {
    Diagnostic::bare(
        Value::redact(&format!("{addr}: {summary}"), secrets),
        Value::redact(detail, secrets),
    )
}

/// Asks the provider for the planned state and derives the action.
#[allow(clippy::too_many_arguments)] // One call site; a struct would only rename these.
pub(crate) async fn decide(
    p: &dyn Provider,
    addr: &AbsInstance,
    r: &Resource,
    schema: &Schema,
    recorded: Option<&Value>,
    prior: Option<&Value>,
    prior_private: &[u8],
    mut config: Value,
    forced: Option<Reason>,
    warned: &mut Vec<Diagnostic>,
) -> Decision {
    // A tainted object is replaced by a new one: planned as a create, as Terraform plans it.
    let tainted = forced
        .as_ref()
        .is_some_and(|r| r.code == "replace_because_tainted");
    // ignore_changes: the recorded value stands in for the configured one (not for a tainted
    // object, whose replacement is planned from the configuration, as in Terraform).
    if let (Some(prior), Value::Map(cfg), false) = (prior, &mut config, tainted) {
        for (name, a) in &schema.attributes {
            if !(a.required || a.optional) {
                continue;
            }
            if r.lifecycle.ignore_all || r.lifecycle.ignore_changes.contains(name) {
                cfg.insert(
                    name.clone(),
                    prior.get(name).cloned().unwrap_or(Value::Null),
                );
            }
        }
    }
    let (plain, mut sensitive_paths) = config.deep_unmark();
    if let Some(p) = prior {
        sensitive_paths.extend(p.deep_unmark().1);
    }
    // The provider sees the plain configuration and prior: its messages may quote a secret.
    let mut secrets = config.secrets();
    secrets.extend(prior.map(Value::secrets).unwrap_or_default());
    let resp = match p
        .plan(PlanRequest {
            type_name: addr.resource.resource.type_name.clone(),
            prior: prior.filter(|_| !tainted).map(|v| v.deep_unmark().0),
            config: plain,
            prior_private: if tainted { &[] } else { prior_private }.to_vec(),
        })
        .await
    {
        Ok(resp) => {
            warned.extend(resp.warnings.iter().map(|i| located(r, i, &secrets)));
            resp
        }
        Err(e) => {
            return Decision::Error(Diagnostic::at(
                r.span.clone(),
                Value::redact(&format!("Planning {addr} failed: {}", e.summary), &secrets),
                Value::redact(&e.detail, &secrets),
            ));
        }
    };
    let planned = mark_sensitive(resp.planned, schema, &sensitive_paths);
    let mut change = ResourceChange {
        after: Some(planned.clone()),
        requires_replace: resp.requires_replace.clone(),
        create_before_destroy: r.lifecycle.create_before_destroy,
        schema_version: Some(p.schema_version(&addr.resource.resource.type_name)),
        private: prior_private.to_vec(),
        ..ResourceChange::new(addr.clone(), String::new(), Action::NoOp, prior.cloned())
    };
    let replace_action = if r.lifecycle.create_before_destroy {
        Action::CreateThenDelete
    } else {
        Action::DeleteThenCreate
    };
    let Some(prior) = prior else {
        change.action = Action::Create;
        change.reason = Some(if recorded.is_some() {
            Reason::new(
                "create_because_deleted_outside",
                "create because it was deleted outside standby",
            )
        } else {
            Reason::new(
                "create_because_new",
                "create because it is not in the state",
            )
        });
        return Decision::Change(Box::new(change));
    };
    if let Some(reason) = forced {
        change.action = replace_action;
        change.reason = Some(reason);
    } else if !resp.requires_replace.is_empty() {
        change.action = replace_action;
        let n = &resp.requires_replace;
        change.reason = Some(Reason::new(
            "replace_because_cannot_update",
            format!("replace because {} cannot be updated in place", quoted(n)),
        ));
    } else if !planned.same_as(prior) {
        change.action = Action::Update;
        // Drift: what the configuration sets was changed outside, and the plan puts back the
        // recorded values (what the provider computes, such as a new digest, may differ).
        let settable_same = |a: &Value, b: &Value| {
            schema
                .attributes
                .keys()
                .filter(|k| schema.is_settable(k))
                .all(|k| {
                    a.get(k)
                        .unwrap_or(&Value::Null)
                        .same_as(b.get(k).unwrap_or(&Value::Null))
                })
        };
        let drifted = recorded.is_some_and(|rec| {
            !settable_same(rec, prior) && (planned.same_as(rec) || settable_same(&planned, rec))
        });
        let all = changed_attrs(prior, &planned);
        // Name what the user controls; computed attributes follow from it.
        let settable: Vec<String> = all
            .iter()
            .filter(|a| schema.is_settable(a))
            .cloned()
            .collect();
        let attrs = if settable.is_empty() { all } else { settable };
        change.reason = Some(if drifted {
            Reason::new(
                "update_because_drift",
                format!(
                    "update because of drift: {} changed outside standby",
                    quoted(&attrs)
                ),
            )
        } else {
            Reason::new(
                "update_because_config",
                format!(
                    "update because the configuration changed {}",
                    quoted(&attrs)
                ),
            )
        });
    }
    if change.action.is_replace() && r.lifecycle.prevent_destroy {
        return Decision::Error(Diagnostic::at(
            r.span.clone(),
            format!("Instance {addr} cannot be destroyed"),
            format!("The plan must replace it ({}), but its lifecycle sets prevent_destroy = true. Change the configuration so it can be updated in place, or remove prevent_destroy.", change.reason.as_ref().map_or("", |r| r.text.as_str())),
        ));
    }
    Decision::Change(Box::new(change))
}

/// `v` with the marks of `paths`, of the attributes that copy them, and of every attribute
/// the schema calls sensitive: what a provider returns carries no marks of its own.
pub(crate) fn mark_sensitive(
    v: Value,
    schema: &standby_provider_sdk::Schema,
    paths: &[standby_provider_sdk::AttrPath],
) -> Value {
    // A copy of an attribute is as sensitive as what it copies.
    let mut v = v.mark_paths(&schema.with_copies(paths));
    if let Value::Map(m) = &mut v {
        for (name, a) in &schema.attributes {
            if a.sensitive {
                if let Some(x) = m.remove(name) {
                    m.insert(name.clone(), x.sensitive());
                }
            }
        }
    }
    v
}
