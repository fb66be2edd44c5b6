//! Building, signing, sending and reading DNS messages.

use base64::Engine as _;
use hickory_proto::op::{update_message, Message, OpCode, Query, ResponseCode, UpdateMessage as _};
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType, TSigner};
use standby_provider_sdk::ProviderError;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const TIMEOUT: Duration = Duration::from_secs(3);

/// A TSIG key as the resource's `key` block gives it.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub name: String,
    pub algorithm: String,
    pub secret: String,
}

pub(crate) fn rtype(t: &str) -> Result<RecordType, ProviderError> {
    Ok(match t {
        "A" => RecordType::A,
        "AAAA" => RecordType::AAAA,
        "CNAME" => RecordType::CNAME,
        "TXT" => RecordType::TXT,
        "SRV" => RecordType::SRV,
        other => {
            return Err(ProviderError::new(
                format!("unsupported record type {other:?}"),
                "type must be A, AAAA, CNAME, TXT or SRV",
            ))
        }
    })
}

pub(crate) fn name(s: &str) -> Result<Name, ProviderError> {
    let fq = if s.ends_with('.') {
        s.to_string()
    } else {
        format!("{s}.")
    };
    Name::from_ascii(&fq)
        .map_err(|e| ProviderError::new(format!("invalid DNS name {s:?}"), e.to_string()))
}

/// One record value in its presentation form to record data.
pub(crate) fn rdata(t: RecordType, v: &str) -> Result<RData, ProviderError> {
    let bad =
        |what: &str| ProviderError::new(format!("invalid {t} record {v:?}"), what.to_string());
    Ok(match t {
        RecordType::A => RData::A(A(v
            .parse()
            .map_err(|_| bad("an A record is an IPv4 address"))?)),
        RecordType::AAAA => RData::AAAA(AAAA(
            v.parse()
                .map_err(|_| bad("an AAAA record is an IPv6 address"))?,
        )),
        RecordType::CNAME => RData::CNAME(CNAME(name(v)?)),
        RecordType::TXT => RData::TXT(TXT::new(vec![v.to_string()])),
        RecordType::SRV => {
            let f: Vec<&str> = v.split_whitespace().collect();
            let [p, w, port, target] = f.as_slice() else {
                return Err(bad("an SRV record is \"PRIORITY WEIGHT PORT TARGET\""));
            };
            RData::SRV(SRV::new(
                p.parse().map_err(|_| bad("bad priority"))?,
                w.parse().map_err(|_| bad("bad weight"))?,
                port.parse().map_err(|_| bad("bad port"))?,
                name(target)?,
            ))
        }
        _ => return Err(bad("unsupported type")),
    })
}

/// Record data to its presentation form, as the resource's `records` spells it.
pub(crate) fn present(d: &RData) -> Option<String> {
    Some(match d {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(c) => c.0.to_ascii().trim_end_matches('.').to_string(),
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()
            .join(""),
        RData::SRV(s) => format!(
            "{} {} {} {}",
            s.priority,
            s.weight,
            s.port,
            s.target.to_ascii().trim_end_matches('.')
        ),
        _ => return None,
    })
}

fn signer(key: &Key) -> Result<TSigner, ProviderError> {
    let algorithm = match key
        .algorithm
        .trim_end_matches('.')
        .to_ascii_lowercase()
        .as_str()
    {
        "hmac-sha256" => TsigAlgorithm::HmacSha256,
        "hmac-sha384" => TsigAlgorithm::HmacSha384,
        "hmac-sha512" => TsigAlgorithm::HmacSha512,
        other => {
            return Err(ProviderError::new(
                format!("unsupported TSIG algorithm {other:?}"),
                "use hmac-sha256, hmac-sha384 or hmac-sha512",
            ))
        }
    };
    let secret = base64::engine::general_purpose::STANDARD
        .decode(key.secret.trim())
        .map_err(|_| {
            ProviderError::new(
                "the TSIG secret is not base64",
                "copy the secret from the key file that tsig-keygen wrote",
            )
        })?;
    TSigner::new(secret, algorithm, name(&key.name)?, 300)
        .map_err(|e| ProviderError::new("cannot use the TSIG key", e.to_string()))
}

/// Sends a message over UDP, falling back to TCP when the answer is truncated or UDP fails.
async fn exchange(server: SocketAddr, bytes: &[u8]) -> Result<Message, ProviderError> {
    let udp = async {
        let sock = tokio::net::UdpSocket::bind(if server.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        })
        .await?;
        sock.connect(server).await?;
        sock.send(bytes).await?;
        let mut buf = vec![0u8; 65535];
        let n = sock.recv(&mut buf).await?;
        buf.truncate(n);
        Ok::<_, std::io::Error>(buf)
    };
    if let Ok(Ok(buf)) = tokio::time::timeout(TIMEOUT, udp).await {
        if let Ok(m) = Message::from_vec(&buf) {
            if !m.metadata.truncation {
                return Ok(m);
            }
        }
    }
    let tcp = async {
        let mut s = tokio::net::TcpStream::connect(server).await?;
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        s.write_all(&len.to_be_bytes()).await?;
        s.write_all(bytes).await?;
        let mut lb = [0u8; 2];
        s.read_exact(&mut lb).await?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(lb))];
        s.read_exact(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(TIMEOUT, tcp)
        .await
        .map_err(|_| ProviderError::new(format!("no answer from {server}"), "the DNS server did not answer within 3 s over UDP or TCP; check server (host:port) and that it runs"))?
        .map_err(|e| ProviderError::new(format!("cannot reach {server}"), format!("{e}; check server (host:port) and that the DNS server runs")))?;
    Message::from_vec(&buf).map_err(|e| ProviderError::new("unreadable DNS answer", e.to_string()))
}

