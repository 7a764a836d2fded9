//! The instant look's networks agree with onnxruntime on the fixture that
//! tools/convert_instant_weights.py wrote, and the embedded weights are the committed ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use candle_core::{Device, Tensor};
use neural_style_studio::imageio::{load_rgb, to_unit_tensor};
use neural_style_studio::model::instant::{InstantNet, EMBEDDED_INSTANT, EMBEDDED_INSTANT_SHA256};
use neural_style_studio::transfer::{Init, Job, Method, RenderSpec};
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

fn spec_for(dir: &std::path::Path, init: Init) -> RenderSpec {
    let (content, style) = common::write_pair(dir, 256, 192);
    // The network's strokes have a fixed size in pixels: on this generated pair its picture
    // scores better than the photo from about 200 px (at 128 px it is worse).
    let mut spec = RenderSpec { size: 256, ..RenderSpec::new(content, &[style]) };
    spec.run.init = init;
    spec.schedule.iterations = 0;
    spec
}

#[test]
fn starting_from_the_instant_look_scores_lower_than_the_photo_before_any_iteration() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = Job::new();
    job.start(spec_for(dir.path(), Init::Content)).unwrap();
    let photo = job.losses().unwrap();
    job.start(spec_for(dir.path(), Init::Instant)).unwrap();
    let painted = job.losses().unwrap();
    assert!(
        painted.style < photo.style * 0.8,
        "style loss {} from the look, {} from the photo",
        painted.style,
        photo.style
    );
    assert!(painted.total < photo.total, "total {} from the look, {} from the photo", painted.total, photo.total);
    // The run starts from exactly the picture Method::Instant renders at that size.
    let look = job.instant(&spec_for(dir.path(), Init::Instant)).unwrap().into_rgb8();
    assert_eq!(job.image().unwrap(), look);
}

#[test]
fn render_method_instant_writes_the_picture_with_settings_that_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_for(dir.path(), Init::Content);
    let out = dir.path().join("instant.png");
    let o = common::binary()
        .env("NSS_CONFIG_DIR", dir.path())
        .args(["render", "--method", "instant", "--strength", "0.7", "--size", "128", "--out"])
        .arg(&out)
        .arg("--content")
        .arg(&spec.content.as_ref().unwrap().path)
        .arg("--style")
        .arg(&spec.styles[0].path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stored = neural_style_studio::transfer::read_settings(&out).unwrap().spec;
    assert_eq!((stored.method, stored.instant.strength, stored.size), (Method::Instant, 0.7, 128));
    assert!(stored.styles[0].sha256.is_some(), "the style's hash is recorded");
    let img = image::open(&out).unwrap().into_rgb8();
    assert_eq!(img.dimensions(), (128, 96));
    // The same settings render the same picture again (the instant look is deterministic).
    let again = Job::new().instant(&stored).unwrap().into_rgb8();
    assert_eq!(again, img);
}

#[test]
fn an_out_of_range_strength_is_one_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec_for(dir.path(), Init::Instant);
    spec.instant.strength = 1.5;
    let err = Job::new().instant(&spec).unwrap_err().to_string();
    assert!(err.contains("instant strength must be between 0 and 1, got 1.5"), "{err}");
}

#[test]
fn sheet_method_instant_paints_every_cell_and_refuses_presets() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_for(dir.path(), Init::Content);
    let out = dir.path().join("sheet.png");
    let sheet = |extra: &[&str]| {
        common::binary()
            .env("NSS_CONFIG_DIR", dir.path())
            .args(["sheet", "--method", "instant", "--size", "64", "--out"])
            .arg(&out)
            .arg("--content")
            .arg(&spec.content.as_ref().unwrap().path)
            .arg("--style")
            .arg(&spec.styles[0].path)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = sheet(&[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cells = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(cells.contains("(1 of 1 cells)"), "{cells}");
    let o = sheet(&["--preset", "Bold"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("drop --preset, or --method instant"));
}
