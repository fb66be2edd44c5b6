//! The conformance suite every state backend passes. A backend's test module calls [`run`]
//! with a factory that opens two handles on one fresh, empty location.

use super::*;
use crate::addr::{AbsInstance, AbsResource, Mode, ModuleInstance, ResourceAddr};
use std::time::Duration;

fn inst(name: &str) -> AbsInstance {
    AbsInstance {
        resource: AbsResource {
            module: ModuleInstance::root(),
            resource: ResourceAddr {
                mode: Mode::Managed,
                type_name: "standby_data".into(),
                name: name.into(),
            },
        },
        key: None,
    }
}

fn st(v: i64) -> InstanceState {
    InstanceState {
        provider: "standby".into(),
        attributes: serde_json::json!({ "input": v }),
        sensitive_attributes: vec![],
        dependencies: vec![],
        create_before_destroy: false,
        site: None,
        schema_version: None,
        private: vec![],
        tainted: false,
    }
}

pub(crate) fn run(open: &dyn Fn() -> (Box<dyn Backend>, Box<dyn Backend>)) {
    read_of_empty_is_none(open);
    write_then_read(open);
    journal_replays_on_read(open);
    stale_journal_is_ignored(open);
    lock_is_exclusive_and_names_holder(open);
    force_unlock_needs_the_right_id(open);
}

fn read_of_empty_is_none(open: &dyn Fn() -> (Box<dyn Backend>, Box<dyn Backend>)) {
    let (a, _) = open();
    assert!(a.read().unwrap().is_none());
}

fn write_then_read(open: &dyn Fn() -> (Box<dyn Backend>, Box<dyn Backend>)) {
    let (a, b) = open();
    let mut s = State::new();
    s.serial = 1;
    s.resources.insert(inst("a"), st(1));
    a.write(&s).unwrap();
    assert_eq!(b.read().unwrap().unwrap(), s);
    s.serial = 2;
    a.write(&s).unwrap();
    assert_eq!(b.read().unwrap().unwrap().serial, 2);
}

fn journal_replays_on_read(open: &dyn Fn() -> (Box<dyn Backend>, Box<dyn Backend>)) {
    let (a, b) = open();
    let mut s = State::new();
    s.serial = 5;
    s.resources.insert(inst("gone"), st(0));
    a.write(&s).unwrap();
    a.append(&s.lineage, 5, &[JournalEntry::Set(inst("x"), st(1))])
        .unwrap();
    a.append(
        &s.lineage,
        5,
        &[
            JournalEntry::Set(inst("y"), st(2)),
            JournalEntry::Remove(inst("gone")),
            JournalEntry::Move(inst("x"), inst("moved")),
        ],
    )
    .unwrap();
    let got = b.read().unwrap().unwrap();
    assert_eq!(got.resources.len(), 2);
    assert_eq!(got.resources[&inst("y")], st(2));
    // A moved block's move: the instance is at its new address only.
    assert_eq!(got.resources[&inst("moved")], st(1));
    assert!(!got.resources.contains_key(&inst("x")));
    assert_eq!(got.serial, 5);
}

fn stale_journal_is_ignored(open: &dyn Fn() -> (Box<dyn Backend>, Box<dyn Backend>)) {
    let (a, b) = open();
    let mut s = State::new();
    s.serial = 1;
    a.write(&s).unwrap();
    a.append(&s.lineage, 0, &[JournalEntry::Set(inst("old"), st(1))])
        .unwrap();
    a.append(
        "other-lineage",
        1,
        &[JournalEntry::Set(inst("alien"), st(1))],
    )
    .unwrap();
    assert!(b.read().unwrap().unwrap().resources.is_empty());
}

