//! Invariants of the source tree that the compiler does not check (ARCHITECTURE.md lists
//! them). Each check is a function over a tree's root, so that the tests below can show it
//! failing on a tree that breaks the rule, not only passing on ours.

use std::path::{Path, PathBuf};

/// The library crates: they return data and never print (only the `standby` binary in `src/`
/// does). Clippy's `print_stdout`/`print_stderr`, set in `[workspace.lints]`, catch the
/// macros at compile time; this also catches `dbg!` and writing to the process's streams.
const LIBRARY_DIRS: &[&str] = &[
    "engine/src",
    "providers/sdk/src",
    "providers/local/src",
    "providers/postgres/src",
    "providers/dns/src",
    "providers/haproxy/src",
];

/// What counts as printing in a library crate.
const PRINTS: &[&str] = &[
    "println!",
    "print!",
    "eprintln!",
    "eprint!",
    "dbg!",
    // `std::io::stdout()`, or `stdout()` after `use std::io::stdout`; not a builder's
    // `.stdout(Stdio::piped())`.
    "stdout(",
    "stderr(",
];

/// Source files longer than this are split. The ones listed in [`OVERSIZE`] predate the rule
/// and may not grow; the list only shrinks.
const MAX_LINES: usize = 700;

/// Files above [`MAX_LINES`], each with the length it may not exceed.
const OVERSIZE: &[(&str, usize)] = &[
    ("engine/src/config/decode.rs", 779),
    ("engine/src/eval/expr.rs", 934),
    ("engine/src/plan/walk.rs", 801),
];

/// Crates that belong to the command line only; the engine library must not pull them in.
const CLI_CRATES: &[&str] = &[
    "clap",
    "clap_complete",
    "clap_mangen",
    "miette",
    "indicatif",
];

/// Every place that handles a sensitive mark itself: drops it (`.unmarked()`,
/// `.deep_unmark()`, `Value::unmarked`, `Value::deep_unmark`), turns a value into JSON without
/// it (`.to_json()`), or matches the `Sensitive` variant; with how many times and why the
/// secret cannot reach an output from there. The value type's accessors (`as_str`, `get`,
/// ...) read a sensitive value as absent, so these are the only ways to a secret; a new one
/// must be added here, which puts it in front of a reviewer.
const UNMARKING: &[(&str, usize, &str)] = &[
    (
        "providers/sdk/src/schema.rs",
        1,
        "type conversion keeps the mark on the result",
    ),
    (
        "providers/plugin/src/cty.rs",
        11,
        "values encoded for an external provider, which needs them in clear as Terraform sends them; the schema marks what comes back",
    ),
    (
        "providers/plugin/src/provider.rs",
        3,
        "the configuration and the recorded state sent to an external provider; what it returns is marked again by the schema",
    ),
    (
        "providers/plugin/src/values.rs",
        8,
        "comparisons of planned and configured values, and values shaped for an external provider",
    ),
    (
        "engine/src/apply/executor.rs",
        1,
        "values handed to providers and stored, with the marked paths kept",
    ),
    (
        "engine/src/apply/instance.rs",
        4,
        "planned and final values compared and recorded with their paths",
    ),
    (
        "engine/src/apply/record.rs",
        2,
        "the state records attributes plain with their sensitive paths beside them",
    ),
    (
        "engine/src/apply/walk_switch.rs",
        2,
        "a member's state handed to its provider; the active site",
    ),
    (
        "engine/src/check/mod.rs",
        1,
        "a rule's condition: only its truth is used",
    ),
    (
        "engine/src/drill/load.rs",
        1,
        "a dns_record's server and name, to resolve the drill writer's path; neither is secret",
    ),
    (
        "src/cli/state_cmd.rs",
        3,
        "attributes printed each with its mark; outputs redacted first",
    ),
    (
        "engine/src/eval/convert.rs",
        1,
        "type conversion keeps the mark on the result",
    ),
    (
        "engine/src/eval/expr.rs",
        9,
        "conditions, splat and for sources, and the truth of a condition (to_bool): the result is re-marked",
    ),
    (
        "engine/src/eval/functions/collection.rs",
        3,
        "deduplication keys and flattening; results re-marked",
    ),
    (
        "engine/src/eval/functions/encoding.rs",
        1,
        "jsonencode of unmarked arguments; the result re-marked",
    ),
    (
        "engine/src/eval/functions/mod.rs",
        2,
        "function arguments: the result is re-marked, errors withheld",
    ),
    (
        "engine/src/eval/size.rs",
        1,
        "measures a value's size; reads nothing of it",
    ),
    (
        "engine/src/eval/unify.rs",
        2,
        "type unification reads types through marks, and conform keeps each mark",
    ),
    (
        "engine/src/plan/diff.rs",
        5,
        "provider plans: marks kept as paths, errors redacted",
    ),
    (
        "engine/src/plan/expansion.rs",
        3,
        "count and for_each, after refusing sensitive ones; a count's numeric string is read through its mark, which was refused before",
    ),
    (
        "engine/src/state/model.rs",
        1,
        "a failover member's state handed to its provider, to connect to it",
    ),
    (
        "engine/src/plan/failover.rs",
        1,
        "a member's state handed to its provider",
    ),
    (
        "engine/src/plan/failover_settings.rs",
        3,
        "type checks; a hook argument keeps its mark as a flag",
    ),
    (
        "engine/src/plan/health_check.rs",
        3,
        "a target checked and kept with its mark; a TTL counted",
    ),
    (
        "engine/src/plan/json.rs",
        3,
        "public JSON: a sensitive part becomes (sensitive value), an unset one null",
    ),
    (
        "engine/src/plan/json_tf.rs",
        6,
        "finding which attributes a plan marks sensitive, to leave their literals out of the configuration: only the marks are read",
    ),
    (
        "engine/src/plan/model.rs",
        2,
        "a member's state; saved plans store values with their masks",
    ),
    (
        "engine/src/plan/prior.rs",
        6,
        "provider reads, upgrades and imports: marks kept as paths and put back on what the provider returns, and the state records them as paths",
    ),
    (
        "engine/src/plan/render.rs",
        2,
        "the attributes of an object; each is printed with its mark",
    ),
    (
        "engine/src/plan/variables.rs",
        1,
        "a validation condition: only its truth is used",
    ),
    (
        "engine/src/plan/walk.rs",
        3,
        "provider validation and data source reads: marks kept as paths and put back on what the provider returns, errors redacted",
    ),
];

