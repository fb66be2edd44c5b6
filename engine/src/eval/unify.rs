//! Terraform's type unification, on values.
//!
//! Terraform gives both arms of a conditional, the elements of `tolist`/`toset`, the values
//! of `tomap` and the arguments of `coalesce` one common type, converting where it must:
//! `true ? 1 : "x"` is `"1"`, `tolist(["a", 1])` is `["a", "1"]`. standby's values carry no
//! static type, so the type is read off the values themselves: a list is a tuple of its
//! elements' types, a map an object of its attributes' types, and null or unknown fits any
//! type. Unification then follows cty's rules, and [`conform`] converts the values.

use super::expr::{to_bool, to_number};
use standby_provider_sdk::Value;
use std::collections::BTreeMap;

/// A value's type as far as unification needs it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ty {
    /// Null or unknown: fits any type and does not decide one.
    Any,
    Bool,
    Number,
    String,
    Tuple(Vec<Ty>),
    Object(BTreeMap<String, Ty>),
    List(Box<Ty>),
    Map(Box<Ty>),
}

pub(crate) fn type_of(v: &Value) -> Ty {
    match v {
        Value::Null | Value::Unknown => Ty::Any,
        Value::Bool(_) => Ty::Bool,
        Value::Number(_) => Ty::Number,
        Value::String(_) => Ty::String,
        Value::List(items) => Ty::Tuple(items.iter().map(type_of).collect()),
        Value::Map(m) => Ty::Object(m.iter().map(|(k, x)| (k.clone(), type_of(x))).collect()),
        Value::Sensitive(inner) => type_of(inner),
    }
}

/// The element types of a sequence or the attribute types of a mapping.
fn members(t: &Ty) -> Vec<&Ty> {
    match t {
        Ty::Tuple(ts) => ts.iter().collect(),
        Ty::Object(m) => m.values().collect(),
        Ty::List(t) | Ty::Map(t) => vec![t],
        _ => Vec::new(),
    }
}

/// The one type all of `types` convert to, as cty's `UnifyUnsafe` finds it; `None` when
/// there is none (a number and a bool, a list and a string).
pub(crate) fn unify(types: &[Ty]) -> Option<Ty> {
    let known: Vec<&Ty> = types.iter().filter(|t| **t != Ty::Any).collect();
    let Some(first) = known.first() else {
        return Some(Ty::Any);
    };
    if known.iter().all(|t| t == first) {
        return Some((*first).clone());
    }
    let primitive = |t: &&Ty| matches!(t, Ty::Bool | Ty::Number | Ty::String);
    if known.iter().all(primitive) {
        // Only strings take both numbers and bools.
        return known.contains(&&Ty::String).then_some(Ty::String);
    }
    let seq = |t: &&Ty| matches!(t, Ty::Tuple(_) | Ty::List(_));
    let map = |t: &&Ty| matches!(t, Ty::Object(_) | Ty::Map(_));
    if known.iter().all(seq) {
        if let Some(Ty::Tuple(ts)) = known.first() {
            let same_len = known
                .iter()
                .all(|t| matches!(t, Ty::Tuple(x) if x.len() == ts.len()));
            if same_len {
                return (0..ts.len())
                    .map(|i| {
                        let col: Vec<Ty> = known
                            .iter()
                            .filter_map(|t| match t {
                                Ty::Tuple(x) => x.get(i).cloned(),
                                _ => None,
                            })
                            .collect();
                        unify(&col)
                    })
                    .collect::<Option<Vec<_>>>()
                    .map(Ty::Tuple);
            }
        }
        let all: Vec<Ty> = known.iter().flat_map(|t| members(t)).cloned().collect();
        return unify(&all).map(|t| Ty::List(Box::new(t)));
    }
    if known.iter().all(map) {
        if let Some(Ty::Object(first)) = known.first() {
            let same_keys = known
                .iter()
                .all(|t| matches!(t, Ty::Object(x) if x.keys().eq(first.keys())));
            if same_keys {
                return first
                    .keys()
                    .map(|k| {
                        let col: Vec<Ty> = known
                            .iter()
                            .filter_map(|t| match t {
                                Ty::Object(x) => x.get(k).cloned(),
                                _ => None,
                            })
                            .collect();
                        unify(&col).map(|t| (k.clone(), t))
                    })
                    .collect::<Option<BTreeMap<_, _>>>()
                    .map(Ty::Object);
            }
        }
        let all: Vec<Ty> = known.iter().flat_map(|t| members(t)).cloned().collect();
        return unify(&all).map(|t| Ty::Map(Box::new(t)));
    }
    None
}

