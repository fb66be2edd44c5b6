//! What standby reports and records matches what real PostgreSQL servers are, after the faults
//! issue 11 found: a failed checksum after promotion, and a monitor killed right after it
//! promoted. Every assertion asks the servers (a write, `pg_is_in_recovery()`), not the state.

use crate::support::etcd::etcd;
use crate::support::monitor::{elected_pair, elected_pair_with, Monitor};
use crate::support::pg::{args, cluster, create_orders, kill_postmaster, rt, writers, SYNC_AUTO};
use crate::support::Test;
use std::time::Duration;

/// The newest epoch a promotion wrote into west.
fn west_epoch(base: u16) -> i64 {
    rt().block_on(async {
        let c = crate::support::pg::sql("127.0.0.3", base + 1).await;
        c.query_one("SELECT max(epoch) FROM standby_epoch", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    })
}

/// The state as standby reads it: the snapshot with its journal replayed.
fn state(t: &Test) -> serde_json::Value {
    let r = t.run(&["state", "pull", "-e", "dev"]);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr))
}

#[test]
fn a_missing_checksum_table_is_caught_before_anything_changes_on_postgres() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    // No public.orders: the checksum the group declares cannot be taken.
    let vars = args("dev", &port, &[]);
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    let switch = [
        &["apply", "--var", "active_site=west", "--auto-approve"][..],
        &vars,
    ]
    .concat();
    t.run(&switch)
        .code(1)
        .stderr_has("cannot checksum public.orders on east")
        .stderr_has("Nothing was changed");
    assert_eq!(writers(base), ["east"]);
    assert_eq!(state(&t)["failovers"]["orders"]["active"], "east");
}

/// The table is dropped on the primary after the precheck (a before_fence hook); catch-up
/// carries the drop to west, so its checksum fails after promotion. Before issue 11 this
/// unfenced east and left two writable servers.
#[test]
fn split_brain_after_a_failed_checksum_on_postgres() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &[]);
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    create_orders(base);
    let hook = format!(
        "  hook \"before_fence\" {{\n    command = [\"psql\", \"-h\", \"127.0.0.2\", \"-p\", \"{base}\", \"-U\", \"postgres\", \"-d\", \"postgres\", \"-c\", \"DROP TABLE orders\"]\n  }}\n\n  verify {{"
    );
    let hcl = t.read("main.hcl").replacen("  verify {", &hook, 1);
    t.write("main.hcl", &hcl);
    let r = t.run(
        &[
            &["apply", "--var", "active_site=west", "--auto-approve"][..],
            &vars,
        ]
        .concat(),
    );
    r.code(5)
        .stdout_has("Switched failover.orders: east -> west")
        .stdout_has("verification failed: cannot checksum public.orders on west")
        .stderr_lacks("unfenced east");
    assert_eq!(writers(base), ["west"], "exactly one server takes writes");
    let s = state(&t);
    assert_eq!(s["failovers"]["orders"]["active"], "west");
    t.run(&[&["status"][..], &vars].concat())
        .code(0)
        .stdout_has("active:   west")
        .stdout_lacks("SPLIT BRAIN");
    // A retry plans nothing more: the switch is done.
    t.run(
        &[
            &["plan", "--var", "active_site=west", "--detailed-exitcode"][..],
            &vars,
        ]
        .concat(),
    )
    .code(0);
}

