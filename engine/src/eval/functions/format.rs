//! `format` and `formatlist`'s verbs, as Terraform's (cty's) `format` gives them: Go's `fmt`
//! for numbers (`big.Float` and `big.Int`), grapheme clusters for string widths and
//! precision, JSON for `%q` and `%#v`, and `%[n]` argument indexes.

use super::string::graphemes;
use crate::eval::expr::{to_bool, to_number};
use standby_provider_sdk::{Number, Precision, Value};

/// The widest padding or precision `format` accepts: enough for any real layout, far below
/// what would exhaust memory.
const MAX_FORMAT_SIZE: usize = 10_000;

/// One `%` sequence.
#[derive(Default)]
struct Verb {
    raw: String,
    mode: char,
    zero: bool,
    sharp: bool,
    plus: bool,
    minus: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn size(what: &str, digits: &str) -> Result<usize, String> {
    match digits.parse::<usize>() {
        Ok(n) if n <= MAX_FORMAT_SIZE => Ok(n),
        _ => Err(format!(
            "a {what} of {digits} is more than format allows ({MAX_FORMAT_SIZE})"
        )),
    }
}

/// Formats `spec` with `args`; the error says which verb failed.
pub(super) fn format_str(spec: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = spec.char_indices().peekable();
    let mut next = 0usize;
    let mut used = 0usize;
    while let Some((offset, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek().map(|p| p.1) == Some('%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut verb = Verb::default();
        let take_digits = |chars: &mut std::iter::Peekable<std::str::CharIndices>| {
            let mut d = String::new();
            while let Some(&(_, x)) = chars.peek().filter(|p| p.1.is_ascii_digit()) {
                d.push(x);
                chars.next();
            }
            d
        };
        while let Some(&(_, f)) = chars.peek().filter(|p| "-+ 0#".contains(p.1)) {
            match f {
                '-' => verb.minus = true,
                '+' => verb.plus = true,
                ' ' => verb.space = true,
                '0' => verb.zero = true,
                _ => verb.sharp = true,
            }
            chars.next();
        }
        if chars.peek().map(|p| p.1) == Some('[') {
            chars.next();
            let d = take_digits(&mut chars);
            if chars.next().map(|p| p.1) != Some(']') || d.is_empty() {
                return Err(format!(
                    "invalid argument index in format string at offset {offset}"
                ));
            }
            next = d.parse::<usize>().unwrap_or(usize::MAX).saturating_sub(1);
        }
        let w = take_digits(&mut chars);
        if !w.is_empty() {
            verb.width = Some(size("width", &w)?);
        }
        if chars.peek().map(|p| p.1) == Some('.') {
            chars.next();
            let p = take_digits(&mut chars);
            verb.prec = Some(if p.is_empty() {
                0
            } else {
                size("precision", &p)?
            });
        }
        let Some((end, mode)) = chars.next() else {
            return Err(format!("unterminated format verb at offset {offset}"));
        };
        verb.mode = mode;
        verb.raw = spec[offset..end + mode.len_utf8()].to_string();
        let Some(arg) = args.get(next) else {
            return Err(format!(
                "not enough arguments for {:?} at {offset}: need index {} but have {} total",
                verb.raw,
                next + 1,
                args.len()
            ));
        };
        next += 1;
        used = used.max(next);
        append(&verb, &mut out, arg)
            .map_err(|e| format!("unsupported value for {:?} at {offset}: {e}", verb.raw))?;
        if out.len() as u64 > crate::eval::size::MAX_VALUE_BYTES {
            return Err(crate::eval::size::too_large());
        }
    }
    if used < args.len() {
        return Err(format!(
            "too many arguments; the format string uses {used} but {} were given",
            args.len()
        ));
    }
    Ok(out)
}

fn append(verb: &Verb, out: &mut String, arg: &Value) -> Result<(), String> {
    if verb.mode != 'v' && arg.is_null() {
        return Err("null value cannot be formatted".into());
    }
    let text = match verb.mode {
        'v' => match arg {
            Value::String(s) if !verb.sharp => s.clone(),
            Value::Number(n) if !verb.sharp => n.format('g', Precision::Shortest),
            other => super::encoding::json_text(other)?,
        },
        't' => {
            // cty writes the word without width or padding.
            let b = to_bool(arg)
                .ok_or_else(|| format!("a bool is required, found {}", arg.type_name()))?;
            out.push_str(if b { "true" } else { "false" });
            return Ok(());
        }
        'b' | 'd' | 'o' | 'x' | 'X' => return integer(verb, out, &number(arg)?),
        'e' | 'E' | 'f' | 'g' | 'G' => return float(verb, out, &number(arg)?),
        's' | 'q' => {
            let s = match arg {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => arg.to_string(),
                other => return Err(format!("a string is required, found {}", other.type_name())),
            };
            let s = match verb.prec {
                Some(p) if p > 0 => graphemes(&s).take(p).collect(),
                _ => s,
            };
            if verb.mode == 'q' {
                super::encoding::json_text(&Value::String(s))?
            } else {
                s
            }
        }
        other => return Err(format!("unsupported format verb {other:?}")),
    };
    out.push_str(&pad_graphemes(verb, text));
    Ok(())
}

fn number(arg: &Value) -> Result<Number, String> {
    to_number(arg).ok_or_else(|| format!("a number is required, found {}", arg.type_name()))
}

fn pad_graphemes(verb: &Verb, text: String) -> String {
    let Some(width) = verb.width else {
        return text;
    };
    let len = graphemes(&text).count();
    if len >= width {
        return text;
    }
    let pad = (if verb.zero { "0" } else { " " }).repeat(width - len);
    if verb.minus {
        text + &pad
    } else {
        pad + &text
    }
}

/// Go's `big.Int` `Format`: sign, `#` prefix, precision as the fewest digits, then width.
fn integer(verb: &Verb, out: &mut String, n: &Number) -> Result<(), String> {
    let i = n
        .trunc_int()
        .filter(|_| n.is_integer())
        .ok_or("an integer is required")?;
    let (radix, prefix) = match verb.mode {
        'b' => (2, "0b"),
        'o' => (8, "0"),
        'x' => (16, "0x"),
        'X' => (16, "0X"),
        _ => (10, ""),
    };
    let sign = if i.sign() == num_bigint::Sign::Minus {
        "-"
    } else if verb.plus {
        "+"
    } else if verb.space {
        " "
    } else {
        ""
    };
    let mut digits = i.magnitude().to_str_radix(radix);
    if verb.mode == 'X' {
        digits = digits.to_uppercase();
    }
    let prefix = if verb.sharp { prefix } else { "" };
    let mut zeros = 0;
    if let Some(p) = verb.prec {
        if digits.len() < p {
            zeros = p - digits.len();
        } else if digits == "0" && p == 0 {
            return Ok(());
        }
    }
    let length = sign.len() + prefix.len() + zeros + digits.len();
    let (mut left, mut right) = (0, 0);
    if let Some(w) = verb.width.filter(|w| *w > length) {
        let d = w - length;
        if verb.minus {
            right = d;
        } else if verb.zero && verb.prec.is_none() {
            zeros = d;
        } else {
            left = d;
        }
    }
    out.push_str(&" ".repeat(left));
    out.push_str(sign);
    out.push_str(prefix);
    out.push_str(&"0".repeat(zeros));
    out.push_str(&digits);
    out.push_str(&" ".repeat(right));
    Ok(())
}

/// Go's `big.Float` `Format`: precision 6 by default, shortest for `%g`, then sign and width.
fn float(verb: &Verb, out: &mut String, n: &Number) -> Result<(), String> {
    let precision = match (verb.mode, verb.prec) {
        (_, Some(p)) => Precision::Digits(p),
        ('g' | 'G', None) => Precision::Shortest,
        (_, None) => Precision::Digits(6),
    };
    let text = n.format(verb.mode, precision);
    let (mut sign, body) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest.to_string()),
        None => match text.strip_prefix('+') {
            Some(rest) => (if verb.space { " " } else { "+" }, rest.to_string()),
            None => ("", text.clone()),
        },
    };
    if sign.is_empty() {
        sign = if verb.plus {
            "+"
        } else if verb.space {
            " "
        } else {
            ""
        };
    }
    let padding = verb
        .width
        .filter(|w| *w > sign.len() + body.len())
        .map_or(0, |w| w - sign.len() - body.len());
    if verb.zero && !n.is_infinite() {
        out.push_str(sign);
        out.push_str(&"0".repeat(padding));
        out.push_str(&body);
    } else if verb.minus {
        out.push_str(sign);
        out.push_str(&body);
        out.push_str(&" ".repeat(padding));
    } else {
        out.push_str(&" ".repeat(padding));
        out.push_str(sign);
        out.push_str(&body);
    }
    Ok(())
}
