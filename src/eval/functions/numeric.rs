//! Numeric, network and time functions.

use super::super::Phase;
use super::{num_arg, str_arg, FnCtx};
use standby_provider_sdk::Value;
use std::net::IpAddr;

type R = Result<Value, String>;

fn numbers(a: &[Value]) -> Result<Vec<f64>, String> {
    if a.is_empty() {
        return Err("at least one number is required".into());
    }
    (0..a.len()).map(|i| num_arg(a, i)).collect()
}

pub(super) fn min(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::Number(
        numbers(a)?.into_iter().fold(f64::INFINITY, f64::min),
    ))
}

pub(super) fn max(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::Number(
        numbers(a)?.into_iter().fold(f64::NEG_INFINITY, f64::max),
    ))
}

pub(super) fn abs(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::Number(num_arg(a, 0)?.abs()))
}

pub(super) fn ceil(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::Number(num_arg(a, 0)?.ceil()))
}

pub(super) fn floor(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::Number(num_arg(a, 0)?.floor()))
}

pub(super) fn pow(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::Number(num_arg(a, 0)?.powf(num_arg(a, 1)?)))
}

pub(super) fn log(a: &[Value], _: &FnCtx) -> R {
    Ok(Value::Number(num_arg(a, 0)?.log(num_arg(a, 1)?)))
}

pub(super) fn signum(a: &[Value], _: &FnCtx) -> R {
    let n = num_arg(a, 0)?;
    Ok(Value::Number(if n == 0.0 { 0.0 } else { n.signum() }))
}

pub(super) fn parseint(a: &[Value], _: &FnCtx) -> R {
    let base = num_arg(a, 1)? as u32;
    if !(2..=62).contains(&base) {
        return Err("the base must be between 2 and 62".into());
    }
    let s = str_arg(a, 0)?;
    i64::from_str_radix(s, base.min(36))
        .map(|n| Value::Number(n as f64))
        .map_err(|_| format!("cannot parse {s:?} as a base-{base} integer"))
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
    let net = parse_net(str_arg(a, 0)?)?;
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
    let net = parse_net(str_arg(a, 0)?)?;
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
    match parse_net(str_arg(a, 0)?)? {
        ipnet::IpNet::V4(n) => Ok(Value::String(n.netmask().to_string())),
        ipnet::IpNet::V6(_) => Err("cidrnetmask works on IPv4 prefixes only".into()),
    }
}
