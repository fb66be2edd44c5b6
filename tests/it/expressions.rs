//! Issue 14 through the binary: the checks Terraform makes on expressions and names, and the
//! values and types users see. The values themselves are compared with Terraform's in
//! `tests/it/expr_oracle.rs`.

use crate::support::Test;

#[test]
fn a_function_with_too_few_arguments_is_an_error_at_validate() {
    let t = Test::new().file(
        "main.hcl",
        "variable \"names\" {\n  type = list(string)\n}\n\noutput \"o\" {\n  value = join(\",\")\n}\n\noutput \"p\" {\n  value = upper(var.names[0], 1)\n}\n",
    );
    let r = t.run(&["validate"]);
    r.code(1)
        .stderr_has("Wrong number of arguments")
        .stderr_has("join() takes at least 2 arguments; this call has 1.")
        .stderr_has("main.hcl:6")
        .stderr_has("upper() takes 1 argument; this call has 2.");
}

#[test]
fn reserved_variable_names_are_refused_as_terraform_does() {
    for name in [
        "count",
        "for_each",
        "source",
        "version",
        "providers",
        "locals",
        "depends_on",
        "lifecycle",
    ] {
        let t = Test::new().file(
            "main.hcl",
            &format!("variable \"{name}\" {{\n  default = 1\n}}\n"),
        );
        t.run(&["validate"])
            .code(1)
            .stderr_has("Invalid variable name")
            .stderr_has(&format!("The variable name \"{name}\" is reserved"))
            .stderr_has("main.hcl:1");
    }
    Test::new()
        .file("main.hcl", "variable \"counter\" {\n  default = 1\n}\n")
        .run(&["validate"])
        .code(0);
}

#[test]
fn for_each_takes_a_set_not_a_tuple() {
    let resource = |each: &str| {
        format!("resource \"local_file\" \"f\" {{\n  for_each = {each}\n  filename = \"${{each.key}}.txt\"\n  content  = \"x\"\n}}\n")
    };
    for tuple in [
        "[\"a\", \"b\"]",
        "[for s in [\"b\", \"a\"] : s]",
        "local.unsorted",
    ] {
        let t = Test::new().file(
            "main.hcl",
            &format!(
                "locals {{\n  unsorted = [\"b\", \"a\"]\n}}\n\n{}",
                resource(tuple)
            ),
        );
        t.run(&["plan"])
            .code(1)
            .stderr_has("Invalid for_each argument")
            .stderr_has("a map, or a set of strings, and this is a tuple")
            .stderr_has("Use toset()");
    }
    Test::new()
        .file("main.hcl", &resource("toset([\"b\", \"a\", \"b\"])"))
        .run(&["plan"])
        .code(0)
        .stdout_has("local_file.f[\"a\"]")
        .stdout_has("local_file.f[\"b\"]");
}

#[test]
fn output_json_gives_each_outputs_type() {
    let t = Test::new().file(
        "main.hcl",
        "output \"s\" {\n  value = \"x\"\n}\n\noutput \"n\" {\n  value = 12345678901234567890\n}\n\noutput \"t\" {\n  value = [1, \"a\", true]\n}\n\noutput \"o\" {\n  value = { a = 1, b = [\"x\"] }\n}\n\noutput \"secret\" {\n  value     = \"hunter22\"\n  sensitive = true\n}\n",
    );
    t.run(&["apply", "-auto-approve"]).code(0);
    let r = t.run(&["output", "-json"]);
    r.code(0);
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["s"]["type"], "string");
    assert_eq!(out["n"]["type"], "number");
    assert_eq!(
        out["n"]["value"],
        serde_json::json!(12345678901234567890u64)
    );
    assert_eq!(
        out["t"]["type"],
        serde_json::json!(["tuple", ["number", "string", "bool"]])
    );
    assert_eq!(
        out["o"]["type"],
        serde_json::json!(["object", { "a": "number", "b": ["tuple", ["string"]] }])
    );
    // Withheld with the value: a sensitive object's keys could be secrets.
    assert_eq!(out["secret"]["type"], "dynamic");
    assert_eq!(out["secret"]["sensitive"], true);
    assert!(!r.stdout.contains("hunter22"), "{}", r.stdout);
}

#[test]
fn numbers_keep_their_digits_through_plan_apply_and_state() {
    let t = Test::new().file(
        "main.hcl",
        "output \"third\" {\n  value = 1 / 3\n}\n\noutput \"sum\" {\n  value = 0.1 + 0.2\n}\n\noutput \"exact\" {\n  value = 0.1 + 0.2 == 0.3\n}\n\noutput \"big\" {\n  value = \"${12345678901234567890 + 1}\"\n}\n",
    );
    t.run(&["apply", "-auto-approve"])
        .code(0)
        .stdout_has("\nsum = 0.3\n")
        .stdout_has("\nexact = true\n")
        .stdout_has("third = 0.33333333333333333333333333333333333333333333")
        .stdout_has("big = 12345678901234567891");
    assert_eq!(t.run(&["output", "sum"]).stdout, "0.3\n");
    t.run(&["output", "big"])
        .code(0)
        .stdout_has("12345678901234567891");
    // The state keeps a 64-bit float of a number that is not an integer (docs/language.md):
    // a second plan sees no change.
    t.run(&["output", "third"])
        .code(0)
        .stdout_has("0.3333333333333333");
    t.run(&["plan", "-detailed-exitcode"]).code(0);
}

#[test]
fn heredoc_strip_markers_and_indentation_follow_hcl() {
    let t = Test::new().file(
        "main.hcl",
        "output \"list\" {\n  value = <<-EOT\n    %{ for s in [\"a\", \"b\"] ~}\n    - ${s}\n    %{ endfor ~}\n      nested\n    EOT\n}\n",
    );
    t.run(&["apply", "-auto-approve"]).code(0);
    let r = t.run(&["output", "-raw", "list"]);
    r.code(0);
    // Terraform 1.0.3 gives this: the `~` that removed a line break leaves the next line
    // indented.
    assert_eq!(r.stdout, "    - a\n    - b\n      nested\n");
}

/// The review of issue 14: an infinity may be used in an expression, as in Terraform, and is
/// refused only where it would be kept.
#[test]
fn an_infinity_is_refused_only_where_it_is_kept() {
    let t = Test::new().file(
        "main.hcl",
        "locals {\n  inf = 1 / 0\n}\n\noutput \"y\" {\n  value = local.inf > 5\n}\n",
    );
    t.run(&["apply", "-auto-approve"])
        .code(0)
        .stdout_has("y = true");
    let t = Test::new().file("main.hcl", "output \"z\" {\n  value = 1 / 0\n}\n");
    t.run(&["plan"])
        .code(1)
        .stderr_has("Invalid number")
        .stderr_has("main.hcl:2");
}
