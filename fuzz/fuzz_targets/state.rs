//! The state reader: any bytes as a state file. It must parse or refuse, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = serde_json::from_slice::<standby::state::State>(data) {
        // What was accepted must write back and read again.
        let back = serde_json::to_vec(&s).expect("a state that was read writes back");
        let again: standby::state::State =
            serde_json::from_slice(&back).expect("a written state reads back");
        assert_eq!(again, s);
    }
});
