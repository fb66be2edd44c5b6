//! Running `standby drill` in a test: apply, create the checksummed table, drill, and read the
//! JSON report back.

use super::pg::{rt, sql};
use super::Test;

/// Applies the topology with `vars`, creates the checksummed table, runs a drill, and returns
/// its exit code and JSON report.
pub fn drill(t: &Test, base: u16, vars: &[&str], scenario: &str) -> (i32, serde_json::Value) {
    drill_with(t, base, vars, scenario, &[])
}

/// [`drill`] with extra drill flags, such as `--via`.
pub fn drill_with(
    t: &Test,
    base: u16,
    vars: &[&str],
    scenario: &str,
    extra: &[&str],
) -> (i32, serde_json::Value) {
    t.run(&[&["apply", "--auto-approve"][..], vars].concat())
        .code(0);
    rt().block_on(async {
        sql("127.0.0.2", base)
            .await
            .batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL); INSERT INTO orders VALUES (1, 'a'), (2, 'b')")
            .await
            .unwrap()
    });
    let out = format!("drill-{scenario}");
    let r = t.run(
        &[
            &["drill", "orders", "--scenario", scenario, "--out", &out][..],
            vars,
            extra,
        ]
        .concat(),
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.join(&format!("{out}/report.json"))).unwrap_or_default(),
    )
    .unwrap_or_else(|e| {
        panic!(
            "no report ({e}):\n{}\n{}\nmonitor log:\n{}",
            r.stdout,
            r.stderr,
            std::fs::read_to_string(t.join(&format!("{out}/monitor.log"))).unwrap_or_default()
        )
    });
    assert!(t
        .read(&format!("{out}/report.md"))
        .contains(&format!("# Drill `{scenario}`")));
    assert!(t.read(&format!("{out}/timeline.svg")).starts_with("<svg"));
    eprintln!("{scenario}: {}", t.read(&format!("{out}/report.md")));
    (r.code, report)
}

/// The names of a report's timeline events.
pub fn events(report: &serde_json::Value) -> Vec<String> {
    report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}
