//! SIGKILL of standby itself in the middle of a switch, on `plans/quickstart` (SQLite members):
//! before the fence, right after promotion, and after traffic moved. A hook holds the switch
//! at that point while the test kills the process. Afterwards the databases are asked: at most
//! one takes writes, `status` says whether the state lags behind them, and a plain re-run
//! converges without operator help.

use crate::support::Test;

fn writable(t: &Test) -> Vec<&'static str> {
    ["east", "west"]
        .into_iter()
        .filter(|s| {
            rusqlite::Connection::open(t.join(&format!("out/dev/{s}/orders.db")))
                .unwrap()
                .execute("INSERT INTO orders (item) VALUES ('probe')", [])
                .is_ok()
        })
        .collect()
}

const SWITCH: [&str; 6] = [
    "apply",
    "-e",
    "dev",
    "--var",
    "active_site=west",
    "--auto-approve",
];

fn kill_at(when: &str) -> (Test, Vec<&'static str>, i32) {
    let t = Test::plan("quickstart");
    let original = t.read("failover.hcl");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    t.write(
        "failover.hcl",
        &crate::support::holding_hook(&original, when),
    );
    t.kill_when_held(&SWITCH);
    let w = writable(&t);
    let status = t.run(&["status", "-e", "dev"]).code;
    // The hook is gone from the topology for the re-run, as an operator would fix it.
    t.write("failover.hcl", &original);
    (t, w, status)
}

#[test]
fn sigkill_during_a_switch_leaves_one_writer_and_a_rerun_converges() {
    let mut rows = Vec::new();
    for (when, writer, status) in [
        ("before_fence", "east", 0),
        ("after_promote", "west", 2),
        ("after_switch", "west", 2),
    ] {
        let (t, w, code) = kill_at(when);
        assert_eq!(w, [writer], "{when}: who takes writes after the kill");
        assert_eq!(code, status, "{when}: status exit code");
        if writer == "west" {
            // The nightly drift check sees the half-finished switch.
            t.run(&["plan", "-e", "dev", "--refresh-only", "--detailed-exitcode"])
                .code(2)
                .stdout_has("the members say west is primary at epoch 2; the state said east");
        }
        let r = t.run(&SWITCH);
        assert!(
            matches!(r.code, 0 | 5),
            "{when} rerun: {}\n{}",
            r.stdout,
            r.stderr
        );
        assert_eq!(writable(&t), ["west"], "{when}: after the re-run");
        let s: serde_json::Value =
            serde_json::from_str(&t.run(&["state", "pull", "-e", "dev"]).stdout).unwrap();
        assert_eq!(s["failovers"]["orders"]["active"], "west", "{when}");
        assert!(t.read("out/dev/connection.txt").contains("west"), "{when}");
        t.run(&["status", "-e", "dev"]).code(0);
        t.run(&[
            "plan",
            "-e",
            "dev",
            "--var",
            "active_site=west",
            "--detailed-exitcode",
        ])
        .code(0);
        rows.push(format!(
            "| SIGKILL at {when} | {writer} | status {code} | rerun {} |",
            r.code
        ));
    }
    println!("{}", rows.join("\n"));
}

/// A `standby switchover` killed after promotion must not leave the override it was
/// replacing: the re-run records east, and no later apply switches back to west.
#[test]
fn a_killed_switchover_back_does_not_leave_a_stale_override() {
    let t = Test::plan("quickstart");
    let original = t.read("failover.hcl");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    t.run(&[
        "switchover",
        "orders",
        "--to",
        "west",
        "-e",
        "dev",
        "--auto-approve",
    ])
    .code(0);
    t.write(
        "failover.hcl",
        &crate::support::holding_hook(&original, "after_switch"),
    );
    t.kill_when_held(&[
        "switchover",
        "orders",
        "--to",
        "east",
        "-e",
        "dev",
        "--auto-approve",
    ]);
    t.write("failover.hcl", &original);
    assert_eq!(writable(&t), ["east"]);
    let r = t.run(&["apply", "-e", "dev", "--auto-approve"]);
    assert!(matches!(r.code, 0 | 5), "{}\n{}", r.stdout, r.stderr);
    let s: serde_json::Value =
        serde_json::from_str(&t.run(&["state", "pull", "-e", "dev"]).stdout).unwrap();
    assert_eq!(s["failovers"]["orders"]["active"], "east");
    assert!(s["failovers"]["orders"].get("override_").is_none(), "{s}");
    t.run(&["apply", "-e", "dev", "--auto-approve"])
        .code(0)
        .stdout_lacks("Switched");
    assert_eq!(writable(&t), ["east"]);
}

fn rows(t: &Test, site: &str) -> i64 {
    rusqlite::Connection::open(t.join(&format!("out/dev/{site}/orders.db")))
        .unwrap()
        .query_row("SELECT count(*) FROM orders", [], |r| r.get(0))
        .unwrap()
}

