//! Any bytes as stored settings (a PNG's `nss:settings` text chunk, or a JSON settings file):
//! parse, migrate, name unknown fields. Must never panic; whatever parses must survive a round
//! trip through JSON unchanged, and validating it (and planning its stages) must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neural_style_studio::transfer::{settings_from_bytes, stored::settings_from_json};

fuzz_target!(|data: &[u8]| {
    let Ok(stored) = settings_from_bytes(data, "fuzz") else { return };
    let _ = stored.warning();
    let json = serde_json::to_string(&stored.spec).expect("a parsed spec serialises");
    let again = settings_from_json(&json, "round trip").expect("a written spec parses");
    assert_eq!(again.spec, stored.spec, "round trip changed the spec");
    assert!(again.ignored.is_empty(), "a written spec has no unknown fields: {:?}", again.ignored);
    if stored.spec.validate().is_ok() {
        let _ = stored.spec.stages();
    }
});
