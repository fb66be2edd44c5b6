//! `standby monitor` against real PostgreSQL servers started by the tests: automatic failover
//! after SIGKILL, blips that must not count, and manual approval with its status and webhook.

use crate::support::monitor::Monitor;
use crate::support::pg::{args, SYNC_AUTO};
use crate::support::pg::{cluster, first_write, missing, rt, writer};
use crate::support::pg::{create_orders, kill_postmaster};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn the_monitor_fails_over_automatically_within_3_seconds_and_loses_nothing_in_sync_mode() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &SYNC_AUTO);
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    create_orders(base);
    let rt = rt();
    let mon = Monitor::start(&t, &vars);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let w = writer(&t, "dev", stop.clone(), acked.clone());
    std::thread::sleep(Duration::from_millis(500));
    let killed = kill_postmaster(&t, "dev", "east");
    let first_write = rt
        .block_on(first_write("127.0.0.3", base + 1, killed))
        .unwrap_or_else(|| panic!("no write accepted on west; monitor log:\n{}", mon.log()));
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

/// A one-shot HTTP GET on loopback.
fn http_get(mon: &Monitor, addr: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    // A few attempts: under parallel load a connection is now and then reset before the
    // request is written (seen only when nine PostgreSQL tests share two cores; not explained).
    let mut last = None;
    let mut out = String::new();
    for _ in 0..10 {
        out.clear();
        match std::net::TcpStream::connect(addr).and_then(|mut c| {
            write!(
                c,
                "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )?;
            c.read_to_string(&mut out)
        }) {
            Ok(_) => {
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if let Some(e) = last {
        panic!("GET {path}: {e}; monitor log:\n{}", mon.log());
    }
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// Receives webhook POSTs and keeps their bodies.
fn webhook_sink() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    use std::io::{Read as _, Write as _};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut buf = vec![0u8; 65536];
            let mut n = 0;
            // Read until the body named by Content-Length is complete.
            loop {
                let k = c.read(&mut buf[n..]).unwrap_or(0);
                n += k;
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        g.lock()
                            .unwrap()
                            .push(serde_json::from_str(body).unwrap_or_default());
                        let _ =
                            c.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
                        break;
                    }
                }
                if k == 0 {
                    break;
                }
            }
        }
    });
    (url, got)
}

#[test]
fn with_manual_approval_the_monitor_saves_the_plan_and_approve_runs_it() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    // A generous check timeout: this test is about approval and status, and a busy CI machine
    // must not make the monitor act before the status is read.
    let vars = [
        "-e",
        "prod",
        "--var",
        &port,
        "--var",
        "health_failures=2",
        "--var",
        "health_timeout=3s",
    ];
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    create_orders(base);
    let (hook, got) = webhook_sink();
    // Port 0: the monitor picks a free port and logs it, so nothing else can take it first.
    let mut mon = Monitor::start(
        &t,
        &[&vars[..], &["--listen", "127.0.0.1:0", "--webhook", &hook]].concat(),
    );
    let listen = mon.status_address();
    std::thread::sleep(Duration::from_millis(1500));
    // Its status, three ways.
    let status: serde_json::Value = serde_json::from_str(&http_get(&mon, &listen, "/")).unwrap();
    assert_eq!(status["groups"]["orders"]["active"], "east", "{status:#}");
    assert_eq!(
        status["groups"]["orders"]["members"]["east"]["healthy"], true,
        "{status:#}"
    );
    assert_eq!(
        status["groups"]["orders"]["members"]["west"]["role"], "standby",
        "{status:#}"
    );
    assert!(status["lease_holder"]
        .as_str()
        .unwrap()
        .contains("no etcd lease"));
    let metrics = http_get(&mon, &listen, "/metrics");
    assert!(metrics.contains("standby_member_healthy{env=\"prod\",group=\"orders\",site=\"east\",role=\"primary\"} 1"), "{metrics}");
    t.run(&["status", "-e", "prod", "--var", &port])
        .code(0)
        .stdout_has("monitor: pid")
        .stdout_has("0 of 2 failed checks");
    kill_postmaster(&t, "prod", "east");
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
    let events: Vec<serde_json::Value> = got.lock().unwrap().clone();
    assert_eq!(
        events
            .iter()
            .map(|e| e["event"].as_str().unwrap_or(""))
            .collect::<Vec<_>>(),
        ["failover_triggered", "failover_awaiting_approval"],
        "{events:?}"
    );
    assert_eq!(events[1]["plan"], file.as_str());
    // Nothing switched yet.
    let s: serde_json::Value =
        serde_json::from_str(&t.run(&["state", "pull", "-e", "prod"]).stdout).unwrap();
    assert_eq!(s["failovers"]["orders"]["active"], "east");
    t.run(&["status", "-e", "prod", "--var", &port])
        .stdout_has("monitor: not running");
    // The old primary is dead: the switch completes with the checksums skipped (exit 5).
    t.run(&["approve", &file])
        .code(5)
        .stdout_has("Switched failover.orders: east -> west")
        .stdout_has("checksums skipped: the old primary east is unreachable");
}

/// One raw HTTP/1.1 exchange with a deadline: the status line and the body.
fn exchange(addr: &str, request: &str) -> (String, String) {
    use std::io::{Read as _, Write as _};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    c.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// Issue 12: the status endpoint served one request at a time, so three slow clients held a
/// GET for 20 s, and anyone could read it. Now slow clients hold only their own connection,
/// a port alone listens on loopback, and a token file makes every request need the token.
#[test]
fn the_status_endpoint_serves_concurrently_and_can_require_a_token() {
    let t = crate::support::Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    t.write("token", "s3cret-token\n");
    let mon = Monitor::start(
        &t,
        &["-e", "dev", "--listen", "0", "--listen-token-file", "token"],
    );
    let addr = mon.status_address();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    // Three clients that send half a request and wait.
    let slow: Vec<std::net::TcpStream> = (0..3)
        .map(|_| {
            use std::io::Write as _;
            let mut c = std::net::TcpStream::connect(&addr).unwrap();
            c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
            c
        })
        .collect();
    let started = std::time::Instant::now();
    let (line, _) = exchange(
        &addr,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(line.contains("401"), "{line}");
    let (line, body) = exchange(
        &addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-token\r\nConnection: close\r\n\r\n",
    );
    assert!(line.contains("200"), "{line}");
    assert!(body.contains("standby_member_healthy"), "{body}");
    // The scheme is case-insensitive.
    let (line, _) = exchange(
        &addr,
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: bearer s3cret-token\r\nConnection: close\r\n\r\n",
    );
    assert!(line.contains("200"), "{line}");
    let (line, _) = exchange(
        &addr,
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nConnection: close\r\n\r\n",
    );
    assert!(line.contains("401"), "{line}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answers waited for the slow clients: {:?}",
        started.elapsed()
    );
    drop(slow);
    t.run(&[
        "monitor",
        "-e",
        "dev",
        "--listen-token-file",
        "token",
        "--for",
        "1s",
    ])
    .code(1)
    .stderr_has("--listen-token-file needs --listen");
    t.write("two", "tokA\ntokB\n");
    t.run(&[
        "monitor",
        "-e",
        "dev",
        "--listen",
        "0",
        "--listen-token-file",
        "two",
        "--for",
        "1s",
    ])
    .code(1)
    .stderr_has("more than one token");
    t.write("empty", "\n");
    t.run(&[
        "monitor",
        "-e",
        "dev",
        "--listen",
        "0",
        "--listen-token-file",
        "empty",
        "--for",
        "1s",
    ])
    .code(1)
    .stderr_has("is empty");
}
