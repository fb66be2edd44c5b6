//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// standby: plan, review and apply failover topologies.
#[derive(Parser, Debug)]
#[command(
    name = "standby",
    version,
    about,
    long_about = "standby reads a directory of .hcl files describing sites, databases, traffic and switch policy, diffs it against the recorded state of an environment, and applies ordered actions.\n\nStart with `standby plan` in a topology directory, then `standby apply`."
)]
pub struct Cli {
    /// Run as if standby was started in DIR (the topology directory).
    #[arg(short = 'C', long = "chdir", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Where state lives: `local` (default: .standby/state) or `pg:CONN_STR[#SCHEMA]`.
    /// Overrides the topology's `backend` block.
    #[arg(long, global = true, env = "STANDBY_BACKEND", value_name = "SPEC")]
    pub backend: Option<String>,
    /// Never colour the output (colour is used only on a terminal anyway).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Ask for nothing on the terminal (as Terraform's -input=false): an apply that needs a
    /// confirmation fails instead of asking.
    #[arg(long, global = true, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub input: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Which environment, and its variable inputs.
#[derive(Args, Debug, Clone, Default)]
pub struct EnvArgs {
    /// The environment: loads env/NAME.hcl and uses its own state.
    #[arg(short = 'e', long = "env", env = "STANDBY_ENV", value_name = "NAME")]
    pub env: Option<String>,
    /// Set a variable: NAME=VALUE. Repeatable; later settings win.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from a file of NAME = VALUE lines. Repeatable.
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

/// State locking.
#[derive(Args, Debug, Clone)]
pub struct LockArgs {
    /// How long to wait for a state lock held by someone else, such as 30s or 2m.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
    /// Hold the state lock (as Terraform's -lock). `--lock=false` runs without it, which is
    /// dangerous when others work on the same environment; an apply that switches a failover
    /// group refuses it.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub lock: bool,
}

use standby_engine::units::parse_duration;

/// An etcd lease's time to live: etcd counts whole seconds, at least 1.
fn parse_lease_ttl(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(s).map_err(|e| e.to_string())?;
    if d.subsec_nanos() != 0 || d.as_secs() == 0 {
        return Err(format!(
            "{s:?}: the lease TTL is whole seconds, at least 1s (etcd counts seconds)"
        ));
    }
    Ok(d)
}

/// What to plan.
#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// Plan only these resources (and what they depend on). Repeatable.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Force these instances to be replaced. Repeatable.
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<String>,
    /// Plan to destroy everything in the environment.
    #[arg(long)]
    pub destroy: bool,
    /// Only read real attributes and report drift; change nothing.
    #[arg(long)]
    pub refresh_only: bool,
    /// Whether to read real attributes through the providers before planning.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
}

impl PlanArgs {
    /// A whole-topology plan that reads no real attributes: the switch commands' plan.
    pub fn without_refresh() -> PlanArgs {
        PlanArgs {
            targets: vec![],
            replace: vec![],
            destroy: false,
            refresh_only: false,
            refresh: false,
        }
    }
}

/// How apply passes failover gates.
#[derive(Args, Debug, Clone, Default)]
pub struct GateArgs {
    /// Approve the switch of this failover group (for CI). Repeatable.
    #[arg(long = "approve", value_name = "GROUP")]
    pub approve: Vec<String>,
    /// A file of `GROUP PLAN-HASH` lines approving switches of exactly that plan.
    #[arg(long = "approval-file", value_name = "FILE")]
    pub approval_file: Option<PathBuf>,
    /// Allow promoting this group's target even if that loses data. Repeatable.
    #[arg(long = "accept-data-loss", value_name = "GROUP")]
    pub accept_data_loss: Vec<String>,
    /// etcd endpoints the monitors elect through (comma-separated): each promotion this
    /// command runs claims its epoch there too, so no monitor can promote the same epoch.
    #[arg(
        long = "etcd",
        env = "STANDBY_ETCD",
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub etcd: Vec<String>,
    /// Apply values given with --var or --var-file to a protected environment anyway, for
    /// this REASON; the history records the reason and the values.
    #[arg(long = "operator-override", value_name = "REASON")]
    pub operator_override: Option<String>,
}

/// Drill scenarios.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// The primary crashes: SIGKILL of a server's main process, or an embedded database's
    /// file lost (moved aside).
    KillPrimary,
    /// Graceful (fast) shutdown of the primary server.
    StopPrimary,
    /// The primary alive but answering nothing: SIGSTOP of a server and its children, or an
    /// embedded database's file locked against every client.
    HangPrimary,
    /// The primary's address and port cut off from everyone (monitor, standby, clients) by an
    /// nftables rule on loopback; without nftables, SIGSTOP stands in, and the report says so.
    PartitionPrimary,
    /// A planned switchover under load.
    Switchover,
}

