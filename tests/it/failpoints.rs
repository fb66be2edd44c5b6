//! Every step of a real switch failing before and after its effect, with
//! `STANDBY_FAILPOINT=STEP:before|after`, on SQLite members (`plans/quickstart`) and on real
//! PostgreSQL servers. After each case the members are asked: exactly one takes writes, the
//! state and the outputs name it, traffic points at it or did not move, and a plain re-run
//! converges on west with nothing left to plan. The tables are printed.

use crate::support::pg::{args, cluster, create_orders};
use crate::support::Test;

const STEPS: [&str; 7] = [
    "precheck",
    "fence",
    "catch-up",
    "promote",
    "checksum",
    "verify",
    "re-protect",
];

fn sqlite_writable(t: &Test) -> Vec<&'static str> {
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

fn state(t: &Test, vars: &[&str]) -> serde_json::Value {
    let env = vars.get(1).copied().unwrap_or("dev");
    serde_json::from_str(&t.run(&["state", "pull", "-e", env]).stdout).unwrap()
}

/// One case: the switch with the failpoint, the checks on the members, the re-run.
fn case(
    t: &Test,
    vars: &[&str],
    point: &str,
    writable: &dyn Fn() -> Vec<&'static str>,
    traffic: &dyn Fn() -> &'static str,
) -> String {
    let switch = [
        &["apply", "--var", "active_site=west", "--auto-approve"][..],
        vars,
    ]
    .concat();
    let r = t.run_env(&switch, "STANDBY_FAILPOINT", point);
    let w = writable();
    assert_eq!(
        w.len(),
        1,
        "{point}: writable {w:?}\n{}\n{}",
        r.stdout,
        r.stderr
    );
    let s = state(t, vars);
    assert_eq!(
        s["failovers"]["orders"]["active"], w[0],
        "{point}: the state names another member\n{}",
        r.stderr
    );
    // Traffic follows the writable member, or has not moved yet.
    let conn = traffic();
    assert!(
        conn == w[0] || conn == "east",
        "{point}: traffic points at {conn}"
    );
    let status = t.run(&[&["status"][..], vars].concat());
    assert_eq!(status.code, 0, "{point}: status\n{}", status.stdout);
    let rerun = t.run(&switch);
    assert!(
        matches!(rerun.code, 0 | 5),
        "{point} rerun: {}\n{}",
        rerun.stdout,
        rerun.stderr
    );
    assert_eq!(writable(), ["west"], "{point}: after the re-run");
    assert_eq!(traffic(), "west", "{point}: traffic after the re-run");
    t.run(
        &[
            &["plan", "--var", "active_site=west", "--detailed-exitcode"][..],
            vars,
        ]
        .concat(),
    )
    .code(0);
    format!(
        "| {point} | exit {} | {} | {} | rerun exit {} |",
        r.code, w[0], s["failovers"]["orders"]["epoch"], rerun.code
    )
}

#[test]
fn every_step_of_a_sqlite_switch_fails_before_and_after_its_effect() {
    let mut rows = Vec::new();
    for step in STEPS {
        for when in ["before", "after"] {
            let t = Test::plan("quickstart");
            t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
            let writable = || sqlite_writable(&t);
            let traffic = || {
                if t.read("out/dev/connection.txt").contains("/west/") {
                    "west"
                } else {
                    "east"
                }
            };
            rows.push(case(
                &t,
                &["-e", "dev"],
                &format!("{step}:{when}"),
                &writable,
                &traffic,
            ));
        }
    }
    println!("SQLite failpoints: {} cases, all consistent\n| failpoint | apply | writable | epoch | re-run |\n| --- | --- | --- | --- | --- |\n{}", rows.len(), rows.join("\n"));
}

#[test]
fn every_step_of_a_postgres_switch_fails_before_and_after_its_effect() {
    let mut rows = Vec::new();
    for step in ["fence", "catch-up", "promote", "verify", "re-protect"] {
        for when in ["before", "after"] {
            let (t, base, _servers) = cluster();
            let port = format!("base_port={base}");
            let vars = args("dev", &port, &["--var", "replication_mode=sync"]);
            t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
                .code(0);
            create_orders(base);
            let writable = || crate::support::pg::writers(base);
            let traffic = || {
                if t.read("data/dev/connection.txt").contains("@127.0.0.3:") {
                    "west"
                } else {
                    "east"
                }
            };
            rows.push(case(
                &t,
                &vars,
                &format!("{step}:{when}"),
                &writable,
                &traffic,
            ));
        }
    }
    println!("PostgreSQL failpoints: {} cases, all consistent\n| failpoint | apply | writable | epoch | re-run |\n| --- | --- | --- | --- | --- |\n{}", rows.len(), rows.join("\n"));
}
