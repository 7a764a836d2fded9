//! Any bytes as a safetensors weights file for a trunk up to relu1_2 (small enough for valid
//! seeds, see fuzz/README.md): parse, check names, shapes and dtypes, build. Must never panic
//! and never allocate what the header merely claims.
//! The checks live in the library (`neural_style_studio::selfcheck`), so that `cargo test`
//! replays this target's seeds with the same ones (tests/fuzz_seeds.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| neural_style_studio::selfcheck::weights_bytes(data));
