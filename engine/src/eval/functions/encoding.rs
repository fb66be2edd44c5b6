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

/// `jsondecode`: the parser checks the text; numbers are then read from their own digits,
/// so that none is rounded to a 64-bit float.
pub(super) fn jsondecode(a: &[Value], _: &FnCtx) -> R {
    let text = str_arg(a, 0)?;
    let (numbers, keys) = json_number_texts(&text);
    // The parser sees each number as 0: it would refuse one beyond a 64-bit float's range
    // (`1e400`), which Terraform reads.
    let mut masked = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in &numbers {
        masked.push_str(&text[last..*start]);
        masked.push('0');
        last = *end;
    }
    masked.push_str(&text[last..]);
    let j: serde_json::Value =
        serde_json::from_str(&masked).map_err(|e| format!("invalid JSON: {e}"))?;
    if members(&j) != keys {
        // A repeated key: Terraform keeps the last value, unless the values' types differ.
        serde_json::from_str::<JsonKind>(&masked).map_err(|e| format!("invalid JSON: {e}"))?;
    }
    let numbers: Vec<&str> = numbers.iter().map(|(s, e)| &text[*s..*e]).collect();
    if let Some(bad) = numbers.iter().find(|n| !is_json_number(n)) {
        return Err(format!("invalid JSON: {bad:?} is not a number"));
    }
    let mut next = numbers.iter();
    let exact = exact_numbers(&j, &mut next);
    // The parser keeps objects in document order, but a repeated key keeps its first place
    // and its last value, which breaks the pairing: then the parser's numbers are used.
    match exact {
        Some(v) if next.next().is_none() && members(&j) == keys => Ok(v),
        _ => serde_json::from_str(&text)
            .map(|j: serde_json::Value| Value::from_json(&j))
            .map_err(|e| format!("invalid JSON: {e}")),
    }
}

/// JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    digits(int) && (int == "0" || !int.starts_with('0')) && frac.is_none_or(digits) && exp_ok
}

/// The kind of a JSON value, read to find a key repeated with values of different kinds.
#[derive(Clone, Copy, PartialEq, Eq)]
struct JsonKind(u8);

impl<'de> serde::Deserialize<'de> for JsonKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> serde::de::Visitor<'de> for KindVisitor {
    type Value = JsonKind;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<JsonKind, E> {
        Ok(JsonKind(0))
    }
    fn visit_bool<E>(self, _: bool) -> Result<JsonKind, E> {
        Ok(JsonKind(1))
    }
    fn visit_i64<E>(self, _: i64) -> Result<JsonKind, E> {
        Ok(JsonKind(2))
    }
    fn visit_u64<E>(self, _: u64) -> Result<JsonKind, E> {
        Ok(JsonKind(2))
    }
    fn visit_f64<E>(self, _: f64) -> Result<JsonKind, E> {
        Ok(JsonKind(2))
    }
    fn visit_str<E>(self, _: &str) -> Result<JsonKind, E> {
        Ok(JsonKind(3))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<JsonKind, A::Error> {
        while seq.next_element::<JsonKind>()?.is_some() {}
        Ok(JsonKind(4))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<JsonKind, A::Error> {
        let mut seen = std::collections::HashMap::new();
        while let Some(k) = map.next_key::<String>()? {
            let v: JsonKind = map.next_value()?;
            if seen.insert(k.clone(), v).is_some_and(|prev| prev != v) {
                return Err(serde::de::Error::custom(format!(
                    "the key {k:?} is repeated with values of different types"
                )));
            }
        }
        Ok(JsonKind(5))
    }
}

/// How many object members a parsed document has.
fn members(j: &serde_json::Value) -> usize {
    match j {
        serde_json::Value::Array(items) => items.iter().map(members).sum(),
        serde_json::Value::Object(m) => m.len() + m.values().map(members).sum::<usize>(),
        _ => 0,
    }
}

/// The byte ranges of a JSON text's number tokens, in order, and how many object keys it
/// has (a string followed by `:`).
fn json_number_texts(text: &str) -> (Vec<(usize, usize)>, usize) {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut keys = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                let rest = text.get(i..).unwrap_or_default().trim_start();
                keys += usize::from(rest.starts_with(':'));
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                out.push((start, i));
            }
            _ => i += 1,
        }
    }
    (out, keys)
}

