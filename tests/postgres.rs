//! The PostgreSQL provider against real servers (PostgreSQL 15 from Debian), started by the
//! tests on 127.0.0.2 and 127.0.0.3 in temporary directories: provisioning in sync and async
//! mode, a switchover under a continuous writer, an unplanned failover after SIGKILL, switching
//! back, and drift.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::Test;

static NEXT: AtomicU16 = AtomicU16::new(0);

/// Stops every server of a test directory when the test ends, pass or fail, so no server
/// outlives its data directory.
struct StopServers(std::path::PathBuf);

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
fn cluster() -> (Test, u16, StopServers) {
    let t = Test::plan("postgres-failover");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let base =
        31000 + (std::process::id() % 500) as u16 * 40 + NEXT.fetch_add(12, Ordering::SeqCst);
    let guard = StopServers(t.path().to_path_buf());
    (t, base, guard)
}

fn args<'a>(env: &'a str, port: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["-e", env, "--var", port];
    v.extend_from_slice(extra);
    v
}

async fn sql(host: &str, port: u16) -> tokio_postgres::Client {
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

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Inserts rows one at a time into whatever the connection file names, reconnecting after
/// errors, and records every id whose insert was acknowledged.
fn writer(
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

async fn missing(host: &str, port: u16, acked: &[i64]) -> Vec<i64> {
    let c = sql(host, port).await;
    let rows = c.query("SELECT id FROM orders", &[]).await.unwrap();
    let have: std::collections::HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
    acked
        .iter()
        .copied()
        .filter(|id| !have.contains(id))
        .collect()
}

async fn streaming_standby(primary: (&str, u16), name: &str) -> (String, String) {
    let c = sql(primary.0, primary.1).await;
    for _ in 0..200 {
        if let Some(r) = c
            .query_opt(
                "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = $1",
                &[&name],
            )
            .await
            .unwrap()
        {
            if r.get::<_, String>(0) == "streaming" {
                return (r.get(0), r.get(1));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} does not stream from {}:{}", primary.0, primary.1);
}

#[test]
fn provision_in_async_and_sync_mode() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    t.run(&[&["apply"][..], &args("dev", &port, &["--auto-approve"])].concat())
        .code(0)
        .stdout_has("Switched failover.orders: east is primary (epoch 1)");
    let rt = rt();
    rt.block_on(async {
        let east = sql("127.0.0.2", base).await;
        let west = sql("127.0.0.3", base + 1).await;
        assert!(!east
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .unwrap()
            .get::<_, bool>(0));
        assert!(west
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .unwrap()
            .get::<_, bool>(0));
        assert_eq!(
            streaming_standby(("127.0.0.2", base), "west").await.1,
            "async"
        );
        let checksums: String = east
            .query_one("SHOW data_checksums", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(checksums, "on");
        // The application's role and database were made on the primary and replicated.
        for c in [&east, &west] {
            let mut found = false;
            for _ in 0..100 {
                let q = "SELECT 1 FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = 'app' AND r.rolname = 'app'";
                if c.query_opt(q, &[]).await.unwrap().is_some() {
                    found = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(found, "database app owned by role app");
        }
    });
    let port2 = format!("base_port={}", base + 10);
    t.run(&[&["apply"][..], &args("prod", &port2, &["--auto-approve"])].concat())
        .code(0);
    rt.block_on(async {
        assert_eq!(
            streaming_standby(("127.0.0.2", base + 10), "west").await.1,
            "sync"
        );
    });
    t.run(&["status", "-e", "prod", "--var", &port2])
        .code(0)
        .stdout_has("west      standby  healthy=true")
        .stdout_has("in-sync");
    t.run(&[&["destroy"][..], &args("dev", &port, &["--auto-approve"])].concat())
        .code(0);
    t.run(&[&["destroy"][..], &args("prod", &port2, &["--auto-approve"])].concat())
        .code(0);
    assert!(!t.join("data/dev/east/PG_VERSION").exists());
}

#[test]
fn switchover_under_a_writer_loses_nothing_in_sync_mode_and_switches_back() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let a = |extra: &[&'static str]| -> Vec<String> {
        [
            vec!["apply".to_string()],
            args("prod", &port, extra)
                .into_iter()
                .map(str::to_string)
                .collect(),
        ]
        .concat()
    };
    let run = |v: Vec<String>| t.run(&v.iter().map(String::as_str).collect::<Vec<_>>());
    run(a(&["--auto-approve"])).code(0);
    let rt = rt();
    rt.block_on(async {
        sql("127.0.0.2", base)
            .await
            .batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL)")
            .await
            .unwrap()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let w = writer(&t, "prod", stop.clone(), acked.clone());
    std::thread::sleep(Duration::from_millis(300));
    let before = acked.lock().unwrap().len();
    assert!(before > 10, "the writer is writing ({before} rows)");
    // Without approval the gate holds.
    run(a(&["--var", "active_site=west", "--auto-approve"])).code(4);
    let r = run(a(&[
        "--var",
        "active_site=west",
        "--auto-approve",
        "--approve",
        "orders",
    ]));
    r.code(0)
        .stdout_has("Switched failover.orders: east -> west (epoch 2)");
    std::thread::sleep(Duration::from_millis(300));
    run(a(&[
        "--var",
        "active_site=east",
        "--auto-approve",
        "--approve",
        "orders",
    ]))
    .code(0)
    .stdout_has("Switched failover.orders: west -> east (epoch 3)");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    w.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > before + 10,
        "writes continued across the switches ({} acked)",
        acked.len()
    );
    rt.block_on(async {
        let lost = missing("127.0.0.2", base, &acked).await;
        assert!(
            lost.is_empty(),
            "sync mode lost acknowledged rows: {lost:?}"
        );
        let (state, sync) = streaming_standby(("127.0.0.2", base), "west").await;
        assert_eq!(
            (state.as_str(), sync.as_str()),
            ("streaming", "sync"),
            "the old primary rejoined as a sync standby"
        );
    });
    let s: serde_json::Value =
        serde_json::from_str(&t.run(&["state", "pull", "-e", "prod"]).stdout).unwrap();
    let hist = s["failovers"]["orders"]["history"].as_array().unwrap();
    assert_eq!(hist.len(), 3);
    for h in &hist[1..] {
        let v = &h["verification"]["public.orders"];
        assert_eq!(v[0], v[1], "checksums equal between old and new primary");
        eprintln!(
            "switch {} -> {}: {:.3}s",
            h["from"],
            h["to"],
            h["seconds"].as_f64().unwrap()
        );
    }
    t.run(&[&["destroy"][..], &args("prod", &port, &["--auto-approve"])].concat())
        .code(0);
}

#[test]
fn unplanned_failover_after_sigkill_keeps_every_acknowledged_row_in_sync_mode() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    t.run(&["apply", "-e", "prod", "--var", &port, "--auto-approve"])
        .code(0);
    let rt = rt();
    rt.block_on(async {
        sql("127.0.0.2", base)
            .await
            .batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL)")
            .await
            .unwrap()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let w = writer(&t, "prod", stop.clone(), acked.clone());
    std::thread::sleep(Duration::from_millis(300));
    let pid = t
        .read("data/prod/east/postmaster.pid")
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert!(std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap()
        .success());
    let start = Instant::now();
    let r = t.run(&[
        "failover",
        "orders",
        "--to",
        "west",
        "-e",
        "prod",
        "--var",
        &port,
        "--auto-approve",
    ]);
    r.code(0)
        .stdout_has("Switched failover.orders: east -> west (epoch 2)");
    // The first write accepted on the new primary.
    let first_write = rt.block_on(async {
        loop {
            if let Ok((c, conn)) = tokio_postgres::connect(
                &format!(
                    "host=127.0.0.3 port={} user=postgres dbname=postgres connect_timeout=1",
                    base + 1
                ),
                tokio_postgres::NoTls,
            )
            .await
            {
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                if c.batch_execute("INSERT INTO orders VALUES (-1, 'probe')")
                    .await
                    .is_ok()
                {
                    return start.elapsed();
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    eprintln!(
        "failover command to first accepted write: {:.3}s",
        first_write.as_secs_f64()
    );
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    w.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    rt.block_on(async {
        let lost = missing("127.0.0.3", base + 1, &acked).await;
        assert!(
            lost.is_empty(),
            "sync mode lost acknowledged rows: {lost:?}"
        );
    });
    let s: serde_json::Value =
        serde_json::from_str(&t.run(&["state", "pull", "-e", "prod"]).stdout).unwrap();
    let f = &s["failovers"]["orders"];
    assert_eq!(f["override_"]["reason"], "emergency failover");
    t.run(&["plan", "-e", "prod", "--var", &port])
        .stdout_has("standby will not switch back on its own");
    t.run(&["destroy", "-e", "prod", "--var", &port, "--auto-approve"])
        .code(0);
}

#[test]
fn refresh_detects_a_stopped_server_and_a_changed_setting() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    t.run(&["apply", "-e", "dev", "--var", &port, "--auto-approve"])
        .code(0);
    let b = "/usr/lib/postgresql/15/bin/pg_ctl";
    let dir = t.join("data/dev/west");
    assert!(std::process::Command::new("runuser")
        .args(["-u", "postgres", "--", b, "-D"])
        .arg(&dir)
        .args(["-m", "fast", "-w", "stop"])
        .status()
        .unwrap()
        .success());
    t.run(&["plan", "-e", "dev", "--var", &port, "--refresh-only"])
        .code(0)
        .stdout_has("postgres_server.west has changed")
        .stdout_has("running");
    t.run(&["apply", "-e", "dev", "--var", &port, "--auto-approve"])
        .code(0)
        .stdout_has("1 changed");
    rt().block_on(async {
        let c = sql("127.0.0.2", base).await;
        c.batch_execute("ALTER SYSTEM SET shared_buffers = '16MB'")
            .await
            .unwrap();
        drop(c);
    });
    assert!(std::process::Command::new("runuser")
        .args(["-u", "postgres", "--", b, "-D"])
        .arg(t.join("data/dev/east"))
        .args(["-m", "fast", "-w", "restart"])
        .status()
        .unwrap()
        .success());
    t.run(&["plan", "-e", "dev", "--var", &port])
        .code(0)
        .stdout_has("postgres_server.east will be updated in place")
        .stdout_has("\"16MB\"");
    t.run(&["apply", "-e", "dev", "--var", &port, "--auto-approve"])
        .code(0);
    let r = rt().block_on(async {
        sql("127.0.0.2", base)
            .await
            .query_one("SHOW shared_buffers", &[])
            .await
            .unwrap()
            .get::<_, String>(0)
    });
    assert_eq!(r, "32MB");
    t.run(&["plan", "-e", "dev", "--var", &port, "--detailed-exitcode"])
        .code(0);
    t.run(&["destroy", "-e", "dev", "--var", &port, "--auto-approve"])
        .code(0);
}

#[test]
fn unplanned_failover_in_async_mode_reports_the_loss_it_causes() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    t.run(&["apply", "-e", "dev", "--var", &port, "--auto-approve"])
        .code(0);
    let rt = rt();
    // Freeze the primary's WAL sender so acknowledged rows exist only on the primary.
    let sender: i32 = rt.block_on(async {
        let east = sql("127.0.0.2", base).await;
        east.batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL)")
            .await
            .unwrap();
        streaming_standby(("127.0.0.2", base), "west").await;
        east.query_one(
            "SELECT pid FROM pg_stat_replication WHERE application_name = 'west'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
    });
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &sender.to_string()])
        .status()
        .unwrap()
        .success());
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let w = writer(&t, "dev", stop.clone(), acked.clone());
    std::thread::sleep(Duration::from_millis(400));
    let pid = t
        .read("data/dev/east/postmaster.pid")
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    for p in [pid, sender.to_string()] {
        assert!(std::process::Command::new("kill")
            .args(["-9", &p])
            .status()
            .unwrap()
            .success());
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::SeqCst);
    w.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 20, "the writer wrote ({} rows)", acked.len());
    t.run(&[
        "failover",
        "orders",
        "--to",
        "west",
        "-e",
        "dev",
        "--var",
        &port,
        "--auto-approve",
    ])
    .code(0)
    .stdout_has("Switched failover.orders: east -> west");
    let lost = rt.block_on(async { missing("127.0.0.3", base + 1, &acked).await });
    let s: serde_json::Value =
        serde_json::from_str(&t.run(&["state", "pull", "-e", "dev"]).stdout).unwrap();
    let notes: Vec<String> = s["failovers"]["orders"]["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    let reported: u64 = notes
        .iter()
        .find_map(|n| n.split("estimated loss ").nth(1))
        .and_then(|r| r.split(' ').next())
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("no loss estimate in {notes:?}"));
    eprintln!(
        "async failover: {} acknowledged rows lost, {reported} bytes of WAL reported lost",
        lost.len()
    );
    assert!(!lost.is_empty(), "the held receiver should have cost rows");
    // Each lost row is at least one WAL record (a heap insert plus an index insert and a commit).
    assert!(
        reported >= lost.len() as u64 * 100,
        "reported {reported} bytes for {} lost rows",
        lost.len()
    );
    assert!(
        reported <= (lost.len() as u64 + 5) * 600,
        "reported {reported} bytes is far more than {} lost rows explain",
        lost.len()
    );
    t.run(&["destroy", "-e", "dev", "--var", &port, "--auto-approve"])
        .code(0);
}

#[test]
fn a_switchover_moves_the_dns_answer_and_the_haproxy_route() {
    use support::servers::{dig, haproxy, named, secret};
    let (t, base, _servers) = cluster();
    let (dns_port, front) = (base + 8, base + 9);
    let key = secret();
    let _named = named(t.path(), dns_port, &key);
    let (_hp, sock) = haproxy(t.path(), front, "127.0.0.2:1", "127.0.0.3:1");
    let vars = [
        format!("base_port={base}"),
        format!("dns_server=127.0.0.1:{dns_port}"),
        format!("dns_secret={key}"),
        format!("haproxy_socket={}", sock.display()),
    ];
    let run = |extra: &[&str]| {
        let mut a: Vec<&str> = extra.to_vec();
        a.extend(["-e", "dev"]);
        for v in &vars {
            a.extend(["--var", v.as_str()]);
        }
        t.run(&a)
    };
    run(&["apply", "--auto-approve"]).code(0);
    assert_eq!(dig(dns_port, "db.dr.test", "A"), ["127.0.0.2"]);
    let rt = rt();
    rt.block_on(async {
        sql("127.0.0.2", base)
            .await
            .batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL)")
            .await
            .unwrap()
    });
    let served_by = |rt: &tokio::runtime::Runtime| -> (String, bool) {
        rt.block_on(async {
            let c = sql("127.0.0.1", front).await;
            let r = c
                .query_one("SELECT host(inet_server_addr()), pg_is_in_recovery()", &[])
                .await
                .unwrap();
            (r.get(0), r.get(1))
        })
    };
    assert_eq!(served_by(&rt), ("127.0.0.2".to_string(), false));
    let p = run(&["plan", "--var", "active_site=west"]);
    p.code(0).stdout_has("5. repoint     dns_record.db[0], haproxy_backend.db[0], local_file.connection, postgres_database.app, postgres_role.app (in parallel)");
    run(&["apply", "--var", "active_site=west", "--auto-approve"])
        .code(0)
        .stdout_has("Switched failover.orders: east -> west");
    assert_eq!(dig(dns_port, "db.dr.test", "A"), ["127.0.0.3"]);
    assert_eq!(
        served_by(&rt),
        ("127.0.0.3".to_string(), false),
        "HAProxy routes to the new primary"
    );
    run(&["apply", "--var", "active_site=west", "--auto-approve"])
        .code(0)
        .stdout_has("No changes.");
}

/// `standby monitor` as a child process, killed when dropped.
struct Monitor(std::process::Child, std::path::PathBuf);

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Monitor {
    fn start(t: &Test, args: &[&str]) -> Monitor {
        let log = t.join("monitor.log");
        let mut all = vec!["monitor"];
        all.extend_from_slice(args);
        let child = t
            .command(&all)
            .stdout(std::fs::File::create(t.join("monitor.out")).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        // Wait until it watches.
        for _ in 0..200 {
            if std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("watching failover.orders")
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Monitor(child, log)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.1).unwrap_or_default()
    }
}

#[test]
fn the_monitor_fails_over_automatically_within_3_seconds_and_loses_nothing_in_sync_mode() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = [
        "-e",
        "dev",
        "--var",
        &port,
        "--var",
        "replication_mode=sync",
        "--var",
        "health_failures=2",
    ];
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    let rt = rt();
    rt.block_on(async {
        sql("127.0.0.2", base)
            .await
            .batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL)")
            .await
            .unwrap()
    });
    let mon = Monitor::start(&t, &vars);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let w = writer(&t, "dev", stop.clone(), acked.clone());
    std::thread::sleep(Duration::from_millis(500));
    let pid = t
        .read("data/dev/east/postmaster.pid")
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert!(std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap()
        .success());
    let killed = Instant::now();
    let first_write = rt.block_on(async {
        while killed.elapsed() < Duration::from_secs(20) {
            if let Ok((c, conn)) = tokio_postgres::connect(
                &format!(
                    "host=127.0.0.3 port={} user=postgres dbname=postgres connect_timeout=1",
                    base + 1
                ),
                tokio_postgres::NoTls,
            )
            .await
            {
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                if c.batch_execute("INSERT INTO orders VALUES (-1, 'probe')")
                    .await
                    .is_ok()
                {
                    return killed.elapsed();
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("no write accepted on west; monitor log:\n{}", mon.log());
    });
    eprintln!(
        "monitor: kill -9 to first accepted write: {:.3}s",
        first_write.as_secs_f64()
    );
    assert!(
        first_write < Duration::from_secs(3),
        "took {first_write:?}; log:\n{}",
        mon.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    w.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    let lost = rt.block_on(async { missing("127.0.0.3", base + 1, &acked).await });
    assert!(
        lost.is_empty(),
        "sync mode lost acknowledged rows: {lost:?}"
    );
    let log = mon.log();
    assert!(
        log.contains("check 2/2 of east failed") && log.contains("TRIGGER: failing over to west"),
        "{log}"
    );
    assert!(
        log.contains("single point of failure"),
        "the missing lease is called out"
    );
}

#[test]
fn a_blip_shorter_than_the_threshold_causes_no_failover() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = ["-e", "dev", "--var", &port, "--var", "health_failures=3"];
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    let mon = Monitor::start(&t, &vars);
    // Freeze the primary for about one check: it answers nothing, then comes back.
    let pid = t
        .read("data/dev/east/postmaster.pid")
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(1300));
    assert!(std::process::Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(3500));
    let log = mon.log();
    assert!(
        !log.contains("TRIGGER"),
        "a blip must not fail over:\n{log}"
    );
    let s: serde_json::Value =
        serde_json::from_str(&t.run(&["state", "pull", "-e", "dev"]).stdout).unwrap();
    assert_eq!(s["failovers"]["orders"]["active"], "east");
}

#[test]
fn with_manual_approval_the_monitor_saves_the_plan_and_approve_runs_it() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = ["-e", "prod", "--var", &port, "--var", "health_failures=2"];
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    rt().block_on(async {
        sql("127.0.0.2", base)
            .await
            .batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL)")
            .await
            .unwrap()
    });
    let mut mon = Monitor::start(&t, &vars);
    let pid = t
        .read("data/prod/east/postmaster.pid")
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert!(std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap()
        .success());
    let status = (0..200).find_map(|_| {
        std::thread::sleep(Duration::from_millis(50));
        mon.0.try_wait().unwrap()
    });
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(4),
        "the monitor stops with the plan awaiting approval:\n{}",
        mon.log()
    );
    let log = mon.log();
    let file = log
        .split("standby approve ")
        .nth(1)
        .and_then(|r| r.split('`').next())
        .unwrap_or_else(|| panic!("no plan named in:\n{log}"))
        .to_string();
    // Nothing switched yet.
    let s: serde_json::Value =
        serde_json::from_str(&t.run(&["state", "pull", "-e", "prod"]).stdout).unwrap();
    assert_eq!(s["failovers"]["orders"]["active"], "east");
    t.run(&["approve", &file])
        .code(0)
        .stdout_has("Switched failover.orders: east -> west");
}
