//! An instance's prior object: as recorded, upgraded to the provider's current schema
//! version, adopted by an import, or refreshed (with the drift that shows), and the change the
//! provider plans from it.

use super::diff::{decide, Decision};
use super::model::{Action, PlanMode, Reason, ResourceChange};
use super::walk::Walker;
use crate::addr::AbsInstance;
use crate::config::Resource;
use crate::diag::Diagnostic;
use crate::eval::Phase;
use standby_provider_sdk::{ReadRequest, Value};

impl Walker<'_> {
    pub(super) async fn plan_managed(
        &mut self,
        addr: &AbsInstance,
        r: &Resource,
        provider: &str,
        schema: &standby_provider_sdk::Schema,
        config: Value,
    ) -> Option<ResourceChange> {
        let p = self.registry.get(provider)?.clone();
        let recorded = self.state.resources.get(addr).cloned();
        let mut private = recorded
            .as_ref()
            .map(|r| r.private.clone())
            .unwrap_or_default();
        let mut recorded_value = match &recorded {
            Some(st) => Some(self.upgraded(&*p, addr, r, st, schema).await?),
            None => None,
        };
        // A refresh-only plan records what is there and adopts nothing.
        let importing = match &recorded {
            Some(_) => None,
            None if self.opts.mode == PlanMode::RefreshOnly => None,
            None => self.import_id(addr),
        };
        if let Some(id) = &importing {
            let (v, imported_private) = self.import(&*p, addr, id, &config, schema).await?;
            recorded_value = Some(v);
            private = imported_private;
        }
        let mut prior = recorded_value.clone();
        if self.opts.refresh && self.opts.phase == Phase::Plan {
            if let Some(rec) = &recorded_value {
                // The marks of what was recorded (or just imported) go onto what is read.
                let (plain, paths) = rec.deep_unmark();
                match p
                    .read(ReadRequest {
                        type_name: addr.resource.resource.type_name.clone(),
                        state: plain,
                        private: private.clone(),
                    })
                    .await
                {
                    Ok(resp) => {
                        let secrets = rec.secrets();
                        self.warnings.extend(
                            resp.warnings
                                .iter()
                                .map(|i| super::diff::located(r, i, &secrets)),
                        );
                        private = resp.private;
                        if let Some(st) = self.refreshed.resources.get_mut(addr) {
                            st.private.clone_from(&private);
                        }
                        // The schema's marks too: a state recorded before an attribute was
                        // known to be sensitive gets its mark back.
                        prior = resp
                            .state
                            .map(|s| super::diff::mark_sensitive(s, schema, &paths));
                        if !prior.as_ref().is_some_and(|p| p.same_as(rec)) {
                            self.note_drift(addr, provider, rec, prior.as_ref());
                        }
                    }
                    Err(e) => {
                        // The provider saw the recorded secrets: its message may quote them.
                        let secrets = rec.secrets();
                        self.diags.push(Diagnostic::bare(
                            Value::redact(
                                &format!("Refreshing {addr} failed: {}", e.summary),
                                &secrets,
                            ),
                            Value::redact(&e.detail, &secrets),
                        ));
                        return None;
                    }
                }
            }
        }
        let forced = if recorded.as_ref().is_some_and(|st| st.tainted) {
            Some(Reason::new(
                "replace_because_tainted",
                "replace because it is tainted: the apply that created it failed",
            ))
        } else if self.opts.replace.iter().any(|t| t.matches(addr)) {
            Some(Reason::new(
                "replace_by_request",
                "replace because of --replace",
            ))
        } else {
            None
        };
        let decision: Decision = decide(
            &*p,
            addr,
            r,
            schema,
            recorded_value.as_ref(),
            prior.as_ref(),
            &private,
            config,
            forced,
            &mut self.warnings,
        )
        .await;
        match decision {
            Decision::Change(mut c) => {
                c.provider = provider.to_string();
                c.importing = importing;
                Some(*c)
            }
            Decision::Error(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    /// The id an `import` block or `standby import` gives this instance.
    fn import_id(&self, addr: &AbsInstance) -> Option<String> {
        self.config
            .root
            .imports
            .iter()
            .map(|i| (&i.to, &i.id))
            .chain(self.opts.imports.iter().map(|(a, id)| (a, id)))
            .find(|(a, _)| *a == addr)
            .map(|(_, id)| id.clone())
    }

    /// Reads the existing object `id` through its provider, as the instance's prior state.
    async fn import(
        &mut self,
        p: &dyn standby_provider_sdk::Provider,
        addr: &AbsInstance,
        id: &str,
        config: &Value,
        schema: &standby_provider_sdk::Schema,
    ) -> Option<(Value, Vec<u8>)> {
        let (plain, sensitive) = config.deep_unmark();
        let req = standby_provider_sdk::ImportRequest {
            type_name: addr.resource.resource.type_name.clone(),
            id: id.to_string(),
            config: plain,
        };
        match p.import(req).await {
            Ok(resp) => {
                // Every attribute of the schema is in a recorded state, null when unset, as
                // after a create: otherwise the plan would see a change that is no change.
                let mut state = resp.state;
                if let Value::Map(m) = &mut state {
                    for k in schema.attributes.keys() {
                        m.entry(k.clone()).or_insert(Value::Null);
                    }
                }
                // The object read has no marks of its own: the configuration's, their
                // copies, and every attribute the schema calls sensitive, as a plan marks them.
                Some((
                    super::diff::mark_sensitive(state, schema, &sensitive),
                    resp.private,
                ))
            }
            Err(e) => {
                self.diags.push(Diagnostic::bare(
                    format!("Cannot import {id:?} as {addr}: {}", e.summary),
                    format!("{} Nothing was changed.", e.detail),
                ));
                None
            }
        }
    }

    /// The recorded value in the provider's current schema: as in Terraform, it goes through
    /// the provider's upgrade (with the recorded version) before anything else, and a
    /// refresh-only plan records the upgraded value. A state a newer provider wrote is refused.
    async fn upgraded(
        &mut self,
        p: &dyn standby_provider_sdk::Provider,
        addr: &AbsInstance,
        r: &Resource,
        st: &crate::state::InstanceState,
        schema: &standby_provider_sdk::Schema,
    ) -> Option<Value> {
        let type_name = &addr.resource.resource.type_name;
        let current = p.schema_version(type_name);
        // A state recorded before standby kept versions is in the schema of its time, which
        // standby then always upgraded as the current one.
        let version = st.schema_version.unwrap_or(current);
        if version > current {
            self.diags.push(Diagnostic::at(
                r.span.clone(),
                format!("Resource instance {addr} managed by a newer provider version"),
                format!("Its state was written with schema version {version}; the provider installed now has version {current}. Select a provider version that knows it (`standby init -upgrade` with constraints that allow it); nothing was changed."),
            ));
            return None;
        }
        let req = standby_provider_sdk::UpgradeRequest {
            type_name: type_name.clone(),
            version,
            state: Value::from_json(&st.attributes),
        };
        match p.upgrade(req).await {
            Ok(v) => {
                let v = super::diff::mark_sensitive(v, schema, &st.sensitive_attributes);
                if let Some(r) = self.refreshed.resources.get_mut(addr) {
                    let (plain, paths) = v.deep_unmark();
                    r.attributes = plain.to_json();
                    r.sensitive_attributes = paths;
                    r.schema_version = Some(current);
                }
                Some(v)
            }
            Err(e) => {
                let secrets = st.value().secrets();
                self.diags.push(Diagnostic::at(
                    r.span.clone(),
                    Value::redact(&format!(
                        "Upgrading the state of {addr} from schema version {version} to {current} failed: {}",
                        e.summary
                    ), &secrets),
                    Value::redact(&format!("{} Nothing was changed; the state keeps the recorded version.", e.detail), &secrets),
                ));
                None
            }
        }
    }

    fn note_drift(
        &mut self,
        addr: &AbsInstance,
        provider: &str,
        recorded: &Value,
        now: Option<&Value>,
    ) {
        let (action, text) = match now {
            None => (Action::Delete, "deleted outside standby"),
            Some(_) => (Action::Update, "changed outside standby"),
        };
        match now {
            None => {
                self.refreshed.resources.remove(addr);
            }
            Some(v) => {
                if let Some(st) = self.refreshed.resources.get_mut(addr) {
                    let (plain, paths) = v.deep_unmark();
                    st.attributes = plain.to_json();
                    st.sensitive_attributes = paths;
                }
            }
        }
        self.drift.push(ResourceChange {
            reason: Some(Reason::new("drift", text)),
            after: now.cloned(),
            ..ResourceChange::new(
                addr.clone(),
                provider.to_string(),
                action,
                Some(recorded.clone()),
            )
        });
    }
}
