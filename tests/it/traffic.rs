//! Traffic providers against real servers: BIND for `dns_record` (RFC 2136 + TSIG) and
//! HAProxy for `haproxy_backend` (runtime API), each started by the test on loopback.

use crate::support::servers::{dig, haproxy, named, secret};
use crate::support::Test;
use std::io::Read as _;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

static NEXT: AtomicU16 = AtomicU16::new(0);

fn port() -> u16 {
    // Below the cluster tests' range and Linux's ephemeral range.
    12000 + (std::process::id() % 400) as u16 * 20 + NEXT.fetch_add(1, Ordering::SeqCst)
}

fn record(port: u16, records: &str) -> String {
    format!(
        r#"
variable "secret" {{
  type      = string
  sensitive = true
}}

resource "dns_record" "db" {{
  server  = "127.0.0.1:{port}"
  zone    = "dr.test"
  name    = "db.dr.test"
  type    = "A"
  ttl     = 60
  records = [{records}]

  key {{
    name      = "standby-key"
    algorithm = "hmac-sha256"
    secret    = var.secret
  }}
}}
"#
    )
}

#[test]
fn dns_records_are_created_updated_repaired_and_deleted() {
    let t = Test::new();
    let p = port();
    let key = secret();
    let _named = named(t.path(), p, &key);
    t.write("main.hcl", &record(p, "\"127.0.0.2\""));
    let var = format!("secret={key}");
    let r = t.run(&["apply", "--var", &var, "--auto-approve"]);
    r.code(0).stdout_has("secret = (sensitive value)");
    assert!(
        !r.stdout.contains(&key) && !r.stderr.contains(&key),
        "the TSIG secret must never print"
    );
    assert_eq!(dig(p, "db.dr.test", "A"), ["127.0.0.2"]);
    // Update replaces the whole RRset.
    t.write("main.hcl", &record(p, "\"127.0.0.3\", \"127.0.0.4\""));
    t.run(&["plan", "--var", &var, "--detailed-exitcode"])
        .code(2)
        .stdout_has("dns_record.db will be updated in place");
    t.run(&["apply", "--var", &var, "--auto-approve"]).code(0);
    assert_eq!(dig(p, "db.dr.test", "A"), ["127.0.0.3", "127.0.0.4"]);
    t.run(&["plan", "--var", &var, "--detailed-exitcode"])
        .code(0);
    // Drift: someone changes the record by hand.
    let nsupdate = std::process::Command::new("nsupdate")
        .args(["-y", &format!("hmac-sha256:standby-key:{key}")])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            c.stdin.take().unwrap().write_all(format!("server 127.0.0.1 {p}\nzone dr.test\nupdate delete db.dr.test A\nupdate add db.dr.test 60 A 10.9.9.9\nsend\n").as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(nsupdate.success());
    assert_eq!(dig(p, "db.dr.test", "A"), ["10.9.9.9"]);
    t.run(&["plan", "--var", &var, "--refresh-only"])
        .code(0)
        .stdout_has("dns_record.db has changed")
        .stdout_has("10.9.9.9");
    t.run(&["apply", "--var", &var, "--auto-approve"])
        .code(0)
        .stdout_has("1 changed");
    assert_eq!(dig(p, "db.dr.test", "A"), ["127.0.0.3", "127.0.0.4"]);
    // A wrong key is a clear error and changes nothing.
    t.write("main.hcl", &record(p, "\"127.0.0.5\""));
    // Another valid key (a character swap could break the base64 padding bits instead).
    let wrong = format!("secret={}", {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode([0x5a_u8; 32])
    });
    let r = t.run(&["apply", "--var", &wrong, "--auto-approve"]);
    r.code(1)
        .stderr_has("rejected the TSIG signature")
        .stderr_has("check the key block");
    assert_eq!(dig(p, "db.dr.test", "A"), ["127.0.0.3", "127.0.0.4"]);
    // Delete removes the RRset.
    t.run(&["destroy", "--var", &var, "--auto-approve"]).code(0);
    assert!(dig(p, "db.dr.test", "A").is_empty());
}

#[test]
fn an_unreachable_dns_server_times_out_with_what_to_check() {
    let t = Test::new().file("main.hcl", &record(9, "\"127.0.0.2\""));
    t.run(&["apply", "--var", "secret=c2VjcmV0", "--auto-approve"])
        .code(1)
        .stderr_has("127.0.0.1:9")
        .stderr_has("check server (host:port)");
}

/// A listener that answers every connection with `name`.
fn listener(addr: &str, name: &'static str) -> u16 {
    let l = std::net::TcpListener::bind(format!("{addr}:0")).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            use std::io::Write as _;
            let mut s = s;
            let _ = s.write_all(name.as_bytes());
        }
    });
    port
}

