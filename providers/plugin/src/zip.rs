//! Unpacking a provider package from Terraform's packed mirror layout
//! (`terraform-provider-TYPE_VERSION_OS_ARCH.zip`): a small reader for what provider archives
//! hold (stored or deflated files, no ZIP64, no encryption), with every name checked to stay
//! inside the destination and every file's CRC-32 checked.

use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

const END: u32 = 0x0605_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const LOCAL: u32 = 0x0403_4b50;

/// At most this much is unpacked from one archive: a provider is a few hundred MB at most,
/// and a damaged or hostile archive must not fill the disk or the memory.
const MAX_UNPACKED: usize = 2 << 30;

/// Why an archive cannot be unpacked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    /// No end of central directory.
    #[error("not a zip archive")]
    NotZip,
    /// A structure ends past the end of the file, or a record has the wrong signature.
    #[error("a damaged archive: {0}")]
    Damaged(String),
    /// A file name that is absolute or climbs out of the package ("zip slip").
    #[error("{0:?}: a file name that leaves the package")]
    Escapes(String),
    /// What standby's reader does not handle: the file, and the feature.
    #[error("{0}: {1} is not supported")]
    Unsupported(String, String),
    /// A file whose contents do not match its size and CRC-32.
    #[error("{0}: its contents do not match its checksum")]
    Checksum(String),
    /// More than [`MAX_UNPACKED`] bytes in all, or two entries sharing their data.
    #[error("{0}")]
    Hostile(String),
    /// A file could not be written: where, and why.
    #[error("{0}: {1}")]
    Io(String, String),
}

fn truncated() -> ZipError {
    ZipError::Damaged("it is truncated".into())
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, ZipError> {
    b.get(at..at.saturating_add(2))
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(truncated)
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, ZipError> {
    b.get(at..at.saturating_add(4))
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(truncated)
}

fn usize_at(b: &[u8], at: usize, wide: bool) -> Result<usize, ZipError> {
    let n = if wide {
        u32_at(b, at)? as usize
    } else {
        usize::from(u16_at(b, at)?)
    };
    Ok(n)
}

/// One file of the archive, from its central directory record.
struct Entry {
    name: String,
    method: u16,
    flags: u16,
    crc: u32,
    size: usize,
    packed: usize,
    local: usize,
    mode: Option<u32>,
}

fn entries(b: &[u8]) -> Result<Vec<Entry>, ZipError> {
    // The end record is in the last 64 KiB (22 bytes plus a comment of at most 65,535).
    let from = b.len().saturating_sub(22 + 65_535);
    let end = (from..b.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(b, i).ok() == Some(END))
        .ok_or(ZipError::NotZip)?;
    let count = usize_at(b, end + 10, false)?;
    let mut at = usize_at(b, end + 16, true)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        if u32_at(b, at)? != CENTRAL {
            return Err(ZipError::Damaged("a bad central directory record".into()));
        }
        let name_len = usize_at(b, at + 28, false)?;
        let name = b.get(at + 46..at + 46 + name_len).ok_or_else(truncated)?;
        let made_by_unix = u16_at(b, at + 4)? >> 8 == 3;
        let e = Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            flags: u16_at(b, at + 8)?,
            method: u16_at(b, at + 10)?,
            crc: u32_at(b, at + 16)?,
            packed: usize_at(b, at + 20, true)?,
            size: usize_at(b, at + 24, true)?,
            local: usize_at(b, at + 42, true)?,
            mode: made_by_unix
                .then(|| u32_at(b, at + 38).map(|a| a >> 16))
                .transpose()?,
        };
        if [e.packed, e.size, e.local].contains(&0xFFFF_FFFF) {
            return Err(ZipError::Unsupported(e.name, "ZIP64".into()));
        }
        at += 46 + name_len + usize_at(b, at + 30, false)? + usize_at(b, at + 32, false)?;
        out.push(e);
    }
    Ok(out)
}

/// The path a name unpacks to, or why it may not: names that climb out of the destination,
/// or are absolute, are refused (a "zip slip").
fn target(to: &Path, name: &str) -> Result<PathBuf, ZipError> {
    let rel = Path::new(name);
    if name.contains('\\') || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(ZipError::Escapes(name.to_string()));
    }
    Ok(to.join(rel))
}

fn contents(b: &[u8], e: &Entry) -> Result<Vec<u8>, ZipError> {
    if e.flags & 1 != 0 {
        return Err(ZipError::Unsupported(e.name.clone(), "encryption".into()));
    }
    if u32_at(b, e.local)? != LOCAL {
        return Err(ZipError::Damaged(format!("{}: a bad local header", e.name)));
    }
    let start =
        e.local + 30 + usize_at(b, e.local + 26, false)? + usize_at(b, e.local + 28, false)?;
    let data = b.get(start..start + e.packed).ok_or_else(truncated)?;
    let out = match e.method {
        0 => data.to_vec(),
        8 => {
            // The declared size bounds the output; it is not trusted for an allocation.
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(data)
                .take(e.size as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|err| ZipError::Damaged(format!("{}: {err}", e.name)))?;
            out
        }
        m => {
            let what = format!("compression method {m}");
            return Err(ZipError::Unsupported(e.name.clone(), what));
        }
    };
    let mut crc = flate2::Crc::new();
    crc.update(&out);
    if out.len() != e.size || crc.sum() != e.crc {
        return Err(ZipError::Checksum(e.name.clone()));
    }
    Ok(out)
}

