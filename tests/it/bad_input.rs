//! Every class of bad input: each error names its file:line:col, quotes the source, says how
//! to fix it, all errors come at once, the exit code is 1, and nothing changes on disk.

use crate::support::Test;

/// Runs `validate` and `plan` on one file and checks each expected fragment appears in stderr.
#[track_caller]
fn check(hcl: &str, expect: &[&str]) {
    let t = Test::new().file("main.hcl", hcl);
    for cmd in [&["validate"][..], &["plan"][..]] {
        let r = t.run(cmd);
        r.code(1);
        for e in expect {
            r.stderr_has(e);
        }
    }
    assert!(
        !t.join(".standby/state/default.json").exists(),
        "bad input must not write state"
    );
}

#[test]
fn syntax_error() {
    check(
        "resource \"standby_data\" \"a\" {\n  input = \n}\n",
        &["Error: Syntax error", "main.hcl:2:"],
    );
}

#[test]
fn unknown_block_type_with_suggestion() {
    check(
        "resourse \"standby_data\" \"a\" {}\n",
        &[
            "Error: Unsupported block type \"resourse\"",
            "Did you mean \"resource\"?",
            "[main.hcl:1:1]",
        ],
    );
}

#[test]
fn unknown_attribute_with_suggestion() {
    check(
        "resource \"local_file\" \"a\" {\n  filename = \"x\"\n  contnet  = \"y\"\n}\n",
        &[
            "Error: Unsupported argument \"contnet\"",
            "Did you mean \"content\"?",
            "[main.hcl:3:3]",
        ],
    );
}

#[test]
fn missing_required_attribute() {
    check(
        "resource \"local_file\" \"a\" {\n  content = \"y\"\n}\n",
        &[
            "Error: Missing required argument \"filename\"",
            "[main.hcl:1:1]",
            "add filename = ... to the block",
        ],
    );
}

#[test]
fn type_mismatch_names_expected_and_found() {
    check(
        "resource \"local_file\" \"a\" {\n  filename = [\"x\"]\n}\n",
        &[
            "Error: Incorrect attribute value type",
            "filename must be string; found list",
            "[main.hcl:2:14]",
        ],
    );
    check(
        "variable \"n\" {\n  type    = number\n  default = \"many\"\n}\n",
        &[
            "Error: Invalid value for variable \"n\"",
            "expected number, found string",
            "[main.hcl:3:13]",
        ],
    );
    check(
        "locals {\n  x = [\"a\"]\n}\nresource \"local_file\" \"a\" {\n  filename = local.x\n}\n",
        &[
            "Error: Incorrect attribute value type",
            "filename must be string; found list",
            "[main.hcl:5:14]",
        ],
    );
}

#[test]
fn undeclared_references() {
    check(
        "resource \"standby_data\" \"a\" {\n  input = [var.nope, local.gone, standby_data.b.id, module.m.x]\n}\n",
        &[
            "Reference to undeclared input variable \"nope\"",
            "Reference to undeclared local value \"gone\"",
            "Reference to undeclared resource standby_data.b",
            "Reference to undeclared module \"m\"",
            "[main.hcl:2:12]",
            "[main.hcl:2:22]",
        ],
    );
    check(
        "locals {\n  a = 1\n}\noutput \"o\" {\n  value = local.b\n}\n",
        &["Did you mean \"a\"?"],
    );
}

#[test]
fn duplicate_resource_names() {
    check(
        "resource \"standby_data\" \"a\" {}\nresource \"standby_data\" \"a\" {}\n",
        &[
            "Error: Duplicate resource \"standby_data.a\"",
            "[main.hcl:2:1]",
        ],
    );
}

#[test]
fn cycles_name_every_member_with_location() {
    check(
        "locals {\n  a = local.b\n  b = local.c\n  c = local.a\n}\n",
        &[
            "Error: Cycle: ",
            "local.a (",
            "local.b (",
            "local.c (",
            "main.hcl:2:3",
            "main.hcl:3:3",
            "main.hcl:4:3",
        ],
    );
}

