//! Encryption of the state at rest: AES-256-GCM (ring, already built for rustls), as
//! OpenTofu offers. The key comes from `STANDBY_STATE_KEY` (32 bytes, hex or base64) or from
//! the file `STANDBY_STATE_KEY_FILE` names. An encrypted snapshot, and each journal line, is a
//! JSON envelope: `{"standby_encrypted": "AES-256-GCM", "key_id": …, "nonce": …, "data": …}`.
//!
//! With a key, a plain state is still read (so turning encryption on encrypts at the next
//! write); without one, an encrypted state is an error that says which key it needs.

use super::StateError;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::SecureRandom as _;
use serde::{Deserialize, Serialize};
use std::path::Path;

const ALGORITHM: &str = "AES-256-GCM";

/// A state key.
pub struct Cipher {
    key: LessSafeKey,
    /// The first bytes of the key's SHA-256, so an error can say which key a state needs.
    id: String,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cipher(key {})", self.id)
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    standby_encrypted: String,
    key_id: String,
    nonce: String,
    data: String,
}

fn key_error(detail: String) -> StateError {
    StateError::Key(detail)
}

/// `STANDBY_STATE_KEY`, once [`Cipher::capture_env`] took it out of the environment.
static CAPTURED: std::sync::OnceLock<Option<std::ffi::OsString>> = std::sync::OnceLock::new();
/// `STANDBY_STATE_KEY_FILE`, likewise.
static CAPTURED_FILE: std::sync::OnceLock<Option<std::ffi::OsString>> = std::sync::OnceLock::new();

impl Cipher {
    /// Moves `STANDBY_STATE_KEY` out of the process environment, so that no child process
    /// (a hook, a server standby starts) inherits it.
    ///
    /// # Safety
    ///
    /// Call it first thing in `main`, before any other thread exists: it changes the
    /// environment and writes through the pointer `getenv` returns.
    pub unsafe fn capture_env() {
        let key = std::env::var_os("STANDBY_STATE_KEY");
        if key.is_some() {
            // Linux shows a process's environment as it started (/proc/PID/environ), from the
            // strings themselves, which removing the variable leaves in place: overwrite the
            // value first, so that the key is not readable there for as long as standby runs.
            // SAFETY: no other thread exists (the caller's promise); getenv returns a pointer
            // to the NUL-terminated value in the process's own environment block, writable for
            // its length (glibc and musl alike).
            unsafe {
                let p = libc::getenv(c"STANDBY_STATE_KEY".as_ptr());
                if !p.is_null() {
                    std::ptr::write_bytes(p, b'*', libc::strlen(p));
                }
                std::env::remove_var("STANDBY_STATE_KEY");
            }
        }
        let _ = CAPTURED.set(key);
        // The key file's path too: a hook has no business reading the state key.
        let file = std::env::var_os("STANDBY_STATE_KEY_FILE");
        if file.is_some() {
            // SAFETY: as above, no other thread exists.
            unsafe { std::env::remove_var("STANDBY_STATE_KEY_FILE") };
        }
        let _ = CAPTURED_FILE.set(file);
    }

    /// The `STANDBY_STATE_KEY` this process was started with, for a child that is standby
    /// itself (a drill's monitor) and must read the same state.
    pub fn captured_env() -> Option<String> {
        CAPTURED.get().cloned().flatten()?.into_string().ok()
    }

    /// The `STANDBY_STATE_KEY_FILE` this process was started with, for a child that is
    /// standby itself.
    pub fn captured_file() -> Option<std::ffi::OsString> {
        CAPTURED_FILE.get().cloned().flatten()
    }

    /// The key from `STANDBY_STATE_KEY` or `STANDBY_STATE_KEY_FILE`; None when neither is set.
    /// Both set, an empty variable or one that is not text is an error: a CI secret that is
    /// missing expands to an empty variable, and that must not write a plain state.
    pub fn from_env() -> Result<Option<Cipher>, StateError> {
        let var = match CAPTURED.get() {
            Some(k) => k.clone(),
            None => std::env::var_os("STANDBY_STATE_KEY"),
        };
        let file = match CAPTURED_FILE.get() {
            Some(f) => f.clone(),
            None => std::env::var_os("STANDBY_STATE_KEY_FILE"),
        };
        let text = match (var, file) {
            (Some(_), Some(_)) => {
                return Err(key_error(
                    "both STANDBY_STATE_KEY and STANDBY_STATE_KEY_FILE are set: set only one, so that it is clear which key the state is encrypted with".into(),
                ))
            }
            (Some(k), None) => {
                let k = k.into_string().map_err(|_| {
                    key_error("STANDBY_STATE_KEY is not text: give the key as 64 hex digits or base64".into())
                })?;
                if k.trim().is_empty() {
                    return Err(key_error(
                        "STANDBY_STATE_KEY is set but empty (a CI secret that is not defined?): set it to the key, or unset it to use a plain state".into(),
                    ));
                }
                k
            }
            (None, Some(f)) => std::fs::read_to_string(&f).map_err(|e| {
                key_error(format!(
                    "cannot read STANDBY_STATE_KEY_FILE {}: {e}",
                    Path::new(&f).display()
                ))
            })?,
            (None, None) => return Ok(None),
        };
        Cipher::new(text.trim()).map(Some)
    }

