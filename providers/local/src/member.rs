//! `sqlite_database` as a resource, and the local provider's replication capability.

use crate::file::LocalProvider;
use crate::sqlite;
use async_trait::async_trait;
use standby_provider_sdk::{
    AttrType, Attribute, Checksums, CreateRequest, CreateResponse, DeleteRequest, FenceOutcome,
    Member, MemberStatus, PlanRequest, PlanResponse, ProviderError, ReadRequest, ReadResponse,
    Replication, ReplicationMode, Schema, Value,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) fn sqlite_schema() -> Schema {
    Schema::new([
        (
            "path",
            Attribute::required(AttrType::String)
                .force_new()
                .describe("the database file; relative paths resolve against the topology root"),
        ),
        (
            "schema",
            Attribute::optional(AttrType::String)
                .describe("SQL run when the database is created or updated; use IF NOT EXISTS"),
        ),
        (
            "address",
            Attribute::computed(AttrType::String).describe("where clients connect: the path"),
        ),
        ("id", Attribute::computed(AttrType::String)),
    ])
}

pub(crate) fn plan(req: &PlanRequest) -> PlanResponse {
    let mut resp =
        standby_provider_sdk::plan_with_schema(&sqlite_schema(), req.prior.as_ref(), &req.config);
    if let Value::Map(m) = &mut resp.planned {
        let path = m.get("path").cloned().unwrap_or(Value::Unknown);
        m.insert("address".into(), path.clone());
        m.insert("id".into(), path);
    }
    resp
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ProviderError> + Send + 'static,
) -> Result<T, ProviderError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ProviderError::new("a database task failed", e.to_string()))?
}

pub(crate) async fn create(
    p: &LocalProvider,
    req: CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let path_str = req
        .planned
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let path = p.resolve(&path_str);
    let schema = req
        .planned
        .get("schema")
        .and_then(Value::as_str)
        .map(str::to_string);
    blocking(move || sqlite::create(&path, schema.as_deref())).await?;
    let mut m = match req.planned {
        Value::Map(m) => m,
        _ => BTreeMap::new(),
    };
    m.insert("address".into(), Value::string(path_str.clone()));
    m.insert("id".into(), Value::string(path_str));
    Ok(CreateResponse {
        state: Value::Map(m),
        ..Default::default()
    })
}

