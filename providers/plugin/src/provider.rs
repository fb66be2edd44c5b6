//! A plugin as an SDK [`Provider`]: standby's lifecycle calls mapped onto the protocol's, with
//! values encoded against the schema the plugin declared.
//!
//! Terraform computes a "proposed new state" (the configuration, with computed attributes the
//! configuration leaves unset carried over from the prior state) and lets the provider plan
//! from it; apply re-plans with the final configuration, as Terraform does, which yields the
//! planned private data the apply needs.

use crate::client::Client;
use crate::cty::{self, Type};
use crate::process::{LogSink, Process};
use crate::proto::v6 as pb;
use crate::schema::{Block, ProviderSchemas, Schema};
use crate::PluginError;
use async_trait::async_trait;
use standby_provider_sdk::{
    ConfigureRequest, CreateRequest, CreateResponse, DeleteRequest, ImportRequest, PlanRequest,
    PlanResponse, Provider, ProviderError, ProviderSchema, ReadDataRequest, ReadRequest,
    ReadResponse, UpdateRequest, ValidateRequest, ValidateResponse, ValidationIssue, Value,
};
use std::path::Path;
use tokio::sync::Mutex;

/// The protocol versions standby speaks, newest first.
pub const PROTOCOLS: [u32; 2] = [6, 5];

/// A running plugin, as a provider named by its local name in the topology.
pub struct PluginProvider {
    name: String,
    client: Client,
    process: Mutex<Process>,
    schemas: ProviderSchemas,
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

/// An attribute path as standby writes it: `a.b[0]["k"]`.
fn path(p: Option<&pb::AttributePath>) -> String {
    use pb::attribute_path::step::Selector;
    let mut out = String::new();
    for s in p.map(|p| p.steps.as_slice()).unwrap_or_default() {
        match &s.selector {
            Some(Selector::AttributeName(n)) if out.is_empty() => out.push_str(n),
            Some(Selector::AttributeName(n)) => {
                out.push('.');
                out.push_str(n);
            }
            Some(Selector::ElementKeyString(k)) => out.push_str(&format!("[{k:?}]")),
            Some(Selector::ElementKeyInt(i)) => out.push_str(&format!("[{i}]")),
            None => {}
        }
    }
    out
}

/// The value at an attribute path.
fn at<'v>(v: &'v Value, p: &pb::AttributePath) -> Option<&'v Value> {
    use pb::attribute_path::step::Selector;
    p.steps.iter().try_fold(v.unmarked(), |v, s| {
        let next = match (&s.selector, v) {
            (Some(Selector::AttributeName(n) | Selector::ElementKeyString(n)), Value::Map(m)) => {
                m.get(n)
            }
            (Some(Selector::ElementKeyInt(i)), Value::List(l)) => {
                usize::try_from(*i).ok().and_then(|i| l.get(i))
            }
            _ => None,
        };
        next.map(Value::unmarked)
    })
}

/// Whether the value at `p` differs between the prior state and the plan (unknown differs).
fn changed(prior: &Value, planned: &Value, p: &pb::AttributePath) -> bool {
    match (at(prior, p), at(planned, p)) {
        (_, Some(Value::Unknown)) => true,
        (a, b) => a.unwrap_or(&Value::Null) != b.unwrap_or(&Value::Null),
    }
}

