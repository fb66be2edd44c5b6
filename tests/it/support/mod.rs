//! Test support: a fluent builder that lays out a topology in a temporary directory and runs
//! the `standby` binary in it the way a user would, plus a mock provider for engine tests.

#![allow(dead_code)] // Each test binary uses a different part of the support code.

pub mod drill;
pub mod etcd;
pub mod mock;
pub mod monitor;
pub mod pg;
pub mod proc;
pub mod replica;
pub mod rig;
pub mod servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A topology in a temporary directory.
pub struct Test {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// What one run of the binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(
            self.code, want,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts that stdout contains `s`.
    #[track_caller]
    pub fn stdout_has(&self, s: &str) -> &Self {
        assert!(
            self.stdout.contains(s),
            "stdout lacks {s:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts that stderr contains `s`.
    #[track_caller]
    pub fn stderr_has(&self, s: &str) -> &Self {
        assert!(
            self.stderr.contains(s),
            "stderr lacks {s:?}\n--- stderr\n{}",
            self.stderr
        );
        self
    }

    /// Asserts that stdout does not contain `s`.
    #[track_caller]
    pub fn stdout_lacks(&self, s: &str) -> &Self {
        assert!(
            !self.stdout.contains(s),
            "stdout has {s:?}\n--- stdout\n{}",
            self.stdout
        );
        self
    }

    /// Asserts that stderr does not contain `s`.
    #[track_caller]
    pub fn stderr_lacks(&self, s: &str) -> &Self {
        assert!(
            !self.stderr.contains(s),
            "stderr has {s:?}\n--- stderr\n{}",
            self.stderr
        );
        self
    }
}

impl Test {
    /// An empty topology directory.
    pub fn new() -> Self {
        Test {
            dir: tempfile::tempdir().expect("tempdir"),
            env: vec![("NO_COLOR".into(), "1".into())],
        }
    }

    /// A copy of `plans/NAME`.
    pub fn plan(name: &str) -> Self {
        let t = Self::new();
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("plans")
                .join(name),
            t.path(),
        );
        t
    }

    /// Sets an environment variable for every run of the binary.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Writes a file, creating parent directories.
    pub fn file(self, rel: &str, content: &str) -> Self {
        self.write(rel, content);
        self
    }

    /// Writes a file now.
    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }

    /// Reads a file of the topology directory.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the directory.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    /// A command for the binary, run in the directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_standby"));
        c.args(args).current_dir(self.path());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.env_remove("STANDBY_ENV");
        c.stdin(std::process::Stdio::null());
        c
    }

    /// Runs the binary to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        Self::finish(self.command(args))
    }

    /// Runs the binary to completion with one more environment variable.
    pub fn run_env(&self, args: &[&str], key: &str, value: &str) -> Run {
        let mut c = self.command(args);
        c.env(key, value);
        Self::finish(c)
    }

    /// Runs the binary to completion with `input` on its standard input.
    pub fn run_stdin(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write as _;
        let mut child = self
            .command(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run standby");
        // A closed pipe is fine: the console may stop reading at an error.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        let out = child.wait_with_output().expect("run standby");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn finish(mut c: Command) -> Run {
        let out: Output = c.output().expect("run standby");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A clean copy of a plan directory: no outputs, state or server data of an earlier run.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let name = e.file_name();
        if name == "out" || name == ".standby" || name == "data" {
            continue;
        }
        let target = to.join(&name);
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

/// The topology text `hcl` with a hook at `when` that holds the switch there (it writes its
/// pid to held.pid and sleeps), inserted before the group's verify block.
pub fn holding_hook(hcl: &str, when: &str) -> String {
    hcl.replacen(
        "  verify {",
        &format!(
            "  hook \"{when}\" {{\n    command = [\"sh\", \"-c\", \"echo $$ > held.pid; exec sleep 60\"]\n  }}\n\n  verify {{"
        ),
        1,
    )
}

impl Test {
    /// Runs the binary with `args` until a holding hook (see [`holding_hook`]) runs, then
    /// SIGKILLs standby and the hook.
    pub fn kill_when_held(&self, args: &[&str]) {
        let mut child = self
            .command(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while !self.join("held.pid").exists() || self.read("held.pid").trim().is_empty() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "the holding hook never ran"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let _ = Command::new("kill")
            .args(["-9", self.read("held.pid").trim()])
            .status();
    }
}

/// Whether process `pid` is stopped (state T in /proc), as a `freeze` failpoint leaves it.
pub fn is_stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_default()
        .rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with('T'))
}

impl Test {
    /// Starts standby with `args` and `STANDBY_FAILPOINT=point` (a `freeze`), stderr to
    /// `stderr` in the test directory; returns once it stopped itself there.
    pub fn freeze_at(&self, args: &[&str], point: &str, stderr: &str) -> std::process::Child {
        let child = self
            .command(args)
            .env("STANDBY_FAILPOINT", point)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(self.join(stderr)).unwrap())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while !(self.join(".standby/failpoint").exists() && is_stopped(child.id())) {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "{point}: never froze: {}",
                std::fs::read_to_string(self.join(stderr)).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        child
    }
}

/// Runs git in the test's directory with a fixed identity; returns its stdout, trimmed.
pub fn git(t: &Test, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(t.path())
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.test")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.test")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
