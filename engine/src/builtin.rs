//! The built-in `standby` provider: `standby_data`, like Terraform's `terraform_data`.
//!
//! It has no side effects. `input` is echoed to `output`; a change to `triggers_replace` replaces
//! it, which makes it useful for triggers and for benchmarking the engine alone.

use async_trait::async_trait;
use standby_provider_sdk::{
    AttrType, Attribute, CreateRequest, CreateResponse, DeleteRequest, PlanRequest, PlanResponse,
    Provider, ProviderError, ProviderSchema, ReadRequest, ReadResponse, Schema, UpdateRequest,
    Value,
};
use std::collections::BTreeMap;

/// The built-in provider.
#[derive(Debug, Default, Clone, Copy)]
pub struct StandbyProvider;

fn data_schema() -> Schema {
    Schema::new([
        (
            "input",
            Attribute::optional(AttrType::Any).describe("any value; copied to output"),
        ),
        (
            "triggers_replace",
            Attribute::optional(AttrType::Any)
                .force_new()
                .describe("a change replaces the resource"),
        ),
        (
            "output",
            Attribute::computed(AttrType::Any)
                .copies("input")
                .describe("the input, after apply"),
        ),
        (
            "id",
            Attribute::computed(AttrType::String).describe("a random UUID"),
        ),
    ])
}

#[async_trait]
impl Provider for StandbyProvider {
    fn name(&self) -> &'static str {
        "standby"
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: Schema::default(),
            resources: BTreeMap::from([("standby_data".to_string(), data_schema())]),
            data_sources: BTreeMap::new(),
        }
    }

    async fn plan(&self, req: PlanRequest) -> Result<PlanResponse, ProviderError> {
        let input = req.config.get("input").cloned().unwrap_or(Value::Null);
        let triggers = req
            .config
            .get("triggers_replace")
            .cloned()
            .unwrap_or(Value::Null);
        let prior_triggers = req
            .prior
            .as_ref()
            .and_then(|p| p.get("triggers_replace"))
            .cloned()
            .unwrap_or(Value::Null);
        let replace = req.prior.is_some()
            && !triggers.same_as(&prior_triggers)
            && !(triggers.is_null() && prior_triggers.is_null());
        let id = match (&req.prior, replace) {
            (Some(p), false) => p.get("id").cloned().unwrap_or(Value::Unknown),
            _ => Value::Unknown,
        };
        let planned = Value::object([
            ("input", input.clone()),
            ("output", input),
            ("triggers_replace", triggers),
            ("id", id),
        ]);
        Ok(PlanResponse {
            planned,
            requires_replace: if replace {
                vec!["triggers_replace".into()]
            } else {
                vec![]
            },
            warnings: Vec::new(),
        })
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let mut state = match req.planned {
            Value::Map(m) => m,
            _ => BTreeMap::new(),
        };
        state.insert("id".into(), Value::string(uuid::Uuid::new_v4().to_string()));
        let input = state.get("input").cloned().unwrap_or(Value::Null);
        state.insert("output".into(), input);
        Ok(CreateResponse {
            state: Value::Map(state),
            ..Default::default()
        })
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        Ok(ReadResponse {
            state: Some(req.state),
            ..Default::default()
        })
    }

    async fn update(&self, req: UpdateRequest) -> Result<CreateResponse, ProviderError> {
        let mut state = match req.planned {
            Value::Map(m) => m,
            _ => BTreeMap::new(),
        };
        let id = req.prior.get("id").cloned().unwrap_or(Value::Null);
        state.insert("id".into(), id);
        let input = state.get("input").cloned().unwrap_or(Value::Null);
        state.insert("output".into(), input);
        Ok(CreateResponse {
            state: Value::Map(state),
            ..Default::default()
        })
    }

    async fn delete(&self, _req: DeleteRequest) -> Result<(), ProviderError> {
        Ok(())
    }
}
