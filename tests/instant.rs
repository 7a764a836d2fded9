//! The instant look's networks agree with onnxruntime on the fixture that
//! tools/convert_instant_weights.py wrote, and the embedded weights are the committed ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use candle_core::{Device, Tensor};
use neural_style_studio::imageio::{load_rgb, to_unit_tensor};
use neural_style_studio::model::instant::{InstantNet, Int8Rounding, EMBEDDED_INSTANT, EMBEDDED_INSTANT_SHA256};
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
        painted.style() < photo.style() * 0.8,
        "style loss {} from the look, {} from the photo",
        painted.style(),
        photo.style()
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

/// Largest and mean absolute difference between two tensors of the same shape.
fn max_mean(a: &Tensor, b: &Tensor) -> (f32, f32) {
    let diff = (a - b).unwrap().abs().unwrap().flatten_all().unwrap();
    (diff.max(0).unwrap().to_scalar::<f32>().unwrap(), diff.mean_all().unwrap().to_scalar::<f32>().unwrap())
}

#[test]
fn rounding_where_the_int8_graphs_round_reproduces_onnxruntimes_int8_output() {
    let table = std::fs::read(fixture("int8_rounding.safetensors")).unwrap();
    let rounding = Int8Rounding::load(&table, "int8_rounding.safetensors").unwrap();
    let net = InstantNet::embedded(&Device::Cpu).unwrap().with_int8_rounding(rounding);
    let want = expected();

    // The transformer, fed onnxruntime's vector: every one of its ~200 roundings lands where
    // onnxruntime's does (measured: identical, max 0).
    let reference = want["int8_output"].permute((2, 0, 1)).unwrap().unsqueeze(0).unwrap();
    let (max, mean) = max_mean(&net.paint(&picture("content.png"), &want["int8_vector"]).unwrap(), &reference);
    assert!(max < 1e-3, "int8 painting differs: max {max}, mean {mean}");

    // The style network rounds 52 times in a row on a 6/255 grid: a float sum that lands on
    // the other side of a rounding boundary (1 value in 524,288 after the first layer) is
    // carried to the end. Measured: within two of the vector's steps (0.0199), mean 0.0076;
    // onnxruntime's own int8 kernels differ from its reference run by 0.12 mean, 0.42 max.
    let vector = net.style_vector(&picture("style.png")).unwrap();
    let (max, mean) = max_mean(&vector, &want["int8_vector"]);
    assert!(max < 0.045 && mean < 0.012, "int8 style vector differs: max {max}, mean {mean}");
    // The float network is far from it: the rounding is what is reproduced.
    let float = InstantNet::embedded(&Device::Cpu).unwrap().style_vector(&picture("style.png")).unwrap();
    let (float_max, float_mean) = max_mean(&float, &want["int8_vector"]);
    assert!(float_max > 4.0 * max, "float vector is {float_max} ({float_mean} mean) from the int8 one, rounded {max}");
}

#[test]
fn a_damaged_rounding_table_is_named() {
    let err = Int8Rounding::load(b"not a table", "int8_rounding.safetensors").unwrap_err().to_string();
    assert!(err.contains("int8_rounding.safetensors"), "{err}");
}

#[test]
fn a_colour_matched_painting_gets_its_own_style_vector_not_the_files_cached_one() {
    use neural_style_studio::transfer::PreserveColors;
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 128, 96);
    let spec = RenderSpec { size: 128, ..RenderSpec::new(content, &[style]) };
    let picture = |job: &mut Job, mode: PreserveColors| {
        let spec = RenderSpec { preserve_colors: mode, ..spec.clone() };
        job.instant(&spec).unwrap().to_rgb8()
    };
    // One Job keeps one cache of style vectors: the painting's vector is cached under its
    // file's hash, which the colour-matched painting (other pixels) must not be served from.
    let mut shared = Job::new();
    let plain = picture(&mut shared, PreserveColors::Off);
    let matched = picture(&mut shared, PreserveColors::Histogram);
    assert!(matched == picture(&mut Job::new(), PreserveColors::Histogram), "matched look came from the cache");
    assert!(plain != matched, "colour matching changed nothing");
    assert!(plain == picture(&mut shared, PreserveColors::Off), "the plain look changed after matching");
}
