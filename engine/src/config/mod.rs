//! Loading topologies: every `*.hcl` file of a directory, local modules, environment files.
//!
//! Parsing uses `hcl-edit`, which keeps byte spans, so every later error can point at its
//! source token. This stage only checks structure (block types, labels, meta-arguments);
//! values are checked when they are evaluated.

mod decode;
mod diff;
mod format;
pub(crate) mod heredoc;
mod load;
mod model;
mod type_expr;

pub use diff::{diff, render_diff, ChangeKind, TopologyChange};
pub use format::format_hcl;
pub use load::{
    load, load_partial, load_partial_from, load_var_file, load_var_file_from, parse_policy_file,
    Disk, FileSource, MemoryFiles, VarFile,
};
pub use model::{
    Attr, BackendBlock, Body, Config, DependsOn, EnvironmentBlock, Expr, Failover, Hook,
    ImportBlock, Lifecycle, Local, Module, ModuleCall, Moved, Output, Parity, ProviderBlock,
    RequiredProvider, Resource, Site, Validation, Variable,
};
pub use type_expr::TypeConstraint;
