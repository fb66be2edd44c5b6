//! Kill-primary drill benchmark against real PostgreSQL servers on loopback (needs the Debian
//! `postgresql` package and root, which runs the servers as `postgres`).
//!
//! Runs `standby drill orders --scenario kill-primary` ten times in a row (each drill fails over
//! to the other site, whose old primary rejoins), with interval 1s, timeout 500ms, failures 2
//! and sync replication, and prints the median of each timeline figure: fault to first failed
//! check, trigger, fence, promote, traffic switched and first write. The writer goes through
//! the traffic path, as clients do: the DNS name `db.dr.test`, served by a BIND started here and
//! updated by the failover (RFC 2136), resolved before every connection.

use std::process::Command;

#[path = "../tests/it/support/servers.rs"]
#[allow(dead_code)] // The benchmark uses only BIND of the test servers.
mod servers;

const BIN: &str = env!("CARGO_BIN_EXE_standby");
const RUNS: usize = 10;

fn standby(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run standby")
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn main() {
    if !std::path::Path::new("/usr/lib/postgresql").exists() {
        eprintln!("drill benchmark: PostgreSQL is not installed (apt-get install -y postgresql); skipping");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/postgres-failover");
    std::fs::copy(src.join("main.hcl"), root.join("main.hcl")).expect("copy");
    std::fs::copy(src.join("traffic.hcl"), root.join("traffic.hcl")).expect("copy");
    std::fs::create_dir_all(root.join("env")).expect("env");
    let key = servers::secret();
    let _named = servers::named(root, 46440, &key);
    std::fs::write(
        root.join("env/dev.hcl"),
        format!("active_site = \"east\"\nbase_port = 46432\nreplication_mode = \"sync\"\nhealth_failures = 2\ndns_server = \"127.0.0.1:46440\"\ndns_secret = \"{key}\"\n"),
    )
    .expect("env file");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = standby(root, &["apply", "-e", "dev", "--auto-approve"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(
            "host=127.0.0.2 port=46432 user=postgres dbname=postgres",
            tokio_postgres::NoTls,
        )
        .await
        .expect("connect");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        c.batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY, item text)")
            .await
            .expect("schema");
    });
    println!("standby kill-primary drill benchmark: {RUNS} runs, sync replication, interval 1s, timeout 500ms, failures 2, writes through the DNS name");
    let names = [
        "first failed check",
        "trigger",
        "fence",
        "promote",
        "traffic switched",
        "first successful write",
    ];
    let mut figures: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut verdicts = Vec::new();
    for run in 0..RUNS {
        let out_dir = format!("drill-{run}");
        let out = standby(
            root,
            &[
                "drill",
                "orders",
                "-e",
                "dev",
                "--scenario",
                "kill-primary",
                "--out",
                &out_dir,
            ],
        );
        let Ok(text) = std::fs::read_to_string(root.join(&out_dir).join("report.json")) else {
            println!(
                "run {run}: no report:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            continue;
        };
        let r: serde_json::Value = serde_json::from_str(&text).expect("report");
        let mut line = format!("run {run}: {} -> {}", r["from"], r["to"]);
        for (i, name) in names.iter().enumerate() {
            if let Some(at) = r["timeline"]
                .as_array()
                .and_then(|t| t.iter().find(|e| e["name"] == *name))
                .and_then(|e| e["at"].as_f64())
            {
                figures[i].push(at);
                line.push_str(&format!("; {name} {at:.3}s"));
            }
        }
        line.push_str(&format!(
            "; lost {}; verdict {}",
            r["writes"]["lost"].as_array().map_or(0, Vec::len),
            r["verdict"]
        ));
        println!("{line}");
        verdicts.push(r["verdict"] == "pass");
    }
    println!(
        "median of {} runs, seconds after SIGKILL:",
        figures[0].len()
    );
    for (name, v) in names.iter().zip(figures) {
        let n = v.len();
        match median(v) {
            Some(m) => println!("  {name:<24} {m:.3} s  ({n} runs)"),
            None => println!("  {name:<24} -"),
        }
    }
    println!(
        "passed {} of {} drills",
        verdicts.iter().filter(|p| **p).count(),
        verdicts.len()
    );
    let _ = standby(root, &["destroy", "-e", "dev", "--auto-approve"]);
}
