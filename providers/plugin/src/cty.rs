//! cty, the type system of Terraform's providers: types from their JSON descriptions, and
//! values to and from MessagePack as the plugin protocol carries them (`DynamicValue.msgpack`).
//!
//! MessagePack has no types of its own for cty's, so a value is always encoded against its
//! type: objects and maps are MessagePack maps, lists, sets and tuples arrays, numbers integers
//! or floats when exact and decimal strings otherwise, null `nil`, an unknown value the
//! extension type 0, and a value whose type is `dynamic` a pair of its type's JSON and itself.

use rmpv::Value as Mp;
use standby_provider_sdk::{Number, Value};
use std::collections::BTreeMap;

/// A cty type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// `string`.
    String,
    /// `number`.
    Number,
    /// `bool`.
    Bool,
    /// `dynamic`: any type, decided by the value.
    Dynamic,
    /// `["list", T]`.
    List(Box<Type>),
    /// `["set", T]`.
    Set(Box<Type>),
    /// `["map", T]`.
    Map(Box<Type>),
    /// `["object", {...}]`, with the names of its optional attributes.
    Object(BTreeMap<String, Type>),
    /// `["tuple", [...]]`.
    Tuple(Vec<Type>),
}

/// Why a type or value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CtyError(pub String);

fn err<T>(s: impl Into<String>) -> Result<T, CtyError> {
    Err(CtyError(s.into()))
}

impl Type {
    /// From the JSON type description a schema attribute carries.
    pub fn from_json(bytes: &[u8]) -> Result<Type, CtyError> {
        let j: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| CtyError(format!("type is not JSON: {e}")))?;
        Type::from_json_value(&j)
    }

    fn from_json_value(j: &serde_json::Value) -> Result<Type, CtyError> {
        use serde_json::Value as J;
        match j {
            J::String(s) => match s.as_str() {
                "string" => Ok(Type::String),
                "number" => Ok(Type::Number),
                "bool" => Ok(Type::Bool),
                "dynamic" => Ok(Type::Dynamic),
                other => err(format!("unknown primitive type {other:?}")),
            },
            J::Array(a) if a.len() >= 2 => {
                let kind = a[0].as_str().unwrap_or_default();
                let inner = || Type::from_json_value(&a[1]).map(Box::new);
                match kind {
                    "list" => Ok(Type::List(inner()?)),
                    "set" => Ok(Type::Set(inner()?)),
                    "map" => Ok(Type::Map(inner()?)),
                    "object" => {
                        let J::Object(attrs) = &a[1] else {
                            return err("an object type's attributes are not an object");
                        };
                        attrs
                            .iter()
                            .map(|(k, t)| Ok((k.clone(), Type::from_json_value(t)?)))
                            .collect::<Result<_, _>>()
                            .map(Type::Object)
                    }
                    "tuple" => {
                        let J::Array(items) = &a[1] else {
                            return err("a tuple type's elements are not an array");
                        };
                        items
                            .iter()
                            .map(Type::from_json_value)
                            .collect::<Result<_, _>>()
                            .map(Type::Tuple)
                    }
                    other => err(format!("unknown type kind {other:?}")),
                }
            }
            other => err(format!("not a type: {other}")),
        }
    }

    /// The JSON type description.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Type::String => json!("string"),
            Type::Number => json!("number"),
            Type::Bool => json!("bool"),
            Type::Dynamic => json!("dynamic"),
            Type::List(t) => json!(["list", t.to_json()]),
            Type::Set(t) => json!(["set", t.to_json()]),
            Type::Map(t) => json!(["map", t.to_json()]),
            Type::Object(a) => json!([
                "object",
                a.iter()
                    .map(|(k, t)| (k.clone(), t.to_json()))
                    .collect::<serde_json::Map<_, _>>()
            ]),
            Type::Tuple(ts) => json!(["tuple", ts.iter().map(Type::to_json).collect::<Vec<_>>()]),
        }
    }

    /// The type a value has, for a value sent where the schema says `dynamic`.
    pub fn of(v: &Value) -> Type {
        match v {
            Value::Null | Value::Unknown => Type::Dynamic,
            Value::Bool(_) => Type::Bool,
            Value::Number(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::List(items) => Type::Tuple(items.iter().map(Type::of).collect()),
            Value::Map(m) => {
                Type::Object(m.iter().map(|(k, v)| (k.clone(), Type::of(v))).collect())
            }
            Value::Sensitive(inner) => Type::of(inner),
        }
    }
}

/// Encodes `v` as type `t` (marks are dropped: sensitivity is the schema's business).
pub fn encode(v: &Value, t: &Type) -> Result<Vec<u8>, CtyError> {
    let mp = to_mp(v, t)?;
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &mp).map_err(|e| CtyError(e.to_string()))?;
    Ok(out)
}

/// Decodes MessagePack bytes of type `t`.
pub fn decode(bytes: &[u8], t: &Type) -> Result<Value, CtyError> {
    let mut rest = bytes;
    let mp = rmpv::decode::read_value(&mut rest)
        .map_err(|e| CtyError(format!("not MessagePack: {e}")))?;
    if !rest.is_empty() {
        return err(format!("{} bytes after the value", rest.len()));
    }
    from_mp(&mp, t)
}

