//! Issue 13: `moved` blocks, `import` blocks and `standby import`, as Terraform has them.
//! Each is checked on the real files of the quickstart, not only on the state.

mod support;

use support::Test;

fn inode(t: &Test, rel: &str) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(t.join(rel)).unwrap().ino()
}

fn state_list(t: &Test) -> String {
    let r = t.run(&["state", "list", "-e", "dev"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
}

#[test]
fn moved_blocks_rename_a_resource_and_a_module_without_touching_the_objects() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let conn = inode(&t, "out/dev/connection.txt");
    let east = inode(&t, "out/dev/east/site.conf");
    let failover = t
        .read("failover.hcl")
        .replace(
            "resource \"local_file\" \"connection\"",
            "resource \"local_file\" \"conn\"",
        )
        .replace(
            "local_file.connection.file_permission",
            "local_file.conn.file_permission",
        );
    t.write(
        "failover.hcl",
        &format!("{failover}\nmoved {{\n  from = local_file.connection\n  to   = local_file.conn\n}}\n\nmoved {{\n  from = module.site\n  to   = module.sites\n}}\n"),
    );
    let main = t
        .read("main.hcl")
        .replace("module \"site\"", "module \"sites\"")
        .replace("module.site[", "module.sites[");
    t.write("main.hcl", &main);
    let r = t.run(&["plan", "-e", "dev"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for line in [
        "# local_file.connection has moved to local_file.conn",
        "# module.site[\"east\"].local_file.conf has moved to module.sites[\"east\"].local_file.conf",
        "Plan: 0 to add, 0 to change, 0 to destroy.",
    ] {
        assert!(r.stdout.contains(line), "{line}\n{}", r.stdout);
    }
    let j: serde_json::Value =
        serde_json::from_str(&t.run(&["plan", "-e", "dev", "--json"]).stdout).unwrap();
    let moved = j["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "local_file.conn")
        .unwrap();
    assert_eq!(moved["previous_address"], "local_file.connection");
    assert_eq!(moved["change"]["actions"], serde_json::json!(["no-op"]));
    // A plan records nothing.
    assert!(state_list(&t).contains("local_file.connection"));
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let list = state_list(&t);
    assert!(list.contains("local_file.conn\n"), "{list}");
    assert!(
        list.contains("module.sites[\"west\"].local_file.conf"),
        "{list}"
    );
    assert!(
        !list.contains("local_file.connection") && !list.contains("module.site["),
        "{list}"
    );
    // The objects were neither replaced nor rewritten.
    assert_eq!(inode(&t, "out/dev/connection.txt"), conn);
    assert_eq!(inode(&t, "out/dev/east/site.conf"), east);
    // The blocks stay in the topology and do nothing more.
    t.run(&["plan", "-e", "dev", "--detailed-exitcode"]).code(0);
}

#[test]
fn a_moved_block_whose_from_is_still_declared_or_whose_to_is_taken_is_refused() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let failover = t.read("failover.hcl");
    t.write(
        "failover.hcl",
        &format!("{failover}\nmoved {{\n  from = local_file.connection\n  to   = local_file.routing\n}}\n"),
    );
    t.run(&["plan", "-e", "dev"])
        .code(1)
        .stderr_has("Moved object still exists: local_file.connection");
    // Declared no more, but the destination is in the state already.
    let failover = failover
        .replace(
            "resource \"local_file\" \"connection\"",
            "resource \"local_file\" \"conn\"",
        )
        .replace(
            "local_file.connection.file_permission",
            "local_file.conn.file_permission",
        );
    t.write(
        "failover.hcl",
        &format!("{failover}\nmoved {{\n  from = local_file.connection\n  to   = local_file.routing\n}}\n"),
    );
    t.run(&["plan", "-e", "dev"])
        .code(1)
        .stderr_has("Cannot move local_file.connection to local_file.routing");
    // Kinds must match, and the error points at the block.
    t.write(
        "failover.hcl",
        &format!("{failover}\nmoved {{\n  from = local_file.connection\n  to   = module.x\n}}\n"),
    );
    t.run(&["plan", "-e", "dev"])
        .code(1)
        .stderr_has("from and to name different kinds of objects")
        .stderr_has("failover.hcl:");
    assert!(state_list(&t).contains("local_file.connection"));
}

#[test]
fn standby_import_adopts_an_existing_file_and_database_and_the_plan_is_clean() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    t.run(&[
        "state",
        "rm",
        "-e",
        "dev",
        "local_file.connection",
        "sqlite_database.west",
    ])
    .code(0);
    t.run(&[
        "import",
        "-e",
        "dev",
        "local_file.connection",
        "./out/dev/connection.txt",
    ])
    .code(0)
    .stdout_has("Import successful!");
    t.run(&[
        "import",
        "-e",
        "dev",
        "sqlite_database.west",
        "./out/dev/west/orders.db",
    ])
    .code(0);
    t.run(&["plan", "-e", "dev", "--detailed-exitcode"])
        .code(0)
        .stdout_has("No changes.");
    // Importing over a managed instance, or into an undeclared one, is refused.
    t.run(&["import", "-e", "dev", "local_file.connection", "x"])
        .code(1)
        .stderr_has("Resource already managed by standby");
    t.run(&["import", "-e", "dev", "local_file.nope", "x"])
        .code(1)
        .stderr_has("Configuration for import target does not exist");
    t.run(&["state", "rm", "-e", "dev", "local_file.routing"])
        .code(0);
    t.run(&[
        "import",
        "-e",
        "dev",
        "local_file.routing",
        "./out/dev/missing.txt",
    ])
    .code(1)
    .stderr_has("Cannot import");
    assert!(!state_list(&t).contains("local_file.routing"));
}

#[test]
fn an_import_block_is_planned_applied_once_and_then_does_nothing() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    t.run(&["state", "rm", "-e", "dev", "sqlite_database.west"])
        .code(0);
    let before = std::fs::read(t.join("out/dev/west/orders.db")).unwrap();
    let failover = t.read("failover.hcl");
    t.write(
        "failover.hcl",
        &format!("{failover}\nimport {{\n  to = sqlite_database.west\n  id = \"./out/dev/west/orders.db\"\n}}\n"),
    );
    let r = t.run(&["plan", "-e", "dev", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("# sqlite_database.west will be imported"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Plan: 1 to import, 0 to add, 0 to change, 0 to destroy."),
        "{}",
        r.stdout
    );
    let j: serde_json::Value =
        serde_json::from_str(&t.run(&["plan", "-e", "dev", "--json"]).stdout).unwrap();
    let c = j["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "sqlite_database.west")
        .unwrap();
    assert_eq!(c["change"]["importing"]["id"], "./out/dev/west/orders.db");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    assert!(state_list(&t).contains("sqlite_database.west"));
    // The database was adopted, not recreated.
    assert_eq!(
        std::fs::read(t.join("out/dev/west/orders.db")).unwrap(),
        before
    );
    t.run(&["plan", "-e", "dev", "--detailed-exitcode"]).code(0);
    // An import block for a missing object fails the plan and changes nothing.
    t.run(&["state", "rm", "-e", "dev", "sqlite_database.west"])
        .code(0);
    t.write(
        "failover.hcl",
        &format!("{failover}\nimport {{\n  to = sqlite_database.west\n  id = \"./out/dev/west/none.db\"\n}}\n"),
    );
    t.run(&["apply", "-e", "dev", "--auto-approve"])
        .code(1)
        .stderr_has("Cannot import");
    assert!(!state_list(&t).contains("sqlite_database.west"));
}
