//! The PostgreSQL backend: each environment's state in a table, the journal in another, and
//! the lock as a session-level advisory lock (as Terraform's pg backend does), so a crashed
//! holder's lock goes away with its session.
//!
//! The storage traits are synchronous while tokio-postgres is not, and they are called both
//! from plain threads and from inside the apply runtime; so one worker thread owns a runtime
//! and the connections, and every call is a job sent to it.

use super::journal::JournalEntry;
use super::lock::{LockGuard, LockInfo};
use super::model::State;
use super::{StateError, StateLock, StateStore};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

struct Worker {
    rt: tokio::runtime::Runtime,
    conn_str: String,
    client: Option<Client>,
    lock_client: Option<Client>,
}

impl Worker {
    fn connect(&mut self, for_lock: bool) -> Result<&Client, String> {
        let slot = if for_lock {
            &mut self.lock_client
        } else {
            &mut self.client
        };
        if slot.as_ref().is_none_or(Client::is_closed) {
            let (c, conn) = self
                .rt
                .block_on(tokio_postgres::connect(&self.conn_str, NoTls))
                .map_err(|e| format!("cannot connect to the state database: {}", describe(&e)))?;
            self.rt.spawn(async move {
                let _ = conn.await;
            });
            *slot = Some(c);
        }
        slot.as_ref().ok_or_else(|| "no connection".to_string())
    }
}

fn describe(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(s) => format!("{e}: {s}"),
        None => e.to_string(),
    }
}

/// State of one environment in a PostgreSQL schema.
pub struct PgBackend {
    env: String,
    schema: String,
    jobs: Mutex<mpsc::Sender<Job>>,
    cipher: Option<std::sync::Arc<super::Cipher>>,
    /// The key reads use; the write key unless told otherwise (`state migrate` decrypting).
    read_key: Option<std::sync::Arc<super::Cipher>>,
}

impl PgBackend {
    /// The same backend, encrypting what it writes with `cipher` (and reading what it
    /// encrypted).
    pub fn encrypted(mut self, cipher: Option<std::sync::Arc<super::Cipher>>) -> Self {
        self.read_key.clone_from(&cipher);
        self.cipher = cipher;
        self
    }

    /// The same backend, reading with `key` whatever it writes with.
    pub fn reading_with(mut self, key: Option<std::sync::Arc<super::Cipher>>) -> Self {
        self.read_key = key;
        self
    }

    /// A document or journal line as stored: encrypted when a key is set.
    fn seal(&self, plain: String) -> Result<String, StateError> {
        match &self.cipher {
            Some(c) => Ok(String::from_utf8_lossy(&c.seal(plain.as_bytes())?).into_owned()),
            None => Ok(plain),
        }
    }

    /// A stored document or journal line, decrypted when it is encrypted.
    fn open(&self, stored: &str) -> Result<String, StateError> {
        super::crypt::open(
            self.read_key.as_deref(),
            stored.as_bytes(),
            &self.where_().display().to_string(),
        )
        .map(|p| String::from_utf8_lossy(&p).into_owned())
    }

    /// The backend for `env` in `schema` of the database `conn_str` names. Creates the schema
    /// and tables when they do not exist.
    pub fn new(conn_str: &str, schema: &str, env: &str) -> Result<Self, StateError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err(&format!("cannot start a runtime: {e}")))?;
        let mut worker = Worker {
            rt,
            conn_str: conn_str.to_string(),
            client: None,
            lock_client: None,
        };
        std::thread::Builder::new()
            .name("standby-pg-state".into())
            .spawn(move || {
                for job in rx {
                    job(&mut worker);
                }
            })
            .map_err(|e| err(&format!("cannot start the state worker: {e}")))?;
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || schema.is_empty()
        {
            return Err(err(&format!(
                "invalid schema name {schema:?}: use letters, digits and _"
            )));
        }
        let b = PgBackend {
            env: env.to_string(),
            schema: schema.to_string(),
            jobs: Mutex::new(tx),
            cipher: None,
            read_key: None,
        };
        let s = b.schema.clone();
        // Two processes may create the tables at once: IF NOT EXISTS races, so serialise.
        b.sql(move |c, rt| {
            rt.block_on(c.batch_execute(&format!(
                "BEGIN;
                 SELECT pg_advisory_xact_lock(hashtext('standby/setup'));
                 CREATE SCHEMA IF NOT EXISTS {s};
                 CREATE TABLE IF NOT EXISTS {s}.states (env text PRIMARY KEY, doc text NOT NULL, backup text, updated_at timestamptz NOT NULL DEFAULT now());
                 CREATE TABLE IF NOT EXISTS {s}.journal (seq bigserial PRIMARY KEY, env text NOT NULL, line text NOT NULL);
                 CREATE TABLE IF NOT EXISTS {s}.locks (env text PRIMARY KEY, info text NOT NULL);
                 COMMIT;"
            )))
            .map_err(|e| describe(&e))
        })?;
        Ok(b)
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Worker) -> T + Send + 'static,
    ) -> Result<T, StateError> {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .lock()
            .map_err(|_| err("the state worker is gone"))?
            .send(Box::new(move |w: &mut Worker| {
                let _ = tx.send(f(w));
            }))
            .map_err(|_| err("the state worker is gone"))?;
        rx.recv().map_err(|_| err("the state worker stopped"))
    }

    /// Runs `f` with the main connection.
    fn sql<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Client, &tokio::runtime::Runtime) -> Result<T, String> + Send + 'static,
    ) -> Result<T, StateError> {
        self.run(move |w| {
            w.connect(false)?;
            let c = w.client.as_ref().ok_or("no connection")?;
            f(c, &w.rt)
        })?
        .map_err(|e: String| err(&e))
    }

    fn lock_key(&self) -> String {
        format!("standby/{}/{}", self.schema, self.env)
    }

    fn where_(&self) -> PathBuf {
        PathBuf::from(format!("postgresql:{}.states[{}]", self.schema, self.env))
    }
}

