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
    #[serde(deserialize_with = "checked::format_version")]
    pub format_version: u32,
    /// A UUID fixed when the state is first written; a different lineage is a different history.
    #[serde(deserialize_with = "checked::lineage")]
    pub lineage: String,
    /// Increases with every snapshot written.
    #[serde(deserialize_with = "checked::serial")]
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
    /// Root variables set from the command line rather than the commit, as shown (a
    /// sensitive one as `(sensitive value)`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub operator_inputs: BTreeMap<String, String>,
    /// The reason given with `--operator-override` to apply them to a protected environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_override: Option<String>,
}

impl State {
    /// Moves the instance recorded at `from` to `to`, with every failover group's record of
    /// it as a member: a group whose members moved keeps its record, history and override.
    /// Nothing happens when `from` is not recorded (a journal line replayed twice).
    pub fn move_instance(&mut self, from: &AbsInstance, to: &AbsInstance) {
        let Some(st) = self.resources.remove(from) else {
            return;
        };
        self.resources.insert(to.clone(), st);
        for f in self.failovers.values_mut() {
            for m in f.members.values_mut() {
                if m == from {
                    m.clone_from(to);
                }
            }
        }
    }

    /// A failover group's recorded members as providers see them: site to the member (its
    /// attributes unmarked, for the provider to connect with) and its provider's name. A
    /// member whose instance is no longer recorded is absent.
    pub fn members(
        &self,
        f: &super::FailoverState,
    ) -> BTreeMap<String, (standby_provider_sdk::Member, String)> {
        f.members
            .iter()
            .filter_map(|(site, addr)| {
                let st = self.resources.get(addr)?;
                let member = standby_provider_sdk::Member {
                    site: site.clone(),
                    type_name: addr.resource.resource.type_name.clone(),
                    state: st.value().deep_unmark().0,
                };
                Some((site.clone(), (member, st.provider.clone())))
            })
            .collect()
    }

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
        let gone: Vec<String> = self
            .failovers
            .iter()
            .filter(|(_, f)| !f.members.values().any(|a| self.resources.contains_key(a)))
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
    /// The version of the provider's schema the attributes were written with; `None` in a
    /// state recorded before standby kept it, whose attributes are in the schema of its time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u64>,
    /// The provider's private data, opaque to standby; base64 in the file, as Terraform
    /// records it.
    #[serde(default, with = "b64", skip_serializing_if = "Vec::is_empty")]
    pub private: Vec<u8>,
    /// The apply that created it failed after the provider made it: the next plan replaces
    /// it (Terraform's `"status": "tainted"`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tainted: bool,
}

/// A provider's private data as base64 text, in the state and in a saved plan.
pub(crate) mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
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

    /// The instance, once its spelled-out address agrees with its parts and its attributes
    /// are an object: a hand-edited or damaged row is refused, never guessed at.
    fn checked(self) -> Result<(AbsInstance, InstanceState), String> {
        if !self.state.attributes.is_object() {
            return Err(format!(
                "the attributes of {} are not an object",
                self.address
            ));
        }
        self.checked_address()
    }

    /// [`Row::checked`] without the attributes, which a journal's removal does not carry.
    fn checked_address(self) -> Result<(AbsInstance, InstanceState), String> {
        let address = self.address.clone();
        // Names follow the configuration's rules (Unicode letters included), so only an empty
        // one is refused here; the address check below catches the rest.
        if self.type_name.is_empty() || self.name.is_empty() {
            return Err(format!("resource {address:?} has an empty type or name"));
        }
        let (addr, state) = self.into_pair();
        if addr.to_string() != address {
            return Err(format!(
                "the address {address:?} does not match its module, mode, type, name and key ({addr})"
            ));
        }
        Ok((addr, state))
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
        let mut out = BTreeMap::new();
        for row in Vec::<Row>::deserialize(d)? {
            let (addr, st) = row.checked().map_err(serde::de::Error::custom)?;
            if out.contains_key(&addr) {
                return Err(serde::de::Error::custom(format!(
                    "{addr} appears twice in the resources"
                )));
            }
            out.insert(addr, st);
        }
        Ok(out)
    }
}

