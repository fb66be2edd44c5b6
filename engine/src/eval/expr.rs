//! The expression evaluator.

use super::functions;
use super::{Phase, Scope};
use crate::addr::{InstanceKey, Mode, ResourceAddr};
use crate::diag::{suggestion, Diagnostic, FileId, Span};
use hcl_edit::expr::{BinaryOperator, Expression, ObjectKey, TraversalOperator, UnaryOperator};
use hcl_edit::Span as _;
use standby_provider_sdk::{Number, NumberError, Value};
use std::collections::BTreeMap;

/// An evaluation error at a span.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{summary}: {detail}")]
pub struct EvalError {
    /// Where.
    pub span: Span,
    /// One line.
    pub summary: String,
    /// How to fix it.
    pub detail: String,
}

impl From<EvalError> for Diagnostic {
    fn from(e: EvalError) -> Self {
        Diagnostic::at(e.span, e.summary, e.detail)
    }
}

/// The `count.index` or `each.key`/`each.value` of the instance being evaluated.
#[derive(Clone, Debug, Default)]
pub struct Iteration {
    /// `count.index`.
    pub count_index: Option<u64>,
    /// `each.key` and `each.value`.
    pub each: Option<(String, Value)>,
}

impl Iteration {
    /// The iteration for an instance key.
    pub fn for_key(key: Option<&InstanceKey>, each_value: Option<Value>) -> Self {
        match key {
            Some(InstanceKey::Int(i)) => Iteration {
                count_index: Some(*i),
                each: None,
            },
            Some(InstanceKey::Str(s)) => Iteration {
                count_index: None,
                each: Some((s.clone(), each_value.unwrap_or(Value::Null))),
            },
            None => Iteration::default(),
        }
    }
}

/// Evaluates expressions of one file against a scope.
pub struct Evaluator<'a> {
    scope: &'a dyn Scope,
    file: FileId,
    iteration: Iteration,
    locals: Vec<(String, Value)>,
}

type R = Result<Value, EvalError>;

/// The most splat operators one reference may chain.
const MAX_SPLATS: usize = 64;

fn is_resource_type(name: &str) -> bool {
    name.contains('_')
}

impl<'a> Evaluator<'a> {
    /// An evaluator for expressions of `file`.
    pub fn new(scope: &'a dyn Scope, file: FileId, iteration: Iteration) -> Self {
        Evaluator {
            scope,
            file,
            iteration,
            locals: Vec::new(),
        }
    }

