//! The etcd election: one leader key on a lease, kept alive in the background, and the epoch
//! compare-and-swap.

use super::LeaseError;
use etcd_client::{Client, Compare, CompareOp, ConnectOptions, Txn, TxnOp, TxnOpResponse};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The lease this monitor holds.
#[derive(Debug, Clone, Copy)]
struct Held {
    lease: i64,
    token: i64,
    /// Until when the lease is certainly alive: the last acknowledged keep-alive's send time
    /// plus the TTL. etcd counts from when it received the request, which is later.
    valid_until: Instant,
}

/// Where this monitor stands after a campaign round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// It holds the lease; `fresh` when it won it this round.
    Leader {
        /// The fencing token.
        token: i64,
        /// Won this round.
        fresh: bool,
    },
    /// Another monitor holds it.
    Follower {
        /// The holder's name.
        holder: String,
    },
    /// It held the lease and lost it (expired, revoked, or unconfirmed for a whole TTL).
    Lost {
        /// The token it had.
        token: i64,
    },
}

/// What an epoch key holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EpochRecord {
    epoch: u64,
    token: i64,
    holder: String,
    to: String,
    at: String,
}

/// A successful claim of an epoch.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The fencing token written with the epoch.
    pub token: i64,
    /// The epoch claimed before, if any.
    pub previous: Option<u64>,
}

/// One monitor's place in the election of an environment.
pub struct Election {
    client: Client,
    endpoints: String,
    prefix: String,
    name: String,
    ttl: Duration,
    held: Arc<Mutex<Option<Held>>>,
    keeper: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Election {
    /// Connects to etcd for environment `env`; `name` identifies this monitor.
    pub async fn connect(
        endpoints: &[String],
        env: &str,
        name: &str,
        ttl: Duration,
    ) -> Result<Election, LeaseError> {
        let joined = endpoints.join(",");
        let unreachable = |e: etcd_client::Error| LeaseError::Unreachable {
            endpoints: joined.clone(),
            detail: e.to_string(),
        };
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(2));
        let mut client = Client::connect(endpoints, Some(options))
            .await
            .map_err(unreachable)?;
        // The channel connects lazily: ask something now so a wrong address fails here.
        client.status().await.map_err(unreachable)?;
        Ok(Election {
            client,
            endpoints: joined,
            prefix: format!("/standby/{env}"),
            name: name.to_string(),
            ttl: ttl.max(Duration::from_secs(1)),
            held: Arc::new(Mutex::new(None)),
            keeper: Mutex::new(None),
        })
    }

    /// The endpoints, for messages.
    pub fn endpoints(&self) -> &str {
        &self.endpoints
    }

    fn leader_key(&self) -> String {
        format!("{}/leader", self.prefix)
    }

    fn epoch_key(&self, group: &str) -> String {
        format!("{}/failover/{group}/epoch", self.prefix)
    }

    fn held(&self) -> Option<Held> {
        self.held.lock().ok().and_then(|h| *h)
    }

    fn drop_lease(&self) -> Option<Held> {
        if let Some(k) = self.keeper.lock().ok().and_then(|mut k| k.take()) {
            k.abort();
        }
        self.held.lock().ok().and_then(|mut h| h.take())
    }

