//! `standby monitor` as a child process of a test, killed when dropped.

use super::Test;
use std::time::{Duration, Instant};

/// A running monitor and its log file.
pub struct Monitor(pub std::process::Child, pub std::path::PathBuf);

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Monitor {
    /// Starts `standby monitor ARGS`, logging to monitor.log; returns once it watches.
    pub fn start(t: &Test, args: &[&str]) -> Monitor {
        Monitor::named(t, "monitor", args)
    }

    /// Starts `standby monitor ARGS`, logging to NAME.log; returns once it watches.
    pub fn named(t: &Test, name: &str, args: &[&str]) -> Monitor {
        Monitor::with_failpoint(t, name, args, None)
    }

    /// Like [`Monitor::named`], with `STANDBY_FAILPOINT` set for this monitor only.
    pub fn with_failpoint(t: &Test, name: &str, args: &[&str], failpoint: Option<&str>) -> Monitor {
        let log = t.join(&format!("{name}.log"));
        let mut all = vec!["monitor"];
        all.extend_from_slice(args);
        let mut command = t.command(&all);
        if let Some(f) = failpoint {
            command.env("STANDBY_FAILPOINT", f);
        }
        let child = command
            .stdout(std::fs::File::create(t.join(&format!("{name}.out"))).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let m = Monitor(child, log);
        m.wait_for("watching failover.orders", Duration::from_secs(4));
        m
    }

    /// Waits until this monitor froze itself at a `freeze` failpoint (it wrote
    /// `.standby/failpoint` and stopped); false on timeout.
    pub fn wait_frozen(&self, t: &Test, timeout: Duration) -> bool {
        let start = Instant::now();
        let pid = self.0.id();
        while start.elapsed() < timeout {
            let stopped = super::is_stopped(pid);
            let marker = std::fs::read_to_string(t.join(".standby/failpoint")).unwrap_or_default();
            if stopped && marker.contains(&pid.to_string()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The address of the status endpoint, from the log line `--listen` prints.
    pub fn status_address(&self) -> String {
        for _ in 0..100 {
            if let Some(a) = self
                .log()
                .split("status on http://")
                .nth(1)
                .and_then(|r| r.split('/').next())
            {
                return a.to_string();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no status address in:\n{}", self.log())
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.1).unwrap_or_default()
    }

    /// Waits until the log contains `text`; false on timeout.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.log().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

/// Two monitors, m1 and m2, electing through etcd at `url` with a 2 s lease: returns once m1
/// holds the lease and m2 follows it.
pub fn elected_pair(t: &Test, vars: &[&str], url: &str) -> (Monitor, Monitor) {
    elected_pair_with(t, vars, url, None)
}

/// [`elected_pair`], with `STANDBY_FAILPOINT` set for m1 (the acting one) only.
pub fn elected_pair_with(
    t: &Test,
    vars: &[&str],
    url: &str,
    m1_failpoint: Option<&str>,
) -> (Monitor, Monitor) {
    let start = |name: &str, failpoint: Option<&str>| {
        let mut a = vars.to_vec();
        a.extend_from_slice(&["--etcd", url, "--lease-ttl", "2s", "--name", name]);
        Monitor::with_failpoint(t, name, &a, failpoint)
    };
    let m1 = start("m1", m1_failpoint);
    assert!(
        m1.wait_for("acquired the lease", Duration::from_secs(5)),
        "{}",
        m1.log()
    );
    let m2 = start("m2", None);
    assert!(
        m2.wait_for("following: m1", Duration::from_secs(5)),
        "{}",
        m2.log()
    );
    (m1, m2)
}
