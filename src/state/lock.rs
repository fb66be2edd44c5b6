//! Lock records and the file lock used by the local backend.

use super::{io_err, StateError};
use fs4::fs_std::FileExt;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

/// Who holds a lock, since when, and for what.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockInfo {
    /// A UUID, for `force-unlock`.
    pub id: String,
    /// The operation, such as `apply`.
    pub operation: String,
    /// `user@host`.
    pub who: String,
    /// The holder's process id.
    pub pid: u32,
    /// RFC 3339 time the lock was taken.
    pub created: String,
}

impl LockInfo {
    /// A new record for this process.
    pub fn new(operation: &str) -> Self {
        // $USER is unset in cron, systemd units and many containers: the uid's name is not.
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(uid_name)
            // SAFETY: getuid has no preconditions and cannot fail.
            .unwrap_or_else(|| format!("uid-{}", unsafe { libc::getuid() }));
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_string(),
            who: format!("{user}@{host}"),
            pid: std::process::id(),
            created: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (pid {}) for {} since {}, lock id {}",
            self.who, self.pid, self.operation, self.created, self.id
        )
    }
}

/// A held lock; dropping it releases the lock.
pub struct LockGuard {
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
    /// The record written for this hold.
    pub info: LockInfo,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl LockGuard {
    /// A hold that runs `release` when dropped.
    pub fn new(info: LockInfo, release: impl FnOnce() + Send + Sync + 'static) -> Self {
        LockGuard {
            release: Some(Box::new(release)),
            info,
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(r) = self.release.take() {
            r();
        }
    }
}

/// An advisory `flock` on a file that also holds the [`LockInfo`]. The kernel releases it when
/// the holder dies, so a crash never leaves a stale lock on this backend.
pub(crate) struct FileLock;

impl FileLock {
    fn open(path: &Path) -> Result<File, StateError> {
        use std::os::unix::fs::OpenOptionsExt as _;
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(io_err(path))
    }

    fn read_info(f: &mut File) -> Option<LockInfo> {
        let mut s = String::new();
        f.rewind().ok()?;
        f.read_to_string(&mut s).ok()?;
        serde_json::from_str(&s).ok()
    }

    pub(crate) fn acquire(
        path: &Path,
        info: LockInfo,
        timeout: Duration,
    ) -> Result<LockGuard, StateError> {
        let mut f = Self::open(path)?;
        let start = Instant::now();
        loop {
            if f.try_lock_exclusive().unwrap_or(false) {
                break;
            }
            if start.elapsed() >= timeout {
                let holder = Self::read_info(&mut f).unwrap_or_else(|| LockInfo {
                    id: "?".into(),
                    operation: "?".into(),
                    who: "another process".into(),
                    pid: 0,
                    created: "?".into(),
                });
                return Err(StateError::Locked(Box::new(holder)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        f.set_len(0).map_err(io_err(path))?;
        f.rewind().map_err(io_err(path))?;
        f.write_all(serde_json::to_string(&info).unwrap_or_default().as_bytes())
            .map_err(io_err(path))?;
        f.sync_data().map_err(io_err(path))?;
        Ok(LockGuard::new(info, move || {
            let _ = f.set_len(0);
            let _ = FileExt::unlock(&f);
        }))
    }

    pub(crate) fn holder(path: &Path) -> Result<Option<LockInfo>, StateError> {
        if !path.exists() {
            return Ok(None);
        }
        let mut f = Self::open(path)?;
        if f.try_lock_exclusive().unwrap_or(false) {
            let _ = FileExt::unlock(&f);
            return Ok(None);
        }
        Ok(Self::read_info(&mut f))
    }

    pub(crate) fn force_unlock(path: &Path, id: &str) -> Result<(), StateError> {
        let mut f = Self::open(path)?;
        let info = Self::read_info(&mut f);
        if f.try_lock_exclusive().unwrap_or(false) {
            // Nobody holds it: clear a leftover record, if it is the one named.
            let matches = info.as_ref().is_some_and(|i| i.id == id);
            if matches {
                f.set_len(0).map_err(io_err(path))?;
            }
            let _ = FileExt::unlock(&f);
            return if matches {
                Ok(())
            } else {
                Err(StateError::NoSuchLock(id.to_string()))
            };
        }
        match info {
            Some(i) if i.id == id => Err(StateError::Locked(Box::new(i))),
            _ => Err(StateError::NoSuchLock(id.to_string())),
        }
    }
}

/// The name of this process's user in /etc/passwd.
fn uid_name() -> Option<String> {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() }.to_string();
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.get(2) == Some(&uid.as_str())).then(|| f[0].to_string())
        })
}
