//! The function library. Each function takes plain values: the dispatcher strips sensitive
//! marks (re-applying them to the result) and returns unknown when an argument is not known.

mod arity;
mod collection;
mod crypto;
mod datetime;
mod encoding;
mod format;
mod fs;
mod numeric;
mod sets;
mod string;
mod yaml;

use super::expr::{EvalError, Evaluator};
use super::Phase;
use hcl_edit::expr::FuncCall;
use hcl_edit::Span as _;
use standby_provider_sdk::{Number, Value};
use std::path::Path;

/// What a function may know about its call.
pub(crate) struct FnCtx<'a> {
    pub phase: Phase,
    pub base_dir: &'a Path,
}

type Func = fn(&[Value], &FnCtx) -> Result<Value, String>;

/// Functions that accept unknown arguments themselves rather than yielding unknown.
const HANDLES_UNKNOWN: [&str; 3] = ["coalesce", "length", "sensitive"];

/// Every function name, sorted, for documentation and "did you mean".
pub const FUNCTION_NAMES: [&str; 112] = [
    "abs",
    "abspath",
    "alltrue",
    "anytrue",
    "base64decode",
    "base64encode",
    "base64gzip",
    "base64sha256",
    "base64sha512",
    "basename",
    "bcrypt",
    "can",
    "ceil",
    "chomp",
    "chunklist",
    "cidrhost",
    "cidrnetmask",
    "cidrsubnet",
    "cidrsubnets",
    "coalesce",
    "coalescelist",
    "compact",
    "concat",
    "contains",
    "csvdecode",
    "dirname",
    "distinct",
    "element",
    "endswith",
    "file",
    "filebase64",
    "filebase64sha256",
    "filebase64sha512",
    "fileexists",
    "filemd5",
    "fileset",
    "filesha1",
    "filesha256",
    "filesha512",
    "flatten",
    "floor",
    "format",
    "formatdate",
    "formatlist",
    "indent",
    "index",
    "join",
    "jsondecode",
    "jsonencode",
    "keys",
    "length",
    "log",
    "lookup",
    "lower",
    "matchkeys",
    "max",
    "md5",
    "merge",
    "min",
    "nonsensitive",
    "one",
    "parseint",
    "pathexpand",
    "pow",
    "range",
    "regex",
    "regexall",
    "replace",
    "reverse",
    "rsadecrypt",
    "sensitive",
    "setintersection",
    "setproduct",
    "setsubtract",
    "setunion",
    "sha1",
    "sha256",
    "sha512",
    "signum",
    "slice",
    "sort",
    "split",
    "startswith",
    "strrev",
    "substr",
    "sum",
    "templatefile",
    "textdecodebase64",
    "textencodebase64",
    "timeadd",
    "timestamp",
    "title",
    "tobool",
    "tolist",
    "tomap",
    "tonumber",
    "toset",
    "tostring",
    "transpose",
    "trim",
    "trimprefix",
    "trimspace",
    "trimsuffix",
    "try",
    "upper",
    "urlencode",
    "uuid",
    "uuidv5",
    "values",
    "yamldecode",
    "yamlencode",
    "zipmap",
];

