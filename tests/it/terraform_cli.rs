//! Issue 13: the Terraform commands a Terraform user reaches for work in standby: `init`,
//! `console`, `-lock=false`, `output` without `-e` and `-raw`, and shell completions and
//! man pages generated from the parser.

use crate::support::Test;

#[test]
fn init_checks_providers_and_backend_and_creates_only_dot_standby() {
    let t = Test::plan("quickstart");
    let before: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    t.run(&["init"])
        .code(0)
        .stdout_has("- dev: no state yet")
        .stdout_has("- local: built in")
        .stdout_has("local_file, local_sensitive_file, sqlite_database")
        .stdout_has("standby has been successfully initialized!");
    // What Terraform pipelines pass to init is accepted, and says why it changes nothing.
    t.run(&["init", "-upgrade", "-reconfigure", "-input=false"])
        .code(0)
        .stdout_has("nothing newer to fetch");
    let mut after: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    after.retain(|n| !before.contains(n));
    assert_eq!(after, [".standby"]);
    assert_eq!(
        std::fs::read_dir(t.join(".standby")).unwrap().count(),
        0,
        "init created files"
    );
    // Run twice, as Terraform users do: nothing changes.
    t.run(&["init"]).code(0);
    // Terraform's single-dash options reach it too.
    t.run(&["init", "-input=false"]).code(0);
}

#[test]
fn init_fails_when_the_backend_does_not_answer_or_the_state_key_is_wrong() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    // A backend that refuses the connection: port 1 on loopback.
    t.run(&[
        "init",
        "--backend",
        "pg:host=127.0.0.1 port=1 user=x dbname=x connect_timeout=2",
    ])
    .code(1)
    .stdout_lacks("successfully initialized");
    // An encrypted state that the key in the environment does not open.
    let t = Test::plan("quickstart").env("STANDBY_STATE_KEY", &"11".repeat(32));
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let wrong = t.run_env(&["init"], "STANDBY_STATE_KEY", &"22".repeat(32));
    assert_eq!(wrong.code, 1, "{}", wrong.stdout);
    assert!(!wrong.stdout.contains("successfully initialized"));
}

#[test]
fn init_names_a_resource_type_no_provider_manages() {
    let t = Test::new().file("main.hcl", "resource \"aws_instance\" \"x\" {}\n");
    let r = t.run(&["init"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("aws_instance"), "{}", r.stderr);
}

#[test]
fn console_evaluates_variables_locals_resources_and_module_outputs() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let r = t.run_stdin(
        &["console", "-e", "dev"],
        "var.sites[\"west\"].weight\nlocal.out_dir\nsqlite_database.east.path\nmodule.site[\"west\"].endpoint\nupper(failover.orders.active)\nvar.admin_token\n\n[for s in keys(var.sites) : s]\nexit\nvar.never_reached\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "50\n\"./out/dev\"\n\"./out/dev/east/orders.db\"\n\"west.us-west.internal:5432\"\n\"EAST\"\n(sensitive value)\n[\n  \"east\",\n  \"west\",\n]\n"
    );
    // Nothing was changed: the state is where apply left it.
    t.run(&["plan", "-e", "dev", "--detailed-exitcode"]).code(0);
}

