//! `standby drill` against real PostgreSQL servers (and, for the traffic path, BIND and HAProxy)
//! started by the tests: each scenario's report and its pass or fail verdict.

use crate::support::drill::{drill, drill_with, events};
use crate::support::pg::{args, SYNC_AUTO};
use crate::support::pg::{cluster, rt, sql};
use crate::support::rig::{topology, Rig};
use crate::support::servers::{haproxy, named, secret};
use crate::support::Test;

#[test]
fn a_kill_primary_drill_in_sync_mode_recovers_within_3_seconds_and_loses_nothing() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &SYNC_AUTO);
    let (code, r) = drill(&t, base, &vars, "kill-primary");
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verdict"], "pass");
    assert_eq!(r["to"], "west");
    assert!(r["writes"]["lost"].as_array().unwrap().is_empty());
    assert!(r["writes"]["unexpected"].as_array().unwrap().is_empty());
    assert!(r["writes"]["acknowledged"].as_u64().unwrap() > 100, "{r:#}");
    assert!(
        r["rto"]["measured_seconds"].as_f64().unwrap() < 3.0,
        "{r:#}"
    );
    let at = |name: &str| {
        r["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {r:#}"))["at"]
            .as_f64()
            .unwrap()
    };
    let order = [
        "fault injected",
        "first failed check",
        "trigger",
        "fence",
        "promote",
    ];
    for w in order.windows(2) {
        assert!(at(w[0]) <= at(w[1]), "{} before {}: {r:#}", w[0], w[1]);
    }
    assert!(
        at("first successful write") >= at("fence"),
        "no write on the new primary before the old one is fenced"
    );
    assert!(at("traffic switched") >= at("promote"));
    let sums = &r["checksums"]["public.orders"];
    assert!(
        sums[0].is_string() && sums[0] == sums[1],
        "checksums of the rejoined old primary and the new one: {r:#}"
    );
    assert_eq!(r["rejoin"][0], true, "{r:#}");
}

#[test]
fn a_graceful_stop_drill_in_async_mode_stays_within_its_rpo() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = ["-e", "dev", "--var", &port, "--var", "health_failures=2"];
    let (code, r) = drill(&t, base, &vars, "stop-primary");
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["rpo"]["declared_seconds"], 5.0);
    assert!(r["rpo"]["met"].as_bool().unwrap());
    assert!(
        r["lsn_gap_bytes"].is_u64(),
        "the switch measured the gap: {r:#}"
    );
}

#[test]
fn a_hung_primary_is_fenced_and_cannot_take_writes_when_it_wakes_up() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &SYNC_AUTO);
    let (code, r) = drill(&t, base, &vars, "hang-primary");
    assert_eq!(code, 0, "{r:#}");
    assert!(r["writes"]["lost"].as_array().unwrap().is_empty());
    assert_eq!(r["rejoin"][0], true, "{r:#}");
    // Only one member takes writes.
    let writable: Vec<bool> = rt().block_on(async {
        let mut v = vec![];
        for (h, p) in [("127.0.0.2", base), ("127.0.0.3", base + 1)] {
            let ro: String = sql(h, p)
                .await
                .query_one("SHOW transaction_read_only", &[])
                .await
                .unwrap()
                .get(0);
            v.push(ro == "off");
        }
        v
    });
    assert_eq!(writable, [false, true]);
}

#[test]
fn a_switchover_drill_under_load_loses_nothing() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = [
        "-e",
        "dev",
        "--var",
        &port,
        "--var",
        "replication_mode=sync",
    ];
    let (code, r) = drill(&t, base, &vars, "switchover");
    assert_eq!(code, 0, "{r:#}");
    assert!(r["writes"]["lost"].as_array().unwrap().is_empty());
    assert_eq!(r["lsn_gap_bytes"], 0, "{r:#}");
    assert!(
        !events(&r).contains(&"trigger".to_string()),
        "no monitor in a planned switch"
    );
}

#[test]
fn a_drill_that_misses_its_rto_fails_with_exit_code_1() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = [
        "-e",
        "dev",
        "--var",
        &port,
        "--var",
        "replication_mode=sync",
        "--var",
        "health_failures=2",
        "--var",
        "rto=1s",
    ];
    let (code, r) = drill(&t, base, &vars, "kill-primary");
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "fail");
    assert!(
        r["reasons"][0]
            .as_str()
            .unwrap()
            .contains("exceeds the declared 1s"),
        "{r:#}"
    );
}

