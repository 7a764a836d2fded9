//! The sliced-Wasserstein style loss (the Rich look): its gradient is the loss's, and an
//! optimisation with it matches the painting's feature distributions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use candle_core::{Device, Tensor};
use image::{GrayImage, Luma};
use neural_style_studio::model::{Tap, WeightsSource};
use neural_style_studio::transfer::loss::tiles::evaluate_tiled;
use neural_style_studio::transfer::StyleLoss;
use neural_style_studio::transfer::{
    evaluate, Mask, Objective, PreparedImage, RunSettings, Stepper, StyleMasks, TargetCache, TargetRequest, Targets,
    Unpainted,
};

fn sliced() -> Objective {
    Objective {
        content_tap: Tap::new(2, 2),
        style_layers: vec![(Tap::new(1, 1), 1.0), (Tap::new(2, 1), 1.0), (Tap::new(3, 1), 1.0)],
        style_loss: StyleLoss::Sliced,
        ..Objective::default()
    }
}

#[test]
fn the_sliced_gradient_is_the_derivative_of_the_sliced_loss() {
    let net = WeightsSource::Embedded.load(Tap::new(3, 1), &Device::Cpu).unwrap();
    let content = PreparedImage::new(common::content_image(56, 40), &net).unwrap();
    let style = PreparedImage::new(common::style_image(64, 64), &net).unwrap();
    for objective in [sliced(), Objective { content_weight: 0.0, ..sliced() }] {
        let targets = Targets::new(
            &net,
            &content,
            std::slice::from_ref(&style),
            &TargetRequest::of(&objective),
            &mut TargetCache::new(),
        )
        .unwrap();
        let x = content.tensor.add(&common::noise(content.tensor.dims(), 0.3, 2)).unwrap();
        let (losses, grad) = evaluate(&net, &x, &objective, &targets, true).unwrap();
        let grad = grad.unwrap();
        assert!(losses.style() > 0.0);
        // The directional derivative along a random direction, by central differences.
        let u = common::noise(x.dims(), 1.0, 7);
        let at =
            |t: f64| evaluate(&net, &(&x + (&u * t).unwrap()).unwrap(), &objective, &targets, false).unwrap().0.total;
        let eps = 1e-3;
        let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
        let analytic = f64::from((&grad * &u).unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap());
        let err = (numeric - analytic).abs() / analytic.abs();
        assert!(err < 1e-2, "directional derivative {analytic} against {numeric} by differences ({err})");
    }
}

#[test]
fn switching_a_running_render_to_the_sliced_loss_keeps_the_image_and_lowers_the_sliced_distance() {
    let net = Arc::new(WeightsSource::Embedded.load(Tap::new(3, 1), &Device::Cpu).unwrap());
    let content = PreparedImage::new(common::content_image(56, 40), &net).unwrap();
    let style = PreparedImage::new(common::style_image(64, 64), &net).unwrap();
    let mut cache = TargetCache::new();
    let gram = Objective { style_loss: StyleLoss::Gram, ..sliced() };
    let mut stepper =
        Stepper::new(net.clone(), content, vec![style], gram, &RunSettings::default(), &mut cache).unwrap();
    for _ in 0..3 {
        stepper.step().unwrap();
    }
    let before = stepper.image().unwrap();
    let grams = cache.len();
    stepper.set_objective(sliced(), &mut cache).unwrap();
    assert_eq!(stepper.image().unwrap(), before, "the image survives the change");
    assert_eq!(cache.len(), grams + 3, "the style's sorted projections at its three layers are new targets");
    let first = stepper.step().unwrap().losses.style();
    let mut last = first;
    for _ in 0..15 {
        last = stepper.step().unwrap().losses.style();
    }
    assert!(last < 0.5 * first, "the sliced distance fell from {first} to only {last}");
}

