//! Command lines written for Terraform: long options with one dash (`-auto-approve`,
//! `-var-file=x`, `-chdir=DIR`), which every Terraform script uses. clap takes long options
//! with two dashes only, so a single-dash word that names a long option of standby is given
//! its second dash before parsing. Single letters (`-e`, `-C`) stay short options.

use clap::CommandFactory as _;
use std::collections::BTreeSet;
use std::ffi::OsString;

/// Every long option name of every command, and those that are plain switches (which
/// Terraform, like Go's flag package, also takes as `-NAME=true` and `-NAME=false`).
fn long_names() -> (BTreeSet<String>, BTreeSet<String>) {
    fn walk(c: &clap::Command, out: &mut BTreeSet<String>, switches: &mut BTreeSet<String>) {
        for a in c.get_arguments() {
            if let Some(l) = a.get_long() {
                out.insert(l.to_string());
                if matches!(a.get_action(), clap::ArgAction::SetTrue) {
                    switches.insert(l.to_string());
                }
            }
        }
        for s in c.get_subcommands() {
            walk(s, out, switches);
        }
    }
    let (mut out, mut switches) = (BTreeSet::new(), BTreeSet::new());
    walk(&super::args::Cli::command(), &mut out, &mut switches);
    out.insert("help".into());
    out.insert("version".into());
    (out, switches)
}

/// `args` with each `-NAME` or `-NAME=VALUE`, where NAME is a long option, as `--NAME...`.
/// Arguments after `--` are left alone.
pub(crate) fn normalize(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let (names, switches) = long_names();
    let mut out = Vec::new();
    let mut rest = false;
    for a in args {
        if rest {
            out.push(a);
            continue;
        }
        let Some(s) = a.to_str() else {
            out.push(a);
            continue;
        };
        if s == "--" {
            rest = true;
            out.push(a);
            continue;
        }
        let name = s
            .strip_prefix('-')
            .filter(|n| !n.starts_with('-'))
            .map(|n| n.split_once('=').map_or(n, |(k, _)| k));
        let long = match name {
            Some(n) if n.chars().count() >= 2 && names.contains(n) => format!("-{s}"),
            _ if s.starts_with("--") => s.to_string(),
            _ => {
                out.push(a);
                continue;
            }
        };
        // `-auto-approve=true` is `--auto-approve`; `=false` is the switch left off.
        match long[2..].split_once('=') {
            Some((n, v)) if switches.contains(n) && v.eq_ignore_ascii_case("true") => {
                out.push(OsString::from(format!("--{n}")));
            }
            Some((n, v)) if switches.contains(n) && v.eq_ignore_ascii_case("false") => {}
            _ => out.push(OsString::from(long)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        normalize(args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn terraform_style_options_get_their_second_dash() {
        assert_eq!(
            norm(&[
                "standby",
                "apply",
                "-auto-approve",
                "-var",
                "a=1",
                "-var-file=x.hcl",
                "-e",
                "dev",
                "-chdir=t",
                "-lock-timeout=30s",
                "-input=false",
                "-no-color"
            ]),
            [
                "standby",
                "apply",
                "--auto-approve",
                "--var",
                "a=1",
                "--var-file=x.hcl",
                "-e",
                "dev",
                "--chdir=t",
                "--lock-timeout=30s",
                "--input=false",
                "--no-color"
            ]
        );
        // Switches take =true and =false, as in Terraform (Go's flag package).
        assert_eq!(
            norm(&[
                "standby",
                "apply",
                "-auto-approve=true",
                "-no-color=false",
                "--json=TRUE"
            ]),
            ["standby", "apply", "--auto-approve", "--json"]
        );
        // Values, unknown words and everything after -- are left alone.
        assert_eq!(
            norm(&["standby", "plan", "--var", "x=-out", "-bogus", "--", "-out"]),
            ["standby", "plan", "--var", "x=-out", "-bogus", "--", "-out"]
        );
    }
}
