//! Issue 13: `moved` blocks, `import` blocks and `standby import`, as Terraform has them.
//! Each is checked on the real files of the quickstart, not only on the state.

use crate::support::Test;

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

/// The review of this change: a moved block that renamed a failover group's members left
/// the group's record pointing at the old addresses, and the end of the apply retired the
/// group as memberless. The record follows its members; the epoch and history stay.
#[test]
fn moving_a_failover_groups_members_keeps_the_group_its_epoch_and_history() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    // env/dev.hcl moves dev to west: a switch, so the group has a history beyond its setup.
    let dev = t
        .read("env/dev.hcl")
        .replace("active_site = \"east\"", "active_site = \"west\"");
    assert!(dev.contains("active_site = \"west\""), "{dev}");
    t.write("env/dev.hcl", &dev);
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let rename = |text: String| {
        text.replace(
            "sqlite_database\" \"east\"",
            "sqlite_database\" \"east_db\"",
        )
        .replace(
            "sqlite_database\" \"west\"",
            "sqlite_database\" \"west_db\"",
        )
        .replace("sqlite_database.east", "sqlite_database.east_db")
        .replace("sqlite_database.west", "sqlite_database.west_db")
    };
    for f in ["main.hcl", "failover.hcl"] {
        let text = rename(t.read(f));
        t.write(f, &text);
    }
    let failover = t.read("failover.hcl");
    t.write(
        "failover.hcl",
        &format!("{failover}\nmoved {{\n  from = sqlite_database.east\n  to   = sqlite_database.east_db\n}}\n\nmoved {{\n  from = sqlite_database.west\n  to   = sqlite_database.west_db\n}}\n"),
    );
    let r = t.run(&["plan", "-e", "dev"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stdout.contains("configure"),
        "the group is set up again:\n{}",
        r.stdout
    );
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let state: serde_json::Value =
        serde_json::from_str(&t.read(".standby/state/dev.json")).unwrap();
    let group = &state["failovers"]["orders"];
    assert_eq!(group["active"], "west", "{state:#}");
    assert_eq!(
        group["members"]["east"], "sqlite_database.east_db",
        "{state:#}"
    );
    assert!(
        group["history"].as_array().is_some_and(|h| !h.is_empty()),
        "{state:#}"
    );
    assert!(state.get("retired_failovers").is_none(), "{state:#}");
    t.run(&["status", "-e", "dev"]).code(0).stdout_has("west");
    t.run(&["plan", "-e", "dev", "--detailed-exitcode"]).code(0);
}

