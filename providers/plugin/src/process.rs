//! A provider plugin process: started with go-plugin's handshake (the magic cookie, the
//! protocol versions standby speaks, this run's client certificate), its handshake line read
//! from stdout, a gRPC channel over the Unix socket it announced (TLS when it sent a
//! certificate), its logs forwarded, and a clean stop.

use crate::tls;
use crate::PluginError;
use hyper_util::rt::TokioIo;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tonic::transport::{Channel, Endpoint};

/// go-plugin's handshake cookie for Terraform providers: a plugin started without it says it
/// is not meant to be run by hand and exits.
const COOKIE: (&str, &str) = (
    "TF_PLUGIN_MAGIC_COOKIE",
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
);

/// How long a plugin may take to print its handshake line (Terraform waits a minute).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where a plugin's log lines go: the plugin's name and one line of its stderr.
pub type LogSink = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// The last lines a plugin logged, to show when it fails.
#[derive(Clone, Default)]
pub(crate) struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    fn push(&self, line: &str) {
        if let Ok(mut t) = self.0.lock() {
            if t.len() == 20 {
                t.pop_front();
            }
            t.push_back(line.to_string());
        }
    }

    /// The lines, oldest first.
    pub(crate) fn text(&self) -> String {
        self.0
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }
}

/// A running plugin.
pub(crate) struct Process {
    child: tokio::process::Child,
    /// The protocol's major version the plugin chose.
    pub protocol: u32,
    pub channel: Channel,
    pub tail: Tail,
    /// Whether the channel is TLS (the plugin sent a certificate).
    pub tls: bool,
}

/// What the handshake line says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Handshake {
    pub protocol: u32,
    pub network: String,
    pub address: String,
    pub cert: Option<Vec<u8>>,
}

/// Parses `CORE|APP|NETWORK|ADDRESS|PROTOCOL[|CERT]`.
pub(crate) fn parse_handshake(line: &str, versions: &[u32]) -> Result<Handshake, String> {
    let parts: Vec<&str> = line.trim().split('|').collect();
    if parts.len() < 5 {
        return Err(format!("not a go-plugin handshake line: {line:?}"));
    }
    if parts[0] != "1" {
        return Err(format!(
            "go-plugin core protocol {} (standby speaks 1)",
            parts[0]
        ));
    }
    let protocol: u32 = parts[1]
        .parse()
        .map_err(|_| format!("protocol version {:?} is not a number", parts[1]))?;
    if !versions.contains(&protocol) {
        return Err(format!(
            "the plugin speaks protocol {protocol}; standby speaks {}",
            versions
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" and ")
        ));
    }
    if parts[4] != "grpc" {
        return Err(format!(
            "the plugin serves {:?}, not grpc (a Terraform 0.11 provider?)",
            parts[4]
        ));
    }
    let cert = match parts.get(5).filter(|c| !c.is_empty()) {
        Some(c) => {
            use base64::Engine as _;
            let c = c.trim_end_matches('=');
            Some(
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(c)
                    .map_err(|e| format!("the plugin's certificate is not base64: {e}"))?,
            )
        }
        None => None,
    };
    Ok(Handshake {
        protocol,
        network: parts[2].to_string(),
        address: parts[3].to_string(),
        cert,
    })
}