    /// The current holder's name, if anyone holds the lease.
    pub async fn holder(&self) -> Result<Option<String>, LeaseError> {
        let r = self.client.clone().get(self.leader_key(), None).await?;
        Ok(r.kvs()
            .first()
            .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()))
    }

    /// One round: keeps the lease if held and alive, else tries to win it once.
    pub async fn campaign(&self) -> Result<Standing, LeaseError> {
        if let Some(h) = self.held() {
            if Instant::now() < h.valid_until {
                return Ok(Standing::Leader {
                    token: h.token,
                    fresh: false,
                });
            }
            self.drop_lease();
            return Ok(Standing::Lost { token: h.token });
        }
        if let Some(holder) = self.holder().await? {
            return Ok(Standing::Follower { holder });
        }
        let mut client = self.client.clone();
        let sent = Instant::now();
        let grant = client.lease_grant(self.ttl.as_secs() as i64, None).await?;
        // etcd may raise a TTL below its minimum; count with what it granted.
        let ttl = Duration::from_secs(grant.ttl().max(1) as u64);
        let key = self.leader_key();
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key.clone(),
                self.name.clone(),
                Some(etcd_client::PutOptions::new().with_lease(grant.id())),
            )])
            .or_else([TxnOp::get(key, None)]);
        let r = client.txn(txn).await?;
        if !r.succeeded() {
            let _ = client.lease_revoke(grant.id()).await;
            let holder = r
                .op_responses()
                .into_iter()
                .find_map(|o| match o {
                    TxnOpResponse::Get(g) => g
                        .kvs()
                        .first()
                        .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()),
                    _ => None,
                })
                .unwrap_or_else(|| "another monitor".into());
            return Ok(Standing::Follower { holder });
        }
        // The put is the transaction's only write, so the store's revision after it is the
        // leader key's create revision: the fencing token.
        let token = r.header().map_or(0, etcd_client::ResponseHeader::revision);
        let held = Held {
            lease: grant.id(),
            token,
            valid_until: sent + ttl,
        };
        if let Ok(mut h) = self.held.lock() {
            *h = Some(held);
        }
        let task = tokio::spawn(keep_alive(client, self.held.clone(), held, ttl));
        if let Ok(mut k) = self.keeper.lock() {
            *k = Some(task);
        }
        Ok(Standing::Leader { token, fresh: true })
    }

    /// Checks with etcd that this monitor still holds the lease it won; returns the token.
    pub async fn verify(&self) -> Result<i64, LeaseError> {
        let h = self
            .held()
            .filter(|h| Instant::now() < h.valid_until)
            .ok_or_else(|| LeaseError::NotHolder("its lease expired or was never won".into()))?;
        let r = self.client.clone().get(self.leader_key(), None).await?;
        match r.kvs().first() {
            Some(kv) if kv.create_revision() == h.token && kv.lease() == h.lease => Ok(h.token),
            Some(kv) => Err(LeaseError::NotHolder(format!(
                "the lease is held by {}",
                String::from_utf8_lossy(kv.value())
            ))),
            None => Err(LeaseError::NotHolder("nobody holds the lease".into())),
        }
    }

    /// The highest epoch of `group` claimed so far, by anyone.
    pub async fn claimed_epoch(&self, group: &str) -> Result<Option<u64>, LeaseError> {
        let r = self.client.clone().get(self.epoch_key(group), None).await?;
        Ok(r.kvs()
            .first()
            .and_then(|kv| serde_json::from_slice::<EpochRecord>(kv.value()).ok())
            .map(|e| e.epoch))
    }

    /// Claims `epoch` of `group` for a promotion to `to`: a compare-and-swap that succeeds
    /// only while this monitor's leader key exists at its token and nobody claimed an epoch
    /// since it was read.
    pub async fn claim(&self, group: &str, epoch: u64, to: &str) -> Result<Claim, LeaseError> {
        let h = self
            .held()
            .ok_or_else(|| LeaseError::NotHolder("its lease expired or was never won".into()))?;
        self.swap_epoch(group, epoch, to, Some(h.token)).await
    }

    /// Claims `epoch` of `group` for a promotion a person runs (`standby failover` and the
    /// like): no lease is needed, but the epoch is still taken exactly once, so a monitor that
    /// planned the same epoch cannot promote too.
    pub async fn claim_as_operator(
        &self,
        group: &str,
        epoch: u64,
        to: &str,
    ) -> Result<Claim, LeaseError> {
        self.swap_epoch(group, epoch, to, None).await
    }

    /// The compare-and-swap of the epoch key, under the leader key's token when given.
    async fn swap_epoch(
        &self,
        group: &str,
        epoch: u64,
        to: &str,
        token: Option<i64>,
    ) -> Result<Claim, LeaseError> {
        let mut client = self.client.clone();
        let key = self.epoch_key(group);
        let current = client.get(key.clone(), None).await?;
        let (mod_rev, previous) = match current.kvs().first() {
            Some(kv) => (
                kv.mod_revision(),
                serde_json::from_slice::<EpochRecord>(kv.value()).ok(),
            ),
            None => (0, None),
        };
        if let Some(p) = previous.as_ref().filter(|p| p.epoch >= epoch) {
            return Err(LeaseError::StaleEpoch {
                group: group.to_string(),
                held: p.epoch,
                by: format!("{} (token {})", p.holder, p.token),
                wanted: epoch,
            });
        }
        let record = EpochRecord {
            epoch,
            token: token.unwrap_or(0),
            holder: self.name.clone(),
            to: to.to_string(),
            at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        };
        let body = serde_json::to_vec(&record).map_err(|e| LeaseError::Etcd(e.to_string()))?;
        let mut compares = vec![Compare::mod_revision(
            key.clone(),
            CompareOp::Equal,
            mod_rev,
        )];
        if let Some(t) = token {
            compares.push(Compare::create_revision(
                self.leader_key(),
                CompareOp::Equal,
                t,
            ));
        }
        let txn = Txn::new()
            .when(compares)
            .and_then([TxnOp::put(key, body, None)])
            .or_else([TxnOp::get(self.leader_key(), None)]);
        let r = client.txn(txn).await?;
        if r.succeeded() {
            return Ok(Claim {
                token: token.unwrap_or(0),
                previous: previous.map(|p| p.epoch),
            });
        }
        let Some(token) = token else {
            return Err(LeaseError::StaleEpoch {
                group: group.to_string(),
                held: epoch,
                by: "a concurrent claim".into(),
                wanted: epoch,
            });
        };
        let holder = r.op_responses().into_iter().find_map(|o| match o {
            TxnOpResponse::Get(g) => g.kvs().first().map(|kv| {
                (
                    String::from_utf8_lossy(kv.value()).into_owned(),
                    kv.create_revision(),
                )
            }),
            _ => None,
        });
        Err(match holder {
            Some((_, rev)) if rev == token => LeaseError::StaleEpoch {
                group: group.to_string(),
                held: epoch,
                by: "a concurrent claim".into(),
                wanted: epoch,
            },
            Some((name, rev)) => LeaseError::NotHolder(format!(
                "its token {token} is stale: {name} holds the lease with token {rev}"
            )),
            None => LeaseError::NotHolder(format!(
                "its token {token} is stale: nobody holds the lease"
            )),
        })
    }

    /// Gives the lease up at once, so another monitor need not wait for the TTL.
    pub async fn resign(&self) {
        if let Some(h) = self.drop_lease() {
            let _ = self.client.clone().lease_revoke(h.lease).await;
        }
    }

    /// Stops keeping the lease alive without revoking it or forgetting it, as a frozen or
    /// partitioned monitor would: for tests that a lapsed holder cannot promote.
    #[doc(hidden)]
    pub fn stall(&self) {
        if let Some(k) = self.keeper.lock().ok().and_then(|mut k| k.take()) {
            k.abort();
        }
    }
}

