//! Every README walk-through is a test: the `console` blocks of README.md and of
//! plans/quickstart/README.md run as they are written (with trycmd), each README from a clean
//! copy of its plan in a temporary directory, and their output is checked. `...` and `[..]` in
//! a README stand for lines and text that vary from run to run.
//!
//! A failure names the README's copy in the temporary directory; its line numbers are the
//! README's own.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Lays out `readme` as a trycmd case in `dir/NAME/README.md` whose commands run in
/// `dir/NAME/README.in/` (trycmd's convention), with a clean copy of `plan` at `plan_at` in it.
fn stage(dir: &Path, name: &str, readme: &str, plan: &str, plan_at: &str) -> PathBuf {
    let case = dir.join(name).join("README.md");
    let work = dir.join(name).join("README.in");
    crate::support::copy_dir(&root().join(plan), &work.join(plan_at));
    std::fs::copy(root().join(readme), &case).unwrap();
    case
}

/// The programs the walk-throughs use besides standby.
fn tool(name: &str) -> PathBuf {
    ["/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} is not installed"))
}

#[test]
fn readme_walkthroughs() {
    let tmp = tempfile::tempdir().unwrap();
    let top = stage(
        tmp.path(),
        "top",
        "README.md",
        "plans/quickstart",
        "plans/quickstart",
    );
    let quickstart = stage(
        tmp.path(),
        "quickstart",
        "plans/quickstart/README.md",
        "plans/quickstart",
        "",
    );
    trycmd::TestCases::new()
        .register_bin("standby", trycmd::cargo::cargo_bin!("standby"))
        .register_bin("cat", tool("cat"))
        .register_bin("sed", tool("sed"))
        .env("NO_COLOR", "1")
        .case(top)
        .case(quickstart)
        .run();
}