fn unknown() -> Mp {
    Mp::Ext(0, vec![0])
}

fn number_mp(n: &Number) -> Mp {
    if let Some(i) = n.to_i64().filter(|_| n.is_integer()) {
        return Mp::from(i);
    }
    let f = n.to_f64();
    if Number::from_f64(f).is_some_and(|back| back.exact_key() == n.exact_key()) {
        return Mp::F64(f);
    }
    Mp::from(n.to_string())
}

fn to_mp(v: &Value, t: &Type) -> Result<Mp, CtyError> {
    match (v, t) {
        (Value::Sensitive(inner), _) => to_mp(inner, t),
        (Value::Null, _) => Ok(Mp::Nil),
        (Value::Unknown, _) => Ok(unknown()),
        (_, Type::Dynamic) => {
            let actual = Type::of(v);
            let json =
                serde_json::to_vec(&actual.to_json()).map_err(|e| CtyError(e.to_string()))?;
            Ok(Mp::Array(vec![Mp::Binary(json), to_mp(v, &actual)?]))
        }
        (Value::String(s), Type::String) => Ok(Mp::from(s.as_str())),
        (Value::Number(n), Type::String) => Ok(Mp::from(n.to_string())),
        (Value::Bool(b), Type::String) => Ok(Mp::from(b.to_string())),
        (Value::Number(n), Type::Number) => Ok(number_mp(n)),
        (Value::String(s), Type::Number) => Number::parse(s)
            .map(|n| number_mp(&n))
            .map_err(|_| CtyError(format!("{s:?} is not a number"))),
        (Value::Bool(b), Type::Bool) => Ok(Mp::Boolean(*b)),
        (Value::String(s), Type::Bool) if s == "true" || s == "false" => {
            Ok(Mp::Boolean(s == "true"))
        }
        (Value::List(items), Type::List(e) | Type::Set(e)) => items
            .iter()
            .map(|i| to_mp(i, e))
            .collect::<Result<_, _>>()
            .map(Mp::Array),
        (Value::List(items), Type::Tuple(ts)) if items.len() == ts.len() => items
            .iter()
            .zip(ts)
            .map(|(i, t)| to_mp(i, t))
            .collect::<Result<_, _>>()
            .map(Mp::Array),
        (Value::Map(m), Type::Map(e)) => m
            .iter()
            .map(|(k, i)| Ok((Mp::from(k.as_str()), to_mp(i, e)?)))
            .collect::<Result<_, _>>()
            .map(Mp::Map),
        (Value::Map(m), Type::Object(attrs)) => attrs
            .iter()
            .map(|(k, at)| {
                Ok((
                    Mp::from(k.as_str()),
                    to_mp(m.get(k).unwrap_or(&Value::Null), at)?,
                ))
            })
            .collect::<Result<_, _>>()
            .map(Mp::Map),
        (v, t) => err(format!(
            "a {} value where the provider expects {}",
            kind(v),
            t.to_json()
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown => "unknown",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "list",
        Value::Map(_) => "map",
        Value::Sensitive(_) => "sensitive",
    }
}

fn mp_string(m: &Mp) -> Option<String> {
    match m {
        Mp::String(s) => s.as_str().map(str::to_string),
        Mp::Binary(b) => String::from_utf8(b.clone()).ok(),
        _ => None,
    }
}

fn from_mp(m: &Mp, t: &Type) -> Result<Value, CtyError> {
    match (m, t) {
        (Mp::Nil, _) => Ok(Value::Null),
        // Type 0 is an unknown value; newer cty adds refinements in type 12, also unknown.
        (Mp::Ext(_, _), _) => Ok(Value::Unknown),
        (Mp::Array(pair), Type::Dynamic) if pair.len() == 2 => {
            let json = mp_string(&pair[0])
                .ok_or_else(|| CtyError("a dynamic value without its type".into()))?;
            let actual = Type::from_json(json.as_bytes())?;
            from_mp(&pair[1], &actual)
        }
        (Mp::String(s), Type::String) => s
            .as_str()
            .map(Value::string)
            .ok_or_else(|| CtyError("a string that is not UTF-8".into())),
        (Mp::Integer(i), Type::Number) => i
            .as_i64()
            .map(|i| Value::Number(Number::from_i64(i)))
            .or_else(|| {
                i.as_u64()
                    .and_then(|u| Number::parse(&u.to_string()).ok())
                    .map(Value::Number)
            })
            .ok_or_else(|| CtyError("an integer out of range".into())),
        (Mp::F64(f), Type::Number) => Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| CtyError(format!("{f} is not a number standby can hold"))),
        (Mp::F32(f), Type::Number) => Number::from_f64(f64::from(*f))
            .map(Value::Number)
            .ok_or_else(|| CtyError(format!("{f} is not a number standby can hold"))),
        (Mp::String(s), Type::Number) => s
            .as_str()
            .and_then(|s| Number::parse(s).ok())
            .map(Value::Number)
            .ok_or_else(|| CtyError("a number string that does not parse".into())),
        (Mp::Boolean(b), Type::Bool) => Ok(Value::Bool(*b)),
        (Mp::Array(items), Type::List(e) | Type::Set(e)) => items
            .iter()
            .map(|i| from_mp(i, e))
            .collect::<Result<_, _>>()
            .map(Value::List),
        (Mp::Array(items), Type::Tuple(ts)) if items.len() == ts.len() => items
            .iter()
            .zip(ts)
            .map(|(i, t)| from_mp(i, t))
            .collect::<Result<_, _>>()
            .map(Value::List),
        (Mp::Map(entries), Type::Map(e)) => entries
            .iter()
            .map(|(k, v)| {
                let k = mp_string(k)
                    .ok_or_else(|| CtyError("a map key that is not a string".into()))?;
                Ok((k, from_mp(v, e)?))
            })
            .collect::<Result<_, _>>()
            .map(Value::Map),
        (Mp::Map(entries), Type::Object(attrs)) => {
            let mut out = BTreeMap::new();
            for (k, v) in entries {
                let k = mp_string(k)
                    .ok_or_else(|| CtyError("an attribute name that is not a string".into()))?;
                let Some(at) = attrs.get(&k) else {
                    return err(format!("unexpected attribute {k:?}"));
                };
                out.insert(k, from_mp(v, at)?);
            }
            for k in attrs.keys() {
                out.entry(k.clone()).or_insert(Value::Null);
            }
            Ok(Value::Map(out))
        }
        (m, t) => err(format!("{m} is not a {}", t.to_json())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(json: &str) -> Type {
        Type::from_json(json.as_bytes()).unwrap()
    }

    fn round(v: &Value, ty: &Type) -> Value {
        decode(&encode(v, ty).unwrap(), ty).unwrap()
    }

    #[test]
    fn types_round_trip_through_json() {
        for j in [
            r#""string""#,
            r#"["map","string"]"#,
            r#"["list",["object",{"a":"number","b":["set","bool"]}]]"#,
            r#"["tuple",["string","dynamic"]]"#,
        ] {
            let ty = t(j);
            assert_eq!(
                Type::from_json(ty.to_json().to_string().as_bytes()).unwrap(),
                ty,
                "{j}"
            );
        }
        assert!(Type::from_json(br#"["list"]"#).is_err());
        assert!(Type::from_json(br#""strin""#).is_err());
    }

    #[test]
    fn values_round_trip_with_unknowns_nulls_and_numbers() {
        let ty = t(
            r#"["object",{"id":"string","n":"number","big":"number","f":"number","tags":["map","string"],"l":["list","bool"],"u":"string","none":"string"}]"#,
        );
        let v = Value::object([
            ("id", Value::string("x")),
            ("n", Value::Number(Number::from_i64(-42))),
            (
                "big",
                Value::Number(Number::parse("123456789012345678901234567890").unwrap()),
            ),
            ("f", Value::Number(Number::parse("0.5").unwrap())),
            ("tags", Value::object([("k", Value::string("v"))])),
            ("l", Value::List(vec![Value::Bool(true), Value::Unknown])),
            ("u", Value::Unknown),
            ("none", Value::Null),
        ]);
        assert_eq!(round(&v, &ty), v);
    }

    #[test]
    fn a_dynamic_value_travels_with_its_type() {
        let v = Value::object([("a", Value::List(vec![Value::string("x")]))]);
        let bytes = encode(&v, &Type::Dynamic).unwrap();
        let mp = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
        assert!(matches!(&mp, Mp::Array(p) if p.len() == 2));
        assert_eq!(decode(&bytes, &Type::Dynamic).unwrap(), v);
        assert_eq!(round(&Value::Unknown, &Type::Dynamic), Value::Unknown);
    }

    #[test]
    fn unknown_is_extension_zero_and_any_extension_decodes_as_unknown() {
        let bytes = encode(&Value::Unknown, &Type::String).unwrap();
        assert_eq!(bytes, [0xd4, 0x00, 0x00]);
        let refined = {
            let mut out = Vec::new();
            rmpv::encode::write_value(&mut out, &Mp::Ext(12, vec![1, 2])).unwrap();
            out
        };
        assert_eq!(decode(&refined, &Type::String).unwrap(), Value::Unknown);
    }

    #[test]
    fn mismatches_are_errors_not_panics() {
        assert!(encode(&Value::string("x"), &t(r#"["list","string"]"#)).is_err());
        assert!(decode(&[0x92, 0xa1], &Type::String).is_err(), "truncated");
        assert!(
            decode(&[0xc0, 0xc0], &Type::String).is_err(),
            "trailing bytes"
        );
        let bytes = encode(
            &Value::object([("z", Value::Bool(true))]),
            &t(r#"["map","bool"]"#),
        )
        .unwrap();
        assert!(decode(&bytes, &t(r#"["object",{"a":"bool"}]"#)).is_err());
    }
}
