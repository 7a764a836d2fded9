//! Any bytes as stored settings (a PNG's `nss:settings` text chunk, or a JSON settings file):
//! parse, migrate, name unknown fields. Must never panic; whatever parses must survive a round
//! trip through JSON unchanged, and validating it (and planning its stages) must not panic.
//! The checks live in the library (`neural_style_studio::selfcheck`), so that `cargo test`
//! replays this target's seeds with the same ones (tests/fuzz_seeds.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| neural_style_studio::selfcheck::settings_bytes(data));
