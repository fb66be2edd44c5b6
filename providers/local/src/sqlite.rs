//! `sqlite_database`: an embedded database that can be a failover member.
//!
//! Replication copies the whole database with SQLite's online backup API. Standbys and fenced
//! primaries refuse writes through triggers that abort every INSERT, UPDATE and DELETE, so the
//! fence holds for any writer, root included. A member's role, epoch and replayed position live
//! in a sidecar file `PATH.standby.json`, because a backup overwrites the whole database.
//! The position is SQLite's file change counter (header bytes 24..28), which every write
//! transaction increments.

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use standby_provider_sdk::{
    Checksums, FenceOutcome, Member, MemberStatus, ProviderError, ReplicationMode, Role, Value,
};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

const FENCE_PREFIX: &str = "standby_fence_";

/// The sidecar record of a member.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub role: String,
    pub epoch: u64,
    pub replayed_position: u64,
    pub synced_at: f64,
}

fn perr(summary: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(summary, e.to_string())
}

pub(crate) fn meta_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".standby.json");
    PathBuf::from(s)
}

pub(crate) fn read_meta(db: &Path) -> Meta {
    std::fs::read(meta_path(db))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| Meta {
            role: "primary".into(),
            ..Meta::default()
        })
}

fn write_meta(db: &Path, m: &Meta) -> Result<(), ProviderError> {
    crate::atomic::write(
        &meta_path(db),
        &serde_json::to_vec(m).unwrap_or_default(),
        0o600,
    )
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The file change counter: SQLite increments it on every write transaction.
pub(crate) fn position(db: &Path) -> Result<u64, ProviderError> {
    let mut header = [0u8; 28];
    let mut f =
        std::fs::File::open(db).map_err(|e| perr(&format!("cannot open {}", db.display()), e))?;
    f.read_exact(&mut header)
        .map_err(|e| perr(&format!("{} is not a SQLite database", db.display()), e))?;
    Ok(u64::from(u32::from_be_bytes([
        header[24], header[25], header[26], header[27],
    ])))
}

fn open(db: &Path) -> Result<Connection, ProviderError> {
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| perr(&format!("cannot open {}", db.display()), e))?;
    c.busy_timeout(Duration::from_secs(5))
        .map_err(|e| perr("cannot set busy timeout", e))?;
    Ok(c)
}

fn user_tables(c: &Connection) -> Result<Vec<String>, ProviderError> {
    let mut st = c.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").map_err(|e| perr("cannot list tables", e))?;
    let rows = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| perr("cannot list tables", e))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| perr("cannot list tables", e))
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Installs triggers that abort every write, with `why` as the error message.
fn install_fence(c: &Connection, why: &str) -> Result<(), ProviderError> {
    let msg = why.replace('\'', "''");
    let mut sql = String::from("BEGIN IMMEDIATE;");
    for t in user_tables(c)? {
        for op in ["INSERT", "UPDATE", "DELETE"] {
            let name = quote(&format!("{FENCE_PREFIX}{t}_{}", op.to_lowercase()));
            sql.push_str(&format!("DROP TRIGGER IF EXISTS {name}; CREATE TRIGGER {name} BEFORE {op} ON {} BEGIN SELECT RAISE(ABORT, '{msg}'); END;", quote(&t)));
        }
    }
    sql.push_str("COMMIT;");
    c.execute_batch(&sql)
        .map_err(|e| perr("cannot install the fence", e))
}

fn remove_fence(c: &Connection) -> Result<(), ProviderError> {
    let mut st = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'standby_fence_%'",
        )
        .map_err(|e| perr("cannot list triggers", e))?;
    let names = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| perr("cannot list triggers", e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| perr("cannot list triggers", e))?;
    let mut sql = String::from("BEGIN IMMEDIATE;");
    for n in names {
        sql.push_str(&format!("DROP TRIGGER IF EXISTS {};", quote(&n)));
    }
    sql.push_str("COMMIT;");
    c.execute_batch(&sql)
        .map_err(|e| perr("cannot remove the fence", e))
}

fn fence_count(c: &Connection) -> Result<u64, ProviderError> {
    c.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'standby_fence_%'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| u64::try_from(n).unwrap_or(0))
    .map_err(|e| perr("cannot read triggers", e))
}

/// Copies `from` over `to` with the online backup API; returns the source position copied.
fn copy(from: &Path, to: &Path) -> Result<u64, ProviderError> {
    let src = open(from)?;
    // A read transaction pins the snapshot whose position we report.
    src.execute_batch("BEGIN")
        .map_err(|e| perr("cannot start a read transaction", e))?;
    let pos = position(from)?;
    src.backup(rusqlite::MAIN_DB, to, None).map_err(|e| {
        perr(
            &format!("cannot copy {} to {}", from.display(), to.display()),
            e,
        )
    })?;
    src.execute_batch("COMMIT")
        .map_err(|e| perr("cannot end the read transaction", e))?;
    Ok(pos)
}

