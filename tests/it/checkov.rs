//! Issue 13: the plan JSON is read unchanged by a tool written for `terraform show -json`.
//! checkov's Terraform-plan scanner (installed by scripts/test into a virtual environment)
//! parses a standby plan, finds its resources in the root module and in module instances,
//! and reads their planned values.

use crate::support::Test;
use std::path::PathBuf;

/// checkov: `$STANDBY_CHECKOV`, or the one scripts/test installs.
fn checkov() -> PathBuf {
    let p = std::env::var_os("STANDBY_CHECKOV").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools/checkov/bin/checkov"),
        PathBuf::from,
    );
    assert!(
        p.is_file(),
        "checkov is not installed at {}: run ./scripts/test, which installs it",
        p.display()
    );
    p
}

/// Runs checkov on `plan.json` with the check of tests/checkov; returns its JSON report.
fn scan(t: &Test) -> serde_json::Value {
    let checks = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/checkov");
    let out = std::process::Command::new(checkov())
        .args([
            "--framework",
            "terraform_plan",
            "--skip-download",
            "-o",
            "json",
        ])
        .args(["--external-checks-dir", checks.to_str().unwrap()])
        .args(["--check", "CKV_STANDBY_1", "-f"])
        .arg(t.join("plan.json"))
        .env("BC_SKIP_MAPPING", "TRUE")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(t.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn plan_json(t: &Test) {
    let r = t.run(&["plan", "-e", "dev", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    t.write("plan.json", &r.stdout);
}

fn addresses(report: &serde_json::Value, outcome: &str) -> Vec<String> {
    let mut v: Vec<String> = report["results"][outcome]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|c| c["resource_address"].as_str().unwrap_or("?").to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn checkov_reads_a_standby_plan_and_reports_its_resources() {
    let t = Test::plan("quickstart");
    plan_json(&t);
    let report = scan(&t);
    assert_eq!(report["summary"]["parsing_errors"], 0, "{report:#}");
    // Every instance the plan creates: six in the root module, one in each site module.
    assert_eq!(report["summary"]["resource_count"], 8, "{report:#}");
    // The quickstart writes three local_file resources: two in module instances.
    assert_eq!(
        addresses(&report, "passed_checks"),
        [
            "local_file.connection",
            "local_file.routing",
            "module.site[\"east\"].local_file.conf",
            "module.site[\"west\"].local_file.conf",
        ],
        "{report:#}"
    );
    assert_eq!(report["summary"]["failed"], 0, "{report:#}");

    // A permission computed per module instance: checkov must read it from planned_values,
    // where only module.site["west"] has it; the configuration holds an expression.
    let module = t.read("modules/site/main.hcl");
    let edited = module.replace(
        "file_permission = \"0644\"",
        "file_permission = var.name == \"west\" ? \"0666\" : \"0644\"",
    );
    assert_ne!(edited, module, "the quickstart's module changed");
    t.write("modules/site/main.hcl", &edited);
    plan_json(&t);
    let report = scan(&t);
    assert_eq!(
        addresses(&report, "failed_checks"),
        ["module.site[\"west\"].local_file.conf"],
        "{report:#}"
    );
    assert_eq!(report["summary"]["passed"], 3, "{report:#}");
}
