//! Set and list-shaping functions Terraform 1.0 has: setsubtract, setproduct, chunklist,
//! transpose, matchkeys.

use super::collection::sorted_set;
use super::{arg, list_arg, num_arg, FnCtx};
use standby_provider_sdk::Value;
use std::collections::BTreeMap;

type R = Result<Value, String>;

pub(super) fn setsubtract(a: &[Value], _: &FnCtx) -> R {
    let minus = list_arg(a, 1)?;
    let keep: Vec<Value> = list_arg(a, 0)?
        .iter()
        .filter(|v| !minus.iter().any(|m| m.equals(v)))
        .cloned()
        .collect();
    sorted_set(keep)
}

/// Every combination of one element from each argument, in argument order.
pub(super) fn setproduct(a: &[Value], _: &FnCtx) -> R {
    if a.len() < 2 {
        return Err("setproduct needs at least two sets".into());
    }
    let mut rows: Vec<Vec<Value>> = vec![vec![]];
    for i in 0..a.len() {
        let items = list_arg(a, i)?;
        let n = rows.len().saturating_mul(items.len());
        if n > 1_000_000 {
            return Err(format!(
                "setproduct would make {n} combinations; the limit is 1000000"
            ));
        }
        rows = rows
            .into_iter()
            .flat_map(|r| {
                items.iter().map(move |x| {
                    let mut r = r.clone();
                    r.push(x.clone());
                    r
                })
            })
            .collect();
    }
    Ok(Value::List(rows.into_iter().map(Value::List).collect()))
}

pub(super) fn chunklist(a: &[Value], _: &FnCtx) -> R {
    let items = list_arg(a, 0)?;
    let size = num_arg(a, 1)?;
    if size < 0.0 || size.fract() != 0.0 {
        return Err("the chunk size must be a whole number of zero or more".into());
    }
    // As Terraform: size 0 puts everything in one chunk.
    let size = if size == 0.0 {
        items.len().max(1)
    } else {
        size as usize
    };
    Ok(Value::List(
        items
            .chunks(size)
            .map(|c| Value::List(c.to_vec()))
            .collect(),
    ))
}

/// A map of lists of strings turned inside out: each string maps to the keys that held it.
pub(super) fn transpose(a: &[Value], _: &FnCtx) -> R {
    let Value::Map(m) = arg(a, 0)? else {
        return Err("transpose needs a map of lists of strings".into());
    };
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (k, v) in m {
        let Value::List(items) = v else {
            return Err(format!(
                "transpose needs a map of lists of strings; {k:?} is not a list"
            ));
        };
        for i in items {
            let s = match i {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => i.to_string(),
                other => {
                    return Err(format!(
                        "transpose needs strings; found {}",
                        other.type_name()
                    ))
                }
            };
            out.entry(s).or_default().push(Value::String(k.clone()));
        }
    }
    Ok(Value::Map(
        out.into_iter().map(|(k, v)| (k, Value::List(v))).collect(),
    ))
}

/// The values whose key at the same index is in the search set.
pub(super) fn matchkeys(a: &[Value], _: &FnCtx) -> R {
    let (values, keys, search) = (list_arg(a, 0)?, list_arg(a, 1)?, list_arg(a, 2)?);
    if values.len() != keys.len() {
        return Err("matchkeys needs as many values as keys".into());
    }
    Ok(Value::List(
        values
            .iter()
            .zip(keys)
            .filter(|(_, k)| search.iter().any(|s| s.equals(k)))
            .map(|(v, _)| v.clone())
            .collect(),
    ))
}
