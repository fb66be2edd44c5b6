//! The drill's faults on the primary: signals to its processes, and a network partition made
//! with nftables on loopback, healed when dropped.

use std::process::{Command, Stdio};

/// A signal a drill sends to the primary's processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sig {
    /// A crash.
    Kill,
    /// A graceful stop.
    Int,
    /// A hang.
    Stop,
    /// The hang ends.
    Cont,
}

/// Sends `sig` to the processes; a process that is gone already is no error.
pub(crate) fn signal(pids: &[u32], sig: Sig) {
    let sig = match sig {
        Sig::Kill => libc::SIGKILL,
        Sig::Int => libc::SIGINT,
        Sig::Stop => libc::SIGSTOP,
        Sig::Cont => libc::SIGCONT,
    };
    for &pid in pids {
        // Never 0 or 1: kill(0) signals our own process group, kill(1) init.
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            continue;
        };
        if pid <= 1 {
            continue;
        }
        // SAFETY: kill(2) with a positive pid and a valid signal number has no memory effects.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Packets to and from one address and port dropped, in both directions, for everyone on this
/// machine: the monitor, the standby's WAL receiver, and the writer. Dropping, not rejecting,
/// is what a partition looks like: connections hang instead of failing fast.
pub(crate) struct Partition {
    table: String,
}

impl Partition {
    /// Cuts `host:port` off with an nftables table of its own; says why when it cannot.
    pub(crate) fn cut(host: &str, port: u16) -> Result<Partition, String> {
        let ip: std::net::Ipv4Addr = host
            .parse()
            .map_err(|_| format!("{host} is not an IPv4 address"))?;
        let table = format!("standby_drill_{}", std::process::id());
        let rules = format!(
            "table ip {table} {{\n  chain out {{\n    type filter hook output priority 0; policy accept;\n    ip daddr {ip} tcp dport {port} drop\n    ip saddr {ip} tcp sport {port} drop\n  }}\n}}\n"
        );
        let mut child = Command::new("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run nft: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write as _;
            stdin
                .write_all(rules.as_bytes())
                .map_err(|e| format!("cannot run nft: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("cannot run nft: {e}"))?;
        if out.status.success() {
            Ok(Partition { table })
        } else {
            Err(format!(
                "nft refused the rule: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// How the report names it.
    pub(crate) fn describe(&self) -> String {
        format!("nftables table ip {} drops its packets", self.table)
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &self.table])
            .stderr(Stdio::null())
            .status();
    }
}
