//! `sqlite_database` as a drill target. A SQLite member is a file, not a server, so its faults
//! are the file's: the file lost (a failed disk) and the file locked (every client waits, as
//! with a hung server). The writer's sessions open the file directly; a session checks under
//! its write lock that the path still names the file it opened, so a write never commits to a
//! file that was lost.

use crate::sqlite::{meta_path, read_meta};
use crate::LocalProvider;
use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use standby_provider_sdk::{
    DrillSession, DrillTarget, Held, Member, ProviderError, Surface, WriteOutcome,
};
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const TABLE: &str = "CREATE TABLE IF NOT EXISTS standby_drill (run TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (run, id))";

/// The writer waits this long for the file's lock: an insert ends within a second.
const WRITE_WAIT: Duration = Duration::from_millis(800);

fn perr(summary: String, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(summary, e.to_string())
}

/// Which file a path names now: device and inode.
fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn open(path: &Path, wait: Duration) -> Result<Connection, ProviderError> {
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| perr(format!("cannot open {}", path.display()), e))?;
    c.busy_timeout(wait)
        .map_err(|e| perr(format!("cannot open {}", path.display()), e))?;
    Ok(c)
}

/// The whole file locked: no reader or writer gets in while it is held.
fn exclusive(path: &Path) -> Result<Connection, ProviderError> {
    let c = open(path, Duration::from_secs(5))?;
    c.execute_batch("BEGIN EXCLUSIVE")
        .map_err(|e| perr(format!("cannot lock {}", path.display()), e))?;
    Ok(c)
}

struct Session {
    conn: Option<Connection>,
    path: PathBuf,
    identity: (u64, u64),
    name: Arc<str>,
}

/// One insert in its own write transaction; the file's identity is checked under the write
/// lock, which a fault that moves the file must take first.
fn insert(c: &Connection, path: &Path, identity: (u64, u64), run: &str, id: i64) -> WriteOutcome {
    if c.execute_batch("BEGIN IMMEDIATE").is_err() {
        return WriteOutcome::Failed;
    }
    let written = identity_matches(path, identity)
        && c.execute(
            "INSERT INTO standby_drill (run, id) VALUES (?1, ?2)",
            rusqlite::params![run, id],
        )
        .is_ok();
    if !written {
        let _ = c.execute_batch("ROLLBACK");
        return WriteOutcome::Failed;
    }
    match c.execute_batch("COMMIT") {
        Ok(()) => WriteOutcome::Acknowledged,
        // A busy commit leaves the transaction open and uncommitted.
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::DatabaseBusy => {
            let _ = c.execute_batch("ROLLBACK");
            WriteOutcome::Failed
        }
        Err(_) => WriteOutcome::Indeterminate,
    }
}

fn identity_matches(path: &Path, id: (u64, u64)) -> bool {
    identity(path) == Some(id)
}

#[async_trait]
impl DrillSession for Session {
    fn server(&self) -> Arc<str> {
        self.name.clone()
    }

    fn is_closed(&self) -> bool {
        self.conn.is_none() || !identity_matches(&self.path, self.identity)
    }

    async fn insert(&mut self, run: &str, id: i64) -> WriteOutcome {
        let Some(c) = self.conn.take() else {
            return WriteOutcome::Failed;
        };
        let (path, identity, run) = (self.path.clone(), self.identity, run.to_string());
        let done = tokio::task::spawn_blocking(move || {
            let outcome = insert(&c, &path, identity, &run, id);
            (c, outcome)
        })
        .await;
        match done {
            Ok((c, outcome)) => {
                self.conn = Some(c);
                outcome
            }
            Err(_) => WriteOutcome::Indeterminate,
        }
    }
}

/// A session to the file when its member is the primary, with the drill's table in it (a
/// standby promoted by the drill was copied before the table existed).
fn session(path: PathBuf) -> Option<Session> {
    if read_meta(&path).role != "primary" {
        return None;
    }
    let before = identity(&path)?;
    let conn = open(&path, WRITE_WAIT).ok()?;
    conn.execute_batch(TABLE).ok()?;
    (identity(&path) == Some(before)).then(|| Session {
        conn: Some(conn),
        name: Arc::from(path.display().to_string().as_str()),
        path,
        identity: before,
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ProviderError> + Send + 'static,
) -> Result<T, ProviderError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| perr("the drill's SQLite task failed".into(), e))?
}

#[async_trait]
impl DrillTarget for LocalProvider {
    fn surface(&self, m: &Member) -> Result<Surface, ProviderError> {
        let path = self.member(m)?;
        let wal = open(&path, Duration::from_secs(5))
            .and_then(|c| {
                c.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
                    .map_err(|e| perr("cannot read the journal mode".into(), e))
            })
            .is_ok_and(|mode| mode.eq_ignore_ascii_case("wal"));
        Ok(Surface::File { path, wal })
    }

