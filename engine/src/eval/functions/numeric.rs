//! Numeric, network and time functions.

use super::super::Phase;
use super::{num_arg, number_arg, str_arg, FnCtx};
use standby_provider_sdk::{Number, Value};
use std::net::IpAddr;

type R = Result<Value, String>;

fn numbers(a: &[Value]) -> Result<Vec<Number>, String> {
    if a.is_empty() {
        return Err("at least one number is required".into());
    }
    (0..a.len()).map(|i| number_arg(a, i)).collect()
}

pub(super) fn min(a: &[Value], _: &FnCtx) -> R {
    let all = numbers(a)?;
    Ok(all
        .into_iter()
        .reduce(|m, n| if n < m { n } else { m })
        .map_or(Value::Null, Value::Number))
}

pub(super) fn max(a: &[Value], _: &FnCtx) -> R {
    let all = numbers(a)?;
    Ok(all
        .into_iter()
        .reduce(|m, n| if n > m { n } else { m })
        .map_or(Value::Null, Value::Number))
}

pub(super) fn abs(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::Number(number_arg(a, 0)?.abs()))
}

pub(super) fn ceil(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::Number(number_arg(a, 0)?.ceil()))
}

pub(super) fn floor(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::Number(number_arg(a, 0)?.floor()))
}

/// Terraform computes `pow` and `log` in 64-bit floats; the results keep 53 bits.
fn float_result(f: f64) -> R {
    if f.is_nan() {
        return Err("the result is not a number".into());
    }
    Ok(Value::from(f))
}

pub(super) fn pow(a: &[Value], _: &FnCtx) -> R {
    float_result(num_arg(a, 0)?.powf(num_arg(a, 1)?))
}

pub(super) fn log(a: &[Value], _: &FnCtx) -> R {
    float_result(num_arg(a, 0)?.ln() / num_arg(a, 1)?.ln())
}

pub(super) fn signum(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::int(number_arg(a, 0)?.signum()))
}

/// Go's `big.Int.SetString` digits: 0-9, then a-z (either case up to base 36), then A-Z.
fn digit_value(c: char, base: u32) -> Option<u32> {
    let d = match c {
        '0'..='9' => c as u32 - '0' as u32,
        'a'..='z' => c as u32 - 'a' as u32 + 10,
        'A'..='Z' if base <= 36 => c as u32 - 'A' as u32 + 10,
        'A'..='Z' => c as u32 - 'A' as u32 + 36,
        _ => return None,
    };
    (d < base).then_some(d)
}

pub(super) fn parseint(a: &[Value], _: &FnCtx) -> R {
    let base = number_arg(a, 1)?
        .to_i64()
        .filter(|b| (2..=62).contains(b))
        .ok_or("the base must be an integer between 2 and 62")? as u32;
    // Terraform's parseint takes only a string.
    let Some(Value::String(s)) = a.first() else {
        return Err("the first argument must be a string".into());
    };
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let bad = || format!("cannot parse {s:?} as a base {base} integer");
    if digits.is_empty() || digits.len() > 20_000 {
        return Err(bad());
    }
    let mut n = num_bigint::BigInt::default();
    for c in digits.chars() {
        n = n * base + digit_value(c, base).ok_or_else(bad)?;
    }
    if neg {
        n = -n;
    }
    Ok(Value::Number(Number::from_bigint(&n)))
}

/// `timestamp()` is unknown until apply, as in Terraform: its value would differ at apply time.
pub(super) fn timestamp(_: &[Value], ctx: &FnCtx) -> R {
    if ctx.phase != Phase::Apply {
        return Ok(Value::Unknown);
    }
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .map(Value::String)
        .map_err(|e| e.to_string())
}

pub(super) fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not a CIDR prefix such as 10.0.0.0/16"))
}

