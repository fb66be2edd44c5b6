//! The failure rule over scripted rounds on a fake clock: one round a second, each a letter.
//!
//! - `.` the primary answers;
//! - `x` it does not, and the standby stalled too (nothing proves the primary alive);
//! - `w` it does not, but the standby still receives WAL;
//! - `s` it answers, but after the timeout (a slow check).

use super::*;
use standby_provider_sdk::Role;

const SECOND: Duration = Duration::from_secs(1);

fn round(at: u64, c: char) -> Observation {
    let before = 100 * at;
    let mut o = Observation {
        at: SECOND * u32::try_from(at).unwrap(),
        primary: Check {
            took: Duration::from_millis(20),
            result: Ok(()),
        },
        others: BTreeMap::from([(
            "west".to_string(),
            Seen {
                role: Role::Standby,
                epoch: 1,
                position: before,
            },
        )]),
        standby_ok: BTreeMap::from([("west".to_string(), true)]),
        after: None,
    };
    match c {
        '.' => {}
        's' => o.primary.took = Duration::from_secs(3),
        'x' | 'w' => {
            o.primary = Check {
                took: Duration::from_secs(2),
                result: Err("no answer within 2s".into()),
            };
            let after = if c == 'w' { before + 8192 } else { before };
            o.after = Some(BTreeMap::from([("west".to_string(), after)]));
        }
        _ => unreachable!("{c}"),
    }
    o
}

/// The verdicts of a script, one short word each, and the detection time of a trigger.
fn run(script: &str, failures: u32, may_act: bool) -> (String, Option<Duration>) {
    let mut d = Detector::new(failures, Duration::from_secs(2), 1);
    let mut detected = None;
    let words: Vec<String> = script
        .chars()
        .enumerate()
        .map(|(i, c)| match d.observe(&round(i as u64, c), may_act) {
            Verdict::Healthy {
                recovered_after: None,
            } => "ok".to_string(),
            Verdict::Healthy {
                recovered_after: Some(n),
            } => format!("back{n}"),
            Verdict::NotCounted { .. } => "alive".into(),
            Verdict::Failed { streak, .. } => format!("f{streak}"),
            Verdict::NotLeader { streak, .. } => format!("noleader{streak}"),
            Verdict::NoTarget { .. } => "notarget".into(),
            Verdict::Trigger {
                to, detected_after, ..
            } => {
                detected = Some(detected_after);
                format!("TRIGGER:{to}")
            }
            other => format!("{other:?}"),
        })
        .collect();
    (words.join(" "), detected)
}

#[test]
fn a_dead_primary_triggers_after_the_declared_failures() {
    let (v, detected) = run("..xxx", 3, true);
    assert_eq!(v, "ok ok f1 f2 TRIGGER:west");
    // First counted failure at t=2s, the trigger round at t=4s.
    assert_eq!(detected, Some(2 * SECOND));
}

#[test]
fn a_blip_does_not_trigger_and_resets_the_streak() {
    assert_eq!(run("x.xx.x", 3, true).0, "f1 back1 f1 f2 back2 f1");
}

#[test]
fn flapping_never_reaches_the_threshold() {
    assert_eq!(
        run("x.x.x.x.", 2, true).0,
        "f1 back1 f1 back1 f1 back1 f1 back1"
    );
}

#[test]
fn a_primary_whose_standby_still_receives_wal_is_not_counted() {
    // The monitor lost the primary, but the standby proves it alive; the streak stays where
    // it was and the next stalled round continues it.
    assert_eq!(run("xwwwx", 2, true).0, "f1 alive alive alive TRIGGER:west");
}

#[test]
fn a_standby_that_also_stalled_does_not_save_the_primary() {
    assert_eq!(run("xx", 2, true).0, "f1 TRIGGER:west");
}

