//! Masks (guided Gram matrices): a style applies where its mask is painted, tiled evaluation
//! stays exact with masks, and painting steers a running render.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use candle_core::{Device, Tensor};
use image::{GrayImage, Luma, RgbImage};
use neural_style_studio::model::{Tap, Vgg, WeightsSource};
use neural_style_studio::transfer::loss::tiles::evaluate_tiled;
use neural_style_studio::transfer::StyleLoss;
use neural_style_studio::transfer::{
    evaluate_timed, Mask, Objective, PreparedImage, RunSettings, Stepper, StyleMasks, TargetCache, TargetRequest,
    Targets, Unpainted,
};

fn net(fast: bool) -> Arc<Vgg> {
    let mut net = WeightsSource::Embedded.load(Tap::new(5, 1), &Device::Cpu).unwrap();
    net.set_fast_path(fast);
    Arc::new(net)
}

/// White over the left `fraction` of a `w` x `h` picture.
fn left(w: u32, h: u32, fraction: f64) -> Mask {
    let edge = (f64::from(w) * fraction) as u32;
    Mask::new(GrayImage::from_fn(w, h, |x, _| Luma([if x < edge { 255 } else { 0 }]))).unwrap()
}

/// Mean absolute difference of two pictures over the columns `xs`, in 8-bit levels.
fn mean_diff(a: &RgbImage, b: &RgbImage, xs: std::ops::Range<u32>) -> f64 {
    let mut sum = 0.0;
    let mut n = 0.0;
    for y in 0..a.height() {
        for x in xs.clone() {
            for c in 0..3 {
                sum += (f64::from(a.get_pixel(x, y)[c]) - f64::from(b.get_pixel(x, y)[c])).abs();
                n += 1.0;
            }
        }
    }
    sum / n
}

#[test]
fn a_mask_over_the_left_half_styles_the_left_and_keeps_the_right_close_to_the_photo() {
    let net = net(true);
    let (w, h) = (96, 64);
    let content = PreparedImage::new(common::content_image(w, h), &net).unwrap();
    let style = PreparedImage::new(common::style_image(96, 96), &net).unwrap();
    // The Gram loss and the sliced one (the Rich look's) alike.
    let gram = Objective { style_weight: 1e4, ..Objective::default() };
    let sliced = Objective { style_loss: StyleLoss::Sliced, style_weight: 2.0, ..Objective::default() };
    for mut objective in [gram, sliced] {
        objective.masks.set(0, Some(left(w, h, 0.5)));
        let measure = objective.style_loss;
        let mut stepper = Stepper::new(
            net.clone(),
            content.clone(),
            vec![style.clone()],
            objective,
            &RunSettings::default(),
            &mut TargetCache::new(),
        )
        .unwrap();
        for _ in 0..40 {
            stepper.step().unwrap();
        }
        let out = stepper.image().unwrap();
        // A margin of the deepest layers' reach either side of the edge is left out.
        let styled = mean_diff(&out, &content.rgb, 0..32);
        let kept = mean_diff(&out, &content.rgb, 64..96);
        assert!(styled > 3.0 * kept, "{measure:?}: left changed {styled:.2} levels, right {kept:.2}");
        assert!(kept < 6.0, "{measure:?}: the unpainted right half stays close to the photo: {kept:.2} levels");
    }
}

#[test]
fn unpainted_areas_take_the_blend_when_the_artist_chooses() {
    let net = net(true);
    let (w, h) = (96, 64);
    let content = PreparedImage::new(common::content_image(w, h), &net).unwrap();
    let style = PreparedImage::new(common::style_image(96, 96), &net).unwrap();
    let run = |unpainted: Unpainted| {
        let mut objective = Objective { style_weight: 1e4, ..Objective::default() };
        objective.masks = StyleMasks { unpainted, ..StyleMasks::default() };
        objective.masks.set(0, Some(left(w, h, 0.5)));
        let settings = RunSettings::default();
        let mut s = Stepper::new(
            net.clone(),
            content.clone(),
            vec![style.clone()],
            objective,
            &settings,
            &mut TargetCache::new(),
        )
        .unwrap();
        for _ in 0..30 {
            s.step().unwrap();
        }
        mean_diff(&s.image().unwrap(), &content.rgb, 64..96)
    };
    let (kept, blended) = (run(Unpainted::Content), run(Unpainted::Blend));
    assert!(blended > 3.0 * kept, "right half: {blended:.2} levels with the blend, {kept:.2} without");
}

