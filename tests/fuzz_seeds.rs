//! Every fuzz seed (fuzz/seeds/<target>/*), replayed through its target's checks on each
//! `cargo test`: a crash once found and kept as a seed cannot come back unnoticed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use neural_style_studio::selfcheck;

/// Runs `check` on every seed of `target`, naming the seed that fails.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds").join(target);
    let mut seeds: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    for seed in seeds {
        let bytes = std::fs::read(&seed).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "{target}: the seed {} breaks a check", seed.display());
    }
}

#[test]
fn every_stored_settings_seed_round_trips() {
    replay("read_settings", selfcheck::settings_bytes);
}

#[test]
fn every_image_seed_decodes_or_is_refused_without_a_panic() {
    replay("decode_image", selfcheck::image_bytes);
}

#[test]
fn every_weights_seed_loads_or_is_refused_without_a_panic() {
    replay("load_weights", selfcheck::weights_bytes);
}
