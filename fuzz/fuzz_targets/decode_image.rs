//! Any bytes through the image path of a render: decode (limits, orientation, alpha), fit,
//! resize, normalise and back. Must never panic, whatever the bytes.
#![no_main]

use candle_core::Device;
use libfuzzer_sys::fuzz_target;
use neural_style_studio::imageio::{attach_alpha, decode_picture, fit_long_side, from_tensor, resize, to_tensor};

fuzz_target!(|data: &[u8]| {
    let Ok(picture) = decode_picture(data) else { return };
    let size = fit_long_side(picture.rgb.dimensions(), 48);
    let small = resize(&picture.rgb, size);
    let tensor = to_tensor(&small, &Device::Cpu).expect("a decoded image always becomes a tensor");
    let back = from_tensor(&tensor).expect("and comes back");
    assert_eq!(back, small, "normalisation round trip is lossless");
    if let Some(alpha) = &picture.alpha {
        assert_eq!(attach_alpha(&small, alpha).dimensions(), small.dimensions());
    }
});
