//! The binary driven the way a user drives it, on fixture topologies.

use crate::support::Test;

#[test]
fn quickstart_plan_matches_the_golden_output() {
    let t = Test::plan("quickstart");
    let r = t.run(&["plan", "-e", "dev"]);
    r.code(0);
    insta::assert_snapshot!("quickstart_plan", r.stdout);
}

#[test]
fn quickstart_applies_converges_and_destroys() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"])
        .code(0)
        .stdout_has("Apply complete! Resources: 8 added, 0 changed, 0 destroyed.")
        .stdout_has("active_endpoint = \"east.us-east.internal:5432\"");
    assert!(t
        .read("out/dev/routing.json")
        .contains("\"active\":\"east\""));
    assert!(t
        .read("out/dev/east/site.conf")
        .contains("region = us-east"));
    t.run(&["plan", "-e", "dev", "--detailed-exitcode"])
        .code(0)
        .stdout_has("No changes.");
    // Switch the active site by variable: only what depends on it changes.
    let r = t.run(&[
        "plan",
        "-e",
        "dev",
        "--var",
        "active_site=west",
        "--detailed-exitcode",
    ]);
    r.code(2)
        .stdout_has("# standby_data.epoch must be replaced")
        .stdout_has("(replace because \"triggers_replace\" cannot be updated in place)")
        .stdout_has(
            "Plan: 1 to add, 2 to change, 1 to destroy. Switch: failover.orders east -> west.",
        );
    t.run(&["output", "-e", "dev", "active_endpoint"])
        .code(0)
        .stdout_has("east.us-east.internal:5432");
    t.run(&["state", "list", "-e", "dev"])
        .code(0)
        .stdout_has("module.site[\"west\"].local_file.conf");
    t.run(&["destroy", "-e", "dev", "--auto-approve"])
        .code(0)
        .stdout_has("Destroy complete! Resources: 0 added, 0 changed, 8 destroyed.");
    assert!(!t.join("out/dev/routing.json").exists());
    t.run(&["state", "list", "-e", "dev"]).code(0);
}

#[test]
fn drift_is_detected_and_repaired() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    t.write("out/dev/east/site.conf", "edited by hand\n");
    std::fs::remove_file(t.join("out/dev/west/site.conf")).unwrap();
    let r = t.run(&["plan", "-e", "dev", "--refresh-only"]);
    r.code(0)
        .stdout_has("Note: Objects have changed outside of standby")
        .stdout_has("module.site[\"east\"].local_file.conf has changed")
        .stdout_has("module.site[\"west\"].local_file.conf has been deleted");
    let r = t.run(&["plan", "-e", "dev"]);
    r.code(0)
        .stdout_has("(update because of drift: \"content\" changed outside standby)")
        .stdout_has("(create because it was deleted outside standby)")
        .stdout_has("          - edited by hand");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    assert!(t
        .read("out/dev/east/site.conf")
        .contains("region = us-east"));
    t.run(&["plan", "-e", "dev", "--detailed-exitcode"]).code(0);
}

#[test]
fn json_plan_follows_terraform_shape_and_hides_sensitive_values() {
    let t = Test::plan("quickstart");
    let r = t.run(&["plan", "-e", "prod", "--json"]);
    r.code(0);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["format_version"], "1.0");
    assert_eq!(j["environment"], "prod");
    let changes = j["resource_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 8);
    let token = changes
        .iter()
        .find(|c| c["address"] == "local_sensitive_file.token")
        .unwrap();
    assert_eq!(token["change"]["actions"], serde_json::json!(["create"]));
    assert_eq!(token["change"]["after"]["content"], "(sensitive value)");
    assert_eq!(token["change"]["after_sensitive"]["content"], true);
    // Issue 12: a digest of a secret confirms a guess at it; none is shown.
    for digest in [
        "id",
        "content_md5",
        "content_sha1",
        "content_sha256",
        "content_base64sha256",
    ] {
        assert_eq!(
            token["change"]["after"][digest], "(sensitive value)",
            "{digest}"
        );
        assert_eq!(token["change"]["after_sensitive"][digest], true, "{digest}");
    }
    assert_eq!(token["action_reason"], "create_because_new");
    let routing = changes
        .iter()
        .find(|c| c["address"] == "local_file.routing")
        .unwrap();
    assert_eq!(routing["change"]["after_unknown"]["content"], true);
    assert_eq!(
        routing["change"]["after"]["content"],
        serde_json::Value::Null
    );
    assert_eq!(routing["type"], "local_file");
    assert_eq!(routing["name"], "routing");
    assert_eq!(routing["mode"], "managed");
    let conf = changes
        .iter()
        .find(|c| c["address"] == "module.site[\"east\"].local_file.conf")
        .unwrap();
    assert_eq!(conf["module_address"], "module.site[\"east\"]");
    assert_eq!(conf["index"], serde_json::Value::Null);
    assert!(
        !r.stdout.contains("prod-token-from-vault"),
        "a sensitive value leaked into the JSON plan"
    );
    assert_eq!(j["variables"]["admin_token"]["value"], "(sensitive value)");
    let nodes = j["execution_graph"]["nodes"].as_array().unwrap();
    let routing_node = nodes
        .iter()
        .find(|n| n["address"] == "local_file.routing")
        .unwrap();
    assert!(!routing_node["depends_on"].as_array().unwrap().is_empty());
    assert_eq!(j["summary"]["add"], 8);
    insta::assert_json_snapshot!("quickstart_plan_json_summary", j["summary"]);
}

