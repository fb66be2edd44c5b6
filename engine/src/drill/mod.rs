//! Disaster drills: what a drill measured, checked like Jepsen's set checker, and reported as
//! JSON, Markdown and an SVG timeline.
//!
//! Running a drill (injecting the fault, driving the writer, starting the monitor) is the CLI's
//! job, since it drives processes; this module holds the parts that are pure functions of what
//! was observed, so they are unit tested without servers.

pub mod checker;
pub mod report;

pub use checker::{check, Outcome, SetResult};
pub use report::{Event, Objective, Report};
