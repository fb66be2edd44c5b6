//! Leader election and the fencing token against a real etcd started by the tests: one holder
//! at a time, takeover after resignation or expiry, no promotion by a holder whose lease lapsed,
//! and two `standby monitor` processes over real PostgreSQL servers of which exactly one acts.

use crate::support::drill::drill;
use crate::support::etcd::etcd;
use crate::support::monitor::Monitor;
use crate::support::pg::{args, SYNC_AUTO};
use crate::support::pg::{cluster, first_write, rt, sql};
use crate::support::pg::{create_orders, kill_postmaster};
use crate::support::Test;
use standby_engine::lease::{Election, LeaseError, Standing};
use std::time::{Duration, Instant};

async fn candidate(url: &str, name: &str) -> Election {
    Election::connect(&[url.to_string()], "dev", name, Duration::from_secs(2))
        .await
        .unwrap()
}

#[test]
fn one_monitor_holds_the_lease_and_another_takes_over_when_it_resigns() {
    let dir = tempfile::tempdir().unwrap();
    let e = etcd(dir.path());
    rt().block_on(async {
        let (a, b) = (candidate(&e.url, "a").await, candidate(&e.url, "b").await);
        let Standing::Leader { token, fresh: true } = a.campaign().await.unwrap() else {
            panic!("the first candidate wins")
        };
        assert!(token > 0);
        assert_eq!(
            b.campaign().await.unwrap(),
            Standing::Follower { holder: "a".into() }
        );
        // Kept alive well past its 2 s TTL.
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            a.campaign().await.unwrap(),
            Standing::Leader {
                token,
                fresh: false
            }
        );
        assert_eq!(a.verify().await.unwrap(), token);
        assert!(matches!(b.verify().await, Err(LeaseError::NotHolder(_))));
        a.resign().await;
        let Standing::Leader { token: t2, .. } = b.campaign().await.unwrap() else {
            panic!("b takes the resigned lease at once")
        };
        assert!(t2 > token, "each holder gets a newer token");
    });
}

