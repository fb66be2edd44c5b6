//! `postgres_server`, `postgres_database` and `postgres_role`.

use crate::server::{perr, Server};
use async_trait::async_trait;
use standby_provider_sdk::{
    AttrType, Attribute, ConfigureRequest, CreateRequest, CreateResponse, DeleteRequest,
    PlanRequest, PlanResponse, Provider, ProviderError, ProviderSchema, ReadRequest, ReadResponse,
    Schema, UpdateRequest, Value,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::RwLock;

/// The PostgreSQL provider.
#[derive(Debug, Default)]
pub struct PostgresProvider {
    root: RwLock<PathBuf>,
}

impl PostgresProvider {
    /// A new provider.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn server(&self, v: &Value) -> Result<Server, ProviderError> {
        let root = self.root.read().map(|r| r.clone()).unwrap_or_default();
        Server::from_value(v, &root)
    }
}

fn server_schema() -> Schema {
    Schema::new([
        (
            "listen",
            Attribute::required(AttrType::String)
                .force_new()
                .describe("listen address, on loopback such as 127.0.0.2"),
        ),
        ("port", Attribute::required(AttrType::Number).force_new()),
        (
            "data_dir",
            Attribute::required(AttrType::String).force_new(),
        ),
        (
            "log_file",
            Attribute::optional(AttrType::String)
                .also_computed()
                .describe("server log, outside data_dir so pg_rewind and base backups never replace it; by default <data_dir>.log"),
        ),
        (
            "bin_dir",
            Attribute::optional(AttrType::String)
                .also_computed()
                .describe("server programs; by default the newest /usr/lib/postgresql/*/bin"),
        ),
        (
            "run_as",
            Attribute::optional(AttrType::String)
                .force_new()
                .describe("OS user that owns and runs the server; required as root"),
        ),
        (
            "settings",
            Attribute::optional(AttrType::Map(Box::new(AttrType::String)))
                .describe("postgresql.conf parameters"),
        ),
        (
            "superuser",
            Attribute::optional(AttrType::String).force_new(),
        ),
        (
            "superuser_password",
            Attribute::optional(AttrType::String)
                .sensitive()
                .force_new(),
        ),
        ("address", Attribute::computed(AttrType::String)),
        ("system_identifier", Attribute::computed(AttrType::String)),
        ("version", Attribute::computed(AttrType::String)),
        ("timeline", Attribute::computed(AttrType::Number)),
        ("running", Attribute::computed(AttrType::Bool)),
    ])
}

fn client_attrs() -> Vec<(&'static str, Attribute)> {
    vec![
        (
            "host",
            Attribute::required(AttrType::String)
                .describe("the server to connect to; usually the active member's address"),
        ),
        ("port", Attribute::required(AttrType::Number)),
        ("username", Attribute::optional(AttrType::String)),
        (
            "password",
            Attribute::optional(AttrType::String).sensitive(),
        ),
        ("name", Attribute::required(AttrType::String).force_new()),
    ]
}

fn database_schema() -> Schema {
    let mut a = client_attrs();
    a.push(("owner", Attribute::optional(AttrType::String)));
    Schema::new(a)
}

fn role_schema() -> Schema {
    let mut a = client_attrs();
    a.push(("login", Attribute::optional(AttrType::Bool)));
    a.push((
        "role_password",
        Attribute::optional(AttrType::String).sensitive(),
    ));
    Schema::new(a)
}

fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A client connection for databases and roles.
async fn client_for(v: &Value) -> Result<tokio_postgres::Client, ProviderError> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(s("host").unwrap_or_default())
        .port(v.get("port").and_then(Value::as_f64).unwrap_or(5432.0) as u16)
        .user(s("username").unwrap_or_else(|| "postgres".into()))
        .dbname("postgres")
        .connect_timeout(std::time::Duration::from_secs(3));
    if let Some(p) = s("password") {
        cfg.password(p);
    }
    // The deadline covers the whole handshake: a frozen server accepts TCP and then hangs.
    let (c, conn) = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        cfg.connect(tokio_postgres::NoTls),
    )
    .await
    .map_err(|_| {
        ProviderError::new(
            "cannot connect",
            "the server accepted the connection but did not finish the handshake within 3 s",
        )
    })?
    .map_err(|e| perr("cannot connect", e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(c)
}

/// How long a change waits for a synchronous standby to acknowledge its commit.
const SYNC_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs a statement that changes the server. In sync mode its commit waits for a synchronous
/// standby; one that is down or frozen would hold the apply, and the state lock, forever. So
/// the wait is cancelled after [`SYNC_PATIENCE`]: the change is then committed on the primary
/// only, which is an error, so the state does not record it and the next apply runs it again.
/// Before cancelling, what the statement waits for is read from `pg_stat_activity` through a
/// second connection, so the error says whether it was committed (a synchronous standby did not
/// acknowledge it) or not (another session held a lock).
async fn execute_acknowledged(
    c: &tokio_postgres::Client,
    planned: &Value,
    sql: &str,
    what: &str,
) -> Result<(), ProviderError> {
    let pid: Option<i32> = c
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .ok()
        .map(|r| r.get(0));
    match tokio::time::timeout(SYNC_PATIENCE, c.batch_execute(sql)).await {
        Ok(r) => r.map_err(|e| perr(what, e)),
        Err(_) => {
            let waiting = match pid {
                Some(pid) => waiting_on(planned, pid).await,
                None => None,
            };
            let _ = c.cancel_token().cancel_query(tokio_postgres::NoTls).await;
            Err(match waiting.as_ref().map(|(t, e)| (t.as_str(), e.as_str())) {
                Some(("IPC", "SyncRep")) => ProviderError::new(
                    format!("{what}: not finished within {SYNC_PATIENCE:?}; no synchronous standby acknowledged it"),
                    "It was cancelled after it committed on the primary, which waited for a synchronous standby that is down or frozen. It is not recorded as done: run `standby apply` again once the standby is back.",
                ),
                Some(("Lock", event)) => ProviderError::new(
                    format!("{what}: not finished within {SYNC_PATIENCE:?}; it waited for a lock ({event}) that another session holds"),
                    "It was cancelled and did not happen. Find the session in pg_stat_activity (a transaction left open on the same role or database, say), end it, and run `standby apply` again.",
                ),
                other => ProviderError::new(
                    format!("{what}: not finished within {SYNC_PATIENCE:?}; no synchronous standby acknowledged it"),
                    format!("It was cancelled{}. Most often a synchronous standby is down or frozen: the change is then committed on the primary only; otherwise it waited and did not happen. It is not recorded as done: run `standby apply` again once the standby is back.", other.map(|(t, e)| format!(" while it waited for {t}/{e}")).unwrap_or_default()),
                ),
            })
        }
    }
}

/// What backend `pid` waits for (`wait_event_type`, `wait_event`), read through a second
/// connection; None when that cannot be told.
async fn waiting_on(planned: &Value, pid: i32) -> Option<(String, String)> {
    let c = client_for(planned).await.ok()?;
    let row = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        c.query_opt(
            "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        ),
    )
    .await
    .ok()?
    .ok()??;
    Some((
        row.get::<_, Option<String>>(0)?,
        row.get::<_, Option<String>>(1)?,
    ))
}

fn map_of(v: Value) -> BTreeMap<String, Value> {
    match v {
        Value::Map(m) => m,
        _ => BTreeMap::new(),
    }
}

impl PostgresProvider {
    /// The live attributes of a server, or `running = false` when it does not answer.
    async fn observe(&self, planned: &Value) -> Result<Value, ProviderError> {
        let srv = self.server(planned)?;
        let mut m = map_of(planned.clone());
        m.insert("address".into(), Value::string(srv.listen.clone()));
        m.insert(
            "bin_dir".into(),
            Value::string(srv.bin_dir.display().to_string()),
        );
        let Ok(c) = srv.connect().await else {
            m.insert("running".into(), Value::Bool(false));
            return Ok(Value::Map(m));
        };
        let row = c
            .query_one("SELECT (SELECT system_identifier::text FROM pg_control_system()), current_setting('server_version'), (SELECT timeline_id FROM pg_control_checkpoint())::float8", &[])
            .await
            .map_err(|e| perr("cannot read server identity", e))?;
        m.insert(
            "system_identifier".into(),
            Value::string(row.get::<_, String>(0)),
        );
        m.insert("version".into(), Value::string(row.get::<_, String>(1)));
        m.insert("timeline".into(), Value::from(row.get::<_, f64>(2)));
        m.insert("running".into(), Value::Bool(true));
        if !srv.settings.is_empty() {
            let mut actual = BTreeMap::new();
            for k in srv.settings.keys() {
                let v: Option<String> = c
                    .query_opt("SELECT current_setting($1, true)", &[k])
                    .await
                    .ok()
                    .flatten()
                    .and_then(|r| r.get(0));
                actual.insert(k.clone(), v.map_or(Value::Null, Value::String));
            }
            m.insert("settings".into(), Value::Map(actual));
        }
        Ok(Value::Map(m))
    }

    async fn apply_settings(&self, planned: &Value) -> Result<(), ProviderError> {
        let srv = self.server(planned)?;
        srv.write_conf()?;
        if !srv.is_running().await {
            return srv.start().await;
        }
        let c = srv.connect().await?;
        // A value set with ALTER SYSTEM would override standby.conf: the resource wins.
        for k in srv.settings.keys() {
            let _ = c
                .batch_execute(&format!("ALTER SYSTEM RESET {}", ident(k)))
                .await;
        }
        c.batch_execute("SELECT pg_reload_conf()")
            .await
            .map_err(|e| perr("cannot reload", e))?;
        // A reload is seen by the postmaster first; give it a moment before asking.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let pending: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_settings WHERE pending_restart",
                &[],
            )
            .await
            .map_err(|e| perr("cannot read settings", e))?
            .get(0);
        if pending > 0 {
            drop(c);
            srv.stop("fast").await?;
            srv.start().await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Provider for PostgresProvider {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: Schema::default(),
            resources: BTreeMap::from([
                ("postgres_server".to_string(), server_schema()),
                ("postgres_database".to_string(), database_schema()),
                ("postgres_role".to_string(), role_schema()),
            ]),
            data_sources: BTreeMap::new(),
        }
    }

    async fn configure(&self, req: ConfigureRequest) -> Result<(), ProviderError> {
        if let Ok(mut r) = self.root.write() {
            *r = req.root_dir;
        }
        Ok(())
    }

    async fn plan(&self, req: PlanRequest) -> Result<PlanResponse, ProviderError> {
        let schema = match req.type_name.as_str() {
            "postgres_server" => server_schema(),
            "postgres_database" => database_schema(),
            _ => role_schema(),
        };
        let mut resp =
            standby_provider_sdk::plan_with_schema(&schema, req.prior.as_ref(), &req.config);
        if req.type_name == "postgres_server" {
            if let Value::Map(m) = &mut resp.planned {
                // A server standby manages is meant to run; a stopped one is drift to repair.
                m.insert("running".into(), Value::Bool(true));
                let listen = m.get("listen").cloned().unwrap_or(Value::Unknown);
                m.insert("address".into(), listen);
                if req.config.get("log_file").is_none_or(Value::is_null) {
                    // Keep the recorded log, or log next to the data directory.
                    let prior = req.prior.as_ref().and_then(|p| p.get("log_file")).cloned();
                    let default = match m.get("data_dir") {
                        Some(Value::String(d)) => Value::string(format!("{d}.log")),
                        _ => Value::Unknown,
                    };
                    m.insert(
                        "log_file".into(),
                        prior.filter(|p| !p.is_null()).unwrap_or(default),
                    );
                }
                if let (Some(Value::String(d)), Some(Value::String(l))) =
                    (m.get("data_dir"), m.get("log_file"))
                {
                    let root = self.root.read().map(|r| r.clone()).unwrap_or_default();
                    if root.join(l).starts_with(root.join(d)) {
                        return Err(ProviderError::new(
                            format!("log_file {l:?} is inside data_dir {d:?}"),
                            "pg_rewind and pg_basebackup replace the data directory's files with the new primary's, so the log would be lost at the next rejoin; put it next to the data directory, such as the default <data_dir>.log",
                        ));
                    }
                }
                if m.get("bin_dir")
                    .is_none_or(|b| b.is_null() || b.is_unknown())
                {
                    let prior = req.prior.as_ref().and_then(|p| p.get("bin_dir")).cloned();
                    let found = crate::server::default_bin_dir()
                        .map(|d| Value::string(d.display().to_string()));
                    m.insert("bin_dir".into(), prior.or(found).unwrap_or(Value::Unknown));
                }
            }
        }
        Ok(resp)
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        match req.type_name.as_str() {
            "postgres_server" => {
                let srv = self.server(&req.planned)?;
                if srv.run_as.is_none()
                    && std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
                        s.lines().any(|l| {
                            l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")
                        })
                    })
                {
                    return Err(ProviderError::new("run_as is required when standby runs as root", "PostgreSQL refuses to run as root; set run_as = \"postgres\" (or another OS user)"));
                }
                if srv.data_dir.join("PG_VERSION").exists() {
                    // Adopt an existing cluster (a re-run after a crash mid-create).
                    srv.write_conf()?;
                } else {
                    srv.initdb().await?;
                }
                if !srv.is_running().await {
                    srv.start().await?;
                }
                Ok(CreateResponse {
                    state: self.observe(&req.planned).await?,
                    ..Default::default()
                })
            }
            "postgres_database" => {
                let c = client_for(&req.planned).await?;
                let name = req
                    .planned
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let exists = c
                    .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                    .await
                    .map_err(|e| perr("cannot query", e))?
                    .is_some();
                if !exists {
                    let owner = req
                        .planned
                        .get("owner")
                        .and_then(Value::as_str)
                        .map(|o| format!(" OWNER {}", ident(o)))
                        .unwrap_or_default();
                    execute_acknowledged(
                        &c,
                        &req.planned,
                        &format!("CREATE DATABASE {}{owner}", ident(&name)),
                        &format!("cannot create database {name}"),
                    )
                    .await?;
                }
                Ok(CreateResponse {
                    state: req.planned,
                    ..Default::default()
                })
            }
            _ => {
                let c = client_for(&req.planned).await?;
                let name = req
                    .planned
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let login = if req
                    .planned
                    .get("login")
                    .and_then(Value::as_bool)
                    .unwrap_or(true)
                {
                    "LOGIN"
                } else {
                    "NOLOGIN"
                };
                let pw = req
                    .planned
                    .get("role_password")
                    .and_then(Value::as_str)
                    // As psql's \password does: the server gets a SCRAM verifier, so the
                    // password is in no statement text (pg_stat_activity, a server log line
                    // about a failed statement) and no server log.
                    .map(|p| {
                        format!(
                            " PASSWORD {}",
                            literal(&postgres_protocol::password::scram_sha_256(p.as_bytes()))
                        )
                    })
                    .unwrap_or_default();
                let exists = c
                    .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&name])
                    .await
                    .map_err(|e| perr("cannot query", e))?
                    .is_some();
                let verb = if exists { "ALTER" } else { "CREATE" };
                execute_acknowledged(
                    &c,
                    &req.planned,
                    &format!("{verb} ROLE {} {login}{pw}", ident(&name)),
                    &format!("cannot {} role {name}", verb.to_lowercase()),
                )
                .await?;
                Ok(CreateResponse {
                    state: req.planned,
                    ..Default::default()
                })
            }
        }
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        match req.type_name.as_str() {
            "postgres_server" => {
                let srv = self.server(&req.state)?;
                if !srv.data_dir.join("PG_VERSION").exists() {
                    return Ok(ReadResponse {
                        state: None,
                        ..Default::default()
                    });
                }
                Ok(ReadResponse {
                    state: Some(self.observe(&req.state).await?),
                    ..Default::default()
                })
            }
            kind => {
                let Ok(c) = client_for(&req.state).await else {
                    return Ok(ReadResponse {
                        state: Some(req.state),
                        ..Default::default()
                    });
                };
                let name = req
                    .state
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let q = if kind == "postgres_database" {
                    "SELECT 1 FROM pg_database WHERE datname = $1"
                } else {
                    "SELECT 1 FROM pg_roles WHERE rolname = $1"
                };
                let exists = c
                    .query_opt(q, &[&name])
                    .await
                    .map_err(|e| perr("cannot query", e))?
                    .is_some();
                Ok(ReadResponse {
                    state: exists.then_some(req.state),
                    ..Default::default()
                })
            }
        }
    }

    async fn update(&self, req: UpdateRequest) -> Result<CreateResponse, ProviderError> {
        match req.type_name.as_str() {
            "postgres_server" => {
                let srv = self.server(&req.planned)?;
                let was = self.server(&req.prior)?;
                // A server recorded before log_file existed keeps logging inside its data
                // directory until its next start (a rejoin, a restart for a setting): an
                // upgrade of standby must not restart every primary unannounced.
                let moved = req.prior.get("log_file").and_then(Value::as_str).is_some()
                    && was.log_file != srv.log_file;
                let running = srv.is_running().await;
                self.apply_settings(&req.planned).await?;
                if running && moved {
                    // pg_ctl opens the log at start only: restart to move it, as for a
                    // setting that needs a restart.
                    srv.stop("fast").await?;
                    srv.start().await?;
                }
                Ok(CreateResponse {
                    state: self.observe(&req.planned).await?,
                    ..Default::default()
                })
            }
            _ => {
                self.create(CreateRequest {
                    type_name: req.type_name,
                    planned: req.planned,
                })
                .await
            }
        }
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        match req.type_name.as_str() {
            "postgres_server" => {
                let srv = self.server(&req.state)?;
                if srv.is_running().await {
                    srv.stop("fast").await?;
                }
                srv.wipe()?;
                match std::fs::remove_file(&srv.log_file) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(perr(format!("cannot remove {}", srv.log_file.display()), e))
                    }
                    _ => Ok(()),
                }
            }
            kind => {
                let c = client_for(&req.state).await?;
                let name = req
                    .state
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let what = if kind == "postgres_database" {
                    "DATABASE"
                } else {
                    "ROLE"
                };
                execute_acknowledged(
                    &c,
                    &req.state,
                    &format!("DROP {what} IF EXISTS {}", ident(&name)),
                    &format!("cannot drop {name}"),
                )
                .await
            }
        }
    }

    fn replication(&self) -> Option<&dyn standby_provider_sdk::Replication> {
        Some(self)
    }

    fn drill_target(&self) -> Option<&dyn standby_provider_sdk::DrillTarget> {
        Some(self)
    }
}
