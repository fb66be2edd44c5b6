//! Running one resource instance's action against its provider.

use super::{Failure, Partial};
use crate::plan::{Action, ResourceChange};
use standby_provider_sdk::{
    CreateRequest, CreateResponse, DeleteRequest, PlanRequest, Provider, ReadDataRequest,
    UpdateRequest, ValidationIssue, Value,
};
use std::sync::Arc;

/// What an action left: the new state value with the provider's private data (`None` when
/// the instance is gone), and what the provider warned about.
pub(crate) type Done = (Option<(Value, Vec<u8>)>, Vec<ValidationIssue>);

/// Performs the change.
pub(crate) async fn run(
    p: Arc<dyn Provider>,
    change: ResourceChange,
    config: Option<Value>,
) -> Result<Done, Failure> {
    let addr = change.addr.to_string();
    let type_name = change.addr.resource.resource.type_name.clone();
    // Providers see plain values: whatever they say may quote a secret of this instance.
    let mut secrets = change
        .after
        .as_ref()
        .map(Value::secrets)
        .unwrap_or_default();
    secrets.extend(config.as_ref().map(Value::secrets).unwrap_or_default());
    // The prior object too: a delete's error may quote what the provider was given.
    secrets.extend(
        change
            .before
            .as_ref()
            .map(Value::secrets)
            .unwrap_or_default(),
    );
    let fail = |summary: &str, detail: String| Failure {
        addr: addr.clone(),
        summary: Value::redact(summary, &secrets),
        detail: Value::redact(&detail, &secrets),
        partial: None,
    };
    let prior = change.before.as_ref().map(|v| v.deep_unmark().0);
    // The final planned state: the saved one, or a fresh provider plan over a configuration
    // that is now wholly known, checked against what was shown at plan time.
    let planned = match (&change.after, config) {
        (_, Some(cfg)) if change.action == Action::Read => Some(cfg),
        (Some(after), Some(cfg)) if !after.is_wholly_known() && change.action != Action::Read => {
            let (plain, paths) = cfg.deep_unmark();
            let resp = p
                .plan(PlanRequest {
                    type_name: type_name.clone(),
                    prior: if change.action.is_replace() {
                        None
                    } else {
                        prior.clone()
                    },
                    config: plain,
                    prior_private: if change.action.is_replace() {
                        Vec::new()
                    } else {
                        change.private.clone()
                    },
                })
                .await
                .map_err(|e| fail(&e.summary, e.detail))?;
            let paths = match p.schema().resources.get(&type_name) {
                Some(s) => s.with_copies(&paths),
                None => paths,
            };
            let fin = resp.planned.mark_paths(&paths);
            after.known_values_kept_in(&fin).map_err(|path| fail("Provider produced an inconsistent final plan", format!("attribute {path:?} was planned with one value and now has another; this is a bug in the provider")))?;
            Some(fin)
        }
        (Some(after), _) => Some(after.clone()),
        (None, _) => None,
    };
    let paths = planned
        .as_ref()
        .map(|v| v.deep_unmark().1)
        .unwrap_or_default();
    let plain = planned.as_ref().map(|v| v.deep_unmark().0);
    // Warnings, like failures, may quote a secret of this instance.
    let remark = |r: CreateResponse| {
        let warned = r
            .warnings
            .into_iter()
            .map(|i| ValidationIssue {
                summary: Value::redact(&i.summary, &secrets),
                detail: Value::redact(&i.detail, &secrets),
                ..i
            })
            .collect();
        (Some((r.state.mark_paths(&paths), r.private)), warned)
    };
    // What a failed create left is tainted; what a failed update left is the object as it is.
    let tainted = change.action != Action::Update;
    let e = |e: standby_provider_sdk::ProviderError| {
        let mut f = fail(&e.summary, e.detail);
        f.partial = e.partial.map(|r| {
            Box::new(Partial {
                value: r.state.mark_paths(&paths),
                private: r.private,
                tainted,
            })
        });
        f
    };
    let private = change.private.clone();
    let create = |planned: Option<Value>| CreateRequest {
        type_name: type_name.clone(),
        planned: planned.unwrap_or(Value::Null),
    };
    let delete = |prior: Option<Value>| DeleteRequest {
        type_name: type_name.clone(),
        state: prior.unwrap_or(Value::Null),
        private: private.clone(),
    };
    match change.action {
        Action::NoOp => Ok((planned.map(|v| (v, private.clone())), Vec::new())),
        Action::Create => Ok(remark(p.create(create(plain)).await.map_err(e)?)),
        Action::Update => Ok(remark(
            p.update(UpdateRequest {
                type_name: type_name.clone(),
                prior: prior.unwrap_or(Value::Null),
                planned: plain.unwrap_or(Value::Null),
                private: private.clone(),
            })
            .await
            .map_err(e)?,
        )),
        // The refresh found it gone: only its record goes; no provider call.
        Action::Delete if change.only_forgets() => Ok((None, Vec::new())),
        Action::Delete => {
            p.delete(delete(prior)).await.map_err(e)?;
            Ok((None, Vec::new()))
        }
        Action::DeleteThenCreate => {
            p.delete(delete(prior)).await.map_err(e)?;
            // The old object is gone: a create that leaves nothing leaves no record either.
            let created = p.create(create(plain)).await.map_err(|err| {
                let mut f = e(err);
                f.partial.get_or_insert_with(|| {
                    Box::new(Partial {
                        value: Value::Null,
                        private: Vec::new(),
                        tainted: false,
                    })
                });
                f
            })?;
            Ok(remark(created))
        }
        Action::CreateThenDelete => {
            // The old object is live and recorded: what a failed create left cannot take its
            // record (standby keeps one object per instance), so the failure names it.
            let created = p.create(create(plain)).await.map_err(|err| {
                let mut f = e(err);
                if let Some(left) = f.partial.take() {
                    f.detail.push_str(&format!(" The provider left a new object, which is not recorded because the old one still is; delete it by hand: {}.", id_of(&left.value)));
                }
                f
            })?;
            if let Err(err) = p.delete(delete(prior.clone())).await {
                // The replacement is what the configuration asks for: it takes the record, and
                // the old object, which still exists, is named for deletion by hand.
                let mut f = fail(
                    &format!(
                        "the replacement was created but the old object could not be deleted: {}",
                        err.summary
                    ),
                    format!("{} The replacement is recorded; the old object still exists and is no longer recorded, delete it by hand: {}.", err.detail, id_of(prior.as_ref().unwrap_or(&Value::Null))),
                );
                f.partial = Some(Box::new(Partial {
                    value: created.state.mark_paths(&paths),
                    private: created.private,
                    tainted: false,
                }));
                return Err(f);
            }
            Ok(remark(created))
        }
        Action::Read => {
            let cfg = plain.filter(Value::is_wholly_known).ok_or_else(|| {
                fail(
                    "data source configuration is still unknown",
                    "this is a bug in standby".into(),
                )
            })?;
            Ok(remark(
                p.read_data(ReadDataRequest {
                    type_name: type_name.clone(),
                    config: cfg,
                })
                .await
                .map_err(e)?,
            ))
        }
    }
}

/// How a failure names an object a person must delete: its `id`, or all of it.
fn id_of(v: &Value) -> String {
    match v.get("id") {
        Some(Value::String(id)) => format!("id {id:?}"),
        _ => "it has no id; its attributes are in the state as it was before this apply".into(),
    }
}