fn lookup(name: &str) -> Option<Func> {
    Some(match name {
        "format" => string::format,
        "formatlist" => string::formatlist,
        "join" => string::join,
        "split" => string::split,
        "lower" => string::lower,
        "upper" => string::upper,
        "title" => string::title,
        "trimspace" => string::trimspace,
        "trim" => string::trim,
        "trimprefix" => string::trimprefix,
        "trimsuffix" => string::trimsuffix,
        "chomp" => string::chomp,
        "strrev" => string::strrev,
        "replace" => string::replace,
        "substr" => string::substr,
        "startswith" => string::startswith,
        "endswith" => string::endswith,
        "regex" => string::regex,
        "regexall" => string::regexall,
        "length" => collection::length,
        "concat" => collection::concat,
        "merge" => collection::merge,
        "lookup" => collection::lookup,
        "keys" => collection::keys,
        "values" => collection::values,
        "contains" => collection::contains,
        "element" => collection::element,
        "index" => collection::index,
        "slice" => collection::slice,
        "sort" => collection::sort,
        "reverse" => collection::reverse,
        "compact" => collection::compact,
        "flatten" => collection::flatten,
        "distinct" => collection::distinct,
        "range" => collection::range,
        "zipmap" => collection::zipmap,
        "setunion" => collection::setunion,
        "setintersection" => collection::setintersection,
        "one" => collection::one,
        "sum" => collection::sum,
        "alltrue" => collection::alltrue,
        "anytrue" => collection::anytrue,
        "coalesce" => collection::coalesce,
        "coalescelist" => collection::coalescelist,
        "tolist" => collection::tolist,
        "toset" => collection::toset,
        "tomap" => collection::tomap,
        "tostring" => collection::tostring,
        "tonumber" => collection::tonumber,
        "tobool" => collection::tobool,
        "jsonencode" => encoding::jsonencode,
        "jsondecode" => encoding::jsondecode,
        "base64encode" => encoding::base64encode,
        "base64decode" => encoding::base64decode,
        "sha256" => encoding::sha256,
        "md5" => encoding::md5,
        "sha1" => encoding::sha1,
        "sha512" => encoding::sha512,
        "base64sha256" => encoding::base64sha256,
        "base64sha512" => encoding::base64sha512,
        "urlencode" => encoding::urlencode,
        "setsubtract" => sets::setsubtract,
        "setproduct" => sets::setproduct,
        "chunklist" => sets::chunklist,
        "transpose" => sets::transpose,
        "matchkeys" => sets::matchkeys,
        "indent" => string::indent,
        "cidrnetmask" => numeric::cidrnetmask,
        "pathexpand" => fs::pathexpand,
        "file" => fs::file,
        "fileexists" => fs::fileexists,
        "templatefile" => fs::templatefile,
        "abspath" => fs::abspath,
        "basename" => fs::basename,
        "dirname" => fs::dirname,
        "cidrsubnet" => numeric::cidrsubnet,
        "cidrhost" => numeric::cidrhost,
        "min" => numeric::min,
        "max" => numeric::max,
        "abs" => numeric::abs,
        "ceil" => numeric::ceil,
        "floor" => numeric::floor,
        "pow" => numeric::pow,
        "log" => numeric::log,
        "signum" => numeric::signum,
        "parseint" => numeric::parseint,
        "timestamp" => numeric::timestamp,
        "base64gzip" => encoding::base64gzip,
        "bcrypt" => crypto::bcrypt,
        "cidrsubnets" => numeric::cidrsubnets,
        "csvdecode" => encoding::csvdecode,
        "filebase64" => fs::filebase64,
        "filebase64sha256" => fs::filebase64sha256,
        "filebase64sha512" => fs::filebase64sha512,
        "filemd5" => fs::filemd5,
        "fileset" => fs::fileset,
        "filesha1" => fs::filesha1,
        "filesha256" => fs::filesha256,
        "filesha512" => fs::filesha512,
        "formatdate" => datetime::formatdate,
        "rsadecrypt" => crypto::rsadecrypt,
        "textdecodebase64" => encoding::textdecodebase64,
        "textencodebase64" => encoding::textencodebase64,
        "timeadd" => datetime::timeadd,
        "uuid" => crypto::uuid,
        "uuidv5" => crypto::uuidv5,
        "yamldecode" => yaml::yamldecode,
        "yamlencode" => yaml::yamlencode,
        "sensitive" => |a, _| Ok(arg(a, 0)?.clone().sensitive()),
        "nonsensitive" => |a, _| Ok(arg(a, 0)?.clone()),
        _ => return None,
    })
}

/// The `i`th argument, or an error naming the missing position.
pub(crate) fn arg(args: &[Value], i: usize) -> Result<&Value, String> {
    args.get(i)
        .ok_or_else(|| format!("missing argument {}", i + 1))
}

/// A string argument; a number or a bool converts, as Terraform converts it.
pub(crate) fn str_arg(args: &[Value], i: usize) -> Result<std::borrow::Cow<'_, str>, String> {
    match arg(args, i)? {
        Value::String(s) => Ok(std::borrow::Cow::Borrowed(s)),
        v @ (Value::Number(_) | Value::Bool(_)) => Ok(std::borrow::Cow::Owned(v.to_string())),
        other => Err(format!(
            "argument {} must be a string, found {}",
            i + 1,
            other.type_name()
        )),
    }
}

/// A number argument as the nearest `f64`, for functions Terraform computes in floats.
pub(crate) fn num_arg(args: &[Value], i: usize) -> Result<f64, String> {
    number_arg(args, i).map(|n| n.to_f64())
}

/// A number argument; a string converts as Terraform converts it.
pub(crate) fn number_arg(args: &[Value], i: usize) -> Result<Number, String> {
    match arg(args, i)? {
        Value::Number(n) => Ok(n.clone()),
        Value::String(s) => Number::parse(s)
            .map_err(|_| format!("argument {} must be a number, found {s:?}", i + 1)),
        other => Err(format!(
            "argument {} must be a number, found {}",
            i + 1,
            other.type_name()
        )),
    }
}

pub(crate) fn list_arg(args: &[Value], i: usize) -> Result<&[Value], String> {
    match arg(args, i)? {
        Value::List(l) => Ok(l),
        other => Err(format!(
            "argument {} must be a list, found {}",
            i + 1,
            other.type_name()
        )),
    }
}