/// The new-user trial: moves that Terraform refuses, and one it allows that was refused.
#[test]
fn moved_blocks_are_checked_against_the_expanded_configuration() {
    let t = Test::new().file(
        "main.hcl",
        "resource \"local_file\" \"x\" {\n  count    = 2\n  filename = \"out/x${count.index}\"\n  content  = \"x\"\n}\n",
    );
    t.run(&["apply", "-auto-approve"]).code(0);
    let with = |extra: &str| {
        t.write(
            "main.hcl",
            &format!("resource \"local_file\" \"x\" {{\n  count    = 2\n  filename = \"out/x${{count.index}}\"\n  content  = \"x\"\n}}\n\n{extra}"),
        );
        t.run(&["plan"])
    };
    // A key that count still yields cannot be the old address of a move.
    let r = with("moved {\n  from = local_file.x[0]\n  to   = local_file.x[1]\n}\n");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("Cannot move local_file.x[0] to local_file.x[1]")
            || r.stderr.contains("Moved object still exists"),
        "{}",
        r.stderr
    );
    // A key count does not yield cannot be the new one: the object would be destroyed.
    let r = with("moved {\n  from = local_file.x[1]\n  to   = local_file.x[7]\n}\n");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("Moved object has no configuration at local_file.x[7]"),
        "{}",
        r.stderr
    );
    // Another type, a data source, a module call still declared, a cycle.
    let r = with("resource \"local_sensitive_file\" \"y\" {\n  filename = \"out/y\"\n  content  = \"y\"\n}\n\nmoved {\n  from = local_file.z\n  to   = local_sensitive_file.y\n}\n");
    assert!(
        r.stderr.contains("different resource types"),
        "{}",
        r.stderr
    );
    let r = with("moved {\n  from = data.local_file.a\n  to   = data.local_file.b\n}\n");
    assert!(
        r.stderr.contains("data sources hold no object to move"),
        "{}",
        r.stderr
    );
    // Removing count: x[0] becomes x, as Terraform allows; x[1] has nowhere to go.
    t.write(
        "main.hcl",
        "resource \"local_file\" \"x\" {\n  filename = \"out/x0\"\n  content  = \"x\"\n}\n\nmoved {\n  from = local_file.x[0]\n  to   = local_file.x\n}\n",
    );
    let r = t.run(&["plan"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("# local_file.x[0] has moved to local_file.x"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("# local_file.x[1] will be destroyed"),
        "{}",
        r.stdout
    );
    let dir_module = Test::new()
        .file("main.hcl", "module \"a\" {\n  source = \"./m\"\n}\n\nmodule \"b\" {\n  source = \"./m\"\n}\n")
        .file("m/main.hcl", "resource \"local_file\" \"f\" {\n  filename = \"${path.module}/f\"\n  content  = \"f\"\n}\n");
    dir_module.run(&["apply", "-auto-approve"]).code(0);
    let main = dir_module.read("main.hcl");
    dir_module.write(
        "main.hcl",
        &format!("{main}\nmoved {{\n  from = module.a\n  to   = module.b\n}}\n"),
    );
    // module.b holds its own objects: a's cannot move there.
    dir_module
        .run(&["plan"])
        .code(1)
        .stderr_has("Cannot move module.a.local_file.f to module.b.local_file.f");
    // module.c is not declared: a's objects would be destroyed there.
    dir_module.write(
        "main.hcl",
        &format!("{main}\nmoved {{\n  from = module.a\n  to   = module.c\n}}\n"),
    );
    dir_module
        .run(&["plan"])
        .code(1)
        .stderr_has("Moved object has no configuration at module.c.local_file.f");
}

/// The new-user trial: an import block aimed at nothing was ignored, and importing a text
/// file as a database planned to replace it, which deleted another resource's file.
#[test]
fn imports_into_nothing_or_of_the_wrong_object_are_refused() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let failover = t.read("failover.hcl");
    t.write(
        "failover.hcl",
        &format!("{failover}\nimport {{\n  to = local_file.nothere\n  id = \"x\"\n}}\n"),
    );
    t.run(&["plan", "-e", "dev"])
        .code(1)
        .stderr_has("Configuration for import target does not exist: local_file.nothere")
        .stderr_has("failover.hcl:");
    t.run(&["state", "rm", "-e", "dev", "sqlite_database.west"])
        .code(0);
    t.write(
        "failover.hcl",
        &format!("{failover}\nimport {{\n  to = sqlite_database.west\n  id = \"./out/dev/east/site.conf\"\n}}\n"),
    );
    t.run(&["apply", "-e", "dev", "--auto-approve"])
        .code(1)
        .stderr_has("not a SQLite database");
    assert!(t.join("out/dev/east/site.conf").is_file());
    // Another database than the configuration's: adopting it would replace it.
    std::fs::copy(t.join("out/dev/west/orders.db"), t.join("other.db")).unwrap();
    t.write(
        "failover.hcl",
        &format!("{failover}\nimport {{\n  to = sqlite_database.west\n  id = \"./other.db\"\n}}\n"),
    );
    t.run(&["apply", "-e", "dev", "--auto-approve"])
        .code(1)
        .stderr_has("would replace the object it imports");
    assert!(t.join("other.db").is_file());
    assert!(!t
        .run(&["state", "list", "-e", "dev"])
        .stdout
        .contains("sqlite_database.west"));
}

/// The review of this change: an imported object had only the configuration's marks, so
/// the digests of a sensitive file's content showed in the plan JSON.
#[test]
fn an_imported_sensitive_file_is_marked_as_the_schema_says() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let state = t.read(".standby/state/dev.json");
    let token: serde_json::Value = serde_json::from_str(&state).unwrap();
    let md5 = token["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "local_sensitive_file")
        .map(|r| r["attributes"]["content_md5"].as_str().unwrap().to_string())
        .unwrap();
    t.run(&["state", "rm", "-e", "dev", "local_sensitive_file.token"])
        .code(0);
    let failover = t.read("main.hcl");
    t.write(
        "main.hcl",
        &format!("{failover}\nimport {{\n  to = local_sensitive_file.token\n  id = \"./out/dev/admin.token\"\n}}\n"),
    );
    let r = t.run(&["plan", "-e", "dev", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("\"importing\""), "{}", r.stdout);
    assert!(!r.stdout.contains(&md5), "the content's digest is shown");
    let r = t.run(&["plan", "-e", "dev"]);
    assert!(!r.stdout.contains(&md5), "{}", r.stdout);
}
