//! Issue 13: every standby command of docs/ci.md, run as its recipes run it, on the quickstart
//! topology in a git repository (in `topology/`, with prod protected on main): the review
//! job on a pull request's branch, the apply job on main, and the nightly drift check. Each
//! must exit as the recipe expects; before, `envs diff staging prod` was always red.

use crate::support::{git, Test};

/// The standby commands of the YAML blocks, with the CI variables filled in.
fn recipe_commands() -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ci.md")).unwrap();
    let mut out = Vec::new();
    let mut in_yaml = false;
    for line in doc.lines() {
        if line.starts_with("```") {
            in_yaml = line.trim() == "```yaml";
            continue;
        }
        if !in_yaml {
            continue;
        }
        let Some(at) = line.find("standby -C topology") else {
            continue;
        };
        let mut cmd = line[at..].to_string();
        // The shell around the command (a redirect, `|| echo`) is the recipe's, not standby's.
        for cut in [" > ", " ||"] {
            if let Some(i) = cmd.find(cut) {
                cmd.truncate(i);
            }
        }
        let cmd = cmd
            .replace("${{ github.base_ref }}", "main")
            .replace("$CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main");
        out.push(cmd.trim().to_string());
    }
    out
}

/// Runs `cmd` (a recipe line) in the repository; returns its exit code and output.
fn run(t: &Test, cmd: &str) -> (i32, String) {
    let args: Vec<&str> = cmd.split_whitespace().skip(1).collect();
    let r = t.run(&args);
    (r.code, format!("{}\n{}", r.stdout, r.stderr))
}

#[test]
fn every_standby_command_of_docs_ci_md_passes_on_the_quickstart() {
    let cmds = recipe_commands();
    assert!(cmds.len() >= 10, "found only {cmds:?}");
    let t = Test::new();
    crate::support::copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/quickstart"),
        &t.join("topology"),
    );
    t.write(
        "topology/environments.hcl",
        "environment \"prod\" {\n  protected = true\n  branch    = \"main\"\n}\n",
    );
    t.write(".gitignore", ".standby/\nout/\nreview*.md\n*.sarif\n");
    git(&t, &["init", "-q", "-b", "main"]);
    git(&t, &["add", "."]);
    git(&t, &["commit", "-q", "-m", "topology"]);
    // What `actions/checkout` with fetch-depth 0 and `git fetch origin` leave behind.
    git(&t, &["update-ref", "refs/remotes/origin/main", "HEAD"]);
    // The pull request: a branch that changes staging's weights.
    git(&t, &["checkout", "-q", "-b", "feature"]);
    let staging = t.read("topology/env/staging.hcl");
    t.write(
        "topology/env/staging.hcl",
        &format!("{staging}\n# reviewed in the PR\n"),
    );
    git(&t, &["commit", "-q", "-am", "touch staging"]);

    let review_job = cmds.iter().filter(|c| {
        c.ends_with(" init")
            || c.contains(" check ")
            || c.ends_with(" check -e prod")
            || c.contains(" review ")
            || c.contains(" envs diff ")
    });
    let mut ran = 0;
    for cmd in review_job {
        let (code, out) = run(&t, cmd);
        assert_eq!(code, 0, "{cmd}:\n{out}");
        ran += 1;
    }
    assert!(
        t.join("topology/review.md").is_file(),
        "the review comment was not written"
    );
    // The apply job, on main after the merge.
    git(&t, &["checkout", "-q", "main"]);
    for cmd in cmds.iter().filter(|c| c.contains(" apply ")) {
        let (code, out) = run(&t, cmd);
        assert_eq!(code, 0, "{cmd}:\n{out}");
        ran += 1;
    }
    // The nightly drift check: nothing drifted.
    for cmd in cmds.iter().filter(|c| c.contains("--refresh-only")) {
        let (code, out) = run(&t, cmd);
        assert_eq!(code, 0, "{cmd}:\n{out}");
        ran += 1;
    }
    assert_eq!(ran, cmds.len(), "a recipe command was not run: {cmds:#?}");
}
