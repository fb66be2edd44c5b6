//! String functions.

use super::{list_arg, num_arg, number_arg, str_arg, FnCtx};
use standby_provider_sdk::Value;

fn s(v: impl Into<String>) -> Result<Value, String> {
    Ok(Value::String(v.into()))
}

/// The grapheme clusters of `s`: what Terraform counts as characters in `length`, `substr`,
/// `strrev` and `format` widths.
pub(crate) fn graphemes(s: &str) -> impl Iterator<Item = &str> {
    unicode_segmentation::UnicodeSegmentation::graphemes(s, true)
}

pub(super) fn format(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    s(super::format::format_str(&str_arg(a, 0)?, &a[1..])?)
}

pub(super) fn formatlist(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let spec: &str = &str_arg(a, 0)?;
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
        let v = Value::String(super::format::format_str(spec, &row)?);
        growth.add_value(&v)?;
        out.push(v);
    }
    Ok(Value::List(out))
}

pub(super) fn join(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let sep: &str = &str_arg(a, 0)?;
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
    let sep: &str = &str_arg(a, 0)?;
    let text: &str = &str_arg(a, 1)?;
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
    if sep.is_empty() {
        // Go splits after each character.
        return Ok(Value::List(
            text.chars().map(|c| Value::from(c.to_string())).collect(),
        ));
    }
    Ok(Value::List(text.split(sep).map(Value::from).collect()))
}

/// One-to-one case mapping, as Go's `unicode.ToUpper`/`ToLower` do per character: a
/// character whose mapping is longer than one (`ß` to `SS`) stays as it is.
fn simple_case(c: char, upper: bool) -> char {
    if !upper && c == '\u{130}' {
        return 'i';
    }
    let mut mapped: Vec<char> = if upper {
        c.to_uppercase().collect()
    } else {
        c.to_lowercase().collect()
    };
    match mapped.len() {
        1 => mapped.remove(0),
        _ => c,
    }
}

pub(super) fn lower(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    s(str_arg(a, 0)?
        .chars()
        .map(|c| simple_case(c, false))
        .collect::<String>())
}

pub(super) fn upper(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    s(str_arg(a, 0)?
        .chars()
        .map(|c| simple_case(c, true))
        .collect::<String>())
}

/// Go's `unicode.ToTitle`: the upper case, except for the four digraphs that have a title
/// case of their own (`ǆ` is `ǅ`, not `Ǆ`).
fn title_case(c: char) -> char {
    match c {
        'Ǆ' | 'ǅ' | 'ǆ' => 'ǅ',
        'Ǉ' | 'ǈ' | 'ǉ' => 'ǈ',
        'Ǌ' | 'ǋ' | 'ǌ' => 'ǋ',
        'Ǳ' | 'ǲ' | 'ǳ' => 'ǲ',
        c => simple_case(c, true),
    }
}

/// Go's `strings.Title`: a letter after a separator is upper-cased; ASCII letters, digits and
/// `_` are not separators, nor are other letters and digits.
pub(super) fn title(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let is_separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            !c.is_alphanumeric() && c.is_whitespace()
        }
    };
    let mut out = String::new();
    let mut prev = ' ';
    for c in str_arg(a, 0)?.chars() {
        out.push(if is_separator(prev) { title_case(c) } else { c });
        prev = c;
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
    let t: &str = &str_arg(a, 0)?;
    s(t.strip_prefix(&*str_arg(a, 1)?).unwrap_or(t))
}

pub(super) fn trimsuffix(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let t: &str = &str_arg(a, 0)?;
    s(t.strip_suffix(&*str_arg(a, 1)?).unwrap_or(t))
}

pub(super) fn chomp(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    s(str_arg(a, 0)?.trim_end_matches(['\n', '\r']))
}

pub(super) fn strrev(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let text = str_arg(a, 0)?;
    let parts: Vec<&str> = graphemes(&text).collect();
    s(parts.into_iter().rev().collect::<String>())
}

pub(super) fn replace(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let text: &str = &str_arg(a, 0)?;
    let search: &str = &str_arg(a, 1)?;
    let with: &str = &str_arg(a, 2)?;
    // A search string wrapped in slashes is a regular expression, as in Terraform.
    if search.len() > 1 && search.starts_with('/') && search.ends_with('/') {
        let re = regex::Regex::new(&search[1..search.len() - 1])
            .map_err(|e| format!("invalid regular expression: {e}"))?;
        // Go's and Rust's expansion agree: `$1`, `${1}`, `$name`, `${name}` and `$$`.
        return s(re.replace_all(text, with).to_string());
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
    let text = str_arg(a, 0)?;
    let chars: Vec<&str> = graphemes(&text).collect();
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
        start.saturating_add(length).min(len)
    };
    s(chars[start as usize..end.max(start) as usize].concat())
}

pub(super) fn startswith(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    Ok(Value::Bool(str_arg(a, 0)?.starts_with(&*str_arg(a, 1)?)))
}

pub(super) fn endswith(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    Ok(Value::Bool(str_arg(a, 0)?.ends_with(&*str_arg(a, 1)?)))
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
    let re = regex::Regex::new(&str_arg(a, 0)?)
        .map_err(|e| format!("invalid regular expression: {e}"))?;
    let text: &str = &str_arg(a, 1)?;
    let caps = re
        .captures(text)
        .ok_or_else(|| format!("pattern did not match any part of {text:?}"))?;
    Ok(captures_value(&re, &caps))
}

pub(super) fn regexall(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let re = regex::Regex::new(&str_arg(a, 0)?)
        .map_err(|e| format!("invalid regular expression: {e}"))?;
    let text: &str = &str_arg(a, 1)?;
    Ok(Value::List(
        re.captures_iter(text)
            .map(|c| captures_value(&re, &c))
            .collect(),
    ))
}

/// Every line but the first indented by `n` spaces.
pub(super) fn indent(a: &[Value], _: &FnCtx) -> Result<Value, String> {
    let n = number_arg(a, 0)?
        .to_usize()
        .filter(|n| *n <= 10_000)
        .ok_or("the indent must be a whole number from 0 to 10000")?;
    let pad = " ".repeat(n);
    Ok(Value::String(
        str_arg(a, 1)?.replace('\n', &format!("\n{pad}")),
    ))
}