/// Checks of the state's header fields, so that a damaged state is refused with a reason.
mod checked {
    use serde::{Deserialize as _, Deserializer};

    pub fn format_version<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        match u32::deserialize(d)? {
            0 => Err(serde::de::Error::custom(
                "format_version 0 is not a version standby ever wrote",
            )),
            v => Ok(v),
        }
    }

    pub fn lineage<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let l = String::deserialize(d)?;
        if l.trim().is_empty() {
            return Err(serde::de::Error::custom(
                "the lineage is empty: every state standby writes has one",
            ));
        }
        Ok(l)
    }

    /// Serials grow by one per write: one near the top of the range was not written by
    /// standby, and would overflow.
    pub fn serial<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match u64::deserialize(d)? {
            s if s < 1 << 53 => Ok(s),
            s => Err(serde::de::Error::custom(format!(
                "serial {s} is out of range (standby counts writes from 0)"
            ))),
        }
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
    serde_json::from_value::<Row>(v)?
        .checked()
        .map_err(serde::de::Error::custom)
}

/// The address of a journal's removal line, checked like a row's.
pub(crate) fn removed_from_row_json(
    v: serde_json::Value,
) -> Result<AbsInstance, serde_json::Error> {
    serde_json::from_value::<Row>(v)?
        .checked_address()
        .map(|(a, _)| a)
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::State;

    fn state(resources: &str, header: &str) -> Result<State, String> {
        serde_json::from_str::<State>(&format!(
            r#"{{{header}, "standby_version": "0", "resources": [{resources}]}}"#
        ))
        .map_err(|e| e.to_string())
    }

    const OK: &str = r#""format_version": 1, "lineage": "l", "serial": 3"#;
    const ROW: &str = r#"{"address": "local_file.a", "mode": "managed", "type": "local_file", "name": "a", "provider": "local", "attributes": {}}"#;

    /// Issue 12: odd but parseable states were accepted silently.
    #[test]
    fn a_damaged_state_is_refused_with_its_reason() {
        assert!(state(ROW, OK).is_ok());
        // What standby writes itself reads back: Unicode and dashed names, keyed modules,
        // data sources.
        let mut s = State::new();
        for (mode, name) in [
            (crate::addr::Mode::Managed, "köln-1"),
            (crate::addr::Mode::Data, "a.b"),
        ] {
            let addr = crate::addr::AbsInstance {
                resource: crate::addr::AbsResource {
                    module: crate::addr::ModuleInstance(vec![crate::addr::ModuleStep {
                        name: "site".into(),
                        key: Some(crate::addr::InstanceKey::Str("east".into())),
                    }]),
                    resource: crate::addr::ResourceAddr {
                        mode,
                        type_name: "local_file".into(),
                        name: name.into(),
                    },
                },
                key: Some(crate::addr::InstanceKey::Int(2)),
            };
            s.resources.insert(
                addr,
                serde_json::from_str(r#"{"provider": "local", "attributes": {}}"#).unwrap(),
            );
        }
        let back: State = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let bad = [
            (
                ROW,
                r#""format_version": 0, "lineage": "l", "serial": 3"#,
                "format_version 0",
            ),
            (
                ROW,
                r#""format_version": 1, "lineage": "", "serial": 3"#,
                "lineage is empty",
            ),
            (
                ROW,
                r#""format_version": 1, "lineage": "l", "serial": 18446744073709551615"#,
                "out of range",
            ),
            (&format!("{ROW}, {ROW}"), OK, "appears twice"),
            (
                &ROW.replace(
                    r#""address": "local_file.a""#,
                    r#""address": "local_file.b""#,
                ),
                OK,
                "does not match",
            ),
            (
                &ROW.replace(r#""type": "local_file""#, r#""type": "sqlite_database""#),
                OK,
                "does not match",
            ),
            (
                &ROW.replace(r#""name": "a""#, r#""name": """#),
                OK,
                "empty type or name",
            ),
            (
                &ROW.replace(r#""attributes": {}"#, r#""attributes": [1]"#),
                OK,
                "not an object",
            ),
        ];
        for (rows, header, says) in bad {
            let e = state(rows, header).expect_err(says);
            assert!(e.contains(says), "{says}: {e}");
        }
    }
}
