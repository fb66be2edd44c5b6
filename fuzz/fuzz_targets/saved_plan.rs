//! The saved-plan reader and its renderings: any bytes as a plan (signature aside, which a
//! forger cannot produce; this checks what runs after it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = serde_json::from_slice::<standby_engine::plan::Plan>(data) {
        let _ = standby_engine::plan::render_plan(&p, false);
        let _ = standby_engine::plan::plan_json(&p, None);
    }
});
