//! `count` and `for_each`: how many instances a block has, or why that cannot be known.

use super::model::NodeKey;
use super::values::Expansion;
use super::walk::Walker;
use crate::addr::ModuleInstance;
use crate::config::{Expr, Module};
use crate::diag::{Diagnostic, Span};
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
        block: &Span,
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
            // A numeric string converts, as in Terraform (`count = "2"`).
            let v = match v.unmarked() {
                s @ Value::String(_) => crate::eval::to_number(s).map_or(v.clone(), Value::Number),
                _ => v,
            };
            return match v.unmarked() {
                Value::Number(n)
                    if n.is_integer()
                        && *n > standby_provider_sdk::Number::from(max_instances() as i64) =>
                {
                    self.diags
                        .push(too_many(e.span(), "count", &format!("{n}")));
                    None
                }
                Value::Number(n) if n.to_i64().is_some_and(|i| i >= 0) => {
                    let n = n.to_i64().unwrap_or_default() as u64;
                    self.within_budget(&e.span(), n)
                        .then_some(Expansion::Count(n))
                }
                Value::Unknown if self.validating_without().is_some() => Some(Expansion::Count(0)),
                Value::Unknown => {
                    let detail = self.unknown_detail("count", "how many instances to plan");
                    self.diags
                        .push(Diagnostic::at(e.span(), "Invalid count argument", detail));
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
            return self.within_budget(block, 1).then_some(Expansion::Single);
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
        if !self.within_budget(&e.span(), size as u64) {
            return None;
        }
        match v {
            Value::Map(m) => Some(Expansion::ForEach(m)),
            Value::List(items) => {
                // standby's sets are sorted lists without duplicates: a list literal, or a
                // list that is not sorted and distinct, is a tuple, which Terraform refuses.
                let literal = matches!(
                    &e.inner,
                    hcl_edit::expr::Expression::Array(_) | hcl_edit::expr::Expression::ForExpr(_)
                );
                let is_set = items.iter().any(Value::is_unknown)
                    || items
                        .windows(2)
                        .all(|w| Value::set_order(&w[0], &w[1]) == std::cmp::Ordering::Less);
                if literal || !is_set {
                    self.diags.push(bad("The for_each argument must be a map, or a set of strings, and this is a tuple (a list). Use toset() to make a set of its strings.".into()));
                    return None;
                }
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
            // Validating without an environment, as Terraform's validate: the instances
            // are not known, so none is planned; the static checks still ran.
            Value::Unknown if self.validating_without().is_some() => {
                Some(Expansion::ForEach(BTreeMap::new()))
            }
            Value::Unknown => {
                let detail = self.unknown_detail("for_each", "which instances to plan");
                self.diags.push(bad(detail));
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

impl Walker<'_> {
    /// Why a `count` or `for_each` is unknown, and what to do. (While validating without an
    /// environment an unknown one plans no instance instead: see `expansion`.)
    fn unknown_detail(&self, arg: &str, what: &str) -> String {
        format!("The {arg} value depends on values that are known only after apply, so standby cannot tell {what}. Use values known at plan time, or apply the dependency first with --target.")
    }

    /// While validating, the root variables that have no value (they are unknown), listed.
    pub(super) fn validating_without(&self) -> Option<String> {
        if self.opts.phase != crate::eval::Phase::Validate {
            return None;
        }
        let missing: Vec<String> = self
            .config
            .root
            .variables
            .keys()
            .filter(|n| {
                self.values
                    .vars
                    .get(&ModuleInstance::root())
                    .and_then(|m| m.get(*n))
                    .is_some_and(Value::is_unknown)
            })
            .map(|n| format!("var.{n}"))
            .collect();
        (!missing.is_empty()).then(|| missing.join(", "))
    }

    /// Counts `n` more instances against the limit for the whole plan, which nested modules
    /// would otherwise multiply past any limit per block (1,000 module instances of 1,000
    /// resources each).
    fn within_budget(&mut self, at: &Span, n: u64) -> bool {
        let before = self.planned_instances;
        self.planned_instances = before.saturating_add(n);
        if self.planned_instances <= max_instances() {
            return true;
        }
        if before > max_instances() {
            // Said once: every later block of every module instance would repeat it.
            return false;
        }
        self.diags.push(Diagnostic::at(
            at.clone(),
            "Too many instances",
            format!(
                "With this block's {n}, the topology expands to more than the limit of {} instances in all (modules multiply the instances of what they contain). Set STANDBY_MAX_INSTANCES to raise the limit if you really mean it.",
                max_instances()
            ),
        ));
        false
    }
}

/// The most instances one resource or module block, and the whole plan, may expand to:
/// 1,000,000, or `STANDBY_MAX_INSTANCES`. Beyond it a plan would only exhaust memory.
pub(crate) fn max_instances() -> u64 {
    static MAX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| max_instances_env().ok().flatten().unwrap_or(1_000_000))
}

/// `STANDBY_MAX_INSTANCES`, if set; an error if it is not a whole number of at least 1, so
/// that a typo does not silently leave the default in force.
pub fn max_instances_env() -> Result<Option<u64>, String> {
    let Ok(v) = std::env::var("STANDBY_MAX_INSTANCES") else {
        return Ok(None);
    };
    match v.trim().replace('_', "").parse::<u64>() {
        Ok(n) if n >= 1 => Ok(Some(n)),
        _ => Err(format!(
            "STANDBY_MAX_INSTANCES is {v:?}; it must be a whole number of instances, at least 1, such as 2000000"
        )),
    }
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
