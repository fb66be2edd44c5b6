//! Encoding and hashing functions.

use super::{str_arg, FnCtx};
use base64::Engine as _;
use sha2::Digest as _;
use standby_provider_sdk::Value;

type R = Result<Value, String>;

pub(super) fn jsonencode(a: &[Value], _: &FnCtx) -> R {
    let v = a.first().ok_or("jsonencode takes one argument")?;
    json_text(v).map(Value::String)
}

/// JSON as Terraform writes it: Go's `encoding/json` escaping (`<`, `>`, `&`, U+2028 and
/// U+2029 as `\u` escapes) and numbers with all their digits.
pub(super) fn json_text(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(v, &mut out)?;
    Ok(out)
}

fn write_json(v: &Value, out: &mut String) -> Result<(), String> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Unknown => return Err("the value is not known yet".into()),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_infinite() => {
            return Err("an infinite number cannot be written as JSON".into())
        }
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => json_string(s, out),
        Value::List(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out)?;
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, out);
                out.push(':');
                write_json(x, out)?;
            }
            out.push('}');
        }
        Value::Sensitive(inner) => write_json(inner, out)?,
    }
    Ok(())
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

pub(super) fn jsondecode(a: &[Value], _: &FnCtx) -> R {
    let j: serde_json::Value =
        serde_json::from_str(str_arg(a, 0)?).map_err(|e| format!("invalid JSON: {e}"))?;
    Ok(Value::from_json(&j))
}

pub(super) fn base64encode(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(str_arg(a, 0)?),
    ))
}

pub(super) fn base64decode(a: &[Value], _: &FnCtx) -> R {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(str_arg(a, 0)?)
        .map_err(|e| format!("invalid base64: {e}"))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| "the decoded bytes are not valid UTF-8".into())
}

pub(super) fn sha256(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::String(hex::encode(sha2::Sha256::digest(
        str_arg(a, 0)?.as_bytes(),
    ))))
}

pub(super) fn md5(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::String(hex::encode(md5::Md5::digest(
        str_arg(a, 0)?.as_bytes(),
    ))))
}

pub(super) fn sha1(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::String(hex::encode(sha1::Sha1::digest(
        str_arg(a, 0)?.as_bytes(),
    ))))
}

pub(super) fn sha512(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::String(hex::encode(sha2::Sha512::digest(
        str_arg(a, 0)?.as_bytes(),
    ))))
}

/// The raw digest in base64, as Terraform's base64sha256 (not the hex text's base64).
pub(super) fn base64sha256(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(str_arg(a, 0)?.as_bytes())),
    ))
}

pub(super) fn base64sha512(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha512::digest(str_arg(a, 0)?.as_bytes())),
    ))
}

/// Go's `url.QueryEscape`, which Terraform's urlencode is: unreserved bytes stay, a space is
/// `+`, every other byte is `%XX`.
pub(super) fn urlencode(a: &[Value], _: &FnCtx) -> R {
    let mut out = String::new();
    for b in str_arg(a, 0)?.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(Value::String(out))
}
