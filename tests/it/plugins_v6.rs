//! A protocol 6 provider that standby did not write: `standby/testing`, built with the
//! tf-provider crate from `tests/provider6` by `./scripts/test` and installed into the test
//! mirror as releases 0.1.0 (schema version 1) and 0.2.0 (schema version 2). It manages files,
//! so every test checks the files themselves, not only what standby recorded.

use crate::support::Test;
use std::path::PathBuf;

fn mirror() -> PathBuf {
    let m = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools/mirror");
    assert!(
        m.join("registry.terraform.io/standby/testing/0.2.0/linux_amd64/terraform-provider-testing_v0.2.0").exists(),
        "{} has no standby/testing: ./scripts/test builds tests/provider6 and installs it",
        m.display()
    );
    m
}

fn topology(version: &str, content: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    testing = {{
      source  = "standby/testing"
      version = "{version}"
    }}
  }}
}}

resource "testing_file" "a" {{
  path    = "${{path.module}}/a.txt"
  content = "{content}"
  secret  = "s3cr3t-value"
  tags    = ["x", "y", "x"]
  owner = {{
    name  = "ops"
    email = "ops@example.com"
  }}
  rules = [{{ port = 80, proto = "tcp" }}, {{ port = 443 }}]
}}

# Its content is a's id, which only the apply knows.
resource "testing_file" "b" {{
  path    = "${{path.module}}/b.txt"
  content = testing_file.a.id
}}

data "testing_file" "r" {{
  path = trimprefix(testing_file.b.id, "file:")
}}

output "r" {{
  value = data.testing_file.r.content
}}
"#
    )
}

fn init(t: &Test, upgrade: bool) {
    let m = mirror();
    let mut args = vec!["init", "-plugin-dir", m.to_str().unwrap()];
    if upgrade {
        args.push("-upgrade");
    }
    t.run(&args).code(0);
}

/// The instance `addr` as the state file records it.
fn recorded(t: &Test, addr: &str) -> serde_json::Value {
    let state: serde_json::Value =
        serde_json::from_str(&t.read(".standby/state/default.json")).unwrap();
    state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == addr)
        .unwrap_or_else(|| panic!("{addr} is not in the state: {state:#}"))
        .clone()
}

