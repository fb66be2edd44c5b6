//! What a running monitor knows of its groups: the snapshot `standby status` reads from
//! `.standby/monitor/ENV.json` and the status endpoint serves, as JSON and Prometheus text.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One member as the last check saw it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MemberStatus {
    /// `primary` or `standby`: its place in the group.
    pub role: String,
    /// Whether it answered the last check.
    pub healthy: bool,
    /// Its replication position, when it answered.
    pub position: Option<u64>,
}

/// One failover group as the monitor sees it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupStatus {
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
pub struct MonitorStatus {
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
    pub fn prometheus(&self) -> String {
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
    pub fn save(&self, file: &Path) {
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(text) = serde_json::to_string_pretty(self) {
            // Never through a symlink planted at a temporary name.
            let _ = crate::state::atomic_write(file, text.as_bytes());
        }
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
