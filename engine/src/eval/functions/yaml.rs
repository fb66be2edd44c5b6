//! `yamldecode` and `yamlencode`, in the forms Terraform reads and writes.
//!
//! Decoding resolves plain scalars as Terraform's decoder does, with YAML 1.1's booleans
//! (`yes`, `no`, `on`, `off`, `y`, `n`) besides `true`, `null`, `12` and `1.5`. Encoding writes
//! what Terraform writes: keys and one-line strings double-quoted, multi-line strings as
//! literal blocks, sequences inside mappings not indented, `...` after a bare top-level scalar.

use super::{str_arg, FnCtx};
use standby_provider_sdk::{Number, Value};
use std::collections::BTreeMap;
use yaml_rust2::parser::{Event, EventReceiver, Parser};
use yaml_rust2::scanner::TScalarStyle;

type R = Result<Value, String>;

#[derive(Default)]
struct Events(Vec<Event>);

impl EventReceiver for Events {
    fn on_event(&mut self, ev: Event) {
        self.0.push(ev);
    }
}

pub(super) fn yamldecode(a: &[Value], _: &FnCtx) -> R {
    let text: &str = &str_arg(a, 0)?;
    if text.trim().is_empty() {
        return Err("on line 1, column 1: missing start of document".into());
    }
    // Events are read one by one, not with the parser's recursive loader, and nesting is
    // bounded: 10,000 nested `- ` would otherwise overflow the stack.
    let mut events = Events::default();
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    loop {
        let (ev, _) = parser.next_token().map_err(|e| {
            format!(
                "on line {}, column {}: {}",
                e.marker().line(),
                e.marker().col() + 1,
                e.info()
            )
        })?;
        match ev {
            Event::SequenceStart(..) | Event::MappingStart(..) => depth += 1,
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_DEPTH {
            return Err(format!(
                "the YAML document nests deeper than {MAX_DEPTH} levels"
            ));
        }
        let end = matches!(ev, Event::StreamEnd);
        events.on_event(ev);
        if end {
            break;
        }
    }
    let docs = events
        .0
        .iter()
        .filter(|e| matches!(e, Event::DocumentStart))
        .count();
    if docs > 1 {
        return Err("the YAML text has more than one document".into());
    }
    let mut rd = Reader {
        events: events
            .0
            .into_iter()
            .filter(|e| {
                !matches!(
                    e,
                    Event::StreamStart
                        | Event::StreamEnd
                        | Event::DocumentStart
                        | Event::DocumentEnd
                )
            })
            .collect(),
        pos: 0,
        anchors: BTreeMap::new(),
        nodes: 0,
    };
    if rd.events.is_empty() {
        return Ok(Value::Null);
    }
    rd.node()
}

/// The deepest nesting `yamldecode` reads.
const MAX_DEPTH: usize = 256;

/// The most values a YAML document may expand to: aliases repeat their anchor's value, so a
/// small document can otherwise ask for billions ("billion laughs").
const MAX_NODES: usize = 1_000_000;

struct Reader {
    events: Vec<Event>,
    pos: usize,
    anchors: BTreeMap<usize, (Value, usize)>,
    nodes: usize,
}

fn node_count(v: &Value) -> usize {
    match v {
        Value::List(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Value::Map(m) => 1 + m.values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

impl Reader {
    fn next(&mut self) -> Result<Event, String> {
        let e = self
            .events
            .get(self.pos)
            .cloned()
            .ok_or("unexpected end of the YAML text")?;
        self.pos += 1;
        Ok(e)
    }

    fn node(&mut self) -> R {
        let (v, anchor) = match self.next()? {
            Event::Alias(id) => {
                let (v, n) = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or("an alias refers to an unknown anchor")?;
                self.grow(n)?;
                return Ok(v);
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix);
                (scalar(&text, style, tag.as_deref())?, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                while !matches!(self.events.get(self.pos), Some(Event::SequenceEnd) | None) {
                    items.push(self.node()?);
                }
                self.next()?;
                (Value::List(items), anchor)
            }
            Event::MappingStart(anchor, _) => {
                let mut m = BTreeMap::new();
                while !matches!(self.events.get(self.pos), Some(Event::MappingEnd) | None) {
                    let key = match self.node()? {
                        Value::String(s) => s,
                        Value::Null => "null".to_string(),
                        v @ (Value::Number(_) | Value::Bool(_)) => v.to_string(),
                        _ => return Err("a mapping key must be a string".into()),
                    };
                    let value = self.node()?;
                    m.insert(key, value);
                }
                self.next()?;
                (Value::Map(m), anchor)
            }
            other => return Err(format!("unexpected YAML event {other:?}")),
        };
        self.grow(1)?;
        if anchor > 0 {
            let n = node_count(&v);
            self.anchors.insert(anchor, (v.clone(), n));
        }
        Ok(v)
    }

    fn grow(&mut self, n: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(format!(
                "the YAML document expands to more than {MAX_NODES} values through its aliases"
            ));
        }
        Ok(())
    }
}

/// A scalar's value: quoted and block scalars are strings; plain ones resolve by the core
/// schema unless a tag says otherwise.
fn scalar(text: &str, style: TScalarStyle, tag: Option<&str>) -> R {
    match tag {
        Some("str") => return Ok(Value::from(text)),
        Some("int" | "float") => {
            return number(text).ok_or_else(|| format!("cannot decode {text:?} as a number"))
        }
        Some("bool") => {
            return bool_of(text)
                .map(Value::Bool)
                .ok_or_else(|| format!("cannot decode {text:?} as a bool"))
        }
        Some("null") => return Ok(Value::Null),
        _ => {}
    }
    if style != TScalarStyle::Plain {
        return Ok(Value::from(text));
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Ok(Value::Null);
    }
    if let Some(b) = bool_of(text) {
        return Ok(Value::Bool(b));
    }
    Ok(number(text).unwrap_or_else(|| Value::from(text)))
}

fn bool_of(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            Some(false)
        }
        _ => None,
    }
}

fn number(text: &str) -> Option<Value> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return Some(Value::Number(Number::infinity(neg)));
    }
    // YAML 1.1 allows `_` between digits: `1_000`.
    let integer = |b: &str| {
        let (b, hex) = match b.strip_prefix("0x") {
            Some(h) => (h, true),
            None => (b.strip_prefix("0o").unwrap_or(b), false),
        };
        let digit = |c: char| {
            c == '_'
                || if hex {
                    c.is_ascii_hexdigit()
                } else {
                    c.is_ascii_digit()
                }
        };
        !b.is_empty() && b.chars().all(digit)
    };
    if body.contains('_') && !body.starts_with('_') && !body.ends_with('_') && integer(body) {
        let plain: String = text.chars().filter(|c| *c != '_').collect();
        return number(&plain);
    }
    let radix = |digits: &str, base: u32| {
        num_bigint::BigInt::parse_bytes(digits.as_bytes(), base).map(|mut n| {
            if neg {
                n = -n;
            }
            Value::Number(Number::from_bigint(&n))
        })
    };
    if let Some(hex) = body.strip_prefix("0x") {
        return radix(hex, 16);
    }
    if let Some(oct) = body.strip_prefix("0o") {
        return radix(oct, 8);
    }
    let digits_ok = body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if !digits_ok {
        return None;
    }
    Number::parse(text).ok().map(Value::Number)
}

