//! `formatdate` and `timeadd`, with Terraform's format letters and Go's durations.

use super::{str_arg, FnCtx};
use standby_provider_sdk::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

type R = Result<Value, String>;

fn parse_timestamp(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
        format!("not a valid RFC3339 timestamp: {s:?} (write it as 2006-01-02T15:04:05Z)")
    })
}

/// RFC 3339 without fractional seconds, `Z` for UTC, as Go's `time.RFC3339` writes it.
fn rfc3339(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        offset(t.offset(), true, "Z")
    )
}

/// `+07:00` (`colon`) or `+0700`; `utc` for a zero offset.
fn offset(o: UtcOffset, colon: bool, utc: &str) -> String {
    if o.is_utc() {
        return utc.to_string();
    }
    let secs = o.whole_seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let (h, m) = (secs.abs() / 3600, secs.abs() % 3600 / 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

/// Splits a format into runs of one letter, quoted literals and other text.
fn tokens(spec: &str) -> Result<Vec<(bool, String)>, String> {
    let chars: Vec<char> = spec.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut lit = String::new();
            i += 1;
            loop {
                match (chars.get(i), chars.get(i + 1)) {
                    (Some('\''), Some('\'')) => {
                        lit.push('\'');
                        i += 2;
                    }
                    (Some('\''), _) => {
                        i += 1;
                        break;
                    }
                    (Some(x), _) => {
                        lit.push(*x);
                        i += 1;
                    }
                    (None, _) => return Err("unterminated literal '".into()),
                }
            }
            out.push((false, lit));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while chars.get(i) == Some(&c) {
                i += 1;
            }
            out.push((true, chars[start..i].iter().collect()));
        } else {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|x| !x.is_ascii_alphabetic() && *x != '\'')
            {
                i += 1;
            }
            out.push((false, chars[start..i].iter().collect()));
        }
    }
    Ok(out)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

pub(super) fn formatdate(a: &[Value], _: &FnCtx) -> R {
    let spec: &str = &str_arg(a, 0)?;
    let t = parse_timestamp(&str_arg(a, 1)?)?;
    let mut out = String::new();
    for (verb, tok) in tokens(spec)? {
        if !verb {
            out.push_str(&tok);
            continue;
        }
        let n = tok.len();
        let num = |v: i64| match n {
            1 => Ok(v.to_string()),
            2 => Ok(format!("{v:02}")),
            _ => Err(()),
        };
        let month = usize::from(u8::from(t.month())) - 1;
        let hour12 = match t.hour() % 12 {
            0 => 12,
            h => h,
        };
        let text = match tok.as_bytes()[0] {
            b'Y' if n == 4 => Ok(format!("{:04}", t.year())),
            b'Y' if n == 2 => Ok(format!("{:02}", t.year().rem_euclid(100))),
            b'M' if n == 3 => Ok(MONTHS[month][..3].to_string()),
            b'M' if n == 4 => Ok(MONTHS[month].to_string()),
            b'M' => num(month as i64 + 1),
            b'D' => num(i64::from(t.day())),
            b'E' if n == 3 => {
                Ok(DAYS[usize::from(t.weekday().number_days_from_monday())][..3].to_string())
            }
            b'E' if n == 4 => {
                Ok(DAYS[usize::from(t.weekday().number_days_from_monday())].to_string())
            }
            b'h' => num(i64::from(t.hour())),
            b'H' => num(i64::from(hour12)),
            b'A' | b'a' if n == 2 => {
                let pm = t.hour() >= 12;
                let s = if pm { "PM" } else { "AM" };
                Ok(if tok.starts_with('a') {
                    s.to_lowercase()
                } else {
                    s.to_string()
                })
            }
            b'm' => num(i64::from(t.minute())),
            b's' => num(i64::from(t.second())),
            b'Z' if n == 1 => Ok(offset(t.offset(), true, "Z")),
            b'Z' if n == 3 => Ok(offset(t.offset(), false, "UTC")),
            b'Z' if n == 4 => Ok(offset(t.offset(), false, "+0000")),
            b'Z' if n == 5 => Ok(offset(t.offset(), true, "+00:00")),
            _ => Err(()),
        };
        out.push_str(&text.map_err(|()| format!("invalid date format verb {tok:?}"))?);
    }
    Ok(Value::String(out))
}

/// A Go duration such as `1h30m`, `-1.5s` or `300ms`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?} (write it as 1h30m, 90s or -10m)");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(num_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let value: f64 = num.parse().map_err(|_| bad())?;
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = tail;
    }
    let nanos = if neg { -total } else { total };
    if nanos.abs() > 9.2e18 {
        return Err(bad());
    }
    Ok(Duration::nanoseconds(nanos as i64))
}

pub(super) fn timeadd(a: &[Value], _: &FnCtx) -> R {
    let t = parse_timestamp(&str_arg(a, 0)?)?;
    let d = parse_duration(&str_arg(a, 1)?)?;
    let sum = t
        .checked_add(d)
        .ok_or("the result is outside the range of timestamps")?;
    Ok(Value::String(rfc3339(sum)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::minutes(90));
        assert_eq!(
            parse_duration("-1.5s").unwrap(),
            Duration::milliseconds(-1500)
        );
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1d").is_err());
    }
}
