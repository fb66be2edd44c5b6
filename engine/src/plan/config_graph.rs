//! The configuration-level graph: one node per provider block, module call, local, output and
//! resource block, with edges from references. Building it checks every reference and every
//! resource body against its schema, reporting all problems at once.

use crate::addr::{Mode, ResourceAddr};
use crate::config::{Body, Config, DependsOn, Expr, Module};
use crate::diag::{suggestion, Diagnostic, Diagnostics, Span};
use crate::eval::{references, RefTarget};
use crate::graph::{Dag, NodeId};
use crate::registry::Registry;
use std::collections::HashMap;

/// A node of the configuration graph. Module paths are static call names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum CNode {
    Provider(String),
    Call(Vec<String>, String),
    Local(Vec<String>, String),
    Output(Vec<String>, String),
    Resource(Vec<String>, ResourceAddr),
    Failover(String),
}

impl std::fmt::Display for CNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = |path: &[String]| {
            path.iter()
                .map(|m| format!("module.{m}."))
                .collect::<String>()
        };
        match self {
            CNode::Provider(n) => write!(f, "provider.{n}"),
            CNode::Call(path, n) => write!(f, "{}module.{n}", p(path)),
            CNode::Local(path, n) => write!(f, "{}local.{n}", p(path)),
            CNode::Output(path, n) => write!(f, "{}output.{n}", p(path)),
            CNode::Resource(path, a) => write!(f, "{}{a}", p(path)),
            CNode::Failover(n) => write!(f, "failover.{n}"),
        }
    }
}

/// The graph and a valid walk order.
pub(crate) struct ConfigGraph {
    pub dag: Dag<CNode>,
    pub order: Vec<NodeId>,
}

struct Builder<'a> {
    config: &'a Config,
    registry: &'a Registry,
    dag: Dag<CNode>,
    ids: HashMap<CNode, NodeId>,
    spans: HashMap<NodeId, Span>,
    diags: Diagnostics,
    /// Extra dependencies found while resolving one reference.
    pending: Vec<CNode>,
}

