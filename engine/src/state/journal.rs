//! Journal entries: incremental changes appended during apply, replayed on load.

use super::model::{
    from_row_json, removed_from_row_json, to_row_json, InstanceState, OutputState, State,
};
use crate::addr::AbsInstance;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One durable change to a state.
#[derive(Debug, Clone, PartialEq)]
pub enum JournalEntry {
    /// An instance was created or changed.
    Set(AbsInstance, InstanceState),
    /// An instance was deleted.
    Remove(AbsInstance),
    /// The root outputs were recomputed.
    Outputs(BTreeMap<String, OutputState>),
    /// A failover group's record after a completed switch.
    Failover(String, super::FailoverState),
    /// A `moved` block's move: the instance recorded at the first address is now at the
    /// second. One line, so a crash never leaves it at both or neither.
    Move(AbsInstance, AbsInstance),
}

/// The on-disk line: the base snapshot it applies to, and the change.
#[derive(Serialize, Deserialize)]
pub(crate) struct Line {
    pub lineage: String,
    pub serial: u64,
    pub op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<BTreeMap<String, OutputState>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<(String, super::FailoverState)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<serde_json::Value>,
}

/// The row of an address alone, as remove and move lines carry it.
fn address_row(a: &AbsInstance) -> serde_json::Value {
    to_row_json(
        a,
        &InstanceState {
            provider: String::new(),
            attributes: serde_json::Value::Null,
            sensitive_attributes: vec![],
            dependencies: vec![],
            create_before_destroy: false,
            site: None,
            schema_version: None,
            private: vec![],
            tainted: false,
        },
    )
}

impl JournalEntry {
    pub(crate) fn to_line(&self, lineage: &str, serial: u64) -> Line {
        let mut line = Line {
            lineage: lineage.to_string(),
            serial,
            op: String::new(),
            instance: None,
            address: None,
            outputs: None,
            failover: None,
            to: None,
        };
        match self {
            JournalEntry::Set(a, st) => {
                line.op = "set".into();
                line.instance = Some(to_row_json(a, st));
            }
            JournalEntry::Remove(a) => {
                line.op = "remove".into();
                line.instance = Some(address_row(a));
                line.address = Some(a.to_string());
            }
            JournalEntry::Move(from, to) => {
                line.op = "move".into();
                line.instance = Some(address_row(from));
                line.address = Some(from.to_string());
                line.to = Some(address_row(to));
            }
            JournalEntry::Outputs(o) => {
                line.op = "outputs".into();
                line.outputs = Some(o.clone());
            }
            JournalEntry::Failover(name, f) => {
                line.op = "failover".into();
                line.failover = Some((name.clone(), f.clone()));
            }
        }
        line
    }

    pub(crate) fn from_line(line: Line) -> Result<Self, String> {
        match line.op.as_str() {
            "set" => {
                let (a, st) = from_row_json(line.instance.ok_or("set entry without instance")?)
                    .map_err(|e| e.to_string())?;
                Ok(JournalEntry::Set(a, st))
            }
            "remove" => {
                let a =
                    removed_from_row_json(line.instance.ok_or("remove entry without instance")?)
                        .map_err(|e| e.to_string())?;
                Ok(JournalEntry::Remove(a))
            }
            "move" => {
                let from =
                    removed_from_row_json(line.instance.ok_or("move entry without instance")?)
                        .map_err(|e| e.to_string())?;
                let to = removed_from_row_json(line.to.ok_or("move entry without a destination")?)
                    .map_err(|e| e.to_string())?;
                Ok(JournalEntry::Move(from, to))
            }
            "outputs" => Ok(JournalEntry::Outputs(line.outputs.unwrap_or_default())),
            "failover" => {
                let (name, f) = line.failover.ok_or("failover entry without a record")?;
                Ok(JournalEntry::Failover(name, f))
            }
            other => Err(format!("unknown journal operation {other:?}")),
        }
    }

    /// Applies the entry to a state in memory.
    pub fn apply_to(&self, state: &mut State) {
        match self {
            JournalEntry::Set(a, st) => {
                state.resources.insert(a.clone(), st.clone());
            }
            JournalEntry::Remove(a) => {
                state.resources.remove(a);
            }
            JournalEntry::Move(from, to) => state.move_instance(from, to),
            JournalEntry::Outputs(o) => state.outputs = o.clone(),
            JournalEntry::Failover(name, f) => {
                state.failovers.insert(name.clone(), f.clone());
            }
        }
    }
}

/// Replays one journal line onto `state`. Lines of an older snapshot are skipped (they were
/// compacted into it already); a line that does not parse is an error unless it is the last
/// one, which a crash may have torn.
pub(crate) fn replay_line(state: &mut State, line: &str, last: bool) -> Result<(), String> {
    let parsed: Line = match serde_json::from_str(line) {
        Ok(l) => l,
        Err(_) if last => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    if parsed.lineage != state.lineage || parsed.serial != state.serial {
        return Ok(());
    }
    JournalEntry::from_line(parsed)?.apply_to(state);
    Ok(())
}
