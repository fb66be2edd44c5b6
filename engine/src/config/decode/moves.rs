//! `moved` and `import` blocks: how existing objects reach new addresses, as in Terraform.

use super::{block_span, Decoder};
use crate::addr::Target;
use crate::config::{Attr, ImportBlock, Moved};
use crate::diag::Diagnostic;
use hcl_edit::structure::Block;

impl Decoder<'_> {
    /// Only the root module takes these blocks: their addresses are absolute.
    fn root_only(&mut self, b: &Block, kind: &str) -> bool {
        if !self.root {
            self.diags.push(Diagnostic::at(
                block_span(self.file, b),
                format!("{kind} blocks belong in the root module"),
                format!("standby reads {kind} blocks only in the root module, with full addresses such as module.db.local_file.conf; move this block there."),
            ));
        }
        self.root
    }

    /// An attribute that is an address written as a reference, such as `local_file.a["x"]`.
    fn address(&mut self, a: &Attr) -> Option<Target> {
        let text = a.expr.inner.to_string();
        match text.trim().parse::<Target>() {
            Ok(t) => Some(t),
            Err(e) => {
                self.diags.push(Diagnostic::at(
                    a.expr.span(),
                    format!("Invalid address in {}", a.name),
                    format!("{e}. Write a resource, an instance or a module call, such as local_file.conf, local_file.conf[0] or module.site."),
                ));
                None
            }
        }
    }

    pub(super) fn moved(&mut self, b: &Block) {
        let span = block_span(self.file, b);
        if !self.labels_none(b, "moved { from = ... to = ... }") || !self.root_only(b, "moved") {
            return;
        }
        let (body, blocks) = self.attrs(&b.body);
        self.reject_blocks(&blocks, &[], "a moved block");
        self.reject_attrs(&body, &["from", "to"], "a moved block");
        let (Some(from), Some(to)) = (body.get("from"), body.get("to")) else {
            self.diags.push(Diagnostic::at(
                span,
                "A moved block needs from and to",
                "Write moved { from = OLD_ADDRESS  to = NEW_ADDRESS }.",
            ));
            return;
        };
        let (Some(from_t), Some(to_t)) = (self.address(from), self.address(to)) else {
            return;
        };
        // Keys must match on both sides, except between a resource's instance and the
        // resource itself (a[0] to a when count is removed, a to a[0] when it is added).
        let same_resource = from_t.module == to_t.module && from_t.resource == to_t.resource;
        let kind = |t: &Target| (t.resource.is_some(), t.key.is_some() && !same_resource);
        if kind(&from_t) != kind(&to_t) {
            self.diags.push(Diagnostic::at(
                to.expr.span(),
                "from and to name different kinds of objects",
                "Both must be resources, both instances (with a key), or both module calls.",
            ));
            return;
        }
        if from_t == to_t {
            self.diags.push(Diagnostic::at(
                to.expr.span(),
                "A moved block that moves nothing",
                "from and to are the same address.",
            ));
            return;
        }
        self.module.moved.push(Moved {
            from: from_t,
            to: to_t,
            span,
        });
    }

    pub(super) fn import(&mut self, b: &Block) {
        let span = block_span(self.file, b);
        if !self.labels_none(b, "import { to = ADDRESS  id = \"ID\" }")
            || !self.root_only(b, "import")
        {
            return;
        }
        let (body, blocks) = self.attrs(&b.body);
        self.reject_blocks(&blocks, &[], "an import block");
        self.reject_attrs(&body, &["to", "id"], "an import block");
        let (Some(to), Some(id)) = (body.get("to"), body.get("id")) else {
            self.diags.push(Diagnostic::at(
                span,
                "An import block needs to and id",
                "Write import { to = local_file.conf  id = \"out/site.conf\" }.",
            ));
            return;
        };
        let Some(id) = self.literal_string(id) else {
            return;
        };
        let Some(target) = self.address(to) else {
            return;
        };
        let Some(inst) = target.as_instance() else {
            self.diags.push(Diagnostic::at(
                to.expr.span(),
                "import needs a resource instance",
                "to names a module; name the resource in it, such as module.site[\"east\"].local_file.conf.",
            ));
            return;
        };
        if self.module.imports.iter().any(|i| i.to == inst) {
            self.diags.push(Diagnostic::at(
                span,
                format!("Two import blocks for {inst}"),
                "An instance takes one object; remove one of the blocks.",
            ));
            return;
        }
        self.module.imports.push(ImportBlock { to: inst, id, span });
    }

    fn labels_none(&mut self, b: &Block, what: &str) -> bool {
        self.labels(b, 0, what).is_some()
    }
}
