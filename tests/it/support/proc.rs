//! Reading every process's argv and environment from /proc, as any local user (argv) or the
//! same user (environment) can, to prove a secret is in neither.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Every process whose argv or environment holds one of `needles`, as "pid where: argv",
/// except processes whose argv contains `exempt` (a program the user handed the secret to).
pub fn holders(needles: &[&str], exempt: Option<&str>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let argv = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if exempt.is_some_and(|x| argv.contains(x)) {
            continue;
        }
        for what in ["cmdline", "environ"] {
            let data = std::fs::read(e.path().join(what)).unwrap_or_default();
            for needle in needles {
                if data.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.insert(format!("{name} {what}: {argv}"));
                }
            }
        }
    }
    found
}

/// A thread that scans /proc until stopped, collecting what [`holders`] finds.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<BTreeSet<String>>>,
    thread: std::thread::JoinHandle<u64>,
}

impl Watcher {
    /// Starts scanning for `needles`.
    pub fn start(needles: &[&str], exempt: Option<&str>) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let needles: Vec<String> = needles.iter().map(ToString::to_string).collect();
        let exempt = exempt.map(str::to_string);
        let thread = {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                let refs: Vec<&str> = needles.iter().map(String::as_str).collect();
                let mut scans = 0;
                while !stop.load(Ordering::SeqCst) {
                    let found = holders(&refs, exempt.as_deref());
                    seen.lock().unwrap().extend(found);
                    scans += 1;
                }
                scans
            })
        };
        Watcher { stop, seen, thread }
    }

    /// Stops scanning: what was found, and how many scans ran.
    pub fn finish(self) -> (BTreeSet<String>, u64) {
        self.stop.store(true, Ordering::SeqCst);
        let scans = self.thread.join().unwrap();
        let seen = self.seen.lock().unwrap().clone();
        (seen, scans)
    }
}
