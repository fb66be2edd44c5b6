//! A drill's report, and its Markdown and SVG renderings (both derived from the same data as
//! the JSON).

use super::SetResult;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One moment of the timeline, in seconds after the fault was injected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// What happened: `fault injected`, `first failed check`, `trigger`, `fence`, `promote`,
    /// `traffic switched`, `first successful write`.
    pub name: String,
    /// Seconds after the fault.
    pub at: f64,
    /// Where the figure comes from.
    pub detail: String,
}

/// A declared objective against what was measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Objective {
    /// From the failover block, in seconds.
    pub declared_seconds: Option<f64>,
    /// What the drill measured, in seconds; none when it never recovered.
    pub measured_seconds: Option<f64>,
    /// Whether the measurement meets the declaration.
    pub met: bool,
}

impl Objective {
    /// Met when something was measured and it is within the declared bound, if one was declared.
    pub fn new(declared: Option<f64>, measured: Option<f64>) -> Objective {
        let met = match (declared, measured) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(d), Some(m)) => m <= d + 1e-9,
        };
        Objective {
            declared_seconds: declared,
            measured_seconds: measured,
            met,
        }
    }
}

/// Everything one drill found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Report format version.
    pub format_version: u32,
    /// The scenario.
    pub scenario: String,
    /// `failover.NAME`.
    pub group: String,
    /// The environment.
    pub env: String,
    /// When the drill started (RFC 3339).
    pub started: String,
    /// The active site before the drill.
    pub from: String,
    /// The active site after it.
    pub to: Option<String>,
    /// `pass` or `fail`.
    pub verdict: String,
    /// Why it failed; empty on a pass.
    pub reasons: Vec<String>,
    /// The timeline, in order.
    pub timeline: Vec<Event>,
    /// Fault to first acknowledged write on the new primary.
    pub rto: Objective,
    /// Data-loss window: fault minus the oldest lost acknowledged write.
    pub rpo: Objective,
    /// WAL the old primary wrote that the new one never received, as the switch measured it.
    pub lsn_gap_bytes: Option<u64>,
    /// The unit of the gap: bytes of WAL for PostgreSQL, write transactions for SQLite (the
    /// field above keeps its name from when drills were PostgreSQL's only).
    pub gap_unit: String,
    /// The set checker's result.
    pub writes: SetResult,
    /// The switch's checksum verification: table to (old, new) checksums.
    pub checksums: BTreeMap<String, (String, String)>,
    /// Whether the old primary rejoined as a standby, and how.
    pub rejoin: (bool, String),
    /// The writer's path to the database.
    pub traffic_path: String,
    /// Whether the writes could be read back; when not, `writes` holds only what the writer
    /// saw, and nothing was checked.
    pub read_back: bool,
    /// The standby's replication lag when the fault was injected, as its provider reported it.
    pub lag_at_fault: Option<String>,
    /// What the figures do not show: the switch's own caveats, and where they come from.
    pub caveats: Vec<String>,
}

impl Report {
    /// Decides the verdict from the objectives and the checker.
    pub fn decide(&mut self) {
        let mut reasons = Vec::new();
        if self.to.as_deref().is_none_or(|t| t == self.from) {
            reasons.push("the group never switched away from the faulted primary".to_string());
        }
        if !self.rto.met {
            reasons.push(
                match (self.rto.measured_seconds, self.rto.declared_seconds) {
                    (Some(m), Some(d)) => format!("RTO {m:.3}s exceeds the declared {d}s"),
                    _ => "no write was accepted after the fault".to_string(),
                },
            );
        }
        if !self.read_back {
            reasons.push("the writes could not be read back: no member accepts writes after the drill, so the group did not recover".to_string());
        } else if !self.rpo.met {
            reasons.push(format!(
                "{} acknowledged write(s) lost: a {:.3}s window beyond the declared RPO of {}s",
                self.writes.lost.len(),
                self.rpo.measured_seconds.unwrap_or(f64::NAN),
                self.rpo.declared_seconds.unwrap_or(0.0)
            ));
        }
        if !self.writes.consistent() {
            reasons.push(format!(
                "{} row(s) present that were refused or never attempted",
                self.writes.unexpected.len()
            ));
        }
        if self.checksums.values().any(|(a, b)| a != b) {
            reasons.push("checksums differ between the old and new primary".to_string());
        }
        self.verdict = if reasons.is_empty() { "pass" } else { "fail" }.to_string();
        self.reasons = reasons;
    }