    pub(crate) fn err(
        &self,
        at: Option<std::ops::Range<usize>>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> EvalError {
        EvalError {
            span: Span::new(self.file, at),
            summary: summary.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        self.scope.phase()
    }

    pub(crate) fn base_dir(&self) -> &std::path::Path {
        self.scope.base_dir()
    }

    /// Binds a name visible to bare references, as for-expression variables are.
    pub fn push_local(&mut self, name: &str, v: Value) {
        self.locals.push((name.to_string(), v));
    }

    pub(crate) fn pop_local(&mut self) {
        self.locals.pop();
    }

    /// A number literal, parsed from its source text at 512 bits as Terraform parses it (the
    /// parser's own value is a 64-bit float).
    fn number_literal(
        &self,
        n: &hcl_edit::Formatted<hcl_edit::Number>,
        span: Option<std::ops::Range<usize>>,
    ) -> R {
        let Some(repr) = n.as_repr() else {
            return Ok(n.value().as_f64().map_or(Value::Null, Value::from));
        };
        let text: String = repr.chars().filter(|c| !c.is_whitespace()).collect();
        Number::parse(&text)
            .map(Value::Number)
            .map_err(|e| self.err(span, "Invalid number literal", format!("{text}: {e}.")))
    }

    /// The chosen arm of a conditional, converted to the type both arms share, as Terraform
    /// does (`true ? 1 : "x"` is `"1"`). The other arm is evaluated for its type only: its
    /// errors do not count, as in Terraform.
    fn conditional_arms(
        &mut self,
        c: &hcl_edit::expr::Conditional,
        pick: bool,
        span: Option<std::ops::Range<usize>>,
    ) -> R {
        let (chosen, other) = if pick {
            (&c.true_expr, &c.false_expr)
        } else {
            (&c.false_expr, &c.true_expr)
        };
        let value = self.eval(chosen)?;
        let Ok(other) = self.eval(other) else {
            return Ok(value);
        };
        let types = [super::unify::type_of(&value), super::unify::type_of(&other)];
        let conformed = super::unify::unify(&types).and_then(|t| super::unify::conform(&value, &t));
        conformed.ok_or_else(|| {
            self.err(
                span,
                "Inconsistent conditional result types",
                format!(
                    "The true and false result expressions must have consistent types; found {} and {}.",
                    if pick { value.type_name() } else { other.type_name() },
                    if pick { other.type_name() } else { value.type_name() },
                ),
            )
        })
    }

    /// Evaluates an expression whose value is kept (an attribute, a variable): an
    /// infinite number, which an expression may use (`1 / 0 == 1 / 0`), is an error here,
    /// since the state cannot record it.
    pub fn eval_kept(&mut self, e: &Expression) -> R {
        let v = self.eval(e)?;
        if v.contains_infinity() {
            return Err(self.err(
                e.span(),
                "Invalid number",
                "This value holds an infinite number (a division by zero?); standby cannot record one.",
            ));
        }
        Ok(v)
    }

    /// Evaluates an expression.
    pub fn eval(&mut self, e: &Expression) -> R {
        match e {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            Expression::Number(n) => self.number_literal(n, e.span()),
            Expression::String(s) => Ok(Value::String(nfc(s.value()))),
            Expression::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                let mut growth = super::size::Growth::default();
                for item in a.iter() {
                    let v = self.eval(item)?;
                    growth
                        .add_value(&v)
                        .map_err(|m| self.err(item.span(), "Value too large", m))?;
                    out.push(v);
                }
                Ok(Value::List(out))
            }
            Expression::Object(o) => {
                let mut out = BTreeMap::new();
                let mut unknown_key = false;
                // A key made from a sensitive value makes the whole object sensitive: keys are
                // shown wherever the object is (plan, JSON, instance addresses).
                let mut sensitive_key = false;
                let mut growth = super::size::Growth::default();
                for (k, v) in o.iter() {
                    let key = match k {
                        ObjectKey::Ident(i) => i.value().to_string(),
                        ObjectKey::Expression(ke) => {
                            // A bare name in parentheses or a traversal is evaluated as an expression.
                            let kv = self.eval(ke)?;
                            sensitive_key |= kv.is_sensitive();
                            match kv.unmarked() {
                                Value::String(s) => s.clone(),
                                Value::Number(n) => n.to_string(),
                                Value::Bool(b) => b.to_string(),
                                Value::Unknown => {
                                    unknown_key = true;
                                    continue;
                                }
                                other => {
                                    return Err(self.err(
                                        ke.span(),
                                        "Invalid object key",
                                        format!(
                                            "An object key must be a string; found {}.",
                                            other.type_name()
                                        ),
                                    ))
                                }
                            }
                        }
                    };
                    let val = self.eval(v.expr())?;
                    growth
                        .add(key.len() as u64 + super::size::size_of(&val))
                        .map_err(|m| self.err(v.expr().span(), "Value too large", m))?;
                    out.insert(key, val);
                }
                let v = if unknown_key {
                    Value::Unknown
                } else {
                    Value::Map(out)
                };
                Ok(if sensitive_key { v.sensitive() } else { v })
            }
            Expression::StringTemplate(t) => self.template(t, super::template::Kind::default()),
            Expression::HeredocTemplate(h) => {
                // The parser has removed a `<<-` heredoc's indentation from its top-level lines.
                self.template(&h.template, super::template::Kind::heredoc(h.indent()))
            }
            Expression::Parenthesis(p) => self.eval(p.inner()),
            Expression::Variable(v) => self.variable(v.value().as_str(), e.span()),
            Expression::Conditional(c) => {
                let cond = self.eval(&c.cond_expr)?;
                let sensitive = cond.is_sensitive();
                let out = match cond.unmarked() {
                    Value::Unknown => {
                        // Evaluate both sides, so errors and dependencies of either show at plan.
                        self.eval(&c.true_expr)?;
                        self.eval(&c.false_expr)?;
                        Value::Unknown
                    }
                    other => match to_bool(other) {
                        Some(pick) => self.conditional_arms(c, pick, e.span())?,
                        None => {
                            return Err(self.err(
                                c.cond_expr.span(),
                                "Invalid condition",
                                format!(
                                    "The condition must be a bool; found {}.",
                                    other.type_name()
                                ),
                            ))
                        }
                    },
                };
                Ok(if sensitive { out.sensitive() } else { out })
            }
            Expression::FuncCall(f) => functions::call_expr(self, f, e.span()),
            Expression::Traversal(t) => self.traversal(&t.expr, &t.operators),
            Expression::UnaryOp(u) => {
                let v = self.eval(&u.expr)?;
                let (inner, sens) = split_mark(v);
                let out = match (u.operator.value(), &inner) {
                    (_, Value::Unknown) => Value::Unknown,
                    (UnaryOperator::Neg, Value::Number(n)) => Value::Number(n.neg()),
                    (UnaryOperator::Neg, v @ Value::String(_)) if to_number(v).is_some() => {
                        to_number(v).map_or(Value::Null, |n| Value::Number(n.neg()))
                    }
                    (UnaryOperator::Not, b) if to_bool(b).is_some() => {
                        Value::Bool(!to_bool(b).unwrap_or_default())
                    }
                    (op, other) => {
                        return Err(self.err(
                            e.span(),
                            "Invalid operand",
                            format!(
                                "The {} operator does not apply to {}.",
                                if *op == UnaryOperator::Neg { "-" } else { "!" },
                                other.type_name()
                            ),
                        ))
                    }
                };
                Ok(remark(out, sens))
            }
            Expression::BinaryOp(b) => self.binary(b, e.span()),
            Expression::ForExpr(f) => self.for_expr(f, e.span()),
        }
    }

    fn variable(&mut self, name: &str, span: Option<std::ops::Range<usize>>) -> R {
        if let Some((_, v)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return Ok(v.clone());
        }
        Err(self.err(
            span,
            format!("Invalid reference {name:?}"),
            format!("{name:?} alone is not a value. References look like var.NAME, local.NAME, TYPE.NAME or module.NAME; a bare word is only valid as a for-expression variable."),
        ))
    }

    /// Resolves the root of a traversal, consuming the operators that are part of the address.
    fn traversal(
        &mut self,
        root: &Expression,
        ops: &[hcl_edit::Decorated<TraversalOperator>],
    ) -> R {
        let span_of = |n: usize| -> Option<std::ops::Range<usize>> {
            let start = root.span()?.start;
            let end = ops
                .get(n.saturating_sub(1))
                .and_then(|o| o.span())
                .map_or(root.span()?.end, |r| r.end);
            Some(start..end)
        };
        let attr = |i: usize| -> Option<&str> {
            match ops.get(i).map(|o| o.value()) {
                Some(TraversalOperator::GetAttr(a)) => Some(a.value().as_str()),
                _ => None,
            }
        };
        let name = match root {
            Expression::Variable(v)
                if !self.locals.iter().any(|(n, _)| n == v.value().as_str()) =>
            {
                v.value().as_str().to_string()
            }
            _ => {
                let base = self.eval(root)?;
                return self.apply_ops(base, ops, root.span());
            }
        };
        let (base, used) = match name.as_str() {
            "var" | "local" | "path" | "env" | "count" | "each" | "terraform" | "site" | "failover" => {
                let Some(a) = attr(0) else {
                    return Err(self.err(span_of(1), format!("Invalid reference to {name}"), format!("Write {name}.NAME: {name} must be followed by an attribute name.")));
                };
                let r = match name.as_str() {
                    "var" => self.scope.var(a),
                    "local" => self.scope.local(a),
                    "count" => match (a, self.iteration.count_index) {
                        ("index", Some(i)) => Ok(Value::from(i as i64)),
                        ("index", None) => Err("count.index is only available in a block that sets count.".to_string()),
                        _ => Err(format!("count has only the attribute index.{}", suggestion(a, ["index"]))),
                    },
                    "each" => match (a, &self.iteration.each) {
                        ("key", Some((k, _))) => Ok(Value::String(k.clone())),
                        ("value", Some((_, v))) => Ok(v.clone()),
                        (_, None) => Err("each.key and each.value are only available in a block that sets for_each.".to_string()),
                        _ => Err(format!("each has only the attributes key and value.{}", suggestion(a, ["key", "value"]))),
                    },
                    other => self.scope.other(other, a),
                };
                let v = r.map_err(|d| self.err(span_of(1), format!("Reference to undeclared {name}.{a}"), d))?;
                (v, 1)
            }
            "module" => {
                let Some(m) = attr(0) else {
                    return Err(self.err(span_of(1), "Invalid module reference", "Write module.NAME.OUTPUT."));
                };
                let (key, used) = self.static_key(ops.get(1).map(|o| o.value()))?;
                let next = match ops.get(1 + used).map(|o| o.value()) {
                    Some(TraversalOperator::GetAttr(a)) => Some(a.value().as_str()),
                    _ => None,
                };
                let v = self.scope.module(m, key.as_ref(), next).map_err(|d| self.err(span_of(1), format!("Reference to undeclared module {m:?}"), d))?;
                (v, 1 + used)
            }
            "data" => {
                let (Some(t), Some(n)) = (attr(0), attr(1)) else {
                    return Err(self.err(span_of(2), "Invalid data source reference", "Write data.TYPE.NAME.ATTRIBUTE."));
                };
                let addr = ResourceAddr { mode: Mode::Data, type_name: t.into(), name: n.into() };
                return self.resource_ref(&addr, ops, 2, &span_of);
            }
            t if is_resource_type(t) => {
                let Some(n) = attr(0) else {
                    return Err(self.err(span_of(1), format!("Invalid reference to resource type {t:?}"), "Write TYPE.NAME.ATTRIBUTE."));
                };
                let addr = ResourceAddr { mode: Mode::Managed, type_name: t.into(), name: n.into() };
                return self.resource_ref(&addr, ops, 1, &span_of);
            }
            other => {
                return Err(self.err(
                    root.span(),
                    format!("Reference to unknown name {other:?}"),
                    format!("References start with var, local, module, data, path, env, count, each or a resource type.{}", suggestion(other, ["var", "local", "module", "data", "path", "env", "count", "each"])),
                ))
            }
        };
        self.apply_ops(base, &ops[used..], span_of(used))
    }

    /// An index operator whose key is known now, for instance-precise references.
    fn static_key(
        &mut self,
        op: Option<&TraversalOperator>,
    ) -> Result<(Option<InstanceKey>, usize), EvalError> {
        let e = match op {
            Some(TraversalOperator::Index(e)) => e,
            Some(TraversalOperator::LegacyIndex(i)) => {
                return Ok((Some(InstanceKey::Int(*i.value())), 1))
            }
            _ => return Ok((None, 0)),
        };
        Ok(match self.eval(e)?.unmarked() {
            Value::Number(n) if n.to_i64().is_some_and(|i| i >= 0) => (
                Some(InstanceKey::Int(n.to_i64().unwrap_or_default() as u64)),
                1,
            ),
            Value::String(s) => (Some(InstanceKey::Str(s.clone())), 1),
            _ => (None, 0),
        })
    }

    fn resource_ref(
        &mut self,
        addr: &ResourceAddr,
        ops: &[hcl_edit::Decorated<TraversalOperator>],
        name_ops: usize,
        span_of: &dyn Fn(usize) -> Option<std::ops::Range<usize>>,
    ) -> R {
        let (key, used) = self.static_key(ops.get(name_ops).map(|o| o.value()))?;
        let (v, for_each) = self.scope.resource(addr, key.as_ref()).map_err(|d| {
            self.err(
                span_of(name_ops),
                format!("Reference to undeclared resource {addr}"),
                d,
            )
        })?;
        let rest = &ops[name_ops + used..];
        // A splat over a for_each resource iterates its instances, as it does for count.
        let v = match (for_each && key.is_none(), rest.first().map(|o| o.value())) {
            (true, Some(TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_))) => {
                match v {
                    Value::Map(m) => Value::List(m.into_values().collect()),
                    other => other,
                }
            }
            _ => v,
        };
        self.apply_ops(v, rest, span_of(name_ops + used))
    }