pub(super) fn yamlencode(a: &[Value], _: &FnCtx) -> R {
    let v = a.first().ok_or("yamlencode takes one argument")?;
    let mut out = String::new();
    match v {
        Value::List(items) if !items.is_empty() => seq(items, 0, &mut out)?,
        Value::Map(m) if !m.is_empty() => map(m, 0, &mut out)?,
        Value::String(s) if s.contains('\n') => out.push_str(&block(s, 2)),
        other => {
            out.push_str(&inline(other)?);
            out.push('\n');
            if matches!(other, Value::Null | Value::Bool(_) | Value::Number(_)) {
                out.push_str("...\n");
            }
        }
    }
    Ok(Value::String(out))
}

/// A scalar or an empty collection on one line.
fn inline(v: &Value) -> Result<String, String> {
    Ok(match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quoted(s),
        Value::List(_) => "[]".into(),
        Value::Map(_) => "{}".into(),
        // Functions see their arguments without marks; the result is marked again.
        _ => return Err("the value is not known yet".into()),
    })
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::List(items) => !items.is_empty(),
        Value::Map(m) => !m.is_empty(),
        _ => false,
    }
}

fn seq(items: &[Value], indent: usize, out: &mut String) -> Result<(), String> {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::List(inner) if !inner.is_empty() => {
                out.push(' ');
                let mut nested = String::new();
                seq(inner, indent + 2, &mut nested)?;
                out.push_str(nested.trim_start());
            }
            Value::Map(m) if !m.is_empty() => {
                out.push(' ');
                let mut nested = String::new();
                map(m, indent + 2, &mut nested)?;
                out.push_str(nested.trim_start());
            }
            Value::String(s) if s.contains('\n') => {
                out.push(' ');
                out.push_str(&block(s, indent + 2));
            }
            other => {
                out.push(' ');
                out.push_str(&inline(other)?);
                out.push('\n');
            }
        }
    }
    Ok(())
}

/// A multi-line string as a literal block: `|-` without a final line break, `|` with one,
/// `|+` with more, each line indented by `indent`.
fn block(s: &str, indent: usize) -> String {
    // As libyaml: a space before a line break, or a control character, rules a block out.
    if s.contains(" \n") || s.ends_with(' ') || s.chars().any(|c| c < ' ' && c != '\n') {
        return format!("{}\n", quoted(s));
    }
    let body = s.trim_end_matches('\n');
    let chomp = match s.len() - body.len() {
        0 => "-",
        1 if !body.is_empty() => "",
        _ => "+",
    };
    // A first line that starts with a space needs the indentation stated.
    let indicator = if s.starts_with([' ', '\n']) { "2" } else { "" };
    let mut out = format!("|{indicator}{chomp}\n");
    let pad = " ".repeat(indent);
    for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn map(m: &BTreeMap<String, Value>, indent: usize, out: &mut String) -> Result<(), String> {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        out.push_str(&quoted(k));
        out.push(':');
        if is_block(v) {
            out.push('\n');
            match v {
                Value::List(items) => seq(items, indent, out)?,
                Value::Map(inner) => map(inner, indent + 2, out)?,
                _ => {}
            }
        } else if let Value::String(s) = v {
            out.push(' ');
            if s.contains('\n') {
                out.push_str(&block(s, indent + 2));
            } else {
                out.push_str(&quoted(s));
                out.push('\n');
            }
        } else {
            out.push(' ');
            out.push_str(&inline(v)?);
            out.push('\n');
        }
    }
    Ok(())
}

/// A double-quoted YAML string with YAML's escapes.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
