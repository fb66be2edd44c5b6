//! The drill capability: what `standby drill` needs of a failover member to inject faults into
//! it and to write through it under load, so that drills are not tied to one database.

use crate::{Member, ProviderError};
use async_trait::async_trait;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

/// How one insert of a drill's writer ended, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The server acknowledged the commit: the row must survive.
    Acknowledged,
    /// The server refused it: the row must not exist.
    Failed,
    /// No answer, or a commit whose outcome is unknown (a cancelled synchronous wait): the
    /// row may or may not exist.
    Indeterminate,
}

/// Where a member can be hurt, which decides the faults a drill can inject into it. Read
/// from the member's recorded state: a member that is down still has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Surface {
    /// A server: signals go to its processes ([`DrillTarget::processes`]), a partition cuts
    /// its endpoint off.
    Server {
        /// Where clients reach it.
        host: String,
        /// Its port.
        port: u16,
    },
    /// An embedded database: one file, no process and no endpoint. Its faults are the file
    /// lost ([`DrillTarget::lose`]) and the file locked ([`DrillTarget::lock_out`]).
    File {
        /// The database file.
        path: PathBuf,
        /// Whether it is in write-ahead-log mode, where an exclusive lock does not stop
        /// readers, so a lock is no hang.
        wal: bool,
    },
}

/// Held while a file member is locked out; dropping it lets writers in again.
pub trait Held: Send {}

impl<T: Send> Held for T {}

/// One writing session of a drill's writer.
#[async_trait]
pub trait DrillSession: Send {
    /// Which server or file the session reached (a traffic path may lead anywhere): `host:port`
    /// or the file's path.
    fn server(&self) -> Arc<str>;
    /// Whether the session is still usable.
    fn is_closed(&self) -> bool;
    /// Inserts row `id` of drill `run`, within a few seconds at most.
    async fn insert(&mut self, run: &str, id: i64) -> WriteOutcome;
}

/// A provider whose failover members can be drilled.
#[async_trait]
pub trait DrillTarget: Send + Sync {
    /// Where `m` can be hurt.
    fn surface(&self, m: &Member) -> Result<Surface, ProviderError>;
    /// A server member's processes, the main one first, read now (they change when it
    /// restarts); an error when it is not running.
    fn processes(&self, m: &Member) -> Result<Vec<u32>, ProviderError> {
        Err(ProviderError::new(
            format!("{} has no processes", m.site),
            "only members with a server surface have them",
        ))
    }
    /// A file member's database lost, as with a failed disk: the file and what belongs to it
    /// are moved aside once no write is in flight, and a session opened before never commits
    /// to the moved file. Returns where they went.
    fn lose(&self, m: &Member) -> Result<String, ProviderError> {
        Err(ProviderError::new(
            format!("{} has no file to lose", m.site),
            "only members with a file surface have this fault",
        ))
    }
    /// A file member locked against every reader and writer until the result is dropped: a
    /// hang, as the file's clients see it.
    fn lock_out(&self, m: &Member) -> Result<Box<dyn Held>, ProviderError> {
        Err(ProviderError::new(
            format!("{} has no file to lock", m.site),
            "only members with a file surface have this fault",
        ))
    }
    /// Creates what the writer writes into, on the primary.
    async fn prepare(&self, primary: &Member) -> Result<(), ProviderError>;
    /// A writing session to `m`, or through `via` (a traffic path that leads to a member, as
    /// `host:port`) with `m`'s credentials; `None` when it does not take writes within a
    /// second (a frozen server accepts connections and never answers).
    async fn connect(&self, m: &Member, via: Option<(&str, u16)>) -> Option<Box<dyn DrillSession>>;
    /// The ids of drill `run` that `m` holds; `m` takes writes.
    async fn read_back(&self, m: &Member, run: &str) -> Result<BTreeSet<i64>, ProviderError>;
}
