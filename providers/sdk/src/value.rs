//! standby's value type: JSON-like data plus two marks, Unknown and Sensitive.

use crate::number::Number;
use crate::path::{AttrPath, PathStep};
use std::collections::BTreeMap;
use std::fmt;

/// Secrets registered for redaction in this process; see [`Value::register_secrets`].
static REGISTERED: std::sync::RwLock<std::collections::BTreeSet<String>> =
    std::sync::RwLock::new(std::collections::BTreeSet::new());

/// Registered secrets shorter than this are not redacted everywhere: a sensitive `443` or
/// `user` would redact ordinary words. They stay redacted where they are marked.
const MIN_REGISTERED_LEN: usize = 6;

/// A value of the topology language.
///
/// Lists, tuples and sets are all [`Value::List`] (sets are kept sorted and deduplicated);
/// objects and maps are both [`Value::Map`] with sorted keys, as in Terraform.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// The absence of a value.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, with Terraform's precision and printing (see [`Number`]).
    Number(Number),
    /// A Unicode string.
    String(String),
    /// A list, tuple or set.
    List(Vec<Value>),
    /// An object or map.
    Map(BTreeMap<String, Value>),
    /// A value that is known only after apply.
    Unknown,
    /// A value that must never be shown. The mark travels with everything derived from it.
    Sensitive(Box<Value>),
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<String>) -> Self {
        Value::String(s.into())
    }

    /// An object from `(key, value)` pairs.
    pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Self {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Wraps `self` in the sensitive mark, unless it is marked already.
    pub fn sensitive(self) -> Self {
        match self {
            Value::Sensitive(_) => self,
            other => Value::Sensitive(Box::new(other)),
        }
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self.unmarked(), Value::Null)
    }

    /// True if this value, ignoring a sensitive mark, is unknown at the top level.
    pub fn is_unknown(&self) -> bool {
        matches!(self.unmarked(), Value::Unknown)
    }

    /// True if no part of the value is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::Sensitive(v) => v.is_wholly_known(),
            Value::List(items) => items.iter().all(Value::is_wholly_known),
            Value::Map(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// True if this value or any part of it is sensitive.
    pub fn contains_sensitive(&self) -> bool {
        match self {
            Value::Sensitive(_) => true,
            Value::List(items) => items.iter().any(Value::contains_sensitive),
            Value::Map(m) => m.values().any(Value::contains_sensitive),
            _ => false,
        }
    }

    /// True if the top level carries the sensitive mark.
    pub fn is_sensitive(&self) -> bool {
        matches!(self, Value::Sensitive(_))
    }

    /// The value beneath a top-level sensitive mark.
    pub fn unmarked(&self) -> &Value {
        match self {
            Value::Sensitive(v) => v.unmarked(),
            other => other,
        }
    }

    /// The text of every sensitive string, number and key inside this value, so that a
    /// message built from the plain value (a provider's error, say) can be redacted.
    pub fn secrets(&self) -> Vec<String> {
        fn walk(v: &Value, inside: bool, out: &mut Vec<String>) {
            match v {
                Value::Sensitive(inner) => walk(inner, true, out),
                Value::String(s) if inside => out.push(s.clone()),
                Value::Number(_) if inside => out.push(v.to_string()),
                Value::List(items) => items.iter().for_each(|i| walk(i, inside, out)),
                Value::Map(m) => m.iter().for_each(|(k, x)| {
                    if inside {
                        out.push(k.clone());
                    }
                    walk(x, inside, out);
                }),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(self, false, &mut out);
        // Longest first, so that a secret containing another is replaced whole; very short
        // ones would redact ordinary words.
        out.retain(|s| s.chars().count() >= 3);
        out.sort_by_key(|s| std::cmp::Reverse(s.len()));
        out.dedup();
        out
    }

    /// `text` with every one of `secrets`, and every secret [`Value::register_secrets`] was
    /// given, replaced by `(sensitive value)`.
    pub fn redact(text: &str, secrets: &[String]) -> String {
        // A panic elsewhere while holding the lock must not turn redaction off.
        let registered = REGISTERED
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut all: Vec<&String> = secrets.iter().chain(registered.iter()).collect();
        // Longest first, so that a secret containing another is replaced whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        all.into_iter().fold(text.to_string(), |t, s| {
            t.replace(s.as_str(), "(sensitive value)")
        })
    }

    /// Remembers the secrets of `self` (see [`Value::secrets`]) for every later
    /// [`Value::redact`] in this process. A secret built into a longer string (`"echo
    /// ${var.token}"`) is marked as a whole; a hook or a provider that prints only the part
    /// that came from the variable is then still redacted. The root variables' values are
    /// registered as they are read.
    pub fn register_secrets(&self) {
        fn strings(v: &Value, inside: bool, out: &mut Vec<String>) {
            match v {
                Value::Sensitive(inner) => strings(inner, true, out),
                Value::String(s) if inside && s.chars().count() >= MIN_REGISTERED_LEN => {
                    out.push(s.clone());
                }
                Value::List(items) => items.iter().for_each(|i| strings(i, inside, out)),
                Value::Map(m) => m.values().for_each(|x| strings(x, inside, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        strings(self, false, &mut found);
        if found.is_empty() {
            return;
        }
        REGISTERED
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(found);
    }

    /// Removes every sensitive mark, returning the plain value and the paths that were marked.
    pub fn deep_unmark(&self) -> (Value, Vec<AttrPath>) {
        let mut paths = Vec::new();
        let v = self.unmark_into(&AttrPath::root(), &mut paths);
        (v, paths)
    }

    fn unmark_into(&self, at: &AttrPath, paths: &mut Vec<AttrPath>) -> Value {
        match self {
            Value::Sensitive(inner) => {
                paths.push(at.clone());
                inner.unmark_into(at, &mut Vec::new())
            }
            Value::List(items) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v.unmark_into(&at.child(PathStep::Index(i)), paths))
                    .collect(),
            ),
            Value::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.unmark_into(&at.child(PathStep::Key(k.clone())), paths),
                        )
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Re-applies sensitive marks at the given paths. Paths that do not exist are ignored.
    pub fn mark_paths(mut self, paths: &[AttrPath]) -> Value {
        for p in paths {
            self.mark_at(&p.0);
        }
        self
    }

    fn mark_at(&mut self, steps: &[PathStep]) {
        let Some((first, rest)) = steps.split_first() else {
            let v = std::mem::take(self);
            *self = v.sensitive();
            return;
        };
        let target = match (self, first) {
            (Value::Map(m), PathStep::Key(k)) => m.get_mut(k),
            (Value::List(items), PathStep::Index(i)) => items.get_mut(*i),
            (Value::Sensitive(_), _) => return,
            _ => None,
        };
        if let Some(t) = target {
            t.mark_at(rest);
        }
    }

    // The accessors below see through no sensitive mark: a secret reads as absent. Code that
    // must use a secret (to connect to a database, say) calls `unmarked()` or `deep_unmark()`,
    // so that every place a mark is dropped is explicit and can be audited; tests/it/tidy.rs
    // keeps the list of those places.

    /// Looks up an attribute of an object. `None` if this is not an object or is sensitive.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.get(key),
            _ => None,
        }
    }

    /// The string inside, if this is a known string that is not sensitive.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number inside, if this is a known number that is not sensitive.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(n.to_f64()),
            _ => None,
        }
    }

    /// The number inside, if this is a known number that is not sensitive.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// A number value from an integer (64 bits of precision, as Terraform's `length`).
    pub fn int(i: i64) -> Self {
        Value::Number(Number::from_i64(i))
    }

    /// The boolean inside, if this is a known bool that is not sensitive.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A short name of the value's type, as used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "object",
            Value::Unknown => "unknown",
            Value::Sensitive(v) => v.type_name(),
        }
    }

    /// Converts to JSON. Unknown becomes `null`; sensitive marks are dropped, so callers that
    /// show the result must redact first (see [`Value::redacted`]).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Unknown => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_json(n),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => items.iter().map(Value::to_json).collect(),
            Value::Map(m) => m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
            Value::Sensitive(v) => v.to_json(),
        }
    }

    /// A mask in Terraform's `after_unknown` shape: `true` where a leaf is unknown, objects and
    /// lists mirrored where they contain unknowns, `false` elsewhere.
    pub fn unknown_mask(&self) -> serde_json::Value {
        self.mask(&|v| matches!(v, Value::Unknown))
    }

    /// A mask in Terraform's `after_sensitive` shape: `true` where a part is sensitive.
    pub fn sensitive_mask(&self) -> serde_json::Value {
        self.mask(&|v| matches!(v, Value::Sensitive(_)))
    }

    fn mask(&self, hit: &dyn Fn(&Value) -> bool) -> serde_json::Value {
        if hit(self) {
            return serde_json::Value::Bool(true);
        }
        match self {
            Value::List(items) => {
                let inner: Vec<_> = items.iter().map(|v| v.mask(hit)).collect();
                if inner.iter().all(|m| m == &serde_json::Value::Bool(false)) {
                    serde_json::Value::Bool(false)
                } else {
                    serde_json::Value::Array(inner)
                }
            }
            Value::Map(m) => {
                let inner: serde_json::Map<_, _> = m
                    .iter()
                    .map(|(k, v)| (k.clone(), v.mask(hit)))
                    .filter(|(_, m)| m != &serde_json::Value::Bool(false))
                    .collect();
                if inner.is_empty() {
                    serde_json::Value::Bool(false)
                } else {
                    serde_json::Value::Object(inner)
                }
            }
            Value::Sensitive(v) => v.mask(hit),
            _ => serde_json::Value::Bool(false),
        }
    }

    /// Converts from JSON.
    pub fn from_json(j: &serde_json::Value) -> Value {
        match j {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                Value::Number(Number::parse(&n.to_string()).unwrap_or_else(|_| Number::from_i64(0)))
            }
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// A copy in which every sensitive part is replaced by the string `(sensitive value)` and
    /// every unknown by `(known after apply)`. Safe to print or serialise.
    pub fn redacted(&self) -> Value {
        match self {
            Value::Sensitive(_) => Value::string("(sensitive value)"),
            Value::Unknown => Value::string("(known after apply)"),
            Value::List(items) => Value::List(items.iter().map(Value::redacted).collect()),
            Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), v.redacted())).collect()),
            other => other.clone(),
        }
    }

    /// The order of a set's elements, as Terraform keeps them: numbers by value, strings by
    /// bytes, other values by their text.
    pub fn set_order(a: &Value, b: &Value) -> std::cmp::Ordering {
        match (a.unmarked(), b.unmarked()) {
            (Value::Number(x), Value::Number(y)) => x.cmp(y),
            (Value::String(x), Value::String(y)) => x.cmp(y),
            (x, y) => x.to_string().cmp(&y.to_string()),
        }
    }

    /// Whether an infinite number (`1 / 0`) is anywhere inside: JSON cannot hold one.
    pub fn contains_infinity(&self) -> bool {
        match self {
            Value::Number(n) => n.is_infinite(),
            Value::List(items) => items.iter().any(Value::contains_infinity),
            Value::Map(m) => m.values().any(Value::contains_infinity),
            Value::Sensitive(inner) => inner.contains_infinity(),
            _ => false,
        }
    }

    /// Whether a planned value matches a recorded one: equality that ignores sensitive marks,
    /// where numbers also match when they have the same nearest 64-bit float, since JSON
    /// documents (the state) keep that much of a number that is not a 64-bit integer.
    /// Unknown equals nothing, itself included.
    pub fn same_as(&self, other: &Value) -> bool {
        self.compare(other, true)
    }

    /// Checks that `fin`, a final plan, keeps every value known in this earlier plan (unknowns
    /// may become anything); on failure, the path of the first value that changed.
    pub fn known_values_kept_in(&self, fin: &Value) -> Result<(), String> {
        match (self.unmarked(), fin.unmarked()) {
            (Value::Unknown, _) => Ok(()),
            (Value::Map(a), Value::Map(b)) => {
                for (k, v) in a {
                    v.known_values_kept_in(b.get(k).unwrap_or(&Value::Null))
                        .map_err(|e| {
                            if e.is_empty() {
                                k.clone()
                            } else {
                                format!("{k}.{e}")
                            }
                        })?;
                }
                Ok(())
            }
            (Value::List(a), Value::List(b)) => {
                let positional = || {
                    if a.len() != b.len() {
                        return Err(String::new());
                    }
                    for (i, (x, y)) in a.iter().zip(b).enumerate() {
                        x.known_values_kept_in(y).map_err(|e| format!("[{i}]{e}"))?;
                    }
                    Ok(())
                };
                // A set arrives as a list: once its unknown elements are known they may take
                // other places, or equal another element. Every known element must remain.
                let as_set = || {
                    let unknowns = a.iter().any(|x| !x.is_wholly_known());
                    let kept = a
                        .iter()
                        .filter(|x| x.is_wholly_known())
                        .all(|x| b.iter().any(|y| x.same_as(y)));
                    unknowns && kept && b.len() <= a.len()
                };
                positional().or_else(|e| if as_set() { Ok(()) } else { Err(e) })
            }
            (a, b) if a.same_as(b) => Ok(()),
            _ => Err(String::new()),
        }
    }

    /// Equality as the language's `==` has it: exact numbers, marks ignored, unknown equal to
    /// nothing.
    pub fn equals(&self, other: &Value) -> bool {
        self.compare(other, false)
    }

    fn compare(&self, other: &Value, stored: bool) -> bool {
        match (self.unmarked(), other.unmarked()) {
            (Value::Unknown, _) | (_, Value::Unknown) => false,
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.compare(y, stored))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.compare(vb, stored))
            }
            (Value::Number(a), Value::Number(b)) => a == b || stored && a.to_f64() == b.to_f64(),
            (a, b) => a == b,
        }
    }
}

