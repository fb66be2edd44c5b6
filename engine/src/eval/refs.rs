//! Static reference analysis: what an expression refers to, without evaluating it. The graph
//! builder uses this for edges, and validation for "undeclared" errors.

use crate::addr::{Mode, ResourceAddr};
use crate::diag::{FileId, Span};
use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::template::{Directive, Element, Template};
use hcl_edit::Span as _;

/// What a reference points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefTarget {
    /// `var.NAME`.
    Var(String),
    /// `local.NAME`.
    Local(String),
    /// `TYPE.NAME` or `data.TYPE.NAME`.
    Resource(ResourceAddr),
    /// `module.NAME`, with the output name when one follows.
    Module(String, Option<String>),
    /// `path.X`, `env.X`, `count.X`, `each.X` and other roots, with their attribute.
    Other(String, String),
}

/// One reference and where it is written.
#[derive(Clone, Debug)]
pub struct Reference {
    /// The target.
    pub target: RefTarget,
    /// The span of the reference.
    pub span: Span,
}

/// Every reference in `e`. Names bound by for-expressions are not references.
pub fn references(file: FileId, e: &Expression) -> Vec<Reference> {
    let mut out = Vec::new();
    let mut bound = Vec::new();
    walk(file, e, &mut bound, &mut out);
    out
}

fn get_attr(op: Option<&hcl_edit::Decorated<TraversalOperator>>) -> Option<&str> {
    match op.map(|o| o.value()) {
        Some(TraversalOperator::GetAttr(a)) => Some(a.value().as_str()),
        _ => None,
    }
}

fn walk(file: FileId, e: &Expression, bound: &mut Vec<String>, out: &mut Vec<Reference>) {
    match e {
        Expression::Array(a) => a.iter().for_each(|x| walk(file, x, bound, out)),
        Expression::Object(o) => {
            for (k, v) in o.iter() {
                if let ObjectKey::Expression(ke) = k {
                    walk(file, ke, bound, out);
                }
                walk(file, v.expr(), bound, out);
            }
        }
        Expression::StringTemplate(t) => template(file, t, bound, out),
        Expression::HeredocTemplate(h) => template(file, &h.template, bound, out),
        Expression::Parenthesis(p) => walk(file, p.inner(), bound, out),
        Expression::Conditional(c) => {
            walk(file, &c.cond_expr, bound, out);
            walk(file, &c.true_expr, bound, out);
            walk(file, &c.false_expr, bound, out);
        }
        Expression::FuncCall(f) => f.args.iter().for_each(|x| walk(file, x, bound, out)),
        Expression::UnaryOp(u) => walk(file, &u.expr, bound, out),
        Expression::BinaryOp(b) => {
            walk(file, &b.lhs_expr, bound, out);
            walk(file, &b.rhs_expr, bound, out);
        }
        Expression::ForExpr(f) => {
            walk(file, &f.intro.collection_expr, bound, out);
            let n = bound.len();
            if let Some(k) = &f.intro.key_var {
                bound.push(k.value().to_string());
            }
            bound.push(f.intro.value_var.value().to_string());
            if let Some(k) = &f.key_expr {
                walk(file, k, bound, out);
            }
            walk(file, &f.value_expr, bound, out);
            if let Some(c) = &f.cond {
                walk(file, &c.expr, bound, out);
            }
            bound.truncate(n);
        }
        Expression::Traversal(t) => {
            for op in &t.operators {
                if let TraversalOperator::Index(i) = op.value() {
                    walk(file, i, bound, out);
                }
            }
            let Expression::Variable(root) = &t.expr else {
                walk(file, &t.expr, bound, out);
                return;
            };
            let root = root.value().as_str();
            if bound.iter().any(|b| b == root) {
                return;
            }
            let ops = &t.operators;
            let span_to = |n: usize| {
                let start = t.expr.span().map_or(0, |r| r.start);
                let end = ops
                    .get(n.saturating_sub(1))
                    .and_then(|o| o.span())
                    .or_else(|| t.expr.span())
                    .map_or(start, |r| r.end);
                Span {
                    file,
                    range: start..end,
                }
            };
            let target = match (root, get_attr(ops.first()), get_attr(ops.get(1))) {
                ("var", Some(a), _) => Some((RefTarget::Var(a.into()), 1)),
                ("local", Some(a), _) => Some((RefTarget::Local(a.into()), 1)),
                ("module", Some(m), out_name) => Some((
                    RefTarget::Module(m.into(), out_name.map(str::to_string)),
                    1 + usize::from(out_name.is_some()),
                )),
                ("module", None, _) => None,
                ("data", Some(ty), Some(n)) => Some((
                    RefTarget::Resource(ResourceAddr {
                        mode: Mode::Data,
                        type_name: ty.into(),
                        name: n.into(),
                    }),
                    2,
                )),
                (r, Some(n), _) if r.contains('_') => Some((
                    RefTarget::Resource(ResourceAddr {
                        mode: Mode::Managed,
                        type_name: r.into(),
                        name: n.into(),
                    }),
                    1,
                )),
                (r, Some(a), _) => Some((RefTarget::Other(r.into(), a.into()), 1)),
                (r, None, _) => Some((RefTarget::Other(r.into(), String::new()), 0)),
            };
            if let Some((target, used)) = target {
                out.push(Reference {
                    target,
                    span: span_to(used),
                });
            }
        }
        Expression::Variable(v) => {
            let name = v.value().as_str();
            if !bound.iter().any(|b| b == name) {
                out.push(Reference {
                    target: RefTarget::Other(name.into(), String::new()),
                    span: Span::new(file, e.span()),
                });
            }
        }
        Expression::Null(_)
        | Expression::Bool(_)
        | Expression::Number(_)
        | Expression::String(_) => {}
    }
}

fn template(file: FileId, t: &Template, bound: &mut Vec<String>, out: &mut Vec<Reference>) {
    for el in t.iter() {
        match el {
            Element::Literal(_) => {}
            Element::Interpolation(i) => walk(file, &i.expr, bound, out),
            Element::Directive(d) => match d.as_ref() {
                Directive::If(i) => {
                    walk(file, &i.if_expr.cond_expr, bound, out);
                    template(file, &i.if_expr.template, bound, out);
                    if let Some(e) = &i.else_expr {
                        template(file, &e.template, bound, out);
                    }
                }
                Directive::For(f) => {
                    let fe = &f.for_expr;
                    walk(file, &fe.collection_expr, bound, out);
                    let n = bound.len();
                    if let Some(k) = &fe.key_var {
                        bound.push(k.value().to_string());
                    }
                    bound.push(fe.value_var.value().to_string());
                    template(file, &fe.template, bound, out);
                    bound.truncate(n);
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &[&str]) {
        let e = hcl_edit::parser::parse_expr(input).unwrap();
        let got: Vec<String> = references(0, &e)
            .into_iter()
            .map(|r| format!("{:?}", r.target))
            .collect();
        assert_eq!(got, expect, "input: {input}");
    }

    #[test]
    fn finds_references() {
        check("var.a", &["Var(\"a\")"]);
        check(
            "\"${local.b}-${module.m.out}\"",
            &["Local(\"b\")", "Module(\"m\", Some(\"out\"))"],
        );
        check(
            "local_file.x[count.index].id",
            &[
                "Other(\"count\", \"index\")",
                "Resource(ResourceAddr { mode: Managed, type_name: \"local_file\", name: \"x\" })",
            ],
        );
        check(
            "[for v in data.t_s.n.list : v.id]",
            &["Resource(ResourceAddr { mode: Data, type_name: \"t_s\", name: \"n\" })"],
        );
    }
}
