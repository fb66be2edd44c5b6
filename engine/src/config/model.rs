//! The decoded topology: modules, variables, resources, with their expressions unevaluated.

use crate::addr::ResourceAddr;
use crate::diag::{FileId, Sources, Span};
use hcl_edit::expr::Expression;
use hcl_edit::Span as _;
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::TypeConstraint;

/// An unevaluated expression and the file it came from.
#[derive(Clone, Debug)]
pub struct Expr {
    /// The file.
    pub file: FileId,
    /// The parsed expression, with spans into the file.
    pub inner: Expression,
}

impl Expr {
    /// Where the expression is.
    pub fn span(&self) -> Span {
        Span::new(self.file, self.inner.span())
    }
}

/// `name = expr` inside a block.
#[derive(Clone, Debug)]
pub struct Attr {
    /// The attribute name.
    pub name: String,
    /// Its expression.
    pub expr: Expr,
    /// The span of the whole attribute.
    pub span: Span,
}

/// The attributes of a block, by name.
pub type Body = BTreeMap<String, Attr>;

/// A whole topology: the root module and its descendants.
#[derive(Clone, Debug)]
pub struct Config {
    /// Every file read, for diagnostics.
    pub sources: Sources,
    /// The root module.
    pub root: Module,
    /// The directory given with `-C`.
    pub root_dir: PathBuf,
    /// `env/NAME.hcl` of the same revision as the rest (the disk, or a git commit), by
    /// environment name: where it is and its text, or why it could not be read (an error
    /// when that environment is used). An environment file is part of the topology: a review
    /// of a branch sees the branch's.
    pub env_files: std::collections::BTreeMap<String, (PathBuf, Result<String, String>)>,
    /// The revision's files when the topology was read from git, so that its policy files
    /// and the var files named inside it are the revision's too; `None` for the disk.
    pub revision: Option<std::sync::Arc<super::MemoryFiles>>,
}

impl Config {
    /// Whether environment `env` is declared protected.
    pub fn is_protected(&self, env: &str) -> bool {
        self.root.environments.get(env).is_some_and(|e| e.protected)
    }

    /// Where the rest of this revision's files are read from: the git tree it was loaded
    /// from, or the disk.
    pub fn files(&self) -> &dyn super::FileSource {
        match &self.revision {
            Some(m) => m.as_ref(),
            None => &super::Disk,
        }
    }

    /// The text of each `policy/*.hcl` of this revision, by path relative to the topology.
    pub fn policy_texts(&self) -> BTreeMap<PathBuf, String> {
        self.policy_files()
            .into_iter()
            .map(|p| {
                let text = self.files().read(&p).unwrap_or_default();
                (
                    p.strip_prefix(&self.root_dir).unwrap_or(&p).to_path_buf(),
                    text,
                )
            })
            .collect()
    }

    /// `policy/*.hcl` of this revision, sorted.
    pub fn policy_files(&self) -> Vec<PathBuf> {
        let dir = self.root_dir.join("policy");
        if !self.files().is_dir(&dir) {
            return Vec::new();
        }
        self.files().hcl_files(&dir).unwrap_or_default()
    }

    /// The module at a static path of call names.
    pub fn module(&self, path: &[String]) -> Option<&Module> {
        let mut m = &self.root;
        for name in path {
            m = &m.calls.get(name)?.module;
        }
        Some(m)
    }
}

