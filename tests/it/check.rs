//! `standby check`: built-in failover rules, rules written in HCL under `policy/`, locations,
//! SARIF output and exit codes.

use crate::support::Test;

const TOPOLOGY: &str = r#"
variable "mode" {
  default = "async"
}

resource "sqlite_database" "east" {
  path = "east.db"
}

resource "sqlite_database" "west" {
  path = "west.db"
}

resource "sqlite_database" "solo" {
  path = "solo.db"
}

failover "orders" {
  active = "east"
  members = {
    east = sqlite_database.east
    west = sqlite_database.west
  }
  replication {
    mode = var.mode
  }
  rto      = "2s"
  approval = "auto"
  health_check {
    interval = "1s"
    failures = 3
  }
}

failover "lonely" {
  active = "east"
  members = {
    east = sqlite_database.solo
  }
  health_check {
    interval = "1s"
    failures = 1
  }
  verify {
    checksum = ["main.t"]
  }
}

resource "local_file" "conn" {
  filename        = "conn.txt"
  content         = failover.orders.active_member.address
  file_permission = "0644"
}
"#;

const POLICY: &str = r#"
rule "connection-files-are-private" {
  severity  = "warning"
  condition = alltrue([for r in resources : r.values.file_permission == "0600" if r.type == "local_file"])
  message   = "connection files must be readable by their owner only"
}

rule "no-destroys" {
  condition = summary.destroy == 0
  message   = "this plan destroys ${summary.destroy} resource(s)"
}

rule "groups-name-their-sites" {
  condition = alltrue([for name, g in failovers : length(g.sites) > 0])
  message   = "every group has members"
}
"#;

#[test]
fn built_in_and_user_rules_report_with_locations() {
    let t = Test::new()
        .file("main.hcl", TOPOLOGY)
        .file("env/prod.hcl", "")
        .file("policy/team.hcl", POLICY);
    let r = t.run(&["check", "-e", "prod"]);
    r.code(1)
        .stdout_has("error[prod-requires-sync-and-manual-approval]: failover.orders uses async replication and auto approval in prod")
        .stdout_has("error[group-has-health-check-and-verify]: failover.orders has no verify block")
        .stdout_has("error[rto-covers-detection]: failover.orders has rto 2s, but detecting a failure takes 1s x 3")
        .stdout_has("error[group-has-a-standby]: failover.lonely has no standby: east is its only member")
        .stdout_has("warning[connection-files-are-private]: connection files must be readable by their owner only")
        .stdout_has("--> main.hcl:18:1")
        .stdout_has("--> policy/team.hcl:4:15")
        .stdout_lacks("no-destroys")
        .stdout_lacks("groups-name-their-sites");
    // Outside prod the prod rule does not apply.
    t.run(&["check"]).code(1).stdout_lacks("prod-requires");
}

