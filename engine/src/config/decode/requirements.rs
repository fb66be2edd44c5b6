//! `terraform { required_providers { ... } }` (also written `standby { ... }`): which
//! external provider each local name means and which versions of it the module accepts.

use super::Decoder;
use crate::config::RequiredProvider;
use crate::diag::Diagnostic;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::Block;
use hcl_edit::Span as _;

impl Decoder<'_> {
    /// A `terraform` or `standby` settings block.
    pub(super) fn requirements(&mut self, b: &Block) {
        let kind = b.ident.value().as_str();
        if self
            .labels(b, 0, &format!("{kind} {{ required_providers {{ ... }} }}"))
            .is_none()
        {
            return;
        }
        let (body, blocks) = self.attrs(&b.body);
        // required_version names Terraform's version; standby is not Terraform and accepts it.
        self.reject_attrs(&body, &["required_version"], &format!("a {kind} block"));
        self.reject_blocks(&blocks, &["required_providers"], &format!("a {kind} block"));
        for rp in blocks
            .iter()
            .filter(|x| x.ident.value().as_str() == "required_providers")
        {
            for a in rp.body.attributes() {
                let name = a.key.value().to_string();
                let span = self.span(a.span());
                if let Some(r) = self.requirement(&name, &a.value) {
                    if let std::collections::btree_map::Entry::Vacant(e) =
                        self.module.required_providers.entry(name.clone())
                    {
                        e.insert(RequiredProvider { span, ..r });
                    } else {
                        self.duplicate("provider requirement", &name, span);
                    }
                }
            }
        }
    }

    /// `NAME = { source = "ns/type", version = "~> 1.0" }`, or Terraform 0.12's
    /// `NAME = "~> 1.0"` (source `hashicorp/NAME`).
    fn requirement(&mut self, name: &str, e: &Expression) -> Option<RequiredProvider> {
        let bad = |d: &mut Self, span| {
            d.diags.push(Diagnostic::at(
                span,
                format!("Invalid requirement for provider {name:?}"),
                format!("Write it as {name} = {{ source = \"hashicorp/{name}\", version = \"~> 1.0\" }}, with literal strings."),
            ));
            None
        };
        let span = self.span(e.span());
        let mut r = RequiredProvider {
            source: format!("hashicorp/{name}"),
            version: None,
            span: span.clone(),
        };
        match e {
            Expression::String(s) => r.version = Some(s.value().to_string()),
            Expression::Object(o) => {
                for (k, v) in o.iter() {
                    let key = match k {
                        ObjectKey::Ident(i) => i.value().to_string(),
                        ObjectKey::Expression(Expression::String(s)) => s.value().to_string(),
                        ObjectKey::Expression(_) => return bad(self, span),
                    };
                    // Terraform's provider aliases a module expects from its caller: a list of
                    // references, which standby's root-only aliases do not need.
                    if key == "configuration_aliases" {
                        continue;
                    }
                    let Expression::String(s) = v.expr() else {
                        return bad(self, self.span(v.expr().span()));
                    };
                    match key.as_str() {
                        "source" => r.source = s.value().to_string(),
                        "version" => r.version = Some(s.value().to_string()),
                        _ => return bad(self, self.span(v.expr().span())),
                    }
                }
            }
            _ => return bad(self, span),
        }
        Some(r)
    }
}
