//! The local backend: `.standby/state/ENV.json`, with a journal beside it.

use super::journal::JournalEntry;
use super::lock::{FileLock, LockGuard, LockInfo};
use super::model::{State, FORMAT_VERSION};
use super::{io_err, StateError, StateLock, StateStore};
use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// State of one environment in a directory on the local disk.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    dir: PathBuf,
    env: String,
    cipher: Option<std::sync::Arc<super::Cipher>>,
    /// The key reads use; the write key unless told otherwise (`state migrate` decrypting).
    read_key: Option<std::sync::Arc<super::Cipher>>,
}

impl LocalBackend {
    /// The backend for `env` under `root/.standby/state`.
    pub fn new(root: &Path, env: &str) -> Self {
        LocalBackend {
            dir: root.join(".standby").join("state"),
            env: env.to_string(),
            cipher: None,
            read_key: None,
        }
    }

    /// The same backend, encrypting what it writes with `cipher` (and reading what it
    /// encrypted).
    pub fn encrypted(mut self, cipher: Option<std::sync::Arc<super::Cipher>>) -> Self {
        self.read_key.clone_from(&cipher);
        self.cipher = cipher;
        self
    }

    /// The same backend, reading with `key` whatever it writes with.
    pub fn reading_with(mut self, key: Option<std::sync::Arc<super::Cipher>>) -> Self {
        self.read_key = key;
        self
    }

    fn seal(&self, plain: Vec<u8>) -> Result<Vec<u8>, StateError> {
        match &self.cipher {
            Some(c) => c.seal(&plain),
            None => Ok(plain),
        }
    }

    /// The snapshot file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.env))
    }

    /// The previous snapshot.
    pub fn backup_path(&self) -> PathBuf {
        self.dir.join(format!("{}.json.backup", self.env))
    }

    fn journal_path(&self) -> PathBuf {
        self.dir.join(format!("{}.journal", self.env))
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.env))
    }

    fn ensure_dir(&self) -> Result<(), StateError> {
        std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))
    }

    fn parse(&self, path: &Path, bytes: &[u8]) -> Result<State, StateError> {
        let bytes =
            &super::crypt::open(self.read_key.as_deref(), bytes, &path.display().to_string())?;
        let backup = Some(self.backup_path()).filter(|b| b.exists() && b != path);
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt {
                path: path.to_path_buf(),
                detail: e.to_string(),
                backup: backup.clone(),
            })?;
        let found = v
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if found > u64::from(FORMAT_VERSION) {
            return Err(StateError::TooNew {
                path: path.to_path_buf(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
        serde_json::from_value(v).map_err(|e| StateError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
            backup,
        })
    }

    /// Replays journal lines that belong to `state`'s snapshot. A torn final line (a crash while
    /// appending) is ignored; a bad line before the end is corruption.
    fn replay(&self, state: &mut State) -> Result<(), StateError> {
        let path = self.journal_path();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let mut lines = BufReader::new(file).lines().peekable();
        while let Some(line) = lines.next() {
            let line = line.map_err(io_err(&path))?;
            let last = lines.peek().is_none();
            let line = match super::crypt::open(
                self.read_key.as_deref(),
                line.as_bytes(),
                &path.display().to_string(),
            ) {
                Ok(plain) => String::from_utf8_lossy(&plain).into_owned(),
                // A torn last line (a crash while appending) is ignored, encrypted or not.
                Err(StateError::Key(d)) if last && !d.contains("is encrypted") => continue,
                Err(e) => return Err(e),
            };
            super::journal::replay_line(state, &line, last).map_err(|detail| {
                StateError::Corrupt {
                    path: path.clone(),
                    detail,
                    backup: None,
                }
            })?;
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, fsync of the directory.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    // Created exclusively and never through a symlink: standby often runs as root, and a link
    // planted at this name must not redirect the write. A leftover (a crash of a process with
    // the same pid) is removed first; removing a symlink removes the link, not its target.
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
    };
    let mut f = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&tmp).map_err(io_err(&tmp))?;
            open()
        }
        other => other,
    }
    .map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

impl StateStore for LocalBackend {
    fn read(&self) -> Result<Option<State>, StateError> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let mut state = self.parse(&path, &bytes)?;
        self.replay(&mut state)?;
        Ok(Some(state))
    }

    fn write(&self, state: &State) -> Result<(), StateError> {
        self.ensure_dir()?;
        let path = self.path();
        if path.exists() {
            let current = std::fs::read(&path).map_err(io_err(&path))?;
            // Never overwrite a corrupt snapshot: it may be the only copy of something.
            self.parse(&path, &current)?;
            // A plain snapshot kept as the backup of an encrypted one would leave a readable
            // copy behind: the backup is encrypted as the new snapshot is.
            let backup = if self.cipher.is_some() && !super::crypt::is_sealed(&current) {
                self.seal(current)?
            } else {
                current
            };
            atomic_write(&self.backup_path(), &backup)?;
        }
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| StateError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
            backup: None,
        })?;
        atomic_write(&path, &self.seal(bytes)?)?;
        // The snapshot now holds everything the journal had; lines left behind are skipped on
        // replay anyway because they name the older serial.
        match std::fs::remove_file(self.journal_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&self.journal_path())(e)),
        }
    }

    fn append(
        &self,
        lineage: &str,
        serial: u64,
        entries: &[JournalEntry],
    ) -> Result<(), StateError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.ensure_dir()?;
        let path = self.journal_path();
        let mut buf = Vec::new();
        for e in entries {
            let line = serde_json::to_vec(&e.to_line(lineage, serial)).map_err(|e| {
                StateError::Corrupt {
                    path: path.clone(),
                    detail: e.to_string(),
                    backup: None,
                }
            })?;
            buf.extend(self.seal(line)?);
            buf.push(b'\n');
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(io_err(&path))?;
        f.write_all(&buf).map_err(io_err(&path))?;
        f.sync_data().map_err(io_err(&path))
    }

    fn describe(&self) -> String {
        self.path().display().to_string()
    }
}

impl StateLock for LocalBackend {
    fn lock(&self, info: LockInfo, timeout: Duration) -> Result<LockGuard, StateError> {
        self.ensure_dir()?;
        FileLock::acquire(&self.lock_path(), info, timeout)
    }

    fn holder(&self) -> Result<Option<LockInfo>, StateError> {
        FileLock::holder(&self.lock_path())
    }

    fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        FileLock::force_unlock(&self.lock_path(), id)
    }
}

#[cfg(test)]
mod symlink_tests {
    /// Issue 12: a symlink planted at the temporary name must not redirect a state write.
    #[test]
    fn a_planted_symlink_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let tmp = d.path().join(format!("dev.tmp{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        super::atomic_write(&d.path().join("dev.json"), b"{}").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(
            std::fs::read_to_string(d.path().join("dev.json")).unwrap(),
            "{}"
        );
        assert!(!tmp.exists());
    }
}