    fn lose(&self, m: &Member) -> Result<String, ProviderError> {
        let db = self.member(m)?;
        // The lock waits for the write in flight and keeps the next one out until the file
        // is gone; sessions see the move under their own lock.
        let lock = exclusive(&db)?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let aside = |p: &Path| PathBuf::from(format!("{}.lost-by-drill-{stamp}", p.display()));
        let with = |suffix: &str| PathBuf::from(format!("{}{suffix}", db.display()));
        for p in [
            db.clone(),
            meta_path(&db),
            with("-journal"),
            with("-wal"),
            with("-shm"),
        ] {
            match std::fs::rename(&p, aside(&p)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(perr(format!("cannot move {} aside", p.display()), e)),
            }
        }
        drop(lock);
        Ok(aside(&db).display().to_string())
    }

    fn lock_out(&self, m: &Member) -> Result<Box<dyn Held>, ProviderError> {
        Ok(Box::new(exclusive(&self.member(m)?)?))
    }

    async fn prepare(&self, primary: &Member) -> Result<(), ProviderError> {
        let db = self.member(primary)?;
        blocking(move || {
            open(&db, Duration::from_secs(5))?
                .execute_batch(TABLE)
                .map_err(|e| perr("cannot create the drill table".into(), e))
        })
        .await
    }

    async fn connect(&self, m: &Member, via: Option<(&str, u16)>) -> Option<Box<dyn DrillSession>> {
        // A file has no traffic path.
        if via.is_some() {
            return None;
        }
        let db = self.member(m).ok()?;
        let s = tokio::task::spawn_blocking(move || session(db))
            .await
            .ok()??;
        Some(Box::new(s))
    }

    async fn read_back(&self, m: &Member, run: &str) -> Result<BTreeSet<i64>, ProviderError> {
        let db = self.member(m)?;
        let run = run.to_string();
        blocking(move || {
            let c = open(&db, Duration::from_secs(5))?;
            let mut q = match c.prepare("SELECT id FROM standby_drill WHERE run = ?1") {
                Ok(q) => q,
                // A member that never took a drill write has no table.
                Err(e) if e.to_string().contains("no such table") => return Ok(BTreeSet::new()),
                Err(e) => return Err(perr("cannot read the drill's rows".into(), e)),
            };
            let ids = q
                .query_map([&run], |r| r.get::<_, i64>(0))
                .and_then(Iterator::collect::<Result<BTreeSet<i64>, _>>)
                .map_err(|e| perr("cannot read the drill's rows".into(), e))?;
            Ok(ids)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use standby_provider_sdk::{ConfigureRequest, Provider, Value};

    async fn primary(dir: &Path) -> (LocalProvider, Member) {
        let p = LocalProvider::new();
        p.configure(ConfigureRequest {
            config: Value::Null,
            root_dir: dir.into(),
        })
        .await
        .unwrap();
        crate::sqlite::create(&dir.join("east.db"), None).unwrap();
        let m = Member {
            site: "east".into(),
            type_name: "sqlite_database".into(),
            state: Value::object([("path", Value::from("east.db"))]),
        };
        (p, m)
    }

    /// A session opened before the file was lost must not acknowledge a write into the moved
    /// file: that write would be lost with the disk, and the drill would blame the switch.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_session_opened_before_the_file_was_lost_never_commits_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let (p, m) = primary(dir.path()).await;
        p.prepare(&m).await.unwrap();
        let mut s = p.connect(&m, None).await.expect("a session to the primary");
        assert_eq!(s.insert("r", 1).await, WriteOutcome::Acknowledged);
        let aside = p.lose(&m).unwrap();
        assert!(s.is_closed());
        assert_eq!(s.insert("r", 2).await, WriteOutcome::Failed);
        assert!(p.connect(&m, None).await.is_none(), "no file, no session");
        let moved = Connection::open(&aside).unwrap();
        let ids: Vec<i64> = moved
            .prepare("SELECT id FROM standby_drill ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ids, [1]);
    }

    /// While locked out, a write fails within its deadline and commits nothing; once the lock
    /// is dropped, writes go through again.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_locked_file_refuses_writes_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let (p, m) = primary(dir.path()).await;
        p.prepare(&m).await.unwrap();
        let mut s = p.connect(&m, None).await.unwrap();
        let held = p.lock_out(&m).unwrap();
        let t = std::time::Instant::now();
        assert_eq!(s.insert("r", 1).await, WriteOutcome::Failed);
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        drop(held);
        assert_eq!(s.insert("r", 2).await, WriteOutcome::Acknowledged);
        assert_eq!(p.read_back(&m, "r").await.unwrap(), BTreeSet::from([2]));
        assert!(p.read_back(&m, "other").await.unwrap().is_empty());
    }
}
