//! The HCL loader and the evaluator: one topology file, loaded and planned with an empty
//! state and only the providers that touch nothing outside (standby's own and local files
//! under a scratch directory). Any panic, abort or hang is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use standby_engine::config::{load_partial_from, MemoryFiles};
use standby_engine::plan::{plan, root_inputs, PlanMode, PlanOptions};
use standby_engine::registry::Registry;
use std::path::PathBuf;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = PathBuf::from("/nonexistent-standby-fuzz");
    let mut files = MemoryFiles::default();
    files.files.insert(dir.join("main.hcl"), text.to_string());
    let (config, diags) = load_partial_from(&dir, &files);
    if !diags.is_empty() {
        return;
    }
    let Ok(vars) = root_inputs(&config, "fuzz", &[], true) else {
        return;
    };
    let mut registry = Registry::new();
    registry.register(Arc::new(standby_engine::StandbyProvider));
    let opts = PlanOptions {
        env: "fuzz".into(),
        mode: PlanMode::Normal,
        refresh: false,
        targets: vec![],
        replace: vec![],
        phase: standby_engine::eval::Phase::Plan,
        topology_digest: String::new(),
        force: None,
        epoch_floor: Default::default(),
        imports: Vec::new(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    if let Ok(p) = rt.block_on(plan(&config, &registry, None, vars, &opts)) {
        let _ = standby_engine::plan::render_plan(&p, false);
        let _ = standby_engine::plan::plan_json(&p, Some((&config, &registry)));
    }
});