#[test]
fn sarif_output_has_the_required_fields() {
    let t = Test::new()
        .file("main.hcl", TOPOLOGY)
        .file("policy/team.hcl", POLICY);
    let r = t.run(&["check", "--format", "sarif"]);
    r.code(1);
    let s: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let run = &s["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "standby");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"rto-covers-detection") && rules.contains(&"connection-files-are-private")
    );
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for res in results {
        assert!(res["ruleId"].is_string() && res["message"]["text"].is_string());
        assert!(res["level"] == "error" || res["level"] == "warning");
        let loc = &res["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"].is_string());
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn a_clean_topology_passes_and_bad_rules_are_reported() {
    let t = Test::plan("quickstart");
    t.run(&["check", "-e", "prod"])
        .code(0)
        .stdout_has("0 finding(s)");
    t.write(
        "policy/bad.hcl",
        "rule \"broken\" {\n  condition = nosuch.thing\n  message   = \"x\"\n}\n",
    );
    t.run(&["check", "-e", "prod"])
        .code(1)
        .stderr_has("policy/bad.hcl:2:15");
    t.write("policy/bad.hcl", "rule \"warn-only\" {\n  severity  = \"warning\"\n  condition = false\n  message   = \"just so you know\"\n}\n");
    t.run(&["check", "-e", "prod", "--format", "json"])
        .code(0)
        .stdout_has("\"severity\": \"warning\"");
}

/// Regression: a group without a `health_check` block passed the rule that asks for one,
/// because the evaluated settings always held the default kind.
#[test]
fn a_group_without_a_health_check_block_is_reported() {
    let t = Test::new().file(
        "main.hcl",
        "resource \"sqlite_database\" \"east\" {\n  path = \"east.db\"\n}\nresource \"sqlite_database\" \"west\" {\n  path = \"west.db\"\n}\nfailover \"orders\" {\n  active  = \"east\"\n  members = { east = sqlite_database.east, west = sqlite_database.west }\n  verify {\n    checksum = [\"t\"]\n  }\n}\n",
    );
    t.run(&["check"]).code(1).stdout_has(
        "error[group-has-health-check-and-verify]: failover.orders has no health_check block",
    );
}

/// A rule whose message does not evaluate (a name rules cannot see) reported "rule r failed",
/// which reads like a withheld secret; it is a located error of the rule.
#[test]
fn a_rule_message_that_does_not_evaluate_is_a_located_error() {
    let t = Test::plan("quickstart").file(
        "policy/bad.hcl",
        "rule \"r\" {\n  condition = false\n  message   = \"x ${local.out_dir}\"\n}\n",
    );
    t.run(&["check", "-e", "dev"])
        .code(1)
        .stderr_has("policy/bad.hcl:3")
        .stdout_lacks("rule r failed");
}

/// Issue 13, item 5: SARIF locations were relative to the `-C` directory, so code scanning
/// pointed at the wrong file when the topology is in a subdirectory of the repository, and
/// `informationUri` was a placeholder.
#[test]
fn sarif_locations_are_relative_to_the_repository_root() {
    let t = Test::new()
        .file("topology/main.hcl", TOPOLOGY)
        .file("topology/policy/team.hcl", POLICY);
    crate::support::git(&t, &["init", "-q", "-b", "main"]);
    let r = t.run(&["-C", "topology", "check", "--format", "sarif"]);
    r.code(1);
    let s: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let run = &s["runs"][0];
    assert!(run["tool"]["driver"].get("informationUri").is_none());
    for res in run["results"].as_array().unwrap() {
        let loc = &res["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(loc["uriBaseId"], "%SRCROOT%", "{loc}");
        let uri = loc["uri"].as_str().unwrap();
        assert!(uri.starts_with("topology/"), "{uri}");
        assert!(
            t.join(uri).is_file(),
            "{uri} is not a file of the repository"
        );
    }
}

/// Issue 13, item 5: the rules had no page to link to. The topology's own rules link to
/// their definition at the checked commit in the repository's web view (from the `origin`
/// remote); built-in rules carry their help text.
#[test]
fn sarif_rules_link_to_their_definition_in_the_repository() {
    let t = Test::new()
        .file("topology/main.hcl", TOPOLOGY)
        .file("topology/policy/team.hcl", POLICY);
    crate::support::git(&t, &["init", "-q", "-b", "main"]);
    crate::support::git(&t, &["add", "."]);
    crate::support::git(&t, &["commit", "-q", "-m", "topology"]);
    crate::support::git(
        &t,
        &[
            "remote",
            "add",
            "origin",
            "git@github.com:acme/topology.git",
        ],
    );
    let sha = crate::support::git(&t, &["rev-parse", "HEAD"]);
    let r = t.run(&["-C", "topology", "check", "--format", "sarif"]);
    let s: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rules = s["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .clone();
    let user: Vec<&serde_json::Value> = rules
        .iter()
        .filter(|r| r.get("helpUri").is_some())
        .collect();
    assert!(!user.is_empty(), "{rules:#?}");
    for r in user {
        let uri = r["helpUri"].as_str().unwrap();
        let want =
            format!("https://github.com/acme/topology/blob/{sha}/topology/policy/team.hcl#L");
        assert!(uri.starts_with(&want), "{uri}");
    }
    assert!(rules.iter().any(|r| r["help"]["text"]
        .as_str()
        .is_some_and(|t| t.contains("docs/policy.md"))));
    assert!(s["runs"][0]["tool"]["driver"]
        .get("informationUri")
        .is_none());
    // Where the team serves standby's docs, the built-in rules link there.
    let r = t.run_env(
        &["-C", "topology", "check", "--format", "sarif"],
        "STANDBY_DOCS_URL",
        "https://docs.example.com/standby/",
    );
    let s: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let driver = &s["runs"][0]["tool"]["driver"];
    assert_eq!(driver["informationUri"], "https://docs.example.com/standby");
    assert!(driver["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["helpUri"] == "https://docs.example.com/standby/policy.md#built-in-rules"));
    t.run_env(
        &["-C", "topology", "check", "--format", "sarif"],
        "STANDBY_DOCS_URL",
        "docs/",
    )
    .code(1)
    .stderr_has("Invalid STANDBY_DOCS_URL");
    // An uncommitted edit moves the lines: no link, rather than one to the wrong line.
    let policy = t.read("topology/policy/team.hcl");
    t.write("topology/policy/team.hcl", &format!("\n\n{policy}"));
    let r = t.run(&["-C", "topology", "check", "--format", "sarif"]);
    assert!(!r.stdout.contains("blob/"), "{}", r.stdout);
    t.write("topology/policy/team.hcl", &policy);
    // Without a remote there is nothing to link to, and no link is made up.
    crate::support::git(&t, &["remote", "remove", "origin"]);
    let r = t.run(&["-C", "topology", "check", "--format", "sarif"]);
    assert!(!r.stdout.contains("helpUri"), "{}", r.stdout);
}
