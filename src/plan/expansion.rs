//! `count` and `for_each`: how many instances a block has, or why that cannot be known.

use super::model::NodeKey;
use super::values::Expansion;
use super::walk::Walker;
use crate::addr::ModuleInstance;
use crate::config::{Expr, Module};
use crate::diag::Diagnostic;
use crate::eval::Iteration;
use standby_provider_sdk::Value;
use std::collections::BTreeMap;

impl Walker<'_> {
    /// Evaluates `count` or `for_each` into an expansion, or reports why it cannot be used.
    pub(crate) fn expansion(
        &mut self,
        mi: &ModuleInstance,
        cfg: &Module,
        count: Option<&Expr>,
        for_each: Option<&Expr>,
        deps: &mut Vec<NodeKey>,
    ) -> Option<Expansion> {
        if let Some(e) = count {
            let (r, d) = self.eval(mi, cfg, e, Iteration::default());
            deps.extend(d);
            let v = match r {
                Ok(v) => v,
                Err(diag) => {
                    self.diags.push(diag);
                    return None;
                }
            };
            if v.is_sensitive() {
                // As Terraform: the number of instances would show it.
                self.diags.push(Diagnostic::at(
                    e.span(),
                    "Invalid count argument",
                    "count may not use a sensitive value: the number of instances would show it.",
                ));
                return None;
            }
            return match v.unmarked() {
                Value::Number(n)
                    if *n >= 0.0 && n.fract() == 0.0 && *n > max_instances() as f64 =>
                {
                    self.diags
                        .push(too_many(e.span(), "count", &format!("{n}")));
                    None
                }
                Value::Number(n) if *n >= 0.0 && n.fract() == 0.0 => {
                    Some(Expansion::Count(*n as u64))
                }
                Value::Unknown => {
                    self.diags.push(Diagnostic::at(e.span(), "Invalid count argument", "The count value depends on values that are known only after apply, so standby cannot tell how many instances to plan. Use values known at plan time, or apply the dependency first with --target."));
                    None
                }
                other => {
                    self.diags.push(Diagnostic::at(
                        e.span(),
                        "Invalid count argument",
                        format!(
                            "count must be a whole number of zero or more; found {}.",
                            if matches!(other, Value::Number(_)) {
                                other.to_string()
                            } else {
                                other.type_name().to_string()
                            }
                        ),
                    ));
                    None
                }
            };
        }
        let Some(e) = for_each else {
            return Some(Expansion::Single);
        };
        let (r, d) = self.eval(mi, cfg, e, Iteration::default());
        deps.extend(d);
        let v = match r {
            Ok(v) => v,
            Err(diag) => {
                self.diags.push(diag);
                return None;
            }
        };
        let bad = |detail: String| Diagnostic::at(e.span(), "Invalid for_each argument", detail);
        if v.is_sensitive() {
            self.diags.push(bad("for_each may not use a sensitive value: its keys would be shown as instance addresses.".into()));
            return None;
        }
        let size = match &v {
            Value::Map(m) => m.len(),
            Value::List(l) => l.len(),
            _ => 0,
        };
        if size as u64 > max_instances() {
            self.diags
                .push(too_many(e.span(), "for_each", &format!("{size} keys")));
            return None;
        }
        match v {
            Value::Map(m) => Some(Expansion::ForEach(m)),
            Value::List(items) => {
                let mut m = BTreeMap::new();
                for i in items {
                    match i.unmarked() {
                        Value::String(s) => {
                            m.insert(s.clone(), Value::String(s.clone()));
                        }
                        Value::Unknown => {
                            self.diags.push(bad("The set of keys depends on values known only after apply. Use keys known at plan time.".into()));
                            return None;
                        }
                        other => {
                            self.diags.push(bad(format!("for_each needs a map, or a set of strings; this list has an element of type {}. Use toset() on a list of strings.", other.type_name())));
                            return None;
                        }
                    }
                }
                Some(Expansion::ForEach(m))
            }
            Value::Unknown => {
                self.diags.push(bad("The for_each value depends on values known only after apply, so standby cannot tell which instances to plan. Use keys known at plan time.".into()));
                None
            }
            Value::Null => {
                self.diags.push(bad("for_each must not be null.".into()));
                None
            }
            other => {
                self.diags.push(bad(format!(
                    "for_each needs a map, or a set of strings; found {}.",
                    other.type_name()
                )));
                None
            }
        }
    }
}

/// The most instances one resource or module block may expand to: 1,000,000, or
/// `STANDBY_MAX_INSTANCES`. Beyond it a plan would only exhaust memory.
pub(crate) fn max_instances() -> u64 {
    static MAX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::env::var("STANDBY_MAX_INSTANCES")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(1_000_000)
    })
}

fn too_many(span: crate::diag::Span, arg: &str, found: &str) -> Diagnostic {
    Diagnostic::at(
        span,
        format!("Invalid {arg} argument"),
        format!(
            "{arg} asks for {found}, more than the limit of {} instances per block. Set STANDBY_MAX_INSTANCES to raise the limit if you really mean it.",
            max_instances()
        ),
    )
}