/// Evaluates a function call expression.
pub(crate) fn call_expr(
    ev: &mut Evaluator<'_>,
    f: &FuncCall,
    span: Option<std::ops::Range<usize>>,
) -> Result<Value, EvalError> {
    let name = f.name.name.value().as_str();
    // try and can evaluate their arguments themselves, catching errors.
    if name == "try" {
        let mut last = None;
        for a in f.args.iter() {
            match ev.eval(a) {
                Ok(v) if v.is_unknown() => return Ok(Value::Unknown),
                Ok(v) => return Ok(v),
                Err(e) => last = Some(e),
            }
        }
        return Err(last.map_or_else(
            || {
                ev.err(
                    span.clone(),
                    "Invalid try call",
                    "try() needs at least one argument.",
                )
            },
            |e| {
                ev.err(
                    span.clone(),
                    "No try() argument succeeded",
                    format!("The last error was: {}: {}", e.summary, e.detail),
                )
            },
        ));
    }
    if name == "can" {
        let a = f.args.iter().next().ok_or_else(|| {
            ev.err(
                span.clone(),
                "Invalid can call",
                "can() takes one argument.",
            )
        })?;
        return Ok(match ev.eval(a) {
            Ok(v) if v.is_unknown() => Value::Unknown,
            Ok(_) => Value::Bool(true),
            Err(_) => Value::Bool(false),
        });
    }
    let Some(func) = lookup(name) else {
        return Err(ev.err(
            f.name.name.span(),
            format!("Call to unknown function {name:?}"),
            format!("There is no function named {name:?}.{} See the function reference in docs/language.md.", crate::diag::suggestion(name, FUNCTION_NAMES)),
        ));
    };
    if !f.args.expand_final() {
        if let Some(detail) = arity::check(name, f.args.len()) {
            return Err(ev.err(span, "Wrong number of arguments", detail));
        }
    }
    let mut args = Vec::with_capacity(f.args.len());
    // The arguments are copies: concat(local.big, local.big, ...) would hold them all.
    let mut growth = super::size::Growth::default();
    for a in f.args.iter() {
        let v = ev.eval(a)?;
        growth
            .add_value(&v)
            .map_err(|m| ev.err(a.span(), "Value too large", m))?;
        args.push(v);
    }
    if f.args.expand_final() {
        match args.pop().map(|v| v.unmarked().clone()) {
            Some(Value::List(items)) => args.extend(items),
            Some(Value::Unknown) => return Ok(Value::Unknown),
            _ => {
                return Err(ev.err(
                    span,
                    format!("Invalid expanding argument to {name}"),
                    "The argument before ... must be a list.",
                ))
            }
        }
    }
    if let Some(detail) = arity::check(name, args.len()) {
        return Err(ev.err(span, "Wrong number of arguments", detail));
    }
    if !HANDLES_UNKNOWN.contains(&name) && args.iter().any(|a| !a.is_wholly_known()) {
        let sensitive = args.iter().any(Value::contains_sensitive);
        return Ok(if sensitive {
            Value::Unknown.sensitive()
        } else {
            Value::Unknown
        });
    }
    let mut sensitive = false;
    let plain: Vec<Value> = if name == "sensitive" {
        args
    } else {
        args.iter()
            .map(|a| {
                let (v, paths) = a.deep_unmark();
                sensitive |= !paths.is_empty();
                v
            })
            .collect()
    };
    let ctx = FnCtx {
        phase: ev.phase(),
        base_dir: ev.base_dir(),
    };
    // Every string Terraform makes is in Unicode NFC (cty normalizes them), so are these.
    // An infinite number may flow on, as in Terraform; it is refused where it would be kept.
    match func(&plain, &ctx).map(nfc_value) {
        Ok(v) if super::size::check(&v).is_err() => Err(ev.err(
            span,
            format!("Error in function call {name}()"),
            super::size::too_large(),
        )),
        Ok(v) if sensitive && name != "nonsensitive" => Ok(v.sensitive()),
        // Terraform 1.0 refuses the call as redundant, which catches a wrong assumption.
        Ok(_) if !sensitive && name == "nonsensitive" => Err(ev.err(
            span,
            "Invalid function argument",
            "The given value is not sensitive, so this call is redundant.",
        )),
        Ok(v) => Ok(v),
        // The message would quote the arguments, and one of them is a secret.
        Err(_) if sensitive => Err(ev.err(
            span,
            format!("Error in function call {name}()"),
            "The call failed on a sensitive argument; its message is withheld so that the value is not shown. Check the argument's value where it is defined.",
        )),
        Err(e) => Err(ev.err(span, format!("Error in function call {name}()"), e)),
    }
}

/// `v` with every string and key in Unicode NFC.
fn nfc_value(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(super::expr::nfc(&s)),
        Value::List(items) => Value::List(items.into_iter().map(nfc_value).collect()),
        Value::Map(m) => Value::Map(
            m.into_iter()
                .map(|(k, x)| (super::expr::nfc(&k), nfc_value(x)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests;