/// A number as JSON: exact for integers that fit 64 bits, the nearest `f64` otherwise
/// (JSON documents such as the state do not carry 512-bit numbers; see docs/language.md).
fn number_to_json(n: &Number) -> serde_json::Value {
    if let Some(i) = n.to_i64().filter(|_| !(n.is_zero() && n.is_negative())) {
        return serde_json::Value::from(i);
    }
    if let Some(u) = n
        .trunc_int()
        .filter(|_| n.is_integer())
        .and_then(|i| u64::try_from(i).ok())
    {
        return serde_json::Value::from(u);
    }
    serde_json::Number::from_f64(n.to_f64())
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null)
}

impl fmt::Display for Value {
    /// HCL-like rendering. Sensitive parts print as `(sensitive value)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
            Value::Map(m) => {
                write!(f, "{{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                write!(f, "}}")
            }
            Value::Unknown => write!(f, "(known after apply)"),
            Value::Sensitive(_) => write!(f, "(sensitive value)"),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    /// The float's exact value with 53 bits of precision; NaN becomes null.
    fn from(n: f64) -> Self {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::int(i)
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Self {
        Value::Number(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_final_plan_keeps_the_known_values() {
        let planned = Value::object([("a", Value::from("x")), ("id", Value::Unknown)]);
        let fin = |a: &str| Value::object([("a", Value::from(a)), ("id", Value::from("1"))]);
        assert!(planned.known_values_kept_in(&fin("x")).is_ok());
        assert_eq!(planned.known_values_kept_in(&fin("y")).unwrap_err(), "a");
        // A set's elements may move once its unknown ones are known; its known ones stay.
        let set = Value::List(vec![Value::Unknown, Value::from("b")]);
        let moved = Value::List(vec![Value::from("b"), Value::from("a")]);
        assert!(set.known_values_kept_in(&moved).is_ok());
        let lost = Value::List(vec![Value::from("a"), Value::from("c")]);
        assert!(set.known_values_kept_in(&lost).is_err());
    }

    #[test]
    fn unmark_then_mark_round_trips() {
        let v = Value::object([
            ("a", Value::from("x").sensitive()),
            (
                "b",
                Value::List(vec![Value::from(1.0), Value::from("s").sensitive()]),
            ),
        ]);
        let (plain, paths) = v.deep_unmark();
        assert!(!plain.contains_sensitive());
        assert_eq!(paths.len(), 2);
        assert_eq!(plain.mark_paths(&paths), v);
    }

    #[test]
    fn masks_follow_terraform_shape() {
        let v = Value::object([("id", Value::Unknown), ("name", Value::from("n"))]);
        assert_eq!(v.unknown_mask(), serde_json::json!({"id": true}));
        assert_eq!(Value::from("n").unknown_mask(), serde_json::json!(false));
    }

    #[test]
    fn redaction_hides_sensitive_and_unknown() {
        let v = Value::List(vec![Value::from("p").sensitive(), Value::Unknown]);
        assert_eq!(v.to_string(), "[(sensitive value), (known after apply)]");
    }
}