#[test]
fn a_holder_whose_lease_expired_cannot_claim_an_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let e = etcd(dir.path());
    rt().block_on(async {
        let (a, b) = (candidate(&e.url, "a").await, candidate(&e.url, "b").await);
        assert!(matches!(
            a.campaign().await.unwrap(),
            Standing::Leader { .. }
        ));
        let first = a.claim("orders", 1, "west").await.unwrap();
        assert_eq!(first.previous, None);
        // a freezes: no keep-alives, but it still believes it holds its token.
        a.stall();
        let mut took = None;
        for _ in 0..60 {
            if let Standing::Leader { token, .. } = b.campaign().await.unwrap() {
                took = Some(token);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let b_token = took.expect("b takes the lease once a's expires");
        assert!(b_token > first.token);
        // The compare-and-swap in etcd refuses a's stale token.
        let err = a.claim("orders", 2, "east").await.unwrap_err();
        assert!(
            matches!(&err, LeaseError::NotHolder(m) if m.contains("b holds the lease")),
            "{err}"
        );
        assert!(a.verify().await.is_err());
        let second = b.claim("orders", 2, "east").await.unwrap();
        assert_eq!((second.token, second.previous), (b_token, Some(1)));
        // An epoch is claimed once: a plan made before the claim is stale.
        let again = b.claim("orders", 2, "west").await.unwrap_err();
        assert!(
            matches!(
                again,
                LeaseError::StaleEpoch {
                    held: 2,
                    wanted: 2,
                    ..
                }
            ),
            "{again}"
        );
        assert!(matches!(a.campaign().await.unwrap(), Standing::Lost { .. }));
        assert_eq!(
            a.campaign().await.unwrap(),
            Standing::Follower { holder: "b".into() }
        );
    });
}

#[test]
fn a_wrong_etcd_address_is_a_clear_error() {
    let err = rt()
        .block_on(Election::connect(
            &["http://127.0.0.1:9".to_string()],
            "dev",
            "a",
            Duration::from_secs(2),
        ))
        .err()
        .expect("nothing listens on port 9");
    assert!(
        err.to_string()
            .starts_with("cannot reach etcd at http://127.0.0.1:9"),
        "{err}"
    );
}

/// Applies the topology and creates the table its checksums cover.
fn provision(t: &Test, vars: &[&str], base: u16) {
    t.run(&[&["apply", "--auto-approve"][..], vars].concat())
        .code(0);
    create_orders(base);
}

/// Waits until `standby` streams from `primary` as a standby, running one
/// `standby apply` if the failover could not rejoin it on its own.
fn wait_rejoined(t: &Test, vars: &[&str], standby: &str, primary: (&str, u16)) {
    let streaming = || {
        rt().block_on(async {
            let c = sql(primary.0, primary.1).await;
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            n > 0
        })
    };
    for attempt in 0..2 {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if streaming() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        if attempt == 0 {
            t.run(&[&["apply", "--auto-approve"][..], vars].concat())
                .code(0);
        }
    }
    panic!("{standby} did not rejoin");
}

#[test]
fn two_monitors_elect_one_that_acts_and_the_other_takes_over_when_it_dies() {
    let (t, base, _servers) = cluster();
    let e = etcd(t.path());
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &SYNC_AUTO);
    provision(&t, &vars, base);
    let elect = |name: &'static str| {
        let mut a = vars.to_vec();
        a.extend_from_slice(&["--etcd", &e.url, "--lease-ttl", "2s", "--name", name]);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let (a1, a2) = (elect("m1"), elect("m2"));
    let a1: Vec<&str> = a1.iter().map(String::as_str).collect();
    let a2: Vec<&str> = a2.iter().map(String::as_str).collect();
    let mut m1 = Monitor::named(&t, "m1", &a1);
    assert!(
        m1.wait_for("acquired the lease", Duration::from_secs(5)),
        "{}",
        m1.log()
    );
    let m2 = Monitor::named(&t, "m2", &a2);
    assert!(
        m2.wait_for("following: m1 holds the lease", Duration::from_secs(5)),
        "{}",
        m2.log()
    );
    assert!(!m1.log().contains("single point of failure"));
    // Each monitor writes its snapshot at the end of its first round.
    let both = |out: &str| out.contains("monitor m1:") && out.contains("monitor m2:");
    let mut status = t.run(&["status", "-e", "dev", "--var", &port]);
    for _ in 0..30 {
        if both(&status.stdout) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        status = t.run(&["status", "-e", "dev", "--var", &port]);
    }
    status.code(0);
    assert!(
        both(&status.stdout)
            && status.stdout.contains("monitor m1: pid")
            && status
                .stdout
                .contains(", acting; lease holder: m1 (this monitor, fencing token")
            && status.stdout.contains("lease holder: m1\n"),
        "{}",
        status.stdout
    );

    // First fault: the leader acts, the follower does not.
    let killed = kill_postmaster(&t, "dev", "east");
    let took = rt()
        .block_on(first_write("127.0.0.3", base + 1, killed))
        .unwrap_or_else(|| panic!("no failover; m1:\n{}\nm2:\n{}", m1.log(), m2.log()));
    eprintln!(
        "leader monitor: kill -9 to first write {:.3}s",
        took.as_secs_f64()
    );
    assert!(
        m1.wait_for(
            "failover finished with exit code 5",
            Duration::from_secs(20)
        ),
        "{}",
        m1.log()
    );
    assert!(!m2.log().contains("TRIGGER"), "{}", m2.log());
    let state = t.read(".standby/state/dev.json");
    assert!(
        state.contains("epoch 2 claimed in etcd with fencing token"),
        "the promotion claimed its epoch: {state}"
    );

    // The leader dies without resigning; the follower takes the lease once it expires.
    wait_rejoined(&t, &vars, "east", ("127.0.0.3", base + 1));
    m1.0.kill().unwrap();
    m1.0.wait().unwrap();
    let dead = Instant::now();
    assert!(
        m2.wait_for("acquired the lease", Duration::from_secs(10)),
        "{}",
        m2.log()
    );
    eprintln!(
        "follower took the lease {:.1}s after the leader died",
        dead.elapsed().as_secs_f64()
    );
    // ...and acts on the next fault.
    let killed = kill_postmaster(&t, "dev", "west");
    rt().block_on(first_write("127.0.0.2", base, killed))
        .unwrap_or_else(|| {
            panic!(
                "no second failover; m2:\n{}\n{}",
                m2.log(),
                t.read("m2.out")
            )
        });
    assert!(
        m2.wait_for(
            "failover finished with exit code 5",
            Duration::from_secs(20)
        ),
        "{}",
        m2.log()
    );
    assert!(m2.log().contains("TRIGGER: failing over to east"));
    assert_eq!(m1.log().matches("TRIGGER").count(), 1, "{}", m1.log());
    let state = t.read(".standby/state/dev.json");
    assert!(
        state.contains("epoch 3 claimed in etcd with fencing token"),
        "{state}"
    );
}

