//! The drill's faults on the primary, by the member's surface: signals to a server's processes
//! and a network partition of its endpoint (nftables on loopback), or a file lost or locked
//! (through the provider, which knows the file's locking). An injected fault is healed when
//! woken or dropped.

use standby_provider_sdk::{DrillTarget, Held, Member, ProviderError, Surface};
use std::process::{Command, Stdio};

/// What a scenario does to the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// It dies at once: SIGKILL, or its file lost.
    Crash,
    /// It shuts down gracefully.
    Stop,
    /// It is alive and answers nothing: SIGSTOP, or its file locked.
    Hang,
    /// Nobody reaches it.
    Partition,
}

impl Fault {
    /// Why `surface` cannot take this fault, before anything is injected.
    pub fn refused_by(self, surface: &Surface) -> Option<&'static str> {
        match (surface, self) {
            (Surface::File { .. }, Fault::Stop) => {
                Some("an embedded database is a file: it has no server to stop gracefully")
            }
            (Surface::File { .. }, Fault::Partition) => {
                Some("an embedded database is a file: it has no endpoint to cut off")
            }
            (Surface::File { wal: true, .. }, Fault::Hang) => Some(
                "the database is in WAL mode, where a lock keeps writers out but not readers, so it cannot hang",
            ),
            _ => None,
        }
    }
}

/// A fault in place, and how to heal it.
pub struct Injected {
    /// How the report names it.
    pub what: String,
    heal: Heal,
}

enum Heal {
    Nothing,
    Continue(Vec<u32>),
    Cut(Partition),
    Locked(Box<dyn Held>),
}

impl Injected {
    /// The frozen, cut-off or locked primary comes back; a crash stays a crash.
    pub fn wake(&mut self) {
        match std::mem::replace(&mut self.heal, Heal::Nothing) {
            Heal::Continue(pids) => signal(&pids, Sig::Cont),
            Heal::Cut(p) => drop(p),
            Heal::Locked(l) => drop(l),
            Heal::Nothing => {}
        }
    }
}

impl Drop for Injected {
    fn drop(&mut self) {
        self.wake();
    }
}

/// Injects `fault` into `m`, reading a server's processes now (they change when it
/// restarts).
pub(crate) fn inject(
    t: &dyn DrillTarget,
    m: &Member,
    fault: Fault,
) -> Result<Injected, ProviderError> {
    let done = |what: String, heal: Heal| Ok(Injected { what, heal });
    match t.surface(m)? {
        Surface::Server { host, port } => {
            let processes = t.processes(m)?;
            let Some(&main) = processes.first() else {
                return Err(ProviderError::new(
                    format!("{} has no process to signal", m.site),
                    "its provider found none",
                ));
            };
            match fault {
                Fault::Crash => {
                    signal(&[main], Sig::Kill);
                    done(
                        format!("SIGKILL to the primary's main process ({main})"),
                        Heal::Nothing,
                    )
                }
                Fault::Stop => {
                    signal(&[main], Sig::Int);
                    done(
                        "fast shutdown (SIGINT) of the primary".into(),
                        Heal::Nothing,
                    )
                }
                Fault::Hang => {
                    signal(&processes, Sig::Stop);
                    done(
                        "SIGSTOP to the primary's main process and its children".into(),
                        Heal::Continue(processes),
                    )
                }
                Fault::Partition => match Partition::cut(&host, port) {
                    Ok(p) => done(
                        format!("network partition of {host}:{port}: {}", p.describe()),
                        Heal::Cut(p),
                    ),
                    Err(why) => {
                        // The documented substitute: a frozen machine is unreachable too.
                        signal(&processes, Sig::Stop);
                        done(
                            format!("SIGSTOP to the primary's processes, standing in for a partition ({why})"),
                            Heal::Continue(processes),
                        )
                    }
                },
            }
        }
        surface @ Surface::File { .. } => {
            if let Some(why) = fault.refused_by(&surface) {
                return Err(ProviderError::new(
                    format!("{} cannot take this fault", m.site),
                    why,
                ));
            }
            match (surface, fault) {
                (Surface::File { path, .. }, Fault::Hang) => {
                    let held = t.lock_out(m)?;
                    done(
                        format!("{} locked against every reader and writer", path.display()),
                        Heal::Locked(held),
                    )
                }
                _ => {
                    let aside = t.lose(m)?;
                    done(
                        format!("the primary's database file lost (moved aside to {aside})"),
                        Heal::Nothing,
                    )
                }
            }
        }
    }
}

/// A signal a drill sends to the primary's processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sig {
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
fn signal(pids: &[u32], sig: Sig) {
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
struct Partition {
    table: String,
}

impl Partition {
    /// Cuts `host:port` off with an nftables table of its own; says why when it cannot.
    fn cut(host: &str, port: u16) -> Result<Partition, String> {
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
    fn describe(&self) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_takes_only_the_faults_a_file_can_have() {
        let file = Surface::File {
            path: "/x.db".into(),
            wal: false,
        };
        let wal = Surface::File {
            path: "/x.db".into(),
            wal: true,
        };
        let server = Surface::Server {
            host: "127.0.0.1".into(),
            port: 5432,
        };
        assert!(Fault::Hang.refused_by(&wal).unwrap().contains("WAL mode"));
        assert_eq!(Fault::Crash.refused_by(&wal), None);
        for f in [Fault::Crash, Fault::Stop, Fault::Hang, Fault::Partition] {
            assert_eq!(f.refused_by(&server), None);
        }
        assert_eq!(Fault::Crash.refused_by(&file), None);
        assert_eq!(Fault::Hang.refused_by(&file), None);
        assert!(Fault::Stop.refused_by(&file).unwrap().contains("no server"));
        assert!(Fault::Partition
            .refused_by(&file)
            .unwrap()
            .contains("no endpoint"));
    }
}