    /// A key from its hex or base64 text, which must decode to 32 bytes.
    pub fn new(text: &str) -> Result<Cipher, StateError> {
        let bytes = hex::decode(text)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                key_error("the state key must be 32 bytes, written as 64 hex digits or base64 (for example `openssl rand -hex 32`)".into())
            })?;
        let id = {
            use sha2::Digest as _;
            hex::encode(&sha2::Sha256::digest(&bytes)[..4])
        };
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| key_error("the state key was refused by AES-256-GCM".into()))?;
        Ok(Cipher {
            key: LessSafeKey::new(key),
            id,
        })
    }

    /// `plain` encrypted into an envelope (JSON, one line).
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, StateError> {
        let mut nonce = [0_u8; NONCE_LEN];
        ring::rand::SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| key_error("no randomness for a nonce".into()))?;
        let mut data = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(ALGORITHM.as_bytes()),
                &mut data,
            )
            .map_err(|_| key_error("encryption failed".into()))?;
        let b64 = base64::engine::general_purpose::STANDARD;
        serde_json::to_vec(&Envelope {
            standby_encrypted: ALGORITHM.into(),
            key_id: self.id.clone(),
            nonce: b64.encode(nonce),
            data: b64.encode(data),
        })
        .map_err(|e| key_error(e.to_string()))
    }
}

/// Whether `data` is an encrypted envelope.
pub fn is_sealed(data: &[u8]) -> bool {
    data.trim_ascii_start()
        .starts_with(b"{\"standby_encrypted\"")
}

/// The plain bytes of `data`: decrypted when it is an envelope, as they are otherwise.
/// `what` names the file or row, for errors.
pub fn open(cipher: Option<&Cipher>, data: &[u8], what: &str) -> Result<Vec<u8>, StateError> {
    if !is_sealed(data) {
        return Ok(data.to_vec());
    }
    let env: Envelope = serde_json::from_slice(data.trim_ascii_start())
        .map_err(|e| key_error(format!("{what} is not a valid encrypted state: {e}")))?;
    if env.standby_encrypted != ALGORITHM {
        return Err(key_error(format!(
            "{what} is encrypted with {:?}; this standby reads {ALGORITHM}",
            env.standby_encrypted
        )));
    }
    let Some(c) = cipher else {
        return Err(key_error(format!(
            "{what} is encrypted (with key {}): set STANDBY_STATE_KEY_FILE (or STANDBY_STATE_KEY) to that key",
            env.key_id
        )));
    };
    if env.key_id != c.id {
        return Err(key_error(format!(
            "{what} is encrypted with key {}, but the key given is {}",
            env.key_id, c.id
        )));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let nonce: [u8; NONCE_LEN] = b64
        .decode(&env.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| key_error(format!("{what} has an invalid nonce")))?;
    let mut buf = b64
        .decode(&env.data)
        .map_err(|e| key_error(format!("{what} has invalid data: {e}")))?;
    let plain = c
        .key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(ALGORITHM.as_bytes()),
            &mut buf,
        )
        .map_err(|_| {
            key_error(format!(
                "{what} cannot be decrypted with key {}: it was changed after it was written. Restore it from a backup (the local backend keeps the previous version beside it).",
                c.id
            ))
        })?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn sealed_state_opens_only_with_its_key() {
        let c = Cipher::new(KEY).unwrap();
        let sealed = c.seal(b"{\"serial\": 1}").unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("serial"));
        assert_eq!(open(Some(&c), &sealed, "x").unwrap(), b"{\"serial\": 1}");
        let e = open(None, &sealed, "x").unwrap_err().to_string();
        assert!(e.contains("is encrypted"), "{e}");
        let other = Cipher::new(&KEY.replace("00", "ff")).unwrap();
        assert!(open(Some(&other), &sealed, "x")
            .unwrap_err()
            .to_string()
            .contains("but the key given is"));
        // A changed byte is detected.
        let mut v: serde_json::Value = serde_json::from_slice(&sealed).unwrap();
        let data = v["data"].as_str().unwrap().to_string();
        let flipped = format!(
            "{}{}",
            if data.starts_with('A') { "B" } else { "A" },
            &data[1..]
        );
        v["data"] = serde_json::Value::String(flipped);
        let tampered = serde_json::to_vec(&v).unwrap();
        assert!(open(Some(&c), &tampered, "x")
            .unwrap_err()
            .to_string()
            .contains("changed after it was written"));
        // Plain data passes through, with or without a key.
        assert_eq!(open(Some(&c), b"{\"a\":1}", "x").unwrap(), b"{\"a\":1}");
        assert!(Cipher::new("short").is_err());
    }
}
