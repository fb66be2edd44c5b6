//! `--var NAME=VALUE` parsing against a topology that declares variables of several types.
#![no_main]

use libfuzzer_sys::fuzz_target;
use standby_engine::config::{load_partial_from, MemoryFiles};
use standby_engine::plan::{root_inputs, VarSource};
use std::path::PathBuf;

const TOPOLOGY: &str = r#"
variable "s" { type = string }
variable "n" { type = number }
variable "l" { type = list(string) }
variable "m" { type = map(number) }
variable "o" { type = object({ a = string, b = optional(number) }) }
variable "any" {}
"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some((name, value)) = text.split_once('=') else {
        return;
    };
    let dir = PathBuf::from("/nonexistent-standby-fuzz");
    let mut files = MemoryFiles::default();
    files.files.insert(dir.join("main.hcl"), TOPOLOGY.to_string());
    let (config, _) = load_partial_from(&dir, &files);
    let _ = root_inputs(
        &config,
        "fuzz",
        &[VarSource::Flag(name.to_string(), value.to_string())],
        true,
    );
});