    fn apply_ops(
        &mut self,
        mut v: Value,
        ops: &[hcl_edit::Decorated<TraversalOperator>],
        mut span: Option<std::ops::Range<usize>>,
    ) -> R {
        // Each splat recurses into the rest of the chain; thousands of them would overflow
        // the stack, and no real topology needs more than a handful.
        let splats = ops
            .iter()
            .filter(|o| {
                matches!(
                    o.value(),
                    TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_)
                )
            })
            .count();
        if splats > MAX_SPLATS {
            return Err(self.err(
                span,
                "Too many splats",
                format!("This reference chains {splats} splat operators ([*] or .*); at most {MAX_SPLATS} are allowed."),
            ));
        }
        let mut i = 0;
        while i < ops.len() {
            let op = &ops[i];
            let op_span = match (&span, op.span()) {
                (Some(s), Some(o)) => Some(s.start..o.end),
                (s, o) => o.or(s.clone()),
            };
            match op.value() {
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    let full = matches!(op.value(), TraversalOperator::FullSplat(_));
                    let rest_end = if full {
                        ops.len()
                    } else {
                        i + 1
                            + ops[i + 1..]
                                .iter()
                                .take_while(|o| matches!(o.value(), TraversalOperator::GetAttr(_)))
                                .count()
                    };
                    let (inner, sens) = split_mark(v);
                    let items = match inner {
                        Value::Unknown => return Ok(remark(Value::Unknown, sens)),
                        Value::Null => Vec::new(),
                        Value::List(items) => items,
                        other => vec![other],
                    };
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        out.push(self.apply_ops(item, &ops[i + 1..rest_end], op_span.clone())?);
                    }
                    v = remark(Value::List(out), sens);
                    i = rest_end;
                    span = op_span;
                    continue;
                }
                TraversalOperator::GetAttr(a) => {
                    v = self.get_attr(v, a.value().as_str(), op_span.clone())?
                }
                TraversalOperator::Index(e) => {
                    let k = self.eval(e)?;
                    let secret = k.is_sensitive();
                    v = match self.index(v, k, op_span.clone()) {
                        Ok(v) => v,
                        // The message names the key, which is a secret.
                        Err(mut err) if secret => {
                            err.detail = "The index is a sensitive value, and it is not in this collection (the value is withheld).".into();
                            return Err(err);
                        }
                        Err(err) => return Err(err),
                    };
                }
                TraversalOperator::LegacyIndex(n) => {
                    v = self.index(v, Value::from(*n.value() as i64), op_span.clone())?
                }
            }
            span = op_span;
            i += 1;
        }
        Ok(v)
    }

    fn get_attr(&self, v: Value, name: &str, span: Option<std::ops::Range<usize>>) -> R {
        let (inner, sens) = split_mark(v);
        let out = match inner {
            Value::Unknown => Value::Unknown,
            Value::Map(mut m) => match m.remove(name) {
                Some(x) => x,
                None => {
                    return Err(self.err(span, format!("Unsupported attribute {name:?}"), format!("This object has no attribute {name:?}.{} It has: {}.", suggestion(name, m.keys().map(String::as_str)), m.keys().cloned().collect::<Vec<_>>().join(", "))))
                }
            },
            Value::Null => return Err(self.err(span, "Attempt to get attribute from null value", format!("The value is null, so it has no attribute {name:?}. Guard it with a conditional or try()."))),
            Value::List(_) => {
                return Err(self.err(span, format!("Unsupported attribute {name:?}"), format!("This value is a list, which has no attributes. Use an index such as [0].{name}, or a splat [*].{name}.")))
            }
            other => return Err(self.err(span, format!("Unsupported attribute {name:?}"), format!("A {} has no attributes.", other.type_name()))),
        };
        Ok(remark(out, sens))
    }

    pub(crate) fn index(&self, v: Value, k: Value, span: Option<std::ops::Range<usize>>) -> R {
        let (inner, sens) = split_mark(v);
        let (key, ksens) = split_mark(k);
        let out = match (inner, key) {
            (Value::Unknown, _) | (_, Value::Unknown) => Value::Unknown,
            (Value::List(mut items), Value::Number(n)) => {
                let Some(i) = n.to_usize().filter(|i| *i < items.len()) else {
                    return Err(self.err(
                        span,
                        "Invalid index",
                        format!(
                            "The index {} is out of range for a list of {} element(s).",
                            Value::Number(n),
                            items.len()
                        ),
                    ));
                };
                items.swap_remove(i)
            }
            (Value::List(items), Value::String(s)) if s.parse::<usize>().is_ok() => {
                let n: usize = s.parse().unwrap_or(0);
                items.into_iter().nth(n).ok_or_else(|| {
                    self.err(
                        span.clone(),
                        "Invalid index",
                        format!("The index {n} is out of range."),
                    )
                })?
            }
            (Value::Map(mut m), Value::String(s)) => match m.remove(&s) {
                Some(x) => x,
                None => {
                    return Err(self.err(
                        span,
                        "Invalid index",
                        format!(
                            "The map has no element for the key {s:?}.{}",
                            suggestion(&s, m.keys().map(String::as_str))
                        ),
                    ))
                }
            },
            (Value::Map(mut m), Value::Number(n)) => {
                let s = n.to_string();
                m.remove(&s).ok_or_else(|| {
                    self.err(
                        span.clone(),
                        "Invalid index",
                        format!("The map has no element for the key {s:?}."),
                    )
                })?
            }
            (Value::Null, _) => {
                return Err(self.err(
                    span,
                    "Attempt to index null value",
                    "The value is null, so it cannot be indexed.",
                ))
            }
            (c, k) => {
                return Err(self.err(
                    span,
                    "Invalid index",
                    format!(
                        "A {} cannot be indexed by a {}.",
                        c.type_name(),
                        k.type_name()
                    ),
                ))
            }
        };
        Ok(remark(out, sens || ksens))
    }

    fn binary(&mut self, b: &hcl_edit::expr::BinaryOp, span: Option<std::ops::Range<usize>>) -> R {
        let op = *b.operator.value();
        let l = self.eval(&b.lhs_expr)?;
        // && and || short-circuit on a known left side, as in Terraform 1.x.
        if matches!(op, BinaryOperator::And | BinaryOperator::Or) {
            if let Value::Bool(lb) = l.unmarked() {
                if (op == BinaryOperator::And && !lb) || (op == BinaryOperator::Or && *lb) {
                    return Ok(remark(Value::Bool(*lb), l.is_sensitive()));
                }
            }
        }
        let r = self.eval(&b.rhs_expr)?;
        let (l, ls) = split_mark(l);
        let (r, rs) = split_mark(r);
        let sens = ls || rs || l.contains_sensitive() || r.contains_sensitive();
        if matches!(op, BinaryOperator::Eq | BinaryOperator::NotEq) {
            if !l.is_wholly_known() || !r.is_wholly_known() {
                return Ok(remark(Value::Unknown, sens));
            }
            let eq = l.equals(&r);
            return Ok(remark(
                Value::Bool(if op == BinaryOperator::Eq { eq } else { !eq }),
                sens,
            ));
        }
        if l.is_unknown() || r.is_unknown() {
            return Ok(remark(Value::Unknown, sens));
        }
        let out = match op {
            BinaryOperator::And | BinaryOperator::Or => {
                let (Some(a), Some(c)) = (to_bool(&l), to_bool(&r)) else {
                    return Err(self.err(
                        span,
                        "Invalid operand",
                        format!(
                            "{} needs two bools; found {} and {}.",
                            op.as_str(),
                            l.type_name(),
                            r.type_name()
                        ),
                    ));
                };
                Value::Bool(if op == BinaryOperator::And {
                    a && c
                } else {
                    a || c
                })
            }
            _ => {
                let (Some(a), Some(c)) = (to_number(&l), to_number(&r)) else {
                    return Err(self.err(
                        span,
                        "Invalid operand",
                        format!(
                            "{} needs two numbers; found {} and {}.",
                            op.as_str(),
                            l.type_name(),
                            r.type_name()
                        ),
                    ));
                };
                let arith = |r: Result<Number, NumberError>| {
                    r.map(Value::Number)
                        .map_err(|e| self.err(span.clone(), "Invalid arithmetic", format!("{e}.")))
                };
                match op {
                    BinaryOperator::Plus => arith(a.add(&c))?,
                    BinaryOperator::Minus => arith(a.sub(&c))?,
                    BinaryOperator::Mul => arith(a.mul(&c))?,
                    BinaryOperator::Div => arith(a.div(&c))?,
                    BinaryOperator::Mod => arith(a.rem(&c))?,
                    BinaryOperator::Less => Value::Bool(a < c),
                    BinaryOperator::LessEq => Value::Bool(a <= c),
                    BinaryOperator::Greater => Value::Bool(a > c),
                    BinaryOperator::GreaterEq => Value::Bool(a >= c),
                    _ => Value::Null,
                }
            }
        };
        Ok(remark(out, sens))
    }

    fn for_expr(&mut self, f: &hcl_edit::expr::ForExpr, span: Option<std::ops::Range<usize>>) -> R {
        let coll = self.eval(&f.intro.collection_expr)?;
        let (coll, sens) = split_mark(coll);
        let items: Vec<(Value, Value)> = match for_pairs(coll, &f.intro.collection_expr) {
            Ok(items) => items,
            Err(Value::Unknown) => return Ok(remark(Value::Unknown, sens)),
            Err(Value::Null) => {
                return Err(self.err(
                    f.intro.collection_expr.span(),
                    "Iteration over null value",
                    "A for expression needs a list, set or map; this one is null.",
                ))
            }
            Err(other) => {
                return Err(self.err(
                    f.intro.collection_expr.span(),
                    "Iteration over non-iterable value",
                    format!(
                        "A for expression needs a list, set or map; found {}.",
                        other.type_name()
                    ),
                ))
            }
        };
        let key_var = f.intro.key_var.as_ref().map(|k| k.value().to_string());
        let val_var = f.intro.value_var.value().to_string();
        let mut list = Vec::new();
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        let mut unknown = false;
        let mut secret_shape = false;
        let mut growth = super::size::Growth::default();
        for (k, v) in items {
            let pushed = if let Some(kv) = &key_var {
                self.push_local(kv, k);
                self.push_local(&val_var, v);
                2
            } else {
                self.push_local(&val_var, v);
                1
            };
            let result = (|| -> Result<(), EvalError> {
                if let Some(c) = &f.cond {
                    let cv = self.eval(&c.expr)?;
                    // Which elements are kept says something of a secret condition.
                    secret_shape |= cv.is_sensitive();
                    match cv.unmarked() {
                        Value::Bool(true) => {}
                        Value::Bool(false) => return Ok(()),
                        Value::Unknown => {
                            unknown = true;
                            return Ok(());
                        }
                        other => {
                            return Err(self.err(
                                c.expr.span(),
                                "Invalid for-expression condition",
                                format!(
                                    "The if clause must produce a bool; found {}.",
                                    other.type_name()
                                ),
                            ))
                        }
                    }
                }
                let val = self.eval(&f.value_expr)?;
                growth
                    .add_value(&val)
                    .map_err(|m| self.err(f.value_expr.span(), "Value too large", m))?;
                match &f.key_expr {
                    None => list.push(val),
                    Some(ke) => {
                        let kv = self.eval(ke)?;
                        growth
                            .add_value(&kv)
                            .map_err(|m| self.err(ke.span(), "Value too large", m))?;
                        // A key made from a secret shows it: the whole object is sensitive.
                        secret_shape |= kv.is_sensitive();
                        let key = match kv.unmarked() {
                            Value::String(s) => s.clone(),
                            Value::Number(n) => n.to_string(),
                            Value::Bool(b) => b.to_string(),
                            Value::Unknown => {
                                unknown = true;
                                return Ok(());
                            }
                            other => {
                                return Err(self.err(
                                    ke.span(),
                                    "Invalid object key",
                                    format!(
                                        "A for-expression key must be a string; found {}.",
                                        other.type_name()
                                    ),
                                ))
                            }
                        };
                        use std::collections::btree_map::Entry;
                        match (f.grouping, map.entry(key)) {
                            (true, entry) => {
                                if let Value::List(l) =
                                    entry.or_insert_with(|| Value::List(Vec::new()))
                                {
                                    l.push(val);
                                }
                            }
                            (false, Entry::Vacant(v)) => {
                                v.insert(val);
                            }
                            (false, Entry::Occupied(o)) => {
                                return Err(self.err(span.clone(), "Duplicate object key", format!("Two elements produce the key {:?}. Use the grouping mode `=> value...` to collect them into lists.", o.key())));
                            }
                        }
                    }
                }
                Ok(())
            })();
            for _ in 0..pushed {
                self.pop_local();
            }
            result?;
        }
        if unknown {
            return Ok(remark(Value::Unknown, sens || secret_shape));
        }
        let out = if f.key_expr.is_some() {
            Value::Map(map)
        } else {
            Value::List(list)
        };
        Ok(remark(out, sens || secret_shape))
    }
}