fn through(port: u16) -> String {
    for _ in 0..50 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = String::new();
            if s.read_to_string(&mut buf).is_ok() && !buf.is_empty() {
                return buf;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing came through HAProxy on {port}");
}

fn backend(sock: &std::path::Path, east: u16, west: u16) -> String {
    format!(
        r#"
variable "active" {{
  type = string
}}

resource "haproxy_backend" "db" {{
  socket  = "{}"
  backend = "db"
  servers = {{
    east = "127.0.0.2:{east}"
    west = "127.0.0.3:{west}"
  }}
  active            = [var.active]
  shutdown_sessions = true
}}
"#,
        sock.display()
    )
}

#[test]
fn haproxy_traffic_follows_the_active_server() {
    let t = Test::new();
    let (east, west) = (listener("127.0.0.2", "east"), listener("127.0.0.3", "west"));
    let front = port();
    // HAProxy starts with placeholder addresses: standby sets the real ones at runtime.
    let (_hp, sock) = haproxy(t.path(), front, "127.0.0.2:1", "127.0.0.3:1");
    t.write("main.hcl", &backend(&sock, east, west));
    t.run(&["apply", "--var", "active=east", "--auto-approve"])
        .code(0);
    assert_eq!(through(front), "east");
    t.run(&["apply", "--var", "active=west", "--auto-approve"])
        .code(0)
        .stdout_has("1 changed");
    assert_eq!(through(front), "west");
    t.run(&["plan", "--var", "active=west", "--detailed-exitcode"])
        .code(0);
    // Drift: west put in maintenance by hand.
    let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    use std::io::Write as _;
    s.write_all(b"set server db/west state maint\n").unwrap();
    let mut _ack = String::new();
    let _ = s.read_to_string(&mut _ack);
    t.run(&["plan", "--var", "active=west", "--refresh-only"])
        .code(0)
        .stdout_has("haproxy_backend.db has changed");
    t.run(&["apply", "--var", "active=west", "--auto-approve"])
        .code(0);
    assert_eq!(through(front), "west");
    // Clear errors for a missing socket and for a socket without admin level.
    t.write("main.hcl", &backend(&t.join("nope.sock"), east, west));
    t.run(&[
        "apply",
        "--var",
        "active=east",
        "--auto-approve",
        "--refresh=false",
    ])
    .code(1)
    .stderr_has("cannot connect to the HAProxy admin socket")
    .stderr_has("level admin");
    t.write(
        "main.hcl",
        &backend(&t.join("haproxy/user.sock"), east, west),
    );
    t.run(&[
        "apply",
        "--var",
        "active=east",
        "--auto-approve",
        "--refresh=false",
    ])
    .code(1)
    .stderr_has("lacks admin level");
}

/// Issue 12: `servers = { east = "127.0.0.2:PORT; disable frontend fe" }` ran the second
/// command, and a port of 99999 silently became 34463. Both are located errors at plan time
/// now, and nothing reaches HAProxy: the frontend keeps serving.
#[test]
fn a_haproxy_server_address_cannot_inject_a_command() {
    let t = Test::new();
    let (east, west) = (listener("127.0.0.2", "east"), listener("127.0.0.3", "west"));
    let front = port();
    let (_hp, sock) = haproxy(t.path(), front, "127.0.0.2:1", "127.0.0.3:1");
    t.write("main.hcl", &backend(&sock, east, west));
    t.run(&["apply", "--var", "active=east", "--auto-approve"])
        .code(0);
    for (bad, says) in [
        (
            format!("127.0.0.2:{east}; disable frontend fe"),
            "is not IP:PORT",
        ),
        ("127.0.0.2:99999".to_string(), "a port from 1 to 65535"),
        ("db.internal:5432".to_string(), "no host names"),
    ] {
        let hcl = backend(&sock, east, west).replace(&format!("127.0.0.2:{east}"), &bad);
        t.write("main.hcl", &hcl);
        for cmd in ["validate", "plan"] {
            t.run(&[cmd, "--var", "active=east"])
                .code(1)
                .stderr_has(says)
                .stderr_has("main.hcl:");
        }
        t.run(&["apply", "--var", "active=east", "--auto-approve"])
            .code(1);
        assert_eq!(through(front), "east", "{bad}");
    }
    let hcl = backend(&sock, east, west).replace("backend = \"db\"", "backend = \"db fe\"");
    t.write("main.hcl", &hcl);
    t.run(&["plan", "--var", "active=east"])
        .code(1)
        .stderr_has("is not a HAProxy name");
}

/// Issue 13: `name = "db"`, relative to the zone as Terraform's dns provider takes it, was
/// refused, and only at apply time after other resources had changed.
#[test]
fn a_dns_name_relative_to_its_zone_is_the_record_in_that_zone() {
    let t = Test::new();
    let p = port();
    let key = secret();
    let _named = named(t.path(), p, &key);
    t.write(
        "main.hcl",
        &record(p, "\"127.0.0.2\"").replace("name    = \"db.dr.test\"", "name    = \"db\""),
    );
    let var = format!("secret={key}");
    t.run(&["apply", "--var", &var, "--auto-approve"]).code(0);
    assert_eq!(dig(p, "db.dr.test", "A"), ["127.0.0.2"]);
    t.run(&["plan", "--var", &var, "--detailed-exitcode"])
        .code(0);
    // Writing the same record's name the other way is no change (a replacement would delete
    // the record it had just made).
    t.write("main.hcl", &record(p, "\"127.0.0.2\""));
    t.run(&["plan", "--var", &var, "--detailed-exitcode"])
        .code(0);
    t.run(&["apply", "--var", &var, "--auto-approve"]).code(0);
    assert_eq!(dig(p, "db.dr.test", "A"), ["127.0.0.2"]);
    // A fully qualified name outside the zone is refused at plan time, not rewritten.
    t.write(
        "main.hcl",
        &record(p, "\"127.0.0.2\"")
            .replace("name    = \"db.dr.test\"", "name    = \"db.other.test.\""),
    );
    t.run(&["plan", "--var", &var])
        .code(1)
        .stderr_has("db.other.test. is not in zone dr.test");
}