fn err(detail: &str) -> StateError {
    StateError::Io {
        path: PathBuf::from("postgresql"),
        source: std::io::Error::other(detail.to_string()),
    }
}

impl StateStore for PgBackend {
    fn read(&self) -> Result<Option<State>, StateError> {
        let (s, env) = (self.schema.clone(), self.env.clone());
        let rows = self.sql(move |c, rt| {
            let doc: Option<(String, bool)> = rt
                .block_on(c.query_opt(
                    &format!("SELECT doc, backup IS NOT NULL FROM {s}.states WHERE env = $1"),
                    &[&env],
                ))
                .map_err(|e| describe(&e))?
                .map(|r| (r.get(0), r.get(1)));
            let lines: Vec<String> = rt
                .block_on(c.query(
                    &format!("SELECT line FROM {s}.journal WHERE env = $1 ORDER BY seq"),
                    &[&env],
                ))
                .map_err(|e| describe(&e))?
                .iter()
                .map(|r| r.get(0))
                .collect();
            Ok((doc, lines))
        })?;
        let (Some((doc, has_backup)), lines) = rows else {
            return Ok(None);
        };
        let backup = has_backup.then(|| {
            PathBuf::from(format!(
                "postgresql:{}.states[{}].backup",
                self.schema, self.env
            ))
        });
        let doc = self.open(&doc)?;
        let mut state: State = serde_json::from_str(&doc).map_err(|e| StateError::Corrupt {
            path: self.where_(),
            detail: e.to_string(),
            backup,
        })?;
        let n = lines.len();
        for (i, l) in lines.iter().enumerate() {
            let l = self.open(l)?;
            super::journal::replay_line(&mut state, &l, i + 1 == n).map_err(|detail| {
                StateError::Corrupt {
                    path: self.where_(),
                    detail,
                    backup: None,
                }
            })?;
        }
        Ok(Some(state))
    }

    fn write(&self, state: &State) -> Result<(), StateError> {
        let doc =
            self.seal(serde_json::to_string_pretty(state).map_err(|e| err(&e.to_string()))?)?;
        let (s, env) = (self.schema.clone(), self.env.clone());
        let current = self.sql({
            let (s, env) = (s.clone(), env.clone());
            move |c, rt| {
                Ok(rt
                    .block_on(c.query_opt(
                        &format!("SELECT doc FROM {s}.states WHERE env = $1"),
                        &[&env],
                    ))
                    .map_err(|e| describe(&e))?
                    .map(|r| r.get::<_, String>(0)))
            }
        })?;
        let mut backup = None;
        if let Some(cur) = &current {
            // Never overwrite a corrupt snapshot (nor one encrypted with another key).
            let plain = self.open(cur)?;
            serde_json::from_str::<State>(&plain).map_err(|e| StateError::Corrupt {
                path: self.where_(),
                detail: e.to_string(),
                backup: None,
            })?;
            // The backup is encrypted as the new snapshot is: no readable copy stays behind.
            backup = Some(
                if self.cipher.is_some() && !super::crypt::is_sealed(cur.as_bytes()) {
                    self.seal(plain)?
                } else {
                    cur.clone()
                },
            );
        }
        self.sql(move |c, rt| {
            rt.block_on(async {
                c.batch_execute("BEGIN").await?;
                c.execute(&format!("INSERT INTO {s}.states (env, doc) VALUES ($1, $2) ON CONFLICT (env) DO UPDATE SET backup = $3, doc = EXCLUDED.doc, updated_at = now()"), &[&env, &doc, &backup]).await?;
                c.execute(&format!("DELETE FROM {s}.journal WHERE env = $1"), &[&env]).await?;
                c.batch_execute("COMMIT").await
            })
            .map_err(|e| describe(&e))
        })
    }

