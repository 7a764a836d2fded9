//! The temporal term of a clip's frame (Ruder, Dosovitskiy and Brox, "Artistic style transfer
//! for videos"): the mean over pixels and channels of `c * (x - w)^2`, where `w` is the previous
//! frame's result warped by the motion onto this frame and `c` is 1 where that motion can be
//! trusted, 0 where the pixel was hidden or came from outside the frame. It reads the image
//! itself, not a network layer, so it is exact in tiles like the total variation.

use candle_core::Tensor;
use image::RgbImage;

use super::{no_taps, Build, Kind, Part, Place, Term};
use crate::error::{Error, Result};
use crate::imageio::to_tensor;

/// The temporal term's kind: a term when the targets hold a previous frame (reported at any
/// weight, pulling when the weight is not zero).
pub(super) const KIND: Kind = Kind {
    name: "temporal",
    label: "Hold to previous frame",
    weight: |o| o.temporal_weight,
    taps: no_taps,
    prepare: None,
    build,
};

fn build<'a>(b: &Build<'a>) -> Result<Vec<Box<dyn Term + 'a>>> {
    let Some(temporal) = &b.targets.temporal else { return Ok(Vec::new()) };
    let place = Place::image(KIND.name, b.objective.temporal_weight);
    Ok(vec![Box::new(HoldTo { place, temporal, loss: None })])
}

/// The term at one evaluation.
struct HoldTo<'a> {
    place: Place,
    temporal: &'a Temporal,
    loss: Option<Tensor>,
}

impl Term for HoldTo<'_> {
    fn place(&self) -> Place {
        self.place
    }

    fn gather(&mut self, image: &Tensor, _: &Part) -> Result<()> {
        self.loss = Some(self.temporal.loss_and_grad(image, 0.0)?.0);
        Ok(())
    }

    fn finish(&mut self) -> Result<Tensor> {
        self.loss.take().ok_or_else(|| Error::internal("the temporal term saw no image"))
    }

    fn grad(&self, image: &Tensor, _: &Part) -> Result<Option<Tensor>> {
        Ok(self.temporal.loss_and_grad(image, self.place.weight)?.1)
    }
}

/// What a frame holds to: the previous result, warped, and where to hold.
#[derive(Debug, Clone)]
pub struct Temporal {
    /// The warped previous result, normalised like the image, (1, 3, H, W).
    target: Tensor,
    /// Per pixel 0..1, (1, 1, H, W).
    weights: Tensor,
}

impl Temporal {
    /// The term for a frame of `target`'s size, holding where `weights` (row-major, one per
    /// pixel, 0..1) says, on `device`.
    pub fn new(target: &RgbImage, weights: &[f32], device: &candle_core::Device) -> Result<Self> {
        let (w, h) = (target.width() as usize, target.height() as usize);
        if weights.len() != w * h {
            return Err(Error::internal(format!("{} temporal weights for a {w}x{h} frame", weights.len())));
        }
        let weights = Tensor::from_slice(weights, (1, 1, h, w), device)?;
        Ok(Temporal { target: to_tensor(target, device)?, weights })
    }

    /// The loss (0-d) at `x` and, for a non-zero `weight`, d(weight * loss) / dx.
    pub fn loss_and_grad(&self, x: &Tensor, weight: f64) -> Result<(Tensor, Option<Tensor>)> {
        if x.dims() != self.target.dims() {
            return Err(Error::internal(format!(
                "temporal target of shape {:?} for an image of shape {:?}",
                self.target.dims(),
                x.dims()
            )));
        }
        let d = x.sub(&self.target)?;
        let weighted = d.broadcast_mul(&self.weights)?;
        let loss = weighted.mul(&d)?.mean_all()?;
        let grad = if weight != 0.0 { Some((weighted * (2.0 * weight / d.elem_count() as f64))?) } else { None };
        Ok((loss, grad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn gradient_matches_finite_differences_and_ignores_unreliable_pixels() {
        let dev = Device::Cpu;
        let target = RgbImage::from_fn(4, 3, |x, y| image::Rgb([(x * 40) as u8, (y * 60) as u8, 90]));
        let weights: Vec<f32> = (0..12).map(|i| if i % 5 == 0 { 0.0 } else { 0.5 + (i as f32) / 24.0 }).collect();
        let t = Temporal::new(&target, &weights, &dev).unwrap();
        let x0: Vec<f32> = (0..36).map(|i| ((i * 7) % 11) as f32 / 5.0 - 1.0).collect();
        let x = Tensor::from_slice(&x0, (1, 3, 3, 4), &dev).unwrap();
        let (_, g) = t.loss_and_grad(&x, 3.0).unwrap();
        let g: Vec<f32> = g.unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let loss_at = |v: &[f32]| -> f64 {
            let x = Tensor::from_slice(v, (1, 3, 3, 4), &dev).unwrap();
            3.0 * f64::from(t.loss_and_grad(&x, 0.0).unwrap().0.to_scalar::<f32>().unwrap())
        };
        for i in 0..36 {
            let (mut up, mut down) = (x0.clone(), x0.clone());
            up[i] += 1e-2;
            down[i] -= 1e-2;
            let numeric = (loss_at(&up) - loss_at(&down)) / 2e-2;
            assert!((numeric - f64::from(g[i])).abs() < 1e-4, "element {i}: {numeric} vs {}", g[i]);
            if (i % 12) % 5 == 0 {
                assert_eq!(g[i], 0.0, "an unreliable pixel pulls");
            }
        }
    }
}
