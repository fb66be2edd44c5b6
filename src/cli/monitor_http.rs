//! What a running monitor exposes: a status snapshot written to `.standby/monitor/ENV.json`
//! (which `standby status` reads), the same as JSON and Prometheus text on an optional HTTP
//! endpoint, and webhook notifications.

use super::bounded_listener::{Bounded, Limits};
pub(crate) use standby_engine::monitor::MonitorStatus;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Serves `/metrics` (Prometheus) and anything else as JSON, on its own thread: axum on a
/// small tokio runtime, so that requests are served concurrently and a slow client holds only
/// its own connection (a task, not the server). With `token`, every request needs
/// `Authorization: Bearer TOKEN`.
pub(crate) fn serve(
    listener: std::net::TcpListener,
    status: Arc<Mutex<MonitorStatus>>,
    token: Option<String>,
) -> std::io::Result<()> {
    serve_within(listener, status, token, Limits::default())
}

/// [`serve`] with `limits` on the connections clients may hold.
fn serve_within(
    listener: std::net::TcpListener,
    status: Arc<Mutex<MonitorStatus>>,
    token: Option<String>,
    limits: Limits,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    // Its own thread and runtime, the one exception to the process's single runtime: during a
    // failover, exactly when operators look, the apply's blocking work (fsync of the journal,
    // the state backend) must not starve the endpoint of workers.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        rt.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            let app = axum::Router::new().fallback(
                move |headers: axum::http::HeaderMap, uri: axum::http::Uri| {
                    let (status, token) = (status.clone(), token.clone());
                    async move { answer(&status, token.as_deref(), &headers, uri.path()) }
                },
            );
            let listener = Bounded::new(listener, limits);
            let _ = axum::serve(listener, app.into_make_service()).await;
        });
    });
    Ok(())
}

fn answer(
    status: &Mutex<MonitorStatus>,
    token: Option<&str>,
    headers: &axum::http::HeaderMap,
    path: &str,
) -> axum::response::Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse as _;
    if let Some(t) = token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            // The scheme is case-insensitive (RFC 7235).
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        // Compared as digests, so the time taken says nothing about how much of it matched.
        let digest = |s: &str| {
            use sha2::Digest as _;
            sha2::Sha256::digest(s.as_bytes())
        };
        if given.map(digest) != Some(digest(t)) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token is required\n",
            )
                .into_response();
        }
    }
    let snapshot = status.lock().map(|s| s.clone()).unwrap_or_default();
    if path.starts_with("/metrics") {
        (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            snapshot.prometheus(),
        )
            .into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string_pretty(&snapshot).unwrap_or_default(),
        )
            .into_response()
    }
}

/// Posts `body` as JSON to an `http://host:port/path` webhook; returns what went wrong.
pub(crate) fn notify(url: &str, body: &serde_json::Value) -> Result<(), String> {
    let rt = super::runtime().map_err(|e| e.oneline())?;
    let sent = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(3),
            standby_engine::monitor::post_json(url, body),
        )
        .await
    });
    match sent {
        Ok(Ok(code)) if (200..300).contains(&code) => Ok(()),
        Ok(Ok(code)) => Err(format!("{url} answered {code}")),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!("{url} gave no answer within 3s")),
    }
}

/// The bearer token in `file`; an empty file is an error, never an open endpoint.
pub(crate) fn read_token(file: &Path) -> Result<String, super::CliError> {
    let t = std::fs::read_to_string(file).map_err(|e| {
        super::CliError::msg(
            format!("Cannot read the token file {}", file.display()),
            e.to_string(),
        )
    })?;
    let t = t.trim();
    if t.contains(char::is_whitespace) {
        return Err(super::CliError::msg(
            format!(
                "The token file {} holds more than one token",
                file.display()
            ),
            "Put one bearer token in it, on one line, without spaces.",
        ));
    }
    if t.is_empty() {
        return Err(super::CliError::msg(
            format!("The token file {} is empty", file.display()),
            "Put the bearer token the status endpoint requires in it, or leave out --listen-token-file.",
        ));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;

    /// Clients that connect and send nothing held a connection each, forever; now at most
    /// `connections` are open and each is cut at its deadline, so a real request gets through.
    #[test]
    fn idle_clients_cannot_hold_the_status_endpoint() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits {
            connections: 4,
            lifetime: Duration::from_millis(700),
        };
        serve_within(listener, Arc::default(), None, limits).unwrap();
        let idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(100));
        let start = std::time::Instant::now();
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).unwrap();
        let waited = start.elapsed();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        // It waited for a slot: the idle ones were cut at their deadline, not before.
        assert!(
            waited >= Duration::from_millis(500),
            "answered after {waited:?}"
        );
        assert!(waited < Duration::from_secs(3), "answered after {waited:?}");
        // The idle connections were closed by the server.
        for mut i in idle {
            i.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = [0_u8; 16];
            assert!(matches!(i.read(&mut buf), Ok(0) | Err(_)));
        }
    }
}