/// `v` converted to `ty`, which [`unify`] found for it; `None` where a string does not
/// convert (`"x"` to a number).
pub(crate) fn conform(v: &Value, ty: &Ty) -> Option<Value> {
    Some(match (v, ty) {
        (Value::Sensitive(inner), _) => conform(inner, ty)?.sensitive(),
        (Value::Null | Value::Unknown, _) | (_, Ty::Any) => v.clone(),
        (Value::Number(_) | Value::Bool(_), Ty::String) => Value::String(v.to_string()),
        (Value::String(_), Ty::Number) => Value::Number(to_number(v)?),
        (Value::String(_), Ty::Bool) => Value::Bool(to_bool(v)?),
        (Value::List(items), Ty::Tuple(ts)) => Value::List(
            items
                .iter()
                .zip(ts)
                .map(|(x, t)| conform(x, t))
                .collect::<Option<_>>()?,
        ),
        (Value::List(items), Ty::List(t)) => {
            Value::List(items.iter().map(|x| conform(x, t)).collect::<Option<_>>()?)
        }
        (Value::Map(m), Ty::Object(ts)) => Value::Map(
            m.iter()
                .map(|(k, x)| Some((k.clone(), conform(x, ts.get(k)?)?)))
                .collect::<Option<_>>()?,
        ),
        (Value::Map(m), Ty::Map(t)) => Value::Map(
            m.iter()
                .map(|(k, x)| Some((k.clone(), conform(x, t)?)))
                .collect::<Option<_>>()?,
        ),
        _ => v.clone(),
    })
}

/// The type in Terraform's JSON form (`"string"`, `["tuple", [...]]`, `["object", {...}]`),
/// as `output -json` shows it. A list is a tuple and a map an object: the values carry no
/// declared type; null is `"dynamic"`.
pub fn type_json(v: &Value) -> serde_json::Value {
    fn ty(t: &Ty) -> serde_json::Value {
        match t {
            Ty::Any => "dynamic".into(),
            Ty::Bool => "bool".into(),
            Ty::Number => "number".into(),
            Ty::String => "string".into(),
            Ty::Tuple(ts) => serde_json::json!(["tuple", ts.iter().map(ty).collect::<Vec<_>>()]),
            Ty::Object(m) => serde_json::json!([
                "object",
                m.iter()
                    .map(|(k, t)| (k.clone(), ty(t)))
                    .collect::<serde_json::Map<_, _>>()
            ]),
            Ty::List(t) => serde_json::json!(["list", ty(t)]),
            Ty::Map(t) => serde_json::json!(["map", ty(t)]),
        }
    }
    ty(&type_of(v))
}

/// `values` converted to their common type, or `None` when they have none.
pub(crate) fn unify_values(values: &[Value]) -> Option<Vec<Value>> {
    let ty = unify(&values.iter().map(type_of).collect::<Vec<_>>())?;
    values.iter().map(|v| conform(v, &ty)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(values: Vec<Value>, expect: &str) {
        let got = unify_values(&values).map_or("none".to_string(), |v| Value::List(v).to_string());
        assert_eq!(got, expect);
    }

    #[test]
    fn unification_follows_cty() {
        check(vec![Value::from(1i64), Value::from("x")], r#"["1", "x"]"#);
        check(vec![Value::from(1i64), Value::Bool(true)], "none");
        check(vec![Value::Null, Value::from(1i64)], "[null, 1]");
        check(
            vec![
                Value::List(vec![Value::from(1i64)]),
                Value::List(vec![Value::from("a")]),
            ],
            r#"[["1"], ["a"]]"#,
        );
        check(
            vec![
                Value::object([("a", Value::from(1i64))]),
                Value::object([("b", Value::from("x"))]),
            ],
            r#"[{a = "1"}, {b = "x"}]"#,
        );
        check(vec![Value::List(vec![]), Value::from("x")], "none");
    }
}