/// The game day a new user walked: `STANDBY_FAILPOINT=fence:freeze` stops a switch with east
/// fenced and nothing promoted. While it is stopped, another command says the lock's holder is
/// stopped and how to resume or end it. After a kill, `status` says to run `standby apply`
/// (not `failover`, which would skip the catch-up and lose east's last rows, and now needs
/// `--accept-data-loss` for that); the apply keeps every row.
#[test]
fn a_switch_frozen_after_its_fence_is_finished_by_apply_without_losing_rows() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let c = rusqlite::Connection::open(t.join("out/dev/east/orders.db")).unwrap();
    for _ in 0..20 {
        c.execute("INSERT INTO orders (item) VALUES (?1)", ["x".repeat(300)])
            .unwrap();
    }
    drop(c);
    let mut frozen = t.freeze_at(&SWITCH, "fence:freeze", "switch.err");
    assert!(t
        .read("switch.err")
        .contains("STANDBY_FAILPOINT is armed (fence:freeze)"));
    let pid = frozen.id().to_string();
    t.run(&["plan", "-e", "dev"])
        .code(1)
        .stderr_has("locked by a stopped process")
        .stderr_has(&format!("kill -CONT {pid}"));
    frozen.kill().unwrap();
    frozen.wait().unwrap();
    assert!(writable(&t).is_empty(), "east fenced, nothing promoted");
    t.run(&["status", "-e", "dev"])
        .code(1)
        .stdout_has("east is fenced and nothing was promoted")
        .stdout_has("Run `standby apply -e dev`");
    t.run(&[
        "failover",
        "orders",
        "--to",
        "west",
        "-e",
        "dev",
        "--auto-approve",
    ])
    .code(1)
    .stderr_has("needs --accept-data-loss orders");
    assert!(
        writable(&t).is_empty(),
        "the refused failover changed nothing"
    );
    let r = t.run(&SWITCH);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(rows(&t, "west"), 20, "west has every row east took");
    assert_eq!(writable(&t), ["west"]);
}

/// A misspelled failpoint is refused before anything runs.
#[test]
fn a_misspelled_failpoint_is_an_error() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let r = t.run_env(&SWITCH, "STANDBY_FAILPOINT", "promot:freeze");
    r.code(1)
        .stderr_has("STANDBY_FAILPOINT is not valid")
        .stderr_has("unknown step \"promot\"");
    assert_eq!(writable(&t), ["east"]);
}

/// A switch killed right after its record (`record:freeze`, then SIGKILL): the state names
/// west, but the outputs were not written yet. `status` says so (exit 2) instead of calling
/// everything fine, and an apply brings the outputs up to date.
#[test]
fn a_switch_killed_after_its_record_is_reported_until_apply_writes_the_outputs() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let mut frozen = t.freeze_at(&SWITCH, "record:freeze", "switch.err");
    frozen.kill().unwrap();
    frozen.wait().unwrap();
    t.run(&["status", "-e", "dev"])
        .code(2)
        .stdout_has("an apply stopped after it recorded the switch of failover.orders");
    let r = t.run(&SWITCH);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    t.run(&["status", "-e", "dev"]).code(0);
    t.run(&["output", "-e", "dev", "active_endpoint"])
        .code(0)
        .stdout_has("west");
    assert_eq!(writable(&t), ["west"]);
}

/// SIGKILL of standby right after the effect of every step of a switchover on SQLite members
/// (`STEP:freeze`, then SIGKILL): at most one database takes writes, and a plain re-run
/// converges on west with every row east took and nothing left to plan.
#[test]
fn sigkill_after_every_step_of_a_switch_converges() {
    let steps = [
        "precheck",
        "hook[0]",
        "fence",
        "catch-up",
        "promote",
        "checksum",
        "verify",
        "hook[1]",
        "re-protect",
        "record",
    ];
    let mut rows_out = Vec::new();
    for step in steps {
        let t = Test::plan("quickstart");
        t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
        let c = rusqlite::Connection::open(t.join("out/dev/east/orders.db")).unwrap();
        for _ in 0..10 {
            c.execute("INSERT INTO orders (item) VALUES ('x')", [])
                .unwrap();
        }
        drop(c);
        let mut frozen = t.freeze_at(&SWITCH, &format!("{step}:freeze"), "switch.err");
        frozen.kill().unwrap();
        frozen.wait().unwrap();
        let status = t.run(&["status", "-e", "dev"]).code;
        let (east, west) = (rows(&t, "east"), rows(&t, "west"));
        let after_kill = writable(&t);
        assert!(after_kill.len() <= 1, "{step}: split brain {after_kill:?}");
        let r = t.run(&SWITCH);
        assert!(
            matches!(r.code, 0 | 5),
            "{step}: {}\n{}",
            r.stdout,
            r.stderr
        );
        assert!(
            rows(&t, "west") >= 10,
            "{step}: rows lost (east {east}, west {west})"
        );
        assert_eq!(writable(&t), ["west"], "{step}");
        t.run(&[
            "plan",
            "-e",
            "dev",
            "--var",
            "active_site=west",
            "--detailed-exitcode",
        ])
        .code(0);
        rows_out.push(format!(
            "| SIGKILL after {step} | writable after the kill: {} | status {status} | re-run exit {} |",
            if after_kill.is_empty() { "none".to_string() } else { after_kill.join(",") },
            r.code
        ));
    }
    println!("{}", rows_out.join("\n"));
}
