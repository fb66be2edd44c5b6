//! Issue 12's leak test. One secret is planted in every kind of input the example PostgreSQL
//! topology takes: a sensitive variable used as a value, as a map key and in a file's
//! content, a hook argument, a health-check URL, the TSIG key that signs DNS updates, the
//! database superuser password, a role password, and the argument of a function that fails.
//! Then every command a user runs is run, with a watcher reading every process's argv and
//! environment from /proc all along, and no output, log, report or process may hold a secret.
//!
//! The test also checks that each secret really reached its destination (the hook got its
//! argument, the file holds its content, DNS was updated with the key, the server wants the
//! password), so that it cannot pass by not using them.

use crate::support::pg::{cluster, rt};
use crate::support::proc::Watcher;
use crate::support::servers::{dig, named, secret};
use crate::support::{git, monitor::Monitor, Test};

const TOKEN: &str = "Lk7tok3nQz93";
const PG_PASSWORD: &str = "Pw8le4kXq2";
/// Not a secret: the default the validation case overrides with the token.
const PLAIN: &str = "placeholder";
/// The hook's own process is handed the token on purpose; it is the user's program.
const HOOK_MARK: &str = "leak-hook";

/// Every output of the run, labelled, to be searched for secrets at the end.
#[derive(Default)]
struct Outputs(Vec<(String, String)>);

impl Outputs {
    /// Runs standby and keeps its stdout and stderr; returns its exit code and stdout.
    fn run(&mut self, t: &Test, args: &[&str]) -> (i32, String) {
        let r = t.run(args);
        let label = args.join(" ");
        self.0.push((format!("{label} (stdout)"), r.stdout.clone()));
        self.0.push((format!("{label} (stderr)"), r.stderr.clone()));
        (r.code, format!("{}\n{}", r.stdout, r.stderr))
    }

    /// Runs standby and requires exit code `code`.
    fn ok(&mut self, t: &Test, args: &[&str], code: i32) -> String {
        let (c, out) = self.run(t, args);
        assert_eq!(c, code, "standby {args:?}:\n{out}");
        out
    }

    fn file(&mut self, t: &Test, rel: &str) {
        let text = std::fs::read_to_string(t.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        self.0.push((rel.to_string(), text));
    }
}

/// The example topology with the secrets planted.
fn topology(t: &Test, base: u16, dns_port: u16, tsig: &str) {
    let main = t
        .read("main.hcl")
        .replace(
            "  run_as   = var.run_as\n",
            "  run_as   = var.run_as\n  superuser_password = var.pg_password\n",
        )
        // The servers log every DDL statement's text, as auditing setups do: a role password
        // in a statement would be in their logs.
        .replace(
            "    shared_buffers = \"32MB\"\n",
            "    shared_buffers = \"32MB\"\n    log_statement  = \"ddl\"\n",
        )
        .replace(
            "  role_password = \"app-secret\"\n",
            "  role_password = var.token\n  password      = var.pg_password\n",
        )
        .replace(
            "  owner = postgres_role.app.name\n",
            "  owner = postgres_role.app.name\n  password = var.pg_password\n",
        )
        .replace(
            "    url      = var.health_urls\n",
            "    url      = { for s, u in var.health_urls : s => \"${u}?t=${var.token}\" }\n",
        )
        .replacen(
            "  verify {",
            &format!(
                "  hook \"after_switch\" {{\n    command = [\"sh\", \"-c\", \"printf %s \\\"$1\\\" > hook-arg.txt\", \"{HOOK_MARK}\", var.token]\n  }}\n\n  verify {{"
            ),
            1,
        );
    assert_eq!(main.matches("var.pg_password").count(), 4, "{main}");
    assert_eq!(main.matches("log_statement").count(), 2, "{main}");
    assert!(main.contains("var.token]") && main.contains("?t=${var.token}"));
    t.write("main.hcl", &main);
    t.write(
        "leak.hcl",
        r#"variable "token" {
  type      = string
  sensitive = true
}

variable "pg_password" {
  type      = string
  sensitive = true
}

resource "local_file" "keyed" {
  filename = "secrets/${env.name}/keyed.json"
  content  = jsonencode({ (var.token) = 1 })
}

resource "local_sensitive_file" "secret" {
  filename = "secrets/${env.name}/secret.txt"
  content  = var.token
}

resource "standby_data" "echo" {
  input = { token = var.token, keyed = { (var.token) = "x" } }
}

output "echo" {
  value     = standby_data.echo.output
  sensitive = true
}

output "plain" {
  value = "nothing secret"
}
"#,
    );
    t.write(
        "env/dev.hcl",
        &format!(
            "active_site      = \"east\"\nbase_port        = {base}\nreplication_mode = \"sync\"\nhealth_failures  = 2\ntoken            = \"{TOKEN}\"\npg_password      = \"{PG_PASSWORD}\"\ndns_server       = \"127.0.0.1:{dns_port}\"\ndns_secret       = \"{tsig}\"\nhealth_urls      = {{ east = \"http://127.0.0.1:9/east\", west = \"http://127.0.0.1:9/west\" }}\n"
        ),
    );
    t.write(
        "policy/leak.hcl",
        "rule \"quotes-a-secret\" {\n  severity  = \"warning\"\n  condition = false\n  message   = join(\",\", [for r in resources : r.values.content if r.type == \"local_sensitive_file\"])\n}\n",
    );
}

