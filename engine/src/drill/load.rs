//! The drill's load: the members it drives, through their provider's drill capability
//! (`standby_provider_sdk::DrillTarget`), and a writer that inserts unique rows through the
//! traffic path (a DNS name, a TCP frontend such as HAProxy, or the members directly) and
//! records each insert as acknowledged, failed or indeterminate.

use super::run::DrillError;
use super::Outcome;
use crate::state::State;
use standby_provider_sdk::{DrillSession, DrillTarget, Member, Provider, Surface, WriteOutcome};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A member as the drill drives it: the provider's view of it, and where it can be hurt.
#[derive(Clone)]
pub(crate) struct DrillMember {
    pub member: Member,
    pub surface: Surface,
}

impl DrillMember {
    /// From the member and its provider's drill capability.
    pub(crate) fn new(member: Member, t: &dyn DrillTarget) -> Result<DrillMember, String> {
        let surface = t
            .surface(&member)
            .map_err(|e| format!("{}: {}", e.summary, e.detail))?;
        Ok(DrillMember { member, surface })
    }

    /// Where clients reach it, for a server.
    pub(crate) fn endpoint(&self) -> Option<(&str, u16)> {
        match &self.surface {
            Surface::Server { host, port } => Some((host, *port)),
            Surface::File { .. } => None,
        }
    }

    /// As sessions name what they reached: `host:port`, or the file.
    pub(crate) fn addr(&self) -> String {
        match &self.surface {
            Surface::Server { host, port } => format!("{host}:{port}"),
            Surface::File { path, .. } => path.display().to_string(),
        }
    }
}

/// One insert as the writer saw it.
pub(crate) struct Attempt {
    pub id: i64,
    pub outcome: Outcome,
    pub at: Instant,
    /// What the session reached: `host:port`, or a file's path.
    pub server: Arc<str>,
}

/// The provider's drill capability; the caller checked that it has one.
fn target(p: &dyn Provider) -> &dyn DrillTarget {
    p.drill_target()
        .expect("drills run only on members whose provider has the drill capability")
}