/// `review` output formats.
#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ReviewFormat {
    /// A Markdown PR comment.
    Markdown,
    /// JSON.
    Json,
}

/// `check` output formats.
#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum CheckFormat {
    /// One line per finding with its location.
    Text,
    /// SARIF 2.1.0, for code-host annotations.
    Sarif,
    /// A JSON list.
    Json,
}

/// Graph formats.
#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check the topology: syntax, references, types, cycles. Changes nothing.
    Validate {
        #[command(flatten)]
        env: EnvArgs,
        /// Print the result as Terraform's `validate -json` does: valid, counts, diagnostics
        /// with file ranges.
        #[arg(long)]
        json: bool,
    },
    /// Show what apply would do.
    Plan {
        #[command(flatten)]
        env: EnvArgs,
        #[command(flatten)]
        plan: PlanArgs,
        #[command(flatten)]
        lock: LockArgs,
        /// Save the plan to FILE; `standby apply FILE` then runs exactly it.
        #[arg(long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print the plan as versioned JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Exit 0 when there are no changes, 2 when there are, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Also show the topology diff from this git revision (such as origin/main).
        #[arg(long, value_name = "REV")]
        base: Option<String>,
        /// Plan the topology as it is at this git revision instead of the working tree.
        #[arg(long, value_name = "REV")]
        head: Option<String>,
    },
    /// Make the changes: from a saved plan, or plan now and ask for confirmation.
    Apply {
        /// A plan saved with `plan --out`.
        plan_file: Option<PathBuf>,
        #[command(flatten)]
        env: EnvArgs,
        #[command(flatten)]
        plan: PlanArgs,
        #[command(flatten)]
        lock: LockArgs,
        #[command(flatten)]
        gates: GateArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// At most this many actions at once.
        #[arg(long, default_value_t = 10)]
        parallelism: usize,
    },
    /// Emergency failover: make SITE active now, when the current primary is down.
    Failover {
        /// The failover group.
        group: String,
        /// The site to promote.
        #[arg(long, value_name = "SITE")]
        to: String,
        #[command(flatten)]
        env: EnvArgs,
        #[command(flatten)]
        lock: LockArgs,
        #[command(flatten)]
        gates: GateArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
    },
    /// Planned switch to SITE without editing the topology (leaves an override).
    Switchover {
        /// The failover group.
        group: String,
        /// The site to make active.
        #[arg(long, value_name = "SITE")]
        to: String,
        #[command(flatten)]
        env: EnvArgs,
        #[command(flatten)]
        lock: LockArgs,
        #[command(flatten)]
        gates: GateArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
    },
    /// Review a change for a pull request: topology diff, plans, risk flags, as one comment.
    Review {
        /// The base revision, such as origin/main.
        #[arg(long, value_name = "REV")]
        base: String,
        /// The head revision; the working tree by default.
        #[arg(long, value_name = "REV")]
        head: Option<String>,
        /// Environments to plan (repeatable).
        #[arg(short = 'e', long = "env", value_name = "NAME", required = true)]
        envs: Vec<String>,
        /// Markdown for a PR comment, or JSON for bots.
        #[arg(long, value_enum, default_value = "markdown")]
        format: ReviewFormat,
        /// Write the comment to FILE (FILE.1.md, FILE.2.md ... when it is split).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Check the topology and its plan against built-in and `policy/*.hcl` rules.
    Check {
        #[command(flatten)]
        env: EnvArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: CheckFormat,
    },
    /// Watch every failover group's members and fail over when the active one is down.
    Monitor {
        #[command(flatten)]
        env: EnvArgs,
        #[command(flatten)]
        lock: LockArgs,
        /// Stop after this long (for drills and tests), such as 30s.
        #[arg(long = "for", value_parser = parse_duration, value_name = "DURATION")]
        run_for: Option<std::time::Duration>,
        /// Serve the status as JSON (`/`) and Prometheus text (`/metrics`) on ADDR, such as
        /// 127.0.0.1:9469; a port alone (9469) listens on loopback only.
        #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
        listen: Option<std::net::SocketAddr>,
        /// A file holding a bearer token that every request to --listen must present
        /// (`Authorization: Bearer TOKEN`).
        #[arg(long, env = "STANDBY_MONITOR_TOKEN_FILE", value_name = "FILE")]
        listen_token_file: Option<std::path::PathBuf>,
        /// POST a JSON notification to this http:// URL when a failover triggers, finishes,
        /// or awaits approval.
        #[arg(long, value_name = "URL")]
        webhook: Option<String>,
        /// etcd endpoints (comma-separated), such as http://127.0.0.1:2379: several monitors
        /// then elect one that acts, through a lease. Without it this monitor is a single point
        /// of failure.
        #[arg(long, env = "STANDBY_ETCD", value_delimiter = ',', value_name = "URL")]
        etcd: Vec<String>,
        /// The lease's time to live: how soon another monitor takes over after the holder
        /// dies (whole seconds, at least 1).
        #[arg(long = "lease-ttl", value_parser = parse_lease_ttl, default_value = "3s", value_name = "DURATION")]
        lease_ttl: std::time::Duration,
        /// This monitor's name in the election (default HOST-PID).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Also write the monitor's events (watching, failed checks, recoveries, triggers,
        /// failovers) to FILE as JSON lines, one object with an "event" field each; FILE is
        /// overwritten. The log on stderr says the same for people.
        #[arg(long, value_name = "FILE")]
        events: Option<std::path::PathBuf>,
    },
    /// Inject a disaster into a non-production environment under load and check recovery.
    Drill {
        /// The failover group.
        group: String,
        #[command(flatten)]
        env: EnvArgs,
        /// What goes wrong.
        #[arg(long, value_enum)]
        scenario: Scenario,
        /// Allow drilling a protected environment.
        #[arg(long = "i-know")]
        i_know: bool,
        /// How the writer reaches the primary: `dns` (the group's dns_record name, resolved
        /// through its server), `members` (a multi-host client), or HOST:PORT of a TCP frontend
        /// such as HAProxy's. Default: dns when the group has a dns_record, else members.
        #[arg(long, value_name = "PATH")]
        via: Option<String>,
        /// Write report.json, report.md and timeline.svg to DIR
        /// (default .standby/drills/ENV-GROUP-SCENARIO-TIME).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Run a failover plan the monitor saved for approval.
    Approve {
        /// The plan file the monitor named.
        plan_file: PathBuf,
        #[command(flatten)]
        lock: LockArgs,
        /// The monitors' etcd endpoints, when they elect through one: the approved promotion
        /// claims its epoch there like any other.
        #[arg(
            long = "etcd",
            env = "STANDBY_ETCD",
            value_delimiter = ',',
            value_name = "URL"
        )]
        etcd: Vec<String>,
    },
    /// Show each failover group: active site, epoch, member roles and lag, override, last switch.
    Status {
        #[command(flatten)]
        env: EnvArgs,
    },
    /// Compare environments.
    #[command(subcommand)]
    Envs(EnvsCommand),
    /// Destroy everything standby manages in the environment.
    Destroy {
        #[command(flatten)]
        env: EnvArgs,
        #[command(flatten)]
        lock: LockArgs,
        /// Destroy only these (and what depends on them).
        #[arg(long = "target", value_name = "ADDR")]
        targets: Vec<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// At most this many actions at once.
        #[arg(long, default_value_t = 10)]
        parallelism: usize,
    },
    /// Read real attributes through the providers and record them in the state.
    Refresh {
        #[command(flatten)]
        env: EnvArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Show the state, or a saved plan.
    Show {
        /// A plan saved with `plan --out`; without it, the state is shown.
        plan_file: Option<PathBuf>,
        #[command(flatten)]
        env: EnvArgs,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print root outputs from the state.
    Output {
        /// Only this output.
        name: Option<String>,
        #[command(flatten)]
        env: EnvArgs,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Print one string output as it is, without quotes or a newline (for scripts).
        #[arg(long, requires = "name", conflicts_with = "json")]
        raw: bool,
    },
    /// Print the dependency graph.
    Graph {
        #[command(flatten)]
        env: EnvArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
        /// Draw the execution graph of a plan made now (this takes no plan file) instead of
        /// the configuration graph.
        #[arg(long)]
        plan: bool,
    },
    /// Inspect and edit the state.
    #[command(subcommand)]
    State(StateCommand),
    /// Rewrite .hcl files in the canonical format.
    Fmt {
        /// Files or directories; the topology directory by default.
        paths: Vec<PathBuf>,
        /// Change nothing; exit 3 if any file is not formatted.
        #[arg(long)]
        check: bool,
        /// Also format subdirectories.
        #[arg(long)]
        recursive: bool,
        /// Print a unified diff of each change (files are still rewritten unless --check).
        #[arg(long)]
        diff: bool,
    },
    /// Print standby's version, as `terraform version` does.
    Version {
        /// JSON, with the platform and the built-in providers.
        #[arg(long)]
        json: bool,
    },
    /// Check the topology's providers and that the state backend answers; install the
    /// Terraform providers it declares from filesystem mirrors (nothing is downloaded) and
    /// write `.standby.lock.hcl`.
    Init {
        /// Select the newest version of each external provider that its constraints allow,
        /// instead of the one the lock file selects (built-in providers have no other version).
        #[arg(long)]
        upgrade: bool,
        /// A filesystem mirror to install external providers from, in Terraform's layout
        /// (HOSTNAME/NAMESPACE/TYPE/VERSION/OS_ARCH/); repeatable. When given, no other
        /// directory is searched.
        #[arg(long = "plugin-dir", value_name = "DIR")]
        plugin_dirs: Vec<std::path::PathBuf>,
        /// Accepted for Terraform scripts (`init -reconfigure`): standby keeps no backend
        /// settings between runs, so every init reads the backend afresh.
        #[arg(long)]
        reconfigure: bool,
    },
    /// Evaluate expressions against an environment: its variables, locals, resources and
    /// module outputs, as a plan computes them (nothing is refreshed or changed). Reads one
    /// expression per line; piped input stops at the first error with exit 1.
    Console {
        #[command(flatten)]
        env: EnvArgs,
    },
    /// Adopt an existing object into the state as ADDR, as `terraform import`: the topology
    /// must declare it; nothing but the state changes.
    Import {
        /// The instance, such as local_file.conf or module.site["east"].local_file.conf.
        addr: String,
        /// The provider's id of the object, such as the file's name.
        id: String,
        #[command(flatten)]
        env: EnvArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Print a shell completion script, such as
    /// `standby completions bash > /etc/bash_completion.d/standby`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print standby's man page (roff), or write one page per command into a directory.
    Man {
        /// Write standby.1, standby-plan.1 ... into DIR instead.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Release a state lock left behind by a process that is gone.
    ForceUnlock {
        /// The lock id, as shown in the lock error.
        id: String,
        #[command(flatten)]
        env: EnvArgs,
    },
}

/// `standby envs ...`.
#[derive(Subcommand, Debug)]
pub enum EnvsCommand {
    /// Report structural differences between two environments; exit 2 when they differ.
    Diff {
        /// The first environment.
        a: String,
        /// The second environment.
        b: String,
    },
    /// List the environments.
    List,
}

/// `standby state ...`.
#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// List resource instances in the state.
    List {
        #[command(flatten)]
        env: EnvArgs,
        /// Only addresses inside these.
        filter: Vec<String>,
    },
    /// Show one resource instance.
    Show {
        /// The instance address.
        addr: String,
        #[command(flatten)]
        env: EnvArgs,
    },
    /// Forget instances without destroying them.
    Rm {
        /// Instance addresses.
        #[arg(required = true)]
        addrs: Vec<String>,
        #[command(flatten)]
        env: EnvArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Rename an instance in the state.
    Mv {
        /// The current address.
        from: String,
        /// The new address.
        to: String,
        #[command(flatten)]
        env: EnvArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Copy the environment's state to another backend (which must be empty, unless --force).
    Migrate {
        /// The target: `local` or `pg:CONN_STR[#SCHEMA]`.
        #[arg(long = "to", value_name = "SPEC")]
        to: String,
        /// Overwrite state that already exists at the target.
        #[arg(long)]
        force: bool,
        /// Write the target encrypted with the state key (`on`) or plain (`off`); by default
        /// as the key settings say. The source is read with the key when one is set.
        #[arg(long, value_enum)]
        encryption: Option<Encryption>,
        #[command(flatten)]
        env: EnvArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Print the raw state JSON.
    Pull {
        #[command(flatten)]
        env: EnvArgs,
    },
    /// Replace the state with FILE (`-` for standard input), as `terraform state push`: a
    /// state of another lineage, or with a serial that is not newer, is refused unless --force.
    Push {
        /// The state JSON, as `state pull` prints it.
        file: PathBuf,
        /// Push even a state of another lineage or an older serial.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        env: EnvArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
}

/// `--listen`: `HOST:PORT`, or a port alone for loopback.
fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse()
        .map_err(|_| format!("{s:?} is not an address such as 127.0.0.1:9469, or a port"))
}

/// `state migrate --encryption`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Encryption {
    /// Encrypted with STANDBY_STATE_KEY(_FILE).
    On,
    /// Plain JSON.
    Off,
}