#[test]
fn tiled_masked_losses_and_gradient_equal_the_whole_image_on_both_paths() {
    for fast in [true, false] {
        let net = net(fast);
        let (w, h) = (150, 110);
        let content = PreparedImage::new(common::content_image(w, h), &net).unwrap();
        let styles = [common::style_image(96, 96), common::style_image(64, 80)]
            .map(|s| PreparedImage::new(s, &net).unwrap())
            .to_vec();
        // A soft diagonal ramp for the first style, a disc for the second, the blend elsewhere.
        let ramp = GrayImage::from_fn(w, h, |x, y| Luma([((x + y) * 255 / (w + h)) as u8]));
        let disc = GrayImage::from_fn(w, h, |x, y| {
            let d = ((f64::from(x) - 100.0).powi(2) + (f64::from(y) - 40.0).powi(2)).sqrt();
            Luma([if d < 30.0 { 255 } else { 0 }])
        });
        let mut objective = Objective {
            content_tap: Tap::new(2, 2),
            style_layers: vec![(Tap::new(1, 1), 1.0), (Tap::new(2, 1), 1.0), (Tap::new(3, 1), 1.0)],
            tv_weight: 1.0,
            style_blend: vec![1.0, 2.0],
            ..Objective::default()
        };
        objective.masks = StyleMasks {
            masks: vec![Some(Mask::new(ramp).unwrap()), Some(Mask::new(disc).unwrap())],
            unpainted: Unpainted::Blend,
        };
        let targets =
            Targets::new(&net, &content, &styles, &TargetRequest::of(&objective), &mut TargetCache::new()).unwrap();
        assert_eq!(targets.regions().len(), 3);
        let x = content.tensor.add(&common::noise(content.tensor.dims(), 0.35, 1)).unwrap();
        let (whole, whole_grad, _) = evaluate_timed(&net, &x, &objective, &targets, true).unwrap();
        let (tiled, tiled_grad, _) = evaluate_tiled(&net, &x, &objective, &targets, 27, true, 0).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * b.abs().max(1e-12);
        for (a, b) in tiled.terms.iter().zip(&whole.terms) {
            assert!(
                a.name == b.name && close(a.value, b.value),
                "fast {fast}: {} {} vs {} {}",
                a.name,
                a.value,
                b.name,
                b.value
            );
        }
        assert!(close(tiled.total, whole.total), "fast {fast}: total {} vs {}", tiled.total, whole.total);
        let (a, b) = (tiled_grad.unwrap(), whole_grad.unwrap());
        let norm = |t: &Tensor| t.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap().sqrt();
        let err = norm(&a.sub(&b).unwrap()) / norm(&b);
        assert!(err < 1e-5, "fast {fast}: gradient relative L2 error {err}");
    }
}

#[test]
fn a_white_mask_renders_exactly_as_no_mask() {
    let net = net(true);
    let content = PreparedImage::new(common::content_image(64, 48), &net).unwrap();
    let style = PreparedImage::new(common::style_image(64, 64), &net).unwrap();
    let plain = Objective::default();
    let mut white = plain.clone();
    white.masks.set(0, Some(Mask::filled((64, 48), true).unwrap()));
    let mut cache = TargetCache::new();
    let x = content.tensor.add(&common::noise(content.tensor.dims(), 0.35, 2)).unwrap();
    let eval = |o: &Objective, cache: &mut TargetCache| {
        let t = Targets::new(&net, &content, std::slice::from_ref(&style), &TargetRequest::of(o), cache).unwrap();
        evaluate_timed(&net, &x, o, &t, false).unwrap().0
    };
    let (a, b) = (eval(&plain, &mut cache), eval(&white, &mut cache));
    assert!((a.style() - b.style()).abs() <= 1e-5 * a.style(), "{} vs {}", a.style(), b.style());
}
