//! Any bytes as a safetensors weights file for a trunk up to relu1_2 (small enough for valid
//! seeds, see fuzz/README.md): parse, check names, shapes and dtypes, build. Must never panic
//! and never allocate what the header merely claims.
#![no_main]

use candle_core::Device;
use libfuzzer_sys::fuzz_target;
use neural_style_studio::model::{load_safetensors, Tap};

fuzz_target!(|data: &[u8]| {
    let _ = load_safetensors(data, "fuzz", Tap::new(1, 2), &Device::Cpu);
});
