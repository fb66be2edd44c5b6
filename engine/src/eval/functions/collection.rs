//! Collection and type-conversion functions.

use super::{arg, list_arg, num_arg, number_arg, str_arg, FnCtx};
use standby_provider_sdk::{Number, Value};
use std::collections::BTreeMap;

type R = Result<Value, String>;

pub(super) fn length(a: &[Value], _: &FnCtx) -> R {
    // The length of a list is known even when its elements are not.
    Ok(match arg(a, 0)?.unmarked() {
        Value::List(l) => Value::from(l.len() as i64),
        Value::Map(m) => Value::from(m.len() as i64),
        Value::String(s) => Value::from(super::string::graphemes(s).count() as i64),
        Value::Unknown => Value::Unknown,
        other => {
            return Err(format!(
                "length needs a list, map or string, found {}",
                other.type_name()
            ))
        }
    })
}

pub(super) fn concat(a: &[Value], _: &FnCtx) -> R {
    let mut out = Vec::new();
    for i in 0..a.len() {
        out.extend(list_arg(a, i)?.iter().cloned());
    }
    Ok(Value::List(out))
}

pub(super) fn merge(a: &[Value], _: &FnCtx) -> R {
    let mut out = BTreeMap::new();
    for v in a {
        match v {
            Value::Map(m) => out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
            Value::Null => {}
            other => {
                return Err(format!(
                    "merge needs maps or objects, found {}",
                    other.type_name()
                ))
            }
        }
    }
    Ok(Value::Map(out))
}

fn map_arg(a: &[Value], i: usize) -> Result<&BTreeMap<String, Value>, String> {
    match arg(a, i)? {
        Value::Map(m) => Ok(m),
        other => Err(format!(
            "argument {} must be a map, found {}",
            i + 1,
            other.type_name()
        )),
    }
}

pub(super) fn lookup(a: &[Value], _: &FnCtx) -> R {
    let m = map_arg(a, 0)?;
    let k: &str = &str_arg(a, 1)?;
    match (m.get(k), a.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(d)) => Ok(d.clone()),
        (None, None) => Err(format!("the map has no key {k:?} and no default was given")),
    }
}

pub(super) fn keys(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::List(
        map_arg(a, 0)?
            .keys()
            .map(|k| Value::from(k.as_str()))
            .collect(),
    ))
}

pub(super) fn values(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::List(map_arg(a, 0)?.values().cloned().collect()))
}

pub(super) fn contains(a: &[Value], _: &FnCtx) -> R {
    let needle = arg(a, 1)?;
    Ok(Value::Bool(
        list_arg(a, 0)?.iter().any(|v| v.equals(needle)),
    ))
}

pub(super) fn element(a: &[Value], _: &FnCtx) -> R {
    let l = list_arg(a, 0)?;
    if l.is_empty() {
        return Err("cannot use element on an empty list".into());
    }
    let i = num_arg(a, 1)?;
    if i < 0.0 {
        return Err("element index must not be negative".into());
    }
    Ok(l[(i as usize) % l.len()].clone())
}

pub(super) fn index(a: &[Value], _: &FnCtx) -> R {
    let needle = arg(a, 1)?;
    list_arg(a, 0)?
        .iter()
        .position(|v| v.equals(needle))
        .map(|i| Value::from(i as i64))
        .ok_or_else(|| format!("{needle} is not in the list"))
}

pub(super) fn slice(a: &[Value], _: &FnCtx) -> R {
    let l = list_arg(a, 0)?;
    let (from, to) = (num_arg(a, 1)? as usize, num_arg(a, 2)? as usize);
    if from > to || to > l.len() {
        return Err(format!(
            "slice indexes {from}..{to} are out of range for a list of {}",
            l.len()
        ));
    }
    Ok(Value::List(l[from..to].to_vec()))
}

pub(super) fn sort(a: &[Value], _: &FnCtx) -> R {
    let mut items = Vec::new();
    for v in list_arg(a, 0)? {
        match v {
            Value::String(s) => items.push(s.clone()),
            Value::Number(_) | Value::Bool(_) => items.push(v.to_string()),
            other => {
                return Err(format!(
                    "sort needs a list of strings, found {}",
                    other.type_name()
                ))
            }
        }
    }
    items.sort();
    Ok(Value::List(items.into_iter().map(Value::String).collect()))
}

pub(super) fn reverse(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::List(list_arg(a, 0)?.iter().rev().cloned().collect()))
}

pub(super) fn compact(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::List(
        list_arg(a, 0)?
            .iter()
            .filter(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
            .cloned()
            .collect(),
    ))
}

