//! The provider trait and its request and response types.

use crate::schema::ProviderSchema;
use crate::value::Value;
use async_trait::async_trait;
use std::path::PathBuf;

/// An error from a provider: a short summary and a detail that says what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{summary}: {detail}")]
pub struct ProviderError {
    /// One line.
    pub summary: String,
    /// How to fix it, or what was observed.
    pub detail: String,
    /// What a create or update that failed part way left: the object exists and is recorded
    /// as tainted, so that the next plan replaces it instead of losing track of it.
    pub partial: Option<Box<CreateResponse>>,
}

impl ProviderError {
    /// A new error.
    pub fn new(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        ProviderError {
            summary: summary.into(),
            detail: detail.into(),
            partial: None,
        }
    }

    /// The error, with what the failed create or update left.
    #[must_use]
    pub fn with_partial(mut self, left: CreateResponse) -> Self {
        self.partial = Some(Box::new(left));
        self
    }
}

/// Configures a provider from its `provider` block.
#[derive(Debug, Clone)]
pub struct ConfigureRequest {
    /// The block's evaluated attributes.
    pub config: Value,
    /// The topology's root directory; relative paths resolve against it.
    pub root_dir: PathBuf,
}

/// Asks a provider to check a resource's configuration beyond its schema.
#[derive(Debug, Clone)]
pub struct ValidateRequest {
    /// The resource or data source type.
    pub type_name: String,
    /// The configuration; may contain unknowns.
    pub config: Value,
}

/// One problem found by validation.
#[derive(Debug, Clone)]
pub struct ValidationIssue {
    /// The attribute at fault, if one is.
    pub attribute: Option<String>,
    /// One line.
    pub summary: String,
    /// How to fix it.
    pub detail: String,
}

/// The result of validation.
#[derive(Debug, Clone, Default)]
pub struct ValidateResponse {
    /// Every problem found; empty when the configuration is valid.
    pub issues: Vec<ValidationIssue>,
    /// What the provider warns about; the configuration is valid all the same.
    pub warnings: Vec<ValidationIssue>,
}

/// Asks for the planned new state of a resource.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// The resource type.
    pub type_name: String,
    /// The current state, or `None` when the resource is to be created.
    pub prior: Option<Value>,
    /// The configuration; may contain unknowns.
    pub config: Value,
    /// The provider's private data recorded with the current state.
    pub prior_private: Vec<u8>,
}

/// The planned new state.
#[derive(Debug, Clone, Default)]
pub struct PlanResponse {
    /// The state after apply, with [`Value::Unknown`] where it is not known yet.
    pub planned: Value,
    /// Attributes whose change forces a replace.
    pub requires_replace: Vec<String>,
    /// What the provider warns about; the plan stands.
    pub warnings: Vec<ValidationIssue>,
}

/// Creates a resource.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// The resource type.
    pub type_name: String,
    /// The planned state, now wholly known in every configured attribute.
    pub planned: Value,
}

/// The state of a resource after an operation.
#[derive(Debug, Clone, Default)]
pub struct CreateResponse {
    /// The new state, wholly known.
    pub state: Value,
    /// Data the provider keeps with the instance, opaque to standby: recorded in the state
    /// and given back to the provider with every later call about the instance.
    pub private: Vec<u8>,
    /// What the provider warns about; the operation succeeded.
    pub warnings: Vec<ValidationIssue>,
}

/// Reads the real state of a resource, or of a data source.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    /// The resource type.
    pub type_name: String,
    /// The recorded state.
    pub state: Value,
    /// The provider's private data recorded with it.
    pub private: Vec<u8>,
}

/// The real state.
#[derive(Debug, Clone, Default)]
pub struct ReadResponse {
    /// `None` when the resource no longer exists.
    pub state: Option<Value>,
    /// The private data to record with it from now on.
    pub private: Vec<u8>,
    /// What the provider warns about; the read succeeded.
    pub warnings: Vec<ValidationIssue>,
}

/// Updates a resource in place.
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    /// The resource type.
    pub type_name: String,
    /// The recorded state.
    pub prior: Value,
    /// The planned state.
    pub planned: Value,
    /// The provider's private data recorded with the prior state.
    pub private: Vec<u8>,
}

/// Deletes a resource.
#[derive(Debug, Clone)]
pub struct DeleteRequest {
    /// The resource type.
    pub type_name: String,
    /// The recorded state.
    pub state: Value,
    /// The provider's private data recorded with it.
    pub private: Vec<u8>,
}