/// One module: a directory of `.hcl` files.
#[derive(Clone, Debug, Default)]
pub struct Module {
    /// The module's directory.
    pub dir: PathBuf,
    /// `variable` blocks.
    pub variables: BTreeMap<String, Variable>,
    /// Entries of `locals` blocks.
    pub locals: BTreeMap<String, Local>,
    /// `output` blocks.
    pub outputs: BTreeMap<String, Output>,
    /// `provider` blocks (root module only).
    pub providers: BTreeMap<String, ProviderBlock>,
    /// `terraform { required_providers { ... } }`: external providers by local name.
    pub required_providers: BTreeMap<String, RequiredProvider>,
    /// `resource` and `data` blocks.
    pub resources: BTreeMap<ResourceAddr, Resource>,
    /// `module` blocks, each with its loaded module.
    pub calls: BTreeMap<String, ModuleCall>,
    /// `site` blocks (root module only).
    pub sites: BTreeMap<String, Site>,
    /// `failover` blocks (root module only).
    pub failovers: BTreeMap<String, Failover>,
    /// The `parity` block: what must match between environments.
    pub parity: Option<Parity>,
    /// The `backend "KIND" { ... }` block: where state lives.
    pub backend: Option<BackendBlock>,
    /// `environment "NAME" { protected = true, branch = "main" }` blocks.
    pub environments: BTreeMap<String, EnvironmentBlock>,
    /// `moved { from, to }` blocks (root module only).
    pub moved: Vec<Moved>,
    /// `import { to, id }` blocks (root module only).
    pub imports: Vec<ImportBlock>,
}

/// A `moved` block: what the state records at `from` is now at `to`.
#[derive(Clone, Debug)]
pub struct Moved {
    /// The old address: a resource, one instance, or a module call.
    pub from: crate::addr::Target,
    /// The new address, of the same kind.
    pub to: crate::addr::Target,
    /// The block's header.
    pub span: Span,
}

/// An `import` block: adopt the existing object `id` as the instance `to`.
#[derive(Clone, Debug)]
pub struct ImportBlock {
    /// The instance that takes the object.
    pub to: crate::addr::AbsInstance,
    /// The provider's id of the object, such as a file name.
    pub id: String,
    /// The block's header.
    pub span: Span,
}

/// Rules for one environment.
#[derive(Clone, Debug)]
pub struct EnvironmentBlock {
    /// Apply only from a clean tree at a commit on `branch`.
    pub protected: bool,
    /// The branch protected applies must come from (default `main`).
    pub branch: String,
    /// The block's labels.
    pub span: Span,
}

/// A `backend` block. Its settings are literal strings: a backend is chosen before anything
/// is evaluated.
#[derive(Clone, Debug)]
pub struct BackendBlock {
    /// `local` or `pg`.
    pub kind: String,
    /// `conn_str` for pg.
    pub conn_str: Option<String>,
    /// `schema` for pg (default `standby`).
    pub schema: Option<String>,
    /// The block's labels.
    pub span: Span,
}

/// A `site` block: a place where things run.
#[derive(Clone, Debug)]
pub struct Site {
    /// The name.
    pub name: String,
    /// Its attributes, such as `region`.
    pub body: Body,
    /// The block's labels.
    pub span: Span,
}

/// A `hook` block of a failover group: a command run at a point of the switch.
#[derive(Clone, Debug)]
pub struct Hook {
    /// When: `before_fence`, `after_promote` or `after_switch`.
    pub when: String,
    /// The command and its arguments.
    pub command: Expr,
    /// The block's labels.
    pub span: Span,
}

/// A `failover` block: a group of members, one per site, one of them active.
#[derive(Clone, Debug)]
pub struct Failover {
    /// The group's name.
    pub name: String,
    /// Top-level attributes: `active`, `members`, `rpo`, `rto`, `approval`.
    pub body: Body,
    /// `replication { mode, max_lag }`.
    pub replication: Body,
    /// `health_check { interval, timeout, failures }`.
    pub health_check: Body,
    /// `verify { checksum }`.
    pub verify: Body,
    /// `hook` blocks in file order.
    pub hooks: Vec<Hook>,
    /// The block's labels.
    pub span: Span,
}

/// The `parity` block.
#[derive(Clone, Debug)]
pub struct Parity {
    /// `ADDR.ATTR` paths whose values must be equal between environments.
    pub must_match: Vec<(String, Span)>,
    /// Differences that are intended, such as `failover.orders.approval` or a whole
    /// `failover.orders` or resource address: `envs diff` lists them but does not fail.
    pub may_differ: Vec<(String, Span)>,
}

/// A `validation` block of a variable.
#[derive(Clone, Debug)]
pub struct Validation {
    /// Must be true.
    pub condition: Expr,
    /// Shown when it is not.
    pub error_message: Expr,
}

