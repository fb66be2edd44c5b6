//! `standby fmt`.

use super::workspace::Workspace;
use super::CliError;
use standby_engine::config::format_hcl;
use std::path::{Path, PathBuf};

fn collect(p: &Path, recursive: bool, out: &mut Vec<PathBuf>) {
    if p.is_file() {
        out.push(p.to_path_buf());
        return;
    }
    let Ok(rd) = std::fs::read_dir(p) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for e in entries {
        if e.is_file() && e.extension().is_some_and(|x| x == "hcl") {
            out.push(e);
        } else if recursive
            && e.is_dir()
            && !e
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            collect(&e, recursive, out);
        }
    }
}

pub(crate) fn fmt(
    ws: &Workspace,
    paths: &[PathBuf],
    check: bool,
    recursive: bool,
    diff: bool,
) -> Result<i32, CliError> {
    let mut files = Vec::new();
    if paths.is_empty() {
        collect(&ws.root, recursive, &mut files);
    }
    for p in paths {
        collect(p, recursive, &mut files);
    }
    let mut unformatted = 0;
    let mut errors = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)
            .map_err(|e| CliError::msg(format!("Cannot read {}", f.display()), e.to_string()))?;
        match format_hcl(&text) {
            Ok(formatted) if formatted != text => {
                unformatted += 1;
                println!("{}", f.display());
                if diff {
                    // Named as Terraform names them: relative to where standby runs.
                    let shown = f.strip_prefix(&ws.root).unwrap_or(&f).display().to_string();
                    print!(
                        "{}",
                        similar::TextDiff::from_lines(&text, &formatted)
                            .unified_diff()
                            .header(&format!("old/{shown}"), &format!("new/{shown}"))
                    );
                }
                if !check {
                    let perms = std::fs::metadata(&f).map(|m| m.permissions()).ok();
                    standby_engine::state::atomic_write(&f, formatted.as_bytes())
                        .map_err(super::workspace::state_error)?;
                    if let Some(p) = perms {
                        let _ = std::fs::set_permissions(&f, p);
                    }
                }
            }
            Ok(_) => {}
            Err(e) => errors.push(format!("{}: {e}", f.display())),
        }
    }
    if !errors.is_empty() {
        return Err(CliError::msg(
            "Some files could not be parsed",
            errors.join("\n"),
        ));
    }
    Ok(if check && unformatted > 0 { 3 } else { 0 })
}