#[test]
fn a_drill_refuses_a_protected_environment_without_i_know() {
    let t = Test::plan("postgres-failover");
    t.write(
        "protect.hcl",
        "environment \"staging\" {\n  protected = true\n}\n",
    );
    t.run(&[
        "drill",
        "orders",
        "-e",
        "staging",
        "--var",
        "base_port=1",
        "--scenario",
        "kill-primary",
    ])
    .code(1)
    .stderr_has("Refusing to drill the protected environment \"staging\"")
    .stderr_has("--i-know");
}

/// Drills go through the provider's drill capability: a member whose provider has none (the
/// mock replicating provider) is refused by name, before any fault or file.
#[test]
fn a_member_whose_provider_cannot_be_drilled_is_refused_before_any_fault() {
    use standby_engine::drill::{Drill, Scenario, Setup};
    let r = Rig::new(&topology("east", "auto", "1MiB"));
    r.apply(None);
    let (state, plan) = (r.state(), r.plan(None));
    let dir = r.dir().join("drill");
    let err = Drill::new(Setup {
        group: "orders",
        env: "test",
        scenario: Scenario::KillPrimary,
        via: None,
        state: &state,
        groups: &plan.groups,
        registry: r.registry(),
        dir: &dir,
        rt: r.rt.handle().clone(),
    })
    .err()
    .expect("refused");
    assert_eq!(
        err.summary,
        "east is a mockdb_member of provider mockdb, which cannot be drilled"
    );
    assert!(err.hint.contains("drill capability"), "{err:?}");
    assert!(!dir.exists());
    assert_eq!(r.replica.writable(), ["east"], "nothing was touched");
}

/// Applies a copy of the quickstart in `env`, drills its SQLite group, and returns the run and
/// its JSON report.
fn quickstart_drill(env: &str, scenario: &str) -> (Test, crate::support::Run, serde_json::Value) {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", env, "--auto-approve"]).code(0);
    let r = t.run(&[
        "drill",
        "orders",
        "-e",
        env,
        "--scenario",
        scenario,
        "--out",
        "d",
    ]);
    let report = serde_json::from_str(&t.read("d/report.json"))
        .unwrap_or_else(|e| panic!("{e}: {}", r.stderr));
    (t, r, report)
}

