//! State safety: locking between processes, SIGKILL and Ctrl-C mid-apply, failed actions.

use crate::support::Test;
use standby_engine::state::{LocalBackend, LockInfo, StateLock as _};
use std::time::{Duration, Instant};

fn many_files(n: usize) -> Test {
    Test::new().file(
        "main.hcl",
        &format!(
            r#"
resource "local_file" "f" {{
  count           = {n}
  filename        = "out/f${{count.index}}.txt"
  content         = "file ${{count.index}}\n"
  file_permission = "0644"
}}
"#
        ),
    )
}

fn journal_lines(t: &Test) -> usize {
    std::fs::read_to_string(t.join(".standby/state/default.journal"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// Waits until the journal has at least `n` lines, or the child exits.
fn wait_for_journal(t: &Test, child: &mut std::process::Child, n: usize) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if journal_lines(t) >= n {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

/// Checks that every instance in the state exists on disk with the recorded content.
fn state_matches_disk(t: &Test) -> usize {
    let r = t.run(&["state", "pull"]);
    r.code(0);
    let s: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let resources = s["resources"].as_array().unwrap();
    let mut seen = std::collections::HashSet::new();
    for res in resources {
        let addr = res["address"].as_str().unwrap();
        assert!(seen.insert(addr.to_string()), "duplicate {addr} in state");
        let attrs = &res["attributes"];
        let on_disk = std::fs::read_to_string(t.join(attrs["filename"].as_str().unwrap()))
            .unwrap_or_else(|_| panic!("{addr} is in the state but not on disk"));
        assert_eq!(
            on_disk,
            attrs["content"].as_str().unwrap(),
            "{addr} differs from disk"
        );
    }
    resources.len()
}

#[test]
fn sigkill_mid_apply_leaves_a_readable_state_that_a_rerun_converges_from() {
    let n = 3000;
    let t = many_files(n);
    let mut child = t
        .command(&["apply", "--auto-approve", "--parallelism", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_for_journal(&t, &mut child, 200),
        "the apply finished before it could be killed; raise n"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let recorded = state_matches_disk(&t);
    assert!(
        recorded >= 200 && recorded < n,
        "recorded {recorded} of {n}"
    );
    t.run(&["apply", "--auto-approve"]).code(0);
    t.run(&["plan", "--detailed-exitcode"])
        .code(0)
        .stdout_has("No changes.");
    assert_eq!(state_matches_disk(&t), n);
    let on_disk = std::fs::read_dir(t.join("out"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".txt")
        })
        .count();
    assert_eq!(on_disk, n, "no orphan and no missing files");
}

#[test]
fn ctrl_c_stops_new_actions_saves_state_and_a_rerun_finishes() {
    let t = many_files(3000);
    // Files, not pipes: nobody reads a pipe while the plan is printed, and it would fill up.
    let out_log = tempfile::NamedTempFile::new().unwrap();
    let err_log = tempfile::NamedTempFile::new().unwrap();
    let mut child = t
        .command(&["apply", "--auto-approve", "--parallelism", "2"])
        .stdout(out_log.reopen().unwrap())
        .stderr(err_log.reopen().unwrap())
        .spawn()
        .unwrap();
    assert!(
        wait_for_journal(&t, &mut child, 100),
        "the apply finished before it could be interrupted"
    );
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(err_log.path()).unwrap();
    let stdout = std::fs::read_to_string(out_log.path()).unwrap();
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("Interrupt received"), "{stderr}");
    assert!(stderr.contains("were not started"), "{stderr}");
    assert!(stdout.contains("Apply incomplete"), "{stdout}");
    // A clean stop compacts the journal into the snapshot.
    assert!(!t.join(".standby/state/default.journal").exists());
    let recorded = state_matches_disk(&t);
    assert!(recorded > 0 && recorded < 3000);
    t.run(&["apply", "--auto-approve"]).code(0);
    assert_eq!(state_matches_disk(&t), 3000);
}

#[test]
fn a_second_process_waits_for_or_reports_the_lock_holder() {
    let t = Test::new().file(
        "main.hcl",
        "resource \"standby_data\" \"a\" {\n  input = 1\n}\n",
    );
    let backend = LocalBackend::new(t.path(), "default");
    let guard = backend
        .lock(LockInfo::new("drill"), Duration::ZERO)
        .unwrap();
    let r = t.run(&["apply", "--auto-approve"]);
    r.code(1)
        .stderr_has("The state is locked")
        .stderr_has("for drill since")
        .stderr_has(&guard.info.id)
        .stderr_has("--lock-timeout");
    t.run(&["plan"]).code(1).stderr_has("The state is locked");
    // With a timeout, the second process waits until the holder lets go.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        drop(guard);
    });
    let start = Instant::now();
    t.run(&["apply", "--auto-approve", "--lock-timeout", "20s"])
        .code(0);
    assert!(start.elapsed() >= Duration::from_millis(350));
    releaser.join().unwrap();
}

#[test]
fn force_unlock_clears_only_the_named_stale_lock() {
    let t = Test::new().file("main.hcl", "resource \"standby_data\" \"a\" {}\n");
    let info = LockInfo::new("apply");
    std::fs::create_dir_all(t.join(".standby/state")).unwrap();
    std::fs::write(
        t.join(".standby/state/default.lock"),
        serde_json::to_string(&info).unwrap(),
    )
    .unwrap();
    t.run(&["force-unlock", "not-it"])
        .code(1)
        .stderr_has("No lock with id not-it");
    t.run(&["force-unlock", &info.id])
        .code(0)
        .stdout_has("released");
    let backend = LocalBackend::new(t.path(), "default");
    let live = backend
        .lock(LockInfo::new("apply"), Duration::ZERO)
        .unwrap();
    t.run(&["force-unlock", &live.info.id])
        .code(1)
        .stderr_has("held by a live process");
}

#[test]
fn a_failed_action_skips_its_dependents_and_the_rerun_converges() {
    let t = Test::new()
        .file(
            "main.hcl",
            r#"
resource "local_file" "bad" {
  filename = "blocker/inside.txt"
  content  = "x"
}
resource "local_file" "child" {
  filename = "child.txt"
  content  = local_file.bad.id
}
resource "local_file" "independent" {
  filename = "independent.txt"
  content  = "fine"
}
"#,
        )
        .file("blocker", "a file where a directory should be");
    let r = t.run(&["apply", "--auto-approve"]);
    r.code(1)
        .stderr_has("local_file.bad: cannot write")
        .stderr_has("Skipped local_file.child: it depends on local_file.bad, which failed.")
        .stdout_has("Apply incomplete");
    assert_eq!(t.read("independent.txt"), "fine");
    t.run(&["state", "list"])
        .code(0)
        .stdout_has("local_file.independent")
        .stdout_lacks("local_file.bad");
    std::fs::remove_file(t.join("blocker")).unwrap();
    t.run(&["apply", "--auto-approve"])
        .code(0)
        .stdout_has("2 added");
    t.run(&["plan", "--detailed-exitcode"]).code(0);
}
