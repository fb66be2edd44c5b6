//! `backend` and `environment` blocks: where state lives, and the rules of each environment.

use super::{block_span, suggestion, traversal_names, Decoder};
use crate::config::{Attr, ProviderBlock};
use crate::diag::Diagnostic;
use hcl_edit::structure::Block;

impl Decoder<'_> {
    /// `provider "NAME" { ... }`; with `alias = "X"` it is the configuration `NAME.X`, which
    /// resources choose with `provider = NAME.X`.
    pub(super) fn provider(&mut self, b: &Block) {
        let Some(l) = self.labels(b, 1, "provider \"NAME\" { ... }") else {
            return;
        };
        let (mut body, blocks) = self.attrs(&b.body);
        self.reject_blocks(&blocks, &[], "a provider block");
        let span = block_span(self.file, b);
        let alias = body.remove("alias").and_then(|a| self.literal_string(&a));
        let name = match alias {
            Some(a) => format!("{}.{a}", l[0]),
            None => l[0].to_string(),
        };
        if self.module.providers.contains_key(&name) {
            self.duplicate("provider configuration", &name, span);
            return;
        }
        self.module
            .providers
            .insert(name.clone(), ProviderBlock { name, body, span });
    }

    /// The `provider` argument of a resource: `NAME` or `NAME.ALIAS`, as a reference.
    pub(super) fn provider_ref(&mut self, a: &Attr) -> Option<String> {
        use hcl_edit::expr::{Expression, TraversalOperator};
        // `null` is a keyword of expressions, but a provider's name here (hashicorp/null).
        let keyword = match &a.expr.inner {
            Expression::Null(_) => Some(vec!["null"]),
            Expression::Traversal(t) if matches!(t.expr, Expression::Null(_)) => {
                match t
                    .operators
                    .iter()
                    .map(|o| o.value())
                    .collect::<Vec<_>>()
                    .as_slice()
                {
                    [TraversalOperator::GetAttr(i)] => Some(vec!["null", i.value().as_str()]),
                    _ => None,
                }
            }
            _ => None,
        };
        match keyword
            .or_else(|| traversal_names(&a.expr.inner))
            .as_deref()
        {
            Some([name]) => Some((*name).to_string()),
            Some([name, alias]) => Some(format!("{name}.{alias}")),
            _ => {
                self.diags.push(Diagnostic::at(
                    a.expr.span(),
                    "Invalid provider reference",
                    "Write it as provider = NAME or provider = NAME.ALIAS, without quotes.",
                ));
                None
            }
        }
    }

    pub(super) fn backend(&mut self, b: &Block) {
        let Some(l) = self.labels(b, 1, "backend \"pg\" { conn_str = \"...\" }") else {
            return;
        };
        let span = block_span(self.file, b);
        if !self.root {
            self.diags.push(Diagnostic::at(
                span,
                "A backend block must be in the root module",
                "Move it to the topology directory.",
            ));
            return;
        }
        let kind = l[0].to_string();
        if kind != "local" && kind != "pg" {
            self.diags.push(Diagnostic::at(
                span,
                format!("Unknown backend {kind:?}"),
                format!(
                    "Backends are local and pg.{}",
                    suggestion(&kind, ["local", "pg"])
                ),
            ));
            return;
        }
        let (body, blocks) = self.attrs(&b.body);
        self.reject_blocks(&blocks, &[], "a backend block");
        self.reject_attrs(
            &body,
            if kind == "pg" {
                &["conn_str", "schema"]
            } else {
                &[]
            },
            "this backend block",
        );
        let conn_str = body.get("conn_str").and_then(|a| self.literal_string(a));
        let schema = body.get("schema").and_then(|a| self.literal_string(a));
        if kind == "pg" && conn_str.is_none() && !body.contains_key("conn_str") {
            self.diags.push(Diagnostic::at(span.clone(), "The pg backend needs conn_str", "Add conn_str = \"host=... dbname=...\", or pass --backend pg:CONN_STR (or STANDBY_BACKEND) to keep secrets out of the file."));
        }
        if self.module.backend.is_some() {
            self.diags.push(Diagnostic::at(
                span,
                "Duplicate backend block",
                "A topology has one backend.",
            ));
            return;
        }
        self.module.backend = Some(crate::config::BackendBlock {
            kind,
            conn_str,
            schema,
            span,
        });
    }
}

impl Decoder<'_> {
    pub(super) fn environment(&mut self, b: &Block) {
        let Some(l) = self.labels(b, 1, "environment \"prod\" { protected = true }") else {
            return;
        };
        let name = l[0].to_string();
        let span = block_span(self.file, b);
        let (body, blocks) = self.attrs(&b.body);
        self.reject_blocks(&blocks, &[], "an environment block");
        self.reject_attrs(&body, &["protected", "branch"], "an environment block");
        let protected = body.get("protected").is_some_and(|a| self.literal_bool(a));
        let branch = body
            .get("branch")
            .and_then(|a| self.literal_string(a))
            .unwrap_or_else(|| "main".into());
        if self.module.environments.contains_key(&name) {
            self.duplicate("environment", &name, span);
            return;
        }
        self.module.environments.insert(
            name,
            crate::config::EnvironmentBlock {
                protected,
                branch,
                span,
            },
        );
    }
}
