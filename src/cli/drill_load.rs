//! The drill's load: the PostgreSQL members it drives, and a writer that inserts unique rows
//! through the traffic path (a DNS name, a TCP frontend such as HAProxy, or the members
//! directly) and records each insert as acknowledged, failed or indeterminate.

use super::CliError;
use standby_engine::drill::Outcome;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A PostgreSQL member as the drill drives it.
#[derive(Clone)]
pub(crate) struct Pg {
    pub site: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub data_dir: PathBuf,
}

impl Pg {
    pub(crate) fn conn_str(&self) -> String {
        self.conn_str_at(&self.host, self.port)
    }

    /// A connection string with this member's credentials to another address (a traffic
    /// path that leads to it).
    pub(crate) fn conn_str_at(&self, host: &str, port: u16) -> String {
        let mut s = format!(
            "host={host} port={port} user={} dbname=postgres connect_timeout=1",
            self.user
        );
        if let Some(p) = &self.password {
            s.push_str(&format!(" password='{}'", p.replace('\'', "\\'")));
        }
        s
    }

    pub(crate) fn pids(&self) -> Result<Vec<u32>, CliError> {
        let not_running = |e: String| CliError::msg(format!("{} is not running", self.site), e);
        let pidfile = std::fs::read_to_string(self.data_dir.join("postmaster.pid"))
            .map_err(|e| not_running(e.to_string()))?;
        let pm: u32 = pidfile
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .parse()
            .map_err(|_| not_running("postmaster.pid names no process".into()))?;
        let mut all = vec![pm];
        // Its children too: a hung machine freezes every backend, not only the postmaster.
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            if let Some((_, rest)) = stat.rsplit_once(')') {
                let parent: Option<u32> =
                    rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
                let pid: Option<u32> = e.file_name().to_string_lossy().parse().ok();
                if let (Some(pid), Some(parent)) = (pid, parent) {
                    if parent == pm {
                        all.push(pid);
                    }
                }
            }
        }
        Ok(all)
    }
}

pub(crate) fn pg_member(m: &standby_provider_sdk::Member, root: &Path) -> Result<Pg, CliError> {
    let get = |k: &str| m.state.get(k).and_then(|v| v.as_str()).map(str::to_string);
    if m.type_name != "postgres_server" {
        return Err(CliError::msg(
            format!("Drills need postgres_server members; {} is a {}", m.site, m.type_name),
            "Faults are injected into the member's server process and the writer speaks PostgreSQL.",
        ));
    }
    Ok(Pg {
        site: m.site.clone(),
        host: get("listen").unwrap_or_else(|| "127.0.0.1".into()),
        port: m
            .state
            .get("port")
            .and_then(|v| v.as_f64())
            .unwrap_or(5432.0) as u16,
        user: get("superuser").unwrap_or_else(|| "postgres".into()),
        password: get("superuser_password"),
        data_dir: root.join(get("data_dir").unwrap_or_default()),
    })
}

/// One insert as the writer saw it.
pub(crate) struct Attempt {
    pub id: i64,
    pub outcome: Outcome,
    pub at: Instant,
    /// `host:port` of the server the connection reached.
    pub server: Arc<str>,
}