fn signal(m: &Monitor, sig: &str) {
    assert!(std::process::Command::new("kill")
        .args([sig, &m.0.id().to_string()])
        .status()
        .unwrap()
        .success());
}

#[test]
fn a_frozen_leader_whose_lease_expired_does_not_act_when_it_wakes() {
    let (t, base, _servers) = cluster();
    let e = etcd(t.path());
    let port = format!("base_port={base}");
    let vars = ["-e", "dev", "--var", &port, "--var", "health_failures=2"];
    provision(&t, &vars, base);
    let with = |name: &str| {
        let mut a: Vec<String> = vars.iter().map(|s| s.to_string()).collect();
        a.extend(["--etcd", &e.url, "--lease-ttl", "2s", "--name", name].map(String::from));
        a
    };
    let (a1, a2) = (with("m1"), with("m2"));
    let m1 = Monitor::named(&t, "m1", &a1.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(m1.wait_for("acquired the lease", Duration::from_secs(5)));
    let m2 = Monitor::named(&t, "m2", &a2.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(m2.wait_for("following: m1", Duration::from_secs(5)));
    // m1 freezes (a long GC pause, a stalled VM): its lease runs out and m2 takes over.
    signal(&m1, "-STOP");
    assert!(
        m2.wait_for("acquired the lease", Duration::from_secs(10)),
        "{}",
        m2.log()
    );
    kill_postmaster(&t, "dev", "east");
    assert!(
        m2.wait_for(
            "failover finished with exit code 5",
            Duration::from_secs(20)
        ),
        "{}",
        m2.log()
    );
    // m1 wakes up still believing it leads, with a view from before the failover.
    signal(&m1, "-CONT");
    assert!(
        m1.wait_for("lost the lease", Duration::from_secs(5)),
        "{}",
        m1.log()
    );
    std::thread::sleep(Duration::from_secs(4));
    let log = m1.log();
    assert!(!log.contains("TRIGGER"), "{log}");
    let state = t.read(".standby/state/dev.json");
    assert_eq!(
        state.matches("claimed in etcd with fencing token").count(),
        1,
        "{state}"
    );
}

#[test]
fn a_failover_run_by_hand_claims_its_epoch_so_no_monitor_can_promote_it_again() {
    let (t, base, _servers) = cluster();
    let e = etcd(t.path());
    let port = format!("base_port={base}");
    let vars = ["-e", "dev", "--var", &port];
    provision(&t, &vars, base);
    kill_postmaster(&t, "dev", "east");
    t.run(
        &[
            &[
                "failover",
                "orders",
                "--to",
                "west",
                "--etcd",
                &e.url,
                "--auto-approve",
            ][..],
            &vars,
        ]
        .concat(),
    )
    // The old primary is dead: its fence cannot be confirmed and checksums are skipped.
    .code(5)
    .stdout_has("checksums skipped: the old primary east is unreachable");
    let state = t.read(".standby/state/dev.json");
    assert!(
        state.contains("epoch 2 claimed in etcd by an operator"),
        "{state}"
    );
    // A monitor that planned the same epoch before it saw the switch cannot take it again.
    rt().block_on(async {
        let m = candidate(&e.url, "m1").await;
        assert!(matches!(
            m.campaign().await.unwrap(),
            Standing::Leader { .. }
        ));
        let err = m.claim("orders", 2, "west").await.unwrap_err();
        assert!(
            matches!(
                err,
                LeaseError::StaleEpoch {
                    held: 2,
                    wanted: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("by operator "), "{err}");
        assert_eq!(
            m.claim("orders", 3, "east").await.unwrap().previous,
            Some(2)
        );
    });
}

#[test]
fn a_drills_monitor_joins_the_election_through_standby_etcd() {
    let (t, base, _servers) = cluster();
    let e = etcd(t.path());
    let t = t.env("STANDBY_ETCD", &e.url);
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &SYNC_AUTO);
    let (code, r) = drill(&t, base, &vars, "kill-primary");
    assert_eq!(code, 0, "{r:#}");
    let log = t.read("drill-kill-primary/monitor.log");
    assert!(log.contains("acquired the lease"), "{log}");
    assert!(!log.contains("single point of failure"), "{log}");
    let state = t.read(".standby/state/dev.json");
    assert!(
        state.contains("epoch 2 claimed in etcd with fencing token"),
        "{state}"
    );
}
