//! Expression evaluation with unknown and sensitive values.
//!
//! The evaluator walks `hcl-edit` expressions directly, so every error carries the span of the
//! token at fault. References are resolved through a [`Scope`], which the planner and the
//! applier implement over their value tables; the scope also records which nodes an
//! expression touched, which is how instance-precise dependency edges are found.

mod convert;
mod expr;
mod functions;
mod refs;
pub(crate) mod size;
pub(crate) mod template;
pub mod unify;

pub use convert::convert;
pub(crate) use expr::to_number;
pub use expr::{EvalError, Evaluator, Iteration};
pub use functions::FUNCTION_NAMES;
pub use refs::{references, RefTarget, Reference};

use crate::addr::{InstanceKey, ResourceAddr};
use standby_provider_sdk::Value;
use std::path::Path;

/// When an evaluation happens: some functions, such as `timestamp()`, are unknown until apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Validation: every reference to a resource is unknown.
    Validate,
    /// Planning: resources have planned values, possibly partly unknown.
    Plan,
    /// Applying: upstream resources have their real values.
    Apply,
}

/// Where references are resolved. `Err` carries a message that says what exists instead.
pub trait Scope {
    /// `var.NAME`.
    fn var(&self, name: &str) -> Result<Value, String>;
    /// `local.NAME`.
    fn local(&self, name: &str) -> Result<Value, String>;
    /// `TYPE.NAME` or `data.TYPE.NAME`, the whole resource, or one instance when `key` is given.
    /// The flag in the result says whether the resource uses `for_each` (a map of instances).
    fn resource(
        &self,
        addr: &ResourceAddr,
        key: Option<&InstanceKey>,
    ) -> Result<(Value, bool), String>;
    /// `module.NAME`, the object of its outputs (a list or map of them with count or for_each).
    /// `output` names the one output the expression reads next, when it is known, so only that
    /// output becomes a dependency.
    fn module(
        &self,
        name: &str,
        key: Option<&InstanceKey>,
        output: Option<&str>,
    ) -> Result<Value, String>;
    /// Other roots such as `env`, `path`, or those a later stage adds.
    fn other(&self, root: &str, attr: &str) -> Result<Value, String>;
    /// The phase.
    fn phase(&self) -> Phase;
    /// The directory that relative paths in `file()` and friends resolve against.
    fn base_dir(&self) -> &Path;
}
