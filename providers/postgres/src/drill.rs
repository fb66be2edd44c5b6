//! PostgreSQL as a drill target: the postmaster and its backends for signal faults, the
//! drill's table, and a writer session whose outcomes follow PostgreSQL's error classes.

use crate::resource::PostgresProvider;
use crate::server::{perr, Server};
use async_trait::async_trait;
use standby_provider_sdk::{
    DrillSession, DrillTarget, Member, ProviderError, Surface, WriteOutcome,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::NoTls;

const TABLE: &str = "CREATE TABLE IF NOT EXISTS standby_drill (id bigint NOT NULL, run text NOT NULL, at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run, id))";

/// The processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let parent: Option<u32> = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        let child: Option<u32> = e.file_name().to_string_lossy().parse().ok();
        if let (Some(child), Some(parent)) = (child, parent) {
            if parent == pid {
                out.push(child);
            }
        }
    }
    out
}

struct Session {
    client: tokio_postgres::Client,
    server: Arc<str>,
}

#[async_trait]
impl DrillSession for Session {
    fn server(&self) -> Arc<str> {
        self.server.clone()
    }

    fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    async fn insert(&mut self, run: &str, id: i64) -> WriteOutcome {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&id, &run];
        let sent = self.client.execute(
            "INSERT INTO standby_drill (id, run) VALUES ($1, $2)",
            &params,
        );
        match tokio::time::timeout(Duration::from_secs(1), sent).await {
            Ok(Ok(_)) => WriteOutcome::Acknowledged,
            // Refused (read-only, shutting down): a committed row is impossible, except for a
            // commit whose synchronous-replication wait was cancelled (class 57).
            Ok(Err(e)) => match e.as_db_error() {
                Some(d) if d.code().code().starts_with("57") => WriteOutcome::Indeterminate,
                Some(_) => WriteOutcome::Failed,
                None => WriteOutcome::Indeterminate,
            },
            Err(_) => WriteOutcome::Indeterminate,
        }
    }
}

impl PostgresProvider {
    /// A read-write session to `s` at `host:port`, within a second: a frozen server accepts
    /// TCP connections and never finishes the handshake.
    async fn session(s: &Server, host: &str, port: u16) -> Option<Session> {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(host)
            .port(port)
            .user(&s.superuser)
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(1))
            .application_name("standby-drill");
        if let Some(p) = &s.password {
            cfg.password(p);
        }
        let attempt = async {
            let (client, conn) = cfg.connect(NoTls).await.ok()?;
            tokio::spawn(conn);
            // Which server the path led to, and whether it takes writes.
            let row = client
                .query_one(
                    "SELECT current_setting('transaction_read_only'), host(inet_server_addr()) || ':' || current_setting('port')",
                    &[],
                )
                .await
                .ok()?;
            let (ro, server): (String, String) = (row.get(0), row.get(1));
            (ro == "off").then(|| Session {
                client,
                server: Arc::from(server.as_str()),
            })
        };
        tokio::time::timeout(Duration::from_secs(1), attempt)
            .await
            .ok()
            .flatten()
    }
}

#[async_trait]
impl DrillTarget for PostgresProvider {
    fn surface(&self, m: &Member) -> Result<Surface, ProviderError> {
        let s = self.server(&m.state)?;
        Ok(Surface::Server {
            host: s.listen,
            port: s.port,
        })
    }

    fn processes(&self, m: &Member) -> Result<Vec<u32>, ProviderError> {
        let s = self.server(&m.state)?;
        let not_running =
            |detail: String| ProviderError::new(format!("{} is not running", m.site), detail);
        let pidfile = std::fs::read_to_string(s.data_dir.join("postmaster.pid"))
            .map_err(|e| not_running(e.to_string()))?;
        let pm: u32 = pidfile
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .parse()
            .map_err(|_| not_running("postmaster.pid names no process".into()))?;
        // Its children too: a hung machine freezes every backend, not only the postmaster.
        let mut processes = vec![pm];
        processes.extend(children(pm));
        Ok(processes)
    }

    async fn prepare(&self, primary: &Member) -> Result<(), ProviderError> {
        let c = self.server(&primary.state)?.connect().await?;
        c.batch_execute(TABLE)
            .await
            .map_err(|e| perr("cannot create the drill table", e))
    }

    async fn connect(&self, m: &Member, via: Option<(&str, u16)>) -> Option<Box<dyn DrillSession>> {
        let s = self.server(&m.state).ok()?;
        let (host, port) = via.map_or((s.listen.as_str(), s.port), |(h, p)| (h, p));
        let session = Self::session(&s, host, port).await?;
        Some(Box::new(session))
    }

    async fn read_back(&self, m: &Member, run: &str) -> Result<BTreeSet<i64>, ProviderError> {
        let c = self.server(&m.state)?.connect().await?;
        let rows = c
            .query("SELECT id FROM standby_drill WHERE run = $1", &[&run])
            .await
            .map_err(|e| perr("cannot read the drill's rows", e))?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0)).collect())
    }
}
