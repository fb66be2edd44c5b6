//! A drill's timeline from typed sources: the monitor's events (`standby monitor --events`)
//! and the switch's own record in the state. Never from log text.

use super::Event;
use crate::monitor::{Event as MonitorEvent, Stamped};
use crate::state::{StepKind, SwitchRecord};
use time::OffsetDateTime;

/// Seconds from `fault` to an RFC 3339 stamp.
pub fn since(fault: OffsetDateTime, stamp: &str) -> Option<f64> {
    let t = OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t - fault).as_seconds_f64())
}

/// The monitor's events in JSON lines; a line it is still writing is skipped.
pub fn parse_events(text: &str) -> Vec<Stamped> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The first event that `pick` accepts, as seconds after the fault.
pub fn first(
    events: &[Stamped],
    fault: OffsetDateTime,
    pick: impl Fn(&MonitorEvent) -> bool,
) -> Option<f64> {
    events
        .iter()
        .find(|e| pick(&e.event))
        .and_then(|e| since(fault, &e.time))
}

/// Whether the monitor watches (it started).
pub fn watching(e: &MonitorEvent) -> bool {
    matches!(e, MonitorEvent::Watching { .. })
}

/// Whether the monitor's failover finished.
pub fn finished(e: &MonitorEvent) -> bool {
    matches!(e, MonitorEvent::FailoverFinished { .. })
}

/// The monitor's marks for `group`: its first failed check and its trigger.
pub fn monitor_marks(events: &[Stamped], group: &str, fault: OffsetDateTime) -> Vec<Event> {
    let mark = |name: &str, at| Event {
        name: name.into(),
        at,
        detail: "monitor event".into(),
    };
    let failed = |e: &MonitorEvent| {
        e.group() == group && matches!(e, MonitorEvent::CheckFailed { streak: 1, .. })
    };
    let trigger =
        |e: &MonitorEvent| e.group() == group && matches!(e, MonitorEvent::Trigger { .. });
    [
        first(events, fault, failed).map(|t| mark("first failed check", t)),
        first(events, fault, trigger).map(|t| mark("trigger", t)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The switch's fence and promote, from its record (each step ends at the sum of the
/// durations before it), and the data-loss gap its catch-up or gap measurement established.
pub fn switch_marks(record: &SwitchRecord, fault: OffsetDateTime) -> (Vec<Event>, Option<u64>) {
    let mut t = since(fault, &record.started).unwrap_or(0.0);
    let mut marks = Vec::new();
    let mut gap = None;
    for s in &record.steps {
        t += s.seconds;
        if matches!(s.step, StepKind::Fence | StepKind::Promote) {
            marks.push(Event {
                name: s.step.to_string(),
                at: t,
                detail: s.detail.clone(),
            });
        }
        if matches!(s.step, StepKind::MeasureGap | StepKind::CatchUp) {
            gap = s.gap;
        }
    }
    (marks, gap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{StepRecord, SwitchKind};

    const FAULT: &str = "2026-11-27T10:00:00Z";

    fn fault() -> OffsetDateTime {
        OffsetDateTime::parse(FAULT, &time::format_description::well_known::Rfc3339).unwrap()
    }

    #[test]
    fn the_monitor_marks_come_from_its_typed_events() {
        let text = [
            r#"{"time":"2026-11-27T09:59:59Z","event":"watching","group":"orders","active":"east","check":"replication","interval_seconds":1.0,"timeout_seconds":0.5,"failures":2,"manual":false}"#,
            r#"{"time":"2026-11-27T10:00:01Z","event":"check_failed","group":"orders","active":"east","streak":1,"failures":2,"error":"refused"}"#,
            r#"{"time":"2026-11-27T10:00:02Z","event":"check_failed","group":"orders","active":"east","streak":2,"failures":2,"error":"refused"}"#,
            r#"{"time":"2026-11-27T10:00:02Z","event":"trigger","group":"orders","to":"west","detected_after_seconds":1.0,"manual":false}"#,
            r#"{"time":"2026-11-27T10:00:03Z","event":"failover_finished","group":"orders","to":"west","exit_code":0}"#,
            r#"{"time":"2026-11-27T10:00:03Z","event":"failover_fini"#,
        ]
        .join("\n");
        let events = parse_events(&text);
        assert_eq!(events.len(), 5, "the half-written line is skipped");
        assert!(monitor_marks(&events, "payments", fault()).is_empty());
        let marks: Vec<(String, f64)> = monitor_marks(&events, "orders", fault())
            .into_iter()
            .map(|e| (e.name, e.at))
            .collect();
        assert_eq!(
            marks,
            [("first failed check".into(), 1.0), ("trigger".into(), 2.0)]
        );
        assert_eq!(first(&events, fault(), finished), Some(3.0));
        assert_eq!(first(&events, fault(), watching), Some(-1.0));
    }

    #[test]
    fn the_switch_marks_and_the_gap_come_from_its_record() {
        let step = |step, seconds, gap| StepRecord {
            step,
            seconds,
            detail: String::new(),
            gap,
        };
        let mut record = SwitchRecord {
            kind: SwitchKind::Failover,
            from: Some("east".into()),
            to: "west".into(),
            epoch: 2,
            by: "monitor".into(),
            started: "2026-11-27T10:00:02Z".into(),
            seconds: 1.0,
            git_commit: None,
            steps: vec![
                step(StepKind::Fence, 0.25, None),
                step(StepKind::MeasureGap, 0.25, Some(8192)),
                step(StepKind::Promote, 0.5, None),
            ],
            verification: Default::default(),
            notes: vec![],
            caveats: vec![],
        };
        let (marks, gap) = switch_marks(&record, fault());
        let marks: Vec<(String, f64)> = marks.into_iter().map(|e| (e.name, e.at)).collect();
        assert_eq!(marks, [("fence".into(), 2.25), ("promote".into(), 3.0)]);
        assert_eq!(gap, Some(8192));
        // An unknown gap stays unknown; it is not a gap of 0.
        record.steps[1].gap = None;
        assert_eq!(switch_marks(&record, fault()).1, None);
    }
}