/// The drill's writer thread; dropping it stops and joins it, so no error path leaves it
/// writing.
pub(crate) struct Writer {
    stop: Arc<AtomicBool>,
    pub log: Arc<Mutex<Vec<Attempt>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    /// Starts writing through `route`.
    pub(crate) fn start(
        rt: tokio::runtime::Handle,
        route: &Route,
        provider: &Arc<dyn Provider>,
        run: &str,
    ) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let thread = writer(
            rt,
            route.clone(),
            provider.clone(),
            run.to_string(),
            stop.clone(),
            log.clone(),
        );
        Writer {
            stop,
            log,
            thread: Some(thread),
        }
    }

    /// Stops it and returns every attempt it made.
    pub(crate) fn finish(mut self) -> Vec<Attempt> {
        self.halt();
        self.log
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Inserts unique rows through `route` until stopped.
fn writer(
    rt: tokio::runtime::Handle,
    route: Route,
    provider: Arc<dyn Provider>,
    run: String,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Attempt>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let t = target(provider.as_ref());
        rt.block_on(async move {
            let mut id = 0_i64;
            let mut session: Option<Box<dyn DrillSession>> = None;
            let mut start = 0;
            while !stop.load(Ordering::SeqCst) {
                let mut s = match session.take() {
                    Some(s) if !s.is_closed() => s,
                    _ => match route.connect(t, &mut start).await {
                        Some(s) => s,
                        None => {
                            // Never sent: no id is used up.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                    },
                };
                id += 1;
                let outcome = match s.insert(&run, id).await {
                    WriteOutcome::Acknowledged => Outcome::Acknowledged,
                    WriteOutcome::Failed => Outcome::Failed,
                    WriteOutcome::Indeterminate => Outcome::Indeterminate,
                };
                let server = s.server();
                if outcome == Outcome::Acknowledged {
                    session = Some(s);
                }
                if let Ok(mut l) = log.lock() {
                    l.push(Attempt {
                        id,
                        outcome,
                        at: Instant::now(),
                        server,
                    });
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
    })
}

/// A session to the first member that takes writes, starting at `start`, as libpq's
/// multi-host `target_session_attrs=read-write` does, with a deadline per member.
pub(crate) async fn connect_rw<'m>(
    t: &dyn DrillTarget,
    members: &'m [DrillMember],
    start: &mut usize,
) -> Option<(Box<dyn DrillSession>, &'m DrillMember)> {
    for k in 0..members.len() {
        let i = (*start + k) % members.len();
        if let Some(s) = t.connect(&members[i].member, None).await {
            *start = i;
            return Some((s, &members[i]));
        }
    }
    None
}

impl Route {
    /// The writer's way to the primary: `--via`, else the group's DNS name, else the members.
    /// A path through the network needs members with an endpoint.
    pub(crate) fn choose(
        via: Option<&str>,
        traffic: &[String],
        state: &State,
        members: &[DrillMember],
        primary: &DrillMember,
    ) -> Result<Route, DrillError> {
        let networked = members.iter().all(|m| m.endpoint().is_some());
        let dns = || {
            traffic.iter().find_map(|addr| {
                let (_, st) = state.resources.iter().find(|(a, _)| {
                    a.to_string() == *addr && a.resource.resource.type_name == "dns_record"
                })?;
                let v = st.value().deep_unmark().0;
                Some((
                    v.get("server")?.as_str()?.to_string(),
                    // The name as clients query it, also when written relative to the zone.
                    standby_provider_dns::full_name(
                        v.get("name")?.as_str()?,
                        v.get("zone")?.as_str()?,
                    ),
                ))
            })
        };
        let members = members.to_vec();
        if let Some(addr) = via.filter(|v| !["members", "dns"].contains(v)) {
            if addr
                .rsplit_once(':')
                .is_none_or(|(_, p)| p.parse::<u16>().is_err())
            {
                return Err(DrillError::new(
                    format!("Invalid --via {addr:?}"),
                    "Use dns, members, or HOST:PORT of a TCP frontend such as HAProxy's.",
                ));
            }
        }
        if !networked && via.is_some_and(|v| v != "members") {
            return Err(DrillError::new(
                format!(
                    "--via {}, but the members are files",
                    via.unwrap_or_default()
                ),
                "Embedded databases have no network path: use --via members, or leave --via out.",
            ));
        }
        Ok(match via {
            Some("members") => Route::Members(members),
            Some("dns") => {
                let (server, name) = dns().ok_or_else(|| {
                    DrillError::new(
                        "--via dns, but the group has no dns_record",
                        "Use --via members, or --via HOST:PORT for a TCP frontend.",
                    )
                })?;
                Route::Dns {
                    server,
                    name,
                    members,
                }
            }
            Some(addr) => Route::Frontend {
                addr: addr.to_string(),
                member: primary.clone(),
            },
            None => match dns().filter(|_| networked) {
                Some((server, name)) => Route::Dns {
                    server,
                    name,
                    members,
                },
                None => Route::Members(members),
            },
        })
    }
}

/// How the writer reaches the primary.
#[derive(Clone)]
pub(crate) enum Route {
    /// A multi-host read-write client over the members.
    Members(Vec<DrillMember>),
    /// The DNS name a `dns_record` keeps pointing at the active member, resolved through its
    /// server before every connection; the port is that of the member at the answer.
    Dns {
        server: String,
        name: String,
        members: Vec<DrillMember>,
    },
    /// A TCP frontend that routes to the active member, such as HAProxy's.
    Frontend { addr: String, member: DrillMember },
}

impl Route {
    /// How the report names it.
    pub(crate) fn describe(&self) -> String {
        match self {
            Route::Members(m) => format!(
                "a multi-host read-write client over {}",
                m.iter()
                    .map(DrillMember::addr)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Route::Dns { server, name, .. } => {
                format!("the DNS name {name}, resolved through {server} before each connection")
            }
            Route::Frontend { addr, .. } => format!("the TCP frontend {addr}"),
        }
    }

    /// What the DNS name resolves to now (only for the DNS path).
    pub(crate) async fn answer(&self) -> Option<String> {
        let Route::Dns { server, name, .. } = self else {
            return None;
        };
        let answer = tokio::time::timeout(
            Duration::from_millis(200),
            standby_provider_dns::resolve(server, name, "A"),
        )
        .await
        .ok()?
        .ok()?;
        answer.into_iter().next()
    }

    /// A writing session through the path.
    async fn connect(
        &self,
        t: &dyn DrillTarget,
        start: &mut usize,
    ) -> Option<Box<dyn DrillSession>> {
        match self {
            Route::Members(members) => connect_rw(t, members, start).await.map(|(s, _)| s),
            Route::Dns {
                server,
                name,
                members,
            } => {
                let answer = standby_provider_dns::resolve(server, name, "A")
                    .await
                    .ok()?;
                let ip = answer.first()?;
                let m = members
                    .iter()
                    .find(|m| m.endpoint().is_some_and(|(host, _)| host == ip))?;
                let (_, port) = m.endpoint()?;
                t.connect(&m.member, Some((ip, port))).await
            }
            Route::Frontend { addr, member } => {
                let (host, port) = addr.rsplit_once(':')?;
                t.connect(&member.member, Some((host, port.parse().ok()?)))
                    .await
            }
        }
    }
}
