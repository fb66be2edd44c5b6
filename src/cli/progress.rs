//! The apply progress display: a bar with done/total and the running actions on a terminal,
//! plain log lines elsewhere.

use crate::apply::ApplyEvent;
use crate::plan::Action;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal as _;
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

/// The bar on a terminal (hidden elsewhere). The approval prompt suspends it while it asks,
/// so the spinner never draws over the question.
pub(crate) fn bar(total: usize) -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{pos}/{len}] {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Consumes events until the sender is dropped. Every line names the environment (but the
/// default one), so a log of several applies never leaves in doubt which one acted.
pub(crate) async fn show(
    mut rx: UnboundedReceiver<ApplyEvent>,
    total: usize,
    bar: ProgressBar,
    env: String,
) {
    let tty = std::io::stderr().is_terminal();
    let tag = if env == "default" {
        String::new()
    } else {
        format!("[{env}] ")
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
                        if tty { bar.println(line) } else { eprintln!("{line}") }
                    }
                    ApplyEvent::AwaitingApproval { addr, elapsed } => {
                        running.remove(&addr);
                        done += 1;
                        bar.set_position(done as u64);
                        let line = format!("{tag}{addr}: waiting for approval after {:.1}s [{done}/{total}]", elapsed.as_secs_f64());
                        if tty { bar.println(line) } else { eprintln!("{line}") }
                    }
                }
            }
            _ = tick.tick() => {
                if tty {
                    let now = Instant::now();
                    let msg: Vec<String> = running.iter().take(4).map(|(a, t)| format!("{a} ({}s)", (now - *t).as_secs())).collect();
                    let more = running.len().saturating_sub(4);
                    bar.set_message(if more > 0 { format!("{} and {more} more", msg.join(", ")) } else { msg.join(", ") });
                    bar.tick();
                }
            }
        }
    }
    bar.finish_and_clear();
}
