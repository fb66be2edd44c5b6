//! Recorded state: what exists, behind small storage traits.
//!
//! [`State`] is a versioned JSON document. Storage is split into [`StateStore`] (read, write a
//! snapshot, append journal entries) and [`StateLock`]; every backend passes the same
//! conformance suite (`conformance.rs`). During apply only journal entries are appended, one
//! batch per group of finished actions; the snapshot is rewritten once at the end.

mod crypt;
mod failover;
mod journal;
mod local;
mod lock;
mod model;
mod pg;

#[cfg(test)]
mod conformance;

pub use crypt::Cipher;
pub use failover::{FailoverState, Override, StepKind, StepRecord, SwitchKind, SwitchRecord};
pub use journal::JournalEntry;
pub use local::atomic_write;
pub use local::LocalBackend;
pub use lock::{LockGuard, LockInfo};
pub(crate) use model::b64;
pub use model::{ApplyRecord, InstanceState, OutputState, RetiredFailover, State, FORMAT_VERSION};
pub use pg::PgBackend;

use std::path::PathBuf;
use std::time::Duration;

/// Errors of state storage.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state file cannot be parsed; it is left untouched.
    #[error("the state file {path} is corrupt: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        detail: String,
        /// The previous version, if one exists.
        backup: Option<PathBuf>,
    },
    /// The file was written by a newer standby.
    #[error("the state file {path} has format_version {found}; this standby reads up to {FORMAT_VERSION}")]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// Someone else holds the lock.
    #[error("the state is locked by {0}")]
    Locked(Box<LockInfo>),
    /// No lock with that id is held.
    #[error("no lock with id {0} is held")]
    NoSuchLock(String),
    /// The state is encrypted and the key is missing or wrong, or the key is not valid.
    #[error("{0}")]
    Key(String),
    /// An I/O error, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where state snapshots and journals are kept.
pub trait StateStore: Send + Sync {
    /// The current state: the snapshot with any journal replayed. `None` when there is none.
    fn read(&self) -> Result<Option<State>, StateError>;
    /// Replaces the snapshot atomically and discards the journal. Keeps the previous version.
    fn write(&self, state: &State) -> Result<(), StateError>;
    /// Appends entries durably on top of the snapshot identified by `lineage` and `serial`.
    fn append(
        &self,
        lineage: &str,
        serial: u64,
        entries: &[JournalEntry],
    ) -> Result<(), StateError>;
    /// Where the state lives, for messages.
    fn describe(&self) -> String;
}

/// A complete backend: storage and locking.
pub trait Backend: StateStore + StateLock {}
impl<T: StateStore + StateLock> Backend for T {}

/// Mutual exclusion for operations that may write state.
pub trait StateLock: Send + Sync {
    /// Takes the lock, waiting up to `timeout` for the current holder.
    fn lock(&self, info: LockInfo, timeout: Duration) -> Result<LockGuard, StateError>;
    /// Who holds the lock now, if anyone.
    fn holder(&self) -> Result<Option<LockInfo>, StateError>;
    /// Clears a lock left by a holder that is gone. Refuses if the id does not match.
    fn force_unlock(&self, id: &str) -> Result<(), StateError>;
}

/// Now, in RFC 3339, for the timestamps the state records.
pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
