//! Turning parsed HCL bodies into the [`Module`] model, reporting every structural error.

use super::model::{
    Attr, Body, DependsOn, Expr, Lifecycle, Local, Module, Output, Resource, Validation, Variable,
};
use super::TypeConstraint;
use crate::addr::{Mode, ResourceAddr};
use crate::diag::{suggestion, Diagnostic, Diagnostics, FileId, Span};
use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::structure::{Block, BlockLabel, Structure};
use hcl_edit::Span as _;

/// Block types a module may contain.
const BLOCK_TYPES: [&str; 10] = [
    "variable",
    "locals",
    "output",
    "provider",
    "resource",
    "data",
    "module",
    "moved",
    "import",
    "terraform",
];

mod moves;
mod requirements;
mod settings;

/// A `module` block before its child module is loaded.
pub(super) struct PendingCall {
    pub name: String,
    pub source: Option<String>,
    pub count: Option<Expr>,
    pub for_each: Option<Expr>,
    pub depends_on: Vec<DependsOn>,
    pub args: Body,
    pub span: Span,
}

pub(super) struct Decoder<'a> {
    pub file: FileId,
    pub module: &'a mut Module,
    pub calls: &'a mut Vec<PendingCall>,
    pub diags: &'a mut Diagnostics,
    /// Whether this is the root module, where sites and failover groups live.
    pub root: bool,
}

fn label_str(l: &BlockLabel) -> &str {
    match l {
        BlockLabel::Ident(i) => i.value().as_str(),
        BlockLabel::String(s) => s.value().as_str(),
    }
}

fn block_span(file: FileId, b: &Block) -> Span {
    // Point at the header: the identifier through the last label, not the whole body.
    let start = b.ident.span().map_or(0, |r| r.start);
    let end = b
        .labels
        .last()
        .and_then(|l| l.span())
        .or_else(|| b.ident.span())
        .map_or(start, |r| r.end);
    Span {
        file,
        range: start..end,
    }
}

