//! A plugin as an SDK [`Provider`]: standby's lifecycle calls mapped onto the protocol's, with
//! values encoded against the schema the plugin declared.
//!
//! Terraform computes a "proposed new state" (the configuration, with computed attributes the
//! configuration leaves unset carried over from the prior state) and lets the provider plan
//! from it; apply re-plans with the final configuration, as Terraform does, which yields the
//! planned private data the apply needs.

use crate::client::Client;
use crate::process::{LogSink, Process};
use crate::proto::v6 as pb;
use crate::schema::{ProviderSchemas, Schema};
use crate::values::{
    changed, config_of, diagnostics, dynamic, issue, normalize, overridden, path, proposed,
    undynamic, warnings,
};
use crate::PluginError;
use async_trait::async_trait;
use standby_provider_sdk::{
    ConfigureRequest, CreateRequest, CreateResponse, DeleteRequest, ImportRequest, PlanRequest,
    PlanResponse, Provider, ProviderError, ProviderSchema, ReadDataRequest, ReadRequest,
    ReadResponse, UpdateRequest, UpgradeRequest, ValidateRequest, ValidateResponse,
    ValidationIssue, Value,
};
use std::path::Path;
use tokio::sync::Mutex;

/// A provider's planned change.
struct Planned {
    value: Value,
    /// Paths whose change forces a replacement.
    replace: Vec<String>,
    private: Vec<u8>,
    /// The provider is on the legacy SDK, whose plans Terraform tolerates.
    legacy: bool,
    warnings: Vec<ValidationIssue>,
}

/// The protocol versions standby speaks, newest first.
pub const PROTOCOLS: [u32; 2] = [6, 5];

/// A running plugin, as a provider named by its local name in the topology.
pub struct PluginProvider {
    name: String,
    source: Option<String>,
    client: Client,
    process: Mutex<Process>,
    schemas: ProviderSchemas,
    /// Why ConfigureProvider failed, when it did.
    configure_error: std::sync::Mutex<Option<String>>,
    /// The protocol version it speaks.
    pub protocol: u32,
    /// Whether the connection is mutual TLS.
    pub tls: bool,
}

impl std::fmt::Debug for PluginProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PluginProvider({}, protocol {})",
            self.name, self.protocol
        )
    }
}

fn rpc_error(p: &Process, call: &'static str, s: &tonic::Status) -> PluginError {
    PluginError::Rpc {
        call,
        detail: format!("{:?}: {}", s.code(), s.message()),
        log: p.tail.text(),
    }
}

impl PluginProvider {
    /// Starts the plugin at `exe` for the local name `name` and reads its schemas.
    pub async fn start(
        name: &str,
        exe: &Path,
        sink: LogSink,
    ) -> Result<PluginProvider, PluginError> {
        let process = Process::start(name, exe, &PROTOCOLS, sink).await?;
        let mut client = Client::new(process.protocol, process.channel.clone());
        let r = client
            .schema()
            .await
            .map_err(|s| rpc_error(&process, "GetProviderSchema", &s))?;
        diagnostics(name, &r.diagnostics).map_err(|e| PluginError::Value {
            call: "GetProviderSchema",
            detail: e.detail,
        })?;
        let schemas = ProviderSchemas::decode(&r).map_err(|e| PluginError::Value {
            call: "GetProviderSchema",
            detail: e.to_string(),
        })?;
        Ok(PluginProvider {
            name: name.to_string(),
            source: None,
            protocol: process.protocol,
            tls: process.tls,
            client,
            process: Mutex::new(process),
            schemas,
            configure_error: std::sync::Mutex::new(None),
        })
    }

    /// The provider's source address, for plans and state.
    #[must_use]
    pub fn with_source(mut self, source: String) -> Self {
        self.source = Some(source);
        self
    }

    /// Its schemas as the plugin declared them.
    pub fn schemas(&self) -> &ProviderSchemas {
        &self.schemas
    }

    fn resource(&self, type_name: &str) -> Result<&Schema, ProviderError> {
        self.schemas.resources.get(type_name).ok_or_else(|| {
            ProviderError::new(
                format!(
                    "the provider {} has no resource type {type_name}",
                    self.name
                ),
                "",
            )
        })
    }

