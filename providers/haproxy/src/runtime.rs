//! The HAProxy runtime API: one command per connection, answer until the server closes.

use standby_provider_sdk::ProviderError;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Sends one command and returns HAProxy's answer.
pub(crate) async fn command(socket: &str, cmd: &str) -> Result<String, ProviderError> {
    // One command per connection: a `;` or a line break would smuggle in a second one.
    if cmd.contains([';', '\n', '\r']) {
        return Err(ProviderError::new(
            "refused to send a HAProxy command",
            format!("{cmd:?} holds `;` or a line break, which would start another command"),
        ));
    }
    let io = async {
        let mut out = Vec::new();
        if socket.starts_with('/') || socket.starts_with('.') {
            let mut s = tokio::net::UnixStream::connect(socket).await?;
            s.write_all(format!("{cmd}\n").as_bytes()).await?;
            s.read_to_end(&mut out).await?;
        } else {
            let mut s = tokio::net::TcpStream::connect(socket).await?;
            s.write_all(format!("{cmd}\n").as_bytes()).await?;
            s.read_to_end(&mut out).await?;
        }
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&out).into_owned())
    };
    let text = tokio::time::timeout(Duration::from_secs(5), io)
        .await
        .map_err(|_| ProviderError::new(format!("HAProxy did not answer on {socket}"), "the admin socket accepted the connection but sent nothing within 5 s"))?
        .map_err(|e| {
            ProviderError::new(
                format!("cannot connect to the HAProxy admin socket {socket}"),
                format!("{e}. Check that HAProxy runs and its global section has `stats socket {socket} mode 600 level admin`."),
            )
        })?;
    let lower = text.to_ascii_lowercase();
    if lower.contains("permission denied") {
        return Err(ProviderError::new(format!("the HAProxy socket {socket} lacks admin level"), "set `stats socket ... level admin` in the global section; standby changes server states and addresses"));
    }
    if lower.starts_with("unknown command") {
        return Err(ProviderError::new(
            "HAProxy did not understand a command",
            format!("{cmd:?}: {}", text.trim()),
        ));
    }
    Ok(text)
}

/// One server's state from `show servers state BACKEND`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerState {
    pub name: String,
    pub addr: String,
    pub port: u16,
    /// Not in forced maintenance.
    pub enabled: bool,
}

/// Parses `show servers state` (format 1).
pub(crate) fn parse_servers_state(text: &str, backend: &str) -> Vec<ServerState> {
    let mut header: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("# ") {
            header = h.split_whitespace().map(str::to_string).collect();
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || header.is_empty() {
            continue;
        }
        let get = |k: &str| {
            header
                .iter()
                .position(|h| h == k)
                .and_then(|i| f.get(i))
                .copied()
                .unwrap_or("")
        };
        if get("be_name") != backend {
            continue;
        }
        // 0x01: forced maintenance, 0x02: inherited; 0x04 (`disabled` in the configuration)
        // stays set after `state ready` although the server takes traffic again.
        let admin: u32 = get("srv_admin_state").parse().unwrap_or(0);
        out.push(ServerState {
            name: get("srv_name").to_string(),
            addr: get("srv_addr").to_string(),
            port: get("srv_port").parse().unwrap_or(0),
            enabled: admin & 0x03 == 0,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_servers_state() {
        let text = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n3 db 1 east 127.0.0.2 2 0 1 1 5 1 0 0 0 0 0 0 - 5432 - 0 0 - - 0\n3 db 2 west 127.0.0.3 0 1 1 1 5 1 0 0 0 0 0 0 - 5433 - 0 0 - - 0\n";
        let s = parse_servers_state(text, "db");
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0],
            ServerState {
                name: "east".into(),
                addr: "127.0.0.2".into(),
                port: 5432,
                enabled: true
            }
        );
        assert!(!s[1].enabled);
    }
}
