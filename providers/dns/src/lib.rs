//! The `dns` provider: `dns_record` kept up to date with RFC 2136 dynamic updates signed with
//! TSIG, over UDP with a TCP fallback, and read back with ordinary queries for drift.

#![warn(missing_docs)]

mod record;
mod wire;

pub use record::DnsProvider;