    async fn failed(&self, call: &'static str, s: &tonic::Status) -> ProviderError {
        let mut p = self.process.lock().await;
        let e = rpc_error(&p, call, s);
        // A call that fails because the plugin died says so, with how it ended.
        let died = p
            .exited()
            .map(|st| format!("the provider process ended ({st}); "))
            .unwrap_or_default();
        ProviderError::new(
            format!("the provider {} failed in {call}", self.name),
            format!("{died}{e}"),
        )
    }

    /// ValidateProviderConfig, then ConfigureProvider; arguments the provider's schema does
    /// not have are refused, as Terraform refuses them.
    async fn configure_plugin(&self, req: ConfigureRequest) -> Result<(), ProviderError> {
        let block = &self.schemas.provider.block;
        if let Value::Map(m) = req.config.unmarked() {
            let unknown = m
                .keys()
                .find(|k| !block.attributes.contains_key(*k) && !block.blocks.contains_key(*k));
            if let Some(k) = unknown {
                return Err(ProviderError::new(
                    format!("Unsupported argument {k:?} in provider {:?}", self.name),
                    if block.attributes.is_empty() {
                        "The provider takes no arguments.".to_string()
                    } else {
                        format!(
                            "The provider's arguments are: {}.",
                            block
                                .attributes
                                .keys()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                ));
            }
        }
        let ty = block.implied_type();
        let config = if matches!(req.config, Value::Null) {
            proposed(block, &Value::Null, &Value::Map(Default::default()))
        } else {
            normalize(block, &req.config)
        };
        let v = self
            .client
            .clone()
            .validate_provider(pb::validate_provider_config::Request {
                config: Some(dynamic(&config, &ty)?),
            })
            .await;
        match v {
            Ok(r) => diagnostics(&self.name, &r.diagnostics)?,
            Err(st) => return Err(self.failed("ValidateProviderConfig", &st).await),
        }
        let r = self
            .client
            .clone()
            .configure(pb::configure_provider::Request {
                terraform_version: crate::TERRAFORM_VERSION.to_string(),
                config: Some(dynamic(&config, &ty)?),
            })
            .await;
        match r {
            Ok(r) => diagnostics(&self.name, &r.diagnostics),
            Err(st) => Err(self.failed("ConfigureProvider", &st).await),
        }
    }

    /// Refuses to call a provider whose configuration failed: Terraform stops there, and a
    /// provider called unconfigured may crash.
    fn configured(&self) -> Result<(), ProviderError> {
        match self.configure_error.lock().ok().and_then(|e| e.clone()) {
            Some(e) => Err(ProviderError::new(
                format!("the provider {} is not configured", self.name),
                e,
            )),
            None => Ok(()),
        }
    }

    /// The module's `provider_meta` value, as Terraform sends it with every resource call
    /// when the provider declares the block: standby has no `provider_meta`, so it is null of
    /// the block's type. (Frameworks such as tf-provider refuse a call without it.)
    fn meta(&self) -> Result<Option<pb::DynamicValue>, ProviderError> {
        match &self.schemas.provider_meta {
            Some(s) => Ok(Some(dynamic(&Value::Null, &s.block.implied_type())?)),
            None => Ok(None),
        }
    }

    /// Stops the plugin process cleanly.
    pub async fn stop(&self) {
        self.process.lock().await.stop().await;
    }

    async fn plan_change(
        &self,
        type_name: &str,
        prior: &Value,
        config: &Value,
        prior_private: &[u8],
    ) -> Result<Planned, ProviderError> {
        self.configured()?;
        let s = self.resource(type_name)?;
        let ty = s.block.implied_type();
        let config = &normalize(&s.block, config);
        let r = self
            .client
            .clone()
            .plan(pb::plan_resource_change::Request {
                type_name: type_name.to_string(),
                prior_state: Some(dynamic(prior, &ty)?),
                proposed_new_state: Some(dynamic(&proposed(&s.block, prior, config), &ty)?),
                config: Some(dynamic(config, &ty)?),
                prior_private: prior_private.to_vec(),
                provider_meta: self.meta()?,
            })
            .await;
        let (r, legacy) = match r {
            Ok(r) => {
                let legacy = r.legacy_type_system;
                (r, legacy)
            }
            Err(st) => return Err(self.failed("PlanResourceChange", &st).await),
        };
        diagnostics(&self.name, &r.diagnostics)?;
        let planned = undynamic("PlanResourceChange", r.planned_state.as_ref(), &ty)?;
        // Terraform's rule for a plan: what the configuration sets, the provider may not
        // change. The legacy SDK cannot keep it, and Terraform tolerates that.
        if !legacy {
            if let Some(name) = overridden(&s.block, config, &planned) {
                return Err(ProviderError::new(
                    format!("the provider {} produced an invalid plan for {type_name}", self.name),
                    format!("the planned value of {name} differs from the configuration's; this is a bug in the provider"),
                ));
            }
        }
        // As Terraform does, only paths whose value changes force the replacement (the legacy
        // SDK lists `id` too).
        let replace = r
            .requires_replace
            .iter()
            .filter(|p| changed(prior, &planned, p))
            .map(|p| path(Some(p)))
            .collect();
        Ok(Planned {
            value: planned,
            replace,
            private: r.planned_private,
            legacy,
            warnings: warnings(&r.diagnostics),
        })
    }

    async fn apply_change(
        &self,
        type_name: &str,
        prior: &Value,
        planned: &Value,
        prior_private: &[u8],
    ) -> Result<CreateResponse, ProviderError> {
        self.configured()?;
        let s = self.resource(type_name)?;
        let ty = s.block.implied_type();
        let config = if matches!(planned, Value::Null) {
            Value::Null
        } else {
            config_of(&s.block, planned)
        };
        // Re-plan with the final configuration, as Terraform's apply does: the plan's
        // private data travels to the apply. A destroy's planned private data is the prior's,
        // as Terraform's plan for a destroy gives it.
        let (planned, private) = if matches!(planned, Value::Null) {
            (Value::Null, prior_private.to_vec())
        } else {
            let p = self
                .plan_change(type_name, prior, &config, prior_private)
                .await?;
            // What is applied is what was reviewed: a provider whose final plan changes a
            // value the reviewed plan knew is refused, as Terraform refuses it (the legacy SDK
            // is tolerated, as there).
            if let (false, Err(at)) = (p.legacy, planned.known_values_kept_in(&p.value)) {
                return Err(ProviderError::new(
                    format!("the provider {} produced an inconsistent final plan for {type_name}", self.name),
                    format!("attribute {at:?} was planned with one value and now has another; this is a bug in the provider"),
                ));
            }
            (p.value, p.private)
        };
        let r = self
            .client
            .clone()
            .apply(pb::apply_resource_change::Request {
                type_name: type_name.to_string(),
                prior_state: Some(dynamic(prior, &ty)?),
                planned_state: Some(dynamic(&planned, &ty)?),
                config: Some(dynamic(&config, &ty)?),
                planned_private: private,
                provider_meta: self.meta()?,
            })
            .await;
        let r = match r {
            Ok(r) => r,
            Err(st) => return Err(self.failed("ApplyResourceChange", &st).await),
        };
        let state = undynamic("ApplyResourceChange", r.new_state.as_ref(), &ty);
        if let Err(e) = diagnostics(&self.name, &r.diagnostics) {
            // A create or update that failed part way: what the provider says exists now.
            return Err(match state {
                Ok(state) if !matches!(state, Value::Null) && !matches!(planned, Value::Null) => e
                    .with_partial(CreateResponse {
                        state,
                        private: r.private,
                        warnings: Vec::new(),
                    }),
                _ => e,
            });
        }
        Ok(CreateResponse {
            state: state?,
            private: r.private,
            warnings: warnings(&r.diagnostics),
        })
    }
}

#[async_trait]
impl Provider for PluginProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn source(&self) -> Option<String> {
        self.source.clone()
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: self.schemas.provider.block.to_sdk(),
            resources: self
                .schemas
                .resources
                .iter()
                .map(|(k, s)| (k.clone(), s.block.to_sdk()))
                .collect(),
            data_sources: self
                .schemas
                .data_sources
                .iter()
                .map(|(k, s)| (k.clone(), s.block.to_sdk()))
                .collect(),
        }
    }