#[test]
fn a_check_that_answers_after_its_timeout_fails() {
    let (v, _) = run("sss", 3, true);
    assert_eq!(v, "f1 f2 notarget");
    let mut d = Detector::new(1, Duration::from_secs(2), 1);
    let Verdict::NoTarget { error, .. } = d.observe(&round(0, 's'), true) else {
        panic!()
    };
    assert_eq!(error, "answered after 3.0s, beyond the timeout of 2.0s");
}

#[test]
fn a_slow_check_is_no_target_without_a_second_sample_but_a_dead_one_is() {
    // A slow answer takes no second sample of the standby: nothing to choose a target from.
    assert_eq!(run("ssx", 3, true).0, "f1 f2 TRIGGER:west");
}

#[test]
fn a_monitor_without_the_lease_says_so_once_and_keeps_counting() {
    assert_eq!(run("xxxx.", 2, false).0, "f1 noleader2 f3 f4 back4");
}

#[test]
fn an_unhealthy_standby_is_no_target() {
    let mut d = Detector::new(1, SECOND * 2, 1);
    let mut o = round(0, 'x');
    o.standby_ok.insert("west".into(), false);
    assert!(matches!(d.observe(&o, true), Verdict::NoTarget { .. }));
}

#[test]
fn the_healthy_standby_furthest_ahead_is_the_target() {
    let mut d = Detector::new(1, SECOND * 2, 1);
    let mut o = round(0, 'x');
    for (site, pos, ok) in [
        ("north", 900, true),
        ("south", 950, false),
        ("west", 10, true),
    ] {
        o.others.insert(
            site.into(),
            Seen {
                role: Role::Standby,
                epoch: 1,
                position: pos,
            },
        );
        o.standby_ok.insert(site.into(), ok);
        o.after.as_mut().unwrap().insert(site.into(), pos);
    }
    assert!(matches!(d.observe(&o, true), Verdict::Trigger { to, .. } if to == "north"));
}

#[test]
fn a_standby_found_primary_is_adopted_or_a_split_brain_or_deposed_by_its_epoch() {
    let primary_west = |epoch| {
        let mut o = round(0, 'x');
        o.others.get_mut("west").unwrap().role = Role::Primary;
        o.others.get_mut("west").unwrap().epoch = epoch;
        o
    };
    let mut d = Detector::new(3, SECOND * 2, 4);
    // At or above the newest promoted epoch: a promotion the record lacks.
    assert_eq!(
        d.observe(&primary_west(5), true),
        Verdict::Unrecorded {
            site: "west".into(),
            epoch: 5,
            may_act: true
        }
    );
    assert!(matches!(
        d.observe(&primary_west(4), true),
        Verdict::Unrecorded { may_act: true, .. }
    ));
    assert!(matches!(
        d.observe(&primary_west(4), false),
        Verdict::Unrecorded { may_act: false, .. }
    ));
    // Both answer as primary: nobody acts.
    let mut both = primary_west(5);
    both.primary = Check::default();
    assert_eq!(
        d.observe(&both, true),
        Verdict::SplitBrain {
            site: "west".into(),
            epoch: 5
        }
    );
    // Below it: a deposed primary that still writes; never a failover while it does.
    assert_eq!(
        d.observe(&primary_west(3), true),
        Verdict::Deposed {
            site: "west".into(),
            epoch: 3,
            promoted: 4
        }
    );
    assert_eq!(d.streak(), 0, "none of these counts as a failure");
}

/// Regression: a fenced member (a deposed primary that did not rejoin) counted as a standby:
/// it became a failover target, and its position could make a failed check "not counted".
#[test]
fn a_fenced_member_is_neither_a_target_nor_a_witness() {
    let mut d = Detector::new(1, SECOND * 2, 1);
    let mut o = round(0, 'w');
    o.others.get_mut("west").unwrap().role = Role::Fenced;
    // Its position moved, but a fenced member proves nothing about the primary.
    assert!(
        matches!(d.observe(&o, true), Verdict::NoTarget { .. }),
        "{:?}",
        d.observe(&o, true)
    );
}