#[test]
fn console_stops_piped_input_at_the_first_error_with_exit_1() {
    let t = Test::plan("quickstart");
    let r = t.run_stdin(
        &["console", "-e", "dev"],
        "var.active_site\nvar.nope\nvar.active_site\n",
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "\"east\"\n");
    assert!(r.stderr.contains("<console-input>"), "{}", r.stderr);
    assert!(r.stderr.contains("No variable \"nope\""), "{}", r.stderr);
    // A value known only after apply says so, as Terraform's console does.
    let r = t.run_stdin(&["console", "-e", "dev"], "local_file.routing.id\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "(known after apply)\n");
}

#[test]
fn lock_false_skips_the_lock_but_a_switch_still_needs_it() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    // Hold the lock with a switch frozen at its fence.
    let switch = [
        "apply",
        "-e",
        "dev",
        "--var",
        "active_site=west",
        "--auto-approve",
    ];
    let mut frozen = t.freeze_at(&switch, "fence:freeze", "switch.err");
    t.run(&["plan", "-e", "dev"]).code(1).stderr_has("lock");
    t.run(&["plan", "-e", "dev", "-lock=false"]).code(0);
    t.run(&[
        "apply",
        "-e",
        "dev",
        "-lock=false",
        "-var",
        "active_site=west",
        "-auto-approve",
    ])
    .code(1)
    .stderr_has("--lock=false is refused for apply here");
    // Nor may an unlocked command that writes the state overwrite the switch's record.
    t.run(&[
        "state",
        "rm",
        "-e",
        "dev",
        "-lock=false",
        "local_file.routing",
    ])
    .code(1)
    .stderr_has("records failover groups");
    // -lock=true is the default, spelled out.
    t.run(&["plan", "-e", "dev", "-lock=true", "-lock-timeout=1s"])
        .code(1)
        .stderr_has("lock");
    frozen.kill().unwrap();
    frozen.wait().unwrap();
    // Without failover groups, -lock=false works for an apply too, as in Terraform.
    let t = Test::new().file("main.hcl", "output \"x\" {\n  value = \"y\"\n}\n");
    t.run(&["apply", "-lock=false", "-auto-approve=true"])
        .code(0);
    // The first configure of a group is a switch: it needs the lock, and says so before
    // showing a plan that will not be applied.
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "-lock=false", "-auto-approve"])
        .code(1)
        .stderr_has("A switch needs the state lock")
        .stdout_lacks("will be created");
    t.run(&["apply", "-e", "dev", "-auto-approve"]).code(0);
    t.run(&["destroy", "-e", "dev", "-lock=false", "-auto-approve"])
        .code(1)
        .stderr_has("--lock=false is refused for destroy here");
}

#[test]
fn output_without_env_reads_the_default_environment_and_says_which_exist() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    t.run(&["output"])
        .code(0)
        .stderr_has("Warning: No outputs found")
        .stderr_has("dev, prod, staging");
    t.run(&["output", "active_endpoint"])
        .code(1)
        .stderr_has("pass -e NAME or set STANDBY_ENV");
    t.run_env(&["output", "-raw", "active_endpoint"], "STANDBY_ENV", "dev")
        .code(0);
    let r = t.run_env(&["output", "-raw", "active_endpoint"], "STANDBY_ENV", "dev");
    assert_eq!(r.stdout, "east.us-east.internal:5432");
    let r = t.run(&["output", "-e", "dev", "active_endpoint"]);
    assert_eq!(r.stdout, "\"east.us-east.internal:5432\"\n");
    // A map prints over several lines, as Terraform (and console) print it.
    let t2 = Test::new().file(
        "main.hcl",
        "variable \"pw\" {\n  type      = string\n  sensitive = true\n  default   = \"hunter2-secret\"\n}\n\noutput \"m\" {\n  value = { a = 1, b = \"x\" }\n}\n\noutput \"pw\" {\n  value     = var.pw\n  sensitive = true\n}\n",
    );
    t2.run(&["apply", "-auto-approve"]).code(0);
    let r = t2.run(&["output", "m"]);
    assert_eq!(r.stdout, "{\n  \"a\" = 1\n  \"b\" = \"x\"\n}\n");
    // HCL form writes a literal `${` as `$${`, as Terraform does, so it pastes back the same.
    t2.write("t.json", "{\"pw\": \"x${y}%{z}\"}");
    let main2 = t2.read("main.hcl").replace(
        "sensitive = true\n  default",
        "sensitive = false\n  default",
    );
    t2.write(
        "main.hcl",
        &main2.replace(
            "value     = var.pw\n  sensitive = true",
            "value     = var.pw\n  sensitive = false",
        ),
    );
    t2.run(&["apply", "-auto-approve", "-var-file=t.json"])
        .code(0);
    let r = t2.run(&["output", "pw"]);
    assert_eq!(r.stdout, "\"x$${y}%%{z}\"\n");
    let r = t2.run(&["output", "-raw", "pw"]);
    assert_eq!(r.stdout, "x${y}%{z}");
    t2.write(
        "main.hcl",
        &t2.read("main.hcl")
            .replace("sensitive = false", "sensitive = true"),
    );
    t2.run(&["apply", "-auto-approve"]).code(0);
    // A sensitive output is never printed; -raw refuses rather than hand a script the
    // placeholder as if it were the value.
    let r = t2.run(&["output", "pw"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "(sensitive value)\n"));
    t2.run(&["output", "-raw", "pw"])
        .code(1)
        .stderr_has("Output \"pw\" is sensitive")
        .stdout_lacks("hunter2");
    // An environment without env/ files: the default environment is the only one.
    let t = Test::new().file("main.hcl", "output \"x\" {\n  value = \"y\"\n}\n");
    t.run(&["apply", "-auto-approve"]).code(0);
    let r = t.run(&["output", "x"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "\"y\"\n"));
}

