//! Unmodified Terraform and OpenTofu providers as standby providers.
//!
//! A provider is a separate program that standby starts and talks to over gRPC, as Terraform
//! does: go-plugin's handshake and automatic mutual TLS (`process.rs`, `tls.rs`), protocol 5 or
//! 6 (`proto.rs`, `client.rs`), values as MessagePack-encoded cty (`cty.rs`), schemas
//! (`schema.rs`). `PluginProvider` (`provider.rs`) makes one an SDK `Provider`. Programs are
//! found in a filesystem mirror and pinned by a lock file (`install.rs`, `lockfile.rs`,
//! `version.rs`).

#![warn(missing_docs)]

mod client;
pub mod cty;
pub mod install;
pub mod lockfile;
mod process;
mod proto;
mod provider;
pub mod schema;
mod tls;
mod values;
pub mod version;
pub mod zip;

pub use process::LogSink;
pub use provider::{PluginProvider, PROTOCOLS};

/// The Terraform version standby tells providers it is (ConfigureProvider): the protocol's
/// behaviour standby implements is that of Terraform 1.0.
pub const TERRAFORM_VERSION: &str = "1.0.3";
use std::path::PathBuf;

fn last_lines(log: &str) -> String {
    if log.is_empty() {
        String::new()
    } else {
        format!("\nits last log lines:\n{log}")
    }
}

/// What can go wrong with a plugin.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    /// The program could not be started.
    #[error("cannot start the provider {path}: {detail}")]
    Start {
        /// The program.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// It started but the handshake failed.
    #[error(
        "the provider {path} did not complete its handshake: {detail}{}",
        last_lines(log)
    )]
    Handshake {
        /// The program.
        path: PathBuf,
        /// Why.
        detail: String,
        /// Its last log lines.
        log: String,
    },
    /// A call failed at the gRPC level (the plugin crashed, or does not have the method).
    #[error("the provider failed in {call}: {detail}{}", last_lines(log))]
    Rpc {
        /// The RPC.
        call: &'static str,
        /// The status.
        detail: String,
        /// Its last log lines.
        log: String,
    },
    /// A value or type the protocol carries could not be decoded.
    #[error("the provider sent a value standby cannot read in {call}: {detail}")]
    Value {
        /// The RPC.
        call: &'static str,
        /// Why.
        detail: String,
    },
}
