//! Streaming replication as standby's replication capability.

use crate::resource::PostgresProvider;
use crate::server::{format_lsn, parse_lsn, perr, Server};
use async_trait::async_trait;
use standby_provider_sdk::{
    Checksums, FenceOutcome, Member, MemberStatus, ProviderError, Replication, ReplicationMode,
    Role,
};
use std::time::{Duration, Instant};

const EPOCH_TABLE: &str = "standby_epoch";

/// Runs ALTER SYSTEM statements (each on its own: they cannot share a transaction) and reloads.
async fn alter_system(
    c: &tokio_postgres::Client,
    statements: &[&str],
    what: &str,
) -> Result<(), ProviderError> {
    for st in statements {
        c.batch_execute(st)
            .await
            .map_err(|e| perr(format!("cannot {what}"), e))?;
    }
    c.batch_execute("SELECT pg_reload_conf()")
        .await
        .map_err(|e| perr(format!("cannot {what}"), e))
}

impl PostgresProvider {
    fn member(&self, m: &Member) -> Result<Server, ProviderError> {
        self.server(&m.state)
    }

    /// Rebuilds `standby` as a streaming standby of `primary` with pg_basebackup.
    async fn basebackup(
        &self,
        standby: &Server,
        site: &str,
        primary: &Server,
    ) -> Result<(), ProviderError> {
        if standby.is_running().await {
            standby.stop("fast").await?;
        }
        standby.wipe()?;
        standby.make_data_dir()?;
        let dir = standby.data_dir.display().to_string();
        let port = primary.port.to_string();
        standby
            .run_client(
                "pg_basebackup",
                &[
                    "-h",
                    &primary.listen,
                    "-p",
                    &port,
                    "-U",
                    &primary.superuser,
                    "-D",
                    &dir,
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                ],
                primary,
            )
            .await?;
        self.become_standby(standby, site).await
    }

    /// After pg_basebackup or pg_rewind copied the source's files: own settings, own name, start.
    async fn become_standby(&self, s: &Server, site: &str) -> Result<(), ProviderError> {
        s.write_conf()?;
        s.write_role_conf(site)?;
        let signal = s.data_dir.join("standby.signal");
        if !signal.exists() {
            s.write_file("standby.signal", "")?;
        }
        s.start().await?;
        let c = s.connect().await?;
        let recovering: bool = c
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map_err(|e| perr("cannot read the role", e))?
            .get(0);
        if !recovering {
            // Never leave a second writable primary behind.
            drop(c);
            s.stop("immediate").await?;
            return Err(ProviderError::new(
                "the member came up as a primary",
                format!(
                    "{}:{} is not in recovery after rejoining; it was stopped",
                    s.listen, s.port
                ),
            ));
        }
        Ok(())
    }

    /// Sets `synchronous_standby_names` on a primary.
    async fn set_sync(
        &self,
        primary: &Server,
        standbys: &[String],
        mode: ReplicationMode,
    ) -> Result<(), ProviderError> {
        let c = primary.connect().await?;
        let sql = if mode == ReplicationMode::Sync && !standbys.is_empty() {
            format!(
                "ALTER SYSTEM SET synchronous_standby_names = '{}'",
                crate::secret::sync_names(standbys).replace('\'', "''")
            )
        } else {
            "ALTER SYSTEM RESET synchronous_standby_names".to_string()
        };
        alter_system(&c, &[&sql], "set the replication mode").await?;
        if mode == ReplicationMode::Sync && !standbys.is_empty() {
            // The reload is asynchronous: report sync only once a standby is in sync.
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                let n: i64 = c
                    .query_one(
                        "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'",
                        &[],
                    )
                    .await
                    .map_err(|e| perr("cannot read replication", e))?
                    .get(0);
                if n > 0 {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            return Err(ProviderError::new(
                "no standby became synchronous",
                format!(
                    "synchronous_standby_names names {}, but none is in sync after 10 s",
                    standbys.join(", ")
                ),
            ));
        }
        Ok(())
    }

    async fn epoch_seen(c: &tokio_postgres::Client) -> u64 {
        let q = format!("SELECT coalesce(max(epoch), 0)::float8 FROM {EPOCH_TABLE}");
        match c.query_one(q.as_str(), &[]).await {
            Ok(r) => r.get::<_, f64>(0) as u64,
            Err(_) => 0,
        }
    }
}

#[async_trait]
impl Replication for PostgresProvider {
    fn replicates(&self, type_name: &str) -> bool {
        type_name == "postgres_server"
    }

