//! standby: a declarative failover engine.
//!
//! The pipeline runs one way: [`config`] loads HCL with spans, [`eval`] evaluates expressions
//! with unknown and sensitive values, [`graph`] orders nodes, [`state`] records what exists,
//! [`plan`] diffs configuration against state into an execution graph, and [`apply`] runs that
//! graph without planning again. Only the `standby` binary prints; this crate returns data.

#![warn(missing_docs)]

pub mod addr;
pub mod apply;
pub mod check;
pub mod config;
pub mod diag;
pub mod drill;
pub mod eval;
pub mod graph;
pub mod lease;
pub mod monitor;
pub mod operation;
pub mod plan;
pub mod plugins;
pub mod registry;
pub mod review;
pub mod state;
pub mod units;
pub mod vcs;

mod builtin;

pub use builtin::StandbyProvider;
