//! The PostgreSQL state backend through the binary: concurrent applies from two processes
//! lose no update, the lock names its holder, and `state migrate` moves state both ways.

use crate::support::servers::PgServer;
use crate::support::Test;

fn topology() -> &'static str {
    r#"
variable "n" {
  type    = number
  default = 0
}
resource "standby_data" "a" {
  input = "a-${var.n}"
}
resource "standby_data" "b" {
  input = "b-${var.n}"
}
"#
}

#[test]
fn concurrent_applies_from_two_processes_lose_no_update() {
    let t = Test::new().file("main.hcl", topology());
    let pg = PgServer::start(&t.join("pg"), 11000 + (std::process::id() % 500) as u16);
    let spec = pg.spec("standby");
    let backend = format!("--backend={spec}");
    // Two processes at once, each changing a different resource; the loser waits for the lock.
    let mut a = t
        .command(&[
            &backend,
            "apply",
            "--auto-approve",
            "--target",
            "standby_data.a",
            "--var",
            "n=1",
            "--lock-timeout",
            "60s",
        ])
        .spawn()
        .unwrap();
    let mut b = t
        .command(&[
            &backend,
            "apply",
            "--auto-approve",
            "--target",
            "standby_data.b",
            "--var",
            "n=2",
            "--lock-timeout",
            "60s",
        ])
        .spawn()
        .unwrap();
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let s: serde_json::Value =
        serde_json::from_str(&t.run(&[&backend, "state", "pull"]).stdout).unwrap();
    let inputs: Vec<&str> = s["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["attributes"]["input"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["a-1", "b-2"], "both updates are in the state");
    assert_eq!(s["serial"], 2);
    assert!(
        !t.join(".standby").exists(),
        "nothing was written to the local backend"
    );
    // The topology's backend block works like --backend.
    t.write("backend.hcl", &format!("backend \"pg\" {{\n  conn_str = \"host=127.0.0.1 port={} user=postgres dbname=postgres\"\n  schema   = \"standby\"\n}}\n", pg.port));
    t.run(&["state", "list"])
        .code(0)
        .stdout_has("standby_data.a")
        .stdout_has("standby_data.b");
    std::fs::remove_file(t.join("backend.hcl")).unwrap();
    // Migrate to the local backend and back into another schema.
    t.run(&[&backend, "state", "migrate", "--to", "local"])
        .code(0)
        .stdout_has("Copied the state");
    t.run(&["state", "list"])
        .code(0)
        .stdout_has("standby_data.b");
    t.run(&[&backend, "state", "migrate", "--to", "local"])
        .code(1)
        .stderr_has("The target already has state");
    let other = pg.spec("copy");
    t.run(&["state", "migrate", "--to", &other]).code(0);
    t.run(&[
        &format!("--backend={other}"),
        "plan",
        "--var",
        "n=1",
        "--detailed-exitcode",
        "--target",
        "standby_data.a",
    ])
    .code(0);
}

#[test]
fn a_held_lock_names_its_holder_and_force_unlock_ends_a_hung_one() {
    let t = Test::new().file("main.hcl", topology());
    let pg = PgServer::start(&t.join("pg"), 11500 + (std::process::id() % 400) as u16);
    let spec = pg.spec("locks");
    let holder = standby_engine::state::PgBackend::new(
        &spec["pg:".len()..spec.len() - "#locks".len()],
        "locks",
        "default",
    )
    .unwrap();
    use standby_engine::state::StateLock as _;
    let guard = holder
        .lock(
            standby_engine::state::LockInfo::new("drill"),
            std::time::Duration::ZERO,
        )
        .unwrap();
    let backend = format!("--backend={spec}");
    t.run(&[&backend, "apply", "--auto-approve"])
        .code(1)
        .stderr_has("The state is locked")
        .stderr_has("for drill since")
        .stderr_has(&guard.info.id);
    t.run(&[&backend, "force-unlock", &guard.info.id])
        .code(0)
        .stdout_has("released");
    t.run(&[&backend, "apply", "--auto-approve"]).code(0);
    drop(guard);
}
