//! A provider's schemas as the protocol sends them (the protocol 6 shape, which is a superset
//! of 5's), decoded once per run: blocks with attributes of cty types, attributes with nested
//! object types (protocol 6), and nested blocks with their nesting mode. Each gives the cty
//! type its values travel as, and an SDK schema for the engine.

use crate::cty::Type;
use crate::proto::v6 as pb;
use standby_provider_sdk::{
    AttrType, Attribute as SdkAttribute, BlockNesting, Schema as SdkSchema,
};
use std::collections::BTreeMap;

/// How a nested block or nested attribute repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// One, or none (an object that may be null).
    Single,
    /// One, always present (its attributes may be null).
    Group,
    /// A list.
    List,
    /// A set.
    Set,
    /// A map by label.
    Map,
}

/// An attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// Its type; for a nested attribute, the type its object implies.
    pub ty: Type,
    /// Protocol 6's nested attributes: the object's attributes and how it repeats.
    pub nested: Option<(BTreeMap<String, Attribute>, Nesting)>,
    /// Set by the configuration.
    pub required: bool,
    /// May be set by the configuration.
    pub optional: bool,
    /// Set by the provider.
    pub computed: bool,
    /// Never shown.
    pub sensitive: bool,
}

/// A nested block type.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedBlock {
    /// The block's contents.
    pub block: Block,
    /// How it repeats.
    pub nesting: Nesting,
    /// At least this many.
    pub min_items: i64,
    /// At most this many (0: no limit).
    pub max_items: i64,
}

/// A block: a resource's, a data source's or the provider's configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Block {
    /// Attributes by name.
    pub attributes: BTreeMap<String, Attribute>,
    /// Nested block types by name.
    pub blocks: BTreeMap<String, NestedBlock>,
}

/// A versioned schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    /// The schema version, which state records (see UpgradeResourceState).
    pub version: i64,
    /// The top-level block.
    pub block: Block,
}

/// Every schema of a provider.
#[derive(Debug, Clone, Default)]
pub struct ProviderSchemas {
    /// The provider block's.
    pub provider: Schema,
    /// Resource types'.
    pub resources: BTreeMap<String, Schema>,
    /// Data sources'.
    pub data_sources: BTreeMap<String, Schema>,
    /// The `provider_meta` block's, when the provider declares one.
    pub provider_meta: Option<Schema>,
}

/// Why a schema could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {detail}")]
pub struct SchemaError {
    /// Where: `resource TYPE`, attribute path.
    pub at: String,
    /// What.
    pub detail: String,
}

fn nesting_of_block(n: i32) -> Option<Nesting> {
    use pb::schema::nested_block::NestingMode as M;
    match M::try_from(n).ok()? {
        M::Single => Some(Nesting::Single),
        M::Group => Some(Nesting::Group),
        M::List => Some(Nesting::List),
        M::Set => Some(Nesting::Set),
        M::Map => Some(Nesting::Map),
        M::Invalid => None,
    }
}

fn nesting_of_object(n: i32) -> Option<Nesting> {
    use pb::schema::object::NestingMode as M;
    match M::try_from(n).ok()? {
        M::Single => Some(Nesting::Single),
        M::List => Some(Nesting::List),
        M::Set => Some(Nesting::Set),
        M::Map => Some(Nesting::Map),
        M::Invalid => None,
    }
}

/// The type of a repeated object.
fn repeated(object: Type, nesting: Nesting) -> Type {
    match nesting {
        Nesting::Single | Nesting::Group => object,
        Nesting::List => Type::List(Box::new(object)),
        Nesting::Set => Type::Set(Box::new(object)),
        Nesting::Map => Type::Map(Box::new(object)),
    }
}

fn attribute(a: &pb::schema::Attribute, at: &str) -> Result<Attribute, SchemaError> {
    let fail = |detail: String| SchemaError {
        at: format!("{at}.{}", a.name),
        detail,
    };
    let nested = match &a.nested_type {
        Some(o) => {
            let nesting =
                nesting_of_object(o.nesting).ok_or_else(|| fail("no nesting mode".into()))?;
            let attrs = o
                .attributes
                .iter()
                .map(|x| Ok((x.name.clone(), attribute(x, &format!("{at}.{}", a.name))?)))
                .collect::<Result<BTreeMap<_, _>, SchemaError>>()?;
            Some((attrs, nesting))
        }
        None => None,
    };
    let ty = match &nested {
        Some((attrs, nesting)) => repeated(
            Type::Object(
                attrs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.ty.clone()))
                    .collect(),
            ),
            *nesting,
        ),
        None => Type::from_json(&a.r#type).map_err(|e| fail(e.0))?,
    };
    Ok(Attribute {
        ty,
        nested,
        required: a.required,
        optional: a.optional,
        computed: a.computed,
        sensitive: a.sensitive,
    })
}