#[test]
fn completions_load_in_bash_and_man_pages_cover_every_command() {
    let t = Test::new();
    let r = t.run(&["completions", "bash"]);
    assert_eq!(r.code, 0);
    t.write("standby.bash", &r.stdout);
    let check = std::process::Command::new("bash")
        .args(["-c", "source ./standby.bash && complete -p standby"])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("_standby"),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        t.run(&["completions", shell]).code(0).stdout_has("console");
    }
    t.run(&["man"]).code(0).stdout_has(".TH standby 1");
    t.run(&["man", "--out-dir", "man1"])
        .code(0)
        .stdout_has("man pages");
    for page in [
        "standby.1",
        "standby-plan.1",
        "standby-state-push.1",
        "standby-console.1",
        "standby-init.1",
    ] {
        let text = t.read(&format!("man1/{page}"));
        assert!(
            text.contains(".SH OPTIONS") || text.contains(".SH SUBCOMMANDS"),
            "{page}"
        );
    }
    assert!(t
        .read("man1/standby-plan.1")
        .contains("detailed\\-exitcode"));
}

/// Issue 13: on a terminal, the progress spinner drew over the approval gate's question
/// every 200 ms. Run in a pseudo-terminal (util-linux `script`), nothing is drawn between the
/// question and the answer, and the question names the environment.
#[test]
fn the_approval_prompt_is_not_overdrawn_by_the_spinner() {
    use std::io::{Read as _, Write as _};
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "prod", "--auto-approve"]).code(0);
    let bin = env!("CARGO_BIN_EXE_standby");
    let cmd = format!("{bin} apply -e prod --var active_site=west --auto-approve");
    let mut child = std::process::Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .current_dir(t.path())
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let sink = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let text = || String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let start = std::time::Instant::now();
    while !text().contains("Enter a value: ") {
        assert!(
            start.elapsed().as_secs() < 30,
            "no approval prompt:\n{}",
            text()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Five spinner ticks' time.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"yes\n").unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let all = text();
    assert!(status.success(), "{all}");
    assert!(
        all.contains("from east to west in environment \"prod\"? Only 'yes' will be accepted."),
        "{all}"
    );
    let after = &all[all.find("Enter a value: ").unwrap() + "Enter a value: ".len()..];
    let answer = after.find("yes").expect("the answer is echoed");
    let between = &after[..answer];
    assert!(
        between.is_empty(),
        "drawn over the prompt before the answer: {between:?}"
    );
    assert!(all.contains("[prod] failover.orders: "), "{all}");
}

/// Issue 13: destroy reported a file "has been deleted" outside standby, then planned to
/// destroy it. It now plans to remove only the record, and apply calls no provider for it.
#[test]
fn destroy_forgets_an_object_that_is_already_gone_instead_of_destroying_it() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    std::fs::remove_file(t.join("out/dev/connection.txt")).unwrap();
    let r = t.run(&["plan", "-e", "dev", "--destroy"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("# local_file.connection has been deleted"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("# local_file.connection is already gone; its record will be removed"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout
            .contains("# local_file.connection will be destroyed"),
        "{}",
        r.stdout
    );
    // The saved plan removes the record only: a file that appears in its place before the
    // apply is someone else's and stays.
    t.run(&["plan", "-e", "dev", "--destroy", "--out", "destroy.plan"])
        .code(0);
    std::fs::write(t.join("out/dev/connection.txt"), "someone else's file\n").unwrap();
    t.run(&["apply", "destroy.plan"]).code(0);
    assert_eq!(t.read("out/dev/connection.txt"), "someone else's file\n");
    t.run(&["state", "list", "-e", "dev"])
        .code(0)
        .stdout_lacks("local_file");
}

/// Issue 13: plain `plan` and `validate` left an empty `ENV.lock` file per environment.
/// A released lock now removes its file, as Terraform removes `.terraform.tfstate.lock.info`.
#[test]
fn plan_validate_and_apply_leave_no_lock_files() {
    let t = Test::plan("quickstart");
    t.run(&["validate", "-e", "dev"]).code(0);
    t.run(&["plan", "-e", "staging"]).code(0);
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let left: Vec<String> = std::fs::read_dir(t.join(".standby/state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The review of this change: the plan JSON's `configuration` printed literals written for
/// sensitive attributes, sensitive outputs and sensitive module variables as constants.
#[test]
fn the_configuration_json_shows_no_secret_written_as_a_literal() {
    let t = Test::new()
        .file(
            "main.hcl",
            "resource \"local_sensitive_file\" \"k\" {\n  filename = \"out/k\"\n  content  = \"literal-secret-1\"\n}\n\noutput \"o\" {\n  value     = \"literal-secret-2\"\n  sensitive = true\n}\n\nmodule \"m\" {\n  source = \"./m\"\n  pw     = \"literal-secret-3\"\n}\n\nvariable \"v\" {\n  type      = string\n  sensitive = true\n  default   = \"literal-secret-4\"\n}\n",
        )
        .file(
            "m/main.hcl",
            "variable \"pw\" {\n  type      = string\n  sensitive = true\n}\n",
        );
    let r = t.run(&["plan", "-json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for n in 1..=4 {
        assert!(
            !r.stdout.contains(&format!("literal-secret-{n}")),
            "secret {n}:\n{}",
            r.stdout
        );
    }
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let conf = &j["configuration"]["root_module"];
    assert_eq!(
        conf["resources"][0]["expressions"]["content"],
        serde_json::json!({})
    );
    assert_eq!(
        conf["resources"][0]["expressions"]["filename"]["constant_value"],
        "out/k"
    );
    assert_eq!(
        j["configuration"]["provider_config"]["local"]["name"],
        "local"
    );
}

/// The new-user trial: `show -json` of a state had a flat resource list, unlike Terraform's
/// `values.root_module` with `child_modules`, and unlike the plan's own `prior_state`.
#[test]
fn show_json_of_the_state_has_terraforms_module_tree() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let j: serde_json::Value =
        serde_json::from_str(&t.run(&["show", "-e", "dev", "-json"]).stdout).unwrap();
    let root = &j["values"]["root_module"];
    assert!(root["resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["address"] == "local_file.connection"));
    assert_eq!(root["child_modules"][0]["address"], "module.site[\"east\"]");
    assert_eq!(
        root["child_modules"][0]["resources"][0]["address"],
        "module.site[\"east\"].local_file.conf"
    );
    assert_eq!(
        j["values"]["outputs"]["active_endpoint"]["value"],
        "east.us-east.internal:5432"
    );
    let plan: serde_json::Value =
        serde_json::from_str(&t.run(&["plan", "-e", "dev", "-json"]).stdout).unwrap();
    let addrs = |m: &serde_json::Value| {
        m["child_modules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["address"].to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        addrs(&plan["prior_state"]["values"]["root_module"]),
        addrs(root)
    );
}

/// The new-user trial: a `.tfvars.json`-style var file was a syntax error at 1:1.
#[test]
fn a_json_var_file_is_read_as_terraform_reads_tfvars_json() {
    let t = Test::plan("quickstart");
    t.write(
        "west.json",
        "{\"active_site\": \"west\", \"sites\": {\"east\": {\"region\": \"us-east\", \"weight\": 1}, \"west\": {\"region\": \"us-west\", \"weight\": 2}}}",
    );
    t.run(&["apply", "-e", "dev", "-auto-approve"]).code(0);
    t.run(&["plan", "-e", "dev", "-var-file=west.json"])
        .code(0)
        .stdout_has("Switch: failover.orders east -> west.");
    t.write("bad.json", "[1]");
    t.run(&["plan", "-e", "dev", "-var-file=bad.json"])
        .code(1)
        .stderr_has("Invalid JSON var file");
}

/// The review of this change: a JSON var file's strings went through HCL, so `${` became a
/// template and `\b` a syntax error. Its strings are literal, as in Terraform.
#[test]
fn a_json_var_files_strings_are_literal() {
    let t = Test::new().file(
        "main.hcl",
        "variable \"s\" {\n  type = string\n}\n\nvariable \"l\" {\n  type = list(string)\n}\n\noutput \"s\" {\n  value = var.s\n}\n\noutput \"l\" {\n  value = var.l\n}\n",
    );
    let s = "p@${ss}%{w} \"q\" \\ \u{8}\u{c}\n\tå";
    let vars = serde_json::json!({ "s": s, "l": ["${a}", "%{b}"] });
    t.write("v.json", &vars.to_string());
    t.run(&["apply", "-auto-approve", "-var-file=v.json"])
        .code(0);
    let out: serde_json::Value = serde_json::from_str(&t.run(&["output", "-json"]).stdout).unwrap();
    assert_eq!(out["s"]["value"], s);
    assert_eq!(out["l"]["value"], serde_json::json!(["${a}", "%{b}"]));
}

/// The review of this change: validating without `-e` plans no instance of a `for_each` on
/// unknown values, and then refused an import block into one; and an unlocked `state push`
/// could bring failover groups into a state that had none.
#[test]
fn validate_accepts_imports_it_cannot_expand_and_an_unlocked_push_of_groups_is_refused() {
    let t = Test::plan("quickstart");
    let main = t.read("main.hcl");
    t.write(
        "main.hcl",
        &format!("{main}\nimport {{\n  to = module.site[\"east\"].local_file.conf\n  id = \"./out/dev/east/site.conf\"\n}}\n"),
    );
    t.run(&["validate"]).code(0);
    // A block aimed at a resource nobody declared is found without values too.
    t.write(
        "main.hcl",
        &format!("{main}\nimport {{\n  to = local_file.nonexistent\n  id = \"x\"\n}}\n"),
    );
    t.run(&["validate"])
        .code(1)
        .stderr_has("Configuration for import target does not exist: local_file.nonexistent");
    t.write("main.hcl", &main);
    t.run(&["apply", "-e", "dev", "-auto-approve"]).code(0);
    let pulled = t.run(&["state", "pull", "-e", "dev"]).stdout;
    let mut s: serde_json::Value = serde_json::from_str(&pulled).unwrap();
    s["serial"] = (s["serial"].as_u64().unwrap() + 1).into();
    t.write("s.json", &s.to_string());
    t.run(&[
        "state",
        "push",
        "-e",
        "staging",
        "-lock=false",
        "-force",
        "s.json",
    ])
    .code(1)
    .stderr_has("--lock=false is refused for state push here");
}