/// The quickstart's SQLite members, drilled: the database file of the primary is lost (moved
/// aside under its write lock). SQLite's replication is a copy made at apply and at the switch,
/// so every write acknowledged since the last copy is lost, and the drill says so: it fails on
/// its RPO of 0s, counts the lost writes, and finds no write that was never acknowledged.
#[test]
fn a_sqlite_kill_drill_reports_the_writes_its_file_copy_replication_loses() {
    let (t, r, report) = quickstart_drill("dev", "kill-primary");
    assert_eq!(r.code, 1, "{report:#}");
    assert_eq!(report["verdict"], "fail");
    assert_eq!(report["to"], "west");
    let lost = report["writes"]["lost"].as_array().unwrap().len();
    assert!(lost > 0, "{report:#}");
    assert!(report["writes"]["unexpected"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(report["rpo"]["met"], false);
    // Under load the RTO may be missed too, and its reason comes first; the lost writes must
    // be named whatever else failed.
    let reasons = report["reasons"].as_array().unwrap();
    assert!(
        reasons.iter().any(|r| r
            .as_str()
            .unwrap()
            .starts_with(&format!("{lost} acknowledged write(s) lost"))),
        "{report:#}"
    );
    let fault = report["timeline"][0]["detail"].as_str().unwrap();
    assert!(
        fault.starts_with("the primary's database file lost (moved aside to "),
        "{fault}"
    );
    // The members, not the report: the lost file is where the report says, and the old
    // primary's path holds a standby again.
    let aside = fault
        .rsplit_once("moved aside to ")
        .unwrap()
        .1
        .trim_end_matches(')');
    assert!(std::path::Path::new(aside).exists(), "{aside}");
    assert_eq!(report["rejoin"][0], true, "{report:#}");
    t.run(&["status", "-e", "dev"])
        .code(0)
        .stdout_has("active:   west")
        .stdout_has("east      standby  healthy=true");
}

/// A planned switchover of the SQLite members under load: the fence, the final copy and the
/// promotion lose nothing.
#[test]
fn a_sqlite_switchover_drill_under_load_loses_nothing() {
    let (t, r, report) = quickstart_drill("dev", "switchover");
    assert_eq!(r.code, 0, "{report:#}");
    assert_eq!(report["to"], "west");
    assert!(report["writes"]["lost"].as_array().unwrap().is_empty());
    assert!(
        report["writes"]["acknowledged"].as_u64().unwrap() > 100,
        "{report:#}"
    );
    assert_eq!(report["lsn_gap_bytes"], 0);
    assert_eq!(report["gap_unit"], "write transactions");
    assert!(t
        .read("d/report.md")
        .contains("Replication gap at the switch: 0 write transactions."));
}

/// A hung SQLite primary is a locked file: the fence cannot get in, and once the lock is
/// released (after the first write on the new primary) the old primary takes no write.
#[test]
fn a_locked_sqlite_primary_takes_no_write_after_the_failover() {
    let (t, _, report) = quickstart_drill("dev", "hang-primary");
    assert_eq!(report["to"], "west", "{report:#}");
    assert!(report["timeline"][0]["detail"]
        .as_str()
        .unwrap()
        .ends_with("orders.db locked against every reader and writer"));
    assert!(report["writes"]["unexpected"]
        .as_array()
        .unwrap()
        .is_empty());
    t.run(&["status", "-e", "dev"])
        .code(0)
        .stdout_has("east      standby  healthy=true")
        .stdout_has("west      primary  healthy=true");
    // The old primary's writes that west never received were set aside before it became a
    // standby, and the report says where: the lost writes are all in that copy.
    let lost: Vec<i64> = report["writes"]["lost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert!(!lost.is_empty(), "{report:#}");
    let caveat = report["caveats"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .find(|c| c.contains("before it became a standby"))
        .unwrap_or_else(|| panic!("no caveat for the kept writes: {report:#}"));
    let kept = caveat
        .split("kept in ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let c = rusqlite::Connection::open(kept).unwrap();
    let ids: Vec<i64> = c
        .prepare("SELECT id FROM standby_drill")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for id in &lost {
        assert!(ids.contains(id), "lost write {id} is not in {kept}");
    }
}

/// With `approval = "manual"` (the quickstart's prod) the monitor saves the failover plan
/// and waits for a person: the drill stops waiting at once, reports that nothing recovered,
/// and says how to approve; it does not end in an error without a report.
#[test]
fn a_drill_of_a_manually_approved_group_reports_the_plan_awaiting_approval() {
    let started = std::time::Instant::now();
    let (t, r, report) = quickstart_drill("prod", "kill-primary");
    assert_eq!(r.code, 1, "{report:#}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(40),
        "it waited for the RTO limit"
    );
    assert_eq!(report["read_back"], false);
    assert!(report["to"].is_null());
    assert!(
        report["caveats"]
            .to_string()
            .contains("run `standby approve "),
        "{report:#}"
    );
    assert!(
        report["reasons"]
            .to_string()
            .contains("the writes could not be read back"),
        "{report:#}"
    );
    assert!(t.read("d/report.md").contains("**not checked**"));
}

/// A file has no server and no endpoint: the scenarios and paths that need them are refused by
/// name before any fault, and the group is untouched.
#[test]
fn a_sqlite_member_refuses_server_scenarios_and_network_paths_before_any_fault() {
    let t = Test::plan("quickstart");
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    for (scenario, why) in [
        ("stop-primary", "it has no server to stop gracefully"),
        ("partition-primary", "it has no endpoint to cut off"),
    ] {
        t.run(&["drill", "orders", "-e", "dev", "--scenario", scenario])
            .code(1)
            .stderr_has(&format!(
                "east is a sqlite_database: the {scenario} scenario does not apply to it"
            ))
            .stderr_has(why);
    }
    t.run(&[
        "drill",
        "orders",
        "-e",
        "dev",
        "--scenario",
        "kill-primary",
        "--via",
        "dns",
    ])
    .code(1)
    .stderr_has("--via dns, but the members are files");
    let drill = |extra: &[&str]| {
        t.run(
            &[
                &["drill", "-e", "dev", "--scenario", "kill-primary"][..],
                extra,
            ]
            .concat(),
        )
    };
    drill(&["orders", "--via", "member"])
        .code(1)
        .stderr_has("Invalid --via \"member\"");
    drill(&["order"])
        .code(1)
        .stderr_has("No failover group \"order\"")
        .stderr_has("The groups are: orders.");
    drill(&["failover.orders"])
        .code(1)
        .stderr_has("`standby drill orders`");
    assert!(!t.join(".standby/drills").exists());
    t.run(&["status", "-e", "dev"])
        .code(0)
        .stdout_has("active:   east")
        .stdout_has("east      primary  healthy=true");
}

/// Regression: the drill indexed its members by the active site and panicked when the active
/// member had been removed from the state with `state rm`.
#[test]
fn a_drill_whose_active_member_was_removed_with_state_rm_reports_it_and_does_not_panic() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &[]);
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    t.run(&["state", "rm", "-e", "dev", "postgres_server.east"])
        .code(0);
    t.run(
        &[
            &["drill", "orders", "--scenario", "kill-primary"][..],
            &vars,
        ]
        .concat(),
    )
    .code(1)
    .stderr_has(
        "The active member of group \"orders\" (east, postgres_server.east) is not in the state",
    )
    .stderr_has("standby import")
    .stderr_lacks("panicked");
}

#[test]
fn a_partitioned_primary_is_cut_off_by_nftables_and_the_group_recovers_without_loss() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &SYNC_AUTO);
    let (code, r) = drill(&t, base, &vars, "partition-primary");
    assert_eq!(code, 0, "{r:#}");
    let fault = r["timeline"][0]["detail"].as_str().unwrap();
    if nftables_works() {
        assert!(
            fault.starts_with(&format!(
                "network partition of 127.0.0.2:{base}: nftables table"
            )),
            "this machine allows nftables, so no substitute: {fault}"
        );
    } else {
        assert!(
            fault.starts_with("SIGSTOP to the primary's processes, standing in for a partition ("),
            "{fault}"
        );
    }
    assert!(r["writes"]["lost"].as_array().unwrap().is_empty(), "{r:#}");
    assert_eq!(r["to"], "west");
    assert_eq!(r["rejoin"][0], true, "{r:#}");
    let ev = events(&r);
    for e in [
        "first failed check",
        "trigger",
        "fence",
        "promote",
        "first successful write",
    ] {
        assert!(ev.contains(&e.to_string()), "{e} missing from {ev:?}");
    }
    // The partition is healed: no drill table is left behind.
    let tables = std::process::Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&tables.stdout).contains("standby_drill_"),
        "{}",
        String::from_utf8_lossy(&tables.stdout)
    );
}

