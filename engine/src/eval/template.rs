//! String templates: interpolations and `%{ if }` / `%{ for }` directives.

use super::expr::{remark, split_mark, EvalError, Evaluator};
use hcl_edit::template::{Directive, Element, Template};
use hcl_edit::Span as _;
use standby_provider_sdk::Value;

/// Accumulates template output.
struct Out {
    text: String,
    unknown: bool,
    sensitive: bool,
}

/// Whether an element strips the whitespace of the literal before it (`~` on its left) and
/// of the literal after it (`~` on its right). HCL applies strip markers to the adjacent
/// literals of the source, so a marker inside a `%{ for }` body trims in every iteration,
/// and it never trims text that an interpolation produced.
fn strips(el: &Element) -> (bool, bool) {
    match el {
        Element::Literal(_) => (false, false),
        Element::Interpolation(i) => (i.strip.strip_start(), i.strip.strip_end()),
        Element::Directive(d) => match d.as_ref() {
            Directive::If(ifd) => (
                ifd.if_expr.strip.strip_start(),
                ifd.endif_expr.strip.strip_end(),
            ),
            Directive::For(fd) => (
                fd.for_expr.strip.strip_start(),
                fd.endfor_expr.strip.strip_end(),
            ),
        },
    }
}

/// What kind of template is evaluated: HCL scans a heredoc into one token per line, and
/// strip markers trim only the adjacent token; `<<-` removes `indent` columns.
#[derive(Clone, Copy, Default)]
pub(crate) struct Kind {
    pub(crate) heredoc: bool,
    pub(crate) indent: Option<usize>,
    /// The parser removed this much indentation that HCL keeps: put it back.
    restore: Option<usize>,
}

impl Kind {
    /// A heredoc; `indent` is what the parser removed from a `<<-` heredoc's top-level lines.
    pub(crate) fn heredoc(indent: Option<usize>) -> Kind {
        Kind {
            heredoc: true,
            indent,
            restore: None,
        }
    }
}

/// Whether a `~` on the left of an element empties a line's leading whitespace: HCL then
/// counts that line's indentation as zero, and a `<<-` heredoc loses none of its indentation.
fn empties_a_line_start(t: &Template, top: bool) -> bool {
    let els: Vec<&Element> = t.iter().collect();
    // A closing marker with `~` on its left (`%{~ endif }`) trims a body's last literal.
    let closes_emptied = |body: &Template, strip: bool| {
        strip
            && matches!(body.iter().last(), Some(Element::Literal(l))
                if l.value().rfind('\n').is_some_and(|nl| l.value()[nl + 1..].trim().is_empty()))
    };
    els.iter().enumerate().any(|(i, el)| {
        let emptied = i > 0
            && strips(el).0
            && match els[i - 1] {
                Element::Literal(l) => match l.value().rfind('\n') {
                    Some(nl) => l.value()[nl + 1..].trim().is_empty(),
                    None => top && i == 1 && l.value().trim().is_empty(),
                },
                _ => false,
            };
        let inner = match el {
            Element::Directive(d) => match d.as_ref() {
                Directive::If(ifd) => {
                    let end = ifd.endif_expr.strip.strip_start();
                    let (if_end, else_end) = match &ifd.else_expr {
                        Some(e) => (e.strip.strip_start(), end),
                        None => (end, false),
                    };
                    closes_emptied(&ifd.if_expr.template, if_end)
                        || ifd
                            .else_expr
                            .as_ref()
                            .is_some_and(|e| closes_emptied(&e.template, else_end))
                        || empties_a_line_start(&ifd.if_expr.template, false)
                        || ifd
                            .else_expr
                            .as_ref()
                            .is_some_and(|e| empties_a_line_start(&e.template, false))
                }
                Directive::For(fd) => {
                    closes_emptied(&fd.for_expr.template, fd.endfor_expr.strip.strip_start())
                        || empties_a_line_start(&fd.for_expr.template, false)
                }
            },
            _ => false,
        };
        emptied || inner
    })
}