/// The provider's error diagnostics as one error; warnings do not fail a call.
fn diagnostics(name: &str, ds: &[pb::Diagnostic]) -> Result<(), ProviderError> {
    let errors: Vec<String> = ds
        .iter()
        .filter(|d| d.severity == pb::diagnostic::Severity::Error as i32)
        .map(|d| {
            let at = path(d.attribute.as_ref());
            let at = if at.is_empty() {
                String::new()
            } else {
                format!(" (at {at})")
            };
            format!("{}{at}: {}", d.summary, d.detail)
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    Err(ProviderError::new(
        format!("the provider {name} reported an error"),
        errors.join("\n"),
    ))
}

fn dynamic(v: &Value, ty: &Type) -> Result<pb::DynamicValue, ProviderError> {
    Ok(pb::DynamicValue {
        msgpack: cty::encode(v, ty)
            .map_err(|e| ProviderError::new("cannot encode a value for the provider", e.0))?,
        json: Vec::new(),
    })
}

fn undynamic(
    call: &'static str,
    d: Option<&pb::DynamicValue>,
    ty: &Type,
) -> Result<Value, ProviderError> {
    let Some(d) = d else { return Ok(Value::Null) };
    if d.msgpack.is_empty() && !d.json.is_empty() {
        let j: serde_json::Value = serde_json::from_slice(&d.json).map_err(|e| {
            ProviderError::new(
                format!("the provider sent bad JSON in {call}"),
                e.to_string(),
            )
        })?;
        return Ok(Value::from_json(&j));
    }
    if d.msgpack.is_empty() {
        return Ok(Value::Null);
    }
    cty::decode(&d.msgpack, ty).map_err(|e| {
        ProviderError::new(
            format!("the provider sent a value standby cannot read in {call}"),
            e.0,
        )
    })
}

/// Terraform's proposed new state: the configuration, with what the configuration leaves
/// unset of computed attributes taken from the prior state.
pub(crate) fn proposed(block: &Block, prior: &Value, config: &Value) -> Value {
    let get = |v: &Value, k: &str| match v {
        Value::Map(m) => m.get(k).cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    };
    if matches!(config, Value::Null) {
        return Value::Null;
    }
    let mut out = std::collections::BTreeMap::new();
    for (k, a) in &block.attributes {
        let c = get(config, k);
        out.insert(
            k.clone(),
            if a.computed && matches!(c, Value::Null) {
                get(prior, k)
            } else {
                c
            },
        );
    }
    for k in block.blocks.keys() {
        out.insert(k.clone(), get(config, k));
    }
    Value::Map(out)
}

/// The first attribute the configuration sets to a known value that the plan changed.
fn overridden(block: &Block, config: &Value, planned: &Value) -> Option<String> {
    let (Value::Map(c), Value::Map(p)) = (config.unmarked(), planned.unmarked()) else {
        return None;
    };
    block.attributes.iter().find_map(|(k, a)| {
        let cv = c.get(k).map(Value::unmarked).unwrap_or(&Value::Null);
        let pv = p.get(k).map(Value::unmarked).unwrap_or(&Value::Null);
        let set = !matches!(cv, Value::Null) && cv.is_wholly_known();
        (set && !a.computed && cv.deep_unmark().0 != pv.deep_unmark().0).then(|| k.clone())
    })
}

/// The configuration a planned value came from, as far as it shows: computed-only attributes
/// and values still unknown in computed ones are unset.
pub(crate) fn config_of(block: &Block, planned: &Value) -> Value {
    let Value::Map(m) = planned.unmarked() else {
        return planned.clone();
    };
    let mut out = std::collections::BTreeMap::new();
    for (k, a) in &block.attributes {
        let v = m.get(k).cloned().unwrap_or(Value::Null);
        let set_by_config = a.required || a.optional;
        let keep = set_by_config && !(a.computed && matches!(v, Value::Unknown));
        out.insert(k.clone(), if keep { v } else { Value::Null });
    }
    for (k, nb) in &block.blocks {
        let v = m.get(k).cloned().unwrap_or(Value::Null);
        let inner = match v {
            Value::List(items) => {
                Value::List(items.iter().map(|i| config_of(&nb.block, i)).collect())
            }
            Value::Map(_)
                if matches!(
                    nb.nesting,
                    crate::schema::Nesting::Single | crate::schema::Nesting::Group
                ) =>
            {
                config_of(&nb.block, &v)
            }
            other => other,
        };
        out.insert(k.clone(), inner);
    }
    Value::Map(out)
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
            protocol: process.protocol,
            tls: process.tls,
            client,
            process: Mutex::new(process),
            schemas,
        })
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
        let p = self.process.lock().await;
        let e = rpc_error(&p, call, s);
        let log = p.tail.text();
        ProviderError::new(
            e.to_string(),
            if log.is_empty() {
                String::new()
            } else {
                format!("its last log lines:\n{log}")
            },
        )
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
    ) -> Result<(Value, Vec<String>, Vec<u8>), ProviderError> {
        let s = self.resource(type_name)?;
        let ty = s.block.implied_type();
        let r = self
            .client
            .clone()
            .plan(pb::plan_resource_change::Request {
                type_name: type_name.to_string(),
                prior_state: Some(dynamic(prior, &ty)?),
                proposed_new_state: Some(dynamic(&proposed(&s.block, prior, config), &ty)?),
                config: Some(dynamic(config, &ty)?),
                prior_private: Vec::new(),
                provider_meta: None,
            })
            .await;
        let (r, legacy) = match r {
            Ok(r) => (r.response, r.legacy_type_system),
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
        Ok((planned, replace, r.planned_private))
    }

    async fn apply_change(
        &self,
        type_name: &str,
        prior: &Value,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let s = self.resource(type_name)?;
        let ty = s.block.implied_type();
        let config = if matches!(planned, Value::Null) {
            Value::Null
        } else {
            config_of(&s.block, planned)
        };
        // Re-plan with the final configuration, as Terraform's apply does: the plan's
        // private data travels to the apply.
        let (planned, private) = if matches!(planned, Value::Null) {
            (Value::Null, Vec::new())
        } else {
            let (p, _, private) = self.plan_change(type_name, prior, &config).await?;
            (p, private)
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
                provider_meta: None,
            })
            .await;
        let r = match r {
            Ok(r) => r.response,
            Err(st) => return Err(self.failed("ApplyResourceChange", &st).await),
        };
        diagnostics(&self.name, &r.diagnostics)?;
        undynamic("ApplyResourceChange", r.new_state.as_ref(), &ty)
    }
}

