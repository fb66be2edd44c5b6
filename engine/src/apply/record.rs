//! What the state records of an instance: after its action, and for the instances a plan
//! left unchanged but found different (a data source read, an upgraded schema version, new
//! private data).

use crate::plan::{Action, Plan, ResourceChange};
use crate::state::{InstanceState, State};
use standby_provider_sdk::Value;

/// The state entry of a planned instance with value `v` and the provider's private data.
pub fn record(change: &ResourceChange, v: &Value, private: &[u8]) -> InstanceState {
    let (plain, paths) = v.deep_unmark();
    InstanceState {
        provider: change.provider.clone(),
        attributes: plain.to_json(),
        sensitive_attributes: paths,
        dependencies: change.dependencies.clone(),
        create_before_destroy: change.create_before_destroy,
        site: change.site.clone(),
        schema_version: change.schema_version,
        private: private.to_vec(),
        tainted: false,
    }
}

/// Records what the plan found of the instances it left unchanged.
pub(super) fn unchanged(plan: &Plan, state: &mut State) {
    // Data sources read at plan time are recorded as they were read, and an unchanged
    // instance whose plan upgraded its schema version or refreshed the provider's private
    // data keeps what the plan found: otherwise every run would upgrade it again.
    for c in plan.changes.iter().filter(|c| c.action == Action::NoOp) {
        let Some(after) = &c.after else { continue };
        if c.addr.resource.resource.mode == crate::addr::Mode::Data {
            state
                .resources
                .insert(c.addr.clone(), record(c, after, &[]));
        } else if let Some(st) = state.resources.get_mut(&c.addr) {
            if st.schema_version != c.schema_version || st.private != c.private {
                // Only what the plan found: the rest of the record (a taint, dependencies)
                // stands, as for an instance a -target left out.
                let fresh = record(c, after, &c.private);
                st.attributes = fresh.attributes;
                st.sensitive_attributes = fresh.sensitive_attributes;
                st.schema_version = fresh.schema_version;
                st.private = fresh.private;
            }
        }
    }
}
