//! The instant look's networks agree with onnxruntime on the fixture that
//! tools/convert_instant_weights.py wrote, and the embedded weights are the committed ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use candle_core::{Device, Tensor};
use neural_style_studio::imageio::{load_rgb, to_unit_tensor};
use neural_style_studio::model::instant::{InstantNet, EMBEDDED_INSTANT, EMBEDDED_INSTANT_SHA256};
use sha2::{Digest, Sha256};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/instant").join(name)
}

fn expected() -> std::collections::HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture("expected.safetensors"), &Device::Cpu).unwrap()
}

fn picture(name: &str) -> Tensor {
    to_unit_tensor(&load_rgb(&fixture(name)).unwrap(), &Device::Cpu).unwrap()
}

#[test]
fn embedded_instant_weights_match_the_committed_sha256() {
    let digest: String = Sha256::digest(EMBEDDED_INSTANT).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(digest, EMBEDDED_INSTANT_SHA256);
    let file = std::fs::read_to_string(format!("{}/assets/instant.safetensors.sha256", env!("CARGO_MANIFEST_DIR")));
    assert!(file.unwrap().starts_with(&digest), "assets/instant.safetensors.sha256 is stale");
}

#[test]
fn style_vector_and_painting_agree_with_onnxruntime_float_graphs() {
    let net = InstantNet::embedded(&Device::Cpu).unwrap();
    let want = expected();
    let vector = net.style_vector(&picture("style.png")).unwrap();
    let err = (&vector - &want["vector"]).unwrap().abs().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
    assert!(err < 1e-3, "style vector differs by {err}");

    // Fed onnxruntime's vector, so the painting is checked on its own.
    let out = net.paint(&picture("content.png"), &want["vector"]).unwrap();
    let reference = want["output"].permute((2, 0, 1)).unwrap().unsqueeze(0).unwrap();
    let diff = (&out - &reference).unwrap().abs().unwrap();
    let mean = diff.mean_all().unwrap().to_scalar::<f32>().unwrap();
    let max = diff.flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
    assert!(mean < 1e-4 && max < 2e-3, "painting differs: mean {mean}, max {max}");

    // The shipped int8 graphs also round every activation to 8 bits; the float networks stay
    // near them (measured 0.086 mean on this generated picture, 0.04 on a photo).
    let int8 = want["int8_output"].permute((2, 0, 1)).unwrap().unsqueeze(0).unwrap();
    let ours = net.paint(&picture("content.png"), &vector).unwrap();
    let mean = (&ours - &int8).unwrap().abs().unwrap().mean_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(mean < 0.1, "float painting is {mean} from the int8 graph's");
}

#[test]
fn painting_keeps_any_size_and_stays_in_range() {
    let net = InstantNet::embedded(&Device::Cpu).unwrap();
    let vector = expected()["vector"].clone();
    for (w, h) in [(37usize, 21usize), (64, 48)] {
        let photo = neural_style_studio::imageio::to_unit_tensor(
            &image::RgbImage::from_fn(w as u32, h as u32, |x, y| image::Rgb([(x * 7) as u8, (y * 11) as u8, 128])),
            &Device::Cpu,
        )
        .unwrap();
        let out = net.paint(&photo, &vector).unwrap();
        assert_eq!(out.dims4().unwrap(), (1, 3, h, w));
        let (lo, hi) =
            (out.min_all().unwrap().to_scalar::<f32>().unwrap(), out.max_all().unwrap().to_scalar::<f32>().unwrap());
        assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi), "{lo}..{hi}");
    }
}

#[test]
fn cpu_fast_path_matches_the_generic_candle_path() {
    let fast = InstantNet::embedded(&Device::Cpu).unwrap();
    let generic = InstantNet::embedded(&Device::Cpu).unwrap().without_fast_path();
    let style = picture("style.png");
    let (a, b) = (fast.style_vector(&style).unwrap(), generic.style_vector(&style).unwrap());
    let err = (&a - &b).unwrap().abs().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
    assert!(err < 1e-4, "style vectors differ by {err}");
    // An odd size: padding to the size step, and the stride-2 layers' edge rows.
    let photo = picture("content.png").narrow(3, 0, 93).unwrap().narrow(2, 0, 61).unwrap();
    let (a, b) = (fast.paint(&photo, &a).unwrap(), generic.paint(&photo, &a).unwrap());
    let err = (&a - &b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
    assert!(err < 1e-4, "paintings differ by {err}");
}

#[test]
fn damaged_instant_weights_are_named_not_a_panic() {
    let mut bytes = EMBEDDED_INSTANT.to_vec();
    bytes.truncate(bytes.len() / 2);
    let err = InstantNet::load(&bytes, "instant.safetensors", &Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("instant.safetensors") && err.contains("not a safetensors file"), "{err}");
}