    async fn shutdown(&self) {
        self.stop().await;
    }

    async fn configure(&self, req: ConfigureRequest) -> Result<(), ProviderError> {
        let r = self.configure_plugin(req).await;
        if let (Err(e), Ok(mut slot)) = (&r, self.configure_error.lock()) {
            *slot = Some(format!("{}: {}", e.summary, e.detail));
        }
        r
    }

    async fn validate(&self, req: ValidateRequest) -> Result<ValidateResponse, ProviderError> {
        let (data, schema) = match self.schemas.resources.get(&req.type_name) {
            Some(s) => (false, s),
            None => match self.schemas.data_sources.get(&req.type_name) {
                Some(s) => (true, s),
                None => return Ok(ValidateResponse::default()),
            },
        };
        let config = normalize(&schema.block, &req.config);
        let config = Some(dynamic(&config, &schema.block.implied_type())?);
        let mut c = self.client.clone();
        let ds = if data {
            c.validate_data(pb::validate_data_resource_config::Request {
                type_name: req.type_name,
                config,
            })
            .await
            .map(|r| r.diagnostics)
        } else {
            c.validate_resource(pb::validate_resource_config::Request {
                type_name: req.type_name,
                config,
            })
            .await
            .map(|r| r.diagnostics)
        };
        let ds = match ds {
            Ok(ds) => ds,
            Err(st) => return Err(self.failed("ValidateResourceConfig", &st).await),
        };
        let error = |d: &&pb::Diagnostic| d.severity == pb::diagnostic::Severity::Error as i32;
        Ok(ValidateResponse {
            issues: ds.iter().filter(error).map(issue).collect(),
            warnings: warnings(&ds),
        })
    }

