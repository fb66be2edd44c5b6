//! The monitor's health check kinds against real PostgreSQL servers started by the tests: the
//! provider's `SELECT 1`, a TCP connect, and an HTTP GET of a health endpoint, each failing over
//! after SIGKILL of the primary.

use crate::support::monitor::Monitor;
use crate::support::pg::{cluster, first_write, rt};
use crate::support::pg::{create_orders, kill_postmaster};
use std::io::{Read as _, Write as _};
use std::time::Duration;

/// A health endpoint like a database sidecar's: GET /SITE answers 200 while that site's
/// PostgreSQL accepts connections and 503 once it does not.
fn sidecar(sites: Vec<(String, String)>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0_u8; 1024];
            let n = conn.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let path = req
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let up = sites
                .iter()
                .find(|(s, _)| s == path)
                .is_some_and(|(_, addr)| {
                    std::net::TcpStream::connect_timeout(
                        &addr.parse().unwrap(),
                        Duration::from_millis(200),
                    )
                    .is_ok()
                });
            let status = if up {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    port
}

/// Applies with `health_type = KIND` (and `extra` variables), starts the monitor, kills the
/// primary, and checks that the monitor's KIND check failed over to west.
fn fails_over_with(kind: &str, extra: impl FnOnce(u16) -> Vec<String>) -> String {
    let (t, base, _servers) = cluster();
    let mut vars: Vec<String> = [
        "-e".to_string(),
        "dev".into(),
        "--var".into(),
        format!("base_port={base}"),
        "--var".into(),
        "health_failures=2".into(),
        "--var".into(),
        format!("health_type={kind}"),
    ]
    .into();
    vars.extend(extra(base));
    let vars: Vec<&str> = vars.iter().map(String::as_str).collect();
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    create_orders(base);
    let mon = Monitor::start(&t, &vars);
    assert!(
        mon.log().contains(&format!("{kind} check every 1s")),
        "{}",
        mon.log()
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !mon.log().contains("failed"),
        "healthy at first: {}",
        mon.log()
    );
    let killed = kill_postmaster(&t, "dev", "east");
    let took = rt()
        .block_on(first_write("127.0.0.3", base + 1, killed))
        .unwrap_or_else(|| panic!("no failover; log:\n{}", mon.log()));
    eprintln!(
        "{kind} check: kill -9 to first write {:.3}s",
        took.as_secs_f64()
    );
    let log = mon.log();
    assert!(log.contains("TRIGGER: failing over to west"), "{log}");
    log.lines()
        .find(|l| l.contains("check 2/2 of east failed"))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_sql_health_check_fails_over_when_the_primary_cannot_answer_select_1() {
    let line = fails_over_with("sql", |_| vec![]);
    assert!(
        line.contains("failed: cannot connect to 127.0.0.2:"),
        "{line}"
    );
}

#[test]
fn a_tcp_health_check_fails_over_when_the_primary_refuses_connections() {
    let line = fails_over_with("tcp", |_| vec![]);
    assert!(line.contains("failed: tcp 127.0.0.2:"), "{line}");
}

#[test]
fn an_http_health_check_fails_over_when_the_endpoint_answers_503() {
    let line = fails_over_with("http", |base| {
        let port = sidecar(vec![
            ("east".into(), format!("127.0.0.2:{base}")),
            ("west".into(), format!("127.0.0.3:{}", base + 1)),
        ]);
        vec![
            "--var".into(),
            format!("health_urls={{east=\"http://127.0.0.1:{port}/east\",west=\"http://127.0.0.1:{port}/west\"}}"),
        ]
    });
    assert!(line.contains("/east answered 503"), "{line}");
}

#[test]
fn a_standby_failing_its_http_check_is_reported_and_never_promoted() {
    let (t, base, _servers) = cluster();
    // west's endpoint reports it unhealthy (its sidecar checks a port nothing listens on).
    let port = sidecar(vec![
        ("east".into(), format!("127.0.0.2:{base}")),
        ("west".into(), "127.0.0.3:9".into()),
    ]);
    let urls = format!(
        "health_urls={{east=\"http://127.0.0.1:{port}/east\",west=\"http://127.0.0.1:{port}/west\"}}"
    );
    let base_var = format!("base_port={base}");
    let vars = [
        "-e",
        "dev",
        "--var",
        &base_var,
        "--var",
        "health_failures=2",
        "--var",
        "health_type=http",
        "--var",
        &urls,
    ];
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    let mon = Monitor::start(&t, &vars);
    std::thread::sleep(Duration::from_millis(2500));
    let snapshot: serde_json::Value =
        serde_json::from_str(&t.read(".standby/monitor/dev.json")).unwrap();
    let members = &snapshot["groups"]["orders"]["members"];
    assert_eq!(members["east"]["healthy"], true, "{snapshot:#}");
    assert_eq!(members["west"]["healthy"], false, "{snapshot:#}");
    kill_postmaster(&t, "dev", "east");
    assert!(
        mon.wait_for(
            "triggered, but no healthy standby to promote",
            Duration::from_secs(10)
        ),
        "{}",
        mon.log()
    );
    assert!(!mon.log().contains("TRIGGER"), "{}", mon.log());
}
