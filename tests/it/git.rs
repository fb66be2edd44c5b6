//! Git-aware plans and pull-request review on a real repository built by the tests: the
//! topology diff and plan between branches, planning a revision without a checkout, the commit
//! recorded on apply, protected environments, the review comment and its splitting.

use crate::support::{git, Test};

fn topology(
    mode: &str,
    approval: &str,
    rpo: &str,
    max_lag: &str,
    rto: &str,
    active: &str,
    payments_west: bool,
) -> String {
    let base = payments_west;
    let west = if payments_west {
        "resource \"sqlite_database\" \"pay_west\" {\n  path   = \"data/${env.name}/pay_west.db\"\n  schema = \"CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)\"\n}\n"
    } else {
        ""
    };
    let pay_members = if payments_west {
        "    east = sqlite_database.pay_east\n    west = sqlite_database.pay_west\n"
    } else {
        "    east = sqlite_database.pay_east\n"
    };
    let mode_expr = if base {
        "var.mode".to_string()
    } else {
        format!("\"{mode}\"")
    };
    let failures = if base { "3" } else { "var.failures" };
    let failures_var = if base {
        ""
    } else {
        "variable \"failures\" {\n  default = 3\n}\n"
    };
    format!(
        r#"variable "mode" {{
  default = "sync"
}}
{failures_var}

environment "prod" {{
  protected = true
  branch    = "main"
}}

resource "sqlite_database" "east" {{
  path = "data/${{env.name}}/east.db"
  schema = "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)"
}}

resource "sqlite_database" "west" {{
  path = "data/${{env.name}}/west.db"
  schema = "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)"
}}

resource "sqlite_database" "pay_east" {{
  path = "data/${{env.name}}/pay_east.db"
  schema = "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)"
}}

{west}
failover "orders" {{
  active = "{active}"
  members = {{
    east = sqlite_database.east
    west = sqlite_database.west
  }}
  replication {{
    mode    = {mode_expr}
    max_lag = "{max_lag}"
  }}
  rpo      = "{rpo}"
  rto      = "{rto}"
  approval = "{approval}"
  health_check {{
    interval = "1s"
    failures = {failures}
  }}
  verify {{
    checksum = ["main.t"]
  }}
}}

failover "payments" {{
  active = "east"
  members = {{
{pay_members}  }}
  health_check {{
    interval = "1s"
    failures = 1
  }}
  verify {{
    checksum = ["main.t"]
  }}
}}
"#
    )
}

/// A repository with the base topology committed on main, applied to dev and prod from main,
/// and a branch `risky` that changes it in every way a reviewer should notice.
fn repo() -> Test {
    let t = Test::new()
        .file(".gitignore", ".standby/\ndata/\n*.md\n")
        .file("env/dev.hcl", "mode = \"async\"\n")
        .file("env/prod.hcl", "mode = \"sync\"\n")
        .file(
            "main.hcl",
            &topology("sync", "manual", "0s", "1MiB", "30s", "east", true),
        );
    git(&t, &["init", "-q", "-b", "main"]);
    git(&t, &["add", "."]);
    git(&t, &["commit", "-q", "-m", "base topology"]);
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    t.run(&["apply", "-e", "prod", "--auto-approve"]).code(0);
    git(&t, &["checkout", "-q", "-b", "risky"]);
    t.write(
        "main.hcl",
        &topology("async", "auto", "5s", "16MiB", "2s", "west", false),
    );
    t.write("env/prod.hcl", "mode = \"sync\"\nfailures = 2\n");
    git(&t, &["commit", "-q", "-am", "risky change"]);
    t
}