    async fn plan(&self, req: PlanRequest) -> Result<PlanResponse, ProviderError> {
        let prior = req.prior.unwrap_or(Value::Null);
        let first = self
            .plan_change(&req.type_name, &prior, &req.config, &req.prior_private)
            .await?;
        if first.replace.is_empty() || matches!(prior, Value::Null) {
            return Ok(PlanResponse {
                planned: first.value,
                requires_replace: first.replace,
                warnings: first.warnings,
            });
        }
        // A replacement creates a new object: as Terraform does, plan it as a create, so
        // that what the provider computes (a new id) is unknown rather than the old value.
        let create = self
            .plan_change(&req.type_name, &Value::Null, &req.config, &[])
            .await?;
        Ok(PlanResponse {
            planned: create.value,
            requires_replace: first.replace,
            warnings: create.warnings,
        })
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        self.apply_change(&req.type_name, &Value::Null, &req.planned, &[])
            .await
    }

    fn schema_version(&self, type_name: &str) -> u64 {
        self.schemas
            .resources
            .get(type_name)
            .map_or(0, |s| u64::try_from(s.version).unwrap_or(0))
    }

    async fn upgrade(&self, req: UpgradeRequest) -> Result<Value, ProviderError> {
        self.configured()?;
        let ty = self.resource(&req.type_name)?.block.implied_type();
        // The recorded state goes as JSON, as Terraform sends it; the provider answers in
        // its current schema.
        let up = self
            .client
            .clone()
            .upgrade(pb::upgrade_resource_state::Request {
                type_name: req.type_name.clone(),
                version: i64::try_from(req.version).unwrap_or(i64::MAX),
                raw_state: Some(pb::RawState {
                    json: serde_json::to_vec(&req.state.deep_unmark().0.to_json())
                        .unwrap_or_default(),
                    flatmap: Default::default(),
                }),
            })
            .await;
        let up = match up {
            Ok(r) => r,
            Err(st) => return Err(self.failed("UpgradeResourceState", &st).await),
        };
        diagnostics(&self.name, &up.diagnostics)?;
        undynamic("UpgradeResourceState", up.upgraded_state.as_ref(), &ty)
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        self.configured()?;
        let ty = self.resource(&req.type_name)?.block.implied_type();
        let r = self
            .client
            .clone()
            .read(pb::read_resource::Request {
                type_name: req.type_name,
                current_state: Some(dynamic(&req.state, &ty)?),
                private: req.private,
                provider_meta: self.meta()?,
            })
            .await;
        let r = match r {
            Ok(r) => r,
            Err(st) => return Err(self.failed("ReadResource", &st).await),
        };
        diagnostics(&self.name, &r.diagnostics)?;
        let v = undynamic("ReadResource", r.new_state.as_ref(), &ty)?;
        Ok(ReadResponse {
            state: (!matches!(v, Value::Null)).then_some(v),
            private: r.private,
            warnings: warnings(&r.diagnostics),
        })
    }

