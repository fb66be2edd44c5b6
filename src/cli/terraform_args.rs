//! Command lines written for Terraform: long options with one dash (`-auto-approve`,
//! `-var-file=x`, `-chdir=DIR`), which every Terraform script uses. clap takes long options
//! with two dashes only, so a single-dash word that names a long option of standby is given
//! its second dash before parsing. Single letters (`-e`, `-C`) stay short options.

use clap::CommandFactory as _;
use std::collections::BTreeSet;
use std::ffi::OsString;

/// Every long option name of every command.
fn long_names() -> BTreeSet<String> {
    fn walk(c: &clap::Command, out: &mut BTreeSet<String>) {
        for a in c.get_arguments() {
            if let Some(l) = a.get_long() {
                out.insert(l.to_string());
            }
        }
        for s in c.get_subcommands() {
            walk(s, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(&super::args::Cli::command(), &mut out);
    out.insert("help".into());
    out.insert("version".into());
    out
}

/// `args` with each `-NAME` or `-NAME=VALUE`, where NAME is a long option, as `--NAME...`.
/// Arguments after `--` are left alone.
pub(crate) fn normalize(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let names = long_names();
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
        match name {
            Some(n) if n.chars().count() >= 2 && names.contains(n) => {
                out.push(OsString::from(format!("-{s}")));
            }
            _ => out.push(a),
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
        // Values, unknown words and everything after -- are left alone.
        assert_eq!(
            norm(&["standby", "plan", "--var", "x=-out", "-bogus", "--", "-out"]),
            ["standby", "plan", "--var", "x=-out", "-bogus", "--", "-out"]
        );
    }
}