/// A `variable` block.
#[derive(Clone, Debug)]
pub struct Variable {
    /// The name.
    pub name: String,
    /// The type constraint; `any` when not given.
    pub ty: TypeConstraint,
    /// The default, making the variable optional.
    pub default: Option<Expr>,
    /// Documentation.
    pub description: Option<String>,
    /// The value is never shown.
    pub sensitive: bool,
    /// `null` is an acceptable value.
    pub nullable: bool,
    /// Custom checks.
    pub validations: Vec<Validation>,
    /// The block's labels.
    pub span: Span,
}

/// One entry of a `locals` block.
#[derive(Clone, Debug)]
pub struct Local {
    /// The name.
    pub name: String,
    /// The expression.
    pub expr: Expr,
    /// The entry.
    pub span: Span,
}

/// An `output` block.
#[derive(Clone, Debug)]
pub struct Output {
    /// The name.
    pub name: String,
    /// The value.
    pub value: Expr,
    /// Documentation.
    pub description: Option<String>,
    /// The value is never shown.
    pub sensitive: bool,
    /// Explicit dependencies.
    pub depends_on: Vec<DependsOn>,
    /// The block's labels.
    pub span: Span,
}

/// A `provider` block.
#[derive(Clone, Debug)]
pub struct ProviderBlock {
    /// The provider's name.
    pub name: String,
    /// Its settings.
    pub body: Body,
    /// The block's labels.
    pub span: Span,
}

/// An external provider a module needs: `null = { source = "hashicorp/null", version = "~> 2.1" }`.
#[derive(Clone, Debug)]
pub struct RequiredProvider {
    /// `hashicorp/null`, as written.
    pub source: String,
    /// The version constraints, as written.
    pub version: Option<String>,
    /// Where it was declared.
    pub span: Span,
}

/// One entry of `depends_on`.
#[derive(Clone, Debug)]
pub struct DependsOn {
    /// The referenced resource, or module call when `resource` is `None`.
    pub resource: Option<ResourceAddr>,
    /// The referenced module call.
    pub module: Option<String>,
    /// Where it is written.
    pub span: Span,
}

/// A `lifecycle` block.
#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    /// Refuse any plan that destroys the resource.
    pub prevent_destroy: bool,
    /// Replace by creating the new object before destroying the old one.
    pub create_before_destroy: bool,
    /// Attributes whose differences are ignored after create.
    pub ignore_changes: Vec<String>,
    /// `ignore_changes = all`.
    pub ignore_all: bool,
}

/// A `resource` or `data` block.
#[derive(Clone, Debug)]
pub struct Resource {
    /// The resource's address within its module.
    pub addr: ResourceAddr,
    /// `count`.
    pub count: Option<Expr>,
    /// `for_each`.
    pub for_each: Option<Expr>,
    /// `depends_on`.
    pub depends_on: Vec<DependsOn>,
    /// `lifecycle`.
    pub lifecycle: Lifecycle,
    /// Every other attribute: the provider's arguments.
    pub body: Body,
    /// Nested blocks other than `lifecycle`, for resource kinds that take them.
    pub blocks: Vec<(String, Vec<String>, Body, Span)>,
    /// The block's labels.
    pub span: Span,
    /// The `site = site.NAME` meta-argument.
    pub site: Option<Expr>,
    /// `provider = NAME.ALIAS`: the provider configuration it uses, as `NAME.ALIAS` (or
    /// `NAME`); without it, the default configuration of the provider its type names.
    pub provider: Option<String>,
}

/// A `module` block, with the module it loads.
#[derive(Clone, Debug)]
pub struct ModuleCall {
    /// The call name.
    pub name: String,
    /// `source`, a local path.
    pub source: String,
    /// `count`.
    pub count: Option<Expr>,
    /// `for_each`.
    pub for_each: Option<Expr>,
    /// `depends_on`.
    pub depends_on: Vec<DependsOn>,
    /// Input variables.
    pub args: Body,
    /// The block's labels.
    pub span: Span,
    /// The loaded child module.
    pub module: Box<Module>,
}
