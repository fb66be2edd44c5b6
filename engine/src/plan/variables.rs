//! Input variables: root values from environment files, `--var-file` and `--var`, and module
//! inputs; type conversion, nullability, sensitivity and validation blocks.

use super::values::{NodeScope, Values};
use super::walk::Walker;
use crate::addr::ModuleInstance;
use crate::config::{Body, Config, Expr, Module, TypeConstraint, VarFile, Variable};
use crate::diag::{suggestion, Diagnostic, Diagnostics, Span};
use crate::eval::{convert, Evaluator, Iteration, Phase};
use standby_provider_sdk::Value;
use std::collections::BTreeMap;

/// One source of root variable values, in precedence order (later wins).
#[derive(Debug, Clone)]
pub enum VarSource {
    /// An environment file or `--var-file`.
    File(VarFile),
    /// `--var NAME=VALUE`.
    Flag(String, String),
}

/// Evaluates an expression that may not refer to anything.
fn constant(config: &Config, e: &Expr) -> Result<Value, Diagnostic> {
    let values = Values::default();
    let m = Module::default();
    let root = ModuleInstance::root();
    let scope = NodeScope::new(&values, config, &root, &m, "", Phase::Plan);
    // A variable's value is kept in a saved plan: an infinity is refused.
    Evaluator::new(&scope, e.file, Iteration::default())
        .eval_kept(&e.inner)
        .map_err(|mut d| {
            d.detail = format!(
                "{} Variable values must be constants: literals and function calls.",
                d.detail
            );
            Diagnostic::from(d)
        })
}

/// Root module variable values, checked and converted.
///
/// With `allow_missing`, as for `validate`, a required variable without a value is unknown.
pub fn root_inputs(
    config: &Config,
    env: &str,
    sources: &[VarSource],
    allow_missing: bool,
) -> Result<BTreeMap<String, Value>, Diagnostics> {
    let mut diags = Diagnostics::default();
    let vars = &config.root.variables;
    let mut given: BTreeMap<String, (Value, Option<Span>)> = BTreeMap::new();
    for src in sources {
        match src {
            VarSource::File(f) => {
                for (name, a) in &f.values {
                    if !vars.contains_key(name) {
                        diags.push(Diagnostic::at(a.span.clone(), format!("Value for undeclared variable {name:?}"), format!("The topology declares no variable {name:?}.{} Remove the assignment or declare the variable.", suggestion(name, vars.keys().map(String::as_str)))));
                        continue;
                    }
                    match constant(config, &a.expr) {
                        Ok(v) => {
                            given.insert(name.clone(), (v, Some(a.expr.span())));
                        }
                        Err(d) => diags.push(d),
                    }
                }
            }
            VarSource::Flag(name, raw) => {
                let Some(var) = vars.get(name) else {
                    diags.push(Diagnostic::bare(
                        format!("Value for undeclared variable {name:?}"),
                        format!(
                            "--var {name}=... names no variable.{}",
                            suggestion(name, vars.keys().map(String::as_str))
                        ),
                    ));
                    continue;
                };
                let v = match var.ty {
                    TypeConstraint::String
                    | TypeConstraint::Number
                    | TypeConstraint::Bool
                    | TypeConstraint::Any => Value::String(raw.clone()),
                    _ => match hcl_edit::parser::parse_expr(raw) {
                        Ok(e) => {
                            let mut sources = config.sources.clone();
                            let file = sources.add(format!("--var {name}").into(), raw.clone());
                            match constant(config, &Expr { file, inner: e }) {
                                Ok(v) => v,
                                Err(d) => {
                                    diags.push(Diagnostic::bare(
                                        format!("Invalid value for --var {name}"),
                                        d.detail,
                                    ));
                                    continue;
                                }
                            }
                        }
                        Err(e) => {
                            diags.push(Diagnostic::bare(format!("Invalid value for --var {name}"), format!("{name} has type {}, so its value is parsed as an expression: {}", var.ty, e.message())));
                            continue;
                        }
                    },
                };
                given.insert(name.clone(), (v, None));
            }
        }
    }
    let mut out = BTreeMap::new();
    for (name, var) in vars {
        let (value, span) = match given.remove(name) {
            Some((v, span)) => (v, span.unwrap_or_else(|| var.span.clone())),
            None => match &var.default {
                Some(d) => match constant(config, d) {
                    Ok(v) => (v, d.span()),
                    Err(diag) => {
                        diags.push(diag);
                        continue;
                    }
                },
                None if allow_missing => (Value::Unknown, var.span.clone()),
                None => {
                    diags.push(Diagnostic::at(var.span.clone(), format!("No value for required variable {name:?}"), format!("Set it in env/{env}.hcl, with --var {name}=VALUE or --var-file, or give the variable a default.")));
                    continue;
                }
            },
        };
        if let Some(v) = check(config, var, value, span, &mut diags) {
            v.register_secrets();
            out.insert(name.clone(), v);
        }
    }
    diags.into_result(out)
}