/// Whether this machine lets a test add an nftables table (scripts/test installs nftables;
/// a container without CAP_NET_ADMIN refuses it).
fn nftables_works() -> bool {
    let table = format!("standby_probe_{}", std::process::id());
    let ok = std::process::Command::new("nft")
        .args(["add", "table", "ip", &table])
        .status()
        .is_ok_and(|s| s.success());
    let _ = std::process::Command::new("nft")
        .args(["delete", "table", "ip", &table])
        .status();
    ok
}

/// A cluster whose traffic goes through BIND (dns_record) and HAProxy (haproxy_backend).
fn with_traffic(t: &Test, base: u16) -> (Vec<String>, u16, impl Drop, impl Drop) {
    let (dns_port, front) = (base + 8, base + 9);
    let key = secret();
    let dns = named(t.path(), dns_port, &key);
    let (hp, sock) = haproxy(t.path(), front, "127.0.0.2:1", "127.0.0.3:1");
    let vars = vec![
        "-e".to_string(),
        "dev".into(),
        "--var".into(),
        format!("base_port={base}"),
        "--var".into(),
        "replication_mode=sync".into(),
        "--var".into(),
        "health_failures=2".into(),
        "--var".into(),
        format!("dns_server=127.0.0.1:{dns_port}"),
        "--var".into(),
        format!("dns_secret={key}"),
        "--var".into(),
        format!("haproxy_socket={}", sock.display()),
    ];
    (vars, front, dns, hp)
}

