//! Failover benchmark against real PostgreSQL servers on loopback (needs the Debian
//! `postgresql` package and root, which runs the servers as `postgres`).
//!
//! Measures a planned switchover from the start of `standby apply` to the first write accepted
//! on the new primary, and an unplanned failover from the start of `standby failover` (after a
//! SIGKILL of the primary's postmaster) to the first accepted write, with each step's share.

use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_standby");

fn standby(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run standby");
    // Exit 5: the switch completed with caveats (a failover of a dead primary cannot confirm
    // its fence or compare checksums with it).
    assert!(
        matches!(out.status.code(), Some(0 | 5)),
        "standby {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Polls until an INSERT succeeds on host:port; returns when it did.
fn first_write(
    host: &str,
    port: u16,
    start: Instant,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Option<Duration>> {
    let host = host.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let conn = tokio_postgres::connect(
                    &format!(
                        "host={host} port={port} user=postgres dbname=postgres connect_timeout=1"
                    ),
                    tokio_postgres::NoTls,
                )
                .await;
                if let Ok((c, conn)) = conn {
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                    if c.batch_execute("INSERT INTO bench (at) VALUES (now())")
                        .await
                        .is_ok()
                    {
                        return Some(start.elapsed());
                    }
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            None
        })
    })
}

fn shares(dir: &std::path::Path) -> String {
    let out = standby(dir, &["state", "pull", "-e", "dev"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("state");
    let h = s["failovers"]["orders"]["history"]
        .as_array()
        .and_then(|h| h.last().cloned())
        .unwrap_or_default();
    let total = h["seconds"].as_f64().unwrap_or(0.0).max(1e-9);
    h["steps"].as_array().map_or_else(String::new, |steps| {
        steps
            .iter()
            .map(|st| {
                format!(
                    "{} {:.0} ms ({:.0}%)",
                    st["step"].as_str().unwrap_or("?"),
                    st["seconds"].as_f64().unwrap_or(0.0) * 1000.0,
                    st["seconds"].as_f64().unwrap_or(0.0) / total * 100.0
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    })
}

fn main() {
    if !std::path::Path::new("/usr/lib/postgresql").exists() {
        eprintln!("failover benchmark: PostgreSQL is not installed (apt-get install -y postgresql); skipping");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/postgres-failover");
    std::fs::copy(src.join("main.hcl"), root.join("main.hcl")).expect("copy");
    std::fs::create_dir_all(root.join("env")).expect("env");
    std::fs::write(
        root.join("env/dev.hcl"),
        "active_site = \"east\"\nbase_port = 45432\nreplication_mode = \"sync\"\n",
    )
    .expect("env file");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    standby(root, &["apply", "-e", "dev", "--auto-approve"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (c, conn) = tokio_postgres::connect("host=127.0.0.2 port=45432 user=postgres dbname=postgres", tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        c.batch_execute("CREATE TABLE bench (id bigserial PRIMARY KEY, at timestamptz); CREATE TABLE orders (id bigint PRIMARY KEY)").await.expect("schema");
    });
    println!("standby failover benchmark (PostgreSQL, sync replication, 2 servers on loopback)");
    let targets = [
        ("west", "127.0.0.3", 45433u16),
        ("east", "127.0.0.2", 45432u16),
        ("west", "127.0.0.3", 45433u16),
        ("east", "127.0.0.2", 45432u16),
    ];
    let mut times = Vec::new();
    for (site, host, port) in targets {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let start = Instant::now();
        let probe = first_write(host, port, start, stop.clone());
        let var = format!("active_site={site}");
        standby(
            root,
            &["apply", "-e", "dev", "--var", &var, "--auto-approve"],
        );
        let whole = start.elapsed();
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let fw = probe.join().expect("probe");
        println!(
            "switchover to {site}: first write on the new primary after {} ms; apply finished after {} ms (re-protect included)\n  steps: {}",
            fw.map_or("-".into(), |d| format!("{:.0}", d.as_secs_f64() * 1000.0)),
            whole.as_millis(),
            shares(root)
        );
        if let Some(d) = fw {
            times.push(d);
        }
    }
    // Unplanned: kill the primary (east after the loop above) and fail over to west.
    let pid = std::fs::read_to_string(root.join("data/dev/east/postmaster.pid")).expect("pid");
    let pid = pid.lines().next().expect("pid line").trim().to_string();
    Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let start = Instant::now();
    let probe = first_write("127.0.0.3", 45433, start, stop.clone());
    standby(
        root,
        &[
            "failover",
            "orders",
            "--to",
            "west",
            "-e",
            "dev",
            "--var",
            "active_site=east",
            "--auto-approve",
        ],
    );
    let whole = start.elapsed();
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let fw = probe.join().expect("probe");
    println!(
        "failover to west after SIGKILL of east: first write after {} ms; command finished after {} ms\n  steps: {}",
        fw.map_or("-".into(), |d| format!("{:.0}", d.as_secs_f64() * 1000.0)),
        whole.as_millis(),
        shares(root)
    );
    if !times.is_empty() {
        let mean = times.iter().map(Duration::as_secs_f64).sum::<f64>() / times.len() as f64;
        println!(
            "mean switchover to first write: {:.0} ms over {} runs",
            mean * 1000.0,
            times.len()
        );
    }
    let _ = Command::new(BIN)
        .args([
            "destroy",
            "-e",
            "dev",
            "--var",
            "active_site=west",
            "--auto-approve",
        ])
        .current_dir(root)
        .output();
}
