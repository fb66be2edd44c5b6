//! Schemas: what attributes a resource type has, and how each behaves.

use crate::provider::PlanResponse;
use crate::value::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The type of an attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttrType {
    /// A string.
    String,
    /// A number.
    Number,
    /// A boolean.
    Bool,
    /// A list of elements of one type.
    List(Box<AttrType>),
    /// A set of elements of one type.
    Set(Box<AttrType>),
    /// A map from string keys to one type.
    Map(Box<AttrType>),
    /// Any value at all.
    Any,
}

impl AttrType {
    /// Checks whether `v` conforms, converting where Terraform would (number to string and
    /// back). Returns the converted value, or a description of what was expected.
    pub fn convert(&self, v: &Value) -> Result<Value, String> {
        match (self, v) {
            (_, Value::Null | Value::Unknown) | (AttrType::Any, _) => Ok(v.clone()),
            (_, Value::Sensitive(inner)) => self.convert(inner).map(Value::sensitive),
            (AttrType::String, Value::String(_)) => Ok(v.clone()),
            (AttrType::String, Value::Number(n)) => Ok(Value::String(n.to_string())),
            (AttrType::String, Value::Bool(b)) => Ok(Value::String(b.to_string())),
            (AttrType::Number, Value::Number(_)) | (AttrType::Bool, Value::Bool(_)) => {
                Ok(v.clone())
            }
            (AttrType::Number, Value::String(s)) => crate::Number::parse(s)
                .map(Value::Number)
                .map_err(|_| self.to_string()),
            (AttrType::Bool, Value::String(s)) if s == "true" || s == "false" => {
                Ok(Value::Bool(s == "true"))
            }
            (AttrType::List(t), Value::List(items)) => items
                .iter()
                .map(|i| t.convert(i))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            // A set is kept sorted and without duplicates, as the language's sets are.
            (AttrType::Set(t), Value::List(items)) => {
                let mut out: Vec<Value> = Vec::with_capacity(items.len());
                for i in items {
                    let c = t.convert(i)?;
                    if !out.iter().any(|o| o.equals(&c)) {
                        out.push(c);
                    }
                }
                // Unknown elements would move once known: sort only known sets.
                if out.iter().all(Value::is_wholly_known) {
                    out.sort_by(Value::set_order);
                }
                Ok(Value::List(out))
            }
            (AttrType::Map(t), Value::Map(m)) => m
                .iter()
                .map(|(k, i)| t.convert(i).map(|c| (k.clone(), c)))
                .collect::<Result<BTreeMap<_, _>, _>>()
                .map(Value::Map),
            _ => Err(self.to_string()),
        }
    }
}

impl fmt::Display for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrType::String => write!(f, "string"),
            AttrType::Number => write!(f, "number"),
            AttrType::Bool => write!(f, "bool"),
            AttrType::List(t) => write!(f, "list({t})"),
            AttrType::Set(t) => write!(f, "set({t})"),
            AttrType::Map(t) => write!(f, "map({t})"),
            AttrType::Any => write!(f, "any"),
        }
    }
}

/// How one attribute behaves.
#[derive(Clone, Debug)]
pub struct Attribute {
    /// The attribute's type.
    pub ty: AttrType,
    /// The configuration must set it.
    pub required: bool,
    /// The configuration may set it.
    pub optional: bool,
    /// The provider sets it (when the configuration does not).
    pub computed: bool,
    /// A change to it cannot be applied in place: the resource is replaced.
    pub force_new: bool,
    /// Its value is never shown.
    pub sensitive: bool,
    /// A computed copy of this other attribute: whatever of that one is sensitive, is here.
    pub copies: Option<&'static str>,
    /// One line for documentation and `did you mean` messages.
    pub description: &'static str,
}

impl Attribute {
    fn new(ty: AttrType) -> Self {
        Attribute {
            ty,
            required: false,
            optional: false,
            computed: false,
            force_new: false,
            sensitive: false,
            copies: None,
            description: "",
        }
    }

    /// A required attribute.
    pub fn required(ty: AttrType) -> Self {
        Attribute {
            required: true,
            ..Self::new(ty)
        }
    }

    /// An optional attribute.
    pub fn optional(ty: AttrType) -> Self {
        Attribute {
            optional: true,
            ..Self::new(ty)
        }
    }

    /// A computed-only attribute.
    pub fn computed(ty: AttrType) -> Self {
        Attribute {
            computed: true,
            ..Self::new(ty)
        }
    }

    /// Marks the attribute as forcing replacement when it changes.
    pub fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }

    /// Marks the attribute as sensitive.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Declares the attribute a computed copy of `other`, so that the sensitive parts of
    /// `other` stay sensitive here.
    pub fn copies(mut self, other: &'static str) -> Self {
        self.copies = Some(other);
        self
    }

    /// Also lets the provider compute it when the configuration leaves it unset.
    pub fn also_computed(mut self) -> Self {
        self.computed = true;
        self
    }

    /// Sets the description.
    pub fn describe(mut self, d: &'static str) -> Self {
        self.description = d;
        self
    }
}

