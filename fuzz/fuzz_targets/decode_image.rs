//! Any bytes through the image path of a render: decode (limits, orientation, alpha), fit,
//! resize, normalise and back. Must never panic, whatever the bytes.
//! The checks live in the library (`neural_style_studio::selfcheck`), so that `cargo test`
//! replays this target's seeds with the same ones (tests/fuzz_seeds.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| neural_style_studio::selfcheck::image_bytes(data));