async fn connect(host: &str, port: u16) -> tokio_postgres::Client {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(host)
        .port(port)
        .user("postgres")
        .password(PG_PASSWORD)
        .dbname("postgres");
    let (c, conn) = cfg
        .connect(tokio_postgres::NoTls)
        .await
        .expect("east with the password");
    tokio::spawn(conn);
    c
}

/// GET `path` from the monitor's status endpoint.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Topologies that fail, each with a secret in the failing expression: what, the file, and
/// the words that prove the failure was the one meant.
fn failing() -> Vec<(&'static str, String, &'static str)> {
    vec![
        ("a function on a secret", "output \"bad\" {\n  value = tonumber(var.token)\n}\n".into(), "The call failed on a sensitive argument"),
        ("a secret as a for_each key", "resource \"local_file\" \"each\" {\n  for_each = { (var.token) = 1 }\n  filename = \"x\"\n  content  = \"x\"\n}\n".into(), "for_each may not use a sensitive value"),
        ("a secret in a validation message", format!("variable \"checked\" {{\n  default   = \"{PLAIN}\"\n  sensitive = true\n  validation {{\n    condition     = var.checked == \"y\"\n    error_message = \"expected y, not ${{var.checked}}\"\n  }}\n}}\n"), "The error message included a sensitive value, so it is not shown"),
        ("a secret as a file permission", "resource \"local_file\" \"perm\" {\n  filename        = \"p.txt\"\n  content         = \"x\"\n  file_permission = var.token\n}\n".into(), "(sensitive value)"),
        ("a secret as the active site", "locals {\n  site = var.token\n}\nfailover \"other\" {\n  active  = local.site\n  members = { east = postgres_server.east }\n}\n".into(), "active cannot be sensitive"),
        ("a secret as a hook command", "failover \"other\" {\n  active  = \"east\"\n  members = { east = postgres_server.east }\n  hook \"after_switch\" {\n    command = var.token\n  }\n}\n".into(), "found (sensitive value)"),
    ]
}