fn exact_numbers<'a>(
    j: &serde_json::Value,
    texts: &mut impl Iterator<Item = &'a &'a str>,
) -> Option<Value> {
    Some(match j {
        serde_json::Value::Number(_) => {
            Value::Number(standby_provider_sdk::Number::parse(texts.next()?).ok()?)
        }
        serde_json::Value::Array(items) => Value::List(
            items
                .iter()
                .map(|x| exact_numbers(x, texts))
                .collect::<Option<_>>()?,
        ),
        serde_json::Value::Object(m) => Value::Map(
            m.iter()
                .map(|(k, x)| Some((k.clone(), exact_numbers(x, texts)?)))
                .collect::<Option<_>>()?,
        ),
        other => Value::from_json(other),
    })
}

pub(super) fn base64encode(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(&*str_arg(a, 0)?),
    ))
}

pub(super) fn base64decode(a: &[Value], _: &FnCtx) -> R {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&*str_arg(a, 0)?)
        .map_err(|e| format!("invalid base64: {e}"))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| "the decoded bytes are not valid UTF-8".into())
}

/// The digests Terraform's hash functions use.
#[derive(Clone, Copy)]
pub(super) enum Hash {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

/// The digest of `bytes`, as hex text or (`base64`) the raw digest in base64, as
/// Terraform's `base64sha256` has it (not the hex text's base64).
pub(super) fn digest_text(h: Hash, bytes: &[u8], base64: bool) -> String {
    let d: Vec<u8> = match h {
        Hash::Md5 => md5::Md5::digest(bytes).to_vec(),
        Hash::Sha1 => sha1::Sha1::digest(bytes).to_vec(),
        Hash::Sha256 => sha2::Sha256::digest(bytes).to_vec(),
        Hash::Sha512 => sha2::Sha512::digest(bytes).to_vec(),
    };
    if base64 {
        base64::engine::general_purpose::STANDARD.encode(d)
    } else {
        hex::encode(d)
    }
}

fn hashed(a: &[Value], h: Hash, base64: bool) -> R {
    Ok(Value::String(digest_text(
        h,
        str_arg(a, 0)?.as_bytes(),
        base64,
    )))
}

pub(super) fn sha256(a: &[Value], _: &FnCtx) -> R {
    hashed(a, Hash::Sha256, false)
}

pub(super) fn md5(a: &[Value], _: &FnCtx) -> R {
    hashed(a, Hash::Md5, false)
}

pub(super) fn sha1(a: &[Value], _: &FnCtx) -> R {
    hashed(a, Hash::Sha1, false)
}

pub(super) fn sha512(a: &[Value], _: &FnCtx) -> R {
    hashed(a, Hash::Sha512, false)
}

pub(super) fn base64sha256(a: &[Value], _: &FnCtx) -> R {
    hashed(a, Hash::Sha256, true)
}

pub(super) fn base64sha512(a: &[Value], _: &FnCtx) -> R {
    hashed(a, Hash::Sha512, true)
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

/// `base64gzip`: gzip, then base64. The bytes are a valid gzip stream of the text; they are
/// not Terraform's bytes, which come from Go's own compressor (see docs/language.md).
pub(super) fn base64gzip(a: &[Value], _: &FnCtx) -> R {
    use std::io::Write as _;
    let mut gz = flate2::GzBuilder::new()
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::default());
    gz.write_all(str_arg(a, 0)?.as_bytes())
        .map_err(|e| e.to_string())?;
    let bytes = gz.finish().map_err(|e| e.to_string())?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

/// The encodings `textencodebase64` and `textdecodebase64` know, by IANA name.
#[derive(Clone, Copy)]
enum Charset {
    Utf8,
    Utf16Le,
    Utf16Be,
    /// `UTF-16`: big-endian with a byte-order mark, which decoding follows.
    Utf16Bom,
    Latin1,
    Ascii,
}

fn charset(name: &str) -> Result<Charset, String> {
    Ok(match name.to_ascii_uppercase().replace('_', "-").as_str() {
        "UTF-8" | "UTF8" => Charset::Utf8,
        "UTF-16LE" => Charset::Utf16Le,
        "UTF-16BE" => Charset::Utf16Be,
        "UTF-16" => Charset::Utf16Bom,
        "ISO-8859-1" | "LATIN1" | "ISO8859-1" | "L1" => Charset::Latin1,
        "US-ASCII" | "ASCII" => Charset::Ascii,
        _ => {
            return Err(format!(
                "{name:?} is not a supported IANA encoding name or alias (standby knows UTF-8, UTF-16LE, UTF-16BE, ISO-8859-1 and US-ASCII)"
            ))
        }
    })
}

pub(super) fn textencodebase64(a: &[Value], _: &FnCtx) -> R {
    let text: &str = &str_arg(a, 0)?;
    let cs = charset(&str_arg(a, 1)?)?;
    let unrepresentable = || {
        format!(
            "the given string contains characters that cannot be represented in {}",
            &str_arg(a, 1).unwrap_or_default()
        )
    };
    let bytes: Vec<u8> = match cs {
        Charset::Utf8 => text.as_bytes().to_vec(),
        Charset::Utf16Le => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        Charset::Utf16Be => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        Charset::Utf16Bom => [0xfe, 0xff]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect(),
        Charset::Latin1 | Charset::Ascii => {
            let max = if matches!(cs, Charset::Ascii) {
                0x7f
            } else {
                0xff
            };
            text.chars()
                .map(|c| u8::try_from(c as u32).ok().filter(|b| u32::from(*b) <= max))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(unrepresentable)?
        }
    };
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

pub(super) fn textdecodebase64(a: &[Value], _: &FnCtx) -> R {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&*str_arg(a, 0)?)
        .map_err(|e| format!("the given value is has an invalid base64 symbol: {e}"))?;
    let bad = || {
        format!(
            "the given value is not valid {}",
            &str_arg(a, 1).unwrap_or_default()
        )
    };
    let units = |be: bool, skip: usize| -> Result<Vec<u16>, String> {
        if bytes.len() % 2 != 0 {
            return Err(bad());
        }
        Ok(bytes[skip..]
            .chunks(2)
            .map(|p| {
                if be {
                    u16::from_be_bytes([p[0], p[1]])
                } else {
                    u16::from_le_bytes([p[0], p[1]])
                }
            })
            .collect())
    };
    let text = match charset(&str_arg(a, 1)?)? {
        Charset::Utf8 => String::from_utf8(bytes.clone()).map_err(|_| bad())?,
        Charset::Utf16Le => String::from_utf16(&units(false, 0)?).map_err(|_| bad())?,
        Charset::Utf16Be => String::from_utf16(&units(true, 0)?).map_err(|_| bad())?,
        Charset::Utf16Bom => {
            let units = match bytes.get(..2) {
                Some([0xff, 0xfe]) => units(false, 2)?,
                Some([0xfe, 0xff]) => units(true, 2)?,
                _ => units(true, 0)?,
            };
            String::from_utf16(&units).map_err(|_| bad())?
        }
        Charset::Latin1 => bytes.iter().map(|b| char::from(*b)).collect(),
        Charset::Ascii if bytes.is_ascii() => bytes.iter().map(|b| char::from(*b)).collect(),
        Charset::Ascii => return Err(bad()),
    };
    Ok(Value::String(text))
}

/// `csvdecode`: RFC 4180 text whose first line names the columns; a list of objects.
pub(super) fn csvdecode(a: &[Value], _: &FnCtx) -> R {
    let rows = csv_rows(&str_arg(a, 0)?)?;
    let mut rows = rows.into_iter();
    let Some(header) = rows.next() else {
        return Err("missing header line".into());
    };
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = header.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(format!("duplicate column name {dup:?}"));
    }
    let mut out = Vec::new();
    for (i, row) in rows.enumerate() {
        if row.len() != header.len() {
            return Err(format!(
                "record on line {} has {} fields, but the header has {}",
                i + 2,
                row.len(),
                header.len()
            ));
        }
        out.push(Value::Map(
            header
                .iter()
                .cloned()
                .zip(row.into_iter().map(Value::String))
                .collect(),
        ));
    }
    Ok(Value::List(out))
}

fn csv_rows(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut line = 1;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                line += usize::from(c == '\n');
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, '"') => return Err(format!("parse error on line {line}: bare \" in a field")),
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                line += 1;
                any = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!(
            "parse error on line {line}: extraneous or missing \" in a quoted field"
        ));
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    // Go's reader skips empty lines.
    rows.retain(|r| !(r.len() == 1 && r[0].is_empty()));
    Ok(rows)
}
