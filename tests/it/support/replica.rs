//! A mock replicating provider for failover engine tests: `mockdb_member` resources whose
//! replication operations are logged in one shared order, with failures and lag on demand.

use async_trait::async_trait;
use standby_provider_sdk::{
    AttrType, Attribute, Checksums, CreateRequest, CreateResponse, DeleteRequest, FenceOutcome,
    Member, MemberStatus, Provider, ProviderError, ProviderSchema, ReadRequest, ReadResponse,
    Replication, ReplicationMode, Role, Schema, UpdateRequest, Value,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The shared log and knobs.
#[derive(Default)]
pub struct Replica {
    pub log: Arc<Mutex<Vec<String>>>,
    /// The operation that fails next: `status`, `fence`, `catch_up`, `promote`, `checksum`, `rejoin`.
    pub fail_on: Mutex<Option<String>>,
    /// The lag every standby reports, in bytes.
    pub lag: AtomicU64,
    /// Sites that do not answer.
    pub down: Mutex<BTreeSet<String>>,
    /// The operation that does its effect and then reports a failure, once.
    pub fail_after: Mutex<Option<String>>,
    /// The operation that panics, once.
    pub panic_on: Mutex<Option<String>>,
    /// Shared with the `mock_thing` provider: traffic resources whose name starts with this
    /// fail.
    pub traffic_fault: Arc<Mutex<Option<String>>>,
    /// Raises this flag (an apply's stop flag, as Ctrl-C does) when the named operation runs.
    pub raise_on: Mutex<Option<(String, Arc<std::sync::atomic::AtomicBool>)>>,
    roles: Mutex<BTreeMap<String, Role>>,
    epochs: Mutex<BTreeMap<String, u64>>,
}

impl Replica {
    fn note(&self, s: String) {
        self.log.lock().expect("log").push(s);
    }

    /// After an operation's effect: the injected failure, if this is the operation.
    fn after(&self, op: &str, site: &str) -> Result<(), ProviderError> {
        let mut f = self.fail_after.lock().expect("fail_after");
        if f.as_deref() == Some(op) {
            *f = None;
            return Err(ProviderError::new(
                format!("{op} failed after its effect"),
                format!("injected failure on {site}"),
            ));
        }
        Ok(())
    }

    /// The sites that accept writes, as the members are (a site that is down takes none).
    pub fn writable(&self) -> Vec<String> {
        let down = self.down.lock().expect("down").clone();
        self.roles
            .lock()
            .expect("roles")
            .iter()
            .filter(|(s, r)| **r == Role::Primary && !down.contains(*s))
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// The epoch a member has seen.
    pub fn epoch_of(&self, site: &str) -> u64 {
        self.epochs
            .lock()
            .expect("epochs")
            .get(site)
            .copied()
            .unwrap_or(0)
    }

    fn check(&self, op: &str, site: &str) -> Result<(), ProviderError> {
        if let Some((o, flag)) = self.raise_on.lock().expect("raise_on").as_ref() {
            if o == op {
                flag.store(true, Ordering::SeqCst);
            }
        }
        {
            let mut p = self.panic_on.lock().expect("panic_on");
            if p.as_deref() == Some(op) {
                *p = None;
                drop(p);
                panic!("injected panic in {op} on {site}");
            }
        }
        if self.down.lock().expect("down").contains(site) {
            return Err(ProviderError::new(
                format!("{site} is unreachable"),
                "connection refused",
            ));
        }
        if self.fail_on.lock().expect("fail").as_deref() == Some(op) {
            return Err(ProviderError::new(
                format!("{op} failed"),
                format!("injected failure on {site}"),
            ));
        }
        Ok(())
    }

    /// Entries of the log that mention replication steps.
    pub fn steps(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    /// A site's role as the mock believes it.
    pub fn role(&self, site: &str) -> Option<Role> {
        self.roles.lock().expect("roles").get(site).copied()
    }
}

#[async_trait]
impl Provider for Replica {
    fn name(&self) -> &'static str {
        "mockdb"
    }

    fn schema(&self) -> ProviderSchema {
        let s = Schema::new([
            ("name", Attribute::required(AttrType::String)),
            ("address", Attribute::computed(AttrType::String)),
        ]);
        ProviderSchema {
            provider: Schema::default(),
            resources: BTreeMap::from([("mockdb_member".to_string(), s)]),
            data_sources: BTreeMap::new(),
        }
    }

    async fn plan(
        &self,
        req: standby_provider_sdk::PlanRequest,
    ) -> Result<standby_provider_sdk::PlanResponse, ProviderError> {
        let name = req.config.get("name").cloned().unwrap_or(Value::Unknown);
        let address = match &name {
            Value::String(n) => Value::string(format!("{n}.db.internal")),
            _ => Value::Unknown,
        };
        Ok(standby_provider_sdk::PlanResponse {
            planned: Value::object([("name", name), ("address", address)]),
            requires_replace: vec![],
            warnings: vec![],
        })
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        Ok(CreateResponse {
            state: req.planned,
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
        Ok(CreateResponse {
            state: req.planned,
            ..Default::default()
        })
    }

    async fn delete(&self, _req: DeleteRequest) -> Result<(), ProviderError> {
        Ok(())
    }

    fn replication(&self) -> Option<&dyn Replication> {
        Some(self)
    }
}

#[async_trait]
impl Replication for Replica {
    async fn status(
        &self,
        member: &Member,
        primary: Option<&Member>,
    ) -> Result<MemberStatus, ProviderError> {
        // Like PostgreSQL's provider: an unreachable member is reported down, not an error.
        if self.down.lock().expect("down").contains(&member.site) {
            return Ok(MemberStatus {
                role: Role::Down,
                healthy: false,
                position: 0,
                lag_bytes: 0,
                lag_seconds: 0.0,
                in_sync: false,
                epoch: 0,
                detail: "connection refused".into(),
            });
        }
        self.check("status", &member.site)?;
        let role = self.role(&member.site).unwrap_or(Role::Primary);
        let lag = if primary.is_some() && role == Role::Standby {
            self.lag.load(Ordering::SeqCst)
        } else {
            0
        };
        Ok(MemberStatus {
            role,
            healthy: true,
            position: 100,
            lag_bytes: lag,
            lag_seconds: if lag > 0 { 2.0 } else { 0.0 },
            in_sync: lag == 0,
            epoch: self.epoch_of(&member.site),
            detail: String::new(),
        })
    }

    async fn configure_roles(
        &self,
        primary: &Member,
        standbys: &[Member],
        mode: ReplicationMode,
    ) -> Result<(), ProviderError> {
        self.check("configure", &primary.site)?;
        let mut roles = self.roles.lock().expect("roles");
        roles.insert(primary.site.clone(), Role::Primary);
        for s in standbys {
            roles.insert(s.site.clone(), Role::Standby);
        }
        drop(roles);
        self.note(format!(
            "configure {} <- {} ({mode:?})",
            primary.site,
            standbys
                .iter()
                .map(|s| s.site.clone())
                .collect::<Vec<_>>()
                .join(",")
        ));
        Ok(())
    }

    async fn fence(
        &self,
        member: &Member,
        epoch: u64,
        best_effort: bool,
    ) -> Result<FenceOutcome, ProviderError> {
        if let Err(e) = self.check("fence", &member.site) {
            if best_effort {
                self.note(format!("fence {} unconfirmed", member.site));
                return Ok(FenceOutcome {
                    confirmed: false,
                    final_position: None,
                    detail: e.summary,
                });
            }
            return Err(e);
        }
        self.roles
            .lock()
            .expect("roles")
            .insert(member.site.clone(), Role::Fenced);
        self.note(format!("fence {} epoch {epoch}", member.site));
        self.after("fence", &member.site)?;
        Ok(FenceOutcome {
            confirmed: true,
            final_position: Some(100),
            detail: "fenced".into(),
        })
    }

    async fn unfence(&self, member: &Member) -> Result<(), ProviderError> {
        self.check("unfence", &member.site)?;
        self.roles
            .lock()
            .expect("roles")
            .insert(member.site.clone(), Role::Primary);
        self.note(format!("unfence {}", member.site));
        Ok(())
    }

    async fn catch_up(
        &self,
        target: &Member,
        primary: &Member,
        position: u64,
        _timeout: Duration,
    ) -> Result<u64, ProviderError> {
        self.check("catch_up", &target.site)?;
        self.note(format!(
            "catch_up {} from {} to {position}",
            target.site, primary.site
        ));
        self.after("catch_up", &target.site)?;
        Ok(position)
    }

    async fn promote(&self, target: &Member, epoch: u64) -> Result<(), ProviderError> {
        self.check("promote", &target.site)?;
        self.roles
            .lock()
            .expect("roles")
            .insert(target.site.clone(), Role::Primary);
        self.epochs
            .lock()
            .expect("epochs")
            .insert(target.site.clone(), epoch);
        self.note(format!("promote {} epoch {epoch}", target.site));
        self.after("promote", &target.site)
    }

    async fn rejoin(
        &self,
        former: &Member,
        primary: &Member,
        _mode: ReplicationMode,
    ) -> Result<Option<String>, ProviderError> {
        self.check("rejoin", &former.site)?;
        self.roles
            .lock()
            .expect("roles")
            .insert(former.site.clone(), Role::Standby);
        self.note(format!("rejoin {} to {}", former.site, primary.site));
        self.after("rejoin", &former.site).map(|()| None)
    }

    async fn checksum(
        &self,
        member: &Member,
        datasets: &[String],
    ) -> Result<Checksums, ProviderError> {
        self.check("checksum_error", &member.site)?;
        if self.role(&member.site) == Some(Role::Primary) {
            // Only once the target is primary: past the precheck's checksum.
            self.check("checksum_promoted", &member.site)?;
        }
        let fail = self.fail_on.lock().expect("fail").as_deref() == Some("checksum");
        self.note(format!("checksum {}", member.site));
        Ok(datasets
            .iter()
            .map(|d| {
                (
                    d.clone(),
                    if fail && member.site != "east" {
                        "different".to_string()
                    } else {
                        "sum".to_string()
                    },
                )
            })
            .collect())
    }
}
