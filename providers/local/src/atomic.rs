//! Writing a file so that a reader never sees half of it, and nobody can redirect the write.

use standby_provider_sdk::ProviderError;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

/// The process's umask, read without changing it (`umask(2)` would, for every thread).
pub(crate) fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// Writes `bytes` to `path` with `mode` (less the umask): into a temporary file beside it, then renamed over
/// it. The temporary file has a random name and is created exclusively (`O_EXCL`), so a
/// symlink planted at a predictable name is never followed (standby often runs as root); its
/// mode is set on the open file before the content is written; the rename replaces `path`
/// itself, even when `path` is a symlink.
pub(crate) fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ProviderError> {
    let err = |what: &str, e: std::io::Error| {
        ProviderError::new(format!("cannot {what} {}", path.display()), e.to_string())
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let mut f = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".standby-tmp")
        .tempfile_in(dir)
        .map_err(|e| err("write", e))?;
    // The mode is "before umask", as Terraform's local provider applies it.
    f.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode & !umask()))
        .map_err(|e| err("set the permission of", e))?;
    f.write_all(bytes).map_err(|e| err("write", e))?;
    f.persist(path).map_err(|e| err("write", e.error))?;
    Ok(())
}

/// The largest file read as a source or data source.
const MAX_READ: u64 = 64 << 20;

/// Reads a regular file: opened without blocking and checked first, so that a FIFO or a
/// device (which would block the plan forever, or never end) is an error.
pub(crate) fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a directory, a FIFO or a device)",
        ));
    }
    if meta.len() > MAX_READ {
        return Err(std::io::Error::other(format!(
            "{} bytes, more than the {MAX_READ} standby reads",
            meta.len()
        )));
    }
    let mut out = Vec::new();
    f.take(MAX_READ).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_fifo_is_not_read() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = super::read_regular(&fifo).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    use std::os::unix::fs::PermissionsExt as _;

    /// Issue 12: a symlink planted at the old predictable temporary name made a root apply
    /// overwrite and chmod the file it pointed at.
    #[test]
    fn a_planted_symlink_is_never_written_through() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        let target = d.path().join("out.txt");
        std::os::unix::fs::symlink(&victim, d.path().join(".out.txt.standby-tmp")).unwrap();
        super::write(&target, b"new", 0o644).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(
            std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(
            std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o644
        );
        // A symlink at the target itself is replaced, not followed.
        std::fs::remove_file(&target).unwrap();
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        super::write(&target, b"newer", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!std::fs::symlink_metadata(&target)
            .unwrap()
            .file_type()
            .is_symlink());
    }
}
