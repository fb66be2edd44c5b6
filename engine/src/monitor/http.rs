//! The monitor's HTTP client, on hyper (already built for tonic and axum): the `http` health
//! check's GET and the webhook's POST. Only `http://` URLs; errors name a URL only as it may
//! be shown, so a sensitive one stays out of logs.

use crate::plan::Target;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

fn client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// `http://host:port/path` split into the authority and the path (with its leading slash).
pub(crate) fn split_url(url: &str) -> Result<(&str, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    Ok((host, format!("/{path}")))
}

/// The error and its causes on one line (hyper's own text is only "client error (Connect)").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

async fn send(
    method: hyper::Method,
    url: &str,
    shown: &str,
    body: Option<String>,
) -> Result<u16, String> {
    split_url(url).map_err(|_| format!("{shown}: only http:// URLs are supported"))?;
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| format!("{shown}: not a valid URL"))?;
    let mut req = hyper::Request::builder().method(method.clone()).uri(uri);
    if body.is_some() {
        req = req.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|_| format!("{shown}: not a valid request"))?;
    let reply = client()
        .request(req)
        .await
        .map_err(|e| format!("{method} {shown}: {}", chain(&e)))?;
    Ok(reply.status().as_u16())
}

/// GETs an http:// URL; returns the status code. The caller bounds the time it takes.
pub async fn get(target: &Target) -> Result<u16, String> {
    send(hyper::Method::GET, target.expose(), target.shown(), None).await
}

/// POSTs `body` as JSON; returns the status code. The caller bounds the time it takes.
pub async fn post_json(url: &str, body: &serde_json::Value) -> Result<u16, String> {
    send(hyper::Method::POST, url, url, Some(body.to_string())).await
}
