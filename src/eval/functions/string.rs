//! String functions.

use super::{list_arg, num_arg, str_arg, FnCtx};
use standby_provider_sdk::Value;

fn s(v: impl Into<String>) -> Result<Value, String> {
    Ok(Value::String(v.into()))
}

/// Formats one value for a `%` verb.
/// The widest padding or precision `format` accepts: enough for any real layout, far below
/// what would exhaust memory.
const MAX_FORMAT_SIZE: usize = 10_000;

fn format_size(what: &str, digits: &str) -> Result<usize, String> {
    if digits.is_empty() {
        return Ok(0);
    }
    match digits.parse::<usize>() {
        Ok(n) if n <= MAX_FORMAT_SIZE => Ok(n),
        _ => Err(format!(
            "a {what} of {digits} is more than format allows ({MAX_FORMAT_SIZE})"
        )),
    }
}

fn format_verb(verb: char, precision: Option<usize>, v: &Value) -> Result<String, String> {
    Ok(match (verb, v) {
        ('s' | 'v', Value::String(x)) => x.clone(),
        ('s' | 'v', Value::Number(_) | Value::Bool(_)) => v.to_string(),
        ('v', other) => serde_json::to_string(&other.to_json()).map_err(|e| e.to_string())?,
        ('d', Value::Number(n)) => format!("{}", n.trunc() as i64),
        ('d', Value::String(x)) => format!(
            "{}",
            x.parse::<f64>()
                .map_err(|_| format!("%d needs a number, found {x:?}"))?
                .trunc() as i64
        ),
        ('f', Value::Number(n)) => format!("{:.*}", precision.unwrap_or(6), n),
        ('e', Value::Number(n)) => format!("{:.*e}", precision.unwrap_or(6), n),
        ('t', Value::Bool(b)) => b.to_string(),
        ('q', Value::String(x)) => serde_json::Value::String(x.clone()).to_string(),
        ('x', Value::Number(n)) => format!("{:x}", *n as i64),
        ('x', Value::String(x)) => x.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Value::Number(n)) => format!("{:X}", *n as i64),
        ('o', Value::Number(n)) => format!("{:o}", *n as i64),
        ('b', Value::Number(n)) => format!("{:b}", *n as i64),
        (_, Value::Null) => return Err(format!("cannot format null with %{verb}")),
        (verb, other) => return Err(format!("%{verb} cannot format a {}", other.type_name())),
    })
}

pub(super) fn format_str(spec: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = spec.chars().peekable();
    let mut next = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek().filter(|f| "-+ 0#".contains(**f)) {
            flags.push(f);
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(format_size("precision", &p)?);
        }
        let verb = chars
            .next()
            .ok_or("format string ends with an incomplete % verb")?;
        let v = args
            .get(next)
            .ok_or_else(|| format!("not enough arguments for format string {spec:?}"))?;
        next += 1;
        let mut text = format_verb(verb, precision, v)?;
        if flags.contains('+') && matches!(v, Value::Number(n) if *n >= 0.0) {
            text.insert(0, '+');
        }
        let w = format_size("width", &width)?;
        let len = text.chars().count();
        if len < w {
            let pad = w - len;
            if flags.contains('-') {
                text.push_str(&" ".repeat(pad));
            } else if flags.contains('0') {
                text.insert_str(0, &"0".repeat(pad));
            } else {
                text.insert_str(0, &" ".repeat(pad));
            }
        }
        out.push_str(&text);
    }
    if next < args.len() {
        return Err(format!(
            "too many arguments; the format string uses {next} but {} were given",
            args.len()
        ));
    }
    Ok(out)
}

pub(super) fn format(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    s(format_str(str_arg(a, 0)?, &a[1..])?)
}

pub(super) fn formatlist(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let spec = str_arg(a, 0)?;
    let rest = &a[1..];
    let n = rest
        .iter()
        .filter_map(|v| {
            if let Value::List(l) = v {
                Some(l.len())
            } else {
                None
            }
        })
        .try_fold(None, |acc: Option<usize>, len| match acc {
            Some(prev) if prev != len => Err(format!(
                "all list arguments must have the same length; found {prev} and {len}"
            )),
            _ => Ok(Some(len)),
        })?
        .unwrap_or(1);
    let mut out = Vec::with_capacity(n.min(1 << 16));
    let mut growth = crate::eval::size::Growth::default();
    for i in 0..n {
        let row: Vec<Value> = rest
            .iter()
            .map(|v| match v {
                Value::List(l) => l[i].clone(),
                other => other.clone(),
            })
            .collect();
        let v = Value::String(format_str(spec, &row)?);
        growth.add_value(&v)?;
        out.push(v);
    }
    Ok(Value::List(out))
}

pub(super) fn join(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let sep = str_arg(a, 0)?;
    let mut parts = Vec::new();
    for i in 1..a.len() {
        for v in list_arg(a, i)? {
            match v {
                Value::String(x) => parts.push(x.clone()),
                Value::Number(_) | Value::Bool(_) => parts.push(v.to_string()),
                other => {
                    return Err(format!(
                        "join needs a list of strings, found an element of type {}",
                        other.type_name()
                    ))
                }
            }
        }
    }
    // The separator repeats between every two parts: refuse before building.
    let total = parts.iter().map(String::len).sum::<usize>()
        + sep.len().saturating_mul(parts.len().saturating_sub(1));
    crate::eval::size::Growth::default().add(total as u64)?;
    s(parts.join(sep))
}