impl Decoder<'_> {
    fn span(&self, r: Option<std::ops::Range<usize>>) -> Span {
        Span::new(self.file, r)
    }

    fn expr(&self, e: &Expression) -> Expr {
        Expr {
            file: self.file,
            inner: e.clone(),
        }
    }

    pub fn body(&mut self, body: &hcl_edit::structure::Body) {
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => self.diags.push(Diagnostic::at(
                    self.span(a.key.span()),
                    format!("Unexpected attribute {:?} at the top level", a.key.value().as_str()),
                    "Only blocks may appear at the top level of a topology file; put settings inside a block such as `locals { ... }`.",
                )),
                Structure::Block(b) => self.block(b),
            }
        }
    }

    fn labels<'b>(&mut self, b: &'b Block, want: usize, what: &str) -> Option<Vec<&'b str>> {
        if b.labels.len() == want {
            return Some(b.labels.iter().map(label_str).collect());
        }
        self.diags.push(Diagnostic::at(
            block_span(self.file, b),
            format!(
                "Wrong number of labels on a {} block",
                b.ident.value().as_str()
            ),
            format!("Write it as {what}; found {} label(s).", b.labels.len()),
        ));
        None
    }

    fn block(&mut self, b: &Block) {
        let kind = b.ident.value().as_str();
        match kind {
            "variable" => self.variable(b),
            "locals" => self.locals(b),
            "output" => self.output(b),
            "provider" => self.provider(b),
            "resource" => self.resource(b, Mode::Managed),
            "data" => self.resource(b, Mode::Data),
            "module" => self.module_call(b),
            "site" | "failover" | "parity" => self.failover_block(b),
            "backend" => self.backend(b),
            "environment" => self.environment(b),
            "moved" => self.moved(b),
            "import" => self.import(b),
            "terraform" | "standby" => self.requirements(b),
            other => self.diags.push(Diagnostic::at(
                self.span(b.ident.span()),
                format!("Unsupported block type {other:?}"),
                format!(
                    "Blocks of type {other:?} are not expected here.{} Valid block types are: {}.",
                    suggestion(other, BLOCK_TYPES),
                    BLOCK_TYPES.join(", ")
                ),
            )),
        }
    }

    /// The attributes of a block body; nested blocks are returned separately.
    fn attrs<'b>(&mut self, body: &'b hcl_edit::structure::Body) -> (Body, Vec<&'b Block>) {
        let mut out = Body::new();
        let mut blocks = Vec::new();
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let name = a.key.value().to_string();
                    let attr = Attr {
                        name: name.clone(),
                        expr: self.expr(&a.value),
                        span: self.span(a.span()),
                    };
                    if let Some(prev) = out.get(&name) {
                        self.diags.push(Diagnostic::at(
                            self.span(a.key.span()),
                            format!("Attribute {name:?} is set twice"),
                            format!(
                                "It was already set at byte {}; remove one of them.",
                                prev.span.range.start
                            ),
                        ));
                    } else {
                        out.insert(name, attr);
                    }
                }
                Structure::Block(blk) => blocks.push(blk),
            }
        }
        (out, blocks)
    }

    fn reject_blocks(&mut self, blocks: &[&Block], allowed: &[&str], within: &str) {
        for b in blocks {
            let k = b.ident.value().as_str();
            if !allowed.contains(&k) {
                self.diags.push(Diagnostic::at(
                    self.span(b.ident.span()),
                    format!("Unsupported block type {k:?} in {within}"),
                    if allowed.is_empty() {
                        format!("A {within} takes no nested blocks.")
                    } else {
                        format!(
                            "Only {} blocks may appear here.{}",
                            allowed.join(", "),
                            suggestion(k, allowed.iter().copied())
                        )
                    },
                ));
            }
        }
    }

    fn reject_attrs(&mut self, body: &Body, allowed: &[&str], within: &str) {
        for (name, a) in body {
            if !allowed.contains(&name.as_str()) {
                self.diags.push(Diagnostic::at(
                    a.span.clone(),
                    format!("Unsupported argument {name:?} in {within}"),
                    format!(
                        "An argument named {name:?} is not expected here.{} Valid arguments are: {}.",
                        suggestion(name, allowed.iter().copied()),
                        allowed.join(", ")
                    ),
                ));
            }
        }
    }

    fn literal_string(&mut self, a: &Attr) -> Option<String> {
        match &a.expr.inner {
            Expression::String(s) => Some(s.value().to_string()),
            _ => {
                self.diags.push(Diagnostic::at(
                    a.expr.span(),
                    format!("{} must be a literal string", a.name),
                    "Write a quoted string here; expressions are not allowed.",
                ));
                None
            }
        }
    }

    fn literal_bool(&mut self, a: &Attr) -> bool {
        match &a.expr.inner {
            Expression::Bool(b) => *b.value(),
            _ => {
                self.diags.push(Diagnostic::at(
                    a.expr.span(),
                    format!("Invalid value for {}", a.name),
                    "Expected the literal true or false.",
                ));
                false
            }
        }
    }

    fn variable(&mut self, b: &Block) {
        let Some(l) = self.labels(b, 1, "variable \"NAME\" { ... }") else {
            return;
        };
        let name = l[0].to_string();
        // As in Terraform: these names mean something else in a module block.
        const RESERVED: [&str; 8] = [
            "count",
            "depends_on",
            "for_each",
            "lifecycle",
            "locals",
            "providers",
            "source",
            "version",
        ];
        if RESERVED.contains(&name.as_str()) {
            self.diags.push(Diagnostic::at(
                self.span(b.labels[0].span()),
                "Invalid variable name",
                format!("The variable name {name:?} is reserved due to its special meaning inside module blocks."),
            ));
        }
        let (body, blocks) = self.attrs(&b.body);
        self.reject_attrs(
            &body,
            &["type", "default", "description", "sensitive", "nullable"],
            "a variable block",
        );
        self.reject_blocks(&blocks, &["validation"], "a variable block");
        let ty = match body.get("type") {
            None => TypeConstraint::Any,
            Some(a) => TypeConstraint::parse(&a.expr.inner).unwrap_or_else(|e| {
                self.diags
                    .push(Diagnostic::at(a.expr.span(), "Invalid type constraint", e));
                TypeConstraint::Any
            }),
        };
        let mut validations = Vec::new();
        for v in blocks
            .iter()
            .filter(|v| v.ident.value().as_str() == "validation")
        {
            let (vb, inner) = self.attrs(&v.body);
            self.reject_blocks(&inner, &[], "a validation block");
            self.reject_attrs(&vb, &["condition", "error_message"], "a validation block");
            match (vb.get("condition"), vb.get("error_message")) {
                (Some(c), Some(m)) => validations.push(Validation {
                    condition: c.expr.clone(),
                    error_message: m.expr.clone(),
                }),
                _ => self.diags.push(Diagnostic::at(
                    self.span(v.ident.span()),
                    "Incomplete validation block",
                    "A validation block needs both condition and error_message.",
                )),
            }
        }
        let description = body.get("description").and_then(|a| self.literal_string(a));
        let sensitive = body.get("sensitive").is_some_and(|a| self.literal_bool(a));
        let nullable = body.get("nullable").is_none_or(|a| self.literal_bool(a));
        let span = block_span(self.file, b);
        if self.module.variables.contains_key(&name) {
            self.duplicate("variable", &name, span);
            return;
        }
        self.module.variables.insert(
            name.clone(),
            Variable {
                name,
                ty,
                default: body.get("default").map(|a| a.expr.clone()),
                description,
                sensitive,
                nullable,
                validations,
                span,
            },
        );
    }

    fn duplicate(&mut self, kind: &str, name: &str, span: Span) {
        self.diags.push(Diagnostic::at(
            span,
            format!("Duplicate {kind} {name:?}"),
            format!("A {kind} named {name:?} is already declared in this module; names must be unique. Rename or remove one."),
        ));
    }

    fn locals(&mut self, b: &Block) {
        let Some(_) = self.labels(b, 0, "locals { ... }") else {
            return;
        };
        let (body, blocks) = self.attrs(&b.body);
        self.reject_blocks(&blocks, &[], "a locals block");
        for (name, a) in body {
            if self.module.locals.contains_key(&name) {
                self.duplicate("local value", &name, a.span.clone());
                continue;
            }
            self.module.locals.insert(
                name.clone(),
                Local {
                    name,
                    expr: a.expr,
                    span: a.span,
                },
            );
        }
    }

    fn output(&mut self, b: &Block) {
        let Some(l) = self.labels(b, 1, "output \"NAME\" { value = ... }") else {
            return;
        };
        let name = l[0].to_string();
        let (body, blocks) = self.attrs(&b.body);
        self.reject_blocks(&blocks, &[], "an output block");
        self.reject_attrs(
            &body,
            &["value", "description", "sensitive", "depends_on"],
            "an output block",
        );
        let span = block_span(self.file, b);
        let Some(value) = body.get("value") else {
            self.diags.push(Diagnostic::at(
                span,
                format!("Output {name:?} has no value"),
                "Add `value = <expression>` to the output block.",
            ));
            return;
        };
        let description = body.get("description").and_then(|a| self.literal_string(a));
        let sensitive = body.get("sensitive").is_some_and(|a| self.literal_bool(a));
        let depends_on = body
            .get("depends_on")
            .map(|a| self.depends_on(a))
            .unwrap_or_default();
        if self.module.outputs.contains_key(&name) {
            self.duplicate("output", &name, span);
            return;
        }
        self.module.outputs.insert(
            name.clone(),
            Output {
                name,
                value: value.expr.clone(),
                description,
                sensitive,
                depends_on,
                span,
            },
        );
    }

    fn depends_on(&mut self, a: &Attr) -> Vec<DependsOn> {
        let Expression::Array(items) = &a.expr.inner else {
            self.diags.push(Diagnostic::at(a.expr.span(), "Invalid depends_on", "depends_on takes a list of resource or module references, such as [local_file.a, module.db]."));
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            let span = self.span(item.span());
            match traversal_names(item).as_deref() {
                Some(["module", m, ..]) => out.push(DependsOn { resource: None, module: Some((*m).to_string()), span }),
                Some(["data", t, n, ..]) => out.push(DependsOn {
                    resource: Some(ResourceAddr { mode: Mode::Data, type_name: (*t).into(), name: (*n).into() }),
                    module: None,
                    span,
                }),
                Some([t, n, ..]) if !["var", "local", "path", "env", "count", "each"].contains(t) => out.push(DependsOn {
                    resource: Some(ResourceAddr { mode: Mode::Managed, type_name: (*t).into(), name: (*n).into() }),
                    module: None,
                    span,
                }),
                _ => self.diags.push(Diagnostic::at(span, "Invalid depends_on reference", "Each entry must name a resource (TYPE.NAME), a data source (data.TYPE.NAME) or a module (module.NAME), with no index.")),
            }
        }
        out
    }

    fn meta(&mut self, body: &Body, span: &Span) -> (Option<Expr>, Option<Expr>, Vec<DependsOn>) {
        let count = body.get("count").map(|a| a.expr.clone());
        let for_each = body.get("for_each").map(|a| a.expr.clone());
        if count.is_some() && for_each.is_some() {
            self.diags.push(Diagnostic::at(
                span.clone(),
                "Invalid combination of count and for_each",
                "A block may use count or for_each, not both. Remove one of them.",
            ));
        }
        let depends_on = body
            .get("depends_on")
            .map(|a| self.depends_on(a))
            .unwrap_or_default();
        (count, for_each, depends_on)
    }

    fn resource(&mut self, b: &Block, mode: Mode) {
        let what = if mode == Mode::Data {
            "data \"TYPE\" \"NAME\" { ... }"
        } else {
            "resource \"TYPE\" \"NAME\" { ... }"
        };
        let Some(l) = self.labels(b, 2, what) else {
            return;
        };
        let addr = ResourceAddr {
            mode,
            type_name: l[0].to_string(),
            name: l[1].to_string(),
        };
        let span = block_span(self.file, b);
        let (mut body, blocks) = self.attrs(&b.body);
        let (count, for_each, depends_on) = self.meta(&body, &span);
        let provider = body.remove("provider");
        let site = body.remove("site").map(|a| a.expr);
        for k in ["count", "for_each", "depends_on"] {
            body.remove(k);
        }
        let provider = provider.and_then(|p| self.provider_ref(&p));
        let mut lifecycle = Lifecycle::default();
        let mut nested = Vec::new();
        for blk in blocks {
            if blk.ident.value().as_str() == "lifecycle" && mode == Mode::Managed {
                lifecycle = self.lifecycle(blk);
            } else {
                let (inner, deeper) = self.attrs(&blk.body);
                self.reject_blocks(&deeper, &[], "a nested block");
                nested.push((
                    blk.ident.value().to_string(),
                    blk.labels
                        .iter()
                        .map(|l| label_str(l).to_string())
                        .collect(),
                    inner,
                    self.span(blk.ident.span()),
                ));
            }
        }
        if self.module.resources.contains_key(&addr) {
            self.duplicate(
                if mode == Mode::Data {
                    "data source"
                } else {
                    "resource"
                },
                &addr.to_string(),
                span,
            );
            return;
        }
        self.module.resources.insert(
            addr.clone(),
            Resource {
                addr,
                count,
                for_each,
                depends_on,
                lifecycle,
                body,
                blocks: nested,
                span,
                site,
                provider,
            },
        );
    }

    fn lifecycle(&mut self, b: &Block) -> Lifecycle {
        let (body, blocks) = self.attrs(&b.body);
        self.reject_blocks(&blocks, &[], "a lifecycle block");
        self.reject_attrs(
            &body,
            &["prevent_destroy", "create_before_destroy", "ignore_changes"],
            "a lifecycle block",
        );
        let mut l = Lifecycle {
            prevent_destroy: body
                .get("prevent_destroy")
                .is_some_and(|a| self.literal_bool(a)),
            create_before_destroy: body
                .get("create_before_destroy")
                .is_some_and(|a| self.literal_bool(a)),
            ..Lifecycle::default()
        };
        if let Some(a) = body.get("ignore_changes") {
            match &a.expr.inner {
                Expression::Variable(v) if v.value().as_str() == "all" => l.ignore_all = true,
                Expression::Array(items) => {
                    for i in items.iter() {
                        match traversal_names(i).as_deref() {
                            Some([name]) => l.ignore_changes.push((*name).to_string()),
                            _ => self.diags.push(Diagnostic::at(self.span(i.span()), "Invalid ignore_changes entry", "List attribute names, such as [content], or write ignore_changes = all.")),
                        }
                    }
                }
                _ => self.diags.push(Diagnostic::at(
                    a.expr.span(),
                    "Invalid ignore_changes",
                    "Write a list of attribute names, such as [content], or all.",
                )),
            }
        }
        l
    }

    fn module_call(&mut self, b: &Block) {
        let Some(l) = self.labels(b, 1, "module \"NAME\" { source = \"./path\" }") else {
            return;
        };
        let name = l[0].to_string();
        let span = block_span(self.file, b);
        let (mut args, blocks) = self.attrs(&b.body);
        self.reject_blocks(&blocks, &[], "a module block");
        let (count, for_each, depends_on) = self.meta(&args, &span);
        let source = match args.remove("source") {
            Some(a) => self.literal_string(&a),
            None => {
                self.diags.push(Diagnostic::at(
                    span.clone(),
                    format!("Module {name:?} has no source"),
                    "Add source = \"./path/to/module\"; only local modules are supported.",
                ));
                None
            }
        };
        for k in ["count", "for_each", "depends_on", "providers", "version"] {
            args.remove(k);
        }
        if self.calls.iter().any(|c| c.name == name) {
            self.duplicate("module call", &name, span);
            return;
        }
        self.calls.push(PendingCall {
            name,
            source,
            count,
            for_each,
            depends_on,
            args,
            span,
        });
    }
}