fn flatten_into(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::List(l) => l.iter().for_each(|x| flatten_into(x, out)),
        other => out.push(other.clone()),
    }
}

pub(super) fn flatten(a: &[Value], _: &FnCtx) -> R {
    let mut out = Vec::new();
    list_arg(a, 0)?
        .iter()
        .for_each(|x| flatten_into(x, &mut out));
    Ok(Value::List(out))
}

/// The first of each group of equal values, in order, in linear time (a fuzzer's 100,000
/// elements took 90 s pairwise). Values are keyed by their unmarked structure, which tells
/// types apart as `same_as` does; a value that is not wholly known equals nothing.
pub(super) fn dedup(items: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<Value> = Vec::new();
    for v in items {
        if !v.is_wholly_known() || seen.insert(dedup_key(&v.deep_unmark().0)) {
            out.push(v);
        }
    }
    out
}

/// A value's structure as text, with `-0` as `0` (they are equal numbers).
fn dedup_key(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("Number({})", n.exact_key()),
        Value::List(items) => format!(
            "List[{}]",
            items.iter().map(dedup_key).collect::<Vec<_>>().join(",")
        ),
        Value::Map(m) => format!(
            "Map{{{}}}",
            m.iter()
                .map(|(k, x)| format!("{k:?}:{}", dedup_key(x)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => format!("{other:?}"),
    }
}

pub(super) fn distinct(a: &[Value], _: &FnCtx) -> R {
    let items = single_type(list_arg(a, 0)?.to_vec(), "list")?;
    Ok(Value::List(dedup(items)))
}

/// Terraform's `range`: the step defaults to -1 when counting down, and at most 1024 values.
pub(super) fn range(a: &[Value], _: &FnCtx) -> R {
    let n = |i| number_arg(a, i);
    let one = Number::from_i64(1);
    let zero = Number::from_i64(0);
    let (start, end, step) = match a.len() {
        1 => {
            let end = n(0)?;
            let step = if end < zero { one.neg() } else { one };
            (zero.clone(), end, step)
        }
        2 => {
            let (start, end) = (n(0)?, n(1)?);
            let step = if end < start { one.neg() } else { one };
            (start, end, step)
        }
        3 => (n(0)?, n(1)?, n(2)?),
        _ => return Err("range takes one to three numbers".into()),
    };
    if step.is_zero() {
        return Err("step must not be zero".into());
    }
    let down = step < zero;
    if down && end > start {
        return Err("end must be less than start when step is negative".into());
    }
    if !down && end < start {
        return Err("end must be greater than start when step is positive".into());
    }
    let mut out = Vec::new();
    let mut num = start;
    while if down { num > end } else { num < end } {
        if out.len() >= 1024 {
            return Err("more than 1024 values were generated; either decrease the difference between start and end or use a smaller step".into());
        }
        out.push(Value::Number(num.clone()));
        num = num.add(&step).map_err(|e| e.to_string())?;
    }
    Ok(Value::List(out))
}

pub(super) fn zipmap(a: &[Value], _: &FnCtx) -> R {
    let (k, v) = (list_arg(a, 0)?, list_arg(a, 1)?);
    if k.len() != v.len() {
        return Err(format!(
            "keys and values must have the same length; found {} and {}",
            k.len(),
            v.len()
        ));
    }
    let mut out = BTreeMap::new();
    for (key, val) in k.iter().zip(v) {
        let key = key
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| key.to_string());
        out.insert(key, val.clone());
    }
    Ok(Value::Map(out))
}

/// A set as Terraform makes one: elements converted to one type, duplicates dropped, and
/// sorted (numbers by value, strings by bytes).
pub(super) fn sorted_set(v: Vec<Value>) -> R {
    let mut v = dedup(single_type(v, "set")?);
    v.sort_by(Value::set_order);
    Ok(Value::List(v))
}

/// The elements converted to their one common type, as a conversion to a list or set does.
pub(super) fn single_type(v: Vec<Value>, what: &str) -> Result<Vec<Value>, String> {
    crate::eval::unify::unify_values(&v)
        .ok_or_else(|| format!("cannot convert these elements to a {what} of any single type"))
}

pub(super) fn setunion(a: &[Value], _: &FnCtx) -> R {
    let mut all = Vec::new();
    for i in 0..a.len() {
        all.extend(list_arg(a, i)?.iter().cloned());
    }
    sorted_set(all)
}

pub(super) fn setintersection(a: &[Value], _: &FnCtx) -> R {
    let first = list_arg(a, 0)?.to_vec();
    let mut keep = Vec::new();
    for v in first {
        let mut everywhere = true;
        for i in 1..a.len() {
            everywhere &= list_arg(a, i)?.iter().any(|x| x.equals(&v));
        }
        if everywhere {
            keep.push(v);
        }
    }
    sorted_set(keep)
}

pub(super) fn one(a: &[Value], _: &FnCtx) -> R {
    match list_arg(a, 0)? {
        [] => Ok(Value::Null),
        [x] => Ok(x.clone()),
        l => Err(format!(
            "one needs a list of zero or one element, found {}",
            l.len()
        )),
    }
}

pub(super) fn sum(a: &[Value], _: &FnCtx) -> R {
    let l = list_arg(a, 0)?;
    if l.is_empty() {
        return Err("cannot sum an empty list".into());
    }
    let mut total: Option<Number> = None;
    for (i, v) in l.iter().enumerate() {
        let n = super::super::expr::to_number(v)
            .ok_or_else(|| format!("element {i} is a {}, not a number", v.type_name()))?;
        total = Some(match total {
            None => n,
            Some(t) => t.add(&n).map_err(|e| e.to_string())?,
        });
    }
    Ok(total.map_or(Value::Null, Value::Number))
}

fn bools(a: &[Value]) -> Result<Vec<bool>, String> {
    list_arg(a, 0)?
        .iter()
        .map(|v| match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
            other => Err(format!(
                "expected a list of bools, found an element of type {}",
                other.type_name()
            )),
        })
        .collect()
}

