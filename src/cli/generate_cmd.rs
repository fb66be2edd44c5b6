//! Shell completions and man pages, generated from the same clap definition the parser uses,
//! so they never fall behind the options.

use super::args::Cli;
use super::CliError;
use clap::CommandFactory as _;
use std::path::Path;

/// `standby completions SHELL`: the completion script on stdout.
pub(crate) fn completions(shell: clap_complete::Shell) -> Result<i32, CliError> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "standby", &mut std::io::stdout());
    Ok(0)
}

/// `standby man`: the page of `standby` on stdout, or with `--out-dir` one page per command
/// (`standby.1`, `standby-plan.1`, `standby-state-list.1` ...).
pub(crate) fn man(out_dir: Option<&Path>) -> Result<i32, CliError> {
    let cmd = Cli::command();
    let Some(dir) = out_dir else {
        let mut out = std::io::stdout();
        clap_mangen::Man::new(cmd)
            .render(&mut out)
            .map_err(|e| CliError::msg("Cannot write the man page", e.to_string()))?;
        return Ok(0);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::msg(format!("Cannot create {}", dir.display()), e.to_string()))?;
    let written = write_pages(cmd, "standby", dir)?;
    println!("Wrote {written} man pages to {}.", dir.display());
    Ok(0)
}

fn write_pages(cmd: clap::Command, name: &str, dir: &Path) -> Result<usize, CliError> {
    let cmd = cmd.name(name.to_string());
    let path = dir.join(format!("{name}.1"));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .and_then(|()| std::fs::write(&path, buf))
        .map_err(|e| CliError::msg(format!("Cannot write {}", path.display()), e.to_string()))?;
    let mut n = 1;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_name = format!("{name}-{}", sub.get_name());
        n += write_pages(sub.clone(), &sub_name, dir)?;
    }
    Ok(n)
}