#[test]
fn sensitive_values_never_print() {
    let t = Test::plan("quickstart");
    let r = t.run(&["apply", "-e", "prod", "--auto-approve"]);
    r.code(0);
    assert!(!r.stdout.contains("prod-token-from-vault"));
    let r = t.run(&["show", "-e", "prod"]);
    r.code(0).stdout_has("(sensitive value)");
    assert!(!r.stdout.contains("prod-token-from-vault"));
    let r = t.run(&["show", "-e", "prod", "--json"]);
    assert!(!r.stdout.contains("prod-token-from-vault"));
    assert_eq!(t.read("out/prod/admin.token"), "prod-token-from-vault");
}

#[test]
fn a_saved_plan_applies_exactly_and_a_stale_one_is_refused() {
    let t = Test::plan("quickstart");
    t.run(&["plan", "-e", "dev", "--out", "dev.plan"])
        .code(0)
        .stdout_has("standby apply dev.plan");
    t.run(&["apply", "dev.plan"]).code(0).stdout_has("8 added");
    // Applying it again: the state moved on.
    t.run(&["apply", "dev.plan"])
        .code(1)
        .stderr_has("Saved plan is stale")
        .stderr_has("The state changed since the plan was made (serial 0 then, 1 now).");
    // A plan whose topology changed after it was saved.
    t.run(&[
        "plan",
        "-e",
        "dev",
        "--var",
        "active_site=west",
        "--out",
        "west.plan",
    ])
    .code(0);
    let main = t.read("main.hcl");
    t.write("main.hcl", &format!("{main}\n# reviewed\n"));
    t.run(&["apply", "west.plan"])
        .code(1)
        .stderr_has("The topology files changed since the plan was made.");
    t.write("main.hcl", &main);
    t.run(&["apply", "west.plan"])
        .code(0)
        .stdout_has("1 added, 2 changed, 1 destroyed");
    assert!(t
        .read("out/dev/routing.json")
        .contains("\"active\":\"west\""));
    t.run(&["show", "west.plan"])
        .code(0)
        .stdout_has("standby_data.epoch must be replaced");
    t.run(&["apply", "-e", "prod", "west.plan"])
        .code(1)
        .stderr_has("Environment mismatch");
}

#[test]
fn apply_without_a_terminal_refuses_and_changes_nothing() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev"])
        .code(1)
        .stderr_has("Refusing to apply without confirmation")
        .stderr_has("--auto-approve");
    assert!(!t.join("out").exists());
    assert!(!t.join(".standby/state/dev.json").exists());
}

#[test]
fn environments_have_their_own_state_and_unknown_ones_list_the_known() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    t.run(&["plan", "-e", "prod", "--detailed-exitcode"])
        .code(2)
        .stdout_has("Plan: 8 to add");
    t.run(&["plan", "-e", "qa"])
        .code(1)
        .stderr_has("No environment \"qa\"")
        .stderr_has("Environments that exist: dev, prod, staging.");
    assert!(t.join(".standby/state/dev.json").exists());
    assert!(!t.join(".standby/state/prod.json").exists());
}

#[test]
fn targets_and_replace_limit_and_force_changes() {
    let t = Test::plan("quickstart");
    let r = t.run(&["plan", "-e", "dev", "--target", "local_file.routing"]);
    // Routing follows the failover group, so its members come along.
    r.code(0)
        .stdout_has("Plan: 4 to add")
        .stdout_has("standby_data.epoch will be created")
        .stdout_has("sqlite_database.west will be created")
        .stdout_lacks("local_sensitive_file.token will be created");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    t.run(&[
        "plan",
        "-e",
        "dev",
        "--replace",
        "module.site[\"west\"].local_file.conf",
    ])
    .code(0)
    .stdout_has("(replace because of --replace)")
    .stdout_has("Plan: 1 to add, 0 to change, 1 to destroy.");
    t.run(&["plan", "-e", "dev", "--target", "nonsense["])
        .code(1)
        .stderr_has("Invalid address");
}

#[test]
fn state_commands_list_show_move_remove_and_pull() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    t.run(&["state", "show", "-e", "dev", "local_file.routing"])
        .code(0)
        .stdout_has("resource \"local_file\" \"routing\"")
        .stdout_has("file_permission");
    t.run(&["state", "list", "-e", "dev", "module.site"])
        .code(0)
        .stdout_has("module.site[\"east\"]")
        .stdout_lacks("standby_data");
    t.run(&[
        "state",
        "mv",
        "-e",
        "dev",
        "standby_data.epoch",
        "standby_data.renamed",
    ])
    .code(0);
    t.run(&["state", "rm", "-e", "dev", "standby_data.renamed"])
        .code(0)
        .stdout_has("Removed 1 instance(s)");
    t.run(&["state", "rm", "-e", "dev", "standby_data.renamed"])
        .code(1)
        .stderr_has("No instance standby_data.renamed in the state");
    let r = t.run(&["state", "pull", "-e", "dev"]);
    r.code(0);
    let s: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(s["format_version"], 1);
    assert_eq!(s["serial"], 3);
    assert_eq!(s["resources"].as_array().unwrap().len(), 7);
    assert!(s["resources"][0]["dependencies"].is_array());
    assert!(t.join(".standby/state/dev.json.backup").exists());
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(t.join(".standby/state/dev.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn graph_prints_dot_and_mermaid() {
    let t = Test::plan("quickstart");
    t.run(&["graph"])
        .code(0)
        .stdout_has("digraph standby")
        .stdout_has("label = \"local_file.routing\"");
    // Mermaid's edges run as DOT's do (dependent to dependency), issue 13.
    let dot = t.run(&["graph"]).stdout;
    let mermaid = t.run(&["graph", "--format", "mermaid"]);
    mermaid.code(0).stdout_has("flowchart RL");
    let edges = |text: &str, arrow: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| {
                l.split_once(arrow)
                    .map(|(a, b)| format!("{}>{}", a.trim(), b.trim()))
            })
            .collect()
    };
    assert_eq!(edges(&dot, " -> "), edges(&mermaid.stdout, " --> "));
    t.run(&["graph", "--plan", "-e", "dev"])
        .code(0)
        .stdout_has("local_file.routing [create]");
}