fn block(b: &pb::schema::Block, at: &str) -> Result<Block, SchemaError> {
    let attributes = b
        .attributes
        .iter()
        .map(|a| Ok((a.name.clone(), attribute(a, at)?)))
        .collect::<Result<_, SchemaError>>()?;
    let blocks = b
        .block_types
        .iter()
        .map(|nb| {
            let here = format!("{at}.{}", nb.type_name);
            let nesting = nesting_of_block(nb.nesting).ok_or_else(|| SchemaError {
                at: here.clone(),
                detail: "no nesting mode".into(),
            })?;
            let inner = nb.block.as_ref().map(|b| block(b, &here)).transpose()?;
            Ok((
                nb.type_name.clone(),
                NestedBlock {
                    block: inner.unwrap_or_default(),
                    nesting,
                    min_items: nb.min_items,
                    max_items: nb.max_items,
                },
            ))
        })
        .collect::<Result<_, SchemaError>>()?;
    Ok(Block { attributes, blocks })
}

fn schema(s: Option<&pb::Schema>, at: &str) -> Result<Schema, SchemaError> {
    let Some(s) = s else {
        return Ok(Schema::default());
    };
    Ok(Schema {
        version: s.version,
        block: s
            .block
            .as_ref()
            .map(|b| block(b, at))
            .transpose()?
            .unwrap_or_default(),
    })
}

impl ProviderSchemas {
    /// From GetProviderSchema's response.
    pub(crate) fn decode(r: &pb::get_provider_schema::Response) -> Result<Self, SchemaError> {
        let map = |m: &std::collections::HashMap<String, pb::Schema>, kind: &str| {
            m.iter()
                .map(|(k, s)| Ok((k.clone(), schema(Some(s), &format!("{kind} {k}"))?)))
                .collect::<Result<BTreeMap<_, _>, SchemaError>>()
        };
        Ok(ProviderSchemas {
            provider: schema(r.provider.as_ref(), "provider")?,
            resources: map(&r.resource_schemas, "resource")?,
            data_sources: map(&r.data_source_schemas, "data source")?,
            provider_meta: match &r.provider_meta {
                Some(s) => Some(schema(Some(s), "provider_meta")?),
                None => None,
            },
        })
    }
}

impl Block {
    /// The object type its values have.
    pub fn implied_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|(k, a)| (k.clone(), a.ty.clone()))
            .collect();
        for (k, nb) in &self.blocks {
            attrs.insert(k.clone(), repeated(nb.block.implied_type(), nb.nesting));
        }
        Type::Object(attrs)
    }

    /// The engine's view: attribute types it can check (objects and tuples are left to the
    /// provider), nested blocks as blocks.
    pub fn to_sdk(&self) -> SdkSchema {
        let attributes = self
            .attributes
            .iter()
            .map(|(k, a)| {
                let mut s = SdkAttribute::optional(sdk_type(&a.ty));
                s.required = a.required;
                s.optional = a.optional;
                s.computed = a.computed;
                s.sensitive = a.sensitive;
                (k.clone(), s)
            })
            .collect();
        let blocks = self
            .blocks
            .iter()
            .map(|(k, nb)| (k.clone(), nb.block.to_sdk()))
            .collect();
        let nesting = self
            .blocks
            .iter()
            .filter_map(|(k, nb)| {
                let n = match nb.nesting {
                    Nesting::List | Nesting::Set => BlockNesting::List,
                    Nesting::Map => BlockNesting::Map,
                    Nesting::Single | Nesting::Group => return None,
                };
                Some((k.clone(), n))
            })
            .collect();
        let items = self
            .blocks
            .iter()
            .map(|(k, nb)| {
                let count = |n: i64| u64::try_from(n).unwrap_or(0);
                (k.clone(), (count(nb.min_items), count(nb.max_items)))
            })
            .collect();
        SdkSchema {
            attributes,
            blocks,
            nesting,
            items,
        }
    }
}

fn sdk_type(t: &Type) -> AttrType {
    match t {
        Type::String => AttrType::String,
        Type::Number => AttrType::Number,
        Type::Bool => AttrType::Bool,
        Type::List(e) => AttrType::List(Box::new(sdk_type(e))),
        Type::Set(e) => AttrType::Set(Box::new(sdk_type(e))),
        Type::Map(e) => AttrType::Map(Box::new(sdk_type(e))),
        Type::Dynamic | Type::Object(_) | Type::Tuple(_) => AttrType::Any,
    }
}