pub(super) fn cidrsubnet(a: &[Value], _: &FnCtx) -> R {
    let net = parse_net(&str_arg(a, 0)?)?;
    let newbits = num_arg(a, 1)? as u8;
    let num = num_arg(a, 2)? as u128;
    let new_len = net.prefix_len() + newbits;
    if new_len > net.max_prefix_len() {
        return Err(format!(
            "cannot extend a /{} prefix by {newbits} bits",
            net.prefix_len()
        ));
    }
    if newbits < 128 && num >= (1u128 << newbits) {
        return Err(format!(
            "network number {num} does not fit in {newbits} bits"
        ));
    }
    let host_bits = u32::from(net.max_prefix_len() - new_len);
    let out = match net.network() {
        IpAddr::V4(v4) => {
            let base = u32::from(v4) as u128;
            let addr = base | (num << host_bits);
            format!("{}/{new_len}", std::net::Ipv4Addr::from(addr as u32))
        }
        IpAddr::V6(v6) => {
            let base = u128::from(v6);
            let addr = base | num.checked_shl(host_bits).unwrap_or(0);
            format!("{}/{new_len}", std::net::Ipv6Addr::from(addr))
        }
    };
    Ok(Value::String(out))
}

pub(super) fn cidrhost(a: &[Value], _: &FnCtx) -> R {
    let net = parse_net(&str_arg(a, 0)?)?;
    let host = num_arg(a, 1)? as i128;
    let host_bits = u32::from(net.max_prefix_len() - net.prefix_len());
    let size: i128 = if host_bits >= 127 {
        i128::MAX
    } else {
        1i128 << host_bits
    };
    let idx = if host < 0 { size + host } else { host };
    if idx < 0 || idx >= size {
        return Err(format!(
            "host number {host} does not fit in the prefix {net}"
        ));
    }
    Ok(Value::String(match net.network() {
        IpAddr::V4(v4) => std::net::Ipv4Addr::from(u32::from(v4) + idx as u32).to_string(),
        IpAddr::V6(v6) => std::net::Ipv6Addr::from(u128::from(v6) + idx as u128).to_string(),
    }))
}

/// The IPv4 netmask of a prefix, such as 255.240.0.0 for a /12.
pub(super) fn cidrnetmask(a: &[Value], _: &FnCtx) -> R {
    match parse_net(&str_arg(a, 0)?)? {
        ipnet::IpNet::V4(n) => Ok(Value::String(n.netmask().to_string())),
        ipnet::IpNet::V6(n) => Ok(Value::String(n.netmask().to_string())),
    }
}

/// `cidrsubnets(prefix, newbits...)`: consecutive subnets, each aligned to its own size after
/// the previous one, as Terraform allocates them.
pub(super) fn cidrsubnets(a: &[Value], _: &FnCtx) -> R {
    let net = parse_net(&str_arg(a, 0)?)?;
    let width = u32::from(net.max_prefix_len());
    let start_len = u32::from(net.prefix_len());
    let base = match net.network() {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    };
    let modulus = |x: u128| {
        if width == 128 {
            x
        } else {
            x & ((1u128 << width) - 1)
        }
    };
    let size = |len: u32| -> u128 {
        if width - len >= 128 {
            u128::MAX
        } else {
            1u128 << (width - len)
        }
    };
    let end = base.saturating_add(size(start_len) - 1);
    // The subnet before the prefix, of the prefix's own length: the first one follows it.
    let (mut cur, mut cur_len) = (modulus(base.wrapping_sub(size(start_len))), start_len);
    let mut out = Vec::new();
    for i in 1..a.len() {
        let bits = number_arg(a, i)?
            .to_i64()
            .ok_or_else(|| format!("argument {} must be a whole number", i + 1))?;
        if bits < 1 {
            return Err("must extend prefix by at least one bit".into());
        }
        if bits > 32 {
            return Err("may not extend prefix by more than 32 bits".into());
        }
        let len = start_len + bits as u32;
        if len > width {
            return Err(format!(
                "would extend prefix to {len} bits, which is too long for an IPv{} address",
                if width == 32 { 4 } else { 6 }
            ));
        }
        let cur_last = modulus(cur.wrapping_add(size(cur_len) - 1));
        let aligned = cur_last & !(size(len) - 1);
        let next = modulus(aligned.wrapping_add(size(len)));
        if next == 0 || next < base || next > end {
            let shown = format_net(cur, cur_len, width);
            return Err(format!(
                "not enough remaining address space for a subnet with a prefix of {len} bits after {shown}"
            ));
        }
        (cur, cur_len) = (next, len);
        out.push(Value::String(format_net(cur, cur_len, width)));
    }
    Ok(Value::List(out))
}

fn format_net(addr: u128, len: u32, width: u32) -> String {
    if width == 32 {
        format!("{}/{len}", std::net::Ipv4Addr::from(addr as u32))
    } else {
        format!("{}/{len}", std::net::Ipv6Addr::from(addr))
    }
}
