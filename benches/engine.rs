//! Engine benchmark: generated topologies of N `standby_data` resources in two shapes,
//! timing validate, plan on an empty state, apply, and a no-op plan on the full state.
//!
//! `cargo bench --bench engine` runs every case; `cargo bench --bench engine -- 10000` runs
//! only the sizes given. Each case runs in a child process so its peak memory is its own.

use standby_engine::apply::{apply, ApplyOptions};
use standby_engine::eval::Phase;
use standby_engine::plan::{plan, PlanMode, PlanOptions};
use standby_engine::registry::Registry;
use standby_engine::state::{LocalBackend, State, StateStore as _};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

fn topology(shape: &str, n: usize) -> String {
    match shape {
        "independent" => format!("resource \"standby_data\" \"a\" {{\n  count = {n}\n  input = \"a-${{count.index}}\"\n}}\n"),
        _ => format!(
            "resource \"standby_data\" \"a\" {{\n  count = {h}\n  input = \"a-${{count.index}}\"\n}}\nresource \"standby_data\" \"b\" {{\n  count = {h}\n  input = standby_data.a[count.index].output\n}}\n",
            h = n / 2
        ),
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn run_case(shape: &str, n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.hcl"), topology(shape, n)).expect("write");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let registry = Registry::standard();
    let backend = LocalBackend::new(dir.path(), "bench");
    let opts = |phase| PlanOptions {
        env: "bench".into(),
        mode: PlanMode::Normal,
        refresh: true,
        targets: vec![],
        replace: vec![],
        phase,
        topology_digest: String::new(),
        force: None,
        epoch_floor: Default::default(),
        imports: Vec::new(),
    };

    let t = Instant::now();
    let config = standby_engine::config::load(dir.path())
        .map_err(|(_, d)| d)
        .expect("load");
    rt.block_on(plan(
        &config,
        &registry,
        None,
        Default::default(),
        &opts(Phase::Validate),
    ))
    .expect("validate");
    let validate = t.elapsed();

    let t = Instant::now();
    let config = standby_engine::config::load(dir.path())
        .map_err(|(_, d)| d)
        .expect("load");
    let p = rt
        .block_on(plan(
            &config,
            &registry,
            None,
            Default::default(),
            &opts(Phase::Plan),
        ))
        .expect("plan");
    let plan_empty = t.elapsed();
    let plan_rss = peak_rss_mib();

    let t = Instant::now();
    let ao = ApplyOptions {
        guard: None,
        parallelism: 10,
        stop: Arc::new(AtomicBool::new(false)),
        events: None,
        approvals: Default::default(),
        accept_data_loss: Default::default(),
        commit: None,
        operator_override: None,
    };
    let report = rt
        .block_on(apply(&config, &registry, &p, &backend, State::new(), ao))
        .expect("apply");
    assert!(report.failed.is_empty());
    let applied = t.elapsed();
    drop(p);

    let t = Instant::now();
    let state = backend.read().expect("read").expect("state");
    let config = standby_engine::config::load(dir.path())
        .map_err(|(_, d)| d)
        .expect("load");
    let p = rt
        .block_on(plan(
            &config,
            &registry,
            Some(&state),
            Default::default(),
            &opts(Phase::Plan),
        ))
        .expect("plan");
    assert!(!p.has_changes(), "the second plan must be a no-op");
    let noop = t.elapsed();
    let state_bytes = std::fs::metadata(backend.path())
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "{shape:<11} {n:>7} | validate {:>8.3}s | plan(empty) {:>8.3}s | apply {:>8.3}s | no-op plan {:>8.3}s | peak RSS after plan {:>7.1} MiB, overall {:>7.1} MiB | state {:>6.1} MiB",
        validate.as_secs_f64(),
        plan_empty.as_secs_f64(),
        applied.as_secs_f64(),
        noop.as_secs_f64(),
        plan_rss,
        peak_rss_mib(),
        state_bytes as f64 / 1048576.0
    );
}

fn main() {
    if let Ok(case) = std::env::var("STANDBY_BENCH_CASE") {
        let (shape, n) = case.split_once(':').expect("shape:n");
        run_case(shape, n.parse().expect("n"));
        return;
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        sizes
    };
    println!(
        "standby engine benchmark ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for n in sizes {
        for shape in ["independent", "chain"] {
            let status = std::process::Command::new(std::env::current_exe().expect("exe"))
                .env("STANDBY_BENCH_CASE", format!("{shape}:{n}"))
                .status()
                .expect("run case");
            assert!(status.success(), "case {shape}:{n} failed");
        }
    }
}
