//! Disaster drills: what a drill measured, checked like Jepsen's set checker, and reported as
//! JSON, Markdown and an SVG timeline.
//!
//! A drill runs as explicit phases (`run.rs`) over a member's drill capability: the faults by
//! the member's surface (`fault.rs`), the writer and its traffic path (`load.rs`). What it
//! observed goes through pure functions that are unit tested without servers: the set checker
//! (`checker.rs`), the timeline from the monitor's typed events and the switch's record
//! (`timeline.rs`), and the report (`report.rs`). The binary supplies the [`Conductor`], which
//! runs standby's own commands as child processes.

mod after;
pub mod checker;
mod fault;
mod load;
pub mod report;
mod run;
pub mod timeline;

pub use checker::{check, Outcome, SetResult};
pub use report::{Event, Objective, Report};
pub use run::{default_dir, Conductor, Drill, DrillError, Running, Scenario, Setup};