/// kill -9 the primary; the acting monitor promotes west; kill -9 that monitor right after
/// its promote step. The survivor takes the lease, finds west primary and records it; a plain
/// apply then rejoins east as a standby instead of starting it as a second primary.
#[test]
fn a_monitor_killed_after_promotion_leaves_no_trap_for_apply() {
    let (t, base, _servers) = cluster();
    let e = etcd(t.path());
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &SYNC_AUTO);
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    create_orders(base);
    let (mut m1, m2) = elected_pair(&t, &vars, &e.url);
    kill_postmaster(&t, "dev", "east");
    assert!(
        m1.wait_for("failover.orders: promote: Done", Duration::from_secs(20)),
        "{}",
        m1.log()
    );
    m1.0.kill().unwrap();
    m1.0.wait().unwrap();
    assert!(
        !m1.log().contains("failover.orders: record: Done"),
        "m1 was killed too late to test anything: {}",
        m1.log()
    );
    // The state still names east; the members say west.
    assert_eq!(state(&t)["failovers"]["orders"]["active"], "east");
    assert_eq!(writers(base), ["west"]);
    let status = t.run(&[&["status"][..], &vars].concat());
    status.code(2).stdout_has("but the members say west is");
    // The survivor takes over and records what the members are.
    assert!(
        m2.wait_for("is already primary", Duration::from_secs(20)),
        "{}",
        m2.log()
    );
    assert!(
        m2.wait_for("failover finished with exit code", Duration::from_secs(30)),
        "{}\n{}",
        m2.log(),
        t.read("m2.out")
    );
    let s = state(&t);
    assert_eq!(s["failovers"]["orders"]["active"], "west", "{}", m2.log());
    assert_eq!(
        s["failovers"]["orders"]["history"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["kind"],
        "reconcile"
    );
    assert_eq!(writers(base), ["west"]);
    drop(m2);
    // A plain apply never starts east as a primary: it rejoins it as a standby.
    let r = t.run(&[&["apply", "--auto-approve"][..], &vars].concat());
    assert!(matches!(r.code, 0 | 5), "{}\n{}", r.stdout, r.stderr);
    assert_eq!(writers(base), ["west"], "{}\n{}", r.stdout, r.stderr);
    let in_recovery = rt().block_on(async {
        let c = crate::support::pg::sql("127.0.0.2", base).await;
        c.query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .unwrap()
            .get::<_, bool>(0)
    });
    assert!(in_recovery, "east came back as a standby");
    let epochs = west_epoch(base);
    assert_eq!(
        s["failovers"]["orders"]["epoch"].as_u64().unwrap() as i64,
        epochs,
        "the state's epoch is the member's"
    );
}

/// SIGKILL of standby at three points of a sync-mode switch on real PostgreSQL, under a
/// writer that goes through the connection file (the traffic path) and keeps every
/// acknowledged id. After each kill at most one server takes writes; a plain re-run converges
/// on west; no acknowledged write is missing there.
#[test]
fn sigkill_during_a_postgres_switch_loses_no_acknowledged_write() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let mut rows = Vec::new();
    for (when, expect) in [
        ("before_fence", "east"),
        ("after_promote", "west"),
        ("after_switch", "west"),
    ] {
        let (t, base, _servers) = cluster();
        let port = format!("base_port={base}");
        let vars = args("dev", &port, &["--var", "replication_mode=sync"]);
        t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
            .code(0);
        create_orders(base);
        let original = t.read("main.hcl");
        t.write("main.hcl", &crate::support::holding_hook(&original, when));
        let (stop, acked) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(Mutex::new(Vec::new())),
        );
        let w = crate::support::pg::writer(&t, "dev", stop.clone(), acked.clone());
        std::thread::sleep(Duration::from_millis(300));
        let switch = [
            &["apply", "--var", "active_site=west", "--auto-approve"][..],
            &vars,
        ]
        .concat();
        t.kill_when_held(&switch);
        let after_kill = writers(base);
        assert_eq!(
            after_kill,
            [expect],
            "{when}: who takes writes after the kill"
        );
        t.write("main.hcl", &original);
        let r = t.run(&switch);
        assert!(
            matches!(r.code, 0 | 5),
            "{when} rerun: {}\n{}",
            r.stdout,
            r.stderr
        );
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::SeqCst);
        w.join().unwrap();
        assert_eq!(writers(base), ["west"], "{when}: after the re-run");
        let acked = acked.lock().unwrap().clone();
        let lost = rt().block_on(crate::support::pg::missing("127.0.0.3", base + 1, &acked));
        assert!(
            lost.is_empty(),
            "{when}: acknowledged writes missing on west: {lost:?}"
        );
        assert_eq!(state(&t)["failovers"]["orders"]["active"], "west");
        rows.push(format!(
            "| SIGKILL at {when} | writable after kill: {} | acknowledged {} | lost 0 | rerun exit {} |",
            after_kill.join(","),
            acked.len(),
            r.code
        ));
    }
    println!("{}", rows.join("\n"));
}