/// Keeps a lease alive every third of its TTL until etcd says it is gone.
async fn keep_alive(mut client: Client, held: Arc<Mutex<Option<Held>>>, h: Held, ttl: Duration) {
    let round = ttl / 3;
    let mut stream = None;
    loop {
        tokio::time::sleep(round).await;
        if stream.is_none() {
            stream = client.lease_keep_alive(h.lease).await.ok();
        }
        let Some((keeper, responses)) = stream.as_mut() else {
            continue;
        };
        let sent = Instant::now();
        let answer = match keeper.keep_alive().await {
            Ok(()) => tokio::time::timeout(round, responses.message()).await,
            Err(_) => Ok(Ok(None)),
        };
        match answer {
            Ok(Ok(Some(r))) if r.ttl() > 0 => {
                if let Ok(mut g) = held.lock() {
                    if let Some(cur) = g.as_mut().filter(|c| c.lease == h.lease) {
                        cur.valid_until = sent + Duration::from_secs(r.ttl() as u64);
                    }
                }
            }
            Ok(Ok(Some(_))) => {
                // TTL 0: etcd no longer knows the lease.
                if let Ok(mut g) = held.lock() {
                    if g.is_some_and(|c| c.lease == h.lease) {
                        *g = None;
                    }
                }
                return;
            }
            // No answer: reopen the stream next round; `valid_until` runs out meanwhile.
            _ => stream = None,
        }
    }
}
