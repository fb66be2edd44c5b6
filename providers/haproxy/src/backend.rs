//! `haproxy_backend`.

use crate::runtime::{command, parse_servers_state};
use async_trait::async_trait;
use standby_provider_sdk::{
    AttrType, Attribute, CreateRequest, CreateResponse, DeleteRequest, Provider, ProviderError,
    ProviderSchema, ReadRequest, ReadResponse, Schema, UpdateRequest, Value,
};
use std::collections::BTreeMap;

/// The HAProxy provider.
#[derive(Debug, Default, Clone, Copy)]
pub struct HaproxyProvider;

fn schema() -> Schema {
    Schema::new([
        (
            "socket",
            Attribute::required(AttrType::String)
                .describe("the admin socket: a unix path or host:port, with level admin"),
        ),
        ("backend", Attribute::required(AttrType::String).force_new()),
        (
            "servers",
            Attribute::required(AttrType::Map(Box::new(AttrType::String)))
                .describe("server name to address:port; addresses are set at runtime"),
        ),
        (
            "active",
            Attribute::required(AttrType::List(Box::new(AttrType::String)))
                .describe("the servers that take traffic; the others go to maintenance"),
        ),
        (
            "shutdown_sessions",
            Attribute::optional(AttrType::Bool)
                .describe("end the sessions of servers put in maintenance"),
        ),
        ("id", Attribute::computed(AttrType::String)),
    ])
}

struct Spec {
    socket: String,
    backend: String,
    servers: BTreeMap<String, String>,
    active: Vec<String>,
    shutdown: bool,
}

fn spec(v: &Value) -> Result<Spec, ProviderError> {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_default()
    };
    let servers: BTreeMap<String, String> = match v.get("servers") {
        Some(Value::Map(m)) => m
            .iter()
            .filter_map(|(k, x)| x.as_str().map(|a| (k.clone(), a.to_string())))
            .collect(),
        _ => BTreeMap::new(),
    };
    let active: Vec<String> = match v.get("active") {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    if let Some(unknown) = active.iter().find(|a| !servers.contains_key(*a)) {
        return Err(ProviderError::new(
            format!("active server {unknown:?} is not in servers"),
            format!(
                "servers declares {}",
                servers.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(Spec {
        socket: s("socket"),
        backend: s("backend"),
        servers,
        active,
        shutdown: v
            .get("shutdown_sessions")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

async fn run(sock: &str, cmd: &str) -> Result<(), ProviderError> {
    let out = command(sock, cmd).await?;
    let t = out.trim();
    if t.is_empty()
        || t.starts_with("IP changed")
        || t.starts_with("no need to change")
        || t.contains("port changed")
        || t.starts_with("IP changed from")
    {
        return Ok(());
    }
    if t.starts_with("No such") || t.contains("No such server") || t.contains("No such backend") {
        return Err(ProviderError::new(format!("HAProxy has no such backend or server ({cmd})"), format!("{t}. Declare the backend and its servers in haproxy.cfg; standby changes their addresses and states at runtime.")));
    }
    // Other answers are informational (for example the sessions that were shut down).
    Ok(())
}

async fn apply(s: &Spec) -> Result<(), ProviderError> {
    for (name, addr) in &s.servers {
        let (host, port) = addr.rsplit_once(':').ok_or_else(|| {
            ProviderError::new(
                format!("invalid address for server {name}"),
                format!("{addr:?} must be address:port"),
            )
        })?;
        run(
            &s.socket,
            &format!("set server {}/{name} addr {host} port {port}", s.backend),
        )
        .await?;
    }
    // Make before break: enable the new servers, then drain the others.
    for name in &s.active {
        run(
            &s.socket,
            &format!("set server {}/{name} state ready", s.backend),
        )
        .await?;
    }
    for name in s.servers.keys().filter(|n| !s.active.contains(n)) {
        run(
            &s.socket,
            &format!("set server {}/{name} state maint", s.backend),
        )
        .await?;
        if s.shutdown {
            run(
                &s.socket,
                &format!("shutdown sessions server {}/{name}", s.backend),
            )
            .await?;
        }
    }
    Ok(())
}

fn with_id(planned: Value, s: &Spec) -> Value {
    let mut m = match planned {
        Value::Map(m) => m,
        _ => BTreeMap::new(),
    };
    m.insert(
        "id".into(),
        Value::string(format!("{}#{}", s.socket, s.backend)),
    );
    Value::Map(m)
}

#[async_trait]
impl Provider for HaproxyProvider {
    fn name(&self) -> &'static str {
        "haproxy"
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: Schema::default(),
            resources: BTreeMap::from([("haproxy_backend".to_string(), schema())]),
            data_sources: BTreeMap::new(),
        }
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let s = spec(&req.planned)?;
        apply(&s).await?;
        Ok(CreateResponse {
            state: with_id(req.planned, &s),
        })
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let s = spec(&req.state)?;
        let text = command(&s.socket, &format!("show servers state {}", s.backend)).await?;
        let states = parse_servers_state(&text, &s.backend);
        if states.is_empty() {
            return Ok(ReadResponse { state: None });
        }
        let mut m = match req.state {
            Value::Map(m) => m,
            _ => BTreeMap::new(),
        };
        let servers: BTreeMap<String, Value> = states
            .iter()
            .filter(|st| s.servers.contains_key(&st.name))
            .map(|st| {
                (
                    st.name.clone(),
                    Value::string(format!("{}:{}", st.addr, st.port)),
                )
            })
            .collect();
        let active: Vec<Value> = states
            .iter()
            .filter(|st| st.enabled && s.servers.contains_key(&st.name))
            .map(|st| Value::string(st.name.clone()))
            .collect();
        m.insert("servers".into(), Value::Map(servers));
        m.insert("active".into(), Value::List(active));
        Ok(ReadResponse {
            state: Some(Value::Map(m)),
        })
    }

    async fn update(&self, req: UpdateRequest) -> Result<CreateResponse, ProviderError> {
        self.create(CreateRequest {
            type_name: req.type_name,
            planned: req.planned,
        })
        .await
    }

    async fn delete(&self, _req: DeleteRequest) -> Result<(), ProviderError> {
        // The backend belongs to haproxy.cfg: forgetting it leaves the servers as they are.
        Ok(())
    }

    async fn plan(
        &self,
        req: standby_provider_sdk::PlanRequest,
    ) -> Result<standby_provider_sdk::PlanResponse, ProviderError> {
        let mut resp =
            standby_provider_sdk::plan_with_schema(&schema(), req.prior.as_ref(), &req.config);
        // `active` is a set: compare it sorted, as read returns it.
        if let Value::Map(m) = &mut resp.planned {
            if let Some(Value::List(l)) = m.get_mut("active") {
                l.sort_by_key(|x| x.as_str().unwrap_or_default().to_string());
            }
            if resp.requires_replace.is_empty() {
                if let Some(p) = &req.prior {
                    m.insert("id".into(), p.get("id").cloned().unwrap_or(Value::Unknown));
                }
            }
        }
        Ok(resp)
    }
}