/// Converts, checks nullability, runs validation blocks and applies the sensitive mark.
fn check(
    config: &Config,
    var: &Variable,
    value: Value,
    span: Span,
    diags: &mut Diagnostics,
) -> Option<Value> {
    // An error about a sensitive variable points at its declaration, never at its value: the
    // diagnostic shows the source line, which for a value from env/ENV.hcl or a --var-file is
    // the secret itself.
    let span = if var.sensitive {
        var.span.clone()
    } else {
        span
    };
    if value.is_null() && !var.nullable {
        diags.push(Diagnostic::at(
            span,
            format!("Invalid value for variable {:?}", var.name),
            "The variable is declared nullable = false, so it must not be null.",
        ));
        return None;
    }
    let v = match convert(&value, &var.ty) {
        Ok(v) => v,
        Err(e) => {
            diags.push(Diagnostic::at(
                span,
                format!("Invalid value for variable {:?}", var.name),
                if var.sensitive {
                    // The reason may quote the value, or an attribute named after it.
                    "The value does not match the variable's type; the details are withheld because the variable is sensitive.".to_string()
                } else {
                    format!("The value does not match the variable's type: {e}.")
                },
            ));
            return None;
        }
    };
    if !var.validations.is_empty() && v.is_wholly_known() {
        let mut values = Values::default();
        values.vars.insert(
            ModuleInstance::root(),
            // Marked as the rest of the plan sees it, so a message quoting it is withheld.
            BTreeMap::from([(
                var.name.clone(),
                if var.sensitive {
                    v.clone().sensitive()
                } else {
                    v.clone()
                },
            )]),
        );
        let m = Module {
            variables: BTreeMap::from([(var.name.clone(), var.clone())]),
            ..Module::default()
        };
        let root = ModuleInstance::root();
        let scope = NodeScope::new(&values, config, &root, &m, "", Phase::Plan);
        for val in &var.validations {
            let mut ev = Evaluator::new(&scope, val.condition.file, Iteration::default());
            match ev.eval(&val.condition.inner).map(|c| c.unmarked().clone()) {
                Ok(Value::Bool(true) | Value::Unknown) => {}
                Ok(Value::Bool(false)) => {
                    let msg = Evaluator::new(&scope, val.error_message.file, Iteration::default())
                        .eval(&val.error_message.inner)
                        .ok()
                        .and_then(|m| {
                            if m.is_sensitive() {
                                // As Terraform says it: the message is not shown.
                                Some("The error message included a sensitive value, so it is not shown.".to_string())
                            } else {
                                m.as_str().map(str::to_string)
                            }
                        })
                        .unwrap_or_else(|| "the validation condition is false".into());
                    diags.push(Diagnostic::at(
                        span.clone(),
                        format!("Invalid value for variable {:?}", var.name),
                        format!(
                            "{msg}\n\nThis was checked by the validation rule at {}.",
                            config.sources.location(&val.condition.span())
                        ),
                    ));
                }
                Ok(other) => diags.push(Diagnostic::at(
                    val.condition.span(),
                    "Invalid validation condition",
                    format!("The condition must be a bool; found {}.", other.type_name()),
                )),
                Err(e) => diags.push(Diagnostic::from(e)),
            }
        }
    }
    Some(if var.sensitive { v.sensitive() } else { v })
}

/// The variables of one module instance from its call's evaluated arguments.
pub(crate) fn module_inputs(
    w: &mut Walker<'_>,
    instance: &ModuleInstance,
    m: &Module,
    body: &Body,
    mut args: BTreeMap<String, Value>,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let config = w.config;
    for (name, var) in &m.variables {
        let (value, span) = match args.remove(name) {
            Some(v) => (v, body[name].expr.span()),
            None => match &var.default {
                Some(d) => match constant(config, d) {
                    Ok(v) => (v, d.span()),
                    Err(diag) => {
                        w.diags.push(diag);
                        continue;
                    }
                },
                None => continue,
            },
        };
        // The same call is checked once per instance: each error names the instance, which
        // the shared source line cannot.
        let before = w.diags.0.len();
        let checked = check(config, var, value, span, &mut w.diags);
        for d in &mut w.diags.0[before..] {
            d.summary = format!("{} of {instance}", d.summary);
        }
        if let Some(v) = checked {
            v.register_secrets();
            out.insert(name.clone(), v);
        }
    }
    out
}