#[async_trait]
impl Provider for PluginProvider {
    fn name(&self) -> &str {
        &self.name
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
        let ty = self.schemas.provider.block.implied_type();
        let config = if matches!(req.config, Value::Null) {
            proposed(
                &self.schemas.provider.block,
                &Value::Null,
                &Value::Map(Default::default()),
            )
        } else {
            req.config
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

    async fn validate(&self, req: ValidateRequest) -> Result<ValidateResponse, ProviderError> {
        let (data, schema) = match self.schemas.resources.get(&req.type_name) {
            Some(s) => (false, s),
            None => match self.schemas.data_sources.get(&req.type_name) {
                Some(s) => (true, s),
                None => return Ok(ValidateResponse::default()),
            },
        };
        let config = Some(dynamic(&req.config, &schema.block.implied_type())?);
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
        Ok(ValidateResponse {
            issues: ds
                .iter()
                .filter(|d| d.severity == pb::diagnostic::Severity::Error as i32)
                .map(|d| ValidationIssue {
                    attribute: Some(path(d.attribute.as_ref())).filter(|p| !p.is_empty()),
                    summary: d.summary.clone(),
                    detail: d.detail.clone(),
                })
                .collect(),
        })
    }

    async fn plan(&self, req: PlanRequest) -> Result<PlanResponse, ProviderError> {
        let prior = req.prior.unwrap_or(Value::Null);
        let (planned, requires_replace, _) = self
            .plan_change(&req.type_name, &prior, &req.config)
            .await?;
        if requires_replace.is_empty() || matches!(prior, Value::Null) {
            return Ok(PlanResponse {
                planned,
                requires_replace,
            });
        }
        // A replacement creates a new object: as Terraform does, plan it as a create, so
        // that what the provider computes (a new id) is unknown rather than the old value.
        let (planned, _, _) = self
            .plan_change(&req.type_name, &Value::Null, &req.config)
            .await?;
        Ok(PlanResponse {
            planned,
            requires_replace,
        })
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let state = self
            .apply_change(&req.type_name, &Value::Null, &req.planned)
            .await?;
        Ok(CreateResponse { state })
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let schema = self.resource(&req.type_name)?;
        let ty = schema.block.implied_type();
        // As Terraform does before every refresh: the recorded state goes through
        // UpgradeResourceState as JSON, and the provider answers in its current schema.
        let up = self
            .client
            .clone()
            .upgrade(pb::upgrade_resource_state::Request {
                type_name: req.type_name.clone(),
                version: schema.version,
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
        let current = undynamic("UpgradeResourceState", up.upgraded_state.as_ref(), &ty)?;
        let r = self
            .client
            .clone()
            .read(pb::read_resource::Request {
                type_name: req.type_name,
                current_state: Some(dynamic(&current, &ty)?),
                private: Vec::new(),
                provider_meta: None,
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
        })
    }

    async fn update(&self, req: UpdateRequest) -> Result<CreateResponse, ProviderError> {
        let state = self
            .apply_change(&req.type_name, &req.prior, &req.planned)
            .await?;
        Ok(CreateResponse { state })
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        // A data source's recorded result is only forgotten.
        if !self.schemas.resources.contains_key(&req.type_name)
            && self.schemas.data_sources.contains_key(&req.type_name)
        {
            return Ok(());
        }
        self.apply_change(&req.type_name, &req.state, &Value::Null)
            .await
            .map(|_| ())
    }

    async fn import(&self, req: ImportRequest) -> Result<CreateResponse, ProviderError> {
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
            })
            .await?;
        read.state
            .map(|state| CreateResponse { state })
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
        let config = proposed(&s.block, &Value::Null, &req.config);
        let r = self
            .client
            .clone()
            .read_data(pb::read_data_source::Request {
                type_name: req.type_name,
                config: Some(dynamic(&config, &ty)?),
                provider_meta: None,
            })
            .await;
        let r = match r {
            Ok(r) => r,
            Err(st) => return Err(self.failed("ReadDataSource", &st).await),
        };
        diagnostics(&self.name, &r.diagnostics)?;
        Ok(CreateResponse {
            state: undynamic("ReadDataSource", r.state.as_ref(), &ty)?,
        })
    }
}