/// SIGKILL of standby inside its longest step, the catch-up: west's replay is paused, so the
/// switch waits there with east fenced. After the kill nothing takes writes; once replay
/// resumes, a plain re-run finishes the switch on west and no acknowledged write is lost.
#[test]
fn sigkill_inside_the_catch_up_loses_no_acknowledged_write() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &["--var", "replication_mode=sync"]);
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    create_orders(base);
    let west = |q: &'static str| {
        rt().block_on(async {
            let c = crate::support::pg::sql("127.0.0.3", base + 1).await;
            c.batch_execute(q).await.unwrap();
        })
    };
    let (stop, acked) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let w = crate::support::pg::writer(&t, "dev", stop.clone(), acked.clone());
    std::thread::sleep(Duration::from_millis(300));
    west("SELECT pg_wal_replay_pause()");
    std::thread::sleep(Duration::from_millis(200));
    let switch = [
        &["apply", "--var", "active_site=west", "--auto-approve"][..],
        &vars,
    ]
    .concat();
    let mut child = t
        .command(&switch)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(t.join("switch.out")).unwrap())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !t.read("switch.out").contains("catch-up: Running") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{}",
            t.read("switch.out")
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !t.read("switch.out").contains("catch-up: Done"),
        "the catch-up finished although replay was paused: {}",
        t.read("switch.out")
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let after_kill = writers(base);
    assert!(
        after_kill.is_empty(),
        "east fenced, west a standby: {after_kill:?}"
    );
    west("SELECT pg_wal_replay_resume()");
    let r = t.run(&switch);
    assert!(matches!(r.code, 0 | 5), "{}\n{}", r.stdout, r.stderr);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    w.join().unwrap();
    assert_eq!(writers(base), ["west"], "{}", r.stdout);
    let acked = acked.lock().unwrap().clone();
    let lost = rt().block_on(crate::support::pg::missing("127.0.0.3", base + 1, &acked));
    assert!(
        lost.is_empty(),
        "acknowledged writes missing on west: {lost:?}"
    );
    assert_eq!(state(&t)["failovers"]["orders"]["active"], "west");
    println!(
        "| SIGKILL inside catch-up (replay paused) | writable after kill: {} | acknowledged {} | lost 0 | rerun exit {} |",
        if after_kill.is_empty() { "none".to_string() } else { after_kill.join(",") },
        acked.len(),
        r.code
    );
}

/// `replication.mode` is desired state on real servers: async -> sync sets
/// synchronous_standby_names on the primary and waits for a sync standby; status shows it.
#[test]
fn changing_the_replication_mode_is_applied_to_the_servers() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &[]);
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    let sync = |base: u16| {
        rt().block_on(async {
            let c = crate::support::pg::sql("127.0.0.2", base).await;
            let names: String = c
                .query_one("SHOW synchronous_standby_names", &[])
                .await
                .unwrap()
                .get(0);
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            (names, n)
        })
    };
    assert_eq!(sync(base), (String::new(), 0));
    let to_sync = [&["--var", "replication_mode=sync"][..], &vars].concat();
    t.run(&[&["plan", "--detailed-exitcode"][..], &to_sync].concat())
        .code(2)
        .stdout_has("will change its replication mode to sync")
        .stdout_has("replication.mode changes from async to sync");
    t.run(&[&["apply", "--auto-approve"][..], &to_sync].concat())
        .code(0);
    let (names, n) = sync(base);
    assert!(names.contains("west"), "{names}");
    assert_eq!(n, 1, "west is a synchronous standby");
    t.run(&[&["status"][..], &to_sync].concat())
        .code(0)
        .stdout_has("(epoch 1, sync)");
    t.run(&[&["plan", "--detailed-exitcode"][..], &to_sync].concat())
        .code(0);
}

