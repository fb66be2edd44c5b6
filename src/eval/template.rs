//! String templates: interpolations and `%{ if }` / `%{ for }` directives.

use super::expr::{remark, split_mark, EvalError, Evaluator};
use hcl_edit::template::{Directive, Element, Strip, Template};
use hcl_edit::Span as _;
use standby_provider_sdk::Value;

/// Accumulates template output, honouring `~` strip markers.
struct Out {
    text: String,
    trim_next: bool,
    unknown: bool,
    sensitive: bool,
}

impl Out {
    fn literal(&mut self, s: &str) {
        if self.trim_next {
            self.text.push_str(s.trim_start());
        } else {
            self.text.push_str(s);
        }
        self.trim_next = false;
    }

    fn strip(&mut self, strip: Strip) {
        if matches!(strip, Strip::Start | Strip::Both) {
            let trimmed = self.text.trim_end().len();
            self.text.truncate(trimmed);
        }
    }

    fn strip_after(&mut self, strip: Strip) {
        self.trim_next = matches!(strip, Strip::End | Strip::Both);
    }
}

impl Evaluator<'_> {
    pub(crate) fn template(
        &mut self,
        t: &Template,
        _span: Option<std::ops::Range<usize>>,
    ) -> Result<Value, EvalError> {
        let elements: Vec<&Element> = t.iter().collect();
        // "${x}" alone yields x itself, not its string form, as in Terraform.
        if let [Element::Interpolation(i)] = elements.as_slice() {
            return self.eval(&i.expr);
        }
        let mut out = Out {
            text: String::new(),
            trim_next: false,
            unknown: false,
            sensitive: false,
        };
        self.elements(t, &mut out)?;
        if out.unknown {
            return Ok(remark(Value::Unknown, out.sensitive));
        }
        Ok(remark(Value::String(out.text), out.sensitive))
    }

    fn elements(&mut self, t: &Template, out: &mut Out) -> Result<(), EvalError> {
        for el in t.iter() {
            match el {
                Element::Literal(s) => out.literal(s.value()),
                Element::Interpolation(i) => {
                    out.strip(i.strip);
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
                    out.strip_after(i.strip);
                }
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(ifd) => {
                        out.strip(ifd.if_expr.strip);
                        let c = self.eval(&ifd.if_expr.cond_expr)?;
                        let (c, sens) = split_mark(c);
                        out.sensitive |= sens;
                        out.strip_after(ifd.if_expr.strip);
                        match c {
                            Value::Bool(true) => self.elements(&ifd.if_expr.template, out)?,
                            Value::Bool(false) => {
                                if let Some(e) = &ifd.else_expr {
                                    out.strip(e.strip);
                                    out.strip_after(e.strip);
                                    self.elements(&e.template, out)?;
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
                        out.strip(ifd.endif_expr.strip);
                        out.strip_after(ifd.endif_expr.strip);
                    }
                    Directive::For(fd) => {
                        let f = &fd.for_expr;
                        out.strip(f.strip);
                        out.strip_after(f.strip);
                        let coll = self.eval(&f.collection_expr)?;
                        let (coll, sens) = split_mark(coll);
                        out.sensitive |= sens;
                        let items: Vec<(Value, Value)> = match coll {
                            Value::List(items) => items
                                .into_iter()
                                .enumerate()
                                .map(|(i, v)| (Value::from(i as i64), v))
                                .collect(),
                            Value::Map(m) => {
                                m.into_iter().map(|(k, v)| (Value::String(k), v)).collect()
                            }
                            Value::Unknown => {
                                out.unknown = true;
                                Vec::new()
                            }
                            other => {
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
                            let r = self.elements(&f.template, out);
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
                        out.strip(fd.endfor_expr.strip);
                        out.strip_after(fd.endfor_expr.strip);
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
