//! The monitor's side of leader election: one campaign round per tick, logged transitions,
//! and the guard that makes the failover it runs claim its epoch with the fencing token.

use super::CliError;
use standby_engine::apply::PromotionGuard;
use standby_engine::lease::{Election, Standing};
use std::sync::Arc;
use std::time::Duration;

/// How the monitor takes part in leader election (`--etcd`, `--lease-ttl`, `--name`).
pub(crate) struct ElectionArgs {
    /// etcd endpoints; empty for a single monitor.
    pub etcd: Vec<String>,
    /// The lease's time to live.
    pub ttl: Duration,
    /// This monitor's name.
    pub name: Option<String>,
}

/// Whether this monitor may act, and who does.
pub(crate) struct Lease {
    election: Option<Arc<Election>>,
    /// This monitor's name.
    pub name: String,
    standing: Option<Standing>,
    unreachable: bool,
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

impl Lease {
    /// Connects to etcd when endpoints are given.
    pub(crate) fn connect(
        args: &ElectionArgs,
        env: &str,
        rt: &tokio::runtime::Runtime,
    ) -> Result<Lease, CliError> {
        let name = args
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", host(), std::process::id()));
        let election = if args.etcd.is_empty() {
            None
        } else {
            let e = rt
                .block_on(Election::connect(&args.etcd, env, &name, args.ttl))
                .map_err(|e| {
                    CliError::msg(
                        "Cannot join the monitor election",
                        format!("{e}. Check --etcd (or STANDBY_ETCD), or leave it out to run a single monitor."),
                    )
                })?;
            Some(Arc::new(e))
        };
        Ok(Lease {
            election,
            name,
            standing: None,
            unreachable: false,
        })
    }

    /// Whether an election runs at all.
    pub(crate) fn elected(&self) -> bool {
        self.election.is_some()
    }

    /// One campaign round: whether this monitor may act, and whether it just won the lease.
    /// Logs every change.
    pub(crate) fn round(
        &mut self,
        rt: &tokio::runtime::Runtime,
        log: impl Fn(&str),
    ) -> (bool, bool) {
        let Some(e) = &self.election else {
            return (true, false);
        };
        let standing = match rt.block_on(e.campaign()) {
            Ok(s) => {
                if self.unreachable {
                    log(&format!("etcd at {} answers again", e.endpoints()));
                }
                self.unreachable = false;
                s
            }
            Err(err) => {
                if !self.unreachable {
                    log(&format!("{err}: cannot confirm the lease, so not acting"));
                }
                self.unreachable = true;
                // Whatever it held runs out on its own; claims would fail in etcd anyway.
                return (false, false);
            }
        };
        let before = self.standing.replace(standing.clone());
        match (&before, &standing) {
            (_, Standing::Leader { token, fresh: true }) => log(&format!(
                "acquired the lease at {} (fencing token {token}); this monitor acts on faults",
                e.endpoints()
            )),
            (_, Standing::Lost { token }) => log(&format!(
                "lost the lease (token {token}): no keep-alive was confirmed within its TTL; not acting"
            )),
            (Some(Standing::Leader { token, .. }), Standing::Follower { holder }) => log(&format!(
                "lost the lease (token {token}); {holder} holds it now; not acting"
            )),
            (b, Standing::Follower { holder })
                if !matches!(b, Some(Standing::Follower { holder: h }) if h == holder) =>
            {
                log(&format!(
                    "following: {holder} holds the lease; this monitor checks but does not act"
                ));
            }
            _ => {}
        }
        (
            matches!(standing, Standing::Leader { .. }),
            matches!(standing, Standing::Leader { fresh: true, .. }),
        )
    }

    /// Who holds the lease, for the status.
    pub(crate) fn holder_text(&self) -> String {
        match (&self.election, &self.standing) {
            (None, _) => format!(
                "this monitor (pid {}); no etcd lease configured",
                std::process::id()
            ),
            (Some(_), Some(Standing::Leader { token, .. })) => {
                format!("{} (this monitor, fencing token {token})", self.name)
            }
            (Some(_), Some(Standing::Follower { holder })) => holder.clone(),
            (Some(_), _) => "unknown (no holder confirmed)".into(),
        }
    }

    /// The guard for a failover this monitor runs.
    pub(crate) fn guard(&self) -> Option<Arc<dyn PromotionGuard>> {
        self.election
            .clone()
            .map(standby_engine::lease::epoch_guard)
    }

    /// Gives up the lease on a clean stop, so another monitor takes over at once.
    pub(crate) fn resign(&self, rt: &tokio::runtime::Runtime) {
        if let Some(e) = &self.election {
            rt.block_on(e.resign());
        }
    }
}

/// The guard for a promotion a person runs while monitors elect through etcd: no lease, but
/// the epoch is claimed there, so a monitor cannot promote the same epoch. None without etcd.
pub(crate) fn operator_guard(
    etcd: &[String],
    env: &str,
    rt: &tokio::runtime::Runtime,
) -> Result<Option<Arc<dyn PromotionGuard>>, CliError> {
    if etcd.is_empty() {
        return Ok(None);
    }
    let who = format!(
        "operator {}",
        standby_engine::state::LockInfo::new("switch").who
    );
    let e = rt
        .block_on(Election::connect(etcd, env, &who, Duration::from_secs(3)))
        .map_err(|e| {
            CliError::msg(
                "Cannot reach the monitors' etcd",
                format!("{e}. Check --etcd (or STANDBY_ETCD); without it the switch does not claim its epoch in etcd."),
            )
        })?;
    Ok(Some(standby_engine::lease::operator_guard(e)))
}