#[test]
fn invalid_count_and_for_each() {
    check(
        "resource \"standby_data\" \"a\" {\n  count = -1\n}\n",
        &[
            "Error: Invalid count argument",
            "whole number",
            "[main.hcl:2:11]",
        ],
    );
    check(
        "resource \"standby_data\" \"a\" {\n  count = \"x\"\n}\n",
        &["Error: Invalid count argument", "found string"],
    );
    check(
        "resource \"standby_data\" \"a\" {\n  for_each = 3\n}\n",
        &[
            "Error: Invalid for_each argument",
            "found number",
            "[main.hcl:2:14]",
        ],
    );
    check("resource \"standby_data\" \"a\" {}\nresource \"standby_data\" \"b\" {\n  count = length(standby_data.a.id)\n}\n", &["Error: Invalid count argument", "known only after apply"]);
    check(
        "resource \"standby_data\" \"a\" {\n  input = count.index\n}\n",
        &["Reference to count.index outside a count block"],
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let t = Test::new()
        .file(
            "a.hcl",
            "resource \"local_file\" \"x\" {\n  filenam = \"x\"\n}\n",
        )
        .file(
            "b.hcl",
            "output \"o\" {\n  value = var.missing\n}\nthing {}\n",
        );
    let r = t.run(&["validate"]);
    r.code(1)
        .stderr_has("Unsupported argument \"filenam\"")
        .stderr_has("Missing required argument \"filename\"")
        .stderr_has("Unsupported block type \"thing\"");
    let errors = r.stderr.matches("× Error:").count();
    assert!(
        errors >= 3,
        "expected every error at once, got {errors}:\n{}",
        r.stderr
    );
}

#[test]
fn variable_validation_and_missing_values() {
    let t = Test::new().file(
        "main.hcl",
        "variable \"site\" {\n  type = string\n  validation {\n    condition     = contains([\"east\", \"west\"], var.site)\n    error_message = \"site must be east or west.\"\n  }\n}\n",
    );
    t.run(&["plan", "--var", "site=north"])
        .code(1)
        .stderr_has("site must be east or west.")
        .stderr_has("Invalid value for variable \"site\"");
    t.run(&["plan"])
        .code(1)
        .stderr_has("No value for required variable \"site\"");
    t.run(&["plan", "--var", "site=east"]).code(0);
    t.run(&["plan", "--var", "stie=east"])
        .code(1)
        .stderr_has("Did you mean \"site\"?");
}

#[test]
fn prevent_destroy_blocks_the_plan() {
    let t = Test::new().file("main.hcl", "resource \"standby_data\" \"keep\" {\n  triggers_replace = 1\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n");
    t.run(&["apply", "--auto-approve"]).code(0);
    t.write("main.hcl", "resource \"standby_data\" \"keep\" {\n  triggers_replace = 2\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n");
    t.run(&["plan"])
        .code(1)
        .stderr_has("Instance standby_data.keep cannot be destroyed")
        .stderr_has("prevent_destroy");
    t.run(&["destroy", "--auto-approve"])
        .code(1)
        .stderr_has("prevent_destroy");
}

#[test]
fn corrupt_state_is_refused_names_the_backup_and_is_never_overwritten() {
    let t = Test::new().file(
        "main.hcl",
        "resource \"standby_data\" \"a\" {\n  input = 1\n}\n",
    );
    t.run(&["apply", "--auto-approve"]).code(0);
    t.write(
        "main.hcl",
        "resource \"standby_data\" \"a\" {\n  input = 2\n}\n",
    );
    t.run(&["apply", "--auto-approve"]).code(0);
    let state = t.join(".standby/state/default.json");
    let full = std::fs::read_to_string(&state).unwrap();
    let truncated = &full[..full.len() / 2];
    std::fs::write(&state, truncated).unwrap();
    for cmd in [
        &["plan"][..],
        &["apply", "--auto-approve"][..],
        &["state", "list"][..],
    ] {
        t.run(cmd)
            .code(1)
            .stderr_has("is corrupt")
            .stderr_has("default.json.backup");
    }
    assert_eq!(std::fs::read_to_string(&state).unwrap(), truncated);
}

const MEMBERS: &str = "resource \"sqlite_database\" \"east\" {\n  path = \"east.db\"\n}\nresource \"sqlite_database\" \"west\" {\n  path = \"west.db\"\n}\n";

/// Issue 12: a failover setting from a sensitive value was unmarked silently and shown in the
/// plan, the review and the switch history. Only health-check targets and hook commands may
/// carry a secret; every other setting refuses one, naming it.
#[test]
fn a_sensitive_failover_setting_is_refused() {
    let secret = "variable \"s\" {\n  default   = \"east\"\n  sensitive = true\n}\nvariable \"n\" {\n  default   = 3\n  sensitive = true\n}\n";
    for (setting, expect) in [
        ("active  = var.s", "active cannot be sensitive"),
        (
            "active  = \"east\"\n  rto = var.s",
            "rto cannot be sensitive",
        ),
        (
            "active  = \"east\"\n  health_check {\n    failures = var.n\n  }",
            "failures cannot be sensitive",
        ),
        (
            "active  = \"east\"\n  verify {\n    checksum = [var.s]\n  }",
            "checksum cannot be sensitive",
        ),
    ] {
        let t = Test::new().file(
            "main.hcl",
            &format!("{MEMBERS}{secret}failover \"orders\" {{\n  {setting}\n  members = {{ east = sqlite_database.east, west = sqlite_database.west }}\n}}\n"),
        );
        t.run(&["plan"])
            .code(1)
            .stderr_has(expect)
            .stderr_has("Only health_check targets and hook commands");
    }
}

#[test]
fn health_check_kind_and_targets_are_checked() {
    check(
        &format!("{MEMBERS}failover \"orders\" {{\n  active  = \"east\"\n  members = {{ east = sqlite_database.east, west = sqlite_database.west }}\n  health_check {{\n    type = \"ping\"\n    address = {{ east = \"10.0.0.1\", north = \"10.0.0.2:5432\" }}\n  }}\n}}\n"),
        &[
            "Error: Invalid type",
            "Expected one of replication, sql, tcp, http; found \"ping\"",
            "[main.hcl:11:12]",
            "Error: Invalid address for \"east\"",
            "Expected host:port.",
            "Error: Unknown member site \"north\" in health_check.address",
            "The group's members are at: east, west.",
        ],
    );
}

#[test]
fn an_http_health_check_needs_a_url_for_every_member() {
    check(
        &format!("{MEMBERS}failover \"orders\" {{\n  active  = \"east\"\n  members = {{ east = sqlite_database.east, west = sqlite_database.west }}\n  health_check {{\n    type = \"http\"\n    url  = {{ east = \"http://10.0.0.1:8008/health\" }}\n  }}\n}}\n"),
        &[
            "Error: health_check type \"http\" needs a URL for every member",
            "[main.hcl:11:12]",
            "Add url = { west = \"http://...\" } for: west.",
        ],
    );
}

#[test]
fn a_local_file_is_not_a_failover_member() {
    check(
        r#"resource "sqlite_database" "east" { path = "e.db" }
resource "local_file" "west" {
  filename = "w.txt"
  content  = "x"
}
failover "g" {
  active  = "east"
  members = {
    east = sqlite_database.east
    west = local_file.west
  }
}
"#,
        &[
            "Error: local_file.west cannot be a failover member",
            "cannot replicate local_file",
            "[main.hcl:10:12]",
        ],
    );
}

#[test]
fn the_same_database_in_two_failover_groups() {
    check(
        r#"resource "sqlite_database" "east" { path = "e.db" }
resource "sqlite_database" "west" { path = "w.db" }
resource "sqlite_database" "north" { path = "n.db" }
failover "a" {
  active  = "east"
  members = {
    east = sqlite_database.east
    west = sqlite_database.west
  }
}
failover "b" {
  active  = "north"
  members = {
    north = sqlite_database.north
    west  = sqlite_database.west
  }
}
"#,
        &[
            "Error: sqlite_database.west is already a member of failover.b",
            "Give each group its own members",
            "[main.hcl:8:12]",
        ],
    );
}

/// Issue 12: a fuzzer's inputs that panicked the renderers: an error on a line longer than
/// 65,535 characters, and an output name that long.
#[test]
fn very_long_lines_and_names_are_rendered() {
    let long = "a".repeat(70_000);
    check(
        &format!("locals {{\n  x = \"{long}\" + 1\n}}\n"),
        &["needs two numbers"],
    );
    let t = Test::new().file(
        "main.hcl",
        &format!("output \"{}\" {{\n  value = 1\n}}\n", "o".repeat(70_000)),
    );
    let r = t.run(&["plan"]);
    r.code(0);
    assert!(r.stdout.contains(&"o".repeat(70_000)));
}

/// Issue 12: the limit per block let nested modules multiply instances past it (100 module
/// instances of 100 resources each); the whole plan has the same limit, said once.
#[test]
fn nested_modules_cannot_multiply_past_the_instance_limit() {
    let t = Test::new()
        .env("STANDBY_MAX_INSTANCES", "5000")
        .file(
            "main.hcl",
            "module \"many\" {\n  source = \"./modules/many\"\n  count  = 100\n}\n",
        )
        .file(
            "modules/many/main.hcl",
            "resource \"standby_data\" \"d\" {\n  count = 100\n  input = count.index\n}\n",
        );
    let r = t.run(&["plan"]);
    r.code(1)
        .stderr_has("Too many instances")
        .stderr_has("more than the limit of 5000 instances in all")
        .stderr_has("modules/many/main.hcl:2");
    assert_eq!(
        r.stderr.matches("Too many instances").count(),
        1,
        "{}",
        r.stderr
    );
    // Within the limit it plans.
    t.write(
        "main.hcl",
        "module \"many\" {\n  source = \"./modules/many\"\n  count  = 40\n}\n",
    );
    t.run(&["plan"]).code(0).stdout_has("4000 to add");
}

/// Issue 12: a malformed `STANDBY_MAX_INSTANCES` silently left the default in force.
#[test]
fn a_malformed_instance_limit_is_an_error() {
    let t = Test::new().file("main.hcl", "output \"o\" {\n  value = 1\n}\n");
    for bad in ["lots", "0", "-5", "1e6"] {
        t.run_env(&["plan"], "STANDBY_MAX_INSTANCES", bad)
            .code(1)
            .stderr_has("STANDBY_MAX_INSTANCES is")
            .stderr_has("whole number");
    }
    t.run_env(&["plan"], "STANDBY_MAX_INSTANCES", "2_000_000")
        .code(0);
}

/// Issue 12: `count = 1e18` overflowed an allocation; a count above the instance limit is a
/// located error, as are oversized format widths and thousands of chained splats.
#[test]
fn oversized_expansions_are_located_errors() {
    for count in ["1e18", "1e308", "4294967296", "1e9"] {
        check(
            &format!("resource \"local_file\" \"f\" {{\n  count    = {count}\n  filename = \"f${{count.index}}\"\n  content  = \"x\"\n}}\n"),
            &["Invalid count argument", "more than the limit of 1000000 instances", "main.hcl:2"],
        );
    }
    check(
        &format!(
            "locals {{\n  x = [[1]]{}\n}}\noutput \"o\" {{\n  value = local.x\n}}\n",
            "[*]".repeat(3000)
        ),
        &["Too many splats"],
    );
}

/// A health check `interval` or `timeout` of 0 made the monitor spin (and an emergency probe
/// wait 50 ms instead of its default); one beyond a day overflowed. Both are located errors.
#[test]
fn health_check_timings_must_be_positive_and_at_most_a_day() {
    for (setting, name) in [
        ("interval = \"0\"", "interval"),
        ("timeout = \"0ms\"", "timeout"),
        ("interval = \"99999999999999999999999s\"", "interval"),
    ] {
        check(
            &format!("{MEMBERS}failover \"orders\" {{\n  active  = \"east\"\n  members = {{ east = sqlite_database.east, west = sqlite_database.west }}\n  health_check {{\n    {setting}\n  }}\n}}\n"),
            &[&format!("Error: Invalid {name}"), "must be more than 0 and at most 24h", "main.hcl:11"],
        );
    }
}

/// Issue 12: no limit on string and collection sizes. A string doubled by locals, a list of a
/// million copies of a big string, and a template loop each asked for gigabytes; each is now a
/// located error once the value passes 64 MiB.
#[test]
fn values_cannot_grow_past_64_mib() {
    let mut hcl = String::from("locals {\n  a0 = \"");
    hcl.push_str(&"x".repeat(64));
    hcl.push_str("\"\n");
    for i in 1..=30 {
        hcl.push_str(&format!(
            "  a{i} = \"${{local.a{}}}${{local.a{}}}\"\n",
            i - 1,
            i - 1
        ));
    }
    // range() stops at 1024 values, as in Terraform; a million comes from a product.
    hcl.push_str("  big = [for i in local.million : local.a19]\n");
    hcl.push_str(&format!(
        "  rep = \"%{{ for i in local.million }}{}%{{ endfor }}\"\n  million = flatten([for i in range(1000) : range(1000)])\n}}\n",
        "y".repeat(100)
    ));
    hcl.push_str(
        "output \"o\" {\n  value = length(local.a30) + length(local.big) + length(local.rep)\n}\n",
    );
    let t = Test::new().file("main.hcl", &hcl);
    let r = t.run(&["plan"]);
    r.code(1)
        .stderr_has("main.hcl:23:")
        .stderr_has("main.hcl:33:")
        .stderr_has("main.hcl:34:")
        .stderr_has("the most one string, list or object may hold");
    assert_eq!(
        r.stderr.matches("Error: Value too large").count(),
        3,
        "{}",
        r.stderr
    );
}

/// The same limit inside functions and for-expression keys, checked before the value is
/// built: a review found each of these planning with exit 0 or peaking above 1 GB.
#[test]
fn functions_and_keys_cannot_grow_past_64_mib() {
    let t = Test::new().file(
        "main.hcl",
        "locals {\n  m = {for i in local.n300k : format(\"%01000d\", i) => true}\n  f = formatlist(\"%10000d\", local.n100k)\n  j = join(format(\"%10000d\", 1), local.n100k)\n  r = replace(format(\"%10000d\", 1), \"\", format(\"%10000d\", 1))\n  s = split(\"\", join(\"\", [for i in local.million: \"abcdefghijklmnopqrstuvwxyz\"]))\n  n300k = flatten([for i in range(300) : [for j in range(1000) : i * 1000 + j]])\n  n100k = flatten([for i in range(100) : [for j in range(1000) : i * 1000 + j]])\n  million = flatten([for i in range(1000) : range(1000)])\n}\noutput \"o\" {\n  value = [length(local.m), length(local.f), length(local.j), length(local.r), length(local.s)]\n}\n",
    );
    let r = t.run(&["plan"]);
    r.code(1);
    for line in 2..=6 {
        r.stderr_has(&format!("main.hcl:{line}:"));
    }
    assert_eq!(
        r.stderr
            .matches("the most one string, list or object may hold")
            .count(),
        5,
        "{}",
        r.stderr
    );
}

/// Issue 13: a module's validation error was repeated once per `for_each` instance, each
/// pointing at the same line and none naming the instance.
#[test]
fn a_module_validation_error_names_each_instance() {
    let t = Test::new()
        .file(
            "main.hcl",
            "module \"site\" {\n  source   = \"./modules/site\"\n  for_each = toset([\"east\", \"west\"])\n  weight   = -1\n}\n",
        )
        .file(
            "modules/site/main.hcl",
            "variable \"weight\" {\n  type = number\n  validation {\n    condition     = var.weight >= 0\n    error_message = \"weight must not be negative\"\n  }\n}\n",
        );
    let r = t.run(&["plan"]);
    r.code(1)
        .stderr_has("Invalid value for variable \"weight\" of module.site[\"east\"]")
        .stderr_has("Invalid value for variable \"weight\" of module.site[\"west\"]");
}

/// Regression: a huge duration panicked where it became a `Duration` (`monitor --for`, a
/// switch's `rto`); both are refused where they are written.
#[test]
fn a_duration_too_long_to_represent_is_refused_not_a_panic() {
    let t = Test::plan("quickstart");
    t.run(&[
        "monitor",
        "-e",
        "dev",
        "--for",
        "99999999999999999999999999h",
    ])
    .code(1)
    .stderr_has("is longer than a year")
    .stderr_lacks("panicked");
    for ttl in ["0s", "1.5s", "1ms"] {
        t.run(&["monitor", "-e", "dev", "--lease-ttl", ttl])
            .code(1)
            .stderr_has("the lease TTL is whole seconds, at least 1s");
    }
    let topology = t.read("failover.hcl");
    t.write(
        "failover.hcl",
        &topology.replace(
            "rto      = \"30s\"",
            "rto      = \"99999999999999999999999999h\"",
        ),
    );
    t.run(&["plan", "-e", "dev"])
        .code(1)
        .stderr_has("is longer than a year")
        .stderr_has("failover.hcl:36:")
        .stderr_lacks("panicked");
}
