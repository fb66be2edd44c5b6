//! One PostgreSQL server: its settings from resource attributes, its processes, its SQL.

use standby_provider_sdk::{ProviderError, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

pub(crate) fn perr(summary: impl Into<String>, e: impl std::error::Error) -> ProviderError {
    // tokio-postgres prints "db error" and keeps the server's message in the source.
    let detail = match e.source() {
        Some(src) => format!("{e}: {src}"),
        None => e.to_string(),
    };
    ProviderError::new(summary, detail)
}

/// The newest `/usr/lib/postgresql/*/bin`, or `pg_config --bindir`.
pub(crate) fn default_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    dirs.sort();
    if let Some((_, d)) = dirs.pop() {
        return Some(d);
    }
    let out = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .map(|u| u == "0")
        })
        .unwrap_or(false)
}

fn user_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&user))
            .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
    })
}

/// The groups `user` belongs to besides its primary one, from /etc/group.
fn supplementary_groups(user: &str) -> Vec<u32> {
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    groups
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let members = f.get(3)?;
            members
                .split(',')
                .any(|m| m.trim() == user)
                .then(|| f.get(2)?.parse().ok())?
        })
        .collect()
}

/// Where a server logs unless `log_file` says otherwise: `<data_dir>.log`, next to the data
/// directory (the way `/var/log/postgresql/` sits outside `/var/lib/postgresql/`).
pub(crate) fn default_log_file(data_dir: &Path) -> PathBuf {
    let mut name = data_dir.as_os_str().to_owned();
    name.push(".log");
    PathBuf::from(name)
}

/// A server as its resource describes it.
#[derive(Debug, Clone)]
pub(crate) struct Server {
    pub listen: String,
    pub port: u16,
    pub data_dir: PathBuf,
    /// The server log (`pg_ctl -l`), outside the data directory: pg_rewind and pg_basebackup
    /// replace whatever the data directory holds with the source's files, so a log kept there
    /// would be overwritten by the new primary's at every rejoin.
    pub log_file: PathBuf,
    pub bin_dir: PathBuf,
    pub run_as: Option<String>,
    pub superuser: String,
    pub password: Option<String>,
    pub settings: BTreeMap<String, String>,
}