    /// Whether the drill met its objectives.
    pub fn passed(&self) -> bool {
        self.verdict == "pass"
    }

    /// The report for a person, or a pull-request comment.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let icon = if self.passed() { "✅" } else { "❌" };
        let _ = writeln!(
            s,
            "# Drill `{}` on {} ({}): {icon} {}\n",
            self.scenario,
            self.group,
            self.env,
            self.verdict.to_uppercase()
        );
        let _ = writeln!(
            s,
            "Started {}. Active site {} → {}. Writes through {}.\n",
            self.started,
            self.from,
            self.to.as_deref().unwrap_or("(unchanged)"),
            self.traffic_path
        );
        for r in &self.reasons {
            let _ = writeln!(s, "- **{r}**");
        }
        if !self.reasons.is_empty() {
            s.push('\n');
        }
        s.push_str("## Objectives\n\n| | declared | measured | met |\n|---|---|---|---|\n");
        for (name, o) in [("RTO", &self.rto), ("RPO", &self.rpo)] {
            let _ = writeln!(
                s,
                "| {name} | {} | {} | {} |",
                o.declared_seconds.map_or("—".into(), |d| format!("{d}s")),
                o.measured_seconds
                    .map_or("never".into(), |m| format!("{m:.3}s")),
                if o.met { "yes" } else { "**no**" }
            );
        }
        if let Some(g) = self.lsn_gap_bytes {
            let _ = writeln!(s, "\nReplication gap at the switch: {g} {}.", self.gap_unit);
        }
        if let Some(l) = &self.lag_at_fault {
            let _ = writeln!(s, "\nStandby lag when the fault was injected: {l}. The RPO measures only the drill's own writes, which began a second before the fault; anything else written since the standby's last sync was lost too.");
        }
        if !self.caveats.is_empty() {
            s.push_str("\n## Caveats\n\n");
            for c in &self.caveats {
                let _ = writeln!(s, "- {c}");
            }
        }
        s.push_str(
            "\n## Timeline (seconds after the fault)\n\n| t | event | source |\n|---:|---|---|\n",
        );
        for e in &self.timeline {
            let _ = writeln!(s, "| {:+.3} | {} | {} |", e.at, e.name, e.detail);
        }
        let w = &self.writes;
        if !self.read_back {
            let _ = writeln!(s, "\n## Writes\n\n{} attempted, {} acknowledged: **not checked**, no member takes writes to read them back from.", w.attempted, w.acknowledged);
        }
        if self.read_back {
            let _ = writeln!(
            s,
            "\n## Writes\n\n{} attempted: {} acknowledged, {} failed, {} indeterminate.\n\n- lost (acknowledged, missing): {}\n- unexpected (present, never acknowledged nor attempted): {}\n- recovered (indeterminate, present): {}",
            w.attempted,
            w.acknowledged,
            w.failed,
            w.indeterminate,
            w.lost.len(),
            w.unexpected.len(),
            w.recovered.len()
        );
        }
        if !self.checksums.is_empty() {
            s.push_str("\n## Checksums\n\n| table | old primary | new primary |\n|---|---|---|\n");
            for (t, (a, b)) in &self.checksums {
                let _ = writeln!(s, "| {t} | `{a}` | `{b}` |");
            }
        }
        let _ = writeln!(
            s,
            "\n## Rejoin\n\n{}: {}",
            if self.rejoin.0 {
                "rejoined"
            } else {
                "**not rejoined**"
            },
            self.rejoin.1
        );
        s
    }

    /// The timeline as a picture.
    pub fn svg(&self) -> String {
        let (width, left, right) = (900.0_f64, 40.0_f64, 40.0_f64);
        let end = self
            .timeline
            .iter()
            .map(|e| e.at)
            .fold(0.5_f64, f64::max)
            .max(self.rto.declared_seconds.unwrap_or(0.0).min(60.0));
        let start = self.timeline.iter().map(|e| e.at).fold(0.0_f64, f64::min);
        let x = |t: f64| left + (t - start) / (end - start) * (width - left - right);
        let height = 90.0 + 22.0 * self.timeline.len() as f64;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(
            s,
            r#"<text x="{left}" y="20" font-size="14">{} drill of {} ({}): {}</text>"#,
            esc(&self.scenario),
            esc(&self.group),
            esc(&self.env),
            self.verdict.to_uppercase()
        );
        let axis = 50.0;
        let _ = writeln!(
            s,
            r#"<line x1="{left}" y1="{axis}" x2="{}" y2="{axis}" stroke="black"/>"#,
            width - right
        );
        if let Some(d) = self.rto.declared_seconds.filter(|d| *d <= end) {
            let _ = writeln!(
                s,
                r##"<line x1="{0:.1}" y1="30" x2="{0:.1}" y2="{1}" stroke="#c00" stroke-dasharray="4"/><text x="{0:.1}" y="28" fill="#c00">RTO {d}s</text>"##,
                x(d),
                height - 10.0
            );
        }
        let ticks = 5;
        for i in 0..=ticks {
            let t = start + (end - start) * f64::from(i) / f64::from(ticks);
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{}" text-anchor="middle" fill="gray">{t:.2}s</text>"#,
                x(t),
                axis + 14.0
            );
        }
        for (i, e) in self.timeline.iter().enumerate() {
            let y = 80.0 + 22.0 * i as f64;
            let _ = writeln!(
                s,
                r##"<line x1="{0:.1}" y1="{axis}" x2="{0:.1}" y2="{1}" stroke="#36c"/><circle cx="{0:.1}" cy="{axis}" r="4" fill="#36c"/><text x="{2:.1}" y="{3}">{4} {5:+.3}s</text>"##,
                x(e.at),
                y - 4.0,
                x(e.at) + 4.0,
                y,
                esc(&e.name),
                e.at
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            format_version: 1,
            scenario: "kill-primary".into(),
            group: "failover.orders".into(),
            env: "dev".into(),
            started: "2026-11-26T00:00:00Z".into(),
            from: "east".into(),
            to: Some("west".into()),
            verdict: String::new(),
            reasons: vec![],
            timeline: vec![
                Event {
                    name: "fault injected".into(),
                    at: 0.0,
                    detail: "SIGKILL".into(),
                },
                Event {
                    name: "first successful write".into(),
                    at: 1.25,
                    detail: "writer".into(),
                },
            ],
            rto: Objective::new(Some(30.0), Some(1.25)),
            rpo: Objective::new(Some(0.0), Some(0.0)),
            lsn_gap_bytes: Some(0),
            gap_unit: "bytes".into(),
            writes: SetResult::default(),
            checksums: BTreeMap::new(),
            rejoin: (true, "rewound".into()),
            traffic_path: "x".into(),
            read_back: true,
            lag_at_fault: None,
            caveats: vec![],
        }
    }

    #[test]
    fn objectives_met_pass() {
        let mut r = report();
        r.decide();
        assert_eq!(r.verdict, "pass", "{:?}", r.reasons);
        assert!(r.markdown().contains("✅ PASS"));
        assert!(r.svg().contains("first successful write +1.250s"));
    }

    #[test]
    fn a_lost_write_or_a_slow_recovery_fails() {
        let mut r = report();
        r.writes.lost = vec![7];
        r.rpo = Objective::new(Some(0.0), Some(0.4));
        r.rto = Objective::new(Some(1.0), Some(1.25));
        r.decide();
        assert_eq!(r.verdict, "fail");
        assert_eq!(r.reasons.len(), 2, "{:?}", r.reasons);
        assert!(r.reasons[0].contains("RTO 1.250s exceeds the declared 1s"));
        assert!(r.reasons[1].contains("1 acknowledged write(s) lost"));
    }

    #[test]
    fn no_recovery_is_a_failure_not_a_pass() {
        assert!(!Objective::new(Some(30.0), None).met);
        let mut r = report();
        r.to = Some("east".into());
        r.decide();
        assert!(r.reasons[0].contains("never switched"));
    }
}
