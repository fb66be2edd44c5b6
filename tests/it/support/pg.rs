//! A two-site PostgreSQL cluster from plans/postgres-failover for the provider, monitor and
//! drill tests, with the helpers that write to it and read it back.

use super::Test;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub static NEXT: AtomicU16 = AtomicU16::new(0);

/// Stops every server of a test directory when the test ends, pass or fail, so no server
/// outlives its data directory.
pub struct StopServers(pub std::path::PathBuf);

impl Drop for StopServers {
    fn drop(&mut self) {
        for env in ["dev", "staging", "prod"] {
            for site in ["east", "west"] {
                let dir = self.0.join("data").join(env).join(site);
                if dir.join("postmaster.pid").exists() {
                    let _ = std::process::Command::new("runuser")
                        .args([
                            "-u",
                            "postgres",
                            "--",
                            "/usr/lib/postgresql/15/bin/pg_ctl",
                            "-D",
                        ])
                        .arg(&dir)
                        .args(["-m", "immediate", "-w", "stop"])
                        .output();
                }
            }
        }
    }
}

/// The example topology in a temporary directory the `postgres` user can reach, on ports of
/// its own.
pub fn cluster() -> (Test, u16, StopServers) {
    let t = Test::plan("postgres-failover");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Below Linux's ephemeral range (32768 and up), so no outgoing connection can hold a port
    // the servers need.
    let base =
        20000 + (std::process::id() % 200) as u16 * 40 + NEXT.fetch_add(12, Ordering::SeqCst);
    let guard = StopServers(t.path().to_path_buf());
    (t, base, guard)
}

/// Sync replication and a monitor that acts after two failed checks: the settings the
/// monitor, election and drill tests run with.
pub const SYNC_AUTO: [&str; 4] = [
    "--var",
    "replication_mode=sync",
    "--var",
    "health_failures=2",
];

pub fn args<'a>(env: &'a str, port: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["-e", env, "--var", port];
    v.extend_from_slice(extra);
    v
}

pub async fn sql(host: &str, port: u16) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(
        &format!("host={host} port={port} user=postgres dbname=postgres connect_timeout=3"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    c
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Inserts rows one at a time into whatever the connection file names, reconnecting after
/// errors, and records every id whose insert was acknowledged.
pub fn writer(
    t: &Test,
    env: &str,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<i64>>>,
) -> std::thread::JoinHandle<()> {
    let file = t.join(&format!("data/{env}/connection.txt"));
    std::thread::spawn(move || {
        rt().block_on(async move {
            let mut client: Option<tokio_postgres::Client> = None;
            let mut n = 0i64;
            while !stop.load(Ordering::SeqCst) {
                if client.is_none() {
                    let url = std::fs::read_to_string(&file).unwrap_or_default();
                    let hp = url
                        .trim()
                        .rsplit('@')
                        .next()
                        .unwrap_or("")
                        .split('/')
                        .next()
                        .unwrap_or("")
                        .to_string();
                    if let Some((h, p)) = hp.split_once(':') {
                        if let Ok((c, conn)) = tokio_postgres::connect(
                            &format!(
                                "host={h} port={p} user=postgres dbname=postgres connect_timeout=1"
                            ),
                            tokio_postgres::NoTls,
                        )
                        .await
                        {
                            tokio::spawn(async move {
                                let _ = conn.await;
                            });
                            client = Some(c);
                        }
                    }
                }
                n += 1;
                let ok = match &client {
                    Some(c) => tokio::time::timeout(
                        Duration::from_secs(5),
                        c.execute("INSERT INTO orders (id, item) VALUES ($1, 'x')", &[&n]),
                    )
                    .await
                    .is_ok_and(|r| r.is_ok()),
                    None => false,
                };
                if ok {
                    acked.lock().unwrap().push(n);
                } else {
                    client = None;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
    })
}

pub async fn missing(host: &str, port: u16, acked: &[i64]) -> Vec<i64> {
    let c = sql(host, port).await;
    let rows = c.query("SELECT id FROM orders", &[]).await.unwrap();
    let have: std::collections::HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
    acked
        .iter()
        .copied()
        .filter(|id| !have.contains(id))
        .collect()
}

/// Polls host:port with a probe INSERT into `orders` until one is accepted; returns the time
/// from `since`, or none after 20 s.
pub async fn first_write(host: &str, port: u16, since: std::time::Instant) -> Option<Duration> {
    while since.elapsed() < Duration::from_secs(20) {
        if let Ok((c, conn)) = tokio_postgres::connect(
            &format!("host={host} port={port} user=postgres dbname=postgres connect_timeout=1"),
            tokio_postgres::NoTls,
        )
        .await
        {
            tokio::spawn(async move {
                let _ = conn.await;
            });
            if c.batch_execute(
                "INSERT INTO orders VALUES (-1, 'probe') ON CONFLICT (id) DO NOTHING",
            )
            .await
            .is_ok()
            {
                return Some(since.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

/// Creates the `orders` table the example topology checksums, on the primary at
/// 127.0.0.2:`port` (east).
pub fn create_orders(port: u16) {
    rt().block_on(async {
        sql("127.0.0.2", port)
            .await
            .batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL)")
            .await
            .unwrap()
    });
}

/// SIGKILLs the postmaster of `site` in `env`; returns when it was sent.
pub fn kill_postmaster(t: &Test, env: &str, site: &str) -> std::time::Instant {
    let pidfile = t.read(&format!("data/{env}/{site}/postmaster.pid"));
    let pid = pidfile.lines().next().unwrap().trim();
    assert!(std::process::Command::new("kill")
        .args(["-9", pid])
        .status()
        .unwrap()
        .success());
    std::time::Instant::now()
}

/// Whether the server at host:port takes a write now (asked of the server, not the state).
pub fn takes_writes(host: &str, port: u16) -> bool {
    rt().block_on(async {
        let Ok((c, conn)) = tokio_postgres::connect(
            &format!("host={host} port={port} user=postgres dbname=postgres connect_timeout=2"),
            tokio_postgres::NoTls,
        )
        .await
        else {
            return false;
        };
        tokio::spawn(async move {
            let _ = conn.await;
        });
        c.batch_execute(
            "CREATE TABLE IF NOT EXISTS truth_probe (at timestamptz); INSERT INTO truth_probe VALUES (now())",
        )
        .await
        .is_ok()
    })
}

/// The sites of the example topology whose server takes writes now.
pub fn writers(base: u16) -> Vec<&'static str> {
    [("east", "127.0.0.2", base), ("west", "127.0.0.3", base + 1)]
        .into_iter()
        .filter(|(_, h, p)| takes_writes(h, *p))
        .map(|(s, _, _)| s)
        .collect()
}
