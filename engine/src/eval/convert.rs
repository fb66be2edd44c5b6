//! Conversion of values to variable type constraints, with Terraform's automatic conversions.

use crate::config::TypeConstraint;
use standby_provider_sdk::Value;
use std::collections::BTreeMap;

/// Converts `v` to `ty`, or says what was expected and what was found. A collection of
/// `any` converts its elements to their one common type, as Terraform does.
pub fn convert(v: &Value, ty: &TypeConstraint) -> Result<Value, String> {
    let out = convert_exact(v, ty)?;
    let elements_any = matches!(
        ty,
        TypeConstraint::List(t) | TypeConstraint::Set(t) | TypeConstraint::Map(t)
            if **t == TypeConstraint::Any
    );
    if !elements_any {
        return Ok(out);
    }
    let mismatch = || format!("expected {ty}, found elements of no single type");
    Ok(match out {
        Value::List(items) => {
            let mut items = super::unify::unify_values(&items).ok_or_else(mismatch)?;
            if matches!(ty, TypeConstraint::Set(_)) {
                // Unified elements may now be equal.
                items = set_of(items);
            }
            Value::List(items)
        }
        Value::Map(m) => {
            let values: Vec<Value> = m.values().cloned().collect();
            let values = super::unify::unify_values(&values).ok_or_else(mismatch)?;
            Value::Map(m.into_keys().zip(values).collect())
        }
        other => other,
    })
}

fn convert_exact(v: &Value, ty: &TypeConstraint) -> Result<Value, String> {
    let mismatch = |found: &Value| format!("expected {ty}, found {}", describe(found));
    match (ty, v) {
        (_, Value::Null | Value::Unknown) | (TypeConstraint::Any, _) => Ok(v.clone()),
        (_, Value::Sensitive(inner)) => convert(inner, ty).map(Value::sensitive),
        (TypeConstraint::String, Value::String(_)) => Ok(v.clone()),
        (TypeConstraint::String, Value::Number(_) | Value::Bool(_)) => {
            Ok(Value::String(v.to_string()))
        }
        (TypeConstraint::Number, Value::Number(_)) | (TypeConstraint::Bool, Value::Bool(_)) => {
            Ok(v.clone())
        }
        (TypeConstraint::Number, Value::String(s)) => standby_provider_sdk::Number::parse(s)
            .map(Value::Number)
            .map_err(|_| mismatch(v)),
        (TypeConstraint::Bool, Value::String(s)) if s == "true" || s == "false" => {
            Ok(Value::Bool(s == "true"))
        }
        (TypeConstraint::List(t), Value::List(items)) => items
            .iter()
            .enumerate()
            .map(|(i, x)| convert(x, t).map_err(|e| format!("element {i}: {e}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List),
        (TypeConstraint::Set(t), Value::List(items)) => items
            .iter()
            .map(|x| convert(x, t))
            .collect::<Result<Vec<_>, _>>()
            .map(|items| Value::List(set_of(items))),
        (TypeConstraint::Tuple(ts), Value::List(items)) if ts.len() == items.len() => items
            .iter()
            .zip(ts)
            .map(|(x, t)| convert(x, t))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List),
        (TypeConstraint::Map(t), Value::Map(m)) => m
            .iter()
            .map(|(k, x)| {
                convert(x, t)
                    .map(|c| (k.clone(), c))
                    .map_err(|e| format!("key {k:?}: {e}"))
            })
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map(Value::Map),
        (TypeConstraint::Object(attrs), Value::Map(m)) => {
            let mut out = BTreeMap::new();
            for (k, (t, optional)) in attrs {
                match m.get(k) {
                    Some(x) => {
                        out.insert(
                            k.clone(),
                            convert(x, t).map_err(|e| format!("attribute {k:?}: {e}"))?,
                        );
                    }
                    None if *optional => {
                        out.insert(k.clone(), Value::Null);
                    }
                    None => return Err(format!("attribute {k:?} is required")),
                }
            }
            // Attributes the type does not name are dropped, as Terraform drops them.
            Ok(Value::Map(out))
        }
        _ => Err(mismatch(v)),
    }
}

/// A set of `items`: one of each, in Terraform's order.
fn set_of(items: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for x in items {
        if !out.iter().any(|o| o.equals(&x)) {
            out.push(x);
        }
    }
    out.sort_by(Value::set_order);
    out
}

fn describe(v: &Value) -> String {
    match v {
        Value::List(_) => "a list/tuple".into(),
        Value::Map(_) => "an object/map".into(),
        other => other.type_name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(
            convert(&Value::from(3.0), &TypeConstraint::String).unwrap(),
            Value::from("3")
        );
        assert_eq!(
            convert(&Value::from("4"), &TypeConstraint::Number).unwrap(),
            Value::from(4.0)
        );
        assert!(convert(&Value::from("x"), &TypeConstraint::Number)
            .unwrap_err()
            .contains("expected number, found string"));
        let obj = TypeConstraint::Object(BTreeMap::from([
            ("a".into(), (TypeConstraint::Number, false)),
            ("b".into(), (TypeConstraint::String, true)),
        ]));
        let v = convert(&Value::object([("a", Value::from("1"))]), &obj).unwrap();
        assert_eq!(
            v,
            Value::object([("a", Value::from(1.0)), ("b", Value::Null)])
        );
        assert!(convert(&Value::object([("c", Value::Null)]), &obj).is_err());
        // Collections of any unify their elements; a set keeps one of each, sorted.
        let set_any = TypeConstraint::Set(Box::new(TypeConstraint::Any));
        let v = Value::List(vec![
            Value::from(1i64),
            Value::from("1"),
            Value::from(10i64),
            Value::from(9i64),
        ]);
        assert_eq!(
            convert(&v, &set_any).unwrap().to_string(),
            r#"["1", "10", "9"]"#
        );
    }
}
