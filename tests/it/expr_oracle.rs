//! Issue 14: the differential test of the expression language against Terraform 1.0.3.
//! `tests/expr/corpus.txt` holds the expressions; `scripts/terraform-oracle` recorded
//! Terraform's answer to `jsonencode(EXPR)` for each in `tests/expr/terraform.json`, so CI
//! needs no Terraform. This test asks standby the same, through `standby console`.
//!
//! A deliberate deviation is marked in the golden file itself, by hand, as
//! `"deviation": "reason"` on the expression (the script keeps it when it runs again). The
//! test fails when an expression without one differs (a regression) and when one with a
//! deviation matches (the mark is stale), and prints a table of the shares.

use crate::support::Test;
use std::collections::BTreeMap;

fn corpus() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/expr/corpus.txt"
    ))
    .unwrap();
    let mut category = String::new();
    let mut out = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    for line in text.lines() {
        if let Some(b) = block.as_mut() {
            if line == ">>>" {
                out.push((category.clone(), b.join("\n")));
                block = None;
            } else {
                b.push(line);
            }
        } else if line == "<<<" {
            block = Some(Vec::new());
        } else if let Some(c) = line.strip_prefix("# ") {
            category = c.trim().to_string();
        } else if !line.trim().is_empty() && !line.starts_with('#') {
            out.push((category.clone(), line.to_string()));
        }
    }
    out
}

/// standby's answer: the JSON text, or None for an error. An expression over several lines
/// is asked for as a local value, as the oracle script asks Terraform.
fn standby(t: &Test, expr: &str) -> Option<String> {
    let own;
    let (t, input) = if expr.contains('\n') {
        own = Test::new().file("main.hcl", &format!("locals {{\n  e = {expr}\n}}\n"));
        (&own, "jsonencode(local.e)\n".to_string())
    } else {
        (t, format!("jsonencode({expr})\n"))
    };
    let r = t.run_stdin(&["console"], &input);
    if r.code != 0 {
        // An error is an answer only when standby reports one; a crash is a failure.
        assert!(
            r.code == 1 && r.stderr.contains("Error"),
            "standby did not report an error for {expr:?}: exit {}\n{}",
            r.code,
            r.stderr
        );
        return None;
    }
    // The console prints the string in HCL form: a JSON-compatible literal with `${` and
    // `%{` doubled.
    let s: String = serde_json::from_str(r.stdout.trim()).ok()?;
    Some(s.replace("$${", "${").replace("%%{", "%{"))
}

#[test]
fn expressions_give_terraforms_values() {
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/expr/terraform.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let t = Test::new().file("main.hcl", "locals {}\n");
    let mut table: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut differ: Vec<(String, String, String)> = Vec::new();
    for (category, expr) in corpus() {
        let tf = &golden[&expr];
        assert!(
            !tf.is_null(),
            "{expr:?} has no Terraform answer: run scripts/terraform-oracle"
        );
        let want = tf["json"].as_str();
        let got = standby(&t, &expr);
        let same = match (want, &got) {
            (Some(w), Some(g)) => w == g,
            (None, None) => true,
            _ => false,
        };
        let row = table.entry(category.clone()).or_default();
        row.0 += 1;
        if same {
            row.1 += 1;
        } else {
            let what = format!(
                "terraform {} / standby {}",
                want.unwrap_or("error"),
                got.as_deref().unwrap_or("error")
            );
            differ.push((category, expr, what));
        }
    }
    let total: usize = table.values().map(|r| r.0).sum();
    let matched: usize = table.values().map(|r| r.1).sum();
    println!("| category | expressions | same as Terraform |");
    println!("| --- | --- | --- |");
    for (c, (n, m)) in &table {
        println!(
            "| {c} | {n} | {m} ({:.0}%) |",
            100.0 * *m as f64 / *n as f64
        );
    }
    println!(
        "| all | {total} | {matched} ({:.1}%) |",
        100.0 * matched as f64 / total as f64
    );
    let deviates = |e: &str| {
        golden[e]["deviation"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    };
    let regressions: Vec<&(String, String, String)> =
        differ.iter().filter(|(_, e, _)| !deviates(e)).collect();
    let all = corpus();
    let stale: Vec<&String> = all
        .iter()
        .map(|(_, e)| e)
        .filter(|e| deviates(e) && !differ.iter().any(|(_, d, _)| d == *e))
        .collect();
    let deviations = differ.len() - regressions.len();
    println!(
        "{deviations} deliberate deviations, each with its reason in tests/expr/terraform.json"
    );
    assert!(
        regressions.is_empty() && stale.is_empty(),
        "differ from Terraform without a deviation in tests/expr/terraform.json: {regressions:#?}\nmatch Terraform now, remove their deviation: {stale:#?}"
    );
}