    async fn probe(&self, member: &Member) -> Result<(), ProviderError> {
        let s = self.member(member)?;
        let c = s.connect().await?;
        c.simple_query("SELECT 1").await.map(|_| ()).map_err(|e| {
            ProviderError::new(
                format!("{}:{} failed SELECT 1", s.listen, s.port),
                e.to_string(),
            )
        })
    }

    fn address(&self, member: &Member) -> Option<String> {
        self.member(member)
            .ok()
            .map(|s| format!("{}:{}", s.listen, s.port))
    }

    async fn status(
        &self,
        member: &Member,
        primary: Option<&Member>,
    ) -> Result<MemberStatus, ProviderError> {
        let s = self.member(member)?;
        let down = MemberStatus {
            role: Role::Down,
            healthy: false,
            position: 0,
            lag_bytes: 0,
            lag_seconds: 0.0,
            in_sync: false,
            epoch: 0,
            detail: String::new(),
        };
        // A postmaster stopped by a signal accepts connections it never serves: say so now
        // rather than after a whole connection deadline.
        if s.is_frozen() {
            return Ok(MemberStatus {
                detail: format!(
                    "{}:{}: the postmaster is frozen (stopped by a signal)",
                    s.listen, s.port
                ),
                ..down
            });
        }
        let Ok(c) = s.connect().await else {
            return Ok(MemberStatus {
                detail: format!("{}:{} does not answer", s.listen, s.port),
                ..down
            });
        };
        let row = c
            .query_one(
                "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only'), \
                 CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text ELSE pg_current_wal_lsn()::text END, \
                 coalesce(pg_last_wal_receive_lsn()::text, ''), \
                 coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8",
                &[],
            )
            .await
            .map_err(|e| perr("cannot read the status", e))?;
        let recovering: bool = row.get(0);
        let read_only = row.get::<_, String>(1) == "on";
        let position = parse_lsn(&row.get::<_, String>(2));
        let received = parse_lsn(&row.get::<_, String>(3));
        let epoch = Self::epoch_seen(&c).await;
        let role = match (recovering, read_only) {
            (true, _) => Role::Standby,
            (false, true) => Role::Fenced,
            (false, false) => Role::Primary,
        };
        let mut st = MemberStatus {
            role,
            healthy: true,
            position,
            lag_bytes: 0,
            lag_seconds: 0.0,
            in_sync: !recovering,
            epoch,
            detail: String::new(),
        };
        if recovering {
            match primary.map(|p| self.member(p)) {
                Some(Ok(p)) => {
                    match p.connect().await {
                        Ok(pc) => {
                            let r = pc
                            .query_one("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)::float8, coalesce((SELECT sync_state FROM pg_stat_replication WHERE application_name = $2 LIMIT 1), '')", &[&format_lsn(position), &member.site])
                            .await
                            .map_err(|e| perr("cannot read the primary's position", e))?;
                            let lag = r.get::<_, f64>(0).max(0.0) as u64;
                            st.lag_bytes = lag;
                            st.lag_seconds = if lag == 0 {
                                0.0
                            } else {
                                row.get::<_, f64>(4).max(0.0)
                            };
                            st.in_sync = r.get::<_, String>(1) == "sync" || lag == 0;
                        }
                        Err(_) => {
                            st.in_sync = received <= position;
                            st.detail = "primary unreachable: lag measured against what this standby received".into();
                        }
                    }
                }
                _ => {
                    st.lag_bytes = received.saturating_sub(position);
                    st.in_sync = received <= position;
                }
            }
        }
        Ok(st)
    }