pub(super) fn split(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let sep = str_arg(a, 0)?;
    let text = str_arg(a, 1)?;
    if text.is_empty() {
        return Ok(Value::List(vec![Value::string("")]));
    }
    // Each part costs a value of its own: split("", big) makes one per character.
    let parts = if sep.is_empty() {
        text.chars().count() + 2
    } else {
        text.matches(sep).count() + 1
    };
    crate::eval::size::Growth::default()
        .add(text.len() as u64 + parts as u64 * crate::eval::size::PER_VALUE)?;
    Ok(Value::List(text.split(sep).map(Value::from).collect()))
}

pub(super) fn lower(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    s(str_arg(a, 0)?.to_lowercase())
}

pub(super) fn upper(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    s(str_arg(a, 0)?.to_uppercase())
}

pub(super) fn title(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let mut out = String::new();
    let mut start = true;
    for c in str_arg(a, 0)?.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    s(out)
}

pub(super) fn trimspace(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    s(str_arg(a, 0)?.trim())
}

pub(super) fn trim(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let cut: Vec<char> = str_arg(a, 1)?.chars().collect();
    s(str_arg(a, 0)?.trim_matches(|c| cut.contains(&c)))
}

pub(super) fn trimprefix(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let t = str_arg(a, 0)?;
    s(t.strip_prefix(str_arg(a, 1)?).unwrap_or(t))
}

pub(super) fn trimsuffix(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let t = str_arg(a, 0)?;
    s(t.strip_suffix(str_arg(a, 1)?).unwrap_or(t))
}

pub(super) fn chomp(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    s(str_arg(a, 0)?.trim_end_matches(['\n', '\r']))
}

pub(super) fn strrev(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    s(str_arg(a, 0)?.chars().rev().collect::<String>())
}

pub(super) fn replace(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let text = str_arg(a, 0)?;
    let search = str_arg(a, 1)?;
    let with = str_arg(a, 2)?;
    // A search string wrapped in slashes is a regular expression, as in Terraform.
    if search.len() > 1 && search.starts_with('/') && search.ends_with('/') {
        let re = regex::Regex::new(&search[1..search.len() - 1])
            .map_err(|e| format!("invalid regular expression: {e}"))?;
        return s(re
            .replace_all(text, with.replace("$", "$$").replace("$$1", "$1"))
            .to_string());
    }
    // Each match becomes `with`: refuse a result past the limit before building it.
    let matches = if search.is_empty() {
        text.chars().count() + 1
    } else {
        text.matches(search).count()
    };
    crate::eval::size::Growth::default().add(
        (text.len() as u64).saturating_add((matches as u64).saturating_mul(with.len() as u64)),
    )?;
    s(text.replace(search, with))
}

pub(super) fn substr(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let chars: Vec<char> = str_arg(a, 0)?.chars().collect();
    let offset = num_arg(a, 1)? as i64;
    let length = num_arg(a, 2)? as i64;
    let len = chars.len() as i64;
    let start = if offset < 0 {
        (len + offset).max(0)
    } else {
        offset.min(len)
    };
    let end = if length < 0 {
        len
    } else {
        (start + length).min(len)
    };
    s(chars[start as usize..end.max(start) as usize]
        .iter()
        .collect::<String>())
}

pub(super) fn startswith(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    Ok(Value::Bool(str_arg(a, 0)?.starts_with(str_arg(a, 1)?)))
}

pub(super) fn endswith(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    Ok(Value::Bool(str_arg(a, 0)?.ends_with(str_arg(a, 1)?)))
}

fn captures_value(re: &regex::Regex, caps: &regex::Captures<'_>) -> Value {
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.is_empty() {
        return Value::string(caps.get(0).map_or("", |m| m.as_str()));
    }
    if names.iter().all(Option::is_some) {
        return Value::Map(
            names
                .iter()
                .flatten()
                .map(|n| {
                    (
                        (*n).to_string(),
                        caps.name(n)
                            .map_or(Value::Null, |m| Value::from(m.as_str())),
                    )
                })
                .collect(),
        );
    }
    Value::List(
        caps.iter()
            .skip(1)
            .map(|m| m.map_or(Value::Null, |m| Value::from(m.as_str())))
            .collect(),
    )
}

pub(super) fn regex(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let re = regex::Regex::new(str_arg(a, 0)?)
        .map_err(|e| format!("invalid regular expression: {e}"))?;
    let text = str_arg(a, 1)?;
    let caps = re
        .captures(text)
        .ok_or_else(|| format!("pattern did not match any part of {text:?}"))?;
    Ok(captures_value(&re, &caps))
}

pub(super) fn regexall(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let re = regex::Regex::new(str_arg(a, 0)?)
        .map_err(|e| format!("invalid regular expression: {e}"))?;
    let text = str_arg(a, 1)?;
    Ok(Value::List(
        re.captures_iter(text)
            .map(|c| captures_value(&re, &c))
            .collect(),
    ))
}

/// Every line but the first indented by `n` spaces.
pub(super) fn indent(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let n = num_arg(a, 0)?;
    if !(0.0..=10_000.0).contains(&n) || n.fract() != 0.0 {
        return Err("the indent must be a whole number from 0 to 10000".into());
    }
    let pad = " ".repeat(n as usize);
    Ok(Value::String(
        str_arg(a, 1)?.replace('\n', &format!("\n{pad}")),
    ))
}