/// Inserts unique rows through `route` until stopped.
pub(crate) fn writer(
    route: Route,
    run: String,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Attempt>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(rt) = super::runtime() else {
            return;
        };
        rt.block_on(async move {
            let mut id = 0_i64;
            let mut client: Option<(tokio_postgres::Client, Arc<str>)> = None;
            let mut start = 0;
            while !stop.load(Ordering::SeqCst) {
                let (c, server) = match client.take() {
                    Some(c) if !c.0.is_closed() => c,
                    _ => match route.connect(&mut start).await {
                        Some(c) => c,
                        None => {
                            // Never sent: no id is used up.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                    },
                };
                id += 1;
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&id, &run];
                let sent = c.execute(
                    "INSERT INTO standby_drill (id, run) VALUES ($1, $2)",
                    &params,
                );
                let outcome = match tokio::time::timeout(Duration::from_secs(1), sent).await {
                    Ok(Ok(_)) => {
                        client = Some((c, server.clone()));
                        Outcome::Acknowledged
                    }
                    Ok(Err(e)) if e.as_db_error().is_some() => {
                        // Refused (read-only, shutting down): a committed row is impossible,
                        // except for a commit whose sync-replication wait was cancelled.
                        let cancelled = e
                            .as_db_error()
                            .is_some_and(|d| d.code().code().starts_with("57"));
                        if cancelled {
                            Outcome::Indeterminate
                        } else {
                            Outcome::Failed
                        }
                    }
                    _ => Outcome::Indeterminate,
                };
                if let Ok(mut l) = log.lock() {
                    l.push(Attempt {
                        id,
                        outcome,
                        at: Instant::now(),
                        server,
                    });
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
    })
}

/// Connects to the first member that accepts writes, as libpq's multi-host
/// `target_session_attrs=read-write` does, but with a deadline per host covering the whole
/// handshake: a frozen server accepts TCP connections and then never answers.
pub(crate) async fn connect_rw(
    hosts: &[(String, Arc<str>)],
    start: &mut usize,
) -> Option<(tokio_postgres::Client, Arc<str>)> {
    for k in 0..hosts.len() {
        let i = (*start + k) % hosts.len();
        let (conn, tag) = &hosts[i];
        let attempt = async {
            let (c, connection) = tokio_postgres::connect(conn, tokio_postgres::NoTls)
                .await
                .ok()?;
            tokio::spawn(connection);
            let ro: String = c
                .query_one("SHOW transaction_read_only", &[])
                .await
                .ok()?
                .get(0);
            (ro == "off").then_some(c)
        };
        if let Ok(Some(c)) = tokio::time::timeout(Duration::from_secs(1), attempt).await {
            *start = i;
            return Some((c, tag.clone()));
        }
    }
    None
}

/// How the writer reaches the primary.
#[derive(Clone)]
pub(crate) enum Route {
    /// A multi-host read-write client over the members.
    Members(Vec<(String, Arc<str>)>),
    /// The DNS name a `dns_record` keeps pointing at the active member, resolved through its
    /// server before every connection; the port is that of the member at the answer.
    Dns {
        server: String,
        name: String,
        members: Vec<Pg>,
    },
    /// A TCP frontend that routes to the active member, such as HAProxy's.
    Frontend { addr: String, member: Pg },
}

impl Route {
    /// How the report names it.
    pub(crate) fn describe(&self) -> String {
        match self {
            Route::Members(h) => format!(
                "a multi-host read-write client over {}",
                h.iter()
                    .map(|(_, t)| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Route::Dns { server, name, .. } => {
                format!("the DNS name {name}, resolved through {server} before each connection")
            }
            Route::Frontend { addr, .. } => format!("the TCP frontend {addr}"),
        }
    }

    /// What the DNS name resolves to now (only for the DNS path).
    pub(crate) async fn answer(&self) -> Option<String> {
        let Route::Dns { server, name, .. } = self else {
            return None;
        };
        let answer = tokio::time::timeout(
            Duration::from_millis(200),
            standby_provider_dns::resolve(server, name, "A"),
        )
        .await
        .ok()?
        .ok()?;
        answer.into_iter().next()
    }

    /// A read-write connection and the `host:port` of the server it reached.
    async fn connect(&self, start: &mut usize) -> Option<(tokio_postgres::Client, Arc<str>)> {
        let conn = match self {
            Route::Members(hosts) => return connect_rw(hosts, start).await,
            Route::Dns {
                server,
                name,
                members,
            } => {
                let answer = standby_provider_dns::resolve(server, name, "A")
                    .await
                    .ok()?;
                let ip = answer.first()?;
                let m = members.iter().find(|m| m.host == *ip)?;
                m.conn_str_at(ip, m.port)
            }
            Route::Frontend { addr, member } => {
                let (host, port) = addr.rsplit_once(':')?;
                member.conn_str_at(host, port.parse().ok()?)
            }
        };
        let attempt = async {
            let (c, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
                .await
                .ok()?;
            tokio::spawn(connection);
            // Which server the path led to, and whether it takes writes.
            let row = c
                .query_one(
                    "SELECT current_setting('transaction_read_only'), host(inet_server_addr()) || ':' || current_setting('port')",
                    &[],
                )
                .await
                .ok()?;
            let (ro, server): (String, String) = (row.get(0), row.get(1));
            (ro == "off").then(|| (c, Arc::from(server.as_str())))
        };
        tokio::time::timeout(Duration::from_secs(1), attempt)
            .await
            .ok()
            .flatten()
    }
}
