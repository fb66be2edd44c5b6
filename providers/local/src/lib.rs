//! The `local` provider: files on the machine that runs standby.
//!
//! It keeps the attribute names of Terraform's `hashicorp/local` provider. Relative file names
//! resolve against the topology's root directory, so a topology behaves the same whatever the
//! working directory of the `standby` process is.

#![warn(missing_docs)]

mod atomic;
mod drill;
mod file;
mod member;
mod sqlite;

pub use file::LocalProvider;