pub(crate) fn create(db: &Path, schema: Option<&str>) -> Result<(), ProviderError> {
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| perr(&format!("cannot create {}", dir.display()), e))?;
    }
    let c =
        Connection::open(db).map_err(|e| perr(&format!("cannot create {}", db.display()), e))?;
    if let Some(s) = schema {
        c.execute_batch(s)
            .map_err(|e| perr("the schema failed", e))?;
    }
    c.execute_batch("PRAGMA user_version = 1")
        .map_err(|e| perr("cannot initialise the database", e))?;
    if !meta_path(db).exists() {
        write_meta(
            db,
            &Meta {
                role: "primary".into(),
                ..Meta::default()
            },
        )?;
    }
    Ok(())
}

pub(crate) fn delete(db: &Path) -> Result<(), ProviderError> {
    for p in [
        db.to_path_buf(),
        meta_path(db),
        PathBuf::from(format!("{}-journal", db.display())),
    ] {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(perr(&format!("cannot delete {}", p.display()), e)),
        }
    }
    Ok(())
}

pub(crate) fn status(db: &Path, primary: Option<&Path>) -> MemberStatus {
    let down = |detail: String| MemberStatus {
        role: Role::Down,
        healthy: false,
        position: 0,
        lag_bytes: 0,
        lag_seconds: 0.0,
        in_sync: false,
        epoch: 0,
        detail,
    };
    let Ok(c) = open(db) else {
        return down(format!("{} cannot be opened", db.display()));
    };
    let healthy = c
        .query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0))
        .is_ok_and(|s| s == "ok");
    let meta = read_meta(db);
    let role = match meta.role.as_str() {
        "standby" => Role::Standby,
        "fenced" => Role::Fenced,
        _ => Role::Primary,
    };
    let own = position(db).unwrap_or(0);
    let (pos, lag_bytes, lag_seconds, in_sync) = match (role, primary.filter(|p| *p != db)) {
        (Role::Standby, Some(p)) => {
            let primary_pos = position(p).unwrap_or(0);
            let behind = primary_pos != meta.replayed_position;
            let size = std::fs::metadata(p).map_or(0, |m| m.len());
            (
                meta.replayed_position,
                if behind { size } else { 0 },
                if behind {
                    (now() - meta.synced_at).max(0.0)
                } else {
                    0.0
                },
                !behind,
            )
        }
        _ => (own, 0, 0.0, true),
    };
    MemberStatus {
        role,
        healthy,
        position: pos,
        lag_bytes,
        lag_seconds,
        in_sync,
        epoch: meta.epoch,
        detail: String::new(),
    }
}

pub(crate) fn configure(
    primary: &Path,
    standbys: &[PathBuf],
    _mode: ReplicationMode,
) -> Result<(), ProviderError> {
    let c = open(primary)?;
    remove_fence(&c)?;
    let mut meta = read_meta(primary);
    meta.role = "primary".into();
    write_meta(primary, &meta)?;
    for s in standbys {
        make_standby(s, primary, meta.epoch)?;
    }
    Ok(())
}

fn make_standby(db: &Path, primary: &Path, epoch: u64) -> Result<u64, ProviderError> {
    let pos = copy(primary, db)?;
    install_fence(
        &open(db)?,
        &format!("read-only standby of {}", primary.display()),
    )?;
    write_meta(
        db,
        &Meta {
            role: "standby".into(),
            epoch,
            replayed_position: pos,
            synced_at: now(),
        },
    )?;
    Ok(pos)
}

pub(crate) fn fence(
    db: &Path,
    epoch: u64,
    best_effort: bool,
) -> Result<FenceOutcome, ProviderError> {
    let result = (|| {
        let c = open(db)?;
        install_fence(&c, &format!("fenced by standby at epoch {epoch}"))?;
        let n = fence_count(&c)?;
        Ok::<_, ProviderError>((n, position(db)?))
    })();
    match result {
        Ok((n, pos)) => {
            let mut meta = read_meta(db);
            meta.role = "fenced".into();
            meta.epoch = meta.epoch.max(epoch);
            write_meta(db, &meta)?;
            Ok(FenceOutcome {
                confirmed: true,
                final_position: Some(pos),
                detail: format!("{n} write triggers installed; final position {pos}"),
            })
        }
        Err(e) if best_effort => Ok(FenceOutcome {
            confirmed: false,
            final_position: None,
            detail: format!("could not fence: {}: {}", e.summary, e.detail),
        }),
        Err(e) => Err(e),
    }
}

