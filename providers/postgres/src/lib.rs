//! The `postgres` provider: PostgreSQL servers managed with the server programs
//! (initdb, pg_ctl, pg_basebackup, pg_rewind) and tokio-postgres, with streaming replication
//! as standby's replication capability.
//!
//! Servers listen on TCP only, on the address and port their resource gives (no unix socket:
//! it would sit in the data directory, which pg_rewind copies). Settings standby manages live in `standby.conf` (written from the resource)
//! and `standby-role.conf` (the member's `cluster_name`), both included from
//! `postgresql.conf`; they are rewritten after pg_basebackup and pg_rewind, which copy the
//! source's configuration files.

#![warn(missing_docs)]

mod drill;
mod replication;
mod resource;
mod secret;
mod server;

pub use resource::PostgresProvider;