/// The acting monitor SIGKILLed right after the effect of each step of its failover (it
/// freezes itself there with `STANDBY_FAILPOINT=STEP:freeze`, then the test kills it): the
/// survivor converges to exactly one writable server that the state names, with the state's
/// epoch written in that server, and a plain apply rejoins the old primary as a standby.
/// After `record` the survivor has nothing to do and must do nothing.
#[test]
fn the_acting_monitor_killed_at_each_step_leaves_one_writer() {
    let mut rows = Vec::new();
    let steps = [
        "precheck",
        "fence",
        "measure-gap",
        "promote",
        "checksum",
        "verify",
        "re-protect",
        "record",
    ];
    for step in steps {
        let (t, base, _servers) = cluster();
        let e = etcd(t.path());
        let port = format!("base_port={base}");
        let vars = args("dev", &port, &SYNC_AUTO);
        t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
            .code(0);
        create_orders(base);
        let freeze = format!("{step}:freeze");
        let (mut m1, m2) = elected_pair_with(&t, &vars, &e.url, Some(&freeze));
        kill_postmaster(&t, "dev", "east");
        assert!(
            m1.wait_frozen(&t, Duration::from_secs(20)),
            "{step}: {}\n{}",
            m1.log(),
            t.read("m1.out")
        );
        m1.0.kill().unwrap();
        m1.0.wait().unwrap();
        let after_kill = writers(base);
        assert!(after_kill.len() <= 1, "{step}: split brain {after_kill:?}");
        if step == "record" {
            // The switch is recorded: the survivor takes the lease and finds nothing to do.
            assert!(
                m2.wait_for("acquired the lease", Duration::from_secs(10)),
                "{step}: {}",
                m2.log()
            );
            std::thread::sleep(Duration::from_secs(3));
            assert!(!m2.log().contains("TRIGGER"), "{step}: {}", m2.log());
        } else {
            assert!(
                m2.wait_for("failover finished with exit code", Duration::from_secs(40)),
                "{step}: the survivor did not finish: {}\n{}",
                m2.log(),
                t.read("m2.out")
            );
        }
        let survivor_log = m2.log();
        drop(m2);
        assert_eq!(writers(base), ["west"], "{step}: {survivor_log}");
        assert_eq!(
            state(&t)["failovers"]["orders"]["active"],
            "west",
            "{step}: {survivor_log}"
        );
        let r = t.run(&[&["apply", "--auto-approve"][..], &vars].concat());
        assert!(
            matches!(r.code, 0 | 5),
            "{step}: {}\n{}",
            r.stdout,
            r.stderr
        );
        assert_eq!(writers(base), ["west"], "{step}: after apply");
        let east_follows = rt().block_on(async {
            let c = crate::support::pg::sql("127.0.0.2", base).await;
            c.query_one("SELECT pg_is_in_recovery()", &[])
                .await
                .unwrap()
                .get::<_, bool>(0)
        });
        assert!(east_follows, "{step}: east came back as a standby");
        let s = state(&t);
        let member_epoch = rt().block_on(async {
            let c = crate::support::pg::sql("127.0.0.3", base + 1).await;
            c.query_one("SELECT max(epoch) FROM standby_epoch", &[])
                .await
                .map(|r| r.get::<_, i64>(0))
        });
        let member_epoch = member_epoch
            .unwrap_or_else(|e| panic!("{step}: {e}\n{survivor_log}\n{}", t.read("m2.out")));
        assert_eq!(
            s["failovers"]["orders"]["epoch"].as_u64().unwrap() as i64,
            member_epoch,
            "{step}: the state's epoch is west's"
        );
        rows.push(format!(
            "| acting monitor SIGKILLed after {step} | writable after the kill: {} | {} west at epoch {} | apply exit {} |",
            if after_kill.is_empty() { "none".to_string() } else { after_kill.join(",") },
            if step == "record" { "already recorded, the survivor does nothing:" } else { "the survivor records" },
            s["failovers"]["orders"]["epoch"],
            r.code
        ));
    }
    println!("{}", rows.join("\n"));
}

