//! The apply progress display: a bar with done/total and the running actions on a terminal,
//! plain log lines elsewhere.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use standby_engine::apply::ApplyEvent;
use standby_engine::plan::Action;
use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

fn verb(a: Action) -> (&'static str, &'static str) {
    match a {
        Action::Create => ("Creating...", "Creation complete"),
        Action::Update => ("Modifying...", "Modifications complete"),
        Action::Delete => ("Destroying...", "Destruction complete"),
        Action::CreateThenDelete | Action::DeleteThenCreate => {
            ("Replacing...", "Replacement complete")
        }
        Action::Read => ("Reading...", "Read complete"),
        Action::NoOp => ("", ""),
    }
}

/// The progress display: a bar on a terminal (hidden elsewhere), and whether a question is
/// being asked, during which nothing is drawn and finished lines wait.
#[derive(Clone)]
pub(crate) struct Progress {
    bar: ProgressBar,
    /// Whether a question is on the screen. Its lock is held while the screen changes:
    /// checking it and printing a line is one step, so no line goes to a detached bar.
    asking: Arc<Mutex<bool>>,
    /// One question at a time: two gates asking at once would share one answer.
    turn: Arc<Mutex<()>>,
}

impl Progress {
    pub(crate) fn new(total: usize) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{pos}/{len}] {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress {
            bar,
            asking: Arc::new(Mutex::new(false)),
            turn: Arc::new(Mutex::new(())),
        }
    }

    /// Runs `ask` (a question on the terminal and its answer) with the bar off the screen.
    /// The bar is detached rather than suspended: suspending holds the bar's lock until the
    /// answer comes, which would block the task that draws it, and a runtime worker with it.
    pub(crate) fn ask<T>(&self, ask: impl FnOnce() -> T) -> T {
        let _turn = self
            .turn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let on_terminal = !self.bar.is_hidden();
        {
            let mut asking = self.lock_screen();
            *asking = true;
            if on_terminal {
                self.bar.set_draw_target(ProgressDrawTarget::hidden());
                // Clear the line the bar was drawn on before the question takes it.
                eprint!("\r\x1b[2K");
            }
        }
        let answer = ask();
        let mut asking = self.lock_screen();
        if on_terminal {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        *asking = false;
        answer
    }

    fn lock_screen(&self) -> std::sync::MutexGuard<'_, bool> {
        self.asking
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Consumes events until the sender is dropped. Every line names the environment (but the
/// default one), so a log of several applies never leaves in doubt which one acted.
pub(crate) async fn show(
    mut rx: UnboundedReceiver<ApplyEvent>,
    total: usize,
    progress: Progress,
    env: String,
) {
    let bar = progress.bar.clone();
    let tty = std::io::stderr().is_terminal();
    let tag = if env == "default" {
        String::new()
    } else {
        format!("[{env}] ")
    };
    // Lines that finished while a question was on the screen, printed after the answer.
    let mut held: Vec<String> = Vec::new();
    let emit = |line: String, held: &mut Vec<String>| {
        let asking = progress.lock_screen();
        if *asking {
            held.push(line);
            return;
        }
        for l in held.drain(..).chain(std::iter::once(line)) {
            if tty {
                bar.println(l)
            } else {
                eprintln!("{l}")
            }
        }
        drop(asking);
    };
    let mut running: BTreeMap<String, Instant> = BTreeMap::new();
    let mut done = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                match ev {
                    ApplyEvent::Started { addr, action } => {
                        if !tty {
                            eprintln!("{tag}{addr}: {}", if addr.starts_with("failover.") { "Running..." } else { verb(action).0 });
                        }
                        running.insert(addr, Instant::now());
                    }
                    ApplyEvent::Finished { addr, action, elapsed, error } => {
                        running.remove(&addr);
                        done += 1;
                        bar.set_position(done as u64);
                        let line = match &error {
                            None => format!("{tag}{addr}: {} after {:.1}s [{done}/{total}]", if addr.starts_with("failover.") { "Done" } else { verb(action).1 }, elapsed.as_secs_f64()),
                            Some(e) if e.starts_with("caveat: ") => format!("{tag}{addr}: Done with a caveat after {:.1}s [{done}/{total}]: {}", elapsed.as_secs_f64(), &e["caveat: ".len()..]),
                            Some(e) => format!("{tag}{addr}: FAILED after {:.1}s [{done}/{total}]: {e}", elapsed.as_secs_f64()),
                        };
                        emit(line, &mut held);
                    }
                    ApplyEvent::AwaitingApproval { addr, elapsed } => {
                        running.remove(&addr);
                        done += 1;
                        bar.set_position(done as u64);
                        let line = format!("{tag}{addr}: waiting for approval after {:.1}s [{done}/{total}]", elapsed.as_secs_f64());
                        emit(line, &mut held);
                    }
                }
            }
            _ = tick.tick() => {
                let asking = progress.lock_screen();
                if tty && !*asking {
                    for l in held.drain(..) {
                        bar.println(l);
                    }
                    let now = Instant::now();
                    let msg: Vec<String> = running.iter().take(4).map(|(a, t)| format!("{a} ({}s)", (now - *t).as_secs())).collect();
                    let more = running.len().saturating_sub(4);
                    bar.set_message(if more > 0 { format!("{} and {more} more", msg.join(", ")) } else { msg.join(", ") });
                    bar.tick();
                }
                drop(asking);
            }
        }
    }
    // The bar leaves the screen first, so lines still held are not glued onto it.
    bar.finish_and_clear();
    for l in held.drain(..) {
        eprintln!("{l}");
    }
}
