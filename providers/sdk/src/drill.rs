//! The drill capability: what `standby drill` needs of a failover member to inject faults into
//! it and to write through it under load, so that drills are not tied to one database.

use crate::{Member, ProviderError};
use async_trait::async_trait;
use std::collections::BTreeSet;
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

/// One writing session of a drill's writer.
#[async_trait]
pub trait DrillSession: Send {
    /// `host:port` of the server the session reached (a traffic path may lead anywhere).
    fn server(&self) -> Arc<str>;
    /// Whether the session is still usable.
    fn is_closed(&self) -> bool;
    /// Inserts row `id` of drill `run`, within a second.
    async fn insert(&mut self, run: &str, id: i64) -> WriteOutcome;
}

/// A provider whose failover members can be drilled.
#[async_trait]
pub trait DrillTarget: Send + Sync {
    /// The member's processes, its main process first: the signal faults (crash, stop, hang)
    /// go to them.
    fn processes(&self, m: &Member) -> Result<Vec<u32>, ProviderError>;
    /// Where clients reach the member, `(host, port)`; a partition fault cuts it off.
    fn endpoint(&self, m: &Member) -> Result<(String, u16), ProviderError>;
    /// Creates what the writer writes into, on the primary.
    async fn prepare(&self, primary: &Member) -> Result<(), ProviderError>;
    /// A writing session to `m`, or through `via` (a traffic path that leads to a member, as
    /// `host:port`) with `m`'s credentials; `None` when it does not take writes within a
    /// second (a frozen server accepts connections and never answers).
    async fn connect(&self, m: &Member, via: Option<(&str, u16)>) -> Option<Box<dyn DrillSession>>;
    /// The ids of drill `run` that `m` holds; `m` takes writes.
    async fn read_back(&self, m: &Member, run: &str) -> Result<BTreeSet<i64>, ProviderError>;
}