/// How many blocks of one nested type a configuration may have, and how they arrive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BlockNesting {
    /// At most one, as an object.
    #[default]
    Single,
    /// Any number, as a list of objects in the configuration's order.
    List,
    /// Any number, each with one label, as a map of objects by label.
    Map,
}

/// The schema of one resource type, data source or provider configuration.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// Attributes by name.
    pub attributes: BTreeMap<String, Attribute>,
    /// Nested blocks by block type: `key { name = ... }` arrives in the configuration as an
    /// attribute named after the block, shaped by its nesting.
    pub blocks: BTreeMap<String, Schema>,
    /// The nesting of each block type that is not [`BlockNesting::Single`].
    pub nesting: BTreeMap<String, BlockNesting>,
    /// How many blocks of a type the configuration must and may have (`max` 0: any number),
    /// for block types that say so, as a Terraform provider's schema does; a block type
    /// without an entry is required when it has a required argument.
    pub items: BTreeMap<String, (u64, u64)>,
}

impl Schema {
    /// `paths` (the sensitive parts of a value of this schema), extended to the attributes
    /// that copy the attributes they are in.
    pub fn with_copies(&self, paths: &[crate::AttrPath]) -> Vec<crate::AttrPath> {
        let mut out = paths.to_vec();
        for (name, a) in &self.attributes {
            if let Some(from) = a.copies {
                out.extend(paths.iter().filter_map(|p| p.rebased(from, name)));
            }
        }
        out
    }

    /// A schema from `(name, attribute)` pairs.
    pub fn new(attrs: impl IntoIterator<Item = (&'static str, Attribute)>) -> Self {
        Schema {
            attributes: attrs.into_iter().map(|(k, a)| (k.to_string(), a)).collect(),
            blocks: BTreeMap::new(),
            nesting: BTreeMap::new(),
            items: BTreeMap::new(),
        }
    }

    /// Adds a nested block type.
    pub fn with_block(mut self, name: &str, schema: Schema) -> Self {
        self.blocks.insert(name.to_string(), schema);
        self
    }

    /// True if the attribute may be set in configuration.
    pub fn is_settable(&self, name: &str) -> bool {
        self.attributes
            .get(name)
            .is_some_and(|a| a.required || a.optional)
    }
}

/// Everything a provider declares.
#[derive(Clone, Debug, Default)]
pub struct ProviderSchema {
    /// The `provider "NAME" { ... }` block's attributes.
    pub provider: Schema,
    /// Managed resource types.
    pub resources: BTreeMap<String, Schema>,
    /// Data source types.
    pub data_sources: BTreeMap<String, Schema>,
}

/// The default diff: computed attributes keep their prior value when nothing they could depend on
/// changed, and become unknown otherwise; any change to a force-new attribute requires replace.
/// Most providers call this and then fill in what they can compute early.
pub fn plan_with_schema(schema: &Schema, prior: Option<&Value>, config: &Value) -> PlanResponse {
    let mut planned = std::collections::BTreeMap::new();
    let mut requires_replace = Vec::new();
    let mut config_changed = prior.is_none();
    for (name, attr) in &schema.attributes {
        let cfg = config.get(name).cloned().unwrap_or(Value::Null);
        let old = prior
            .and_then(|p| p.get(name))
            .cloned()
            .unwrap_or(Value::Null);
        if attr.required || attr.optional {
            let differs = !(cfg.same_as(&old) || (cfg.is_null() && attr.computed));
            if prior.is_some() && differs {
                config_changed = true;
                if attr.force_new {
                    requires_replace.push(name.clone());
                }
            }
        }
    }
    let replacing = !requires_replace.is_empty();
    for (name, attr) in &schema.attributes {
        let cfg = config.get(name).cloned().unwrap_or(Value::Null);
        let old = prior
            .and_then(|p| p.get(name))
            .cloned()
            .unwrap_or(Value::Null);
        let v = if (attr.required || attr.optional) && !cfg.is_null() {
            cfg
        } else if attr.computed {
            if config_changed || replacing || prior.is_none() {
                Value::Unknown
            } else {
                old
            }
        } else {
            cfg
        };
        planned.insert(name.clone(), v);
    }
    for (name, block) in &schema.blocks {
        let cfg = config.get(name).cloned().unwrap_or(Value::Null);
        let old = prior
            .and_then(|p| p.get(name))
            .cloned()
            .unwrap_or(Value::Null);
        if prior.is_some() && !cfg.same_as(&old) && block.attributes.values().any(|a| a.force_new) {
            requires_replace.push(name.clone());
        }
        planned.insert(name.clone(), cfg);
    }
    PlanResponse {
        planned: Value::Map(planned),
        requires_replace,
        warnings: Vec::new(),
    }
}
