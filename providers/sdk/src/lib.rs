//! The provider SDK for standby.
//!
//! A provider is an in-process plugin that manages one family of resource types. The engine talks
//! to it only through the [`Provider`] trait: every method is async, takes one request struct and
//! returns one response struct, so that new fields can be added without breaking providers.
//!
//! Values cross the boundary as [`Value`], standby's own value type. Values handed to a provider
//! never carry sensitivity marks; the engine strips them before the call and re-applies them from
//! the schema and the configuration afterwards.

#![warn(missing_docs)]

mod drill;
mod number;
mod number_fmt;
mod path;
mod provider;
mod replication;
mod schema;
mod value;

pub use drill::{DrillSession, DrillTarget, Held, Surface, WriteOutcome};
pub use number::{Number, NumberError, LITERAL_PRECISION};
pub use number_fmt::Precision;
pub use path::{AttrPath, PathStep};
pub use provider::{
    import_by_reading, ConfigureRequest, CreateRequest, CreateResponse, DeleteRequest,
    ImportRequest, PlanRequest, PlanResponse, Provider, ProviderError, ReadDataRequest,
    ReadRequest, ReadResponse, UpdateRequest, UpgradeRequest, ValidateRequest, ValidateResponse,
    ValidationIssue,
};
pub use replication::{
    Checksums, FenceOutcome, Member, MemberStatus, Mode as ReplicationMode, Replication, Role,
};
pub use schema::{plan_with_schema, AttrType, Attribute, BlockNesting, ProviderSchema, Schema};
pub use value::Value;