/// Builds and checks the graph.
pub(crate) fn build(config: &Config, registry: &Registry) -> Result<ConfigGraph, Diagnostics> {
    let mut b = Builder {
        config,
        registry,
        dag: Dag::new(),
        ids: HashMap::new(),
        spans: HashMap::new(),
        diags: Diagnostics::default(),
        pending: Vec::new(),
    };
    b.add_nodes(&config.root, &[]);
    b.add_edges(&config.root, &[]);
    if !b.diags.is_empty() {
        return Err(b.diags);
    }
    match b.dag.order() {
        Ok(order) => Ok(ConfigGraph { dag: b.dag, order }),
        Err(cycles) => {
            for c in cycles {
                let members: Vec<String> = c
                    .iter()
                    .map(|id| {
                        format!(
                            "{} ({})",
                            b.dag.node(*id),
                            b.spans
                                .get(id)
                                .map(|s| config.sources.location(s))
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                let span = b.spans.get(&c[0]).cloned();
                b.diags.push(Diagnostic {
                    summary: format!("Cycle: {}", c.iter().map(|id| b.dag.node(*id).to_string()).collect::<Vec<_>>().join(", ")),
                    detail: format!("These nodes depend on each other in a loop:\n  {}\nBreak the loop by removing one of the references.", members.join("\n  ")),
                    span,
                });
            }
            Err(b.diags)
        }
    }
}

impl Builder<'_> {
    fn node(&mut self, n: CNode, span: Span) {
        let id = self.dag.add(n.clone());
        self.ids.insert(n, id);
        self.spans.insert(id, span);
    }

    fn add_nodes(&mut self, m: &Module, path: &[String]) {
        if path.is_empty() {
            for (name, p) in &m.providers {
                if let Some((base, _)) = name
                    .split_once('.')
                    .filter(|_| self.registry.get(name).is_none())
                {
                    self.diags.push(Diagnostic::at(
                        p.span.clone(),
                        format!("Provider {base:?} cannot have an alias here"),
                        format!("Aliases ({name}) are for external (Terraform) providers: standby runs one configuration of each built-in provider. Remove alias."),
                    ));
                } else if self.registry.get(name).is_none() {
                    self.diags.push(Diagnostic::at(
                        p.span.clone(),
                        format!("Unknown provider {name:?}"),
                        format!(
                            "standby has no provider named {name:?}.{} Available: {}.",
                            suggestion(name, self.registry.names()),
                            self.registry.names().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                self.node(CNode::Provider(name.clone()), p.span.clone());
            }
        }
        for (name, l) in &m.locals {
            self.node(CNode::Local(path.to_vec(), name.clone()), l.span.clone());
        }
        for (name, fo) in &m.failovers {
            self.node(CNode::Failover(name.clone()), fo.span.clone());
        }
        for (name, o) in &m.outputs {
            self.node(CNode::Output(path.to_vec(), name.clone()), o.span.clone());
        }
        for (addr, r) in &m.resources {
            self.check_schema(addr, &r.body, &r.span, &r.blocks);
            self.node(CNode::Resource(path.to_vec(), addr.clone()), r.span.clone());
        }
        for (name, c) in &m.calls {
            self.node(CNode::Call(path.to_vec(), name.clone()), c.span.clone());
            let mut child = path.to_vec();
            child.push(name.clone());
            self.add_nodes(&c.module, &child);
        }
    }

    fn check_schema(
        &mut self,
        addr: &ResourceAddr,
        body: &Body,
        span: &Span,
        blocks: &[(String, Vec<String>, Body, Span)],
    ) {
        let data = addr.mode == Mode::Data;
        let Some(schema) = self.registry.type_schema(&addr.type_name, data) else {
            let kind = if data { "data source" } else { "resource" };
            self.diags.push(Diagnostic::at(
                span.clone(),
                format!("Unknown {kind} type {:?}", addr.type_name),
                format!(
                    "No provider offers a {kind} type {:?}.{} Known types: {}. A Terraform provider's type needs the provider installed: run `standby init` (a type's prefix implies hashicorp/PREFIX; declare another source in terraform {{ required_providers {{ ... }} }}).",
                    addr.type_name,
                    suggestion(&addr.type_name, self.registry.all_types(data)),
                    self.registry.all_types(data).join(", ")
                ),
            ));
            return;
        };
        for (name, a) in body {
            if !schema.is_settable(name) {
                let settable: Vec<&str> = schema
                    .attributes
                    .iter()
                    .filter(|(_, s)| s.required || s.optional)
                    .map(|(k, _)| k.as_str())
                    .collect();
                let why = if schema.attributes.contains_key(name) {
                    format!("{name:?} is computed by the provider and cannot be set.")
                } else {
                    format!(
                        "{} has no argument {name:?}.{}",
                        addr.type_name,
                        suggestion(name, settable.iter().copied())
                    )
                };
                self.diags.push(Diagnostic::at(
                    a.span.clone(),
                    format!("Unsupported argument {name:?}"),
                    format!("{why} Valid arguments are: {}.", settable.join(", ")),
                ));
                continue;
            }
            let ty = &schema.attributes[name].ty;
            if let Some(v) = literal_value(&a.expr) {
                if let Err(expected) = ty.convert(&v) {
                    self.diags.push(Diagnostic::at(
                        a.expr.span(),
                        "Incorrect attribute value type",
                        format!("{name} must be {expected}; found {}.", v.type_name()),
                    ));
                }
            }
        }
        for (name, s) in &schema.attributes {
            if s.required && !body.contains_key(name) {
                self.diags.push(Diagnostic::at(
                    span.clone(),
                    format!("Missing required argument {name:?}"),
                    format!(
                        "{} requires {name:?}; add {name} = ... to the block.",
                        addr.type_name
                    ),
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (kind, labels, inner, bspan) in blocks {
            let Some(bs) = schema.blocks.get(kind) else {
                self.diags.push(Diagnostic::at(
                    bspan.clone(),
                    format!("Unsupported block type {kind:?}"),
                    if schema.blocks.is_empty() {
                        format!("{} takes no nested blocks.", addr.type_name)
                    } else {
                        format!(
                            "{} takes nested {} blocks.{}",
                            addr.type_name,
                            schema.blocks.keys().cloned().collect::<Vec<_>>().join(", "),
                            suggestion(kind, schema.blocks.keys().map(String::as_str))
                        )
                    },
                ));
                continue;
            };
            let nesting = schema.nesting.get(kind).copied().unwrap_or_default();
            let repeats = nesting != standby_provider_sdk::BlockNesting::Single;
            if !seen.insert(kind.clone()) && !repeats {
                self.diags.push(Diagnostic::at(
                    bspan.clone(),
                    format!("Duplicate {kind} block"),
                    format!("{} takes one {kind} block.", addr.type_name),
                ));
            }
            // A labelled block's key appears once, as a map key does.
            let keyed = nesting == standby_provider_sdk::BlockNesting::Map;
            if keyed && !labels.is_empty() && !seen.insert(format!("{kind}\0{}", labels[0])) {
                self.diags.push(Diagnostic::at(
                    bspan.clone(),
                    format!("Duplicate {kind} block {:?}", labels[0]),
                    format!("{} takes one {kind} block per key.", addr.type_name),
                ));
            }
            let want = usize::from(keyed);
            if labels.len() != want {
                self.diags.push(Diagnostic::at(
                    bspan.clone(),
                    format!(
                        "{} labels on a {kind} block",
                        if labels.len() > want {
                            "Extraneous"
                        } else {
                            "Missing"
                        }
                    ),
                    if want == 1 {
                        format!(
                            "A {kind} block takes one label, its key: {kind} \"NAME\" {{ ... }}."
                        )
                    } else {
                        format!("A {kind} block takes no labels.")
                    },
                ));
            }
            for (name, a) in inner {
                if !bs.is_settable(name) {
                    let settable: Vec<&str> = bs.attributes.keys().map(String::as_str).collect();
                    self.diags.push(Diagnostic::at(
                        a.span.clone(),
                        format!("Unsupported argument {name:?} in the {kind} block"),
                        format!(
                            "Valid arguments are: {}.{}",
                            settable.join(", "),
                            suggestion(name, settable.iter().copied())
                        ),
                    ));
                }
            }
            for (name, at) in &bs.attributes {
                if at.required && !inner.contains_key(name) {
                    self.diags.push(Diagnostic::at(
                        bspan.clone(),
                        format!("Missing required argument {name:?} in the {kind} block"),
                        format!("Add {name} = ... to the {kind} block."),
                    ));
                }
            }
        }
        for (kind, bs) in &schema.blocks {
            let count = blocks.iter().filter(|(k, ..)| k == kind).count() as u64;
            // A Terraform provider says how many blocks it takes, as Terraform checks them.
            if let Some(&(min, max)) = schema.items.get(kind) {
                if count < min || (max > 0 && count > max) {
                    self.diags.push(Diagnostic::at(
                        span.clone(),
                        format!(
                            "{} {kind} blocks",
                            if count < min {
                                "Insufficient"
                            } else {
                                "Too many"
                            }
                        ),
                        format!(
                            "{} takes {} {kind} block(s); the configuration has {count}.",
                            addr.type_name,
                            if max == 0 {
                                format!("at least {min}")
                            } else if min == max {
                                min.to_string()
                            } else {
                                format!("{min} to {max}")
                            }
                        ),
                    ));
                }
                continue;
            }
            // A built-in block with a required argument is required.
            if bs.attributes.values().any(|a| a.required) && count == 0 {
                self.diags.push(Diagnostic::at(
                    span.clone(),
                    format!("Missing {kind} block"),
                    format!("{} needs a {kind} {{ ... }} block.", addr.type_name),
                ));
            }
        }
    }

    fn add_edges(&mut self, m: &Module, path: &[String]) {
        let parent_call = path
            .split_last()
            .map(|(last, parent)| CNode::Call(parent.to_vec(), last.clone()));
        let mut edges: Vec<(CNode, Vec<&Expr>, &[DependsOn], Ctx)> = Vec::new();
        if path.is_empty() {
            for (name, p) in &m.providers {
                edges.push((
                    CNode::Provider(name.clone()),
                    p.body.values().map(|a| &a.expr).collect(),
                    &[],
                    Ctx::default(),
                ));
            }
        }
        for (name, l) in &m.locals {
            edges.push((
                CNode::Local(path.to_vec(), name.clone()),
                vec![&l.expr],
                &[],
                Ctx::default(),
            ));
        }
        for (name, fo) in &m.failovers {
            let mut exprs: Vec<&Expr> = fo
                .body
                .values()
                .chain(fo.replication.values())
                .chain(fo.health_check.values())
                .chain(fo.verify.values())
                .map(|a| &a.expr)
                .collect();
            exprs.extend(fo.hooks.iter().map(|h| &h.command));
            edges.push((CNode::Failover(name.clone()), exprs, &[], Ctx::default()));
        }
        for site in m.sites.values() {
            for a in site.body.values() {
                for r in references(a.expr.file, &a.expr.inner) {
                    if !matches!(r.target, RefTarget::Var(_)) {
                        self.diags.push(Diagnostic::at(r.span, "Sites may only use variables", "A site's attributes are evaluated before anything else; use literals and var.NAME."));
                    }
                }
            }
        }
        for (name, o) in &m.outputs {
            edges.push((
                CNode::Output(path.to_vec(), name.clone()),
                vec![&o.value],
                &o.depends_on,
                Ctx::default(),
            ));
        }
        for (addr, r) in &m.resources {
            let mut exprs: Vec<&Expr> = r.body.values().map(|a| &a.expr).collect();
            exprs.extend(r.count.iter().chain(r.for_each.iter()).chain(r.site.iter()));
            exprs.extend(
                r.blocks
                    .iter()
                    .flat_map(|(_, _, b, _)| b.values().map(|a| &a.expr)),
            );
            let node = CNode::Resource(path.to_vec(), addr.clone());
            let provider = match &r.provider {
                Some(p) => {
                    if !self.config.root.providers.contains_key(p) && p.contains('.') {
                        let (base, alias) = p.split_once('.').unwrap_or_default();
                        self.diags.push(Diagnostic::at(
                            r.span.clone(),
                            format!("{addr} uses provider {p}, which has no configuration"),
                            format!("Declare it in the root module: provider \"{base}\" {{ alias = \"{alias}\" }}."),
                        ));
                    }
                    p.clone()
                }
                None => self
                    .registry
                    .provider_for(&addr.type_name, addr.mode == crate::addr::Mode::Data)
                    .unwrap_or_default()
                    .to_string(),
            };
            if self.config.root.providers.contains_key(&provider) {
                self.edge(&node, &CNode::Provider(provider));
            }
            edges.push((
                node,
                exprs,
                &r.depends_on,
                Ctx {
                    count: r.count.is_some(),
                    each: r.for_each.is_some(),
                },
            ));
        }
        for (name, c) in &m.calls {
            let mut exprs: Vec<&Expr> = c.args.values().map(|a| &a.expr).collect();
            exprs.extend(c.count.iter().chain(c.for_each.iter()));
            edges.push((
                CNode::Call(path.to_vec(), name.clone()),
                exprs,
                &c.depends_on,
                Ctx {
                    count: c.count.is_some(),
                    each: c.for_each.is_some(),
                },
            ));
        }
        for (node, exprs, depends_on, ctx) in edges {
            if let Some(pc) = &parent_call {
                self.edge(&node, pc);
            }
            for e in exprs {
                for r in references(e.file, &e.inner) {
                    if let Some(dep) = self.resolve(m, path, &r.target, &r.span, &ctx) {
                        self.edge(&node, &dep);
                    }
                    for dep in std::mem::take(&mut self.pending) {
                        self.edge(&node, &dep);
                    }
                }
            }
            for d in depends_on {
                let dep = match (&d.resource, &d.module) {
                    (Some(addr), _) => {
                        self.resolve(m, path, &RefTarget::Resource(addr.clone()), &d.span, &ctx)
                    }
                    (None, Some(name)) => self.resolve(
                        m,
                        path,
                        &RefTarget::Module(name.clone(), None),
                        &d.span,
                        &ctx,
                    ),
                    _ => None,
                };
                if let Some(dep) = dep {
                    self.edge(&node, &dep);
                }
                for dep in std::mem::take(&mut self.pending) {
                    self.edge(&node, &dep);
                }
            }
        }
        for (name, c) in &m.calls {
            let mut child = path.to_vec();
            child.push(name.clone());
            self.add_edges(&c.module, &child);
        }
    }

    fn edge(&mut self, from: &CNode, to: &CNode) {
        if let (Some(a), Some(b)) = (self.ids.get(from), self.ids.get(to)) {
            self.dag.depend(*a, *b);
        }
    }

    /// The node a reference depends on, or a diagnostic when it names nothing.
    fn resolve(
        &mut self,
        m: &Module,
        path: &[String],
        t: &RefTarget,
        span: &Span,
        ctx: &Ctx,
    ) -> Option<CNode> {
        let p = path.to_vec();
        let undeclared = |what: String, detail: String| Diagnostic::at(span.clone(), what, detail);
        match t {
            RefTarget::Var(n) => {
                if !m.variables.contains_key(n) {
                    self.diags.push(undeclared(format!("Reference to undeclared input variable {n:?}"), format!("No variable {n:?} is declared in this module.{} Declare it with variable {n:?} {{ ... }}.", suggestion(n, m.variables.keys().map(String::as_str)))));
                }
                None
            }
            RefTarget::Local(n) => {
                if m.locals.contains_key(n) {
                    Some(CNode::Local(p, n.clone()))
                } else {
                    self.diags.push(undeclared(format!("Reference to undeclared local value {n:?}"), format!("No local value {n:?} is declared in this module.{} Add it to a locals block.", suggestion(n, m.locals.keys().map(String::as_str)))));
                    None
                }
            }
            RefTarget::Resource(addr) => {
                if m.resources.contains_key(addr) {
                    Some(CNode::Resource(p, addr.clone()))
                } else {
                    let names: Vec<String> = m.resources.keys().map(ToString::to_string).collect();
                    let kind = if addr.mode == Mode::Data {
                        "data source"
                    } else {
                        "resource"
                    };
                    self.diags.push(undeclared(
                        format!("Reference to undeclared {kind} {addr}"),
                        format!(
                            "No {kind} {addr} is declared in this module.{}",
                            suggestion(&addr.to_string(), names.iter().map(String::as_str))
                        ),
                    ));
                    None
                }
            }
            RefTarget::Module(name, out) => {
                let Some(call) = m.calls.get(name) else {
                    self.diags.push(undeclared(
                        format!("Reference to undeclared module {name:?}"),
                        format!(
                            "No module block {name:?} exists in this module.{}",
                            suggestion(name, m.calls.keys().map(String::as_str))
                        ),
                    ));
                    return None;
                };
                let mut child = p.clone();
                child.push(name.clone());
                match out {
                    Some(o) if call.module.outputs.contains_key(o) => {
                        Some(CNode::Output(child, o.clone()))
                    }
                    Some(o) => {
                        self.diags.push(undeclared(
                            format!("Unsupported attribute {o:?} of module.{name}"),
                            format!(
                                "The module has no output {o:?}.{}",
                                suggestion(o, call.module.outputs.keys().map(String::as_str))
                            ),
                        ));
                        None
                    }
                    None => {
                        // A reference to the whole module waits for all of its outputs.
                        for o in call.module.outputs.keys() {
                            self.pending.push(CNode::Output(child.clone(), o.clone()));
                        }
                        Some(CNode::Call(p, name.clone()))
                    }
                }
            }
            RefTarget::Other(root, attr) => {
                match (root.as_str(), attr.as_str()) {
                    ("path", "module" | "root" | "cwd") | ("env", "name") => {}
                    ("site", s) if self.config.root.sites.contains_key(s) => {}
                    ("site", s) => self.diags.push(undeclared(format!("Reference to undeclared site {s:?}"), format!("No site block {s:?} exists.{}", suggestion(s, self.config.root.sites.keys().map(String::as_str))))),
                    ("failover", g) if self.config.root.failovers.contains_key(g) => return Some(CNode::Failover(g.to_string())),
                    ("failover", g) => self.diags.push(undeclared(format!("Reference to undeclared failover group {g:?}"), format!("No failover block {g:?} exists.{}", suggestion(g, self.config.root.failovers.keys().map(String::as_str))))),
                    ("count", "index") if ctx.count => {}
                    ("each", "key" | "value") if ctx.each => {}
                    ("count", _) | ("each", _) if !(ctx.count || ctx.each) => self.diags.push(undeclared(
                        format!("Reference to {root}.{attr} outside a {} block", if root == "count" { "count" } else { "for_each" }),
                        format!("{root}.{attr} is only available inside a resource or module block that sets {}.", if root == "count" { "count" } else { "for_each" }),
                    )),
                    ("count", _) | ("each", _) => self.diags.push(undeclared(format!("Invalid reference {root}.{attr}"), if ctx.count { "This block uses count; use count.index.".to_string() } else { "This block uses for_each; use each.key or each.value.".to_string() })),
                    (_, "") => self.diags.push(undeclared(format!("Invalid reference {root:?}"), format!("A bare name is not a value. Did you mean a string (\"{root}\") or a reference such as var.{root}?"))),
                    ("path", a) | ("env", a) => self.diags.push(undeclared(format!("Unsupported attribute {a:?} of {root}"), format!("{root} has {}.", if root == "path" { "module, root and cwd" } else { "name" }))),
                    (r, _) => self.diags.push(undeclared(format!("Reference to unknown name {r:?}"), format!("References start with var, local, module, data, path, env, count, each, site, failover or a resource type.{}", suggestion(r, ["var", "local", "module", "data", "path", "env", "count", "each", "site", "failover"])))),
                }
                None
            }
        }
    }
}

/// What the referring block allows.
#[derive(Default)]
struct Ctx {
    count: bool,
    each: bool,
}

/// The value of a literal expression, for early type checks.
fn literal_value(e: &Expr) -> Option<standby_provider_sdk::Value> {
    use hcl_edit::expr::Expression as E;
    use standby_provider_sdk::Value;
    match &e.inner {
        E::String(s) => Some(Value::String(s.value().to_string())),
        E::Number(n) => n.value().as_f64().map(Value::from),
        E::Bool(b) => Some(Value::Bool(*b.value())),
        E::Array(_) => Some(Value::List(Vec::new())),
        E::Object(_) => Some(Value::Map(Default::default())),
        _ => None,
    }
}
