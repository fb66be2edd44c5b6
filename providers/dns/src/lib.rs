//! The `dns` provider: `dns_record` kept up to date with RFC 2136 dynamic updates signed with
//! TSIG, over UDP with a TCP fallback, and read back with ordinary queries for drift.

#![warn(missing_docs)]

mod record;
mod wire;

pub use record::{full_name, DnsProvider};

/// Asks `server` (host:port) for the `rtype` records of `name`, as a client following the
/// name would: the values, sorted; empty when there are none.
pub async fn resolve(
    server: &str,
    name: &str,
    rtype: &str,
) -> Result<Vec<String>, standby_provider_sdk::ProviderError> {
    let t = wire::rtype(rtype)?;
    Ok(wire::lookup(server, name, t)
        .await?
        .map(|(_, values)| values)
        .unwrap_or_default())
}