const PATTERNS: [&str; 6] = [
    ".unmarked()",
    "Value::unmarked",
    ".deep_unmark()",
    "Value::deep_unmark",
    "Sensitive(",
    ".to_json()",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn all_rust_files(root: &Path, dirs: &[&str]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for d in dirs {
        let dir = root.join(d);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
    }
    files.sort();
    files
}

fn rel(root: &Path, f: &Path) -> String {
    f.strip_prefix(root).unwrap().display().to_string()
}

/// `file:line: macro` for every place a library crate prints.
fn library_prints(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for f in all_rust_files(root, LIBRARY_DIRS) {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for p in PRINTS {
                // `print!` is also the tail of `eprint!`; report each place once.
                let hit = code.match_indices(p).any(|(i, _)| {
                    let method = p.ends_with('(') && code[..i].ends_with('.');
                    !method && !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if hit {
                    found.push(format!("{}:{}: {p}", rel(root, &f), n + 1));
                    break;
                }
            }
        }
    }
    found
}

/// Files over the size limit that are not listed, or listed ones that grew.
fn oversize_files(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for f in all_rust_files(root, &["src", "engine/src", "providers"]) {
        let r = rel(root, &f);
        let lines = std::fs::read_to_string(&f).unwrap().lines().count();
        let cap = OVERSIZE
            .iter()
            .find(|(p, _)| *p == r)
            .map_or(MAX_LINES, |(_, n)| *n);
        if lines > cap {
            found.push(format!("{r}: {lines} lines, the limit is {cap}"));
        }
    }
    found
}

/// Source files that ARCHITECTURE.md does not name: each file by its name, each module
/// directory (`mod.rs`) by `dir/`.
fn unmapped_modules(root: &Path) -> Vec<String> {
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_default();
    let mut dirs: Vec<&str> = vec!["src", "engine/src"];
    dirs.extend(LIBRARY_DIRS.iter().skip(1));
    all_rust_files(root, &dirs)
        .into_iter()
        .filter_map(|f| {
            let name = f.file_name()?.to_str()?.to_string();
            let key = match name.as_str() {
                "mod.rs" => format!("{}/", f.parent()?.file_name()?.to_str()?),
                "lib.rs" | "main.rs" | "tests.rs" => return None,
                n if n.ends_with("_tests.rs") => return None,
                _ => name,
            };
            (!map.contains(&key)).then(|| format!("{} ({key})", rel(root, &f)))
        })
        .collect()
}

#[test]
fn library_crates_never_print() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = library_prints(root);
    assert!(
        found.is_empty(),
        "library crates print; return data and let the CLI (src/cli) render it:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_print_check_fails_on_a_println_added_to_the_library() {
    let t = tempfile::tempdir().unwrap();
    let graph = t.path().join("engine/src/graph");
    std::fs::create_dir_all(&graph).unwrap();
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/src/graph/mod.rs");
    let mut text = std::fs::read_to_string(ours).unwrap();
    assert!(library_prints(t.path()).is_empty());
    std::fs::write(graph.join("mod.rs"), &text).unwrap();
    assert!(
        library_prints(t.path()).is_empty(),
        "our graph module does not print"
    );
    text.push_str("\nfn debug() {\n    println!(\"here\"); // a leftover\n}\n");
    std::fs::write(graph.join("mod.rs"), &text).unwrap();
    let lines = text.lines().count();
    assert_eq!(
        library_prints(t.path()),
        [format!("engine/src/graph/mod.rs:{}: println!", lines - 1)]
    );
    // A print in the binary's CLI is fine; so is the word in a comment.
    std::fs::create_dir_all(t.path().join("src/cli")).unwrap();
    std::fs::write(
        t.path().join("src/cli/x.rs"),
        "fn f() { eprintln!(\"x\"); }\n",
    )
    .unwrap();
    std::fs::write(graph.join("ok.rs"), "// println! would be wrong here\nfn f(c: &mut std::process::Command) { c.stdout(std::process::Stdio::null()); }\n").unwrap();
    assert_eq!(
        library_prints(t.path()).len(),
        1,
        "{:?}",
        library_prints(t.path())
    );
    // Writing to the process's stream through an imported function is printing too.
    std::fs::write(
        graph.join("w.rs"),
        "use std::io::{stderr, Write};\nfn f() { let _ = writeln!(stderr(), \"x\"); }\n",
    )
    .unwrap();
    assert_eq!(library_prints(t.path()).len(), 2);
}

#[test]
fn source_files_stay_under_the_size_limit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = oversize_files(root);
    assert!(
        found.is_empty(),
        "split these files (tests/it/tidy.rs MAX_LINES):\n{}",
        found.join("\n")
    );
    for (f, cap) in OVERSIZE {
        let lines = std::fs::read_to_string(root.join(f)).map_or(0, |t| t.lines().count());
        assert!(
            lines > MAX_LINES,
            "{f} is {lines} lines now; take it off OVERSIZE in tests/it/tidy.rs (was {cap})"
        );
    }
}

#[test]
fn architecture_md_names_every_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = unmapped_modules(root);
    assert!(
        found.is_empty(),
        "ARCHITECTURE.md's code map does not mention these; say what each is for:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_engine_library_pulls_no_command_line_crates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "tree",
            "-p",
            "standby-engine",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{lib}",
            "--offline",
            "--locked",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    let crates: std::collections::BTreeSet<&str> = tree
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert!(
        crates.contains("standby_engine") && crates.contains("tokio"),
        "{tree}"
    );
    let cli: Vec<&&str> = CLI_CRATES.iter().filter(|c| crates.contains(**c)).collect();
    assert!(cli.is_empty(), "the engine library depends on {cli:?}");
}

#[test]
fn sensitive_marks_are_dropped_only_where_listed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("engine/src"), &mut files);
    for p in std::fs::read_dir(root.join("providers")).unwrap().flatten() {
        rust_files(&p.path().join("src"), &mut files);
    }
    let mut found: Vec<(String, usize)> = files
        .iter()
        .filter_map(|f| {
            let rel = f.strip_prefix(root).unwrap().display().to_string();
            let text = std::fs::read_to_string(f).unwrap();
            let n: usize = PATTERNS.iter().map(|p| text.matches(p).count()).sum();
            (n > 0 && rel != "providers/sdk/src/value.rs").then_some((rel, n))
        })
        .collect();
    found.sort();
    let listed: Vec<(String, usize)> = UNMARKING
        .iter()
        .map(|(f, n, _)| ((*f).to_string(), *n))
        .collect();
    let mut listed = listed;
    listed.sort();
    assert_eq!(
        found, listed,
        "the places that drop a sensitive mark changed: update UNMARKING in tests/it/tidy.rs and \
         say there why the secret cannot reach an output"
    );
}
