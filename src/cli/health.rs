//! The monitor's health check of one member, as the group's `health_check` declares it: the
//! provider's replication status (the default, which also wants the primary to be a primary),
//! `SELECT 1` or the like through the provider, a TCP connect, or an HTTP GET answered 2xx.

use standby_provider_sdk::{Member, Replication, Role};
use std::collections::BTreeMap;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How members are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Replication,
    Sql,
    Tcp,
    Http,
}

/// One group's health check.
#[derive(Debug, Clone)]
pub(crate) struct Health {
    kind: Kind,
    /// Site to URL (http) or host:port (tcp).
    targets: BTreeMap<String, String>,
}

impl Health {
    /// From the plan's flattened `health_check` settings.
    pub(crate) fn from_settings(hc: &BTreeMap<String, String>) -> Health {
        let kind = match hc.get("type").map(String::as_str) {
            Some("sql") => Kind::Sql,
            Some("tcp") => Kind::Tcp,
            Some("http") => Kind::Http,
            _ => Kind::Replication,
        };
        let prefix = if kind == Kind::Http {
            "url."
        } else {
            "address."
        };
        let targets = hc
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|s| (s.to_string(), v.clone())))
            .collect();
        Health { kind, targets }
    }

    /// Whether members are checked by their replication status alone.
    pub(crate) fn is_replication(&self) -> bool {
        self.kind == Kind::Replication
    }

    /// The kind, for the log.
    pub(crate) fn name(&self) -> &'static str {
        match self.kind {
            Kind::Replication => "replication",
            Kind::Sql => "sql",
            Kind::Tcp => "tcp",
            Kind::Http => "http",
        }
    }

    /// Checks the member at `site`; `primary` when it should be the primary. The caller bounds
    /// the time it takes.
    pub(crate) async fn check(
        &self,
        r: &dyn Replication,
        site: &str,
        m: &Member,
        primary: bool,
    ) -> Result<(), String> {
        match self.kind {
            Kind::Replication => {
                let s = r.status(m, None).await.map_err(|e| e.summary)?;
                let want = if primary {
                    Role::Primary
                } else {
                    Role::Standby
                };
                if !s.healthy {
                    Err(format!("unhealthy: {}", s.detail))
                } else if s.role != want {
                    Err(format!("is {}, expected {want}", s.role))
                } else {
                    Ok(())
                }
            }
            Kind::Sql => r
                .probe(m)
                .await
                .map_err(|e| format!("{}: {}", e.summary, e.detail)),
            Kind::Tcp => {
                let addr = self
                    .targets
                    .get(site)
                    .cloned()
                    .or_else(|| r.address(m))
                    .ok_or_else(|| {
                        format!("no address to connect to: set health_check.address for {site}")
                    })?;
                tokio::net::TcpStream::connect(&addr)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("tcp {addr}: {e}"))
            }
            Kind::Http => {
                let url = self
                    .targets
                    .get(site)
                    .ok_or_else(|| format!("no health_check.url for {site}"))?;
                match http_get(url).await? {
                    200..=299 => Ok(()),
                    code => Err(format!("GET {url} answered {code}")),
                }
            }
        }
    }
}

/// `http://host:port/path` split into the authority and the path (with its leading slash).
pub(crate) fn split_url(url: &str) -> Result<(&str, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    Ok((host, format!("/{path}")))
}

/// GETs an http:// URL; returns the status code.
async fn http_get(url: &str) -> Result<u16, String> {
    let (host, path) = split_url(url)?;
    let mut c = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    c.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    // The status line is all that matters; a health endpoint's body is small.
    let mut reply = vec![0_u8; 1024];
    let mut n = 0;
    while n < reply.len() {
        match c.read(&mut reply[n..]).await {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
        if reply[..n].windows(2).any(|w| w == b"\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&reply[..n]);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("GET {url}: no HTTP answer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_pick_the_kind_and_its_targets() {
        let hc: BTreeMap<String, String> = [
            ("type", "http"),
            ("url.east", "http://127.0.0.1:1/health"),
            ("address.east", "127.0.0.1:5432"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let h = Health::from_settings(&hc);
        assert_eq!((h.kind, h.name()), (Kind::Http, "http"));
        assert_eq!(h.targets.len(), 1);
        assert_eq!(h.targets["east"], "http://127.0.0.1:1/health");
        assert_eq!(
            Health::from_settings(&BTreeMap::new()).kind,
            Kind::Replication
        );
        assert_eq!(split_url("http://h:80").unwrap(), ("h:80", "/".to_string()));
        assert!(split_url("https://h/x").is_err());
    }
}
