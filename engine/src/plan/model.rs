//! The plan: resource changes with reasons, and the execution graph that apply runs.
//!
//! A saved plan (`plan --out FILE`) is this structure serialised with full fidelity, unknown
//! and sensitive marks included. The public `--json` form is derived from it in `json.rs`.

use super::failover_settings::Approval;
use super::health_check::HealthCheck;
use crate::addr::{AbsInstance, AbsResource, ModuleInstance};
use crate::state::b64;
pub use crate::state::{StepKind, SwitchKind};
use serde::{Deserialize, Serialize};
use standby_provider_sdk::{ReplicationMode, Value};
use std::collections::BTreeMap;

/// The saved plan format's version. 2: the health check is a typed object whose targets keep
/// their sensitive mark. 3: a switch's approval is `"auto"` or `"manual"` (was a boolean),
/// its mode and kinds typed.
pub const PLAN_FORMAT_VERSION: u32 = 3;

/// What happens to one resource instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Nothing.
    NoOp,
    /// Create it.
    Create,
    /// Read a data source during apply.
    Read,
    /// Update it in place.
    Update,
    /// Delete it.
    Delete,
    /// Replace it, creating the new object first.
    CreateThenDelete,
    /// Replace it, deleting the old object first.
    DeleteThenCreate,
}

impl Action {
    /// Terraform's `change.actions` list.
    pub fn terraform_actions(self) -> &'static [&'static str] {
        match self {
            Action::NoOp => &["no-op"],
            Action::Create => &["create"],
            Action::Read => &["read"],
            Action::Update => &["update"],
            Action::Delete => &["delete"],
            Action::CreateThenDelete => &["create", "delete"],
            Action::DeleteThenCreate => &["delete", "create"],
        }
    }

    /// True for both kinds of replace.
    pub fn is_replace(self) -> bool {
        matches!(self, Action::CreateThenDelete | Action::DeleteThenCreate)
    }
}

/// Why an action was chosen: a stable code for tools and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// A stable identifier, such as `replace_because_cannot_update`.
    pub code: String,
    /// A sentence, such as `replace because "filename" cannot be updated in place`.
    pub text: String,
}

impl Reason {
    pub(crate) fn new(code: &str, text: impl Into<String>) -> Self {
        Reason {
            code: code.to_string(),
            text: text.into(),
        }
    }
}

/// The planned change of one resource instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceChange {
    /// The instance.
    pub addr: AbsInstance,
    /// The provider that manages it.
    pub provider: String,
    /// What happens.
    pub action: Action,
    /// Why.
    pub reason: Option<Reason>,
    /// The state before, with sensitive marks.
    #[serde(with = "marked::opt")]
    pub before: Option<Value>,
    /// The state after, with unknown and sensitive marks.
    #[serde(with = "marked::opt")]
    pub after: Option<Value>,
    /// Attributes that force the replace.
    #[serde(default)]
    pub requires_replace: Vec<String>,
    /// Resources its configuration references, recorded in state.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// Whether replacement creates first.
    #[serde(default)]
    pub create_before_destroy: bool,
    /// The site it runs at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The address the state recorded it at, when a `moved` block moved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_address: Option<AbsInstance>,
    /// The id of the existing object an `import` adopts as this instance; `before` is
    /// what the provider read of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importing: Option<String>,
    /// The version of the provider's schema `before` and `after` are in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u64>,
    /// The provider's private data for the prior object, given back to it by the apply.
    #[serde(default, with = "b64", skip_serializing_if = "Vec::is_empty")]
    pub private: Vec<u8>,
}

