//! Issue 12 on real PostgreSQL servers: a superuser password never shows in any process's argv
//! or environment (every local user reads them in `ps` and /proc) and survives quoting, and
//! what a replication client calls itself never decides the synchronous standbys.

use crate::support::pg::{args, cluster, rt};
use std::os::unix::fs::MetadataExt as _;

const PASSWORD: &str = "Zq9 s3cr'et:pw\\x";

async fn connect(host: &str, port: u16) -> Option<tokio_postgres::Client> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(host)
        .port(port)
        .user("postgres")
        .password(PASSWORD)
        .dbname("postgres");
    let (c, conn) = cfg.connect(tokio_postgres::NoTls).await.ok()?;
    tokio::spawn(conn);
    Some(c)
}

#[test]
fn the_superuser_password_is_in_no_argv_or_environment_and_survives_quoting() {
    let (t, base, _servers) = cluster();
    let quoted = PASSWORD.replace('\\', "\\\\");
    let hcl = t
        .read("main.hcl")
        .replace(
            "  run_as   = var.run_as\n",
            &format!("  run_as   = var.run_as\n  superuser_password = \"{quoted}\"\n"),
        )
        .replace(
            "  role_password = \"app-secret\"\n",
            &format!("  role_password = \"app-secret\"\n  password = \"{quoted}\"\n"),
        )
        .replace(
            "  owner = postgres_role.app.name\n",
            &format!("  owner = postgres_role.app.name\n  password = \"{quoted}\"\n"),
        );
    t.write("main.hcl", &hcl);
    // A watcher reads every process's argv and environment while standby works.
    let watcher = crate::support::proc::Watcher::start(&[PASSWORD], None);
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &["--var", "replication_mode=sync"]);
    let r = t.run(&[&["apply", "--auto-approve"][..], &vars].concat());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    rt().block_on(async {
        connect("127.0.0.2", base)
            .await
            .expect("east with the password")
            .batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL)")
            .await
            .unwrap()
    });
    let east_dir = t.join("data/dev/east");
    let inode = std::fs::metadata(&east_dir).unwrap().ino();
    for site in ["west", "east"] {
        let r = t.run(
            &[
                &[
                    "apply",
                    "--auto-approve",
                    "--var",
                    &format!("active_site={site}"),
                ][..],
                &vars,
            ]
            .concat(),
        );
        assert_eq!(r.code, 0, "{site}: {}\n{}", r.stdout, r.stderr);
    }
    let (seen, scans) = watcher.finish();
    assert!(seen.is_empty(), "the password showed in: {seen:#?}");
    assert!(scans > 10, "the watcher scanned only {scans} times");
    // east rejoined west with pg_rewind, which keeps its data directory; the base backup it
    // used to fall back to (the password broke the conninfo) starts from an empty one.
    assert_eq!(
        std::fs::metadata(&east_dir).unwrap().ino(),
        inode,
        "east was rebuilt by a base backup instead of being rewound"
    );
    // Both servers answer with the password; west streams from east again.
    let streaming: i64 = rt().block_on(async {
        let c = connect("127.0.0.2", base)
            .await
            .expect("east with the password");
        c.query_one(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
    });
    assert_eq!(streaming, 1);
    // No password at rest in the standby's settings: primary_conninfo names a password file.
    let auto = t.read("data/dev/west/postgresql.auto.conf");
    assert!(!auto.contains("s3cr"), "{auto}");
    for f in ["data/dev/east.pgpass", "data/dev/west.pgpass"] {
        let mode = std::fs::metadata(t.join(f)).map(|m| m.mode() & 0o777);
        assert!(matches!(mode, Ok(0o600)), "{f}: {mode:?}");
    }
    println!("| password in argv or environment | 0 processes over {scans} scans of /proc |");
}

/// A replication client that calls itself `x"y` connects to the new primary between its
/// promotion and the re-protect. It used to be added, unquoted, to `synchronous_standby_names`,
/// which broke the re-protect; now the list holds declared members only.
#[test]
fn a_rogue_walsender_never_joins_the_synchronous_standbys() {
    let (t, base, _servers) = cluster();
    let wal = t.join("rogue-wal");
    std::fs::create_dir_all(&wal).unwrap();
    let hook = format!(
        "  hook \"after_promote\" {{\n    command = [\"sh\", \"-c\", \"setsid /usr/lib/postgresql/15/bin/pg_receivewal -h 127.0.0.3 -p {} -U postgres -D {} --no-loop -d 'application_name=x\\\"y' > rogue.log 2>&1 & echo $! > rogue.pid; sleep 1\"]\n  }}\n\n  verify {{",
        base + 1,
        wal.display()
    );
    let hcl = t.read("main.hcl").replacen("  verify {", &hook, 1);
    t.write("main.hcl", &hcl);
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &["--var", "replication_mode=sync"]);
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    crate::support::pg::create_orders(base);
    let r = t.run(
        &[
            &["apply", "--auto-approve", "--var", "active_site=west"][..],
            &vars,
        ]
        .concat(),
    );
    let (names, rogue_seen): (String, i64) = rt().block_on(async {
        let c = crate::support::pg::sql("127.0.0.3", base + 1).await;
        let names = c
            .query_one("SHOW synchronous_standby_names", &[])
            .await
            .unwrap()
            .get(0);
        let seen = c
            .query_one(
                "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'x\"y'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        (names, seen)
    });
    let rogue = t.read("rogue.pid");
    let _ = std::process::Command::new("kill")
        .args([rogue.trim()])
        .status();
    assert_eq!(
        r.code,
        0,
        "{}\n{}\n{}",
        r.stdout,
        r.stderr,
        t.read("rogue.log")
    );
    // The rogue really was connected while standby re-protected; the list ignores it.
    assert_eq!(rogue_seen, 1, "{}", t.read("rogue.log"));
    assert_eq!(names, r#"FIRST 1 ("east")"#);
}

/// A directory above the data directory that the server's user cannot pass through (a
/// `local_sensitive_file` beside it made it 0700) failed initdb with only "could not open
/// file … Permission denied"; the error now names the directory and its mode.
#[test]
fn a_data_dir_the_server_user_cannot_reach_is_named() {
    use std::os::unix::fs::PermissionsExt as _;
    let (t, base, _servers) = cluster();
    std::fs::create_dir_all(t.join("data/dev")).unwrap();
    std::fs::set_permissions(t.join("data/dev"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let port = format!("base_port={base}");
    let r = t.run(&[&["apply", "--auto-approve"][..], &args("dev", &port, &[])].concat());
    r.code(1)
        .stderr_has("Error: postgres_server.east: postgres cannot reach ")
        .stderr_has("data/dev (mode 0700, owner uid 0) does not let it through");
    // Once it may pass, the same apply works.
    std::fs::set_permissions(t.join("data/dev"), std::fs::Permissions::from_mode(0o755)).unwrap();
    t.run(&[&["apply", "--auto-approve"][..], &args("dev", &port, &[])].concat())
        .code(0);
}
