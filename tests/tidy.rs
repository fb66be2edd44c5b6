//! Invariants of the source tree that the compiler does not check.

use std::path::{Path, PathBuf};

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
        "src/apply/executor.rs",
        3,
        "values handed to providers and stored, with the marked paths kept",
    ),
    (
        "src/apply/instance.rs",
        6,
        "planned and final values compared and recorded with their paths",
    ),
    (
        "src/apply/walk_switch.rs",
        2,
        "a member's state handed to its provider; the active site",
    ),
    (
        "src/check/mod.rs",
        1,
        "a rule's condition: only its truth is used",
    ),
    (
        "src/cli/drill_cmd.rs",
        1,
        "a member's state, to connect to it",
    ),
    (
        "src/cli/failover_cmd.rs",
        1,
        "a member's state, to connect to it",
    ),
    (
        "src/cli/monitor_cmd.rs",
        1,
        "a member's state, to connect to it",
    ),
    (
        "src/cli/state_cmd.rs",
        3,
        "attributes printed each with its mark; outputs redacted first",
    ),
    (
        "src/eval/convert.rs",
        1,
        "type conversion keeps the mark on the result",
    ),
    (
        "src/eval/expr.rs",
        9,
        "conditions, splat and for sources, and the truth of a condition (to_bool): the result is re-marked",
    ),
    (
        "src/eval/functions/collection.rs",
        3,
        "deduplication keys and flattening; results re-marked",
    ),
    (
        "src/eval/functions/encoding.rs",
        1,
        "jsonencode of unmarked arguments; the result re-marked",
    ),
    (
        "src/eval/functions/mod.rs",
        2,
        "function arguments: the result is re-marked, errors withheld",
    ),
    (
        "src/eval/size.rs",
        1,
        "measures a value's size; reads nothing of it",
    ),
    (
        "src/eval/unify.rs",
        2,
        "type unification reads types through marks, and conform keeps each mark",
    ),
    (
        "src/plan/diff.rs",
        5,
        "provider plans: marks kept as paths, errors redacted",
    ),
    (
        "src/plan/expansion.rs",
        3,
        "count and for_each, after refusing sensitive ones; a count's numeric string is read through its mark, which was refused before",
    ),
    (
        "src/plan/failover.rs",
        1,
        "a member's state handed to its provider",
    ),
    (
        "src/plan/failover_settings.rs",
        3,
        "type checks; a hook argument keeps its mark as a flag",
    ),
    (
        "src/plan/health_check.rs",
        3,
        "a target checked and kept with its mark; a TTL counted",
    ),
    (
        "src/plan/json.rs",
        3,
        "public JSON: a sensitive part becomes (sensitive value), an unset one null",
    ),
    (
        "src/plan/model.rs",
        2,
        "a member's state; saved plans store values with their masks",
    ),
    (
        "src/plan/render.rs",
        2,
        "the attributes of an object; each is printed with its mark",
    ),
    (
        "src/plan/variables.rs",
        1,
        "a validation condition: only its truth is used",
    ),
    (
        "src/plan/walk.rs",
        7,
        "provider plans, reads and imports: marks kept as paths and put back on what the provider returns, errors redacted",
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

#[test]
fn sensitive_marks_are_dropped_only_where_listed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
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
    assert_eq!(
        found, listed,
        "the places that drop a sensitive mark changed: update UNMARKING in tests/tidy.rs and \
         say there why the secret cannot reach an output"
    );
}
