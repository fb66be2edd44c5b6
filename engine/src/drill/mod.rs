//! Disaster drills: what a drill measured, checked like Jepsen's set checker, and reported as
//! JSON, Markdown and an SVG timeline.
//!
//! Running a drill (injecting the fault, driving the writer, starting the monitor) is the CLI's
//! job, since it drives processes; this module holds the parts that are pure functions of what
//! was observed, so they are unit tested without servers: the set checker (`checker.rs`), the
//! timeline from the monitor's typed events and the switch's record (`timeline.rs`), and the
//! report (`report.rs`).

pub mod checker;
pub mod report;
pub mod timeline;

pub use checker::{check, Outcome, SetResult};
pub use report::{Event, Objective, Report};
