//! Tiled evaluation equals the whole-image computation: losses, gradient and targets, on the CPU
//! fast path and on the generic candle path (the one GPUs run), with grids that do not divide
//! the image evenly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use candle_core::{Device, Tensor};
use neural_style_studio::model::{Tap, Vgg, WeightsSource};
use neural_style_studio::transfer::loss::gram::gram;
use neural_style_studio::transfer::loss::tiles::{evaluate_tiled, features_tiled, grams_tiled, TileGrid};
use neural_style_studio::transfer::{
    evaluate_timed, Look, Objective, PreparedImage, TargetCache, TargetRequest, Targets,
};

fn nets() -> [(&'static str, Arc<Vgg>); 2] {
    let fast = WeightsSource::Embedded.load(Tap::new(5, 1), &Device::Cpu).unwrap();
    let mut generic = WeightsSource::Embedded.load(Tap::new(5, 1), &Device::Cpu).unwrap();
    generic.set_fast_path(false);
    [("fast", Arc::new(fast)), ("generic", Arc::new(generic))]
}

/// Relative L2 distance of `a` from `b`.
fn rel_l2(a: &Tensor, b: &Tensor) -> f32 {
    let norm = |t: &Tensor| t.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap().sqrt();
    norm(&a.sub(b).unwrap()) / norm(b)
}

fn shallow() -> Objective {
    Objective {
        content_tap: Tap::new(2, 2),
        style_layers: vec![(Tap::new(1, 1), 1.0), (Tap::new(2, 1), 1.0), (Tap::new(3, 1), 1.0)],
        tv_weight: 1.0,
        ..Objective::default()
    }
}

/// Evaluates whole and tiled at `(w, h)` and compares every loss term and the gradient.
fn compare(net: &Arc<Vgg>, label: &str, objective: &Objective, (w, h): (u32, u32), tile: usize) {
    compare_within(net, label, objective, (w, h), tile, 1e-5);
}

/// [`compare`] with the gradient within `tolerance` (relative L2).
fn compare_within(net: &Arc<Vgg>, label: &str, objective: &Objective, (w, h): (u32, u32), tile: usize, tolerance: f32) {
    let content = PreparedImage::new(common::content_image(w, h), net).unwrap();
    let style = PreparedImage::new(common::style_image(96, 96), net).unwrap();
    let targets =
        Targets::new(net, &content, &[style], &TargetRequest::of(objective), &mut TargetCache::new()).unwrap();
    let x = content.tensor.add(&common::noise(content.tensor.dims(), 0.35, 1)).unwrap();
    let depth = net.tap_index(objective.taps().into_iter().max().unwrap()).unwrap() + 1;
    let grid = TileGrid::new(net, depth, (w as usize, h as usize), tile);
    let cropped = grid.tiles().iter().filter(|t| t.outer.w < w as usize && t.outer.h < h as usize).count();
    assert!(cropped >= 1, "{label}: some tile must read only part of the image in both directions");

    let (whole, whole_grad, _) = evaluate_timed(net, &x, objective, &targets, true).unwrap();
    let (tiled, tiled_grad, _) = evaluate_tiled(net, &x, objective, &targets, tile, true, 0).unwrap();
    // Keeping every tile's activations from pass 1 (memory to spare) changes nothing but speed.
    let (kept, kept_grad, _) = evaluate_tiled(net, &x, objective, &targets, tile, true, u64::MAX).unwrap();
    assert_eq!((kept.total, &kept.terms), (tiled.total, &tiled.terms), "{label}: kept activations");
    let same =
        kept_grad.unwrap().eq(tiled_grad.as_ref().unwrap()).unwrap().min_all().unwrap().to_scalar::<u8>().unwrap();
    assert_eq!(same, 1, "{label}: the gradient with kept activations is the same, bit for bit");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * b.abs().max(1e-12);
    assert_eq!(tiled.terms.len(), whole.terms.len(), "{label}: the same terms");
    for (a, b) in tiled.terms.iter().zip(&whole.terms) {
        assert_eq!(a.name, b.name, "{label}: the same terms in the same order");
        assert!(close(a.value, b.value), "{label} {}: {} vs {}", a.name, a.value, b.value);
    }
    assert!(close(tiled.total, whole.total), "{label} total {} vs {}", tiled.total, whole.total);
    let err = rel_l2(&tiled_grad.unwrap(), &whole_grad.unwrap());
    // Measured: 3e-7 (float rounding) with the halo of two receptive radii; a halo of one
    // radius gives 6e-5, half a radius 2e-3.
    assert!(err < tolerance, "{label}: gradient relative L2 error {err}");
}

#[test]
fn tiled_losses_and_gradient_equal_the_whole_image_at_relu5_1_on_both_paths() {
    for (label, net) in nets() {
        // relu5_1 needs a 160 px halo: 420 x 340 with 144 px tiles gives a 3 x 3 grid whose
        // last column and row are narrower, and corner tiles that read only part of the image.
        compare(&net, label, &Objective::default(), (420, 340), 144);
    }
}

#[test]
fn tiled_losses_and_gradient_equal_the_whole_image_with_many_small_tiles() {
    for (label, net) in nets() {
        // Down to relu3_1: a 28 px halo on a 4 px grid; 27 px tiles round up to 28, and the
        // 150 x 110 image leaves remainders of 10 and 26 px.
        compare(&net, label, &shallow(), (150, 110), 27);
    }
}

#[test]
fn tiled_evaluation_is_exact_under_the_modern_looks_scaled_measure() {
    // The scaled measure divides by sums over the whole Gram difference: pass 2 must use the
    // global ones.
    let objective = Objective { look: Look::Modern, ..shallow() };
    for (label, net) in nets() {
        compare(&net, label, &objective, (150, 110), 27);
    }
}

#[test]
fn tiled_evaluation_is_exact_with_normalised_gradients() {
    // Each term's gradient norm is summed over every tile's interior before any is scaled.
    let objective = Objective { normalize_gradients: true, ..shallow() };
    for (label, net) in nets() {
        compare(&net, label, &objective, (150, 110), 27);
    }
}

#[test]
fn tiled_targets_equal_the_whole_image_ones() {
    for (label, net) in nets() {
        let image = PreparedImage::new(common::style_image(230, 170), &net).unwrap();
        // Down to relu4_2: a 96 px halo, so 64 px tiles read only part of the 230 x 170 image.
        let taps = [Tap::new(1, 1), Tap::new(3, 1), Tap::new(4, 2)];
        let keep: Vec<usize> = taps.iter().map(|&t| net.tap_index(t).unwrap()).collect();
        let whole = net.forward_taps(&image.tensor, &keep).unwrap();
        let features = features_tiled(&net, &image.tensor, &keep, 64).unwrap();
        let grams = grams_tiled(&net, &image.tensor, &keep, 64).unwrap();
        for ((&i, f), g) in keep.iter().zip(&features).zip(&grams) {
            let expect = whole.output(i).unwrap();
            assert_eq!(f.dims(), expect.dims(), "{label} layer {i}");
            assert!(rel_l2(f, expect) < 1e-5, "{label} features of layer {i}");
            assert!(rel_l2(g, &gram(expect).unwrap()) < 1e-5, "{label} Gram of layer {i}");
        }
    }
}

#[test]
fn tile_grid_covers_the_image_once_on_the_pooling_grid() {
    let net = WeightsSource::Embedded.load(Tap::new(5, 1), &Device::Cpu).unwrap();
    let depth = net.tap_index(Tap::new(5, 1)).unwrap() + 1;
    assert_eq!(net.reach(depth), (73, 16), "relu5_1 of VGG16: radius 73 px, stride 16");
    let (w, h) = (1000, 777);
    let grid = TileGrid::new(&net, depth, (w, h), 250);
    let mut owner = vec![0u8; w * h];
    for t in grid.tiles() {
        assert_eq!((t.inner.x % 16, t.inner.y % 16, t.outer.x % 16, t.outer.y % 16), (0, 0, 0, 0));
        assert!(t.inner.w <= 256 + 15 && t.inner.h <= 256 + 15, "{t:?}");
        assert!(t.outer.x + t.outer.w <= w && t.outer.y + t.outer.h <= h);
        for y in t.inner.y..t.inner.y + t.inner.h {
            for x in t.inner.x..t.inner.x + t.inner.w {
                owner[y * w + x] += 1;
            }
        }
    }
    assert!(owner.iter().all(|&n| n == 1), "every pixel belongs to exactly one tile");
}

#[test]
fn tiled_evaluation_is_exact_with_the_sliced_style_loss() {
    use neural_style_studio::transfer::StyleLoss;
    for (label, net) in nets() {
        // The losses are exact within rounding. The gradient is not smooth where two pixels'
        // projections tie: features computed in a tile differ from the whole image's in the
        // last bits (as for every term), which can swap the ranks of two values equal to 1e-7,
        // and so which of two neighbouring quantiles each is pulled to. Measured: 1.6e-5.
        let objective = Objective { style_loss: StyleLoss::Sliced, ..shallow() };
        compare_within(&net, label, &objective, (150, 110), 27, 1e-4);
    }
}