/// Refuses an archive that unpacks to more than a provider could be, or whose entries share
/// their data (a few bytes of deflate stream declared many times over).
fn plausible(b: &[u8], entries: &[Entry]) -> Result<(), ZipError> {
    let total = entries.iter().fold(0usize, |t, e| t.saturating_add(e.size));
    if total > MAX_UNPACKED {
        return Err(ZipError::Hostile(format!(
            "it unpacks to {total} bytes, more than {MAX_UNPACKED}"
        )));
    }
    // Each file's local header and data, which may not overlap another's.
    let mut spans = entries
        .iter()
        .map(|e| {
            let header = 30 + usize_at(b, e.local + 26, false)? + usize_at(b, e.local + 28, false)?;
            Ok((
                e.local,
                e.local.saturating_add(header).saturating_add(e.packed),
            ))
        })
        .collect::<Result<Vec<_>, ZipError>>()?;
    spans.sort_unstable();
    if spans.windows(2).any(|w| w[0].1 > w[1].0) {
        return Err(ZipError::Hostile(
            "two of its files share their data".into(),
        ));
    }
    Ok(())
}

/// Unpacks the archive held in `b` (the bytes that were hashed) into the directory `to`,
/// which must not exist yet.
pub(crate) fn unpack(b: &[u8], to: &Path) -> Result<(), ZipError> {
    use std::os::unix::fs::PermissionsExt as _;
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |err: std::io::Error| ZipError::Io(p, err.to_string())
    };
    let entries = entries(b)?;
    plausible(b, &entries)?;
    std::fs::create_dir_all(to).map_err(io(to))?;
    for e in entries {
        let path = target(to, &e.name)?;
        if e.name.ends_with('/') {
            std::fs::create_dir_all(&path).map_err(io(&path))?;
            continue;
        }
        let data = contents(b, &e)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, data).map_err(io(&path))?;
        // As Terraform: the archive's Unix mode when it has one; a provider must be executable.
        let mode = e.mode.filter(|m| *m & 0o777 != 0).unwrap_or(0o755) & 0o777;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(io(&path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored-entry archive with the given names and contents, as `zip -0` writes it.
    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in files {
            let mut crc = flate2::Crc::new();
            crc.update(data);
            let local = out.len() as u32;
            let header = |sig: u32, extra: &[u8]| {
                let mut h = sig.to_le_bytes().to_vec();
                h.extend_from_slice(extra);
                h
            };
            let mut common = Vec::new();
            common.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            common.extend_from_slice(&crc.sum().to_le_bytes());
            common.extend_from_slice(&(data.len() as u32).to_le_bytes());
            common.extend_from_slice(&(data.len() as u32).to_le_bytes());
            common.extend_from_slice(&(name.len() as u16).to_le_bytes());
            common.extend_from_slice(&[0, 0]);
            out.extend(header(LOCAL, &common));
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            let mut c = header(CENTRAL, &[20, 3]);
            c.extend_from_slice(&common);
            c.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            c.extend_from_slice(&(0o100_755u32 << 16).to_le_bytes());
            c.extend_from_slice(&local.to_le_bytes());
            c.extend_from_slice(name.as_bytes());
            central.extend(c);
        }
        let at = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&END.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        let n = (files.len() as u16).to_le_bytes();
        out.extend_from_slice(&[n[0], n[1], n[0], n[1]]);
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out
    }

    #[test]
    fn unpacks_files_with_their_mode_and_refuses_names_that_leave_the_package() {
        let d = tempfile::tempdir().unwrap();
        let ok = archive(&[("terraform-provider-x_v1", b"binary")]);
        unpack(&ok, &d.path().join("out")).unwrap();
        let f = d.path().join("out/terraform-provider-x_v1");
        assert_eq!(std::fs::read(&f).unwrap(), b"binary");
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o755
        );
        for bad in ["../escape", "/abs", "a/../../b"] {
            let e = unpack(&archive(&[(bad, b"x")]), &d.path().join("bad")).unwrap_err();
            assert_eq!(e, ZipError::Escapes(bad.into()));
        }
        let mut damaged = archive(&[("f", b"contents")]);
        damaged[30 + 1] ^= 0xff; // a byte of the stored data
        let e = unpack(&damaged, &d.path().join("damaged")).unwrap_err();
        assert_eq!(e, ZipError::Checksum("f".into()));
        assert_eq!(
            unpack(b"not a zip", &d.path().join("none")),
            Err(ZipError::NotZip)
        );
    }

    /// Two entries pointing at the same data (how a small archive claims gigabytes) are
    /// refused before anything is written.
    #[test]
    fn entries_that_share_their_data_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut twice = archive(&[("a", b"x"), ("b", b"x")]);
        let offset = twice.len() - 22 - (46 + 1) + 42; // b's local header offset
        twice[offset..offset + 4].copy_from_slice(&0u32.to_le_bytes());
        let e = unpack(&twice, &d.path().join("twice")).unwrap_err();
        assert!(matches!(e, ZipError::Hostile(_)), "{e}");
        assert!(!d.path().join("twice").exists());
    }
}