#[test]
fn a_drill_writes_through_the_dns_name_by_default() {
    let (t, base, _servers) = cluster();
    let (vars, _front, _dns, _hp) = with_traffic(&t, base);
    let vars: Vec<&str> = vars.iter().map(String::as_str).collect();
    let (code, r) = drill(&t, base, &vars, "kill-primary");
    assert_eq!(code, 0, "{r:#}");
    assert!(
        r["traffic_path"]
            .as_str()
            .unwrap()
            .starts_with("the DNS name db.dr.test, resolved through 127.0.0.1:"),
        "{r:#}"
    );
    assert!(r["writes"]["lost"].as_array().unwrap().is_empty(), "{r:#}");
    assert!(r["writes"]["acknowledged"].as_u64().unwrap() > 10, "{r:#}");
    // Writes through the name resume only once the record points at the new primary.
    let at = |name: &str| {
        r["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .and_then(|e| e["at"].as_f64())
            .unwrap_or_else(|| panic!("no {name} in {r:#}"))
    };
    assert!(at("first successful write") > at("promote"), "{r:#}");
    // The switch of the name is seen from the client's side, not inferred from the apply.
    let moved = at("traffic switched");
    assert!(
        moved > at("promote") && moved <= at("first successful write"),
        "{r:#}"
    );
    assert!(
        r.to_string().contains("db.dr.test answers 127.0.0.3"),
        "{r:#}"
    );
}

#[test]
fn a_drill_writes_through_the_haproxy_frontend_with_via() {
    let (t, base, _servers) = cluster();
    let (vars, front, _dns, _hp) = with_traffic(&t, base);
    let vars: Vec<&str> = vars.iter().map(String::as_str).collect();
    let via = format!("127.0.0.1:{front}");
    let (code, r) = drill_with(&t, base, &vars, "kill-primary", &["--via", &via]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(
        r["traffic_path"],
        format!("the TCP frontend {via}"),
        "{r:#}"
    );
    assert!(r["writes"]["lost"].as_array().unwrap().is_empty(), "{r:#}");
    assert!(r["writes"]["acknowledged"].as_u64().unwrap() > 10, "{r:#}");
}

#[test]
fn a_drill_rejects_a_bad_via() {
    let (t, base, _servers) = cluster();
    let port = format!("base_port={base}");
    let vars = ["-e", "dev", "--var", &port];
    t.run(&[&["apply", "--auto-approve"][..], &vars].concat())
        .code(0);
    t.run(
        &[
            &[
                "drill",
                "orders",
                "--scenario",
                "kill-primary",
                "--via",
                "dns",
            ][..],
            &vars,
        ]
        .concat(),
    )
    .code(1)
    .stderr_has("--via dns, but the group has no dns_record");
    t.run(
        &[
            &[
                "drill",
                "orders",
                "--scenario",
                "kill-primary",
                "--via",
                "nowhere",
            ][..],
            &vars,
        ]
        .concat(),
    )
    .code(1)
    .stderr_has("Invalid --via \"nowhere\"");
}

/// With the state key in `STANDBY_STATE_KEY`, which standby takes out of its environment at
/// start, the drill's monitor (standby too) could not read the encrypted state. It now gets
/// the key through a private file, removed when the drill ends.
#[test]
fn a_drill_works_on_a_state_encrypted_with_a_key_from_the_environment() {
    let (t, base, _servers) = cluster();
    let t = t.env("STANDBY_STATE_KEY", &"a7".repeat(32));
    let port = format!("base_port={base}");
    let vars = args("dev", &port, &SYNC_AUTO);
    let (code, r) = drill(&t, base, &vars, "kill-primary");
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verdict"], "pass", "{r:#}");
    let state = std::fs::read(t.join(".standby/state/dev.json")).unwrap();
    assert!(
        state.starts_with(b"{\"standby_encrypted\""),
        "the state is not encrypted"
    );
    let left: Vec<_> = std::fs::read_dir(t.join(".standby"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("drill-key"))
        .collect();
    assert!(left.is_empty(), "the key file was left behind");
}