/// Puts back `n` columns on the lines of a top-level literal that the parser dedented.
fn restore_indent(s: &str, n: usize, at_line_start: bool) -> String {
    let pad = " ".repeat(n);
    s.split('\n')
        .enumerate()
        .map(|(i, line)| {
            if line.is_empty() || (i == 0 && !at_line_start) {
                line.to_string()
            } else {
                format!("{pad}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A literal with the trims its neighbours ask for, the indentation of a `<<-` heredoc
/// removed inside directive bodies, and HCL's NFC normalization.
fn trimmed_literal(s: &str, trim_start: bool, trim_end: bool, kind: Kind, nested: bool) -> String {
    let mut s = s.to_string();
    if trim_start {
        // In a heredoc the next token ends at the first line break.
        let end = match s.find('\n') {
            Some(i) if kind.heredoc => i + 1,
            _ => s.len(),
        };
        let removed_break = s[..end].ends_with('\n');
        s = format!("{}{}", s[..end].trim_start(), &s[end..]);
        // HCL removes a `<<-` heredoc's indentation after the markers have trimmed, and a
        // line whose break a marker removed no longer starts a line: its next line keeps
        // its indentation. hcl-edit removed it before; put it back.
        if let (true, Some(n), false) = (removed_break && kind.heredoc, kind.indent, nested) {
            let first_line = s.split('\n').next().unwrap_or_default();
            if !first_line.trim().is_empty() {
                s.insert_str(0, &" ".repeat(n));
            }
        }
    }
    // In a `<<-` heredoc the parser removed the indentation before the marker, so a literal
    // that ends with a line break ended, in the source, with whitespace: the marker trims
    // that, and the line break stays.
    let dedented_before =
        !nested && (kind.indent.unwrap_or(0) > 0 || kind.restore.unwrap_or(0) > 0);
    if trim_end && !(kind.heredoc && dedented_before && s.ends_with('\n')) {
        // In a heredoc the previous token is the last line, its line break included.
        let start = if kind.heredoc {
            let body = s.strip_suffix('\n').unwrap_or(&s);
            body.rfind('\n').map_or(0, |i| i + 1)
        } else {
            0
        };
        s = format!("{}{}", &s[..start], s[start..].trim_end());
    }
    if let (true, Some(n)) = (nested, kind.indent) {
        // hcl-edit removes the indentation of top-level lines only; HCL removes it from every
        // line that starts inside a directive too, except lines that are blank.
        let mut lines = s.split('\n').collect::<Vec<_>>();
        let last = lines.len() - 1;
        for (i, line) in lines.iter_mut().enumerate().skip(1) {
            if i < last && line.trim().is_empty() {
                continue;
            }
            let cut: usize = line
                .chars()
                .take(n)
                .take_while(|c| c.is_whitespace())
                .map(char::len_utf8)
                .sum();
            *line = &line[cut..];
        }
        s = lines.join("\n");
    }
    super::expr::nfc(&s)
}

impl Evaluator<'_> {
    pub(crate) fn template(&mut self, t: &Template, kind: Kind) -> Result<Value, EvalError> {
        let elements: Vec<&Element> = t.iter().collect();
        // "${x}" alone yields x itself, not its string form, as in Terraform.
        if let [Element::Interpolation(i)] = elements.as_slice() {
            return self.eval(&i.expr);
        }
        let mut out = Out {
            text: String::new(),
            unknown: false,
            sensitive: false,
        };
        let kind = match kind.indent {
            Some(n) if empties_a_line_start(t, true) => Kind {
                heredoc: true,
                indent: None,
                restore: Some(n),
            },
            _ => kind,
        };
        self.elements(t, &mut out, (false, false), kind, false)?;
        if out.unknown {
            return Ok(remark(Value::Unknown, out.sensitive));
        }
        Ok(remark(Value::String(out.text), out.sensitive))
    }

    /// Evaluates a template's elements; `lead` and `tail` say whether the enclosing
    /// directive's markers trim the first and the last literal.
    fn elements(
        &mut self,
        t: &Template,
        out: &mut Out,
        (lead, tail): (bool, bool),
        kind: Kind,
        nested: bool,
    ) -> Result<(), EvalError> {
        let els: Vec<&Element> = t.iter().collect();
        for (idx, el) in els.iter().enumerate() {
            match el {
                Element::Literal(s) => {
                    let restored;
                    let s = match kind.restore {
                        Some(n) if !nested => {
                            let at_line_start = idx == 0
                                || matches!(els[idx - 1], Element::Literal(l) if l.value().ends_with('\n'));
                            restored = restore_indent(s.value(), n, at_line_start);
                            restored.as_str()
                        }
                        _ => s.value(),
                    };
                    let trim_start = if idx == 0 {
                        lead
                    } else {
                        strips(els[idx - 1]).1
                    };
                    let trim_end = match els.get(idx + 1) {
                        Some(next) => strips(next).0,
                        None => tail,
                    };
                    let text = trimmed_literal(s, trim_start, trim_end, kind, nested);
                    out.text.push_str(&text);
                }
                Element::Interpolation(i) => {
                    let v = self.eval(&i.expr)?;
                    let s = self.stringify(v, i.expr.span(), out)?;
                    if (out.text.len() + s.len()) as u64 > super::size::MAX_VALUE_BYTES {
                        return Err(self.err(
                            i.expr.span(),
                            "Value too large",
                            super::size::too_large(),
                        ));
                    }
                    out.text.push_str(&s);
                }
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(ifd) => {
                        let c = self.eval(&ifd.if_expr.cond_expr)?;
                        let (c, sens) = split_mark(c);
                        out.sensitive |= sens;
                        let lead = ifd.if_expr.strip.strip_end();
                        let end_strip = ifd.endif_expr.strip.strip_start();
                        let else_strip = ifd.else_expr.as_ref().map(|e| e.strip);
                        let tail = else_strip.map_or(end_strip, |s| s.strip_start());
                        match super::expr::to_bool(&c).map_or(c, Value::Bool) {
                            Value::Bool(true) => {
                                self.elements(&ifd.if_expr.template, out, (lead, tail), kind, true)?
                            }
                            Value::Bool(false) => {
                                if let Some(e) = &ifd.else_expr {
                                    let lead = e.strip.strip_end();
                                    self.elements(&e.template, out, (lead, end_strip), kind, true)?;
                                }
                            }
                            Value::Unknown => out.unknown = true,
                            other => {
                                return Err(self.err(
                                    ifd.if_expr.cond_expr.span(),
                                    "Invalid template condition",
                                    format!("%{{ if }} needs a bool; found {}.", other.type_name()),
                                ))
                            }
                        }
                    }
                    Directive::For(fd) => {
                        let f = &fd.for_expr;
                        let (lead, tail) =
                            (f.strip.strip_end(), fd.endfor_expr.strip.strip_start());
                        let coll = self.eval(&f.collection_expr)?;
                        let (coll, sens) = split_mark(coll);
                        out.sensitive |= sens;
                        let items = match super::expr::for_pairs(coll, &f.collection_expr) {
                            Ok(items) => items,
                            Err(Value::Unknown) => {
                                out.unknown = true;
                                Vec::new()
                            }
                            Err(other) => {
                                return Err(self.err(
                                    f.collection_expr.span(),
                                    "Invalid template for",
                                    format!(
                                        "%{{ for }} needs a list or map; found {}.",
                                        other.type_name()
                                    ),
                                ))
                            }
                        };
                        for (k, v) in items {
                            let mut n = 1;
                            if let Some(kv) = &f.key_var {
                                self.push_local(kv.value().as_str(), k);
                                n = 2;
                            }
                            self.push_local(f.value_var.value().as_str(), v);
                            let r = self.elements(&f.template, out, (lead, tail), kind, true);
                            for _ in 0..n {
                                self.pop_local();
                            }
                            r?;
                            // Literal text repeated by the loop grows the string too.
                            if out.text.len() as u64 > super::size::MAX_VALUE_BYTES {
                                return Err(self.err(
                                    fd.for_expr.collection_expr.span(),
                                    "Value too large",
                                    super::size::too_large(),
                                ));
                            }
                        }
                    }
                },
            }
        }
        Ok(())
    }

    fn stringify(
        &self,
        v: Value,
        span: Option<std::ops::Range<usize>>,
        out: &mut Out,
    ) -> Result<String, EvalError> {
        let (v, sens) = split_mark(v);
        out.sensitive |= sens;
        match v {
            Value::String(s) => Ok(s),
            Value::Number(_) | Value::Bool(_) => Ok(v.to_string()),
            Value::Unknown => {
                out.unknown = true;
                Ok(String::new())
            }
            Value::Null => Err(self.err(span, "Invalid template interpolation value", "The value is null; a template can only include strings, numbers and bools. Use coalesce() to give a default.")),
            other => Err(self.err(span, "Invalid template interpolation value", format!("Cannot include a {} in a string template; use jsonencode() or join() to turn it into a string.", other.type_name()))),
        }
    }
}
