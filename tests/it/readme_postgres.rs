//! plans/postgres-failover/README.md's walk-through is a test: its `console` blocks run as they
//! are written (with trycmd) against real PostgreSQL servers, from a clean copy of the plan in
//! a temporary directory. Only what the README itself says to change is changed: `base_port`
//! in env/dev.hcl, and the PGHOST/PGPORT/PGUSER/PGDATABASE variables psql reads, so that the
//! servers get ports of their own.

use std::path::Path;
use std::sync::atomic::Ordering;

#[test]
fn readme_postgres_failover_walkthrough() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    // The servers' OS user must reach the data directory.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let case = tmp.path().join("README.md");
    let work = tmp.path().join("README.in");
    std::fs::copy(root.join("plans/postgres-failover/README.md"), &case).unwrap();
    crate::support::copy_dir(&root.join("plans/postgres-failover"), &work);
    let _servers = crate::support::pg::StopServers(work.clone());

    // Below Linux's ephemeral range, apart from the other PostgreSQL tests' ports.
    let base = 20000
        + (std::process::id() % 200) as u16 * 40
        + crate::support::pg::NEXT.fetch_add(12, Ordering::SeqCst);
    let env_file = work.join("env/dev.hcl");
    let documented = std::fs::read_to_string(&env_file).unwrap();
    assert!(
        documented.contains("base_port   = 25432"),
        "the README documents base_port = 25432 in env/dev.hcl:\n{documented}"
    );
    std::fs::write(
        &env_file,
        documented.replace("base_port   = 25432", &format!("base_port   = {base}")),
    )
    .unwrap();

    let tool = |name: &str| {
        ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{name} is not installed"))
    };
    trycmd::TestCases::new()
        .register_bin("standby", trycmd::cargo::cargo_bin!("standby"))
        .register_bin("psql", tool("psql"))
        .register_bin("ls", tool("ls"))
        .register_bin("runuser", tool("runuser"))
        .env("NO_COLOR", "1")
        .env("PGHOST", "127.0.0.2")
        .env("PGPORT", base.to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", "postgres")
        .timeout(std::time::Duration::from_secs(120))
        .case(case)
        .run();
}