fn lock_is_exclusive_and_names_holder(open: &dyn Fn() -> (Box<dyn Backend>, Box<dyn Backend>)) {
    let (a, b) = open();
    let guard = a.lock(LockInfo::new("apply"), Duration::ZERO).unwrap();
    match b.lock(LockInfo::new("plan"), Duration::from_millis(120)) {
        Err(StateError::Locked(info)) => {
            assert_eq!(info.operation, "apply");
            assert_eq!(info.id, guard.info.id);
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert_eq!(
        b.holder().unwrap().map(|h| h.id),
        Some(guard.info.id.clone())
    );
    drop(guard);
    assert!(b.holder().unwrap().is_none());
    let again = b.lock(LockInfo::new("plan"), Duration::ZERO).unwrap();
    drop(again);
}

fn force_unlock_needs_the_right_id(open: &dyn Fn() -> (Box<dyn Backend>, Box<dyn Backend>)) {
    let (a, b) = open();
    let guard = a.lock(LockInfo::new("apply"), Duration::ZERO).unwrap();
    assert!(matches!(
        b.force_unlock("not-the-id"),
        Err(StateError::NoSuchLock(_))
    ));
    drop(guard);
    assert!(matches!(
        b.force_unlock("not-the-id"),
        Err(StateError::NoSuchLock(_))
    ));
}

#[test]
fn local_backend_conforms() {
    let dirs = std::cell::RefCell::new(Vec::new());
    let open = || {
        let d = tempfile::tempdir().unwrap();
        let a = LocalBackend::new(d.path(), "dev");
        let b = LocalBackend::new(d.path(), "dev");
        dirs.borrow_mut().push(d);
        (
            Box::new(a) as Box<dyn Backend>,
            Box::new(b) as Box<dyn Backend>,
        )
    };
    run(&open);
}

fn test_key() -> Option<std::sync::Arc<super::Cipher>> {
    Some(std::sync::Arc::new(
        super::Cipher::new("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
            .unwrap(),
    ))
}

/// The same suite with the state encrypted at rest; nothing of it is readable on disk.
#[test]
fn encrypted_local_backend_conforms() {
    let dirs = std::cell::RefCell::new(Vec::new());
    let open = || {
        let d = tempfile::tempdir().unwrap();
        let a = LocalBackend::new(d.path(), "dev").encrypted(test_key());
        let b = LocalBackend::new(d.path(), "dev").encrypted(test_key());
        dirs.borrow_mut().push(d);
        (
            Box::new(a) as Box<dyn Backend>,
            Box::new(b) as Box<dyn Backend>,
        )
    };
    run(&open);
    let d = tempfile::tempdir().unwrap();
    let a = LocalBackend::new(d.path(), "dev").encrypted(test_key());
    let mut s = State::new();
    s.serial = 1;
    s.resources.insert(inst("secretive"), st(7));
    a.write(&s).unwrap();
    a.append(
        &s.lineage,
        1,
        &[JournalEntry::Set(inst("journaled"), st(8))],
    )
    .unwrap();
    for f in ["dev.json", "dev.journal"] {
        let raw = std::fs::read_to_string(d.path().join(".standby/state").join(f)).unwrap();
        assert!(
            !raw.contains("secretive") && !raw.contains("journaled") && !raw.contains(&s.lineage),
            "{f}: {raw}"
        );
    }
    let plain = LocalBackend::new(d.path(), "dev");
    assert!(plain
        .read()
        .unwrap_err()
        .to_string()
        .contains("is encrypted"));
    assert_eq!(a.read().unwrap().unwrap().resources.len(), 2);
}

#[test]
fn local_backend_ignores_a_torn_journal_tail_and_keeps_a_backup() {
    use std::io::Write as _;
    let d = tempfile::tempdir().unwrap();
    let be = LocalBackend::new(d.path(), "dev");
    let mut s = State::new();
    be.write(&s).unwrap();
    be.append(&s.lineage, 0, &[JournalEntry::Set(inst("a"), st(1))])
        .unwrap();
    let mut j = std::fs::OpenOptions::new()
        .append(true)
        .open(d.path().join(".standby/state/dev.journal"))
        .unwrap();
    j.write_all(b"{\"lineage\":\"trunc").unwrap();
    assert_eq!(be.read().unwrap().unwrap().resources.len(), 1);
    s.serial = 1;
    be.write(&s).unwrap();
    assert!(be.backup_path().exists());
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(be.path()).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn local_backend_refuses_a_corrupt_snapshot_and_never_overwrites_it() {
    let d = tempfile::tempdir().unwrap();
    let be = LocalBackend::new(d.path(), "dev");
    be.write(&State::new()).unwrap();
    be.write(&State::new()).unwrap();
    std::fs::write(be.path(), b"{\"format_version\": 1, \"lin").unwrap();
    match be.read() {
        Err(StateError::Corrupt { backup, .. }) => assert_eq!(backup, Some(be.backup_path())),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(be.write(&State::new()).is_err());
    assert_eq!(
        std::fs::read(be.path()).unwrap(),
        b"{\"format_version\": 1, \"lin"
    );
}

/// A throwaway PostgreSQL server for the pg backend, stopped on drop.
struct TestServer {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
}

impl TestServer {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is not installed: run scripts/test, which installs it")
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists())
            .expect("initdb");
        let dir = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let data = dir.path().join("data");
        // Below Linux's ephemeral range (32768 and up) and the integration tests' ports.
        let port = 10000 + (std::process::id() % 1000) as u16;
        let as_pg = |prog: &str, args: &[&str]| {
            let st = std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(bin.join(prog))
                .args(args)
                .output()
                .unwrap();
            assert!(
                st.status.success(),
                "{prog}: {}",
                String::from_utf8_lossy(&st.stderr)
            );
        };
        let d = data.display().to_string();
        as_pg("initdb", &["-D", &d, "-U", "postgres", "--auth=trust"]);
        let opts = format!("-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''");
        let log = dir.path().join("log").display().to_string();
        as_pg(
            "pg_ctl",
            &["-D", &d, "-o", &opts, "-l", &log, "-w", "start"],
        );
        TestServer { dir, bin, port }
    }

    fn conn(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let d = self.dir.path().join("data");
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(d)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

#[test]
fn pg_backend_conforms() {
    let server = TestServer::start();
    let n = std::cell::Cell::new(0);
    let open = || {
        n.set(n.get() + 1);
        let schema = format!("conformance_{}", n.get());
        let a = PgBackend::new(&server.conn(), &schema, "dev").unwrap();
        let b = PgBackend::new(&server.conn(), &schema, "dev").unwrap();
        (
            Box::new(a) as Box<dyn Backend>,
            Box::new(b) as Box<dyn Backend>,
        )
    };
    run(&open);
    // And encrypted at rest.
    let open = || {
        n.set(n.get() + 1);
        let schema = format!("conformance_{}", n.get());
        let a = PgBackend::new(&server.conn(), &schema, "dev")
            .unwrap()
            .encrypted(test_key());
        let b = PgBackend::new(&server.conn(), &schema, "dev")
            .unwrap()
            .encrypted(test_key());
        (
            Box::new(a) as Box<dyn Backend>,
            Box::new(b) as Box<dyn Backend>,
        )
    };
    run(&open);
    // Environments are separate within one schema.
    let dev = PgBackend::new(&server.conn(), "envs", "dev").unwrap();
    let prod = PgBackend::new(&server.conn(), "envs", "prod").unwrap();
    dev.write(&State::new()).unwrap();
    assert!(prod.read().unwrap().is_none());
    let _held = dev.lock(LockInfo::new("apply"), Duration::ZERO).unwrap();
    prod.lock(LockInfo::new("apply"), Duration::ZERO).unwrap();
}
