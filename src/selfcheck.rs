//! What must hold for any input, whatever the bytes: asserted by the fuzz targets (`fuzz/`)
//! and replayed on their seeds by `cargo test` (tests/fuzz_seeds.rs). Each check panics when
//! the engine breaks a promise; a refusal with an error is fine.

use candle_core::Device;

use crate::imageio::{attach_alpha, decode_picture, fit_long_side, from_tensor, resize, to_tensor};
use crate::model::{load_safetensors, Tap};
use crate::transfer::{settings_from_bytes, spec::stored::settings_from_json};

/// Any bytes as stored settings (a PNG's `nss:settings` text chunk, or a JSON settings file):
/// whatever parses survives a round trip through JSON unchanged, and validating it (and
/// planning its stages) does not panic.
pub fn settings_bytes(data: &[u8]) {
    let Ok(stored) = settings_from_bytes(data, "fuzz") else { return };
    let _warning = stored.warning();
    let json = match serde_json::to_string(&stored.spec) {
        Ok(json) => json,
        Err(e) => panic!("a parsed spec does not serialise: {e}"),
    };
    let again = match settings_from_json(&json, "round trip") {
        Ok(again) => again,
        Err(e) => panic!("a written spec does not parse: {e}"),
    };
    assert_eq!(again.spec, stored.spec, "round trip changed the spec");
    assert!(again.ignored.is_empty(), "a written spec has no unknown fields: {:?}", again.ignored);
    if stored.spec.validate().is_ok() {
        let _stages = stored.spec.stages();
    }
}

/// Any bytes through the image path of a render: decode (limits, orientation, alpha), fit,
/// resize, normalise and back, losslessly.
pub fn image_bytes(data: &[u8]) {
    let Ok(picture) = decode_picture(data) else { return };
    let size = fit_long_side(picture.rgb.dimensions(), 48);
    let small = resize(&picture.rgb, size);
    let back = match to_tensor(&small, &Device::Cpu).and_then(|t| from_tensor(&t)) {
        Ok(back) => back,
        Err(e) => panic!("a decoded image does not go through a tensor and back: {e}"),
    };
    assert_eq!(back, small, "normalisation round trip is lossless");
    if let Some(alpha) = &picture.alpha {
        assert_eq!(attach_alpha(&small, alpha).dimensions(), small.dimensions());
    }
}

/// Any bytes as a safetensors weights file for a trunk up to relu1_2: parsed, names, shapes and
/// dtypes checked, built, or refused; never a panic, never an allocation the header merely
/// claims.
pub fn weights_bytes(data: &[u8]) {
    let _refused_or_built = load_safetensors(data, "fuzz", Tap::new(1, 2), &Device::Cpu);
}
