//! The monitor's health check of one member, as the group's `health_check` declares it: the
//! provider's replication status (the default, which also wants the primary to be a primary),
//! `SELECT 1` or the like through the provider, a TCP connect, or an HTTP GET answered 2xx.

use crate::plan::{HealthCheck, HealthKind as Kind, Target};
use standby_provider_sdk::{Member, Replication, Role};

/// One group's health check.
#[derive(Debug, Clone)]
pub struct Health {
    kind: Kind,
    check: HealthCheck,
}

impl Health {
    /// From the plan's health check settings.
    pub fn from_settings(hc: &HealthCheck) -> Health {
        Health {
            kind: hc.kind,
            check: hc.clone(),
        }
    }

    /// Whether members are checked by their replication status alone.
    pub fn is_replication(&self) -> bool {
        self.kind == Kind::Replication
    }

    /// Checks the member at `site`; `primary` when it should be the primary. The caller bounds
    /// the time it takes.
    pub async fn check(
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
                    .check
                    .target(site)
                    .cloned()
                    .or_else(|| r.address(m).map(|a| Target::new(a, false)))
                    .ok_or_else(|| {
                        format!("no address to connect to: set health_check.address for {site}")
                    })?;
                tokio::net::TcpStream::connect(addr.expose())
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("tcp {}: {e}", addr.shown()))
            }
            Kind::Http => {
                let url = self
                    .check
                    .target(site)
                    .ok_or_else(|| format!("no health_check.url for {site}"))?;
                match super::http::get(url).await? {
                    200..=299 => Ok(()),
                    code => Err(format!("GET {} answered {code}", url.shown())),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_pick_the_kind_and_its_targets() {
        let mut hc = HealthCheck {
            kind: Kind::Http,
            ..HealthCheck::default()
        };
        hc.urls.insert(
            "east".into(),
            Target::new("http://127.0.0.1:1/health", false),
        );
        hc.addresses
            .insert("east".into(), Target::new("127.0.0.1:5432", false));
        let h = Health::from_settings(&hc);
        assert_eq!(h.kind, Kind::Http);
        assert_eq!(
            h.check.target("east").map(Target::expose),
            Some("http://127.0.0.1:1/health")
        );
        assert_eq!(
            Health::from_settings(&HealthCheck::default()).kind,
            Kind::Replication
        );
        assert_eq!(
            super::super::http::split_url("http://h:80").unwrap(),
            ("h:80", "/".to_string())
        );
        assert!(super::super::http::split_url("https://h/x").is_err());
    }

    #[tokio::test]
    async fn a_sensitive_url_is_not_in_the_error_of_a_failed_check() {
        let target = Target::new("http://127.0.0.1:1/health?token=hunter2secret", true);
        let e = super::super::http::get(&target).await.unwrap_err();
        assert!(!e.contains("hunter2secret"), "{e}");
        assert!(e.contains("(sensitive value)"), "{e}");
    }
}
