//! The PostgreSQL provider against real servers (PostgreSQL 15 from Debian), started by the
//! tests on 127.0.0.2 and 127.0.0.3 in temporary directories: provisioning in sync and async
//! mode, a switchover under a continuous writer, an unplanned failover after SIGKILL, switching
//! back, and drift.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::pg::{args, cluster, first_write, missing, rt, sql, writer};
use crate::support::pg::{create_orders, kill_postmaster};

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
        .stdout_has("Recorded failover.orders: east is primary (epoch 1)");
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
    create_orders(base);
    let rt = rt();
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
    create_orders(base);
    let rt = rt();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let w = writer(&t, "prod", stop.clone(), acked.clone());
    std::thread::sleep(Duration::from_millis(300));
    let start = kill_postmaster(&t, "prod", "east");
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
    // 5: switched, with the caveat that the dead old primary's rows could not be compared.
    r.code(5)
        .stdout_has("Switched failover.orders: east -> west (epoch 2)")
        .stdout_has("checksums skipped: the old primary east is unreachable");
    // The first write accepted on the new primary.
    let first_write = rt
        .block_on(first_write("127.0.0.3", base + 1, start))
        .expect("no write accepted on west within 20 s");
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
    // A stopped member is not started as it is: re-protect rejoins it as a standby (a
    // deposed primary would otherwise come back writable).
    t.run(&["apply", "-e", "dev", "--var", &port, "--auto-approve"])
        .code(0)
        .stdout_has("failover.orders will re-protect west: east stays primary")
        .stdout_has("west is not following east (down); re-protect rejoins it as a standby before its repair");
    t.run(&["plan", "-e", "dev", "--var", &port, "--detailed-exitcode"])
        .code(0);
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
    .code(5)
    .stdout_has("Switched failover.orders: east -> west")
    .stdout_has("checksums skipped: the old primary east is unreachable");
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
    use crate::support::servers::{dig, haproxy, named, secret};
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
    create_orders(base);
    let rt = rt();
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
    p.code(0).stdout_has("6. repoint     dns_record.db[0], haproxy_backend.db[0], local_file.connection, postgres_database.app, postgres_role.app (in parallel)");
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

/// The old primary's server log outlives a failover and its rejoin. It used to live in the data
/// directory, where pg_rewind overwrote it with the new primary's: the log of the crash was lost
/// at every rejoin.
#[test]
fn server_log_survives_rejoin() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    t.run(&["apply", "-e", "dev", "--var", &port, "--auto-approve"])
        .code(0);
    create_orders(base);
    let marker = "standby-test: east before the crash";
    rt().block_on(async {
        sql("127.0.0.2", base)
            .await
            .batch_execute(&format!("DO $$ BEGIN RAISE LOG '{marker}'; END $$"))
            .await
            .unwrap()
    });
    // Each server logs next to its data directory, in a file its OS user owns.
    use std::os::unix::fs::MetadataExt as _;
    let postgres_uid = std::fs::metadata(t.join("data/dev/east")).unwrap().uid();
    for site in ["east", "west"] {
        let meta = std::fs::metadata(t.join(&format!("data/dev/{site}.log")))
            .unwrap_or_else(|e| panic!("data/dev/{site}.log: {e}"));
        assert_eq!(meta.uid(), postgres_uid, "{site}.log belongs to run_as");
        assert!(
            !t.join(&format!("data/dev/{site}/server.log")).exists(),
            "nothing logs inside the data directory"
        );
    }
    assert!(t.read("data/dev/east.log").contains(marker));
    kill_postmaster(&t, "dev", "east");
    let r = t.run(&[
        "failover",
        "orders",
        "--to",
        "west",
        "-e",
        "dev",
        "--var",
        &port,
        "--auto-approve",
    ]);
    // 5: switched with caveats (the old primary was down, so no checksums to compare).
    assert!(
        matches!(r.code, 0 | 5),
        "failover failed\n--- stdout\n{}\n--- stderr\n{}",
        r.stdout,
        r.stderr
    );
    r.stdout_has("Switched failover.orders: east -> west");
    // east rejoined as a standby of west (pg_rewind, or a fresh base backup)...
    let recovering: bool = rt().block_on(async {
        sql("127.0.0.2", base)
            .await
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .unwrap()
            .get(0)
    });
    assert!(recovering, "east rejoined as a standby");
    // ...and its log still holds what it wrote as the primary, followed by the rejoin.
    let log = t.read("data/dev/east.log");
    let at = log
        .find(marker)
        .unwrap_or_else(|| panic!("east's log lost the lines from before the crash:\n{log}"));
    assert!(
        log[at..].contains("entering standby mode"),
        "east's log goes on after the rejoin:\n{log}"
    );
    assert!(
        !t.read("data/dev/west.log").contains(marker),
        "west's log is its own"
    );
    t.run(&["destroy", "-e", "dev", "--var", &port, "--auto-approve"])
        .code(0);
    assert!(
        !t.join("data/dev/east.log").exists(),
        "destroy removes the log"
    );
}

