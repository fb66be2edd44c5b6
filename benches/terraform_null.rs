//! standby against Terraform 1.0.3 with the same hashicorp/null 2.1.2 provider: a plan and an
//! apply of 1,000 `null_resource` instances from an empty state, then a no-op plan, A B A B
//! in one run. Needs `target/tools/terraform-1.0.3` (`scripts/terraform-oracle` fetches it)
//! and the provider mirror `./scripts/test` fills. Prints each figure's median and the ratio.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const N: usize = 1000;
const ROUNDS: usize = 3;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn topology() -> String {
    format!(
        r#"terraform {{
  required_providers {{
    null = {{
      source  = "hashicorp/null"
      version = "~> 2.1"
    }}
  }}
}}

resource "null_resource" "r" {{
  count = {N}
  triggers = {{
    i = count.index
  }}
}}
"#
    )
}

struct Tool {
    name: &'static str,
    exe: PathBuf,
    dir: tempfile::TempDir,
}

impl Tool {
    fn run(&self, args: &[&str]) -> Duration {
        let t = Instant::now();
        let out = Command::new(&self.exe)
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("TF_IN_AUTOMATION", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run");
        let took = t.elapsed();
        assert!(
            out.status.success(),
            "{} {args:?} failed:\n{}\n{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        took
    }

    fn setup(name: &'static str, exe: PathBuf, file: &'static str) -> Tool {
        let t = Tool {
            name,
            exe,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::write(t.dir.path().join(file), topology()).expect("write");
        let mirror = root().join("target/tools/mirror");
        t.run(&["init", &format!("-plugin-dir={}", mirror.display())]);
        t
    }

    fn forget_state(&self) {
        for f in [
            "terraform.tfstate",
            "terraform.tfstate.backup",
            ".standby/state/default.json",
        ] {
            let _ = std::fs::remove_file(self.dir.path().join(f));
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let tf = root().join("target/tools/terraform-1.0.3");
    assert!(
        tf.exists(),
        "{} is missing: run scripts/terraform-oracle once",
        tf.display()
    );
    assert!(
        Path::new(&root().join("target/tools/mirror")).exists(),
        "run ./scripts/test once"
    );
    let tools = [
        Tool::setup(
            "standby",
            PathBuf::from(env!("CARGO_BIN_EXE_standby")),
            "main.hcl",
        ),
        Tool::setup("terraform", tf, "main.tf"),
    ];
    let mut figures: Vec<[Vec<Duration>; 3]> = vec![Default::default(), Default::default()];
    for round in 0..ROUNDS {
        for (i, t) in tools.iter().enumerate() {
            t.forget_state();
            figures[i][0].push(t.run(&["plan", "-input=false"]));
            figures[i][1].push(t.run(&["apply", "-auto-approve", "-input=false"]));
            figures[i][2].push(t.run(&["plan", "-input=false"]));
            eprintln!("round {}: {} done", round + 1, t.name);
        }
    }
    println!(
        "\n{N} null_resource instances, hashicorp/null 2.1.2, median of {ROUNDS} runs (A B A B):\n"
    );
    println!("| | standby | Terraform 1.0.3 | Terraform / standby |");
    println!("|---|---:|---:|---:|");
    for (k, what) in ["plan (empty state)", "apply", "no-op plan"]
        .iter()
        .enumerate()
    {
        let s = median(figures[0][k].clone());
        let t = median(figures[1][k].clone());
        println!(
            "| {what} | {:.2} s | {:.2} s | {:.1}x |",
            s.as_secs_f64(),
            t.as_secs_f64(),
            t.as_secs_f64() / s.as_secs_f64()
        );
    }
}