impl Process {
    /// Starts the plugin at `exe`, speaking one of `versions`.
    pub(crate) async fn start(
        name: &str,
        exe: &Path,
        versions: &[u32],
        sink: LogSink,
    ) -> Result<Process, PluginError> {
        let cert = tls::client_cert().map_err(|e| PluginError::Start {
            path: exe.to_path_buf(),
            detail: e,
        })?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.env(COOKIE.0, COOKIE.1)
            .env(
                "PLUGIN_PROTOCOL_VERSIONS",
                versions
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            )
            .env("PLUGIN_CLIENT_CERT", &cert.pem)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // go-plugin servers ignore SIGINT: a standby that exits on Ctrl-C (or is killed)
        // takes its plugins with it.
        // SAFETY: prctl is async-signal-safe and touches only the child being started.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| PluginError::Start {
            path: exe.to_path_buf(),
            detail: e.to_string(),
        })?;
        let tail = Tail::default();
        forward(name, child.stderr.take(), &tail, &sink);
        let mut stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
        let line = tokio::time::timeout(START_TIMEOUT, stdout.next_line()).await;
        let failed = |detail: String, tail: &Tail| PluginError::Handshake {
            path: exe.to_path_buf(),
            detail,
            log: tail.text(),
        };
        let line = match line {
            Ok(Ok(Some(l))) => l,
            Ok(Ok(None)) | Ok(Err(_)) => {
                let status = child.wait().await.ok();
                // Let the stderr forwarder catch up with what the plugin said before it died.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(failed(
                    format!(
                        "it exited before its handshake ({})",
                        status.map_or("unknown status".into(), |s| s.to_string())
                    ),
                    &tail,
                ));
            }
            Err(_) => {
                return Err(failed(
                    format!("no handshake within {}s", START_TIMEOUT.as_secs()),
                    &tail,
                ))
            }
        };
        let hs = parse_handshake(&line, versions).map_err(|e| failed(e, &tail))?;
        // Anything else the plugin prints on stdout is a log line too.
        let (n, s, t) = (name.to_string(), sink.clone(), tail.clone());
        tokio::spawn(async move {
            while let Ok(Some(l)) = stdout.next_line().await {
                t.push(&l);
                s(&n, &l);
            }
        });
        let tls = hs.cert.is_some();
        let channel = connect(&hs, &cert)
            .await
            .map_err(|e| failed(format!("cannot connect to {}: {e}", hs.address), &tail))?;
        Ok(Process {
            child,
            protocol: hs.protocol,
            channel,
            tail,
            tls,
        })
    }

    /// How the process ended, if it did.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Asks the plugin to exit (go-plugin's controller), then kills it if it has not within
    /// two seconds.
    pub(crate) async fn stop(&mut self) {
        let mut c = crate::proto::controller::grpc_controller_client::GrpcControllerClient::new(
            self.channel.clone(),
        );
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            c.shutdown(crate::proto::controller::Empty {}),
        )
        .await;
        if tokio::time::timeout(Duration::from_secs(2), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Forwards the plugin's stderr, line by line, and keeps the last lines.
fn forward(name: &str, stderr: Option<tokio::process::ChildStderr>, tail: &Tail, sink: &LogSink) {
    let Some(stderr) = stderr else { return };
    let (name, sink, tail) = (name.to_string(), sink.clone(), tail.clone());
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            tail.push(&l);
            sink(&name, &l);
        }
    });
}

/// A gRPC channel to the plugin's socket; TLS with the pinned certificate when it sent one.
async fn connect(hs: &Handshake, ours: &tls::ClientCert) -> Result<Channel, String> {
    if hs.network != "unix" && hs.network != "tcp" {
        return Err(format!("unknown network {:?}", hs.network));
    }
    let config = match &hs.cert {
        Some(theirs) => Some(tls::client_config(ours, theirs.clone())?),
        None => None,
    };
    let (network, address) = (hs.network.clone(), PathBuf::from(&hs.address));
    let connector = tower::service_fn(move |_: tonic::transport::Uri| {
        let (network, address, config) = (network.clone(), address.clone(), config.clone());
        async move { Io::open(&network, &address, config).await.map(TokioIo::new) }
    });
    Endpoint::from_static("http://localhost")
        .connect_timeout(Duration::from_secs(10))
        .connect_with_connector(connector)
        .await
        .map_err(|e| {
            format!(
                "{e}: {}",
                std::error::Error::source(&e).map_or(String::new(), ToString::to_string)
            )
        })
}

/// A connection to the plugin: plain or TLS, over a Unix socket or loopback TCP.
enum Io {
    Plain(Box<dyn Stream>),
    Tls(Box<tokio_rustls::client::TlsStream<Box<dyn Stream>>>),
}

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

impl Io {
    async fn open(
        network: &str,
        address: &Path,
        config: Option<Arc<rustls::ClientConfig>>,
    ) -> std::io::Result<Io> {
        let raw: Box<dyn Stream> = if network == "unix" {
            Box::new(tokio::net::UnixStream::connect(address).await?)
        } else {
            Box::new(tokio::net::TcpStream::connect(address.to_string_lossy().as_ref()).await?)
        };
        let Some(config) = config else {
            return Ok(Io::Plain(raw));
        };
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("a valid name");
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, raw)
            .await?;
        Ok(Io::Tls(Box::new(tls)))
    }
}

impl tokio::io::AsyncRead for Io {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => std::pin::Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Io {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => std::pin::Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => std::pin::Pin::new(s).poll_flush(cx),
            Io::Tls(s) => std::pin::Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => std::pin::Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_lines() {
        let hs = parse_handshake("1|5|unix|/tmp/plugin1|grpc|", &[5, 6]).unwrap();
        assert_eq!(hs.protocol, 5);
        assert_eq!(hs.address, "/tmp/plugin1");
        assert_eq!(hs.cert, None);
        let hs = parse_handshake("1|6|unix|/tmp/p|grpc|AQID\n", &[5, 6]).unwrap();
        assert_eq!(hs.cert, Some(vec![1, 2, 3]));
        assert!(parse_handshake("1|4|unix|/tmp/p|grpc|", &[5, 6])
            .unwrap_err()
            .contains("speaks protocol 4"));
        assert!(parse_handshake("1|5|unix|/tmp/p|netrpc|", &[5, 6]).is_err());
        assert!(parse_handshake("hello", &[5]).is_err());
        assert!(parse_handshake("2|5|unix|/tmp/p|grpc|", &[5]).is_err());
    }
}
