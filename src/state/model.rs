//! The state document.

use crate::addr::{AbsInstance, AbsResource, InstanceKey, Mode, ModuleInstance, ResourceAddr};
use serde::{Deserialize, Serialize};
use standby_provider_sdk::{AttrPath, Value};
use std::collections::BTreeMap;

/// The newest state format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Everything standby knows exists in one environment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// The format's version.
    pub format_version: u32,
    /// A UUID fixed when the state is first written; a different lineage is a different history.
    pub lineage: String,
    /// Increases with every snapshot written.
    pub serial: u64,
    /// The standby version that wrote it.
    pub standby_version: String,
    /// Resource instances, sorted by address.
    #[serde(with = "instances")]
    pub resources: BTreeMap<AbsInstance, InstanceState>,
    /// Root module outputs.
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputState>,
    /// Failover groups.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failovers: BTreeMap<String, super::FailoverState>,
    /// The latest applies, newest last (at most 50 are kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applies: Vec<ApplyRecord>,
    /// Failover groups whose members were all destroyed, with their last record and history.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_failovers: Vec<RetiredFailover>,
}

/// A failover group that no longer has members: kept for its history only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RetiredFailover {
    /// The group's name.
    pub name: String,
    /// When its last member was destroyed (RFC 3339).
    pub retired_at: String,
    /// Its record at that moment, history included.
    pub record: super::FailoverState,
}

/// One apply: when, by whom, from which commit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApplyRecord {
    /// RFC 3339.
    pub at: String,
    /// `user@host`.
    pub by: String,
    /// The git commit of the topology, when it is in a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<crate::vcs::CommitInfo>,
    /// Added, changed, destroyed.
    pub counts: (usize, usize, usize),
}

impl State {
    /// A fresh state with a new lineage.
    pub fn new() -> Self {
        State {
            format_version: FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            standby_version: env!("CARGO_PKG_VERSION").to_string(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            failovers: BTreeMap::new(),
            applies: Vec::new(),
            retired_failovers: Vec::new(),
        }
    }

    /// Moves groups none of whose members remain to `retired_failovers`, so that `status` and
    /// the next plan do not treat them as live (a fresh member set is set up from scratch).
    pub fn retire_memberless_failovers(&mut self, at: &str) {
        let live: std::collections::BTreeSet<String> =
            self.resources.keys().map(ToString::to_string).collect();
        let gone: Vec<String> = self
            .failovers
            .iter()
            .filter(|(_, f)| !f.members.values().any(|a| live.contains(a)))
            .map(|(n, _)| n.clone())
            .collect();
        for name in gone {
            if let Some(record) = self.failovers.remove(&name) {
                self.retired_failovers.push(RetiredFailover {
                    name,
                    retired_at: at.to_string(),
                    record,
                });
            }
        }
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

/// One resource instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InstanceState {
    /// The provider that manages it.
    pub provider: String,
    /// The attributes, as the provider returned them.
    pub attributes: serde_json::Value,
    /// Paths of attributes that are sensitive.
    #[serde(default)]
    pub sensitive_attributes: Vec<AttrPath>,
    /// Addresses of the resources its configuration referenced directly.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// Replace it by creating first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
    /// The site it runs at, from `site = site.NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
}

impl InstanceState {
    /// The attributes as a value, with sensitive marks restored.
    pub fn value(&self) -> Value {
        Value::from_json(&self.attributes).mark_paths(&self.sensitive_attributes)
    }
}

/// A root module output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutputState {
    /// The value.
    pub value: serde_json::Value,
    /// Whether it is shown.
    pub sensitive: bool,
}

/// The on-disk form of one instance: its address spelled out, then its state.
#[derive(Serialize, Deserialize)]
struct Row {
    address: String,
    #[serde(default, skip_serializing_if = "ModuleInstance::is_root")]
    module: ModuleInstance,
    mode: Mode,
    #[serde(rename = "type")]
    type_name: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    index_key: Option<InstanceKey>,
    #[serde(flatten)]
    state: InstanceState,
}

impl Row {
    fn new(a: &AbsInstance, st: &InstanceState) -> Self {
        Row {
            address: a.to_string(),
            module: a.resource.module.clone(),
            mode: a.resource.resource.mode,
            type_name: a.resource.resource.type_name.clone(),
            name: a.resource.resource.name.clone(),
            index_key: a.key.clone(),
            state: st.clone(),
        }
    }

    fn into_pair(self) -> (AbsInstance, InstanceState) {
        let addr = AbsInstance {
            resource: AbsResource {
                module: self.module,
                resource: ResourceAddr {
                    mode: self.mode,
                    type_name: self.type_name,
                    name: self.name,
                },
            },
            key: self.index_key,
        };
        (addr, self.state)
    }
}

mod instances {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<AbsInstance, InstanceState>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter().map(|(a, st)| Row::new(a, st)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<AbsInstance, InstanceState>, D::Error> {
        Ok(Vec::<Row>::deserialize(d)?
            .into_iter()
            .map(Row::into_pair)
            .collect())
    }
}

/// One instance in the journal, in the same shape as in the snapshot.
pub(crate) fn to_row_json(a: &AbsInstance, st: &InstanceState) -> serde_json::Value {
    serde_json::to_value(Row::new(a, st)).unwrap_or(serde_json::Value::Null)
}

/// The inverse of [`to_row_json`].
pub(crate) fn from_row_json(
    v: serde_json::Value,
) -> Result<(AbsInstance, InstanceState), serde_json::Error> {
    serde_json::from_value::<Row>(v).map(Row::into_pair)
}