/// Asks for a recorded state written by an older schema version in the current one.
#[derive(Debug, Clone)]
pub struct UpgradeRequest {
    /// The resource type.
    pub type_name: String,
    /// The schema version the state was written with.
    pub version: u64,
    /// The recorded state, as it was recorded.
    pub state: Value,
}

/// Imports an existing object by its id.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The resource type.
    pub type_name: String,
    /// The provider-specific id.
    pub id: String,
    /// The instance's configuration, as far as it is known: what a provider needs besides
    /// the id to reach the object (a server to connect to, say).
    pub config: Value,
}

/// Reads a data source.
#[derive(Debug, Clone)]
pub struct ReadDataRequest {
    /// The data source type.
    pub type_name: String,
    /// The configuration, wholly known.
    pub config: Value,
}

/// A provider: one family of resource types with real effects.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider's name, as used in `provider "NAME"` blocks and resource type prefixes.
    fn name(&self) -> &str;

    /// Where an external provider comes from (`registry.terraform.io/hashicorp/null`);
    /// `None` for providers built into standby.
    fn source(&self) -> Option<String> {
        None
    }

    /// Every type the provider manages, with its attributes.
    fn schema(&self) -> ProviderSchema;

    /// Applies the `provider` block. Called once before any other method.
    async fn configure(&self, _req: ConfigureRequest) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Checks a configuration beyond what the schema says.
    async fn validate(&self, _req: ValidateRequest) -> Result<ValidateResponse, ProviderError> {
        Ok(ValidateResponse::default())
    }

    /// Computes the planned state. The default follows the schema; see
    /// [`crate::plan_with_schema`].
    async fn plan(&self, req: PlanRequest) -> Result<PlanResponse, ProviderError> {
        let schema = self.schema();
        let s = schema
            .resources
            .get(&req.type_name)
            .ok_or_else(|| ProviderError::new("unknown resource type", req.type_name.clone()))?;
        Ok(crate::plan_with_schema(s, req.prior.as_ref(), &req.config))
    }

    /// Creates the resource.
    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError>;

    /// Reads the resource's real state.
    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError>;

    /// Updates the resource in place.
    async fn update(&self, req: UpdateRequest) -> Result<CreateResponse, ProviderError>;

    /// Deletes the resource.
    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError>;

    /// Imports an existing object. The default reads it as [`Provider::read`] would read
    /// an instance recorded with the configuration's attributes and `id`: right for types
    /// whose configuration names the object (a database's name on a server).
    async fn import(&self, req: ImportRequest) -> Result<CreateResponse, ProviderError> {
        let mut state = match req.config {
            Value::Map(m) => m,
            _ => Default::default(),
        };
        state.insert("id".into(), Value::string(req.id.clone()));
        let missing = ProviderError::new(
            "no such object",
            format!("There is no {} with id {:?}.", req.type_name, req.id),
        );
        import_by_reading(self, &req.type_name, Value::Map(state), missing).await
    }

    /// The version of a resource type's schema, recorded with each instance's state: a state
    /// recorded by an older version goes through [`Provider::upgrade`] before any other call.
    fn schema_version(&self, _type_name: &str) -> u64 {
        0
    }

    /// Turns a state recorded with an older schema version into the current schema. The
    /// default keeps it as it is.
    async fn upgrade(&self, req: UpgradeRequest) -> Result<Value, ProviderError> {
        Ok(req.state)
    }

    /// Stops whatever the provider runs (an external provider's process); called once at the
    /// end of a run.
    async fn shutdown(&self) {}

    /// The replication capability, for providers whose resources can be failover members.
    fn replication(&self) -> Option<&dyn crate::Replication> {
        None
    }

    /// The drill capability, for providers whose failover members `standby drill` can inject
    /// faults into and write through.
    fn drill_target(&self) -> Option<&dyn crate::DrillTarget> {
        None
    }

    /// Reads a data source.
    async fn read_data(&self, req: ReadDataRequest) -> Result<CreateResponse, ProviderError> {
        Err(ProviderError::new(
            "unknown data source",
            format!("this provider has no data source {}", req.type_name),
        ))
    }
}

/// An import's result: the object that `state` names, as `provider` reads it, or `missing`
/// when the read finds nothing there.
pub async fn import_by_reading<P: Provider + ?Sized>(
    provider: &P,
    type_name: &str,
    state: Value,
    missing: ProviderError,
) -> Result<CreateResponse, ProviderError> {
    let read = provider
        .read(ReadRequest {
            type_name: type_name.to_string(),
            state,
            private: Vec::new(),
        })
        .await?;
    read.state
        .map(|state| CreateResponse {
            state,
            private: read.private,
            warnings: read.warnings,
        })
        .ok_or(missing)
}