#[test]
fn plan_shows_the_topology_diff_and_plans_a_revision_without_checkout() {
    let t = repo();
    let r = t.run(&["plan", "-e", "dev", "--base", "main"]);
    r.code(0)
        .stdout_has("Topology changes from main to the working tree:")
        .stdout_has("~ failover.orders.active: \"east\" -> \"west\" (main.hcl:")
        .stdout_has("~ failover.orders.replication.mode: var.mode -> \"async\"")
        .stdout_has("- resource.sqlite_database.pay_west (main.hcl:")
        .stdout_has("failover.orders will switch from east to west");
    // Plan main while the working tree holds the branch: nothing is checked out.
    let r = t.run(&["plan", "-e", "dev", "--head", "main", "--detailed-exitcode"]);
    r.code(0).stdout_has("No changes.");
    assert!(
        t.read("main.hcl").contains("\"west\""),
        "the working tree was not touched"
    );
    t.run(&["plan", "-e", "dev", "--base", "nosuchrev"])
        .code(1)
        .stderr_has("Cannot read revision nosuchrev");
}

#[test]
fn apply_records_its_commit_and_protected_environments_refuse_dirty_or_unmerged_trees() {
    let t = repo();
    let sha = git(&t, &["rev-parse", "HEAD"]);
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let s: serde_json::Value =
        serde_json::from_str(&t.run(&["state", "pull", "-e", "dev"]).stdout).unwrap();
    let last = s["applies"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["commit"]["sha"], sha.as_str());
    assert_eq!(last["commit"]["clean"], true);
    assert_eq!(last["commit"]["author"], "Ada <ada@example.test>");
    t.run(&["status", "-e", "dev"])
        .code(0)
        .stdout_has(&format!("from commit {}", &sha[..12]))
        .stdout_has("risky change");
    // prod is protected: not from a branch other than main...
    t.run(&["apply", "-e", "prod", "--auto-approve"])
        .code(1)
        .stderr_has("is not on branch main");
    // ...and not from a dirty tree, even on main.
    git(&t, &["checkout", "-q", "main"]);
    t.write(
        "main.hcl",
        &format!(
            "{}\nresource \"standby_data\" \"extra\" {{}}\n",
            t.read("main.hcl")
        ),
    );
    t.run(&[
        "apply",
        "-e",
        "prod",
        "--auto-approve",
        "--var",
        "mode=sync",
    ])
    .code(1)
    .stderr_has("refusing to apply from a dirty tree");
    git(&t, &["checkout", "-q", "--", "main.hcl"]);
    t.run(&["apply", "-e", "prod", "--auto-approve"]).code(0);
}

