//! The sliced-Wasserstein style loss (the Rich look): its gradient is the loss's, and an
//! optimisation with it matches the painting's feature distributions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use candle_core::Device;
use neural_style_studio::model::{Tap, WeightsSource};
use neural_style_studio::transfer::StyleLoss;
use neural_style_studio::transfer::{
    evaluate, Mask, Objective, PreparedImage, RunSettings, Stepper, TargetCache, TargetRequest, Targets,
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

#[test]
fn the_sliced_loss_refuses_style_masks_with_one_clear_message() {
    let mut objective = sliced();
    objective.masks.set(0, Some(Mask::filled((8, 8), true).unwrap()));
    let err = objective.validate(1).unwrap_err().to_string();
    assert!(err.contains("does not take style masks"), "{err}");
}
