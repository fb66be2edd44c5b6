//! The set checker: every attempted insert against what is present afterwards.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What the writer knows about one insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The commit was acknowledged.
    Acknowledged,
    /// The server refused it, or it was never sent: it must not be present.
    Failed,
    /// Sent, but the connection broke or timed out before the answer: either is fine.
    Indeterminate,
}

/// The verdict on the writes of one drill.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SetResult {
    /// Inserts attempted.
    pub attempted: usize,
    /// Inserts acknowledged.
    pub acknowledged: usize,
    /// Inserts refused or never sent.
    pub failed: usize,
    /// Inserts whose fate the writer could not know.
    pub indeterminate: usize,
    /// Acknowledged but missing: data loss.
    pub lost: Vec<i64>,
    /// Present but never attempted, or present although refused: corruption.
    pub unexpected: Vec<i64>,
    /// Indeterminate and present.
    pub recovered: Vec<i64>,
}

impl SetResult {
    /// Whether the set is consistent: nothing unexpected (loss is judged against the RPO).
    pub fn consistent(&self) -> bool {
        self.unexpected.is_empty()
    }
}

/// What the writer saw, when nothing could be read back: the counts, and no verdict on any
/// row.
pub fn tally(attempts: &BTreeMap<i64, Outcome>) -> SetResult {
    let count = |o: Outcome| attempts.values().filter(|a| **a == o).count();
    SetResult {
        attempted: attempts.len(),
        acknowledged: count(Outcome::Acknowledged),
        failed: count(Outcome::Failed),
        indeterminate: count(Outcome::Indeterminate),
        ..SetResult::default()
    }
}

/// Compares what was attempted with what is present.
pub fn check(attempts: &BTreeMap<i64, Outcome>, present: &BTreeSet<i64>) -> SetResult {
    let mut r = SetResult {
        attempted: attempts.len(),
        ..SetResult::default()
    };
    for (id, o) in attempts {
        let here = present.contains(id);
        match o {
            Outcome::Acknowledged => {
                r.acknowledged += 1;
                if !here {
                    r.lost.push(*id);
                }
            }
            Outcome::Failed => {
                r.failed += 1;
                if here {
                    r.unexpected.push(*id);
                }
            }
            Outcome::Indeterminate => {
                r.indeterminate += 1;
                if here {
                    r.recovered.push(*id);
                }
            }
        }
    }
    r.unexpected
        .extend(present.iter().filter(|id| !attempts.contains_key(id)));
    r.unexpected.sort_unstable();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `input` is `id:a|f|i` words for the attempts, then `/`, then the ids present.
    fn check_str(input: &str, expect: &str) {
        let (a, p) = input.split_once('/').unwrap();
        let attempts = a
            .split_whitespace()
            .map(|w| {
                let (id, o) = w.split_once(':').unwrap();
                let o = match o {
                    "a" => Outcome::Acknowledged,
                    "f" => Outcome::Failed,
                    _ => Outcome::Indeterminate,
                };
                (id.parse().unwrap(), o)
            })
            .collect();
        let present = p.split_whitespace().map(|s| s.parse().unwrap()).collect();
        let r = check(&attempts, &present);
        let got = format!(
            "ack={} failed={} indet={} lost={:?} unexpected={:?} recovered={:?}",
            r.acknowledged, r.failed, r.indeterminate, r.lost, r.unexpected, r.recovered
        );
        assert_eq!(got, expect, "for {input}");
    }

    #[test]
    fn everything_acknowledged_is_present() {
        check_str(
            "1:a 2:a 3:a / 1 2 3",
            "ack=3 failed=0 indet=0 lost=[] unexpected=[] recovered=[]",
        );
    }

    #[test]
    fn acknowledged_but_missing_is_lost() {
        check_str(
            "1:a 2:a 3:a / 1",
            "ack=3 failed=0 indet=0 lost=[2, 3] unexpected=[] recovered=[]",
        );
    }

    #[test]
    fn indeterminate_rows_may_be_present_or_not() {
        check_str(
            "1:a 2:i 3:i / 1 2",
            "ack=1 failed=0 indet=2 lost=[] unexpected=[] recovered=[2]",
        );
    }

    #[test]
    fn refused_but_present_or_never_attempted_is_unexpected() {
        check_str(
            "1:a 2:f / 1 2 9",
            "ack=1 failed=1 indet=0 lost=[] unexpected=[2, 9] recovered=[]",
        );
    }
}