pub(crate) fn unfence(db: &Path) -> Result<(), ProviderError> {
    remove_fence(&open(db)?)?;
    let mut meta = read_meta(db);
    meta.role = "primary".into();
    write_meta(db, &meta)
}

pub(crate) fn catch_up(target: &Path, primary: &Path, want: u64) -> Result<u64, ProviderError> {
    let pos = copy(primary, target)?;
    let mut meta = read_meta(target);
    meta.replayed_position = pos;
    meta.synced_at = now();
    write_meta(target, &meta)?;
    if pos < want {
        return Err(ProviderError::new(
            "catch-up fell short",
            format!("replayed position {pos}, wanted {want}"),
        ));
    }
    Ok(pos)
}

pub(crate) fn promote(db: &Path, epoch: u64) -> Result<(), ProviderError> {
    let mut meta = read_meta(db);
    if meta.epoch > epoch {
        return Err(ProviderError::new("stale epoch", format!("{} has seen epoch {}, newer than {epoch}; another actor switched since this plan was made", db.display(), meta.epoch)));
    }
    let c = open(db)?;
    remove_fence(&c)?;
    // Confirm it takes writes now.
    c.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
        .map_err(|e| perr("the promoted database does not accept writes", e))?;
    meta.role = "primary".into();
    meta.epoch = epoch;
    write_meta(db, &meta)
}

/// Makes `former` a standby of `primary`. Its writes after the new primary's last copy (a
/// failover that could not catch up) would be overwritten: the file is kept aside first.
pub(crate) fn rejoin(former: &Path, primary: &Path) -> Result<Option<String>, ProviderError> {
    let meta = read_meta(primary);
    let kept = match position(former) {
        Ok(pos) if pos != meta.replayed_position && former.exists() => {
            let aside = PathBuf::from(format!(
                "{}.diverged-epoch{}-{}",
                former.display(),
                meta.epoch,
                now() as u64
            ));
            copy(former, &aside)?;
            Some(format!(
                "kept in {} before it became a standby",
                aside.display()
            ))
        }
        _ => None,
    };
    make_standby(former, primary, meta.epoch)?;
    Ok(kept)
}

pub(crate) fn checksum(db: &Path, datasets: &[String]) -> Result<Checksums, ProviderError> {
    let c = open(db)?;
    let mut out = Checksums::new();
    for name in datasets {
        let table = name.rsplit('.').next().unwrap_or(name);
        let mut pk: Vec<(i64, String)> = Vec::new();
        {
            let mut st = c
                .prepare(&format!("PRAGMA table_info({})", quote(table)))
                .map_err(|e| perr("cannot read the table", e))?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, i64>(5)?, r.get::<_, String>(1)?)))
                .map_err(|e| perr("cannot read the table", e))?;
            for r in rows {
                let (k, col) = r.map_err(|e| perr("cannot read the table", e))?;
                if k > 0 {
                    pk.push((k, col));
                }
            }
        }
        let exists: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .map_err(|e| perr("cannot read the schema", e))?;
        if exists == 0 {
            return Err(ProviderError::new(
                format!("no table {table:?} to checksum"),
                format!("{} has no table {table}; fix verify.checksum", db.display()),
            ));
        }
        pk.sort();
        let order = if pk.is_empty() {
            "rowid".to_string()
        } else {
            pk.iter()
                .map(|(_, c)| quote(c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut st = c
            .prepare(&format!("SELECT * FROM {} ORDER BY {order}", quote(table)))
            .map_err(|e| perr("cannot read the table", e))?;
        let ncols = st.column_count();
        let mut rows = st.query([]).map_err(|e| perr("cannot read the table", e))?;
        let mut h = sha2::Sha256::new();
        let mut count = 0u64;
        while let Some(row) = rows.next().map_err(|e| perr("cannot read the table", e))? {
            count += 1;
            for i in 0..ncols {
                use rusqlite::types::ValueRef;
                match row.get_ref(i).map_err(|e| perr("cannot read a value", e))? {
                    ValueRef::Null => h.update([0u8]),
                    ValueRef::Integer(n) => {
                        h.update([1u8]);
                        h.update(n.to_be_bytes());
                    }
                    ValueRef::Real(f) => {
                        h.update([2u8]);
                        h.update(f.to_be_bytes());
                    }
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        h.update([3u8]);
                        h.update((t.len() as u64).to_be_bytes());
                        h.update(t);
                    }
                }
            }
        }
        out.insert(
            name.clone(),
            format!("{}:{}", count, hex::encode(h.finalize())),
        );
    }
    Ok(out)
}

/// The database path of a member.
pub(crate) fn member_path(m: &Member) -> Result<String, ProviderError> {
    m.state
        .get("path")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            ProviderError::new(
                "member has no path",
                format!(
                    "the {} member of site {} has no path attribute",
                    m.type_name, m.site
                ),
            )
        })
}