pub(crate) fn server_addr(s: &str) -> Result<SocketAddr, ProviderError> {
    // "host:port" and "[v6]:port" carry a port; a bare address gets the DNS port.
    let with_port = if s.starts_with('[') || s.matches(':').count() == 1 {
        s.to_string()
    } else {
        format!("{s}:53")
    };
    with_port.parse().map_err(|_| {
        ProviderError::new(
            format!("invalid server {s:?}"),
            "server is host:port with an IP address, such as 127.0.0.1:5354",
        )
    })
}

fn check(resp: &Message, zone: &str, key: &Key) -> Result<(), ProviderError> {
    // Read the response code directly: a wrong key can otherwise surface as a confusing
    // HMAC error.
    match resp.metadata.response_code {
        ResponseCode::NoError => Ok(()),
        ResponseCode::Refused => Err(ProviderError::new("the DNS server REFUSED the update", format!("check that zone {zone} has `allow-update {{ key \"{}\"; }}` and that the server is primary for it", key.name))),
        ResponseCode::NotAuth | ResponseCode::BADSIG | ResponseCode::BADKEY | ResponseCode::BADTIME => Err(ProviderError::new(
            format!("the DNS server rejected the TSIG signature ({})", resp.metadata.response_code),
            format!("check the key block: name {:?}, algorithm {:?} and the secret must match the server's key, and the clocks must agree", key.name, key.algorithm),
        )),
        ResponseCode::NotZone => Err(ProviderError::new(format!("the name is not in zone {zone}"), "the record name must end with the zone")),
        other => Err(ProviderError::new(format!("the DNS update failed: {other}"), format!("response code {other} from the server for zone {zone}"))),
    }
}

/// Replaces the whole RRset in one atomic, signed update; an empty `values` deletes it.
pub(crate) async fn replace(
    server: &str,
    zone: &str,
    rname: &str,
    t: RecordType,
    ttl: u32,
    values: &[String],
    key: &Key,
) -> Result<(), ProviderError> {
    let (zone_name, owner) = (name(zone)?, name(rname)?);
    if !zone_name.zone_of(&owner) {
        return Err(ProviderError::new(
            format!("{rname} is not in zone {zone}"),
            "the record name must end with the zone",
        ));
    }
    let mut msg =
        update_message::delete_rrset(Record::update0(owner.clone(), 0, t), zone_name, false);
    for v in values {
        msg.add_update(Record::from_rdata(owner.clone(), ttl, rdata(t, v)?));
    }
    msg.metadata.id = rand_id();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    msg.finalize(&signer(key)?, now)
        .map_err(|e| ProviderError::new("cannot sign the update", e.to_string()))?;
    let bytes = msg
        .to_vec()
        .map_err(|e| ProviderError::new("cannot encode the update", e.to_string()))?;
    let resp = exchange(server_addr(server)?, &bytes).await?;
    check(&resp, zone, key)
}

/// The current RRset: its TTL and values, or `None` when there is none.
pub(crate) async fn lookup(
    server: &str,
    rname: &str,
    t: RecordType,
) -> Result<Option<(u32, Vec<String>)>, ProviderError> {
    let mut msg = Message::query();
    msg.metadata.id = rand_id();
    msg.metadata.op_code = OpCode::Query;
    msg.metadata.recursion_desired = false;
    msg.add_query(Query::query(name(rname)?, t));
    let bytes = msg
        .to_vec()
        .map_err(|e| ProviderError::new("cannot encode the query", e.to_string()))?;
    let resp = exchange(server_addr(server)?, &bytes).await?;
    match resp.metadata.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        other => {
            return Err(ProviderError::new(
                format!("the query for {rname} failed: {other}"),
                "check that the server is authoritative for the zone",
            ))
        }
    }
    let mut ttl = 0;
    let mut values: Vec<String> = resp
        .answers
        .iter()
        .filter(|r| r.record_type() == t)
        .filter_map(|r| {
            ttl = r.ttl;
            present(&r.data)
        })
        .collect();
    values.sort();
    Ok((!values.is_empty()).then_some((ttl, values)))
}

fn rand_id() -> u16 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (n ^ (n >> 16)) as u16 ^ (std::process::id() as u16)
}