impl Server {
    /// Reads the attributes; relative paths resolve against `root`.
    pub(crate) fn from_value(v: &Value, root: &Path) -> Result<Server, ProviderError> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let listen = s("listen").ok_or_else(|| {
            ProviderError::new(
                "listen is required",
                "set listen to a loopback address such as 127.0.0.2",
            )
        })?;
        let port =
            v.get("port").and_then(Value::as_f64).ok_or_else(|| {
                ProviderError::new("port is required", "set port to a free TCP port")
            })? as u16;
        let data_dir = s("data_dir").ok_or_else(|| {
            ProviderError::new(
                "data_dir is required",
                "set data_dir to a directory for the cluster",
            )
        })?;
        let data_dir = if Path::new(&data_dir).is_absolute() {
            PathBuf::from(data_dir)
        } else {
            root.join(data_dir)
        };
        let log_file = match s("log_file") {
            Some(l) if Path::new(&l).is_absolute() => PathBuf::from(l),
            Some(l) => root.join(l),
            None => default_log_file(&data_dir),
        };
        let bin_dir = match s("bin_dir") {
            Some(b) => PathBuf::from(b),
            None => default_bin_dir().ok_or_else(|| ProviderError::new("PostgreSQL is not installed", "no /usr/lib/postgresql/*/bin and no pg_config on PATH; install it (apt-get install postgresql) or set bin_dir"))?,
        };
        let settings = match v.get("settings") {
            Some(Value::Map(m)) => m
                .iter()
                .map(|(k, x)| {
                    (
                        k.clone(),
                        x.as_str().map_or_else(|| x.to_string(), str::to_string),
                    )
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        Ok(Server {
            listen,
            port,
            data_dir,
            log_file,
            bin_dir,
            run_as: s("run_as"),
            superuser: s("superuser").unwrap_or_else(|| "postgres".into()),
            password: s("superuser_password"),
            settings,
        })
    }

    /// A command for one of the server programs, run as `run_as` when we are root.
    pub(crate) fn command(&self, program: &str) -> tokio::process::Command {
        let bin = self.bin_dir.join(program);
        let mut c = match &self.run_as {
            Some(user) if running_as_root() => {
                let mut c = tokio::process::Command::new("runuser");
                c.args(["-u", user, "--"]).arg(bin);
                c
            }
            _ => tokio::process::Command::new(bin),
        };
        // The server inherits this environment for as long as it runs: no password in it, and
        // none of the caller's (libpq tools get a password file, see `run_client`).
        c.env_remove("PGPASSWORD")
            .env_remove("PGPASSFILE")
            .env("LC_ALL", "C.UTF-8")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        c
    }

    /// Runs a server program, failing with its output.
    pub(crate) async fn run(&self, program: &str, args: &[&str]) -> Result<String, ProviderError> {
        self.finish(program, self.command(program).args(args)).await
    }

    /// Runs a libpq client program (pg_basebackup, pg_rewind) that connects to `source`, with
    /// the password in a 0600 password file rather than in its argv or environment.
    pub(crate) async fn run_client(
        &self,
        program: &str,
        args: &[&str],
        source: &Server,
    ) -> Result<String, ProviderError> {
        let mut c = self.command(program);
        if let Some(passfile) = self.passfile(source)? {
            c.env("PGPASSFILE", passfile);
        }
        self.finish(program, c.args(args)).await
    }

    async fn finish(
        &self,
        program: &str,
        c: &mut tokio::process::Command,
    ) -> Result<String, ProviderError> {
        let out = c
            .output()
            .await
            .map_err(|e| perr(format!("cannot run {program}"), e))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            let tail = text
                .lines()
                .rev()
                .take(6)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            // pg_ctl says "Examine the log output." without saying where the log is.
            let tail = if program == "pg_ctl" {
                format!("{tail}\nThe server's log: {}", self.log_file.display())
            } else {
                tail
            };
            return Err(ProviderError::new(
                format!("{program} failed ({})", out.status),
                tail,
            ));
        }
        Ok(text)
    }

    /// The uid and gid of `run_as` when standby runs as root; None when nothing is to chown.
    fn owner(&self) -> Result<Option<(u32, u32)>, ProviderError> {
        let Some(user) = &self.run_as else {
            return Ok(None);
        };
        if !running_as_root() {
            return Ok(None);
        }
        user_ids(user).map(Some).ok_or_else(|| {
            ProviderError::new(
                format!("no user {user:?}"),
                "run_as must name an existing OS user, such as postgres",
            )
        })
    }

    /// Gives a path to `run_as`. The path is opened without following a symlink and changed
    /// through its descriptor: `run_as` owns the directories these paths live in, and a link
    /// it planted must never hand root's files to it.
    pub(crate) fn chown(&self, path: &Path) -> Result<(), ProviderError> {
        if self.owner()?.is_none() {
            return Ok(());
        }
        use std::os::unix::fs::OpenOptionsExt as _;
        let f = std::fs::OpenOptions::new()
            .read(true)
            // Never through a symlink; never block on a FIFO.
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| perr(format!("cannot chown {}", path.display()), e))?;
        self.chown_file(&f)
            .map_err(|e| perr(format!("cannot chown {}", path.display()), e))
    }

    /// Gives an open file to `run_as`.
    pub(crate) fn chown_file(&self, f: &std::fs::File) -> std::io::Result<()> {
        match self.owner() {
            Ok(Some((uid, gid))) => std::os::unix::fs::fchown(f, Some(uid), Some(gid)),
            Ok(None) => Ok(()),
            Err(e) => Err(std::io::Error::other(e.summary)),
        }
    }

    /// The connection string for libpq tools, values quoted. The password is not in it: it
    /// would show in the tool's argv; `run_client` gives the tool a password file.
    pub(crate) fn conninfo(&self) -> String {
        use crate::secret::conninfo_value as q;
        format!(
            "host={} port={} user={} dbname=postgres connect_timeout=3",
            q(&self.listen),
            self.port,
            q(&self.superuser)
        )
    }