/// Removes a top-level sensitive mark, saying whether there was one.
pub(crate) fn split_mark(v: Value) -> (Value, bool) {
    match v {
        Value::Sensitive(inner) => (split_mark(*inner).0, true),
        other => (other, false),
    }
}

/// Puts the sensitive mark back when `sensitive` is set.
pub(crate) fn remark(v: Value, sensitive: bool) -> Value {
    if sensitive {
        v.sensitive()
    } else {
        v
    }
}

/// A number, or a string Terraform converts to one (`"5" + 1`); surrounding spaces do not
/// convert, as in Terraform.
pub(crate) fn to_number(v: &Value) -> Option<Number> {
    match v.unmarked() {
        Value::Number(n) => Some(n.clone()),
        Value::String(s) => Number::parse(s).ok(),
        _ => None,
    }
}

/// `s` in Unicode normalization form C, as HCL normalizes the text of string literals.
pub(crate) fn nfc(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    if unicode_normalization::is_nfc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes {
        return s.to_string();
    }
    s.nfc().collect()
}

/// The (key, value) pairs a `for` walks over `coll`, the value of `expr`: a list's positions,
/// a map's keys, and a set's elements as their own keys, as in Terraform. Anything else is
/// handed back.
pub(crate) fn for_pairs(coll: Value, expr: &Expression) -> Result<Vec<(Value, Value)>, Value> {
    Ok(match coll {
        Value::List(items) if makes_a_set(expr) => {
            items.into_iter().map(|v| (v.clone(), v)).collect()
        }
        Value::List(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (Value::from(i as i64), v))
            .collect(),
        Value::Map(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
        other => return Err(other),
    })
}

/// Whether an expression certainly gives a set: a call of `toset` or of a set function.
/// standby's values do not say whether a list is a set, so a set from elsewhere (a
/// variable of a set type) iterates as a list (docs/language.md, Deviations).
pub(crate) fn makes_a_set(e: &Expression) -> bool {
    let e = match e {
        Expression::Parenthesis(p) => p.inner(),
        other => other,
    };
    matches!(e, Expression::FuncCall(f) if matches!(
        f.name.name.value().as_str(),
        "toset" | "setunion" | "setintersection" | "setsubtract" | "fileset"
    ))
}

/// A bool, or the string `"true"` or `"false"`, which Terraform converts to one.
pub(crate) fn to_bool(v: &Value) -> Option<bool> {
    match v.unmarked() {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}
