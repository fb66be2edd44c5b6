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
                // The holder before us removes the file when it lets go; if it did so while
                // we waited, our lock is on a file nobody else can see: open the path again.
                if Self::same_file(&f, path) {
                    break;
                }
                let _ = FileExt::unlock(&f);
                f = Self::open(path)?;
                continue;
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
        let path = path.to_path_buf();
        Ok(LockGuard::new(info, move || {
            // Removed while still held, so no lock file is left behind (Terraform removes its
            // .tfstate.lock.info too); a waiter that opened the old file sees that it is gone
            // and opens the path again. A holder that dies leaves the file, which the next
            // lock takes over and removes.
            let _ = std::fs::remove_file(&path);
            let _ = FileExt::unlock(&f);
        }))
    }

    /// Whether `f` is still the file at `path`.
    fn same_file(f: &File, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt as _;
        match (f.metadata(), std::fs::symlink_metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13: a released lock removes its file. Waiters that opened the old file must
    /// notice and lock the new one, or two holders could run at once: sixteen threads
    /// increment a counter file with a read, a pause and a write under the lock; no
    /// increment may be lost, and no two may hold it at once.
    #[test]
    fn removing_the_lock_file_on_release_keeps_mutual_exclusion() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("env.lock");
        let counter = dir.path().join("counter");
        std::fs::write(&counter, "0").unwrap();
        let holders = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (lock, counter, holders) = (lock.clone(), counter.clone(), holders.clone());
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        let g = FileLock::acquire(
                            &lock,
                            LockInfo::new("test"),
                            Duration::from_secs(60),
                        )
                        .unwrap();
                        let at_once = holders.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        assert_eq!(at_once, 0, "two holders at once");
                        let n: u64 = std::fs::read_to_string(&counter).unwrap().parse().unwrap();
                        std::thread::sleep(Duration::from_millis(20));
                        std::fs::write(&counter, (n + 1).to_string()).unwrap();
                        holders.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                        drop(g);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(std::fs::read_to_string(&counter).unwrap(), "80");
        assert!(!lock.exists(), "the lock file was left behind");
    }
}