#[test]
fn fmt_rewrites_and_check_reports() {
    let t = Test::new().file(
        "main.hcl",
        "resource \"standby_data\" \"a\" {\ninput=1\n    triggers_replace   = 2\n}\n",
    );
    t.run(&["fmt", "--check"]).code(3).stdout_has("main.hcl");
    t.run(&["fmt"]).code(0);
    assert_eq!(
        t.read("main.hcl"),
        "resource \"standby_data\" \"a\" {\n  input            = 1\n  triggers_replace = 2\n}\n"
    );
    t.run(&["fmt", "--check"]).code(0);
    t.run(&[
        "fmt",
        "--check",
        "--recursive",
        &format!("{}/plans", env!("CARGO_MANIFEST_DIR")),
    ])
    .code(0);
}

#[test]
fn modules_with_count_and_outputs_work() {
    let t = Test::new()
        .file(
            "main.hcl",
            r#"
module "node" {
  source = "./node"
  count  = 3
  index  = count.index
}
output "names" { value = module.node[*].name }
output "second" { value = module.node[1].name }
"#,
        )
        .file(
            "node/main.hcl",
            r#"
variable "index" { type = number }
resource "standby_data" "n" { input = "node-${var.index}" }
output "name" { value = standby_data.n.output }
"#,
        );
    t.run(&["apply", "--auto-approve"])
        .code(0)
        .stdout_has("names = [\"node-0\", \"node-1\", \"node-2\"]")
        .stdout_has("second = \"node-1\"");
    t.run(&["output", "--json"])
        .code(0)
        .stdout_has("\"node-2\"");
}

#[test]
fn help_is_useful_at_every_level() {
    let t = Test::new();
    t.run(&["--help"])
        .code(0)
        .stdout_has("plan")
        .stdout_has("apply")
        .stdout_has("force-unlock");
    t.run(&["state", "--help"]).code(0).stdout_has("mv");
    t.run(&["plan", "--help"])
        .code(0)
        .stdout_has("--detailed-exitcode")
        .stdout_has("--out");
}

/// Issue 12: a hand-edited saved plan ran an injected hook. Saved plans are signed with the
/// workspace's plan key; a changed, unsigned or foreign-key plan is refused before anything
/// runs. STANDBY_PLAN_KEY_FILE lets a pipeline apply in another checkout.
#[test]
fn a_tampered_saved_plan_is_refused() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    t.run(&[
        "plan",
        "-e",
        "dev",
        "--var",
        "active_site=west",
        "--out",
        "west.plan",
    ])
    .code(0);
    let key = t.join(".standby/plan.key");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let original = t.read("west.plan");
    assert!(original.contains("draining"), "the plan carries its hooks");
    let evil = original.replace("echo \\\"draining", "touch pwned; echo \\\"draining");
    assert_ne!(evil, original);
    t.write("west.plan", &evil);
    t.run(&["apply", "west.plan"])
        .code(1)
        .stderr_has("was changed after standby saved it");
    t.run(&["show", "west.plan"])
        .code(1)
        .stderr_has("was changed after standby saved it");
    assert!(!t.join("pwned").exists());
    let mut v: serde_json::Value = serde_json::from_str(&original).unwrap();
    v.as_object_mut().unwrap().remove("signature");
    t.write("west.plan", &v.to_string());
    t.run(&["apply", "west.plan"])
        .code(1)
        .stderr_has("is not signed");
    // A key file a pipeline names must exist: a mistyped path fails at plan time.
    t.run_env(
        &["plan", "-e", "dev", "--out", "x.plan"],
        "STANDBY_PLAN_KEY_FILE",
        "/nonexistent/plan.key",
    )
    .code(1)
    .stderr_has("Cannot read the plan key /nonexistent/plan.key");
    // Another checkout applies it with the shared key, and only with it.
    let other = Test::plan("quickstart");
    other.write("west.plan", &original);
    other
        .run(&["show", "west.plan"])
        .code(1)
        .stderr_has("Cannot read the plan key");
    let r = other.run_env(
        &["show", "west.plan"],
        "STANDBY_PLAN_KEY_FILE",
        key.to_str().unwrap(),
    );
    r.code(0).stdout_has("failover.orders");
    // The same key as base64 works too; a short shared key says how to make one.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD
        .encode(hex::decode(std::fs::read_to_string(&key).unwrap().trim()).unwrap());
    other.write("shared.key", &b64);
    let shared = other.join("shared.key");
    other
        .run_env(
            &["show", "west.plan"],
            "STANDBY_PLAN_KEY_FILE",
            shared.to_str().unwrap(),
        )
        .code(0);
    other.write("shared.key", "abcd");
    other
        .run_env(
            &["show", "west.plan"],
            "STANDBY_PLAN_KEY_FILE",
            shared.to_str().unwrap(),
        )
        .code(1)
        .stderr_has("openssl rand -hex 32");
    t.write("west.plan", &original);
    t.run(&["apply", "west.plan"]).code(0);
    assert!(!t.join("pwned").exists());
}

