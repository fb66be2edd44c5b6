//! The state reader as standby uses it: any bytes as a snapshot and a journal, plain or inside
//! encryption envelopes, read through the local backend (envelope, version check, decoding,
//! validation, journal replay). It must read or refuse, never panic; what it accepts must
//! write back and read again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use standby_engine::state::{Cipher, LocalBackend, StateStore as _};
use std::sync::{Arc, OnceLock};

/// One directory per fuzzing process, reused for every input.
fn root() -> &'static std::path::Path {
    static ROOT: OnceLock<std::path::PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("standby-fuzz-state-{}", std::process::id()));
        std::fs::create_dir_all(d.join(".standby/state")).unwrap();
        d
    })
}

fn key() -> Arc<Cipher> {
    static KEY: OnceLock<Arc<Cipher>> = OnceLock::new();
    KEY.get_or_init(|| Arc::new(Cipher::new(&"7e".repeat(32)).unwrap()))
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // The snapshot, then the journal after the first NUL byte.
    let (snapshot, journal) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let encrypted = mode & 1 == 1;
    // Sealed by standby's own key, so that the fuzzed JSON inside well-formed envelopes is
    // reached too; with bit 2 the raw bytes are given to a reader that has a key.
    let seal = encrypted && mode & 2 == 0;
    let wrap = |b: &[u8]| if seal { key().seal(b).unwrap() } else { b.to_vec() };
    let b = LocalBackend::new(root(), "fuzz").encrypted(encrypted.then(key));
    std::fs::write(b.path(), wrap(snapshot)).unwrap();
    let journal_path = root().join(".standby/state/fuzz.journal");
    match journal {
        Some(j) => {
            let lines: Vec<Vec<u8>> = j.split(|&c| c == b'\n').map(wrap).collect();
            std::fs::write(&journal_path, lines.join(&b'\n')).unwrap();
        }
        None => {
            let _ = std::fs::remove_file(&journal_path);
        }
    }
    if let Ok(Some(state)) = b.read() {
        let _ = std::fs::remove_file(&journal_path);
        b.write(&state).expect("a state that was read writes back");
        let again = b.read().expect("a written state reads back");
        assert_eq!(again.as_ref(), Some(&state));
    }
});