/// The monitor's failover finds the state lock held (another apply stuck in a hook): it waits
/// for it instead of exiting, and fails over once the holder is gone.
#[test]
fn a_monitor_waits_for_a_held_state_lock_instead_of_exiting() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &SYNC_AUTO);
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    create_orders(base);
    let mon = Monitor::start(&t, &vars);
    // An operator's switch holds the lock in a hook before anything changes. The hook holds
    // only while the file `hold` exists: the monitor's own failover runs the same hook.
    let original = t.read("main.hcl");
    t.write("hold", "");
    t.write(
        "main.hcl",
        &original.replacen(
            "  verify {",
            "  hook \"before_fence\" {\n    command = [\"sh\", \"-c\", \"test -f hold || exit 0; echo $$ > held.pid; exec sleep 60\"]\n  }\n\n  verify {",
            1,
        ),
    );
    let switch = [
        &["apply", "--var", "active_site=west", "--auto-approve"][..],
        &vars,
    ]
    .concat();
    let mut holder = t
        .command(&switch)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !t.join("held.pid").exists() || t.read("held.pid").trim().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the hook never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    kill_postmaster(&t, "dev", "east");
    assert!(
        mon.wait_for("TRIGGER", Duration::from_secs(15)),
        "{}",
        mon.log()
    );
    // The monitor is waiting on the lock: still alive, nothing promoted yet.
    std::thread::sleep(Duration::from_secs(2));
    assert!(!mon.log().contains("failover finished"), "{}", mon.log());
    assert!(writers(base).is_empty());
    std::fs::remove_file(t.join("hold")).unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-9", t.read("held.pid").trim()])
        .status();
    assert!(
        mon.wait_for("failover finished with exit code", Duration::from_secs(30)),
        "{}\n{}",
        mon.log(),
        t.read("monitor.out")
    );
    assert_eq!(writers(base), ["west"]);
    assert_eq!(state(&t)["failovers"]["orders"]["active"], "west");
}

/// Issue 11, seen 12: the acting monitor freezes (SIGSTOP, as a paused VM would) right after
/// its epoch claim lands in etcd. The other monitor takes the lease and waits for the state
/// lock the frozen one still holds. Resumed, the frozen one asks for its lease again before
/// `pg_promote`, finds it lapsed and promotes nothing; the survivor then fails over at a newer
/// epoch, which is the one written in the one writable server.
#[test]
fn a_monitor_frozen_after_its_epoch_claim_does_not_promote_on_a_lapsed_lease() {
    let (t, base, _servers) = cluster();
    let e = etcd(t.path());
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &SYNC_AUTO);
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    create_orders(base);
    let (m1, m2) = elected_pair_with(&t, &vars, &e.url, Some("promote:freeze-after-claim"));
    kill_postmaster(&t, "dev", "east");
    assert!(
        m1.wait_frozen(&t, Duration::from_secs(20)),
        "{}\n{}",
        m1.log(),
        t.read("m1.out")
    );
    assert!(
        m2.wait_for("acquired the lease", Duration::from_secs(10)),
        "{}",
        m2.log()
    );
    assert!(
        m2.wait_for("TRIGGER", Duration::from_secs(10)),
        "{}",
        m2.log()
    );
    // The survivor waits for the frozen holder's state lock; nothing is promoted meanwhile.
    std::thread::sleep(Duration::from_secs(2));
    assert!(writers(base).is_empty(), "{:?}", writers(base));
    let resumed = std::process::Command::new("kill")
        .args(["-CONT", &m1.0.id().to_string()])
        .status()
        .unwrap();
    assert!(resumed.success());
    assert!(
        m1.wait_for("failover.orders: failover", Duration::from_secs(20))
            || m1.wait_for("the failover did not run", Duration::from_secs(1)),
        "{}",
        m1.log()
    );
    let m1_out = format!("{}{}", t.read("m1.out"), m1.log());
    assert!(
        m1_out.contains("the lease lapsed after the epoch claim"),
        "{m1_out}"
    );
    assert!(!m1_out.contains("promote: Done"), "{m1_out}");
    assert!(
        m2.wait_for("failover finished with exit code", Duration::from_secs(60)),
        "{}\n{}",
        m2.log(),
        t.read("m2.out")
    );
    assert_eq!(writers(base), ["west"]);
    let s = state(&t);
    assert_eq!(s["failovers"]["orders"]["active"], "west");
    let west_epoch = west_epoch(base);
    assert_eq!(
        s["failovers"]["orders"]["epoch"].as_u64().unwrap() as i64,
        west_epoch
    );
    // Above the epoch the frozen monitor claimed (2).
    assert_eq!(west_epoch, 3);
    println!(
        "| monitor frozen after its epoch claim, resumed after the survivor took the lease | m1 promoted nothing | survivor promoted west at epoch {west_epoch} | one writer |"
    );
}

