//! Type constraints of variables: `string`, `list(number)`, `object({ a = string })`, ...

use hcl_edit::expr::{Expression, ObjectKey};
use std::collections::BTreeMap;
use std::fmt;

/// A variable's type constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeConstraint {
    /// Anything.
    Any,
    /// A string.
    String,
    /// A number.
    Number,
    /// A bool.
    Bool,
    /// `list(T)`.
    List(Box<TypeConstraint>),
    /// `set(T)`.
    Set(Box<TypeConstraint>),
    /// `map(T)`.
    Map(Box<TypeConstraint>),
    /// `object({ name = T, ... })`; `optional(T)` attributes are marked `true`.
    Object(BTreeMap<String, (TypeConstraint, bool)>),
    /// `tuple([T, ...])`.
    Tuple(Vec<TypeConstraint>),
}

impl TypeConstraint {
    /// Parses a type expression, or says what is wrong with it.
    pub fn parse(expr: &Expression) -> Result<Self, String> {
        match expr {
            Expression::Variable(v) => match v.value().as_str() {
                "any" => Ok(Self::Any),
                "string" => Ok(Self::String),
                "number" => Ok(Self::Number),
                "bool" => Ok(Self::Bool),
                other => Err(format!(
                    "{other:?} is not a type; use string, number, bool, list(T), set(T), map(T), object({{...}}), tuple([...]) or any"
                )),
            },
            Expression::FuncCall(call) => {
                let name = call.name.name.value().as_str();
                let arg = call.args.iter().next().ok_or_else(|| format!("{name}(...) needs one argument"))?;
                match name {
                    "list" => Ok(Self::List(Box::new(Self::parse(arg)?))),
                    "set" => Ok(Self::Set(Box::new(Self::parse(arg)?))),
                    "map" => Ok(Self::Map(Box::new(Self::parse(arg)?))),
                    "tuple" => match arg {
                        Expression::Array(a) => Ok(Self::Tuple(a.iter().map(Self::parse).collect::<Result<_, _>>()?)),
                        _ => Err("tuple takes a list of types: tuple([string, number])".into()),
                    },
                    "object" => match arg {
                        Expression::Object(o) => {
                            let mut attrs = BTreeMap::new();
                            for (k, v) in o.iter() {
                                let key = match k {
                                    ObjectKey::Ident(i) => i.value().to_string(),
                                    ObjectKey::Expression(Expression::String(s)) => s.value().to_string(),
                                    ObjectKey::Expression(_) => return Err("object attribute names must be plain names".into()),
                                };
                                let (t, optional) = match v.expr() {
                                    Expression::FuncCall(c) if c.name.name.value().as_str() == "optional" => {
                                        let inner = c.args.iter().next().ok_or("optional(...) needs a type")?;
                                        (Self::parse(inner)?, true)
                                    }
                                    other => (Self::parse(other)?, false),
                                };
                                attrs.insert(key, (t, optional));
                            }
                            Ok(Self::Object(attrs))
                        }
                        _ => Err("object takes an object of types: object({ name = string })".into()),
                    },
                    other => Err(format!("{other}(...) is not a type constructor")),
                }
            }
            _ => Err("a type must be a type keyword such as string, or a constructor such as list(string)".into()),
        }
    }
}

impl fmt::Display for TypeConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => write!(f, "any"),
            Self::String => write!(f, "string"),
            Self::Number => write!(f, "number"),
            Self::Bool => write!(f, "bool"),
            Self::List(t) => write!(f, "list({t})"),
            Self::Set(t) => write!(f, "set({t})"),
            Self::Map(t) => write!(f, "map({t})"),
            Self::Tuple(ts) => {
                write!(f, "tuple([")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{t}")?;
                }
                write!(f, "])")
            }
            Self::Object(attrs) => {
                write!(f, "object({{")?;
                for (i, (k, (t, opt))) in attrs.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    if *opt {
                        write!(f, "{k} = optional({t})")?;
                    } else {
                        write!(f, "{k} = {t}")?;
                    }
                }
                write!(f, "}})")
            }
        }
    }
}