    async fn update(&self, req: UpdateRequest) -> Result<CreateResponse, ProviderError> {
        self.apply_change(&req.type_name, &req.prior, &req.planned, &req.private)
            .await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        // A data source's recorded result is only forgotten.
        if !self.schemas.resources.contains_key(&req.type_name)
            && self.schemas.data_sources.contains_key(&req.type_name)
        {
            return Ok(());
        }
        self.apply_change(&req.type_name, &req.state, &Value::Null, &req.private)
            .await
            .map(|_| ())
    }

    async fn import(&self, req: ImportRequest) -> Result<CreateResponse, ProviderError> {
        self.configured()?;
        let ty = self.resource(&req.type_name)?.block.implied_type();
        let r = self
            .client
            .clone()
            .import(pb::import_resource_state::Request {
                type_name: req.type_name.clone(),
                id: req.id.clone(),
            })
            .await;
        let r = match r {
            Ok(r) => r,
            Err(st) => return Err(self.failed("ImportResourceState", &st).await),
        };
        diagnostics(&self.name, &r.diagnostics)?;
        let Some(imported) = r
            .imported_resources
            .iter()
            .find(|i| i.type_name == req.type_name)
        else {
            return Err(ProviderError::new(
                "nothing imported",
                format!(
                    "the provider {} imported no {} for id {:?}",
                    self.name, req.type_name, req.id
                ),
            ));
        };
        let state = undynamic("ImportResourceState", imported.state.as_ref(), &ty)?;
        // As Terraform does, the imported object is read before it is recorded.
        let read = self
            .read(ReadRequest {
                type_name: req.type_name.clone(),
                state,
                private: imported.private.clone(),
            })
            .await?;
        read.state
            .map(|state| CreateResponse {
                state,
                private: read.private,
                warnings: warnings(&r.diagnostics)
                    .into_iter()
                    .chain(read.warnings)
                    .collect(),
            })
            .ok_or_else(|| {
                ProviderError::new(
                    "no such object",
                    format!("There is no {} with id {:?}.", req.type_name, req.id),
                )
            })
    }

    async fn read_data(&self, req: ReadDataRequest) -> Result<CreateResponse, ProviderError> {
        let s = self
            .schemas
            .data_sources
            .get(&req.type_name)
            .ok_or_else(|| {
                ProviderError::new(
                    "unknown data source",
                    format!(
                        "the provider {} has no data source {}",
                        self.name, req.type_name
                    ),
                )
            })?;
        let ty = s.block.implied_type();
        self.configured()?;
        let config = proposed(&s.block, &Value::Null, &normalize(&s.block, &req.config));
        let r = self
            .client
            .clone()
            .read_data(pb::read_data_source::Request {
                type_name: req.type_name,
                config: Some(dynamic(&config, &ty)?),
                provider_meta: self.meta()?,
            })
            .await;
        let r = match r {
            Ok(r) => r,
            Err(st) => return Err(self.failed("ReadDataSource", &st).await),
        };
        diagnostics(&self.name, &r.diagnostics)?;
        Ok(CreateResponse {
            state: undynamic("ReadDataSource", r.state.as_ref(), &ty)?,
            private: Vec::new(),
            warnings: warnings(&r.diagnostics),
        })
    }
}
