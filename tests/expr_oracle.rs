//! Issue 14: the differential test of the expression language against Terraform 1.0.3.
//! `tests/expr/corpus.txt` holds the expressions; `scripts/terraform-oracle` recorded
//! Terraform's answer to `jsonencode(EXPR)` for each in `tests/expr/terraform.json`, so CI
//! needs no Terraform. This test asks standby the same, through `standby console`.
//!
//! `tests/expr/differences.txt` lists, by category, every expression whose answer differs
//! today. The test fails when an expression not listed differs (a regression) and when a
//! listed one matches (the list must shrink with the fix), and prints a table of the shares.
//! `STANDBY_ORACLE_WRITE=1` rewrites the list from this run.

mod support;

use std::collections::BTreeMap;
use support::Test;

/// How the list of differences writes a line break inside a multi-line expression.
const NEWLINE: &str = "⏎";

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
    let list_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/expr/differences.txt");
    let listed: Vec<String> = std::fs::read_to_string(list_path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            l.split_once('\t')
                .map_or(l, |(e, _)| e)
                .replace(NEWLINE, "\n")
        })
        .collect();
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
    if std::env::var_os("STANDBY_ORACLE_WRITE").is_some() {
        let mut text = String::from("# Expressions whose value in standby differs from Terraform 1.0.3's today, with\n# both answers (tests/expr_oracle.rs). Issue 14 removes them; a deliberate deviation\n# stays, with its reason in docs/language.md.\n");
        let mut last = String::new();
        for (c, e, what) in &differ {
            if *c != last {
                text.push_str(&format!("# {c}\n"));
                last.clone_from(c);
            }
            let e = e.replace('\n', NEWLINE);
            text.push_str(&format!("{e}\t{}\n", what.replace(['\n', '\t'], " ")));
        }
        std::fs::write(list_path, text).unwrap();
        return;
    }
    let now: Vec<&String> = differ.iter().map(|(_, e, _)| e).collect();
    let regressions: Vec<&(String, String, String)> = differ
        .iter()
        .filter(|(_, e, _)| !listed.contains(e))
        .collect();
    let fixed: Vec<&String> = listed.iter().filter(|e| !now.contains(e)).collect();
    assert!(
        regressions.is_empty() && fixed.is_empty(),
        "differ from Terraform and are not listed in tests/expr/differences.txt: {regressions:#?}\nmatch Terraform now, remove them from the list: {fixed:#?}"
    );
}