/// Issue 12: the state can be encrypted at rest (AES-256-GCM) with a key from a file or an
/// environment variable, and `state migrate` moves it between encrypted and plain.
#[test]
fn the_state_is_encrypted_at_rest_and_migrates_to_plain_and_back() {
    let t = Test::plan("quickstart");
    t.write("state.key", &format!("{}\n", "ab".repeat(32)));
    let key = t.join("state.key");
    let key = key.to_str().unwrap();
    let with_key = |args: &[&str]| t.run_env(args, "STANDBY_STATE_KEY_FILE", key);
    with_key(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let raw = t.read(".standby/state/dev.json");
    assert!(
        raw.starts_with("{\"standby_encrypted\":\"AES-256-GCM\""),
        "{raw}"
    );
    assert!(
        !raw.contains("admin.token") && !raw.contains("orders"),
        "{raw}"
    );
    with_key(&["plan", "-e", "dev", "--detailed-exitcode"]).code(0);
    with_key(&["status", "-e", "dev"]).code(0);
    // Without the key, or with another one, nothing is readable, and nothing is overwritten.
    t.run(&["plan", "-e", "dev"])
        .code(1)
        .stderr_has("is encrypted (with key")
        .stderr_has("STANDBY_STATE_KEY_FILE");
    t.run_env(
        &["plan", "-e", "dev"],
        "STANDBY_STATE_KEY",
        &"cd".repeat(32),
    )
    .code(1)
    .stderr_has("but the key given is");
    assert_eq!(t.read(".standby/state/dev.json"), raw);
    // Decrypt in place, then encrypt again.
    with_key(&[
        "state",
        "migrate",
        "--to",
        "local",
        "--encryption",
        "off",
        "--force",
        "-e",
        "dev",
    ])
    .code(0);
    assert!(t.read(".standby/state/dev.json").contains("admin.token"));
    t.run(&["plan", "-e", "dev", "--detailed-exitcode"]).code(0);
    with_key(&[
        "state",
        "migrate",
        "--to",
        "local",
        "--encryption",
        "on",
        "--force",
        "-e",
        "dev",
    ])
    .code(0);
    assert!(!t.read(".standby/state/dev.json").contains("admin.token"));
    // The plain snapshot it replaced is not left readable as the backup.
    assert!(
        !t.read(".standby/state/dev.json.backup")
            .contains("admin.token"),
        "the backup is plain"
    );
    with_key(&["plan", "-e", "dev", "--detailed-exitcode"]).code(0);
    // A key given in the environment reaches no child process (a hook, here).
    let hcl = t.read("failover.hcl").replacen(
        "command = [\"sh\", \"-c\", \"echo \\\"draining",
        "command = [\"sh\", \"-c\", \"env > ${local.out_dir}/hook.env; echo \\\"draining",
        1,
    );
    assert!(hcl.contains("hook.env"), "the hook was not rewritten");
    t.write("failover.hcl", &hcl);
    let key_text = "ab".repeat(32);
    t.run_env(
        &[
            "apply",
            "-e",
            "dev",
            "--var",
            "active_site=west",
            "--auto-approve",
        ],
        "STANDBY_STATE_KEY",
        &key_text,
    )
    .code(0);
    let env = t.read("out/dev/hook.env");
    assert!(env.contains("STANDBY_GROUP=orders"), "{env}");
    assert!(!env.contains(&key_text), "the hook inherited the state key");
    t.write("short.key", "abcd");
    t.run_env(
        &["plan", "-e", "dev"],
        "STANDBY_STATE_KEY_FILE",
        t.join("short.key").to_str().unwrap(),
    )
    .code(1)
    .stderr_has("must be 32 bytes");
}

/// Issue 12: a secret in a hook command was shown in the plan, its JSON, the apply output and
/// the switch history. It is shown as `(sensitive value)` everywhere, and the hook still gets
/// it.
#[test]
fn a_secret_in_a_hook_command_is_never_shown() {
    let t = Test::plan("quickstart");
    let hcl = t.read("failover.hcl").replacen(
        "command = [\"sh\", \"-c\", \"echo \\\"draining $STANDBY_GROUP on $STANDBY_FROM\\\" >> ${local.out_dir}/hooks.log\"]",
        "command = [\"sh\", \"-c\", \"echo \\\"draining $STANDBY_GROUP with $0\\\" >> ${local.out_dir}/hooks.log\", var.admin_token]",
        1,
    );
    assert!(
        hcl.contains("var.admin_token]"),
        "the hook was not rewritten"
    );
    t.write("failover.hcl", &hcl);
    t.run(&[
        "apply",
        "-e",
        "dev",
        "--var",
        "admin_token=s3cr3t-hook-token",
        "--auto-approve",
    ])
    .code(0);
    let switch = [
        "-e",
        "dev",
        "--var",
        "admin_token=s3cr3t-hook-token",
        "--var",
        "active_site=west",
    ];
    let mut seen = String::new();
    for args in [
        &["plan"][..],
        &["plan", "--json"][..],
        &["apply", "--auto-approve"][..],
        &["status"][..],
    ] {
        let args: Vec<&str> = args
            .iter()
            .copied()
            .chain(
                if args[0] == "state" || args[0] == "status" {
                    &switch[..2]
                } else {
                    &switch[..]
                }
                .iter()
                .copied(),
            )
            .collect();
        let r = t.run(&args);
        seen.push_str(&r.stdout);
        seen.push_str(&r.stderr);
    }
    // The switch history in the state (`state pull` prints the state as it is, as
    // Terraform's does, so only the history is checked there).
    let state: serde_json::Value =
        serde_json::from_str(&t.run(&["state", "pull", "-e", "dev"]).stdout).unwrap();
    seen.push_str(&state["failovers"].to_string());
    assert!(seen.contains("(sensitive value)"), "{seen}");
    assert!(
        !seen.contains("s3cr3t-hook-token"),
        "the secret was shown:\n{seen}"
    );
    // The hook itself got the real value.
    assert!(t
        .read("out/dev/hooks.log")
        .contains("with s3cr3t-hook-token"));
}

/// Issue 12: a sensitive value in `standby_data`'s `input` came out unmarked in `output`.
#[test]
fn standby_data_output_keeps_the_input_secret() {
    let t = Test::new().file(
        "main.hcl",
        r#"
variable "s" {
  type      = string
  sensitive = true
  default   = "topsecret-value"
}
resource "standby_data" "d" {
  input = { token = var.s, plain = "shown" }
}
"#,
    );
    let mut seen = String::new();
    for args in [
        &["plan"][..],
        &["plan", "--json"],
        &["apply", "--auto-approve"],
        &["show"],
    ] {
        let r = t.run(args);
        r.code(0);
        seen.push_str(&r.stdout);
        seen.push_str(&r.stderr);
    }
    assert!(!seen.contains("topsecret-value"), "{seen}");
    assert!(seen.contains("shown"), "{seen}");
}

/// Issue 12: an invalid `file_permission` from a secret was quoted in the error.
#[test]
fn a_provider_error_about_a_secret_does_not_quote_it() {
    let t = Test::new().file(
        "main.hcl",
        r#"
variable "mode" {
  type      = string
  sensitive = true
  default   = "not-a-mode-s3cret"
}
resource "local_file" "f" {
  filename        = "out/f.txt"
  content         = "x"
  file_permission = var.mode
}
"#,
    );
    for args in [&["validate"][..], &["plan"], &["apply", "--auto-approve"]] {
        let r = t.run(args);
        r.code(1);
        assert!(!r.stderr.contains("s3cret"), "{:?}: {}", args, r.stderr);
        assert!(
            r.stderr.contains("file_permission") || r.stderr.contains("(sensitive value)"),
            "{}",
            r.stderr
        );
    }
}

/// Issue 12: a validation `error_message` that interpolates a secret showed it.
#[test]
fn a_validation_message_with_a_secret_is_withheld() {
    let t = Test::new().file(
        "main.hcl",
        r#"
variable "s" {
  type      = string
  sensitive = true
  default   = "bad-s3cret"
  validation {
    condition     = length(var.s) > 20
    error_message = "too short: ${var.s}"
  }
}
"#,
    );
    let r = t.run(&["validate"]);
    r.code(1)
        .stderr_has("The error message included a sensitive value, so it is not shown.");
    // The source excerpt quotes the file as written; the message itself does not.
    assert!(!r.stderr.contains("too short: bad-s3cret"), "{}", r.stderr);
}

/// Issue 12: a sensitive `count` showed the secret's size in the number of instances.
#[test]
fn a_sensitive_count_is_refused() {
    let t = Test::new().file(
        "main.hcl",
        r#"
variable "s" {
  type      = string
  sensitive = true
  default   = "fourteen-chars"
}
resource "standby_data" "d" {
  count = length(var.s)
}
"#,
    );
    t.run(&["plan"])
        .code(1)
        .stderr_has("count may not use a sensitive value");
}

/// A hook that fails and echoes the secret it was given: the secret is not shown.
#[test]
fn a_failing_hook_does_not_echo_its_secret() {
    let t = Test::plan("quickstart");
    let hcl = t.read("failover.hcl").replacen(
        "command = [\"sh\", \"-c\", \"echo \\\"draining $STANDBY_GROUP on $STANDBY_FROM\\\" >> ${local.out_dir}/hooks.log\"]",
        "command = [\"sh\", \"-c\", \"echo \\\"using $0\\\" >&2; exit 3\", var.admin_token]",
        1,
    );
    assert!(hcl.contains("exit 3"), "the hook was not rewritten");
    t.write("failover.hcl", &hcl);
    let vars = ["-e", "dev", "--var", "admin_token=s3cr3t-echo"];
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    let r = t.run(
        &[
            &["apply", "--auto-approve", "--var", "active_site=west"][..],
            &vars,
        ]
        .concat(),
    );
    r.code(1).stderr_has("using (sensitive value)");
    assert!(
        !r.stderr.contains("s3cr3t-echo") && !r.stdout.contains("s3cr3t-echo"),
        "{}",
        r.stderr
    );
}

/// A secret built into a longer argument (`"echo ${var.admin_token} >&2"`) was redacted only as
/// that whole argument, so a hook that printed the token alone showed it, in the apply output,
/// the caveats, `status` and the switch history. Secrets of root variables are now redacted
/// wherever they appear.
#[test]
fn a_failing_hook_does_not_echo_a_secret_inside_a_longer_argument() {
    let t = Test::plan("quickstart");
    with_after_switch_hook(
        &t,
        "command = [\"sh\", \"-c\", \"echo token=${var.admin_token} >&2; exit 3\"]",
        "exit 3",
    );
    t.write("secret.vars", "admin_token = \"s3cr3t-inside\"\n");
    let vars = ["-e", "dev", "--var-file", "secret.vars"];
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    let r = t.run(
        &[
            &["apply", "--auto-approve", "--var", "active_site=west"][..],
            &vars,
        ]
        .concat(),
    );
    // The hook runs after the switch: its failure is a caveat, and the switch stands.
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("token=(sensitive value)"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    let status = t.run(&[&["status"][..], &vars].concat());
    // The state holds the token as a resource attribute, as Terraform's does; the switch
    // history (failovers) must not.
    let state: serde_json::Value =
        serde_json::from_str(&t.read(".standby/state/dev.json")).unwrap();
    let state = state["failovers"].to_string();
    assert!(state.contains("exit status: 3"), "{state}");
    for (what, text) in [
        ("apply", format!("{}{}", r.stdout, r.stderr)),
        ("status", format!("{}{}", status.stdout, status.stderr)),
        ("the switch history in the state", state),
    ] {
        assert!(!text.contains("s3cr3t-inside"), "{what}:\n{text}");
    }
}

/// A CI secret that is not defined expands to an empty `STANDBY_STATE_KEY`, which silently
/// wrote a plain state; with both the variable and the file set, one silently won.
#[test]
fn an_empty_or_doubled_state_key_is_an_error() {
    let t = Test::plan("quickstart");
    t.run_env(
        &["apply", "-e", "dev", "--auto-approve"],
        "STANDBY_STATE_KEY",
        "",
    )
    .code(1)
    .stderr_has("STANDBY_STATE_KEY is set but empty");
    assert!(
        !t.join(".standby/state/dev.json").exists(),
        "a plain state was written"
    );
    t.write("key", &"1f".repeat(32));
    let mut c = t.command(&["apply", "-e", "dev", "--auto-approve"]);
    c.env("STANDBY_STATE_KEY", "2e".repeat(32))
        .env("STANDBY_STATE_KEY_FILE", t.join("key"));
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("both STANDBY_STATE_KEY and STANDBY_STATE_KEY_FILE are set"));
}

/// Issue 13, item 3: `apply PLANFILE --var app_port=1` exited 0 and ignored the `--var`.
/// Options that a saved plan already fixed are refused, with Terraform's wording.
#[test]
fn options_a_saved_plan_fixed_are_refused() {
    let t = Test::plan("quickstart");
    t.run(&["plan", "-e", "dev", "--out", "dev.plan"]).code(0);
    t.run(&["apply", "dev.plan", "--var", "active_site=west"])
        .code(1)
        .stderr_has("Can't set variables when applying a saved plan");
    t.run(&["apply", "dev.plan", "--var-file", "env/dev.hcl"])
        .code(1)
        .stderr_has("Can't set variables when applying a saved plan");
    for opt in [
        &["--target", "local_file.routing"][..],
        &["--replace", "local_file.routing"],
        &["--destroy"],
        &["--refresh-only"],
    ] {
        t.run(&[&["apply", "dev.plan"][..], opt].concat())
            .code(1)
            .stderr_has(&format!("Can't use {} when applying a saved plan", opt[0]));
    }
    t.run(&["apply", "dev.plan", "-e", "prod"])
        .code(1)
        .stderr_has("Environment mismatch");
    // Nothing was applied; the plan itself still applies.
    assert!(!t.join(".standby/state/dev.json").exists());
    t.run(&["apply", "dev.plan"]).code(0);
}

/// Issue 13, item 4: usage errors exited 2, which `--detailed-exitcode` uses for "changes
/// present", and Terraform's single-dash long options were rejected. A script written for
/// Terraform now runs unchanged.
#[test]
fn terraform_style_command_lines_work_and_usage_errors_exit_1() {
    let t = Test::plan("quickstart");
    t.run(&["plan", "-e", "dev", "--no-such-flag"]).code(1);
    t.run(&["pln", "-e", "dev"]).code(1);
    t.run(&["plan", "-e", "dev", "-detailed-exitcode"]).code(2);
    let dir = t.path().to_str().unwrap().to_string();
    let chdir = format!("-chdir={dir}");
    let other = Test::new();
    let r = other.run(&[
        &chdir,
        "apply",
        "-e",
        "dev",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-lock-timeout=30s",
        "-var-file=env/dev.hcl",
        "-var",
        "active_site=east",
    ]);
    r.code(0);
    t.run(&["plan", "-e", "dev", "-detailed-exitcode", "-out=dev.plan"])
        .code(0);
    // -input=false never asks: an apply that needs a confirmation fails instead.
    t.run(&[
        "apply",
        "-e",
        "dev",
        "-input=false",
        "-var",
        "active_site=west",
    ])
    .code(1)
    .stderr_has("--input=false forbids asking for it");
    t.run(&["--help"]).code(0);
    t.run(&["-version"]).code(0).stdout_has("standby ");
}

/// Issue 13, item 7: a `--target` that matched nothing quietly said "No changes.", and the
/// plan never named its environment.
#[test]
fn a_target_that_matches_nothing_is_an_error_and_plans_name_their_environment() {
    let t = Test::plan("quickstart");
    t.run(&["plan", "-e", "dev", "--target", "local_file.routng"])
        .code(1)
        .stderr_has("--target local_file.routng matches nothing in this plan")
        .stderr_has("Did you mean: local_file.connection, local_file.routing?");
    t.run(&["plan", "-e", "dev", "--replace", "local_file.routng"])
        .code(1)
        .stderr_has("--replace local_file.routng matches nothing in this plan");
    t.run(&["plan", "-e", "dev", "--target", "module.site[\"east\"]"])
        .code(0)
        .stdout_has("standby will perform the following actions in environment \"dev\":");
}

/// A hook could read the state key: it inherited STANDBY_STATE_KEY_FILE (and, in a drill's
/// monitor, the file holding the key). Neither variable reaches a hook.
#[test]
fn hooks_inherit_neither_state_key_variable() {
    let t = Test::plan("quickstart");
    with_after_switch_hook(
        &t,
        "command = [\"sh\", \"-c\", \"env > hook-env.txt\"]",
        "hook-env.txt",
    );
    t.write("state.key", &"4d".repeat(32));
    let key = t.join("state.key");
    for (var, value) in [
        ("STANDBY_STATE_KEY_FILE", key.to_str().unwrap().to_string()),
        ("STANDBY_STATE_KEY", "4d".repeat(32)),
    ] {
        let _ = std::fs::remove_file(t.join("hook-env.txt"));
        let mut c = t.command(&[
            "apply",
            "-e",
            "dev",
            "--auto-approve",
            "--var",
            "active_site=west",
        ]);
        c.env(var, &value);
        assert!(c.status().unwrap().success());
        let mut c = t.command(&[
            "apply",
            "-e",
            "dev",
            "--auto-approve",
            "--var",
            "active_site=east",
        ]);
        c.env(var, &value);
        assert!(c.status().unwrap().success());
        let env = t.read("hook-env.txt");
        assert!(env.contains("STANDBY_GROUP=orders"), "{env}");
        assert!(!env.contains("STANDBY_STATE_KEY"), "{var}: {env}");
    }
}

/// An environment file that cannot be read (bytes that are not UTF-8, say) was skipped, so
/// the plan quietly used the variables' defaults; it is an error naming the file.
#[test]
fn an_unreadable_environment_file_is_an_error() {
    let t = Test::plan("quickstart");
    std::fs::write(
        t.join("env/dev.hcl"),
        b"# caf\xe9\nactive_site = \"west\"\n",
    )
    .unwrap();
    t.run(&["plan", "-e", "dev"])
        .code(1)
        .stderr_has("Cannot read")
        .stderr_has("env/dev.hcl");
}

/// Issue 13: with $USER unset (cron, systemd, containers) the history said `by unknown@HOST`;
/// it names the uid's user.
#[test]
fn the_history_names_the_user_without_user_set() {
    let t = Test::plan("quickstart");
    let mut c = t.command(&["apply", "-e", "dev", "--auto-approve"]);
    c.env_remove("USER");
    assert!(c.status().unwrap().success());
    let state: serde_json::Value =
        serde_json::from_str(&t.run(&["state", "pull", "-e", "dev"]).stdout).unwrap();
    let by = state["applies"][0]["by"].as_str().unwrap().to_string();
    assert!(!by.starts_with("unknown@"), "{by}");
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } == 0 {
        assert!(by.starts_with("root@"), "{by}");
    }
}