/// The plain names of a traversal like `a.b.c` (no indexes), or `None`.
pub(crate) fn traversal_names(e: &Expression) -> Option<Vec<&str>> {
    match e {
        Expression::Variable(v) => Some(vec![v.value().as_str()]),
        Expression::Traversal(t) => {
            let mut names = match &t.expr {
                Expression::Variable(v) => vec![v.value().as_str()],
                _ => return None,
            };
            for op in &t.operators {
                match op.value() {
                    TraversalOperator::GetAttr(i) => names.push(i.value().as_str()),
                    _ => return None,
                }
            }
            Some(names)
        }
        _ => None,
    }
}

impl Decoder<'_> {
    /// A parity list: quoted `ADDRESS.ATTRIBUTE` strings, each with its span.
    fn path_list(
        &mut self,
        body: &crate::config::Body,
        name: &str,
        example: &str,
    ) -> Vec<(String, crate::diag::Span)> {
        let mut out = Vec::new();
        let Some(a) = body.get(name) else {
            return out;
        };
        match &a.expr.inner {
            Expression::Array(items) => {
                for i in items.iter() {
                    match i {
                        Expression::String(s) => out.push((s.value().to_string(), self.span(i.span()))),
                        _ => self.diags.push(Diagnostic::at(self.span(i.span()), format!("Invalid {name} entry"), format!("Write each entry as a quoted ADDRESS.ATTRIBUTE string, such as {example}."))),
                    }
                }
            }
            _ => self.diags.push(Diagnostic::at(
                a.expr.span(),
                format!("Invalid {name}"),
                "Write a list of quoted ADDRESS.ATTRIBUTE strings.",
            )),
        }
        out
    }

    /// `site`, `failover` and `parity`: the failover model, root module only.
    fn failover_block(&mut self, b: &Block) {
        let kind = b.ident.value().to_string();
        if !self.root {
            self.diags.push(Diagnostic::at(self.span(b.ident.span()), format!("A {kind} block must be in the root module"), "Sites, failover groups and parity rules describe a whole topology; move the block to the root directory."));
            return;
        }
        let span = block_span(self.file, b);
        match kind.as_str() {
            "site" => {
                let Some(l) = self.labels(b, 1, "site \"NAME\" { region = ... }") else {
                    return;
                };
                let name = l[0].to_string();
                let (body, blocks) = self.attrs(&b.body);
                self.reject_blocks(&blocks, &[], "a site block");
                if self.module.sites.contains_key(&name) {
                    self.duplicate("site", &name, span);
                    return;
                }
                self.module
                    .sites
                    .insert(name.clone(), crate::config::Site { name, body, span });
            }
            "failover" => {
                let Some(l) = self.labels(
                    b,
                    1,
                    "failover \"NAME\" { active = ..., members = { ... } }",
                ) else {
                    return;
                };
                let name = l[0].to_string();
                let (body, blocks) = self.attrs(&b.body);
                self.reject_attrs(
                    &body,
                    &["active", "members", "rpo", "rto", "approval"],
                    "a failover block",
                );
                for required in ["active", "members"] {
                    if !body.contains_key(required) {
                        self.diags.push(Diagnostic::at(span.clone(), format!("Missing required argument {required:?} in failover {name:?}"), format!("A failover group needs {required} = ...: active is the site that should be primary, members maps each site to its member resource.")));
                    }
                }
                self.reject_blocks(
                    &blocks,
                    &["replication", "health_check", "verify", "hook"],
                    "a failover block",
                );
                let mut fo = crate::config::Failover {
                    name: name.clone(),
                    body,
                    replication: Body::new(),
                    health_check: Body::new(),
                    verify: Body::new(),
                    hooks: Vec::new(),
                    span: span.clone(),
                };
                for blk in blocks {
                    let (inner, deeper) = self.attrs(&blk.body);
                    self.reject_blocks(&deeper, &[], "this block");
                    match blk.ident.value().as_str() {
                        "replication" => {
                            self.reject_attrs(&inner, &["mode", "max_lag"], "a replication block");
                            fo.replication = inner;
                        }
                        "health_check" => {
                            self.reject_attrs(
                                &inner,
                                &["interval", "timeout", "failures", "type", "url", "address"],
                                "a health_check block",
                            );
                            fo.health_check = inner;
                        }
                        "verify" => {
                            self.reject_attrs(&inner, &["checksum"], "a verify block");
                            fo.verify = inner;
                        }
                        "hook" => {
                            let Some(l) =
                                self.labels(blk, 1, "hook \"before_fence\" { command = [...] }")
                            else {
                                continue;
                            };
                            let when = l[0].to_string();
                            const WHEN: [&str; 3] =
                                ["before_fence", "after_promote", "after_switch"];
                            if !WHEN.contains(&when.as_str()) {
                                self.diags.push(Diagnostic::at(block_span(self.file, blk), format!("Unknown hook {when:?}"), format!("Hooks run at before_fence, after_promote or after_switch.{}", suggestion(&when, WHEN))));
                                continue;
                            }
                            self.reject_attrs(&inner, &["command"], "a hook block");
                            match inner.get("command") {
                                Some(c) => fo.hooks.push(crate::config::Hook {
                                    when,
                                    command: c.expr.clone(),
                                    span: block_span(self.file, blk),
                                }),
                                None => self.diags.push(Diagnostic::at(
                                    block_span(self.file, blk),
                                    "Hook without command",
                                    "Add command = [\"./script\", \"arg\"].",
                                )),
                            }
                        }
                        _ => {}
                    }
                }
                if self.module.failovers.contains_key(&name) {
                    self.duplicate("failover group", &name, span);
                    return;
                }
                self.module.failovers.insert(name, fo);
            }
            _ => {
                let Some(_) = self.labels(b, 0, "parity { must_match = [...] }") else {
                    return;
                };
                let (body, blocks) = self.attrs(&b.body);
                self.reject_blocks(&blocks, &[], "a parity block");
                self.reject_attrs(&body, &["must_match", "may_differ"], "a parity block");
                let must_match = self.path_list(
                    &body,
                    "must_match",
                    "\"local_file.routing.file_permission\"",
                );
                let may_differ =
                    self.path_list(&body, "may_differ", "\"failover.orders.approval\"");
                if self.module.parity.is_some() {
                    self.diags.push(Diagnostic::at(
                        span,
                        "Duplicate parity block",
                        "Merge the parity blocks into one.",
                    ));
                    return;
                }
                self.module.parity = Some(crate::config::Parity {
                    must_match,
                    may_differ,
                });
            }
        }
    }
}
