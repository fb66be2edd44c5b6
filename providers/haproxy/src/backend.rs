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
    if let Some((_, e)) = problems(v).into_iter().next() {
        return Err(ProviderError::new("invalid haproxy_backend", e));
    }
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

/// What HAProxy answers when a command worked; anything else is an error.
#[derive(Clone, Copy)]
enum Success {
    /// `set server B/S addr A port P`: "IP changed from …" or "no need to change the addr …".
    AddrSet,
    /// `set server … state …` and `shutdown sessions server …`: nothing.
    Silent,
}

fn succeeded(success: Success, answer: &str) -> bool {
    match success {
        Success::AddrSet => {
            answer.starts_with("IP changed from")
                || answer.starts_with("no need to change the addr")
        }
        Success::Silent => answer.is_empty(),
    }
}

async fn run(sock: &str, cmd: &str, success: Success) -> Result<(), ProviderError> {
    let out = command(sock, cmd).await?;
    let t = out.trim();
    if succeeded(success, t) {
        return Ok(());
    }
    if t.starts_with("No such") {
        return Err(ProviderError::new(format!("HAProxy has no such backend or server ({cmd})"), format!("{t}. Declare the backend and its servers in haproxy.cfg; standby changes their addresses and states at runtime.")));
    }
    Err(ProviderError::new(
        format!("HAProxy refused `{cmd}`"),
        format!("it answered {t:?}"),
    ))
}

/// A HAProxy proxy or server name: letters, digits, `-`, `_`, `.` and `:`, as haproxy.cfg
/// allows; anything else could end the runtime command and start another.
fn check_name(what: &str, name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        Ok(())
    } else {
        Err(format!(
            "{what} {name:?} is not a HAProxy name: use letters, digits, `-`, `_`, `.` and `:` only"
        ))
    }
}

/// A server address as `set server … addr` takes it: an IP literal and a port from 1 to
/// 65535 (`[v6]:port` for IPv6). HAProxy resolves no host names at runtime.
fn parse_addr(name: &str, addr: &str) -> Result<(std::net::IpAddr, u16), String> {
    match addr.parse::<std::net::SocketAddr>() {
        Ok(a) if a.port() != 0 => Ok((a.ip(), a.port())),
        _ => Err(format!(
            "server {name}: {addr:?} is not IP:PORT (a port from 1 to 65535; `[::1]:5432` for IPv6; HAProxy takes no host names at runtime)"
        )),
    }
}

/// Every problem with a configuration's names and addresses, by attribute; unknown values
/// (known only after apply) are checked when they are known.
fn problems(v: &Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(b) = v.get("backend").and_then(Value::as_str) {
        if let Err(e) = check_name("backend", b) {
            out.push(("backend", e));
        }
    }
    if let Some(Value::Map(m)) = v.get("servers") {
        for (name, addr) in m {
            if let Err(e) = check_name("server", name) {
                out.push(("servers", e));
            }
            if let Some(a) = addr.as_str() {
                if let Err(e) = parse_addr(name, a) {
                    out.push(("servers", e));
                }
            }
        }
    }
    out
}

async fn apply(s: &Spec) -> Result<(), ProviderError> {
    for (name, addr) in &s.servers {
        let (ip, port) = parse_addr(name, addr)
            .map_err(|e| ProviderError::new(format!("invalid address for server {name}"), e))?;
        run(
            &s.socket,
            &format!("set server {}/{name} addr {ip} port {port}", s.backend),
            Success::AddrSet,
        )
        .await?;
    }
    // Make before break: enable the new servers, then drain the others.
    for name in &s.active {
        run(
            &s.socket,
            &format!("set server {}/{name} state ready", s.backend),
            Success::Silent,
        )
        .await?;
    }
    for name in s.servers.keys().filter(|n| !s.active.contains(n)) {
        run(
            &s.socket,
            &format!("set server {}/{name} state maint", s.backend),
            Success::Silent,
        )
        .await?;
        if s.shutdown {
            run(
                &s.socket,
                &format!("shutdown sessions server {}/{name}", s.backend),
                Success::Silent,
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
            ..Default::default()
        })
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let s = spec(&req.state)?;
        let text = command(&s.socket, &format!("show servers state {}", s.backend)).await?;
        let states = parse_servers_state(&text, &s.backend);
        if states.is_empty() {
            return Ok(ReadResponse {
                state: None,
                ..Default::default()
            });
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
                    // `[v6]:port` for IPv6, as the configuration spells it.
                    Value::string(match st.addr.parse::<std::net::IpAddr>() {
                        Ok(ip) => std::net::SocketAddr::new(ip, st.port).to_string(),
                        Err(_) => format!("{}:{}", st.addr, st.port),
                    }),
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
            ..Default::default()
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

    async fn validate(
        &self,
        req: standby_provider_sdk::ValidateRequest,
    ) -> Result<standby_provider_sdk::ValidateResponse, ProviderError> {
        let issues = problems(&req.config)
            .into_iter()
            .map(|(attr, e)| standby_provider_sdk::ValidationIssue {
                attribute: Some(attr.into()),
                summary: e,
                detail: "standby sends names and addresses to HAProxy's runtime API as commands, so only what HAProxy itself accepts is allowed.".into(),
            })
            .collect();
        Ok(standby_provider_sdk::ValidateResponse {
            issues,
            ..Default::default()
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers of HAProxy 2.6, as its runtime API gave them.
    #[test]
    fn only_the_documented_answers_count_as_success() {
        let addr = [
            ("IP changed from '127.0.0.2' to '127.0.0.9', port changed from '5432' to '5433' by 'stats socket command'", true),
            ("no need to change the addr, port changed from '1' to '5432' by 'stats socket command'", true),
            ("no need to change the addr, no need to change the port by 'stats socket command'", true),
            ("Invalid addr '1.2.3' by 'stats socket command'", false),
            ("No such server.", false),
        ];
        for (answer, ok) in addr {
            assert_eq!(succeeded(Success::AddrSet, answer), ok, "{answer}");
        }
        assert!(succeeded(Success::Silent, ""));
        assert!(!succeeded(Success::Silent, "No such backend."));
    }

    #[test]
    fn names_and_addresses_that_could_inject_a_command_are_refused() {
        assert!(parse_addr("east", "127.0.0.2:25432; disable frontend fe").is_err());
        assert!(parse_addr("east", "127.0.0.2:99999").is_err());
        assert!(parse_addr("east", "127.0.0.2:0").is_err());
        assert!(parse_addr("east", "db.internal:5432").is_err());
        assert_eq!(
            parse_addr("east", "[::1]:5432").unwrap(),
            ("::1".parse().unwrap(), 5432)
        );
        assert!(check_name("server", "east").is_ok());
        assert!(check_name("server", "east fe").is_err());
        assert!(check_name("backend", "db;x").is_err());
        assert!(check_name("backend", "").is_err());
    }
}
