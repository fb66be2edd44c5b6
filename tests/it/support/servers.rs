//! Real servers for provider tests, started in a test's temporary directory on loopback and
//! stopped when dropped: BIND (named) for DNS and HAProxy.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed on drop.
pub struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A base64 HMAC-SHA256 secret (32 bytes), different every run.
pub fn secret() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        *b = (t.wrapping_mul(2654435761).wrapping_add(i as u32 * 40503) >> (i % 24)) as u8;
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Starts named for zone `dr.test` on 127.0.0.1:`port`, accepting updates signed with
/// `standby-key`. Returns once it answers.
pub fn named(dir: &Path, port: u16, secret: &str) -> Server {
    let d = dir.join("named");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("dr.test.zone"), "$TTL 60\n@ IN SOA ns.dr.test. admin.dr.test. 1 60 60 600 60\n@ IN NS ns.dr.test.\nns IN A 127.0.0.1\n").unwrap();
    let conf = format!(
        "options {{ directory \"{d}\"; listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }}; pid-file \"{d}/named.pid\"; recursion no; dnssec-validation no; }};\n\
         controls {{ }};\n\
         key \"standby-key\" {{ algorithm hmac-sha256; secret \"{secret}\"; }};\n\
         zone \"dr.test\" {{ type primary; file \"{d}/dr.test.zone\"; allow-update {{ key \"standby-key\"; }}; }};\n",
        d = d.display()
    );
    std::fs::write(d.join("named.conf"), conf).unwrap();
    for p in [dir, d.as_path()] {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let _ = Command::new("chown")
        .args(["-R", "bind:bind"])
        .arg(&d)
        .status();
    let child = Command::new("/usr/sbin/named")
        .args(["-u", "bind", "-g", "-c"])
        .arg(d.join("named.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start named (apt-get install bind9)");
    let s = Server { child };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if !dig(port, "dr.test", "SOA").is_empty() {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("named did not start on port {port}");
}

/// `dig +short` against the test server.
pub fn dig(port: u16, name: &str, kind: &str) -> Vec<String> {
    let out = Command::new("dig")
        .args([
            "+short",
            "+time=1",
            "+tries=1",
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            name,
            kind,
        ])
        .output()
        .expect("dig (apt-get install bind9-dnsutils)");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with(';'))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Starts HAProxy with a TCP frontend on 127.0.0.1:`port` and backend `db` with servers east
/// and west at the given addresses, and an admin socket (plus a user-level one) in `dir`.
pub fn haproxy(dir: &Path, port: u16, east: &str, west: &str) -> (Server, PathBuf) {
    let d = dir.join("haproxy");
    std::fs::create_dir_all(&d).unwrap();
    let sock = d.join("admin.sock");
    let conf = format!(
        "global\n  stats socket {sock} mode 600 level admin\n  stats socket {user} mode 600 level user\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
         frontend fe\n  bind 127.0.0.1:{port}\n  default_backend db\nbackend db\n  server east {east}\n  server west {west} disabled\n",
        sock = sock.display(),
        user = d.join("user.sock").display()
    );
    std::fs::write(d.join("haproxy.cfg"), conf).unwrap();
    let child = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(d.join("haproxy.cfg"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start haproxy (apt-get install haproxy)");
    let s = Server { child };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) && !sock.exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(sock.exists(), "haproxy did not start");
    (s, sock)
}

/// A PostgreSQL server for state-backend tests, run as `postgres`, stopped on drop.
pub struct PgServer {
    data: PathBuf,
    bin: PathBuf,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
}

impl PgServer {
    /// initdb and start a trust-auth server on 127.0.0.1:`port` under `dir`.
    pub fn start(dir: &Path, port: u16) -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is not installed: run scripts/test, which installs it")
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists())
            .expect("initdb");
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::create_dir_all(dir).unwrap();
        for d in [Some(dir), dir.parent()].into_iter().flatten() {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let data = dir.join("pgstate");
        let as_pg = |prog: &str, args: &[&str]| {
            let out = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(bin.join(prog))
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{prog}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let d = data.display().to_string();
        as_pg("initdb", &["-D", &d, "-U", "postgres", "--auth=trust"]);
        let log = dir.join("pgstate.log").display().to_string();
        // The given port may be taken meanwhile (an ephemeral port of some connection):
        // then take one the system says is free.
        let mut port = port;
        for attempt in 0..3 {
            let opts =
                format!("-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''");
            let started = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(bin.join("pg_ctl"))
                .args(["-D", &d, "-o", &opts, "-l", &log, "-w", "start"])
                .output()
                .unwrap();
            if started.status.success() {
                break;
            }
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                attempt < 2 && text.contains("could not bind"),
                "pg_ctl start on port {port}: {}\n{text}",
                String::from_utf8_lossy(&started.stderr)
            );
            port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
        }
        PgServer { data, bin, port }
    }

    /// The `--backend` spec for this server.
    pub fn spec(&self, schema: &str) -> String {
        format!(
            "pg:host=127.0.0.1 port={} user=postgres dbname=postgres#{schema}",
            self.port
        )
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