    fn append(
        &self,
        lineage: &str,
        serial: u64,
        entries: &[JournalEntry],
    ) -> Result<(), StateError> {
        if entries.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = entries
            .iter()
            .map(|e| {
                self.seal(serde_json::to_string(&e.to_line(lineage, serial)).unwrap_or_default())
            })
            .collect::<Result<_, _>>()?;
        let (s, env) = (self.schema.clone(), self.env.clone());
        self.sql(move |c, rt| {
            rt.block_on(async {
                c.batch_execute("BEGIN").await?;
                for l in &lines {
                    c.execute(
                        &format!("INSERT INTO {s}.journal (env, line) VALUES ($1, $2)"),
                        &[&env, l],
                    )
                    .await?;
                }
                c.batch_execute("COMMIT").await
            })
            .map_err(|e| describe(&e))
        })
    }

    fn describe(&self) -> String {
        self.where_().display().to_string()
    }
}

impl StateLock for PgBackend {
    fn lock(&self, info: LockInfo, timeout: Duration) -> Result<LockGuard, StateError> {
        let key = self.lock_key();
        let start = Instant::now();
        loop {
            let (k, s, env, text) = (
                key.clone(),
                self.schema.clone(),
                self.env.clone(),
                serde_json::to_string(&info).unwrap_or_default(),
            );
            let got = self.run(move |w| -> Result<bool, String> {
                w.connect(true)?;
                let c = w.lock_client.as_ref().ok_or("no connection")?;
                let got: bool = w.rt.block_on(c.query_one("SELECT pg_try_advisory_lock(hashtext($1))", &[&k])).map_err(|e| describe(&e))?.get(0);
                if got {
                    w.rt.block_on(c.execute(&format!("INSERT INTO {s}.locks (env, info) VALUES ($1, $2) ON CONFLICT (env) DO UPDATE SET info = EXCLUDED.info"), &[&env, &text])).map_err(|e| describe(&e))?;
                }
                Ok(got)
            })?
            .map_err(|e| err(&e))?;
            if got {
                let jobs = self
                    .jobs
                    .lock()
                    .map_err(|_| err("the state worker is gone"))?
                    .clone();
                let (k, s, env) = (key.clone(), self.schema.clone(), self.env.clone());
                return Ok(LockGuard::new(info, move || {
                    let (tx, rx) = mpsc::channel::<()>();
                    let _ = jobs.send(Box::new(move |w: &mut Worker| {
                        if let Some(c) = w.lock_client.as_ref() {
                            let _ = w.rt.block_on(c.execute(
                                &format!("DELETE FROM {s}.locks WHERE env = $1"),
                                &[&env],
                            ));
                            let _ = w.rt.block_on(
                                c.query_one("SELECT pg_advisory_unlock(hashtext($1))", &[&k]),
                            );
                        }
                        let _ = tx.send(());
                    }));
                    let _ = rx.recv_timeout(Duration::from_secs(10));
                }));
            }
            if start.elapsed() >= timeout {
                let holder = self.holder()?.unwrap_or_else(|| LockInfo {
                    id: "?".into(),
                    operation: "?".into(),
                    who: "another session".into(),
                    pid: 0,
                    created: "?".into(),
                });
                return Err(StateError::Locked(Box::new(holder)));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn holder(&self) -> Result<Option<LockInfo>, StateError> {
        let (k, s, env) = (self.lock_key(), self.schema.clone(), self.env.clone());
        self.sql(move |c, rt| {
            let held: bool = rt
                .block_on(c.query_one("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = (hashtext($1)::bigint & 4294967295)::oid)", &[&k]))
                .map_err(|e| describe(&e))?
                .get(0);
            if !held {
                return Ok(None);
            }
            let info: Option<String> = rt.block_on(c.query_opt(&format!("SELECT info FROM {s}.locks WHERE env = $1"), &[&env])).map_err(|e| describe(&e))?.map(|r| r.get(0));
            Ok(info.and_then(|i| serde_json::from_str(&i).ok()))
        })
    }

    fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let (k, s, env, id) = (
            self.lock_key(),
            self.schema.clone(),
            self.env.clone(),
            id.to_string(),
        );
        let found = self.sql(move |c, rt| {
            let info: Option<String> = rt.block_on(c.query_opt(&format!("SELECT info FROM {s}.locks WHERE env = $1"), &[&env])).map_err(|e| describe(&e))?.map(|r| r.get(0));
            let matches = info.and_then(|i| serde_json::from_str::<LockInfo>(&i).ok()).is_some_and(|i| i.id == id);
            if matches {
                // End the session holding the advisory lock (a hung holder), then the record.
                rt.block_on(c.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = (hashtext($1)::bigint & 4294967295)::oid AND pid <> pg_backend_pid()", &[&k])).map_err(|e| describe(&e))?;
                rt.block_on(c.execute(&format!("DELETE FROM {s}.locks WHERE env = $1"), &[&env])).map_err(|e| describe(&e))?;
            }
            Ok(matches)
        })?;
        if found {
            Ok(())
        } else {
            Err(StateError::NoSuchLock(self.env.clone()))
        }
    }
}