/// A node of the execution graph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeKey {
    /// One resource instance.
    Instance {
        /// The instance.
        addr: AbsInstance,
    },
    /// All instances of a resource: reached when every one of them is done.
    Resource {
        /// The resource.
        addr: AbsResource,
    },
    /// A local value of a module instance.
    Local {
        /// The module instance.
        module: ModuleInstance,
        /// The local's name.
        name: String,
    },
    /// An output of a module instance.
    Output {
        /// The module instance.
        module: ModuleInstance,
        /// The output's name.
        name: String,
    },
    /// The input variables of a (non-root) module instance.
    ModuleVars {
        /// The module instance.
        module: ModuleInstance,
    },
    /// The value of a failover group, `failover.NAME`, which traffic resources read.
    Failover {
        /// The group.
        name: String,
    },
    /// One step of a failover group's switch.
    Step {
        /// The group.
        group: String,
        /// The step.
        step: StepKind,
    },
}

/// A member resource of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRef {
    /// The member resource instance.
    pub addr: AbsInstance,
    /// Its provider.
    pub provider: String,
}

impl MemberRef {
    /// The member at `site` as its provider sees it, with `state` (its attributes, unmarked;
    /// null when unknown).
    pub fn member(
        &self,
        site: &str,
        state: Option<&standby_provider_sdk::Value>,
    ) -> standby_provider_sdk::Member {
        standby_provider_sdk::Member {
            site: site.to_string(),
            type_name: self.addr.resource.resource.type_name.clone(),
            state: state.map_or(standby_provider_sdk::Value::Null, |v| v.deep_unmark().0),
        }
    }
}

