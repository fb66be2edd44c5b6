//! The monitor as a library: a pure failure detector (`detector.rs`), the health check of one
//! member by its declared kind (`health.rs`, its HTTP on hyper in `http.rs`, which also posts
//! webhooks), the probe that observes a group through its
//! members' replication capability (`probe.rs`), the loop (`runner.rs`) over a clock, a
//! probe, an election and an operator that fails over through plan and apply, the typed
//! events it reports (`event.rs`) and the status it keeps (`status.rs`). The command line
//! (`standby monitor`) renders the events and serves the status; a drill reads the events.

mod detector;
mod event;
mod health;
mod http;
mod probe;
mod runner;
mod status;

pub use detector::{Check, Detector, Observation, Seen, Verdict};
pub use event::{Event, Stamped};
pub use health::Health;
pub use http::post_json;
pub use probe::ReplicationProbe;
pub use runner::{
    Alone, Clock, Leadership, Operator, Outcome, Probe, Round, Runner, SystemClock, Watch,
    AWAITING_APPROVAL,
};
pub use status::{GroupStatus, MemberStatus, MonitorStatus};

/// Now, as RFC 3339: the stamp of events and status lines.
pub fn stamp() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