    async fn configure_roles(
        &self,
        primary: &Member,
        standbys: &[Member],
        mode: ReplicationMode,
    ) -> Result<(), ProviderError> {
        let p = self.member(primary)?;
        p.write_role_conf(&primary.site)?;
        if !p.is_running().await {
            p.start().await?;
        }
        let c = p.connect().await?;
        alter_system(
            &c,
            &["ALTER SYSTEM RESET default_transaction_read_only"],
            "configure the primary",
        )
        .await?;
        for s in standbys {
            let srv = self.member(s)?;
            // Keep a standby that already streams from this primary.
            let streaming = match srv.connect().await {
                Ok(sc) => sc.query_one("SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming' AND sender_port = $1)", &[&i32::from(p.port)]).await.map(|r| r.get::<_, bool>(0)).unwrap_or(false),
                Err(_) => false,
            };
            if !streaming {
                self.basebackup(&srv, &s.site, &p).await?;
            }
        }
        self.set_sync(
            &p,
            &standbys.iter().map(|s| s.site.clone()).collect::<Vec<_>>(),
            mode,
        )
        .await
    }

    async fn fence(
        &self,
        member: &Member,
        epoch: u64,
        best_effort: bool,
    ) -> Result<FenceOutcome, ProviderError> {
        let s = self.member(member)?;
        let attempt = async {
            // A postmaster that is gone cannot take writes: say so without waiting on the
            // network (a dead server's port may still accept connections for a while).
            if s.data_dir.join("PG_VERSION").exists() && !s.is_running().await {
                return Err(ProviderError::new(
                    format!("no server runs in {}", s.data_dir.display()),
                    "the postmaster is gone",
                ));
            }
            if s.is_frozen() {
                return Err(ProviderError::new(
                    format!("{}:{} is frozen", s.listen, s.port),
                    "the postmaster is stopped by a signal and cannot answer",
                ));
            }
            let c = tokio::time::timeout(Duration::from_secs(1), s.connect())
                .await
                .map_err(|_| {
                    ProviderError::new(
                        format!("{}:{} does not answer", s.listen, s.port),
                        "no answer within 1 s",
                    )
                })??;
            alter_system(
                &c,
                &["ALTER SYSTEM SET default_transaction_read_only = on"],
                "fence",
            )
            .await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let ended: i64 = c
                .query_one("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()", &[])
                .await
                .map_err(|e| perr("cannot end sessions", e))?
                .get(0);
            c.batch_execute("CHECKPOINT")
                .await
                .map_err(|e| perr("cannot checkpoint", e))?;
            let lsn: String = c
                .query_one("SELECT pg_current_wal_lsn()::text", &[])
                .await
                .map_err(|e| perr("cannot read the final position", e))?
                .get(0);
            Ok::<_, ProviderError>((ended, parse_lsn(&lsn), lsn))
        };
        match attempt.await {
            Ok((ended, pos, lsn)) => Ok(FenceOutcome {
                confirmed: true,
                final_position: Some(pos),
                detail: format!(
                    "read-only at epoch {epoch}; ended {ended} session(s); final position {lsn}"
                ),
            }),
            Err(e) if best_effort => {
                // Unreachable: make sure it is not running before anyone else takes writes.
                let stopped = if !s.data_dir.exists() {
                    false
                } else if s.is_running().await {
                    // A hung postmaster (SIGSTOP, a frozen VM) never acts on pg_ctl's signal,
                    // so give it a moment, then shoot it: nothing else may take writes first.
                    if !s.is_frozen() {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(2), s.stop("immediate")).await;
                    }
                    if s.is_running().await {
                        s.kill().await;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    !s.is_running().await
                } else {
                    true
                };
                // A stopped primary's WAL on disk says how far it wrote: the gap to measure.
                let final_position = if stopped { s.wal_end().await } else { None };
                Ok(FenceOutcome {
                    confirmed: stopped,
                    final_position,
                    detail: if stopped {
                        format!(
                            "{}; confirmed that no server runs in {}",
                            e.summary,
                            s.data_dir.display()
                        )
                    } else {
                        format!("{}; could not confirm that it is stopped", e.summary)
                    },
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn unfence(&self, member: &Member) -> Result<(), ProviderError> {
        let s = self.member(member)?;
        let c = s.connect().await?;
        alter_system(
            &c,
            &["ALTER SYSTEM RESET default_transaction_read_only"],
            "unfence",
        )
        .await
    }

    async fn catch_up(
        &self,
        target: &Member,
        _primary: &Member,
        position: u64,
        timeout: Duration,
    ) -> Result<u64, ProviderError> {
        let s = self.member(target)?;
        let c = s.connect().await?;
        let start = Instant::now();
        loop {
            let lsn: String = c
                .query_one(
                    "SELECT coalesce(pg_last_wal_replay_lsn()::text, '0/0')",
                    &[],
                )
                .await
                .map_err(|e| perr("cannot read the replay position", e))?
                .get(0);
            let replayed = parse_lsn(&lsn);
            if replayed >= position {
                return Ok(replayed);
            }
            if start.elapsed() > timeout {
                return Err(ProviderError::new(
                    "catch-up timed out",
                    format!(
                        "replayed {lsn}, waiting for {} after {:?}",
                        format_lsn(position),
                        timeout
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn promote(&self, target: &Member, epoch: u64) -> Result<(), ProviderError> {
        let s = self.member(target)?;
        let c = s.connect().await?;
        let seen = Self::epoch_seen(&c).await;
        if seen > epoch {
            return Err(ProviderError::new("stale epoch", format!("{} has seen epoch {seen}, newer than {epoch}; another actor switched since this plan was made", target.site)));
        }
        let recovering: bool = c
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map_err(|e| perr("cannot read the role", e))?
            .get(0);
        if recovering {
            // pg_promote(wait => true) polls every 100 ms; poll ourselves, much more often.
            c.batch_execute("SELECT pg_promote(false)")
                .await
                .map_err(|e| perr("pg_promote failed", e))?;
            let start = Instant::now();
            loop {
                let still: bool = c
                    .query_one("SELECT pg_is_in_recovery()", &[])
                    .await
                    .map_err(|e| perr("cannot read the role", e))?
                    .get(0);
                if !still {
                    break;
                }
                if start.elapsed() > Duration::from_secs(60) {
                    return Err(ProviderError::new(
                        "promotion did not finish",
                        "the server was still in recovery 60 s after pg_promote",
                    ));
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        // Until re-protect, the new primary must not wait for a standby that is not there yet.
        alter_system(
            &c,
            &[
                "ALTER SYSTEM RESET default_transaction_read_only",
                "ALTER SYSTEM RESET synchronous_standby_names",
            ],
            "open the new primary",
        )
        .await?;
        let start = Instant::now();
        loop {
            let r = c
                .batch_execute(&format!(
                    "SET default_transaction_read_only = off; CREATE TABLE IF NOT EXISTS {EPOCH_TABLE} (epoch bigint NOT NULL, site text NOT NULL, at timestamptz NOT NULL DEFAULT now()); INSERT INTO {EPOCH_TABLE} (epoch, site) VALUES ({epoch}, '{}');",
                    target.site.replace('\'', "''")
                ))
                .await;
            match r {
                Ok(()) => return Ok(()),
                Err(e) if start.elapsed() > Duration::from_secs(10) => {
                    return Err(perr("the promoted server does not accept writes", e))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    async fn rejoin(
        &self,
        former: &Member,
        primary: &Member,
        mode: ReplicationMode,
    ) -> Result<Option<String>, ProviderError> {
        let f = self.member(former)?;
        let p = self.member(primary)?;
        if f.is_running().await {
            f.stop("fast").await?;
        }
        // pg_rewind reads the source's control file, which names the new timeline only after a
        // checkpoint; without one it sees no divergence and rewinds nothing.
        p.connect()
            .await?
            .batch_execute("CHECKPOINT")
            .await
            .map_err(|e| perr("cannot checkpoint the new primary", e))?;
        let dir = f.data_dir.display().to_string();
        let rewound = if f.data_dir.join("PG_VERSION").exists() {
            f.run_client(
                "pg_rewind",
                &[
                    "--target-pgdata",
                    &dir,
                    "--source-server",
                    &p.conninfo(),
                    "--write-recovery-conf",
                ],
                &p,
            )
            .await
            .is_ok()
        } else {
            false
        };
        if rewound {
            if let Err(e) = self.become_standby(&f, &former.site).await {
                // pg_rewind can leave a node that cannot follow (missing WAL): rebuild it.
                let _ = e;
                self.basebackup(&f, &former.site, &p).await?;
            }
        } else {
            self.basebackup(&f, &former.site, &p).await?;
        }
        // Sync mode is restored once the standby streams.
        let start = Instant::now();
        let pc = p.connect().await?;
        while start.elapsed() < Duration::from_secs(30) {
            let n: i64 = pc.query_one("SELECT count(*) FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'", &[&former.site]).await.map_err(|e| perr("cannot read replication", e))?.get(0);
            if n > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The sync list holds declared members only: the ones standby listed before (each
        // rejoin adds its own) and this one. A walsender's application_name is whatever its
        // client says, so it never decides who counts as a synchronous standby.
        let current: String = pc
            .query_one("SHOW synchronous_standby_names", &[])
            .await
            .map_err(|e| perr("cannot read synchronous_standby_names", e))?
            .get(0);
        let mut standbys = crate::secret::parse_sync_names(&current);
        if !standbys.contains(&former.site) {
            standbys.push(former.site.clone());
        }
        // pg_rewind discards what the former primary wrote after the fork; keeping a copy of
        // it, as the SQLite member does, is not done yet.
        self.set_sync(&p, &standbys, mode).await.map(|()| None)
    }

    async fn checksum(
        &self,
        member: &Member,
        datasets: &[String],
    ) -> Result<Checksums, ProviderError> {
        let s = self.member(member)?;
        let c = s.connect().await?;
        let mut out = Checksums::new();
        for name in datasets {
            let (schema, table) = name.split_once('.').unwrap_or(("public", name));
            let pk: Vec<String> = c
                .query(
                    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                     WHERE i.indrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
                    &[&schema, &table],
                )
                .await
                .map_err(|e| perr(format!("cannot read the primary key of {name}"), e))?
                .iter()
                .map(|r| format!("t.\"{}\"", r.get::<_, String>(0).replace('"', "\"\"")))
                .collect();
            let order = if pk.is_empty() {
                "t::text".to_string()
            } else {
                pk.join(", ")
            };
            let q = format!("SELECT count(*)::float8, coalesce(md5(string_agg(t::text, E'\\n' ORDER BY {order})), '') FROM \"{}\".\"{}\" t", schema.replace('"', "\"\""), table.replace('"', "\"\""));
            let r = c
                .query_one(q.as_str(), &[])
                .await
                .map_err(|e| perr(format!("cannot checksum {name}"), e))?;
            out.insert(
                name.clone(),
                format!("{}:{}", r.get::<_, f64>(0) as u64, r.get::<_, String>(1)),
            );
        }
        let failures: f64 = c
            .query_one(
                "SELECT coalesce(sum(checksum_failures), 0)::float8 FROM pg_stat_database",
                &[],
            )
            .await
            .map_err(|e| perr("cannot read page checksum failures", e))?
            .get(0);
        if failures > 0.0 {
            return Err(ProviderError::new(
                "page checksum failures",
                format!(
                    "{} reports {failures} data page checksum failure(s) in pg_stat_database",
                    member.site
                ),
            ));
        }
        Ok(out)
    }
}