/// Issue 13, item 8: `validate` without `-e` on the quickstart blamed "values known only after
/// apply"; then, the new-user trial: it failed where Terraform's validate passes. Without an
/// environment, variables are unknown and what depends on them is not planned, but mistakes in
/// the blocks (here inside a module called with for_each) are still found.
#[test]
fn validate_without_an_environment_checks_the_blocks_as_terraform_does() {
    let t = Test::plan("quickstart");
    t.run(&["validate"])
        .code(0)
        .stdout_has("Success! The topology is valid.");
    t.run(&["validate", "-json"])
        .code(0)
        .stdout_has("\"valid\": true");
    let module = t.read("modules/site/main.hcl");
    t.write(
        "modules/site/main.hcl",
        &module.replace("${var.name}/site.conf", "${var.nmae}/site.conf"),
    );
    t.run(&["validate"])
        .code(1)
        .stderr_has("var.nmae")
        .stderr_has("modules/site/main.hcl");
    t.write("modules/site/main.hcl", &module);
    t.run(&["validate", "-e", "dev"]).code(0);
}

/// Issue 13: `standby version` (and `-json`) as `terraform version`, and `fmt --diff`.
#[test]
fn version_and_fmt_diff_work_as_in_terraform() {
    let t = Test::new().file("main.hcl", "locals {\n  a=1\n  bb = 2\n}\n");
    t.run(&["version"])
        .code(0)
        .stdout_has("standby v")
        .stdout_has("\non linux_");
    let j: serde_json::Value = serde_json::from_str(&t.run(&["version", "-json"]).stdout).unwrap();
    assert_eq!(j["standby_version"], env!("CARGO_PKG_VERSION"));
    assert!(j["providers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "postgres"));
    // Terraform's key for the providers in use, name to version.
    assert_eq!(
        j["provider_selections"]["postgres"],
        env!("CARGO_PKG_VERSION")
    );
    let r = t.run(&["fmt", "-diff", "-check"]);
    r.code(3)
        .stdout_has("--- old/")
        .stdout_has("-  a=1")
        .stdout_has("+  a  = 1");
    assert_eq!(
        t.read("main.hcl"),
        "locals {\n  a=1\n  bb = 2\n}\n",
        "--check rewrote the file"
    );
}

/// Issue 13: `validate -json` in Terraform's shape, for editors and CI tools that read it.
#[test]
fn validate_json_has_terraforms_shape() {
    let t = Test::plan("quickstart");
    let ok: serde_json::Value =
        serde_json::from_str(&t.run(&["validate", "-json", "-e", "dev"]).stdout).unwrap();
    assert_eq!(ok["valid"], true);
    assert_eq!(ok["format_version"], "1.0");
    // Two mistakes in main.hcl: both are reported, with their ranges.
    let main = t.read("main.hcl");
    t.write(
        "main.hcl",
        &format!("{main}\noutput \"a\" {{\n  value = var.nope\n}}\n\noutput \"b\" {{\n  value = local.nope\n}}\n"),
    );
    let r = t.run(&["validate", "-json"]);
    r.code(1);
    let bad: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(bad["valid"], false);
    assert_eq!(bad["error_count"], 2, "{bad:#}");
    let d = &bad["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["range"]["filename"], "main.hcl");
    assert!(d["range"]["start"]["line"].as_u64().unwrap() >= 1);
}

/// Issue 13: `state push`, with Terraform's rules: another lineage or an older serial is
/// refused unless --force, and a newer copy replaces the state.
#[test]
fn state_push_refuses_a_stale_or_foreign_state() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let pulled = t.run(&["state", "pull", "-e", "dev"]).stdout;
    let mut s: serde_json::Value = serde_json::from_str(&pulled).unwrap();
    let serial = s["serial"].as_u64().unwrap();
    // Older.
    s["serial"] = (serial - 1).into();
    t.write("old.json", &s.to_string());
    t.run(&["state", "push", "old.json", "-e", "dev"])
        .code(1)
        .stderr_has(&format!("older than the current {serial}"));
    // Same serial, other contents.
    s["serial"] = serial.into();
    s["outputs"] = serde_json::json!({});
    t.write("same.json", &s.to_string());
    t.run(&["state", "push", "same.json", "-e", "dev"])
        .code(1)
        .stderr_has("other contents");
    // Another lineage.
    let mut foreign = s.clone();
    foreign["lineage"] = "00000000-0000-0000-0000-000000000000".into();
    foreign["serial"] = (serial + 1).into();
    t.write("foreign.json", &foreign.to_string());
    t.run(&["state", "push", "foreign.json", "-e", "dev"])
        .code(1)
        .stderr_has("lineage");
    // Newer: replaces it; --force pushes even the foreign one.
    s["serial"] = (serial + 1).into();
    t.write("new.json", &s.to_string());
    t.run(&["state", "push", "new.json", "-e", "dev"]).code(0);
    let now: serde_json::Value =
        serde_json::from_str(&t.run(&["state", "pull", "-e", "dev"]).stdout).unwrap();
    assert_eq!(now["serial"], serial + 1);
    assert_eq!(now["outputs"], serde_json::json!({}));
    t.run(&["state", "push", "foreign.json", "-e", "dev", "--force"])
        .code(0);
    t.write("bad.json", "{not json");
    t.run(&["state", "push", "bad.json", "-e", "dev"])
        .code(1)
        .stderr_has("is not a standby state");
}

/// Replaces the quickstart's after_switch hook command with `command` (HCL), checking that
/// the rewrite happened by looking for `mark`.
fn with_after_switch_hook(t: &Test, command: &str, mark: &str) {
    let hcl = t.read("failover.hcl").replacen(
        "command = [\"sh\", \"-c\", \"echo \\\"switched $STANDBY_GROUP to $STANDBY_TO at epoch $STANDBY_EPOCH\\\" >> ${local.out_dir}/hooks.log\"]",
        command,
        1,
    );
    assert!(hcl.contains(mark), "the hook was not rewritten");
    t.write("failover.hcl", &hcl);
}

/// Regression: `state mv` of a failover member moved the resource but left the group's
/// record naming the old address, so the group lost track of its member.
#[test]
fn state_mv_of_a_failover_member_moves_the_groups_record_of_it() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    t.run(&[
        "state",
        "mv",
        "-e",
        "dev",
        "sqlite_database.west",
        "sqlite_database.west_renamed",
    ])
    .code(0);
    let r = t.run(&["state", "pull", "-e", "dev"]);
    let state: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        state["failovers"]["orders"]["members"]["west"],
        "sqlite_database.west_renamed"
    );
    t.run(&["status", "-e", "dev"])
        .code(0)
        .stdout_lacks("no member in the state");
}