/// Two styles over a 96x72 photo: a soft ramp paints the first, a disc the second, the blend
/// takes the rest.
fn masked(objective: Objective, (w, h): (u32, u32)) -> Objective {
    let ramp = GrayImage::from_fn(w, h, |x, y| Luma([((x + y) * 255 / (w + h)) as u8]));
    let disc = GrayImage::from_fn(w, h, |x, y| {
        let d = ((f64::from(x) - f64::from(w) * 0.7).powi(2) + (f64::from(y) - f64::from(h) * 0.4).powi(2)).sqrt();
        Luma([if d < f64::from(h) * 0.3 { 255 } else { 0 }])
    });
    let masks = StyleMasks {
        masks: vec![Some(Mask::new(ramp).unwrap()), Some(Mask::new(disc).unwrap())],
        unpainted: Unpainted::Blend,
    };
    Objective { style_blend: vec![1.0, 2.0], masks, ..objective }
}

#[test]
fn the_masked_sliced_gradient_is_the_derivative_of_the_masked_sliced_loss_and_exact_in_tiles() {
    let net = WeightsSource::Embedded.load(Tap::new(3, 1), &Device::Cpu).unwrap();
    let (w, h) = (96, 72);
    let content = PreparedImage::new(common::content_image(w, h), &net).unwrap();
    let styles = [common::style_image(64, 64), common::style_image(48, 80)]
        .map(|s| PreparedImage::new(s, &net).unwrap())
        .to_vec();
    let objective = masked(Objective { content_weight: 0.0, ..sliced() }, (w, h));
    let targets =
        Targets::new(&net, &content, &styles, &TargetRequest::of(&objective), &mut TargetCache::new()).unwrap();
    assert_eq!(targets.regions().len(), 3);
    let x = content.tensor.add(&common::noise(content.tensor.dims(), 0.3, 3)).unwrap();
    let (losses, grad) = evaluate(&net, &x, &objective, &targets, true).unwrap();
    let grad = grad.unwrap();
    assert!(losses.style() > 0.0);
    let u = common::noise(x.dims(), 1.0, 11);
    let at = |t: f64| evaluate(&net, &(&x + (&u * t).unwrap()).unwrap(), &objective, &targets, false).unwrap().0.total;
    let eps = 1e-3;
    let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
    let analytic = f64::from((&grad * &u).unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap());
    // Pixels of different weights that swap ranks within +-eps move the loss by a little (the
    // spread of the style's quantiles within their shares): measured 1.5% here, 72% when each
    // pixel took the quantile at the middle of its share.
    let err = (numeric - analytic).abs() / analytic.abs();
    assert!(err < 3e-2, "directional derivative {analytic} against {numeric} by differences ({err})");
    // In tiles of 27 px, the same loss, and the same gradient but where ties of ranks swap
    // (see tests/tiles.rs).
    let (tiled, tiled_grad, _) = evaluate_tiled(&net, &x, &objective, &targets, 27, true, 0).unwrap();
    assert!((tiled.style() - losses.style()).abs() <= 1e-5 * losses.style(), "{} vs {}", tiled.style(), losses.style());
    let norm = |t: &Tensor| t.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap().sqrt();
    let err = norm(&tiled_grad.unwrap().sub(&grad).unwrap()) / norm(&grad);
    assert!(err < 1e-4, "gradient relative L2 error {err}");
}

#[test]
fn a_white_mask_gives_the_unmasked_sliced_loss_to_the_bit() {
    let net = WeightsSource::Embedded.load(Tap::new(3, 1), &Device::Cpu).unwrap();
    let content = PreparedImage::new(common::content_image(56, 40), &net).unwrap();
    let style = PreparedImage::new(common::style_image(64, 64), &net).unwrap();
    let plain = sliced();
    let mut white = plain.clone();
    white.masks.set(0, Some(Mask::filled((56, 40), true).unwrap()));
    let x = content.tensor.add(&common::noise(content.tensor.dims(), 0.3, 5)).unwrap();
    let mut cache = TargetCache::new();
    let mut eval = |o: &Objective| {
        let t = Targets::new(&net, &content, std::slice::from_ref(&style), &TargetRequest::of(o), &mut cache).unwrap();
        let (l, g) = evaluate(&net, &x, o, &t, true).unwrap();
        (l.style(), g.unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap())
    };
    let (a, b) = (eval(&plain), eval(&white));
    assert_eq!(a.0, b.0);
    assert!(a.1 == b.1, "the gradients differ");
}