#[test]
fn a_secret_in_every_input_shows_in_no_output_and_no_process() {
    let (t, base, _servers) = cluster();
    // The state is encrypted, with its key in a file; the key is one more secret.
    let state_key = "5f".repeat(32);
    let key_file = t.join("state.key").display().to_string();
    std::fs::write(&key_file, &state_key).unwrap();
    let t = t.env("STANDBY_STATE_KEY_FILE", &key_file);
    let dns_port = base + 8;
    let tsig = secret();
    let _dns = named(t.path(), dns_port, &tsig);
    topology(&t, base, dns_port, &tsig);
    let secrets = [TOKEN, PG_PASSWORD, tsig.as_str(), state_key.as_str()];
    let watcher = Watcher::start(&secrets, Some(HOOK_MARK));
    let mut out = Outputs::default();
    let dev = ["-e", "dev"];
    let with = |args: &[&'static str]| -> Vec<&'static str> { [args, &dev[..]].concat() };

    // Plan, save, show and apply.
    out.ok(&t, &with(&["validate"]), 0);
    out.ok(&t, &with(&["plan"]), 0);
    out.ok(&t, &with(&["plan", "--json"]), 0);
    out.ok(&t, &with(&["plan", "--out", "leak.plan"]), 0);
    out.ok(&t, &["show", "leak.plan"], 0);
    out.ok(&t, &["show", "leak.plan", "--json"], 0);
    out.ok(&t, &["apply", "leak.plan"], 0);
    // The secrets reached their destinations.
    assert_eq!(t.read("secrets/dev/secret.txt"), TOKEN);
    assert!(t.read("secrets/dev/keyed.json").contains(TOKEN));
    assert_eq!(
        dig(dns_port, "db.dr.test", "A"),
        vec!["127.0.0.2".to_string()]
    );
    rt().block_on(async {
        connect("127.0.0.2", base)
            .await
            .batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL); INSERT INTO orders VALUES (1, 'a')")
            .await
            .unwrap();
    });

    // Everything that reads the state or the plan.
    out.ok(&t, &with(&["plan"]), 0);
    out.ok(&t, &with(&["show"]), 0);
    out.ok(&t, &with(&["show", "--json"]), 0);
    out.ok(&t, &with(&["output"]), 0);
    out.ok(&t, &with(&["output", "echo"]), 0);
    out.ok(&t, &with(&["output", "--json"]), 0);
    let list = out.ok(&t, &with(&["state", "list"]), 0);
    for addr in list.lines().filter(|l| l.contains('.') && !l.contains(' ')) {
        out.ok(&t, &["state", "show", addr, "-e", "dev"], 0);
    }
    out.ok(&t, &with(&["status"]), 0);
    out.ok(&t, &with(&["graph"]), 0);
    // The rules may find something (the example's rto is tight); what they say is checked.
    for format in ["text", "json", "sarif"] {
        let (code, text) = out.run(&t, &with(&["check", "--format", format]));
        assert!(code == 0 || code == 1, "check --format {format}:\n{text}");
        assert!(
            text.contains("quotes-a-secret") && text.contains("(sensitive value)"),
            "check --format {format} did not report the rule:\n{text}"
        );
    }
    // staging holds the same kinds of secrets, so that both plans of the comparison run.
    t.write(
        "env/staging.hcl",
        &t.read("env/dev.hcl")
            .replace(&format!("{base}"), &format!("{}", base + 4)),
    );
    let (code, text) = out.run(&t, &["envs", "diff", "dev", "staging"]);
    assert!(code == 0 || code == 1, "envs diff:\n{text}");
    assert!(text.contains("staging"), "envs diff:\n{text}");

    // A monitor checking the health URLs, which carry the token, and serving its status.
    let m = Monitor::start(
        &t,
        &[
            "-e",
            "dev",
            "--var",
            "health_type=http",
            "--var",
            "health_failures=1000",
            "--listen",
            "0",
            "--for",
            "8s",
        ],
    );
    assert!(
        m.wait_for("(sensitive value)", std::time::Duration::from_secs(6)),
        "the monitor logged no failed check of a health URL:\n{}",
        m.log()
    );
    let addr = m.status_address();
    out.0
        .push(("status endpoint /".into(), http_get(&addr, "/")));
    out.0.push((
        "status endpoint /metrics".into(),
        http_get(&addr, "/metrics"),
    ));
    drop(m);
    out.file(&t, "monitor.log");
    out.file(&t, "monitor.out");

    // A pull-request review of a change to the topology.
    std::fs::write(
        t.join(".gitignore"),
        "data/\nsecrets/\n.standby/\n*.log\n*.out\n*.plan\n",
    )
    .unwrap();
    git(&t, &["init", "-q", "-b", "main"]);
    git(&t, &["add", "-A"]);
    git(&t, &["commit", "-q", "-m", "topology"]);
    t.write(
        "leak.hcl",
        &t.read("leak.hcl")
            .replace("nothing secret", "still nothing"),
    );
    let (code, text) = out.run(&t, &["review", "--base", "main", "-e", "dev"]);
    assert!(
        code == 0 && text.contains("still nothing"),
        "review:\n{text}"
    );
    let (code, text) = out.run(
        &t,
        &["review", "--base", "main", "-e", "dev", "--format", "json"],
    );
    assert!(
        code == 0 && text.contains("\"env\""),
        "review --format json:\n{text}"
    );

    // A drill: the monitor fails over, the hook runs with the token, the report is written.
    let (code, text) = out.run(
        &t,
        &[
            "drill",
            "orders",
            "-e",
            "dev",
            "--scenario",
            "kill-primary",
            "--out",
            "drill",
        ],
    );
    assert_eq!(code, 0, "{text}");
    for f in [
        "drill/report.json",
        "drill/report.md",
        "drill/timeline.svg",
        "drill/monitor.log",
    ] {
        out.file(&t, f);
    }
    assert_eq!(
        t.read("hook-arg.txt"),
        TOKEN,
        "the hook did not get its argument"
    );
    // The servers' logs and settings, which log failed statements and hold conninfo.
    for f in [
        "data/dev/east.log",
        "data/dev/west.log",
        "data/dev/east/postgresql.auto.conf",
        "data/dev/west/postgresql.auto.conf",
    ] {
        out.file(&t, f);
    }
    // The role's password works, and the server holds only its SCRAM verifier: standby sent
    // the verifier, so the password was in no statement the server saw.
    let verifier: String = rt().block_on(async {
        connect("127.0.0.3", base + 1)
            .await
            .query_one(
                "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    });
    assert!(verifier.starts_with("SCRAM-SHA-256$"), "{verifier}");
    rt().block_on(async {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host("127.0.0.3")
            .port(base + 1)
            .user("app")
            .password(TOKEN)
            .dbname("postgres");
        let (_client, _connection) = cfg
            .connect(tokio_postgres::NoTls)
            .await
            .expect("app logs in with its password");
    });
    out.ok(&t, &with(&["status"]), 0);

    // Errors, each on an expression that holds a secret.
    // The validation case gets its value, the token, from a --var-file, as a secret would.
    t.write("checked.vars", &format!("checked = \"{TOKEN}\"\n"));
    for (what, hcl, expect) in failing() {
        t.write("bad.hcl", &hcl);
        let var_file = if hcl.contains("checked") {
            vec!["--var-file", "checked.vars"]
        } else {
            vec![]
        };
        let (code, text) = out.run(&t, &[&with(&["plan"])[..], &var_file].concat());
        assert_ne!(code, 0, "{what}: planned\n{text}");
        assert!(text.contains(expect), "{what}: no {expect:?} in\n{text}");
    }
    // A provider error at apply time that quotes part of an attribute built from a secret.
    t.write(
        "bad.hcl",
        "resource \"local_file\" \"under_proc\" {\n  filename = \"/proc/${var.token}/x.txt\"\n  content  = \"x\"\n}\n",
    );
    let (code, text) = out.run(
        &t,
        &with(&[
            "apply",
            "--auto-approve",
            "--target",
            "local_file.under_proc",
        ]),
    );
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("/proc/(sensitive value)"), "{text}");
    std::fs::remove_file(t.join("bad.hcl")).unwrap();

    // Nothing standby keeps holds a secret in the clear: state, backups, journal, history.
    let mut kept = vec![t.join(".standby")];
    while let Some(p) = kept.pop() {
        if p.is_dir() {
            kept.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        } else {
            let bytes = std::fs::read(&p).unwrap_or_default();
            for s in secrets {
                assert!(
                    !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                    "{} holds a secret in the clear",
                    p.display()
                );
            }
        }
    }

    let (in_processes, scans) = watcher.finish();
    let mut leaks = Vec::new();
    for (label, text) in &out.0 {
        for s in secrets {
            if text.contains(s) {
                leaks.push(format!("{label}:\n{text}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "a secret showed in:\n{}",
        leaks.join("\n---\n")
    );
    assert!(in_processes.is_empty(), "a secret is in: {in_processes:#?}");
    assert!(scans > 20, "the watcher scanned /proc only {scans} times");
    println!(
        "| outputs searched | {} | /proc scans | {scans} | secrets found | 0 |",
        out.0.len()
    );
}

/// `STANDBY_STATE_KEY` was removed from standby's environment at start, but Linux shows the
/// environment a process started with in /proc/PID/environ, so the key stayed readable there
/// for as long as standby ran (a monitor: for ever). Its value is now overwritten in place.
#[test]
fn the_state_key_variable_is_not_readable_in_proc_while_standby_runs() {
    let key = "3c".repeat(32);
    let t = Test::plan("quickstart").env("STANDBY_STATE_KEY", &key);
    t.run(&["apply", "-e", "dev", "--auto-approve"]).code(0);
    let m = Monitor::start(&t, &["-e", "dev", "--for", "5s"]);
    let environ = std::fs::read(format!("/proc/{}/environ", m.0.id())).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(environ.contains("STANDBY_STATE_KEY="), "{environ}");
    assert!(!environ.contains(&key), "the key is readable in /proc");
    // The monitor read the encrypted state with it all the same.
    assert!(m.log().contains("watching failover.orders"), "{}", m.log());
}