/// A promotion interrupted between `pg_promote` and writing its epoch (done here by hand, with
/// the old primary killed): the next apply adopts west and writes a fresh epoch into it, the
/// one the state records, so west can later prove that east is the deposed one.
#[test]
fn an_adopted_promotion_gets_its_epoch_written_into_the_server() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &["--var", "replication_mode=sync"]);
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    create_orders(base);
    kill_postmaster(&t, "dev", "east");
    rt().block_on(async {
        let c = crate::support::pg::sql("127.0.0.3", base + 1).await;
        c.batch_execute("SELECT pg_promote(true)").await.unwrap();
    });
    assert_eq!(writers(base), ["west"]);
    let plan = t.run(&[&["plan"][..], &vars].concat());
    plan.stdout_has("and write epoch 2 into it");
    let r = t.run(&[&["apply", "--auto-approve"][..], &vars].concat());
    assert!(matches!(r.code, 0 | 5), "{}\n{}", r.stdout, r.stderr);
    let west_epoch = west_epoch(base);
    let s = state(&t);
    assert_eq!(s["failovers"]["orders"]["active"], "west");
    assert_eq!(
        s["failovers"]["orders"]["epoch"].as_i64().unwrap(),
        west_epoch
    );
    assert_eq!(west_epoch, 2);
    assert_eq!(writers(base), ["west"]);
}

/// Issue 12, item 7: a re-protect that failed after promotion (then, a replication client
/// with a quote in its name) left a state that disagreed with the servers, and every re-run
/// stopped at fence. Now the failure is a caveat of a switch that stands: the state says west,
/// west is the only writer, and the next apply rejoins east as its standby.
#[test]
fn a_failed_reprotect_on_postgres_is_recorded_truthfully_and_a_rerun_rejoins() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &["--var", "replication_mode=sync"]);
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    create_orders(base);
    let switch = [
        &["apply", "--var", "active_site=west", "--auto-approve"][..],
        &vars,
    ]
    .concat();
    let r = t.run_env(&switch, "STANDBY_FAILPOINT", "re-protect:before");
    r.code(5)
        .stdout_has("Switched failover.orders: east -> west");
    assert_eq!(writers(base), ["west"], "exactly one server takes writes");
    assert_eq!(state(&t)["failovers"]["orders"]["active"], "west");
    // The re-run does not stop at fence: it rejoins east, which then follows west.
    let r = t.run(&switch);
    assert!(matches!(r.code, 0 | 5), "{}\n{}", r.stdout, r.stderr);
    assert!(
        !r.stderr.contains("recovery is in progress"),
        "{}",
        r.stderr
    );
    let in_recovery: bool = rt().block_on(async {
        crate::support::pg::sql("127.0.0.2", base)
            .await
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .unwrap()
            .get(0)
    });
    assert!(in_recovery, "east is not a standby after the re-run");
    assert_eq!(writers(base), ["west"]);
    t.run(
        &[
            &["plan", "--var", "active_site=west", "--detailed-exitcode"][..],
            &vars,
        ]
        .concat(),
    )
    .code(0);
}