pub(crate) async fn read(
    p: &LocalProvider,
    req: ReadRequest,
) -> Result<ReadResponse, ProviderError> {
    let path = p.resolve(
        req.state
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    Ok(ReadResponse {
        state: path.is_file().then_some(req.state),
        ..Default::default()
    })
}

pub(crate) async fn delete(p: &LocalProvider, req: DeleteRequest) -> Result<(), ProviderError> {
    let path = p.resolve(
        req.state
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    blocking(move || sqlite::delete(&path)).await
}

impl LocalProvider {
    pub(crate) fn member(&self, m: &Member) -> Result<PathBuf, ProviderError> {
        Ok(self.resolve(&sqlite::member_path(m)?))
    }
}

#[async_trait]
impl Replication for LocalProvider {
    fn position_unit(&self) -> &'static str {
        // SQLite's file change counter.
        "write transactions"
    }

    fn replicates(&self, type_name: &str) -> bool {
        type_name == "sqlite_database"
    }

    async fn status(
        &self,
        member: &Member,
        primary: Option<&Member>,
    ) -> Result<MemberStatus, ProviderError> {
        let db = self.member(member)?;
        let p = primary.map(|p| self.member(p)).transpose()?;
        blocking(move || Ok(sqlite::status(&db, p.as_deref()))).await
    }

    async fn configure_roles(
        &self,
        primary: &Member,
        standbys: &[Member],
        mode: ReplicationMode,
    ) -> Result<(), ProviderError> {
        let p = self.member(primary)?;
        let s = standbys
            .iter()
            .map(|m| self.member(m))
            .collect::<Result<Vec<_>, _>>()?;
        blocking(move || sqlite::configure(&p, &s, mode)).await
    }

    async fn fence(
        &self,
        member: &Member,
        epoch: u64,
        best_effort: bool,
    ) -> Result<FenceOutcome, ProviderError> {
        let db = self.member(member)?;
        blocking(move || sqlite::fence(&db, epoch, best_effort)).await
    }

    async fn unfence(&self, member: &Member) -> Result<(), ProviderError> {
        let db = self.member(member)?;
        blocking(move || sqlite::unfence(&db)).await
    }

    async fn catch_up(
        &self,
        target: &Member,
        primary: &Member,
        position: u64,
        timeout: Duration,
    ) -> Result<u64, ProviderError> {
        let (t, p) = (self.member(target)?, self.member(primary)?);
        tokio::time::timeout(
            timeout,
            blocking(move || sqlite::catch_up(&t, &p, position)),
        )
        .await
        .map_err(|_| {
            ProviderError::new(
                "catch-up timed out",
                format!("the target did not replay position {position} within {timeout:?}"),
            )
        })?
    }

    async fn promote(&self, target: &Member, epoch: u64) -> Result<(), ProviderError> {
        let db = self.member(target)?;
        blocking(move || sqlite::promote(&db, epoch)).await
    }

    async fn rejoin(
        &self,
        former: &Member,
        primary: &Member,
        _mode: ReplicationMode,
    ) -> Result<Option<String>, ProviderError> {
        let (f, p) = (self.member(former)?, self.member(primary)?);
        blocking(move || sqlite::rejoin(&f, &p)).await
    }

    async fn checksum(
        &self,
        member: &Member,
        datasets: &[String],
    ) -> Result<Checksums, ProviderError> {
        let db = self.member(member)?;
        let names = datasets.to_vec();
        blocking(move || sqlite::checksum(&db, &names)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use standby_provider_sdk::{ConfigureRequest, Provider, Role};

    fn member(site: &str, path: &str) -> Member {
        Member {
            site: site.into(),
            type_name: "sqlite_database".into(),
            state: Value::object([("path", Value::from(path))]),
        }
    }

    #[tokio::test]
    async fn replicate_fence_catch_up_promote_rejoin() {
        let dir = tempfile::tempdir().unwrap();
        let p = LocalProvider::new();
        p.configure(ConfigureRequest {
            config: Value::Null,
            root_dir: dir.path().into(),
        })
        .await
        .unwrap();
        let schema = "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT)";
        for f in ["east.db", "west.db"] {
            let planned =
                Value::object([("path", Value::from(f)), ("schema", Value::from(schema))]);
            p.create(CreateRequest {
                type_name: "sqlite_database".into(),
                planned,
            })
            .await
            .unwrap();
        }
        let (east, west) = (member("east", "east.db"), member("west", "west.db"));
        let write = |db: &str, id: i64| {
            rusqlite::Connection::open(dir.path().join(db))
                .unwrap()
                .execute("INSERT INTO orders VALUES (?1, 'x')", [id])
        };
        write("east.db", 1).unwrap();
        p.configure_roles(&east, std::slice::from_ref(&west), ReplicationMode::Sync)
            .await
            .unwrap();
        assert!(write("west.db", 2).is_err(), "a standby refuses writes");
        write("east.db", 2).unwrap();
        let st = p.status(&west, Some(&east)).await.unwrap();
        assert_eq!(st.role, Role::Standby);
        assert!(!st.in_sync && st.lag_bytes > 0);
        let fenced = p.fence(&east, 1, false).await.unwrap();
        assert!(fenced.confirmed);
        let err = write("east.db", 3).unwrap_err().to_string();
        assert!(err.contains("fenced by standby at epoch 1"), "{err}");
        p.catch_up(
            &west,
            &east,
            fenced.final_position.unwrap(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        p.promote(&west, 1).await.unwrap();
        write("west.db", 3).unwrap();
        assert!(
            p.promote(&west, 0).await.is_err(),
            "an older epoch cannot promote"
        );
        p.rejoin(&east, &west, ReplicationMode::Sync).await.unwrap();
        assert_eq!(
            p.status(&east, Some(&west)).await.unwrap().role,
            Role::Standby
        );
        let a = p.checksum(&east, &["public.orders".into()]).await.unwrap();
        let b = p.checksum(&west, &["public.orders".into()]).await.unwrap();
        assert_eq!(a, b);
        assert!(a["public.orders"].starts_with("3:"));
        assert!(write("east.db", 4).is_err());
    }
}
