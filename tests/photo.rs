//! The Photo look: its photorealism term keeps the photo's edges while the colours move, is
//! exact in tiles, and is refused by name when misspelt.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use candle_core::{Device, Tensor};
use neural_style_studio::imageio::edge_correlation;
use neural_style_studio::model::{Tap, Vgg, WeightsSource};
use neural_style_studio::transfer::loss::tiles::evaluate_tiled;
use neural_style_studio::transfer::run::colour::histogram_distance;
use neural_style_studio::transfer::{
    evaluate_timed, Look, PreparedImage, RenderSpec, Stepper, TargetCache, TargetRequest, Targets,
};

fn embedded() -> Arc<Vgg> {
    Arc::new(WeightsSource::Embedded.load(Tap::new(5, 1), &Device::Cpu).unwrap())
}

fn spec(look: Look) -> RenderSpec {
    let mut spec = RenderSpec::new("photo.png", &["painting.png".into()]);
    look.apply(&mut spec);
    spec
}

/// The picture after `steps` iterations of `look` at 64 px, from the photo.
fn render(look: Look, steps: usize) -> image::RgbImage {
    let net = embedded();
    let content = PreparedImage::new(common::content_image(64, 64), &net).unwrap();
    let style = PreparedImage::new(common::style_image(64, 64), &net).unwrap();
    let spec = spec(look);
    let mut stepper =
        Stepper::new(net, content, vec![style], spec.objective, &spec.run, &mut TargetCache::new()).unwrap();
    for _ in 0..steps {
        stepper.step().unwrap();
    }
    stepper.image().unwrap()
}

#[test]
fn the_photo_look_keeps_the_photos_edges_where_classic_paints_over_them_and_still_moves_colours() {
    let (photo, painting) = (common::content_image(64, 64), common::style_image(64, 64));
    let (classic, real) = (render(Look::Classic, 40), render(Look::Photo, 40));
    let edges = |img| edge_correlation(img, &photo);
    let colours = |img| histogram_distance(img, &painting);
    eprintln!(
        "edges: classic {:.3}, photo {:.3}; colour distance to the painting: photo itself {:.1}, classic {:.1}, photo look {:.1}",
        edges(&classic),
        edges(&real),
        colours(&photo),
        colours(&classic),
        colours(&real)
    );
    // Measured at 64 px, 40 iterations: edges 0.58 against Classic's 0.02 (with the
    // photorealism weight at 1e5 instead of the look's 1e7: 0.12); the colour distance to the
    // painting 38 against the photo's own 66 and Classic's 27.
    assert!(edges(&real) > 0.3, "edges: photo {}", edges(&real));
    assert!(
        edges(&real) > 3.0 * edges(&classic).max(0.01),
        "edges: photo {} vs classic {}",
        edges(&real),
        edges(&classic)
    );
    assert!(colours(&real) < 0.9 * colours(&photo), "the photo look moved no colour");
}

#[test]
fn the_photorealism_term_is_the_same_in_tiles() {
    let net = embedded();
    let content = PreparedImage::new(common::content_image(120, 88), &net).unwrap();
    let style = PreparedImage::new(common::style_image(96, 96), &net).unwrap();
    let mut objective = spec(Look::Photo).objective;
    objective.style_layers.truncate(3);
    let targets =
        Targets::new(&net, &content, &[style], &TargetRequest::of(&objective), &mut TargetCache::new()).unwrap();
    let x = content.tensor.add(&common::noise(content.tensor.dims(), 0.3, 5)).unwrap();
    let (whole, whole_grad, _) = evaluate_timed(&net, &x, &objective, &targets, true).unwrap();
    let (tiled, tiled_grad, _) = evaluate_tiled(&net, &x, &objective, &targets, 48, true, 0).unwrap();
    let photo = whole.terms.iter().find(|t| t.name.term == "photo").expect("a photorealism term");
    assert!(photo.value > 0.0 && photo.weight > 0.0);
    for (a, b) in tiled.terms.iter().zip(&whole.terms) {
        assert_eq!(a.name, b.name);
        assert!((a.value - b.value).abs() <= 1e-5 * b.value.abs().max(1e-12), "{}: {} vs {}", a.name, a.value, b.value);
    }
    let norm = |t: &Tensor| t.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap().sqrt();
    let (a, b) = (tiled_grad.unwrap(), whole_grad.unwrap());
    let err = norm(&a.sub(&b).unwrap()) / norm(&b);
    assert!(err < 1e-4, "gradient relative L2 error {err}");
}

#[test]
fn a_misspelt_term_weight_is_refused_with_one_line_naming_it() {
    common::hermetic();
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 32, 32);
    let out = common::binary()
        .args(["render", "--look", "photo", "--term-weight", "fotorealism=5", "--iters", "1", "--size", "32"])
        .arg("--content")
        .arg(&content)
        .arg("--style")
        .arg(&style)
        .arg("--out")
        .arg(dir.path().join("out.png"))
        .output()
        .unwrap();
    let err = common::stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("no loss term is called \"fotorealism\""), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!dir.path().join("out.png").exists());
}
