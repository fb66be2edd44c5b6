//! What a running monitor exposes: a status snapshot written to `.standby/monitor/ENV.json`
//! (which `standby status` reads), the same as JSON and Prometheus text on an optional HTTP
//! endpoint, and webhook notifications.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One member as the last check saw it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct MemberStatus {
    /// `primary` or `standby`: its place in the group.
    pub role: String,
    /// Whether it answered the last check.
    pub healthy: bool,
    /// Its replication position, when it answered.
    pub position: Option<u64>,
}

/// One failover group as the monitor sees it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct GroupStatus {
    /// The active site.
    pub active: String,
    /// Consecutive failed checks of the active member.
    pub consecutive_failures: u32,
    /// How many trigger a failover.
    pub failures_to_trigger: u32,
    /// `auto` or `manual`.
    pub approval: String,
    /// When it was last checked (RFC 3339).
    pub last_check: String,
    /// Failovers this monitor triggered.
    pub failovers_triggered: u64,
    /// Site to member status.
    pub members: BTreeMap<String, MemberStatus>,
}

/// The monitor's whole status.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct MonitorStatus {
    /// The environment.
    pub env: String,
    /// The monitor's process id.
    pub pid: u32,
    /// When it started (RFC 3339).
    pub started: String,
    /// This monitor's name in the election.
    #[serde(default)]
    pub name: String,
    /// Whether it holds the lease (false when no election runs).
    #[serde(default)]
    pub leader: bool,
    /// Who may act: without etcd, this monitor alone.
    pub lease_holder: String,
    /// Group name to status.
    pub groups: BTreeMap<String, GroupStatus>,
}

impl MonitorStatus {
    /// The Prometheus text exposition.
    pub(crate) fn prometheus(&self) -> String {
        let mut s = String::new();
        let env = &self.env;
        s.push_str(
            "# HELP standby_monitor_up The monitor is running.\n# TYPE standby_monitor_up gauge\n",
        );
        let _ = writeln!(s, "standby_monitor_up{{env=\"{env}\"}} 1");
        s.push_str("# HELP standby_monitor_leader The monitor holds the election's lease.\n# TYPE standby_monitor_leader gauge\n");
        let _ = writeln!(
            s,
            "standby_monitor_leader{{env=\"{env}\",name=\"{}\"}} {}",
            self.name,
            u8::from(self.leader)
        );
        s.push_str("# HELP standby_member_healthy Whether the member answered the last check.\n# TYPE standby_member_healthy gauge\n");
        for (g, st) in &self.groups {
            for (site, m) in &st.members {
                let _ = writeln!(
                    s,
                    "standby_member_healthy{{env=\"{env}\",group=\"{g}\",site=\"{site}\",role=\"{}\"}} {}",
                    m.role,
                    u8::from(m.healthy)
                );
            }
        }
        s.push_str("# HELP standby_member_position_bytes Replication position (LSN) of the member.\n# TYPE standby_member_position_bytes gauge\n");
        for (g, st) in &self.groups {
            for (site, m) in &st.members {
                if let Some(p) = m.position {
                    let _ = writeln!(
                        s,
                        "standby_member_position_bytes{{env=\"{env}\",group=\"{g}\",site=\"{site}\"}} {p}"
                    );
                }
            }
        }
        s.push_str("# HELP standby_group_consecutive_failures Consecutive failed checks of the active member.\n# TYPE standby_group_consecutive_failures gauge\n");
        for (g, st) in &self.groups {
            let _ = writeln!(
                s,
                "standby_group_consecutive_failures{{env=\"{env}\",group=\"{g}\"}} {}",
                st.consecutive_failures
            );
        }
        s.push_str("# HELP standby_failovers_triggered_total Failovers this monitor triggered.\n# TYPE standby_failovers_triggered_total counter\n");
        for (g, st) in &self.groups {
            let _ = writeln!(
                s,
                "standby_failovers_triggered_total{{env=\"{env}\",group=\"{g}\"}} {}",
                st.failovers_triggered
            );
        }
        s
    }

    /// Writes the snapshot atomically, for `standby status`.
    pub(crate) fn save(&self, file: &Path) {
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let tmp = file.with_extension("json.tmp");
        if let Ok(text) = serde_json::to_string_pretty(self) {
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, file);
            }
        }
    }
}

/// Serves `/metrics` (Prometheus) and anything else as JSON, one request per connection.
pub(crate) fn serve(listener: TcpListener, status: Arc<Mutex<MonitorStatus>>) {
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let _ = answer(conn, &status);
        }
    });
}

fn answer(mut conn: TcpStream, status: &Mutex<MonitorStatus>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    // Read the whole head: closing with request bytes unread makes the kernel send a reset,
    // which the client sees as a broken pipe instead of the answer.
    let mut buf = vec![0_u8; 8192];
    let mut n = 0;
    while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    let request = String::from_utf8_lossy(&buf[..n]);
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let snapshot = status.lock().map(|s| s.clone()).unwrap_or_default();
    let (kind, body) = if path.starts_with("/metrics") {
        ("text/plain; version=0.0.4", snapshot.prometheus())
    } else {
        (
            "application/json",
            serde_json::to_string_pretty(&snapshot).unwrap_or_default(),
        )
    };
    write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Posts `body` as JSON to an `http://host:port/path` webhook; returns what went wrong.
pub(crate) fn notify(url: &str, body: &serde_json::Value) -> Result<(), String> {
    let (host, path) = super::health::split_url(url)?;
    let addr = std::net::ToSocketAddrs::to_socket_addrs(host)
        .map_err(|e| format!("{host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host}: no address"))?;
    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .map_err(|e| format!("{host}: {e}"))?;
    c.set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    let text = body.to_string();
    write!(
        c,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )
    .map_err(|e| e.to_string())?;
    let mut reply = String::new();
    let _ = c.read_to_string(&mut reply);
    match reply.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(()),
        Some(code) => Err(format!("{url} answered {code}")),
        None => Err(format!("{url} gave no answer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_names_every_member() {
        let mut s = MonitorStatus {
            env: "dev".into(),
            ..MonitorStatus::default()
        };
        let mut g = GroupStatus {
            consecutive_failures: 1,
            ..GroupStatus::default()
        };
        g.members.insert(
            "east".into(),
            MemberStatus {
                role: "primary".into(),
                healthy: false,
                position: None,
            },
        );
        g.members.insert(
            "west".into(),
            MemberStatus {
                role: "standby".into(),
                healthy: true,
                position: Some(42),
            },
        );
        s.groups.insert("orders".into(), g);
        let text = s.prometheus();
        for line in [
            "standby_member_healthy{env=\"dev\",group=\"orders\",site=\"east\",role=\"primary\"} 0",
            "standby_member_healthy{env=\"dev\",group=\"orders\",site=\"west\",role=\"standby\"} 1",
            "standby_member_position_bytes{env=\"dev\",group=\"orders\",site=\"west\"} 42",
            "standby_group_consecutive_failures{env=\"dev\",group=\"orders\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }
}