    /// Connects as the superuser.
    pub(crate) async fn connect(&self) -> Result<Client, ProviderError> {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&self.listen)
            .port(self.port)
            .user(&self.superuser)
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(3))
            .application_name("standby");
        if let Some(p) = &self.password {
            cfg.password(p);
        }
        // connect_timeout covers the TCP connect only; a frozen server accepts that and then
        // never finishes the handshake, so bound the whole of it.
        let (client, conn) = tokio::time::timeout(Duration::from_secs(3), cfg.connect(NoTls))
            .await
            .map_err(|_| {
                ProviderError::new(
                    format!("{}:{} does not answer", self.listen, self.port),
                    "the connection handshake did not finish within 3 s",
                )
            })?
            .map_err(|e| {
                perr(
                    format!("cannot connect to {}:{}", self.listen, self.port),
                    e,
                )
            })?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    /// The settings file standby owns, from the resource's attributes.
    pub(crate) fn write_conf(&self) -> Result<(), ProviderError> {
        use crate::secret::conf_value;
        let mut conf = format!(
            // No unix socket: it would live in the data directory, where pg_rewind trips over it.
            "# Written by standby from the postgres_server resource; edits are overwritten.\nlisten_addresses = {}\nport = {}\nunix_socket_directories = ''\nwal_level = replica\nwal_log_hints = on\nmax_wal_senders = 10\nmax_replication_slots = 10\nhot_standby = on\nwal_keep_size = '512MB'\n",
            conf_value("listen", &self.listen)?,
            self.port
        );
        for (k, v) in &self.settings {
            if k.is_empty()
                || !k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            {
                return Err(ProviderError::new(
                    format!("invalid setting name {k:?}"),
                    "a PostgreSQL parameter name has only letters, digits, `_` and `.`",
                ));
            }
            conf.push_str(&format!("{k} = {}\n", conf_value(k, v)?));
        }
        self.write_file("standby.conf", &conf)?;
        let main = self.data_dir.join("postgresql.conf");
        let text =
            std::fs::read_to_string(&main).map_err(|e| perr("cannot read postgresql.conf", e))?;
        if !text.contains("include_if_exists = 'standby.conf'") {
            self.write_file("postgresql.conf", &format!("{text}\ninclude_if_exists = 'standby.conf'\ninclude_if_exists = 'standby-role.conf'\n"))?;
        }
        Ok(())
    }

    /// The member's own name, which walsenders report and `synchronous_standby_names` uses.
    pub(crate) fn write_role_conf(&self, cluster_name: &str) -> Result<(), ProviderError> {
        self.write_file(
            "standby-role.conf",
            &format!(
                "cluster_name = {}\n",
                crate::secret::conf_value("cluster_name", cluster_name)?
            ),
        )
    }

    /// Creates the data directory (if need be), owned by `run_as`, mode 0700: both set through
    /// a descriptor opened without following a symlink.
    pub(crate) fn make_data_dir(&self) -> Result<(), ProviderError> {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let err = |e: std::io::Error| perr(format!("cannot create {}", self.data_dir.display()), e);
        std::fs::create_dir_all(&self.data_dir).map_err(err)?;
        let d = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
            .open(&self.data_dir)
            .map_err(err)?;
        self.chown_file(&d).map_err(err)?;
        d.set_permissions(std::fs::Permissions::from_mode(0o700))
            .map_err(err)
    }

    /// After initdb failed: an error naming the directory above the data directory that
    /// `run_as` cannot pass through, if there is one (initdb only says "Permission denied"
    /// about a file). A directory made 0700 by root (as `local_sensitive_file` makes its
    /// parents) is the usual cause. Only a diagnosis: modes and groups are read, ACLs are not,
    /// so it never refuses a setup that works.
    fn check_reachable(&self) -> Result<(), ProviderError> {
        use std::os::unix::fs::MetadataExt as _;
        let (Some(user), Some((uid, gid))) = (&self.run_as, self.owner()?) else {
            return Ok(());
        };
        let full = std::fs::canonicalize(&self.data_dir)
            .map_err(|e| perr(format!("cannot resolve {}", self.data_dir.display()), e))?;
        for dir in full.ancestors().skip(1) {
            let Ok(m) = std::fs::metadata(dir) else {
                continue;
            };
            let mode = m.mode();
            let passes = if m.uid() == uid {
                mode & 0o100 != 0
            } else if m.gid() == gid || supplementary_groups(user).contains(&m.gid()) {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !passes {
                return Err(ProviderError::new(
                    format!("{user} cannot reach {}", self.data_dir.display()),
                    format!(
                        "The server runs as {user}, and {} (mode {:04o}, owner uid {}) does not let it through. Allow it (chmod o+x), or put data_dir where {user} can reach it.",
                        dir.display(),
                        mode & 0o7777,
                        m.uid()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Writes a file of the data directory (which `run_as` owns): through a new temporary
    /// file given to `run_as` by its descriptor, then renamed over the target, so a symlink
    /// planted at the target is replaced, never followed.
    pub(crate) fn write_file(&self, name: &str, text: &str) -> Result<(), ProviderError> {
        use std::io::Write as _;
        let path = self.data_dir.join(name);
        let err = |e: std::io::Error| perr(format!("cannot write {}", path.display()), e);
        let mut f = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .tempfile_in(&self.data_dir)
            .map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        self.chown_file(f.as_file()).map_err(err)?;
        f.persist(&path).map_err(|e| err(e.error))?;
        Ok(())
    }

    /// Makes sure the log file exists and belongs to `run_as`, which pg_ctl runs as; a
    /// directory made for it belongs to `run_as` too.
    pub(crate) fn prepare_log(&self) -> Result<(), ProviderError> {
        if let Some(parent) = self.log_file.parent() {
            if !parent.as_os_str().is_empty() && !parent.exists() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| perr(format!("cannot create {}", parent.display()), e))?;
                self.chown(parent)?;
            }
        }
        // Opened, created if need be, and given away through its descriptor, never through
        // a symlink `run_as` may have planted at its name.
        use std::os::unix::fs::OpenOptionsExt as _;
        let f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&self.log_file)
            .map_err(|e| perr(format!("cannot open {}", self.log_file.display()), e))?;
        self.chown_file(&f)
            .map_err(|e| perr(format!("cannot chown {}", self.log_file.display()), e))
    }

    pub(crate) async fn start(&self) -> Result<(), ProviderError> {
        self.prepare_log()?;
        let log = &self.log_file;
        let dir = self.data_dir.display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &dir,
                "-l",
                &log.display().to_string(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .await
        .map(|_| ())
    }

    pub(crate) async fn stop(&self, mode: &str) -> Result<(), ProviderError> {
        let dir = self.data_dir.display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &dir, "-m", mode, "-w", "-t", "60", "stop"],
        )
        .await
        .map(|_| ())
    }

    /// SIGKILL to the postmaster: the fence of last resort for a server that answers nothing.
    pub(crate) async fn kill(&self) {
        if let Some(pid) = self.postmaster_pid() {
            let _ = tokio::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status()
                .await;
        }
    }

    fn postmaster_pid(&self) -> Option<String> {
        let pidfile = std::fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        pidfile
            .lines()
            .next()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
    }

    /// The postmaster's process state letter from /proc (R, S, T, Z...), if it has one.
    fn postmaster_state(&self) -> Option<String> {
        let pid = self.postmaster_pid()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The state is the field after the parenthesised command name.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .map(str::to_string)
    }

    /// Whether a postmaster runs for this data directory. A killed postmaster may linger as a
    /// zombie (pg_ctl would still call it running), so read its state from /proc.
    pub(crate) async fn is_running(&self) -> bool {
        self.postmaster_state()
            .is_some_and(|state| state != "Z" && state != "X")
    }

    /// Whether the postmaster is stopped by a signal (SIGSTOP): it would ignore pg_ctl.
    pub(crate) fn is_frozen(&self) -> bool {
        self.postmaster_state().is_some_and(|state| state == "T")
    }

    /// Creates the data directory with initdb.
    pub(crate) async fn initdb(&self) -> Result<(), ProviderError> {
        self.make_data_dir()?;
        let dir = self.data_dir.display().to_string();
        let auth = if self.password.is_some() {
            "scram-sha-256"
        } else {
            "trust"
        };
        let mut args = vec![
            "-D".to_string(),
            dir,
            "--data-checksums".into(),
            "-U".into(),
            self.superuser.clone(),
            "--auth-local=trust".into(),
            format!("--auth-host={auth}"),
        ];
        let pwfile = self.initdb_pwfile()?;
        if let Some(f) = &pwfile {
            args.push(format!("--pwfile={}", f.path().display()));
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = self.run("initdb", &refs).await;
        drop(pwfile);
        // Only a permission error is explained by a directory on the way; any other keeps
        // initdb's own message.
        if r.as_ref()
            .err()
            .is_some_and(|e| format!("{} {}", e.summary, e.detail).contains("Permission denied"))
        {
            self.check_reachable()?;
        }
        r?;
        let hba = self.data_dir.join("pg_hba.conf");
        let mut text =
            std::fs::read_to_string(&hba).map_err(|e| perr("cannot read pg_hba.conf", e))?;
        text.push_str(&format!("\n# standby: loopback clients and replication\nhost all all 127.0.0.0/8 {auth}\nhost replication all 127.0.0.0/8 {auth}\n"));
        self.write_file("pg_hba.conf", &text)?;
        self.write_conf()
    }

    /// Removes the data directory. The log file, outside it, stays: it is the server's history
    /// across rebuilds.
    pub(crate) fn wipe(&self) -> Result<(), ProviderError> {
        if self.data_dir.exists() {
            std::fs::remove_dir_all(&self.data_dir)
                .map_err(|e| perr(format!("cannot remove {}", self.data_dir.display()), e))?;
        }
        Ok(())
    }
}

impl Server {
    /// The end of the WAL on disk of a stopped server: how far it wrote before it died. Read
    /// with pg_controldata (where to start) and pg_waldump (where valid records end).
    pub(crate) async fn wal_end(&self) -> Option<u64> {
        let dir = self.data_dir.display().to_string();
        let control = self.run("pg_controldata", &["-D", &dir]).await.ok()?;
        let field = |name: &str| {
            control
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(':').next())
                .map(|v| v.trim().to_string())
        };
        let redo = field("Latest checkpoint's REDO location:")?;
        // pg_waldump assumes timeline 1 and waits for files that never come otherwise.
        let timeline = field("Latest checkpoint's TimeLineID:").unwrap_or_else(|| "1".into());
        let wal = self.data_dir.join("pg_wal").display().to_string();
        let out = tokio::time::timeout(
            Duration::from_secs(3),
            self.command("pg_waldump")
                .args(["--path", &wal, "--timeline", &timeline, "--start", &redo])
                .output(),
        )
        .await
        .ok()?
        .ok()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // "error in WAL record at A/B: invalid record length at C/D": C/D is where the WAL ends.
        if let Some(line) = text
            .lines()
            .rev()
            .find(|l| l.contains("invalid record length at") || l.contains("invalid magic number"))
        {
            if let Some(pos) = line.rsplit("at ").next().and_then(|t| t.split(':').next()) {
                return Some(parse_lsn(pos.trim()));
            }
        }
        text.lines()
            .rev()
            .find_map(|l| l.split("lsn: ").nth(1))
            .and_then(|t| t.split(',').next())
            .map(|l| parse_lsn(l.trim()))
    }
}

/// `X/Y` to a number.
pub(crate) fn parse_lsn(s: &str) -> u64 {
    let (hi, lo) = s.split_once('/').unwrap_or(("0", "0"));
    (u64::from_str_radix(hi, 16).unwrap_or(0) << 32) | u64::from_str_radix(lo, 16).unwrap_or(0)
}

/// A number to `X/Y`.
pub(crate) fn format_lsn(n: u64) -> String {
    format!("{:X}/{:X}", n >> 32, n & 0xFFFF_FFFF)
}