/// A hook command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookSpec {
    /// `before_fence`, `after_promote` or `after_switch`.
    pub when: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Which of `command` came from sensitive values: shown as `(sensitive value)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<bool>,
}

impl HookSpec {
    /// The arguments that came from sensitive values.
    pub fn secrets(&self) -> Vec<String> {
        self.command
            .iter()
            .zip(&self.sensitive)
            .filter(|(_, s)| **s)
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// The command as plans, outputs and the switch history show it.
    pub fn shown(&self) -> String {
        self.command
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if self.sensitive.get(i).copied().unwrap_or(false) {
                    "(sensitive value)"
                } else {
                    a.as_str()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What plan time observed of the members, for the data-loss estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Whether the target answered and is healthy.
    pub target_healthy: bool,
    /// The target's lag in bytes.
    pub lag_bytes: u64,
    /// The target's lag in seconds.
    pub lag_seconds: f64,
    /// Whether the target is an in-sync synchronous standby.
    pub in_sync: bool,
    /// Whether the current primary answered.
    pub primary_reachable: bool,
    /// Whether `lag_bytes` was measured against the current primary. A standby cut off from
    /// its primary only knows what it received, so its own lag figure says nothing of the WAL
    /// it never got: then the data loss is unknown, never 0 B.
    #[serde(default)]
    pub lag_known: bool,
}

impl Estimate {
    /// The lag in words: bytes and seconds, or why it is unknown.
    pub fn lag_text(&self) -> String {
        if self.lag_known {
            format!(
                "{} / {:.1}s behind",
                crate::units::human_bytes(self.lag_bytes),
                self.lag_seconds
            )
        } else if !self.target_healthy {
            "lag unknown: the target does not answer".into()
        } else {
            "lag unknown: the current primary does not answer".into()
        }
    }
}

/// A failover group's evaluated settings, for policy checks and parity, whether or not it
/// switches.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupSummary {
    /// The active site after the plan.
    pub active: String,
    /// Member sites.
    pub sites: Vec<String>,
    /// Member resource addresses by site.
    #[serde(default)]
    pub members: BTreeMap<String, String>,
    /// `sync` or `async`.
    pub mode: ReplicationMode,
    /// `manual` or `auto`.
    pub approval: Approval,
    /// `max_lag` in bytes.
    pub max_lag_bytes: Option<crate::units::ByteSize>,
    /// `rpo` in seconds.
    pub rpo_seconds: Option<f64>,
    /// `rto` in seconds.
    pub rto_seconds: Option<f64>,
    /// `health_check` settings.
    pub health_check: HealthCheck,
    /// `verify.checksum`.
    pub checksum: Vec<String>,
    /// Whether a `verify` block is present.
    pub has_verify: bool,
    /// Traffic resources (addresses) that read the group.
    pub traffic: Vec<String>,
}

/// The planned switch of one failover group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SwitchPlan {
    /// The group.
    pub group: String,
    /// What kind of switch.
    pub kind: SwitchKind,
    /// The site active before, if any.
    pub from: Option<String>,
    /// The site active after.
    pub to: String,
    /// The epoch after.
    pub epoch: u64,
    /// Members by site.
    pub members: BTreeMap<String, MemberRef>,
    /// `sync` or `async`.
    pub mode: ReplicationMode,
    /// Promotion beyond this lag needs `--accept-data-loss`.
    pub max_lag_bytes: Option<crate::units::ByteSize>,
    /// Recovery point objective, seconds.
    pub rpo_seconds: Option<f64>,
    /// Recovery time objective, seconds.
    pub rto_seconds: Option<f64>,
    /// `manual`: the approval gate applies to a person's switch too.
    pub approval: Approval,
    /// Data sets compared after the switch.
    pub checksum: Vec<String>,
    /// Hook commands.
    pub hooks: Vec<HookSpec>,
    /// Health check settings, for the monitor and the emergency probe.
    #[serde(default)]
    pub health_check: HealthCheck,
    /// Observations at plan time.
    pub estimate: Option<Estimate>,
    /// Whether `--accept-data-loss GROUP` is needed.
    pub needs_data_loss_ack: bool,
    /// Set an override with this reason when the switch completes.
    pub set_override: Option<String>,
    /// Clear the override when the switch completes.
    pub clear_override: bool,
    /// Why.
    pub reason: Reason,
    /// Things the reviewer must know, such as a topology that disagrees with an override.
    pub notes: Vec<String>,
    /// Traffic resources repointed by the switch.
    pub traffic: Vec<String>,
    /// The steps in order.
    pub steps: Vec<StepKind>,
    /// The members re-protect rejoins; empty means every member but the new primary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejoin: Vec<String>,
    /// A reconcile adopts a primary whose promotion was interrupted before it wrote its epoch:
    /// re-protect writes `epoch` into it first (claimed like a promotion's).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stamp_epoch: bool,
}

impl std::fmt::Display for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let prefix = |m: &ModuleInstance| {
            if m.is_root() {
                String::new()
            } else {
                format!("{m}.")
            }
        };
        match self {
            NodeKey::Instance { addr } => write!(f, "{addr}"),
            NodeKey::Resource { addr } => write!(f, "{addr} (all instances)"),
            NodeKey::Local { module, name } => write!(f, "{}local.{name}", prefix(module)),
            NodeKey::Output { module, name } => write!(f, "{}output.{name}", prefix(module)),
            NodeKey::ModuleVars { module } => write!(f, "{module} (inputs)"),
            NodeKey::Failover { name } => write!(f, "failover.{name}"),
            NodeKey::Step { group, step } => write!(f, "failover.{group}: {step}"),
        }
    }
}

/// One step of the execution graph.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecNode {
    /// What the node is.
    pub key: NodeKey,
    /// Indexes of the nodes it waits for.
    pub deps: Vec<u32>,
    /// Index into [`Plan::changes`] for resource instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<u32>,
    /// The planned value of an expression node.
    #[serde(default, with = "marked::opt", skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// How the plan was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanMode {
    /// Converge on the configuration.
    Normal,
    /// Delete everything.
    Destroy,
    /// Only record what the providers report.
    RefreshOnly,
}

/// The state a plan was made against; apply refuses a plan whose state moved on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorState {
    /// The state's lineage, empty when there was none.
    pub lineage: String,
    /// The state's serial.
    pub serial: u64,
    /// SHA-256 of the state's content, journal included.
    pub digest: String,
}

/// A planned output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputChange {
    /// The recorded value.
    #[serde(with = "marked::opt")]
    pub before: Option<Value>,
    /// The planned value.
    #[serde(with = "marked")]
    pub after: Value,
    /// Whether it is hidden.
    pub sensitive: bool,
}

/// The expansion of one resource or module call in one module instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpansionRecord {
    /// The module instance holding the block.
    pub module: ModuleInstance,
    /// The module call's name, for a module block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    /// The resource, for a resource block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<crate::addr::ResourceAddr>,
    /// The instances.
    pub expansion: Expansion,
}

/// How many instances a resource or module call has.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expansion {
    /// No `count` or `for_each`.
    Single,
    /// `count = N`.
    Count(u64),
    /// `for_each`, with each key's value.
    ForEach(#[serde(with = "marked::map")] BTreeMap<String, Value>),
}

/// A whole plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// The saved format's version.
    pub format_version: u32,
    /// The standby version that made it.
    pub standby_version: String,
    /// The environment.
    pub env: String,
    /// How it was made.
    pub mode: PlanMode,
    /// The state it was made against.
    pub prior: PriorState,
    /// SHA-256 of every topology file and variable input.
    pub topology_digest: String,
    /// Root variable values.
    #[serde(with = "marked::map")]
    pub variables: BTreeMap<String, Value>,
    /// Root variables set on the command line, not from the repository: a protected
    /// environment refuses them without an operator override. Set by the caller.
    #[serde(default, with = "marked::map")]
    pub operator_inputs: BTreeMap<String, Value>,
    /// Evaluated provider configurations.
    #[serde(with = "marked::map")]
    pub provider_configs: BTreeMap<String, Value>,
    /// The source address of each external provider by local name (`registry.terraform.io/...`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provider_sources: BTreeMap<String, String>,
    /// Every resource instance, including those with no change.
    pub changes: Vec<ResourceChange>,
    /// Changes made outside standby, found by refresh.
    #[serde(default)]
    pub drift: Vec<ResourceChange>,
    /// Failover groups whose members contradict the state (a switch that completed without
    /// its record), found by a refresh-only plan, which records what the members are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub member_drift: Vec<String>,
    /// The execution graph.
    pub nodes: Vec<ExecNode>,
    /// Root outputs.
    pub outputs: BTreeMap<String, OutputChange>,
    /// How many instances each resource and module call has.
    pub expansions: Vec<ExpansionRecord>,
    /// Failover switches.
    #[serde(default)]
    pub switches: Vec<SwitchPlan>,
    /// Evaluated `site` blocks.
    #[serde(default, with = "marked::map")]
    pub sites: BTreeMap<String, Value>,
    /// Notes about failover groups with nothing to do, such as a standing override.
    #[serde(default)]
    pub failover_notes: Vec<String>,
    /// Every failover group's settings.
    #[serde(default)]
    pub groups: BTreeMap<String, GroupSummary>,
    /// Member instances of every failover group, by site.
    #[serde(default)]
    pub failover_members: BTreeMap<String, BTreeMap<String, AbsInstance>>,
    /// Instances a `moved` block moves; apply records the moves first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<super::moves::Move>,
    /// Refreshed state to record for refresh-only plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshed: Option<crate::state::State>,
    /// Providers' warnings at the resource or attribute concerned; shown, not saved.
    #[serde(skip)]
    pub warnings: Vec<crate::diag::Diagnostic>,
}

impl Plan {
    /// True when applying would change anything.
    pub fn has_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|c| (c.action != Action::NoOp && !c.forgets_data()) || c.importing.is_some())
            || !self.moves.is_empty()
            || self
                .outputs
                .values()
                .any(|o| o.before.as_ref().is_none_or(|b| !b.same_as(&o.after)))
            || (self.mode == PlanMode::RefreshOnly
                && (!self.drift.is_empty() || !self.member_drift.is_empty()))
            || !self.switches.is_empty()
    }

    /// Counts of (add, change, destroy, read).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for ch in &self.changes {
            // An object a refresh found gone, or a data source's result, is only forgotten.
            if ch.only_forgets() {
                continue;
            }
            match ch.action {
                Action::Create => c.0 += 1,
                Action::Update => c.1 += 1,
                Action::Delete => c.2 += 1,
                Action::CreateThenDelete | Action::DeleteThenCreate => {
                    c.0 += 1;
                    c.2 += 1;
                }
                Action::NoOp | Action::Read => {}
            }
        }
        c
    }
}

/// Serde for values with marks: `{"value": ..., "unknown": mask, "sensitive": mask}`.
pub(crate) mod marked {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use standby_provider_sdk::Value;

    #[derive(Serialize, Deserialize)]
    struct Wire {
        value: serde_json::Value,
        #[serde(default, skip_serializing_if = "is_false")]
        unknown: serde_json::Value,
        #[serde(default, skip_serializing_if = "is_false")]
        sensitive: serde_json::Value,
    }

    fn is_false(v: &serde_json::Value) -> bool {
        matches!(v, serde_json::Value::Bool(false) | serde_json::Value::Null)
    }

    fn encode(v: &Value) -> Wire {
        Wire {
            value: v.to_json(),
            unknown: v.unknown_mask(),
            sensitive: v.sensitive_mask(),
        }
    }

    /// Rebuilds a value from JSON and its two masks.
    pub(crate) fn decode(
        value: &serde_json::Value,
        unknown: &serde_json::Value,
        sensitive: &serde_json::Value,
    ) -> Value {
        use serde_json::Value as J;
        if unknown == &J::Bool(true) {
            return if sensitive == &J::Bool(true) {
                Value::Unknown.sensitive()
            } else {
                Value::Unknown
            };
        }
        let inner = match value {
            J::Array(items) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        decode(
                            x,
                            unknown.get(i).unwrap_or(&J::Null),
                            sensitive.get(i).unwrap_or(&J::Null),
                        )
                    })
                    .collect(),
            ),
            J::Object(m) => Value::Map(
                m.iter()
                    .map(|(k, x)| {
                        (
                            k.clone(),
                            decode(
                                x,
                                unknown.get(k).unwrap_or(&J::Null),
                                sensitive.get(k).unwrap_or(&J::Null),
                            ),
                        )
                    })
                    .collect(),
            ),
            other => Value::from_json(other),
        };
        if sensitive == &J::Bool(true) {
            inner.sensitive()
        } else {
            inner
        }
    }

    pub fn serialize<S: Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
        encode(v).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        let w = Wire::deserialize(d)?;
        Ok(decode(&w.value, &w.unknown, &w.sensitive))
    }

    pub mod opt {
        use super::*;

        pub fn serialize<S: Serializer>(v: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
            v.as_ref().map(encode).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
            Ok(Option::<Wire>::deserialize(d)?.map(|w| decode(&w.value, &w.unknown, &w.sensitive)))
        }
    }

    pub mod map {
        use super::*;
        use std::collections::BTreeMap;

        pub fn serialize<S: Serializer>(
            v: &BTreeMap<String, Value>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            s.collect_map(v.iter().map(|(k, x)| (k, encode(x))))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<BTreeMap<String, Value>, D::Error> {
            Ok(BTreeMap::<String, Wire>::deserialize(d)?
                .into_iter()
                .map(|(k, w)| (k, decode(&w.value, &w.unknown, &w.sensitive)))
                .collect())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn marks_round_trip() {
            let v = Value::object([
                ("a", Value::Unknown),
                ("b", Value::from("s").sensitive()),
                ("c", Value::List(vec![Value::from(1.0), Value::Unknown])),
            ]);
            let w = encode(&v);
            assert_eq!(decode(&w.value, &w.unknown, &w.sensitive), v);
        }
    }
}
