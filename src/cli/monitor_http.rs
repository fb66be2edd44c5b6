//! What a running monitor exposes: a status snapshot written to `.standby/monitor/ENV.json`
//! (which `standby status` reads), the same as JSON and Prometheus text on an optional HTTP
//! endpoint, and webhook notifications.

use super::bounded_listener::{Bounded, Limits};
pub(crate) use standby_engine::monitor::MonitorStatus;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Serves `/metrics` (Prometheus) and anything else as JSON: axum, spawned on the process's
/// runtime, so that requests are served concurrently beside the monitor's rounds and a slow
/// client holds only its own connection (a task, not the server). With `token`, every request needs
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
    let rt = super::runtime().map_err(|e| std::io::Error::other(e.oneline()))?;
    rt.spawn(async move {
        {
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
        }
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
    let (host, path) = standby_engine::monitor::split_url(url)?;
    let addr = std::net::ToSocketAddrs::to_socket_addrs(host)
        .map_err(|e| format!("{host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host}: no address"))?;
    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .map_err(|e| format!("{host}: {e}"))?;
    c.set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    let text = body.to_string();
    write!(
        c,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )
    .map_err(|e| e.to_string())?;
    let mut reply = String::new();
    let _ = c.read_to_string(&mut reply);
    match reply.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(()),
        Some(code) => Err(format!("{url} answered {code}")),
        None => Err(format!("{url} gave no answer")),
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
