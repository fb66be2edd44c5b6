//! What standby reports and records after a switch matches what the members are: regression
//! tests for issue 11's findings, on `plans/quickstart` (SQLite members), each asserting on the
//! databases themselves.

use crate::support::Test;

fn db(t: &Test, site: &str) -> rusqlite::Connection {
    rusqlite::Connection::open(t.join(&format!("out/dev/{site}/orders.db"))).unwrap()
}

fn writable(t: &Test) -> Vec<&'static str> {
    ["east", "west"]
        .into_iter()
        .filter(|s| {
            db(t, s)
                .execute("INSERT INTO orders (item) VALUES ('probe')", [])
                .is_ok()
        })
        .collect()
}

fn state(t: &Test, env: &str) -> serde_json::Value {
    serde_json::from_str(&t.run(&["state", "pull", "-e", env]).stdout).unwrap()
}

fn switch_west(t: &Test, env: &str) -> crate::support::Run {
    t.run(&[
        "apply",
        "-e",
        env,
        "--var",
        "active_site=west",
        "--auto-approve",
    ])
}

#[test]
fn a_missing_checksum_table_is_caught_before_anything_changes() {
    let t = Test::plan("quickstart");
    let hcl = t.read("failover.hcl").replace(
        "checksum = [\"main.orders\"]",
        "checksum = [\"main.missing\"]",
    );
    t.write("failover.hcl", &hcl);
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    switch_west(&t, "dev")
        .code(1)
        .stderr_has("cannot checksum main.missing on east")
        .stderr_has("Nothing was changed");
    assert_eq!(writable(&t), ["east"]);
    assert_eq!(state(&t, "dev")["failovers"]["orders"]["active"], "east");
}

/// The data set disappears after the precheck (a hook drops it on the primary, and catch-up
/// carries that to the target), so the checksum fails after promotion: the switch is done and
/// recorded with the failure as a caveat, and the old primary stays fenced.
#[test]
fn split_brain_when_the_checksum_fails_after_promotion() {
    let t = Test::plan("quickstart");
    let drop = r#"  hook "before_fence" {
    command = ["python3", "-c", "import sqlite3; c = sqlite3.connect('out/dev/east/orders.db'); c.execute('DROP TABLE orders'); c.commit()"]
  }

  verify {"#;
    let hcl = t.read("failover.hcl").replacen("  verify {", drop, 1);
    t.write("failover.hcl", &hcl);
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let r = switch_west(&t, "dev");
    r.code(5)
        .stdout_has("Switched failover.orders: east -> west (epoch 2)")
        .stdout_has("verification failed: cannot checksum main.orders on west")
        .stderr_has("checksum: Done with a caveat")
        .stderr_lacks("unfenced east");
    // The table is gone, and SQLite fences are per-table triggers: ask the members' roles.
    t.run(&["status", "-e", "dev"])
        .stdout_has("west      primary")
        .stdout_has("east      standby");
    let s = state(&t, "dev");
    assert_eq!(s["failovers"]["orders"]["active"], "west");
    assert_eq!(s["failovers"]["orders"]["epoch"], 2);
    assert_eq!(
        s["outputs"]["active_endpoint"]["value"],
        "west.us-west.internal:5432"
    );
    t.run(&["status", "-e", "dev"])
        .code(0)
        .stdout_has("active:   west (epoch 2")
        .stdout_has("caveat:   verification failed");
    assert!(t.read("out/dev/connection.txt").contains("west"));
}

#[test]
fn outputs_do_not_record_a_switch_that_stopped_at_its_approval_gate() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "prod", "--auto-approve"]).code(0);
    let before = t.run(&["output", "active_endpoint", "-e", "prod"]).stdout;
    switch_west(&t, "prod")
        .code(4)
        .stdout_has(
            "Apply stopped at an approval gate. Resources: 0 added, 0 changed, 0 destroyed.",
        )
        .stdout_lacks("Apply complete");
    assert_eq!(
        t.run(&["output", "active_endpoint", "-e", "prod"]).stdout,
        before,
        "the output still names the site that is primary"
    );
    assert!(t
        .read("out/prod/routing.json")
        .contains("\"active\":\"east\""));
    assert!(t.read("out/prod/connection.txt").contains("east"));
}

#[test]
fn destroy_removes_the_group_and_the_next_apply_sets_it_up_again() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    switch_west(&t, "dev").code(0);
    t.run(&["destroy", "-e", "dev", "--auto-approve"]).code(0);
    let s = state(&t, "dev");
    assert!(
        s.get("failovers")
            .is_none_or(|f| f.as_object().unwrap().is_empty()),
        "{s}"
    );
    let retired = &s["retired_failovers"][0];
    assert_eq!(retired["name"], "orders");
    assert_eq!(retired["record"]["history"].as_array().unwrap().len(), 2);
    t.run(&["status", "-e", "dev"])
        .code(0)
        .stdout_has("No failover groups are recorded");
    t.run(&["plan", "-e", "dev", "--var", "active_site=west"])
        .code(0)
        .stdout_has("will set up replication with west as primary")
        .stdout_lacks("NOT HEALTHY");
}

#[test]
fn refresh_only_never_plans_a_switch() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    t.run(&[
        "plan",
        "-e",
        "dev",
        "--refresh-only",
        "--var",
        "active_site=west",
        "--detailed-exitcode",
    ])
    .code(0)
    .stdout_lacks("FAIL OVER")
    .stdout_lacks("will switch");
}