pub(super) fn alltrue(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::Bool(bools(a)?.into_iter().all(|b| b)))
}

pub(super) fn anytrue(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::Bool(bools(a)?.into_iter().any(|b| b)))
}

pub(super) fn coalesce(a: &[Value], _: &FnCtx) -> R {
    let a = &crate::eval::unify::unify_values(a).ok_or("all arguments must have the same type")?;
    for v in a {
        match v.unmarked() {
            Value::Unknown => return Ok(Value::Unknown),
            Value::Null => {}
            Value::String(s) if s.is_empty() => {}
            _ => return Ok(v.clone()),
        }
    }
    Err("no non-null, non-empty argument".into())
}

pub(super) fn coalescelist(a: &[Value], _: &FnCtx) -> R {
    for i in 0..a.len() {
        if !list_arg(a, i)?.is_empty() {
            return Ok(a[i].clone());
        }
    }
    Ok(Value::List(Vec::new()))
}

pub(super) fn tolist(a: &[Value], _: &FnCtx) -> R {
    match arg(a, 0)? {
        Value::List(items) => Ok(Value::List(single_type(items.clone(), "list")?)),
        Value::Null => Ok(a[0].clone()),
        other => Err(format!("cannot convert {} to a list", other.type_name())),
    }
}

pub(super) fn toset(a: &[Value], _: &FnCtx) -> R {
    if arg(a, 0)?.is_null() {
        return Ok(Value::Null);
    }
    sorted_set(list_arg(a, 0)?.to_vec())
}

pub(super) fn tomap(a: &[Value], _: &FnCtx) -> R {
    match arg(a, 0)? {
        Value::Map(m) => {
            let values = single_type(m.values().cloned().collect(), "map")?;
            Ok(Value::Map(m.keys().cloned().zip(values).collect()))
        }
        Value::Null => Ok(a[0].clone()),
        other => Err(format!("cannot convert {} to a map", other.type_name())),
    }
}

pub(super) fn tostring(a: &[Value], _: &FnCtx) -> R {
    match arg(a, 0)? {
        Value::String(_) | Value::Null => Ok(a[0].clone()),
        v @ (Value::Number(_) | Value::Bool(_)) => Ok(Value::String(v.to_string())),
        other => Err(format!("cannot convert {} to a string", other.type_name())),
    }
}

pub(super) fn tonumber(a: &[Value], _: &FnCtx) -> R {
    match arg(a, 0)? {
        Value::Number(_) | Value::Null => Ok(a[0].clone()),
        Value::String(s) => Number::parse(s)
            .map(Value::Number)
            .map_err(|_| format!("cannot convert {s:?} to a number")),
        other => Err(format!("cannot convert {} to a number", other.type_name())),
    }
}

pub(super) fn tobool(a: &[Value], _: &FnCtx) -> R {
    match arg(a, 0)? {
        Value::Bool(_) | Value::Null => Ok(a[0].clone()),
        Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
        other => Err(format!("cannot convert {other} to a bool")),
    }
}