#[test]
fn review_comment_flags_every_risk() {
    let t = repo();
    let r = t.run(&["review", "--base", "main", "-e", "dev", "-e", "prod"]);
    r.code(0);
    for flag in [
        "switches the active site of protected environment prod: failover.orders east -> west",
        "lowers failover.orders from sync to async replication",
        "raises failover.orders rpo from 0s to 5s",
        "raises failover.orders max_lag from 1048576 to 16777216 bytes",
        "removes west from failover.payments",
        // The built-in rules of `standby check`, once each, under their ids.
        "failover.payments has no standby: east is its only member (group-has-a-standby)",
        "changes failover.orders approval from manual to auto",
        "destroys failover member sqlite_database.pay_west",
        "failover.orders has rto 2s, but detecting a failure takes 1s x 3 + DNS TTL 0s = 3s (rto-covers-detection)",
        "failover.orders differs between dev and prod",
    ] {
        r.stdout_has(flag);
    }
    r.stdout_has("| prod 🔒 |")
        .stdout_has("<details><summary>Plan for prod</summary>");
    insta::assert_snapshot!("review_comment", r.stdout);
    let j: serde_json::Value = serde_json::from_str(
        &t.run(&["review", "--base", "main", "-e", "prod", "--format", "json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(j["environments"][0]["env"], "prod");
    assert!(j["risk_flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "sync_to_async"));
}

#[test]
fn a_long_review_is_split_under_the_comment_limit() {
    let t = Test::new().file(".gitignore", ".standby/\n").file(
        "main.hcl",
        "resource \"standby_data\" \"big\" {\n  count = 1\n  input = \"x\"\n}\n",
    );
    git(&t, &["init", "-q", "-b", "main"]);
    git(&t, &["add", "."]);
    git(&t, &["commit", "-q", "-m", "small"]);
    t.write("main.hcl", "resource \"standby_data\" \"big\" {\n  count = 600\n  input = \"a long enough input value to make the plan text big: ${count.index}\"\n}\n");
    t.run(&[
        "review",
        "--base",
        "main",
        "-e",
        "default",
        "--output",
        "review.md",
    ])
    .code(0)
    .stdout_has("review.1.md")
    .stdout_has("review.2.md");
    let mut all = String::new();
    let mut n = 0;
    while let Ok(part) = std::fs::read_to_string(t.join(&format!("review.{}.md", n + 1))) {
        n += 1;
        assert!(
            part.chars().count() <= 65_536,
            "part {n} is {} characters",
            part.chars().count()
        );
        assert!(part.starts_with(&format!("_standby review, part {n} of")));
        all.push_str(&part);
    }
    assert!(n >= 2);
    assert_eq!(
        all.matches("# standby_data.big[").count(),
        600,
        "every resource appears once across the parts"
    );
}

/// Issue 13, item 1: a branch that moves prod only through `env/prod.hcl` passed review
/// unflagged, and `plan --head` said "No changes.", because the environment files were read
/// from the working tree, not from the revision. A revision now includes its environment files,
/// and the topology diff shows them per environment.
#[test]
fn a_branch_that_switches_prod_only_through_its_environment_file_is_flagged() {
    let t = protected_prod_repo(".standby/\ndata/\n");
    git(&t, &["checkout", "-q", "-b", "move-prod"]);
    t.write("env/prod.hcl", "active_site = \"west\"\n");
    git(&t, &["commit", "-q", "-am", "move prod to west"]);
    git(&t, &["checkout", "-q", "main"]);
    // From main, the branch's plan is the branch's.
    let head = ["--base", "main", "--head", "move-prod", "-e", "prod"];
    t.run(&[&["plan"][..], &head].concat())
        .code(0)
        .stdout_lacks("No changes.")
        .stdout_has("failover.orders")
        .stdout_has("west");
    let r = t.run(&[&["review"][..], &head, &["--format", "json"]].concat());
    r.code(0);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        j["risk_flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "switch_protected"),
        "{:#}",
        j["risk_flags"]
    );
    // An environment without a state here cannot show a switch: the review says so.
    t.write("env/dev.hcl", "active_site = \"east\"\n");
    git(&t, &["add", "env/dev.hcl"]);
    git(&t, &["commit", "-q", "-m", "dev"]);
    let r = t.run(&["review", "--base", "main", "-e", "dev", "--format", "json"]);
    r.code(0);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        j["risk_flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "no_state"),
        "{:#}",
        j["risk_flags"]
    );
    // The topology diff names the environment file's change.
    let md = t.run(&[&["review"][..], &head].concat());
    md.code(0)
        .stdout_has("env.prod")
        .stdout_has("active_site")
        .stdout_has("env/prod.hcl:1");
}

/// Issue 13, item 2: `--var` got past a protected environment: it switched prod against what
/// the commit says, and the history recorded the commit as if it had asked for it. Values
/// from the command line are now refused there, unless an operator override gives a reason,
/// which the history records with the values.
#[test]
fn a_protected_environment_refuses_values_that_are_not_in_the_commit() {
    let t = protected_prod_repo(".standby/\ndata/\nops.vars\n");
    let moved = [
        "apply",
        "-e",
        "prod",
        "--auto-approve",
        "--var",
        "active_site=west",
    ];
    t.run(&moved)
        .code(1)
        .stderr_has("Environment \"prod\" is protected: refusing values that are not in the commit (var.active_site)")
        .stderr_has("--operator-override");
    // A var file outside the repository is the command line too; plan --out then apply.
    let outside = tempfile::tempdir().unwrap();
    let vf = outside.path().join("ops.vars");
    std::fs::write(&vf, "active_site = \"west\"\n").unwrap();
    let saved = outside.path().join("p.plan");
    let saved = saved.to_str().unwrap();
    t.run(&[
        "plan",
        "-e",
        "prod",
        "--var-file",
        vf.to_str().unwrap(),
        "--out",
        saved,
    ])
    .code(0);
    t.run(&["apply", saved])
        .code(1)
        .stderr_has("refusing values that are not in the commit (var.active_site)");
    // A file inside the repository that git ignores is the command line too.
    t.write("ops.vars", "active_site = \"west\"\n");
    t.run(&[
        "apply",
        "-e",
        "prod",
        "--auto-approve",
        "--var-file",
        "ops.vars",
    ])
    .code(1)
    .stderr_has("refusing values that are not in the commit (var.active_site)");
    // So is a var file the commit holds: review reads env/prod.hcl, not what a command line
    // names, so only that file may change prod.
    t.write("west.vars", "active_site = \"west\"\n");
    git(&t, &["add", "west.vars"]);
    git(&t, &["commit", "-q", "-m", "a var file"]);
    t.run(&[
        "apply",
        "-e",
        "prod",
        "--auto-approve",
        "--var-file",
        "west.vars",
    ])
    .code(1)
    .stderr_has("refusing values that are not in the commit (var.active_site)");
    // The environment's own file, named explicitly, is the commit's.
    t.run(&[
        "plan",
        "-e",
        "prod",
        "--var-file",
        "env/prod.hcl",
        "--out",
        saved,
    ])
    .code(0);
    t.run(&["apply", saved]).code(0);
    // So is another environment's file, committed or not.
    t.run(&[
        "apply",
        "-e",
        "prod",
        "--auto-approve",
        "--var-file",
        "env/dev.hcl",
    ])
    .code(1)
    .stderr_has("refusing values that are not in the commit (var.active_site)");
    // A saved plan made from an edited env/prod.hcl is stale once the edit is undone.
    t.write("env/prod.hcl", "active_site = \"west\"\n");
    t.run(&["plan", "-e", "prod", "--out", saved]).code(0);
    git(&t, &["checkout", "-q", "--", "env/prod.hcl"]);
    let r = t.run(&["apply", saved]);
    assert_ne!(
        r.code, 0,
        "a plan from an uncommitted env/prod.hcl applied:\n{}",
        r.stdout
    );
    let status = t.run(&["status", "-e", "prod"]);
    status.code(0).stdout_has("active:   east");
    // With a reason, it applies, and the history says so.
    t.run(&[&moved[..], &["--operator-override", "east is on fire"]].concat())
        .code(0)
        .stderr_has("as an operator override: east is on fire");
    let state: serde_json::Value =
        serde_json::from_str(&t.run(&["state", "pull", "-e", "prod"]).stdout).unwrap();
    let last = state["applies"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["operator_override"], "east is on fire", "{last:#}");
    assert_eq!(
        last["operator_inputs"]["active_site"], "\"west\"",
        "{last:#}"
    );
    t.run(&["status", "-e", "prod"])
        .code(0)
        .stdout_has("with values not in the commit: active_site = \"west\" (operator override: east is on fire)");
    // Values the commit holds are not operator inputs: a plain apply needs no override.
    t.run(&["apply", "-e", "prod", "--auto-approve"]).code(0);
}

/// A change to a sensitive variable in an environment file is a change in the topology diff,
/// shown as (sensitive value) on both sides; the old and new secrets are not.
#[test]
fn a_changed_secret_in_an_environment_file_shows_as_a_change_without_its_value() {
    let t = Test::new()
        .file(".gitignore", ".standby/\n")
        .file("env/prod.hcl", "token = \"old-secret-1\"\n")
        .file(
            "main.hcl",
            "variable \"token\" {\n  type      = string\n  sensitive = true\n}\n\nresource \"standby_data\" \"d\" {\n  input = var.token\n}\n",
        );
    git(&t, &["init", "-q", "-b", "main"]);
    git(&t, &["add", "."]);
    git(&t, &["commit", "-q", "-m", "base"]);
    git(&t, &["checkout", "-q", "-b", "rotate"]);
    t.write("env/prod.hcl", "token = \"new-secret-2\"\n");
    git(&t, &["commit", "-q", "-am", "rotate"]);
    let r = t.run(&["plan", "--base", "main", "--head", "rotate", "-e", "prod"]);
    r.code(0)
        .stdout_has("env.prod.token: (sensitive value) -> (sensitive value)");
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        !all.contains("old-secret-1") && !all.contains("new-secret-2"),
        "{all}"
    );
}

/// Issue 13: GitLab checks out a detached HEAD at origin/main, with no local main; the
/// protected environment's branch rule said "unknown revision main". The remote-tracking
/// branch counts.
#[test]
fn a_protected_environment_applies_from_a_detached_checkout_of_the_remote_branch() {
    let t = Test::new()
        .file(".gitignore", ".standby/\ndata/\n")
        .file(
            "main.hcl",
            "environment \"prod\" {\n  protected = true\n  branch    = \"main\"\n}\n\nresource \"standby_data\" \"d\" {\n  input = \"x\"\n}\n",
        )
        .file("env/prod.hcl", "");
    git(&t, &["init", "-q", "-b", "main"]);
    git(&t, &["add", "."]);
    git(&t, &["commit", "-q", "-m", "base"]);
    git(&t, &["update-ref", "refs/remotes/origin/main", "HEAD"]);
    git(&t, &["checkout", "-q", "--detach"]);
    git(&t, &["branch", "-q", "-D", "main"]);
    t.run(&["apply", "-e", "prod", "--auto-approve"]).code(0);
}

/// A repository on main with a protected prod whose active site comes from `env/prod.hcl`
/// (east; dev's file says west), applied to prod.
fn protected_prod_repo(gitignore: &str) -> Test {
    let t = Test::new()
        .file(".gitignore", gitignore)
        .file("env/prod.hcl", "active_site = \"east\"\n")
        .file("env/dev.hcl", "active_site = \"west\"\n")
        .file(
            "main.hcl",
            "variable \"active_site\" {\n  type = string\n}\n\nenvironment \"prod\" {\n  protected = true\n  branch    = \"main\"\n}\n\nresource \"sqlite_database\" \"east\" {\n  path = \"data/${env.name}/east.db\"\n}\n\nresource \"sqlite_database\" \"west\" {\n  path = \"data/${env.name}/west.db\"\n}\n\nfailover \"orders\" {\n  active  = var.active_site\n  members = { east = sqlite_database.east, west = sqlite_database.west }\n}\n",
        );
    git(&t, &["init", "-q", "-b", "main"]);
    git(&t, &["add", "."]);
    git(&t, &["commit", "-q", "-m", "prod on east"]);
    t.run(&["apply", "-e", "prod", "--auto-approve"]).code(0);
    t
}

/// Issue 13: a revision is the whole topology. The policy files and the var files inside
/// the topology are read from the revision's git objects: review judges the head with the
/// head's `policy/*.hcl`, and `plan --head` reads a `--var-file` as the head has it, even
/// when the working tree holds other versions of both.
#[test]
fn review_and_plan_read_policy_and_var_files_from_the_revision() {
    let t = protected_prod_repo(".standby/\n");
    git(&t, &["checkout", "-q", "-b", "feature/policy"]);
    t.write(
        "policy/sites.hcl",
        "rule \"orders-on-east\" {\n  condition = failovers[\"orders\"].active == \"east\"\n  message   = \"orders must stay on east\"\n}\n",
    );
    t.write("vars/west.hcl", "active_site = \"west\"\n");
    git(&t, &["add", "."]);
    git(&t, &["commit", "-q", "-m", "a policy, and a var file"]);
    git(&t, &["checkout", "-q", "main"]);
    // The working tree (main) has neither file: review and plan must read the branch's.
    assert!(!t.join("policy").exists());
    let r = t.run(&[
        "review",
        "--base",
        "main",
        "--head",
        "feature/policy",
        "-e",
        "dev",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let flags = j["risk_flags"].to_string();
    assert!(
        flags.contains("policy rule orders-on-east fails in dev: orders must stay on east"),
        "{flags}"
    );
    // prod is on east: the rule holds there, and no policy flag names prod.
    let r = t.run(&[
        "review",
        "--base",
        "main",
        "--head",
        "feature/policy",
        "-e",
        "prod",
        "--format",
        "json",
    ]);
    assert!(
        !r.stdout.contains("orders-on-east fails in prod"),
        "{}",
        r.stdout
    );
    // The var file exists only at the head.
    t.run(&[
        "plan",
        "-e",
        "dev",
        "--head",
        "feature/policy",
        "--var-file",
        "vars/west.hcl",
    ])
    .code(0);
    t.run(&["plan", "-e", "dev", "--var-file", "vars/west.hcl"])
        .code(1);
    // A working-tree version of the var file that differs is not what the head plans with.
    std::fs::create_dir_all(t.join("vars")).unwrap();
    t.write("vars/west.hcl", "active_site = \"nowhere\"\n");
    t.run(&[
        "plan",
        "-e",
        "prod",
        "--head",
        "feature/policy",
        "--var-file",
        "vars/west.hcl",
    ])
    .code(0)
    .stdout_has("west")
    .stdout_lacks("nowhere");
}

/// The review of this change: review judged a branch with the branch's own policy files, so
/// a branch that removed a rule also removed its finding. The edit itself is flagged.
#[test]
fn review_flags_a_branch_that_edits_the_policy_rules_that_judge_it() {
    let t = protected_prod_repo(".standby/\n");
    t.write(
        "policy/sites.hcl",
        "rule \"orders-on-east\" {\n  condition = failovers[\"orders\"].active == \"east\"\n  message   = \"orders must stay on east\"\n}\n",
    );
    git(&t, &["add", "."]);
    git(&t, &["commit", "-q", "-m", "the rule"]);
    git(&t, &["checkout", "-q", "-b", "feature/no-rule"]);
    std::fs::remove_file(t.join("policy/sites.hcl")).unwrap();
    git(&t, &["commit", "-q", "-am", "drop the rule"]);
    let r = t.run(&["review", "--base", "main", "-e", "dev", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("edits the policy rules that judge it (policy/sites.hcl removed)"),
        "{}",
        r.stdout
    );
    // A gitignored var file inside the topology is not in the revision: read from the disk.
    t.write(".gitignore", ".standby/\nsecret.hcl\n");
    t.write("secret.hcl", "active_site = \"west\"\n");
    t.run(&[
        "plan",
        "-e",
        "dev",
        "--head",
        "main",
        "--var-file",
        "secret.hcl",
    ])
    .code(0);
}

/// The review of this change: `standby import` wrote into a protected environment's state
/// without its rules. It now needs a clean commit on the branch and the commit's values.
#[test]
fn import_into_a_protected_environment_follows_its_rules() {
    let t = protected_prod_repo(".standby/\ndata/\n");
    t.run(&["state", "rm", "-e", "prod", "sqlite_database.west"])
        .code(0);
    t.run(&[
        "import",
        "-e",
        "prod",
        "sqlite_database.west",
        "data/prod/west.db",
        "--var",
        "active_site=east",
    ])
    .code(1)
    .stderr_has("--operator-override");
    let main = t.read("main.hcl");
    t.write("main.hcl", &format!("{main}\n# edited\n"));
    t.run(&[
        "import",
        "-e",
        "prod",
        "sqlite_database.west",
        "data/prod/west.db",
    ])
    .code(1)
    .stderr_has("refusing to apply from a dirty tree");
    t.write("main.hcl", &main);
    t.run(&[
        "import",
        "-e",
        "prod",
        "sqlite_database.west",
        "data/prod/west.db",
    ])
    .code(0);
}