#[test]
fn a_log_file_inside_the_data_directory_is_refused() {
    let t = crate::support::Test::new().file(
        "main.hcl",
        r#"
resource "postgres_server" "db" {
  listen   = "127.0.0.2"
  port     = 5999
  data_dir = "data/db"
  log_file = "data/db/log/server.log"
  run_as   = "postgres"
}
"#,
    );
    t.run(&["plan"])
        .code(1)
        .stderr_has("is inside data_dir")
        .stderr_has("pg_rewind");
}

/// Issue 11, seen 11: with the sync standby frozen, a change of a role hung `standby apply`
/// in `ALTER ROLE` (the commit waited for a standby that never answered) while it held the
/// state lock. Now the wait ends after 10 s with an error that says the change is on the
/// primary only; the state does not record it, and a re-run once the standby is back applies
/// it for good.
#[test]
fn a_role_change_does_not_hang_while_the_sync_standby_is_frozen() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &["--var", "replication_mode=sync"]);
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    let pid = t.read("data/dev/west/postmaster.pid");
    let pid = pid.lines().next().unwrap().trim().to_string();
    let children = std::process::Command::new("pgrep")
        .args(["-P", &pid])
        .output()
        .unwrap();
    let mut frozen = vec![pid];
    frozen.extend(
        String::from_utf8_lossy(&children.stdout)
            .lines()
            .map(str::to_string),
    );
    let signal = |sig: &str| {
        for p in &frozen {
            let _ = std::process::Command::new("kill")
                .args([sig, p.as_str()])
                .status();
        }
    };
    let before = password_hash(base);
    signal("-STOP");
    let hcl = t.read("main.hcl").replace("app-secret", "app-secret-2");
    t.write("main.hcl", &hcl);
    let mut child = t
        .command(
            &[
                &["apply", "--auto-approve", "--target", "postgres_role.app"][..],
                &vars,
            ]
            .concat(),
        )
        .stdout(std::fs::File::create(t.join("apply.out")).unwrap())
        .stderr(std::fs::File::create(t.join("apply.err")).unwrap())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(60) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if status.is_none() {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    signal("-CONT");
    let out = format!("{}{}", t.read("apply.out"), t.read("apply.err"));
    let status = status.unwrap_or_else(|| panic!("apply hung for 60 s: {out}"));
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        out.contains("no synchronous standby acknowledged it"),
        "{out}"
    );
    // The change is on the primary, but not recorded: the next plan still wants it.
    assert_ne!(password_hash(base), before, "the password did not change");
    let r = t.run(&[&["apply", "--auto-approve"][..], &vars].concat());
    assert!(matches!(r.code, 0 | 5), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("postgres_role.app will be updated in place"),
        "{}",
        r.stdout
    );
    t.run(&[&["plan", "--detailed-exitcode"][..], &vars].concat())
        .code(0);
}

fn password_hash(base: u16) -> String {
    rt().block_on(async {
        sql("127.0.0.2", base)
            .await
            .query_one(
                "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    })
}

/// A role change that waited for a lock held by another session was reported as "no
/// synchronous standby acknowledged it", which says it committed; it did not. The error now
/// says what it waited for, read from pg_stat_activity before cancelling.
#[test]
fn a_role_change_blocked_by_a_lock_says_it_did_not_happen() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &[]);
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    let before = password_hash(base);
    let rt = rt();
    // Another session changes the role in a transaction it leaves open: its row lock on the
    // role holds any other change of it.
    let holder = rt.block_on(async {
        let c = sql("127.0.0.2", base).await;
        c.batch_execute("BEGIN; ALTER ROLE app CONNECTION LIMIT 5")
            .await
            .unwrap();
        c
    });
    let hcl = t.read("main.hcl").replace("app-secret", "app-secret-2");
    t.write("main.hcl", &hcl);
    let r = t.run(
        &[
            &["apply", "--auto-approve", "--target", "postgres_role.app"][..],
            &vars,
        ]
        .concat(),
    );
    rt.block_on(holder.batch_execute("ROLLBACK")).unwrap();
    r.code(1)
        .stderr_has("cannot alter role app: not finished within 10s; it waited for a lock (transactionid) that another session holds")
        .stderr_has("It was cancelled and did not happen");
    assert_eq!(password_hash(base), before, "the password changed");
    // With the session gone, the same apply works.
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    assert_ne!(password_hash(base), before);
}