#[test]
fn a_protocol_6_provider_plans_unknowns_applies_nested_values_and_keeps_its_private_data() {
    let t = Test::new().file("main.hcl", &topology("0.1.0", "hello"));
    init(&t, false);
    t.run(&["plan"])
        .code(0)
        .stdout_has("+ id          = (known after apply)")
        .stdout_has("+ content     = (known after apply)")
        .stdout_has("+ secret      = (sensitive value)")
        .stdout_has(r#"+ tags        = ["x", "y"]"#)
        .stdout_has("data.testing_file.r will be read during apply")
        .stdout_lacks("s3cr3t-value");
    t.run(&["apply", "-auto-approve"])
        .code(0)
        .stdout_has("Resources: 2 added, 0 changed, 0 destroyed.")
        .stdout_lacks("s3cr3t-value");
    // The files, as the provider wrote them: the sensitive value reached it, and b holds
    // the id a got at apply, which the data source read back.
    assert_eq!(t.read("a.txt"), "hello\nsecret=s3cr3t-value\n");
    assert_eq!(t.read("b.txt"), "file:./a.txt");
    t.run(&["output", "-raw", "r"])
        .code(0)
        .stdout_has("file:./a.txt");
    let a = recorded(&t, "testing_file.a");
    assert_eq!(a["schema_version"], 1, "{a:#}");
    assert_eq!(a["attributes"]["writes"], 1);
    assert_eq!(a["attributes"]["tags"], serde_json::json!(["x", "y"]));
    assert_eq!(a["attributes"]["rules"][1]["port"], 443);
    assert_eq!(a["attributes"]["owner"]["email"], "ops@example.com");
    // msgpack {"writes": 1}, as the provider returned it.
    assert_eq!(a["private"], "gaZ3cml0ZXMB");
    t.run(&["plan", "-detailed-exitcode"])
        .code(0)
        .stdout_has("No changes.");

    // An update: the provider counts writes in its private data, which it gets back only if
    // standby kept it.
    t.write("main.hcl", &topology("0.1.0", "hello again"));
    t.run(&["apply", "-auto-approve"])
        .code(0)
        .stdout_has("~ content = \"hello\" -> \"hello again\"")
        .stdout_has("Resources: 0 added, 1 changed, 0 destroyed.");
    assert_eq!(t.read("a.txt"), "hello again\nsecret=s3cr3t-value\n");
    let a = recorded(&t, "testing_file.a");
    assert_eq!(a["attributes"]["writes"], 2, "{a:#}");
    assert_eq!(a["private"], "gaZ3cml0ZXMC");

    // Without its private data the provider refuses to refresh, and says so at the resource.
    let state = t.read(".standby/state/default.json");
    let dropped = state.replace("\"private\": \"gaZ3cml0ZXMC\"", "\"private\": \"\"");
    assert_ne!(
        state, dropped,
        "the state file spells private data differently"
    );
    t.write(".standby/state/default.json", &dropped);
    t.run(&["plan"])
        .code(1)
        .stderr_has("Refreshing testing_file.a failed")
        .stderr_has("Private data lost");

    t.write(".standby/state/default.json", &state);
    // Terraform's JSON names the provider by its source address and gives the schema version.
    let r = t.run(&["plan", "-json"]);
    r.code(0);
    // The sensitive literal is in the configuration section only as a reference-free
    // expression without its value: the provider's schema says it is secret.
    assert!(!r.stdout.contains("s3cr3t-value"), "{}", r.stdout);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let conf = &json["configuration"]["root_module"]["resources"][0];
    assert_eq!(conf["provider_config_key"], "testing", "{conf:#}");
    assert!(conf["expressions"]["secret"]
        .get("constant_value")
        .is_none());
    assert_eq!(
        conf["expressions"]["content"]["constant_value"],
        "hello again"
    );
    for c in json["resource_changes"].as_array().unwrap() {
        assert_eq!(
            c["provider_name"], "registry.terraform.io/standby/testing",
            "{c:#}"
        );
    }
    let planned = &json["planned_values"]["root_module"]["resources"];
    assert_eq!(planned[0]["address"], "testing_file.a", "{planned:#}");
    assert_eq!(planned[0]["schema_version"], 1);
    t.run(&["show", "-json"])
        .code(0)
        .stdout_has(r#""provider_name": "registry.terraform.io/standby/testing""#)
        .stdout_has(r#""schema_version": 1"#);
    // A destroy neither shows nor counts the data source, whose result is only forgotten.
    t.run(&["plan", "-destroy"])
        .code(0)
        .stdout_has("Plan: 0 to add, 0 to change, 2 to destroy.")
        .stdout_lacks("data.testing_file.r");
    t.run(&["destroy", "-auto-approve"])
        .code(0)
        .stdout_has("Resources: 0 added, 0 changed, 2 destroyed.");
    assert!(!t
        .read(".standby/state/default.json")
        .contains("testing_file"));
    assert!(!t.join("a.txt").exists() && !t.join("b.txt").exists());
}

#[test]
fn drift_deletion_and_import_through_a_protocol_6_provider() {
    let t = Test::new().file("main.hcl", &topology("0.2.0", "hello"));
    init(&t, false);
    t.run(&["apply", "-auto-approve"]).code(0);
    std::fs::write(t.join("a.txt"), "edited by hand").unwrap();
    t.run(&["plan"])
        .code(0)
        .stdout_has("# testing_file.a has changed")
        .stdout_has("~ content = \"hello\" -> \"edited by hand\"")
        .stdout_has("testing_file.a will be updated in place")
        .stdout_has("(update because of drift: \"content\", \"secret\" changed outside standby)");
    std::fs::remove_file(t.join("a.txt")).unwrap();
    t.run(&["plan"])
        .code(0)
        .stdout_has("# testing_file.a has been deleted")
        .stdout_has("testing_file.a will be created");

    // An existing file adopted by `standby import`: ImportResourceState, then a read.
    std::fs::write(t.join("c.txt"), "already there").unwrap();
    t.write(
        "c.hcl",
        "resource \"testing_file\" \"c\" {\n  path    = \"${path.module}/c.txt\"\n  content = \"already there\"\n}\n",
    );
    t.run(&["import", "testing_file.c", "./c.txt"])
        .code(0)
        .stdout_has("Import successful!");
    let c = recorded(&t, "testing_file.c");
    assert_eq!(c["attributes"]["id"], "file:./c.txt", "{c:#}");
    assert_eq!(
        c["private"], "gaZ3cml0ZXMA",
        "the imported private data: writes 0"
    );
    t.run(&["plan", "-target", "testing_file.c", "-detailed-exitcode"])
        .code(0)
        .stdout_has("No changes.");
    // Its private data is the provider's from now on: an update counts from it.
    t.write(
        "c.hcl",
        "resource \"testing_file\" \"c\" {\n  path    = \"${path.module}/c.txt\"\n  content = \"managed now\"\n}\n",
    );
    t.run(&["apply", "-auto-approve", "-target", "testing_file.c"])
        .code(0);
    assert_eq!(t.read("c.txt"), "managed now");
    assert_eq!(recorded(&t, "testing_file.c")["attributes"]["writes"], 1);
}

/// A state written by release 0.1.0 (schema version 1) meets release 0.2.0: standby sends the
/// recorded version to UpgradeResourceState, as Terraform does. tf-provider cannot implement
/// an upgrade (see tests/provider6), so the provider refuses, and standby shows its
/// diagnostic at the resource and changes nothing. The engine's side of a successful upgrade
/// is `engine::a_state_of_an_older_schema_version_is_upgraded_once_by_the_provider`.
#[test]
fn a_state_of_an_older_schema_version_is_sent_to_the_providers_upgrade() {
    let t = Test::new().file("main.hcl", &topology("0.1.0", "hello"));
    init(&t, false);
    t.run(&["apply", "-auto-approve"]).code(0);
    let before = t.read(".standby/state/default.json");
    assert_eq!(recorded(&t, "testing_file.a")["schema_version"], 1);
    t.write("main.hcl", &topology("0.2.0", "hello"));
    init(&t, true);
    t.run(&["plan"])
        .code(1)
        .stderr_has("Upgrading the state of testing_file.a from schema version 1 to 2 failed")
        .stderr_has("Upgrade is not supported")
        .stderr_has("main.hcl:10");
    assert_eq!(t.read(".standby/state/default.json"), before);
    assert_eq!(t.read("a.txt"), "hello\nsecret=s3cr3t-value\n");
}

#[test]
fn a_protocol_6_providers_diagnostics_point_at_the_resource_and_the_attribute() {
    let t = Test::new().file("main.hcl", &topology("0.2.0", "a forbidden word"));
    init(&t, false);
    t.run(&["plan"])
        .code(1)
        .stderr_has("Forbidden content")
        .stderr_has("main.hcl:12:13")
        .stderr_has("The content may not contain the word");
    assert!(!t.join("a.txt").exists());
    // A warning does not stop the plan; it is shown at the attribute's block.
    t.write(
        "main.hcl",
        &topology("0.2.0", "fine").replace("    email = \"ops@example.com\"\n", ""),
    );
    t.run(&["plan"])
        .code(0)
        .stdout_has("Plan: 2 to add")
        .stderr_has("Warning: Owner without email")
        .stderr_has("main.hcl:15:")
        .stderr_has("Nobody can be told when this file changes.");
    t.run(&["validate"])
        .code(0)
        .stderr_has("Warning: Owner without email")
        .stdout_has("Success!");
    let r = t.run(&["validate", "-json"]);
    r.code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["valid"], true, "{v:#}");
    assert_eq!(v["warning_count"], 1, "{v:#}");
    assert_eq!(v["diagnostics"][0]["severity"], "warning");
    assert_eq!(v["diagnostics"][0]["range"]["start"]["line"], 15);
    t.run(&["apply", "-auto-approve"])
        .code(0)
        .stderr_has("Warning: Owner without email");
}

/// A create that fails after its effect: the provider returns the new object with its error.
/// standby records it, tainted, instead of losing track of a file that exists; the next plan
/// replaces it, and the replacement clears the taint.
#[test]
fn an_object_a_failed_create_left_is_recorded_tainted_and_replaced() {
    let t = Test::new().file("main.hcl", &topology("0.2.0", "fail after write"));
    init(&t, false);
    t.run(&["apply", "-auto-approve", "-target", "testing_file.a"])
        .code(1)
        .stderr_has("The file was written but failed its check");
    assert_eq!(t.read("a.txt"), "fail after write\nsecret=s3cr3t-value\n");
    let a = recorded(&t, "testing_file.a");
    assert_eq!(a["tainted"], true, "{a:#}");
    assert_eq!(a["attributes"]["id"], "file:./a.txt");
    t.run(&["state", "show", "testing_file.a"])
        .code(0)
        .stdout_has("# testing_file.a: (tainted)");
    t.write("main.hcl", &topology("0.2.0", "fixed"));
    t.run(&["plan", "-target", "testing_file.a"])
        .code(0)
        .stdout_has("replace because it is tainted")
        .stdout_has("Plan: 1 to add, 0 to change, 1 to destroy.");
    t.run(&["apply", "-auto-approve", "-target", "testing_file.a"])
        .code(0);
    assert_eq!(t.read("a.txt"), "fixed\nsecret=s3cr3t-value\n");
    let a = recorded(&t, "testing_file.a");
    assert!(a.get("tainted").is_none(), "{a:#}");
    assert_eq!(a["attributes"]["writes"], 1);
}

const BLOCKS: &str = r#"terraform {
  required_providers {
    testing = {
      source  = "standby/testing"
      version = "0.2.0"
    }
  }
}

resource "testing_file" "a" {
  path    = "${path.module}/a.txt"
  content = "hello"
  mount {
    target = "/a"
  }
  mount {
    target  = "/b"
    options = "ro"
  }
  label "x" {
    value = "1"
  }
  label "y" {
    value = "2"
  }
}

output "seen" {
  value = testing_file.a.blocks_seen
}

output "second" {
  value = testing_file.a.mount[1].options
}
"#;

/// Nested blocks as the provider's schema nests them: `mount` repeats (list nesting) and
/// arrives in order, `label "KEY"` is labelled (map nesting). The provider says what it
/// received (`blocks_seen`), and expressions index the recorded blocks.
#[test]
fn repeated_and_labelled_nested_blocks_reach_a_protocol_6_provider() {
    let t = Test::new().file("main.hcl", BLOCKS);
    init(&t, false);
    t.run(&["apply", "-auto-approve"])
        .code(0)
        .stdout_has(r#"seen = "mount=/a,/b label=x:1,y:2""#)
        .stdout_has(r#"second = "ro""#);
    t.run(&["plan", "-detailed-exitcode"]).code(0);
    // One mount fewer, one label changed: an update in place.
    let fewer = BLOCKS
        .replace("  mount {\n    target = \"/a\"\n  }\n", "")
        .replace("value = \"2\"", "value = \"3\"")
        .replace("mount[1]", "mount[0]");
    t.write("main.hcl", &fewer);
    t.run(&["apply", "-auto-approve"])
        .code(0)
        .stdout_has("Resources: 0 added, 1 changed, 0 destroyed.")
        .stdout_has(r#"seen = "mount=/b label=x:1,y:3""#);
    // A labelled block needs its label, a repeated one takes none.
    t.write("main.hcl", &BLOCKS.replace("label \"y\" {", "label {"));
    t.run(&["plan"])
        .code(1)
        .stderr_has("Missing labels on a label block")
        .stderr_has("main.hcl:23:3");
    // `backup` takes at most one block, and none is fine although its argument is required.
    let two = "  backup {\n    value = \"a\"\n  }\n  backup {\n    value = \"b\"\n  }\n";
    t.write(
        "main.hcl",
        &BLOCKS.replacen("  mount {", &format!("{two}  mount {{"), 1),
    );
    t.run(&["plan"])
        .code(1)
        .stderr_has("Too many backup blocks")
        .stderr_has("takes 0 to 1 backup block(s); the configuration has 2");
    t.write(
        "main.hcl",
        &BLOCKS.replace("label \"y\" {", "label \"x\" {"),
    );
    t.run(&["plan"])
        .code(1)
        .stderr_has("Duplicate label block \"x\"");
    t.write("main.hcl", &BLOCKS.replacen("mount {", "mount \"m\" {", 1));
    t.run(&["plan"])
        .code(1)
        .stderr_has("Extraneous labels on a mount block");
}

/// A resource removed together with its provider: the provider is needed to destroy it, so
/// the plan refuses, naming the ways out, instead of an apply that reports success and
/// destroys nothing.
#[test]
fn an_orphan_whose_provider_is_gone_is_refused_not_skipped() {
    let t = Test::new().file("main.hcl", &topology("0.2.0", "hello"));
    init(&t, false);
    t.run(&["apply", "-auto-approve"]).code(0);
    t.write("main.hcl", "");
    init(&t, false);
    t.run(&["apply", "-auto-approve"])
        .code(1)
        .stderr_has("Provider configuration not present for testing_file.a")
        .stderr_has("standby state rm testing_file.a");
    assert!(t.join("a.txt").exists());
    assert!(t
        .read(".standby/state/default.json")
        .contains("testing_file.a"));
}

/// With `create_before_destroy`, a replacement whose create fails part way leaves two objects;
/// standby keeps one record per instance, so the old (live, recorded) object keeps it, and
/// the failure names the new file for deletion by hand instead of forgetting the old one.
#[test]
fn a_failed_create_before_destroy_keeps_the_old_object_recorded_and_names_the_new_one() {
    let cbd = |path: &str, content: &str| {
        topology("0.2.0", content)
            .replace(
                "\"${path.module}/a.txt\"",
                &format!("\"${{path.module}}/{path}\""),
            )
            .replace(
                "  rules = [",
                "  lifecycle {\n    create_before_destroy = true\n  }\n  rules = [",
            )
    };
    let t = Test::new().file("main.hcl", &cbd("a.txt", "hello"));
    init(&t, false);
    t.run(&["apply", "-auto-approve", "-target", "testing_file.a"])
        .code(0);
    t.write("main.hcl", &cbd("new.txt", "fail after write"));
    t.run(&["apply", "-auto-approve", "-target", "testing_file.a"])
        .code(1)
        .stderr_has("The provider left a new object")
        .stderr_has("id \"file:./new.txt\"");
    assert!(t.join("a.txt").exists() && t.join("new.txt").exists());
    let a = recorded(&t, "testing_file.a");
    assert_eq!(a["attributes"]["path"], "./a.txt", "{a:#}");
    assert!(a.get("tainted").is_none(), "{a:#}");
}

/// A state written by release 0.2.0 (schema version 2) meets release 0.1.0 after a downgrade:
/// refused before any provider call, as Terraform refuses it.
#[test]
fn a_state_a_newer_provider_wrote_is_refused_after_a_downgrade() {
    let t = Test::new().file("main.hcl", &topology("0.2.0", "hello"));
    init(&t, false);
    t.run(&["apply", "-auto-approve"]).code(0);
    t.write("main.hcl", &topology("0.1.0", "hello"));
    init(&t, true);
    t.run(&["plan"])
        .code(1)
        .stderr_has("Resource instance testing_file.a managed by a newer provider version")
        .stderr_has("schema version 2");
    assert_eq!(recorded(&t, "testing_file.a")["schema_version"], 2);
}

/// External resources in the pull-request review and in `check`, as built-in ones: the
/// topology diff names the attribute, and the plan is the provider's.
#[test]
fn a_protocol_6_resource_is_reviewed_and_checked_like_a_built_in_one() {
    let t = Test::new().file("main.hcl", &topology("0.2.0", "hello"));
    init(&t, false);
    t.run(&["apply", "-auto-approve"]).code(0);
    t.run(&["check"]).code(0).stdout_has("0 error(s)");
    crate::support::git(&t, &["init", "-q"]);
    crate::support::git(&t, &["add", "main.hcl"]);
    crate::support::git(&t, &["commit", "-qm", "base"]);
    t.write("main.hcl", &topology("0.2.0", "hello again"));
    crate::support::git(&t, &["commit", "-qam", "change"]);
    t.run(&["review", "--base", "HEAD~1", "--env", "default"])
        .code(0)
        .stdout_has(
            "~ resource.testing_file.a.content: \"hello\" -> \"hello again\" (main.hcl:12:3)",
        )
        .stdout_has("testing_file.a will be updated in place")
        .stdout_lacks("s3cr3t-value");
}

/// Warnings from the provider's plan (at the attribute) and apply (at the instance) are
/// shown, and do not stop either.
#[test]
fn a_protocol_6_providers_plan_and_apply_warnings_are_shown() {
    let hcl = topology("0.2.0", "slow but fine")
        .replace(r#"tags    = ["x", "y", "x"]"#, r#"tags    = ["x", "old"]"#);
    let t = Test::new().file("main.hcl", &hcl);
    init(&t, false);
    t.run(&["plan"])
        .code(0)
        .stderr_has("Warning: Deprecated tag")
        .stderr_has("main.hcl:14:13")
        .stderr_has("will not be accepted by the next release");
    t.run(&["apply", "-auto-approve"])
        .code(0)
        .stderr_has("Warning: testing_file.a: The write was slow")
        .stdout_has("Resources: 2 added");
    assert!(t.read("a.txt").starts_with("slow but fine"));
}

/// A secret literal of a resource with no instance (`count = 0`) has no planned value to carry
/// a mark: the provider's schema keeps it out of the JSON configuration.
#[test]
fn a_secret_literal_of_a_resource_without_instances_stays_out_of_the_json() {
    let t = Test::new().file("main.hcl", &topology("0.2.0", "hello")).file(
        "z.hcl",
        "resource \"testing_file\" \"z\" {\n  count   = 0\n  path    = \"z\"\n  content = \"z\"\n  secret  = \"zero-secret-value\"\n}\n",
    );
    init(&t, false);
    let r = t.run(&["plan", "-json"]);
    r.code(0);
    assert!(!r.stdout.contains("zero-secret-value"), "{}", r.stdout);
    assert!(r.stdout.contains("\"z\""), "{}", r.stdout);
}

/// A replacement that deleted the old object and then failed to create the new one (its
/// directory does not exist) leaves no object, and no record: the next plan creates it.
#[test]
fn a_replacement_whose_create_fails_after_the_delete_leaves_no_record() {
    let t = Test::new().file("main.hcl", &topology("0.2.0", "hello"));
    init(&t, false);
    t.run(&["apply", "-auto-approve", "-target", "testing_file.a"])
        .code(0);
    let moved = topology("0.2.0", "hello").replace("/a.txt\"", "/missing-dir/a.txt\"");
    t.write("main.hcl", &moved);
    t.run(&["apply", "-auto-approve", "-target", "testing_file.a"])
        .code(1)
        .stderr_has("Cannot write the file");
    assert!(!t.join("a.txt").exists(), "the old file was deleted");
    assert!(!t
        .read(".standby/state/default.json")
        .contains("testing_file.a"));
    std::fs::create_dir(t.join("missing-dir")).unwrap();
    t.run(&["apply", "-auto-approve", "-target", "testing_file.a"])
        .code(0)
        .stdout_has("Resources: 1 added, 0 changed, 0 destroyed.");
    assert!(t.join("missing-dir/a.txt").exists());
}
