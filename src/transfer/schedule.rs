//! Coarse-to-fine schedules: optimise a small image first, then upscale it and continue at the
//! next size. Low resolutions settle the large structures cheaply, so far fewer iterations are
//! needed at full size.

use candle_core::{Device, Tensor};
use image::{ImageBuffer, Rgb};

use super::stepper::Stepper;
use crate::error::Result;
use crate::imageio::fit_long_side;

/// Smallest stage worth running (relu5_1 still sees a few pixels).
const MIN_STAGE: u32 = 96;

/// One stage: the long side and how many iterations to run there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stage {
    /// Long side in pixels.
    pub size: u32,
    /// Iterations at this size.
    pub iterations: usize,
}

/// A schedule of `scales` stages ending at `size`, each stage twice as large as the one before
/// (never below 96 px). `iterations` is the full-size budget: the final stage gets half of it and
/// each smaller stage as many as the final one, since its iterations cost 4x less.
/// With `scales` = 1 this is a single stage of `iterations`.
pub fn coarse_to_fine(size: u32, scales: usize, iterations: usize) -> Vec<Stage> {
    let mut sizes = vec![size];
    while sizes.len() < scales.max(1) {
        let next = sizes[sizes.len() - 1] / 2;
        if next < MIN_STAGE {
            break;
        }
        sizes.push(next);
    }
    sizes.reverse();
    if sizes.len() == 1 {
        return vec![Stage { size, iterations }];
    }
    let per_stage = iterations.div_ceil(2).max(1);
    sizes.into_iter().map(|size| Stage { size, iterations: per_stage }).collect()
}

/// Resizes a normalised image (1, 3, H, W) to the size a stage of long side `size` gives an
/// image of `content_dims` (bicubic, in float: no 8-bit rounding between stages).
pub fn upscale(x: &Tensor, content_dims: (u32, u32), size: u32, device: &Device) -> Result<Tensor> {
    let (w, h) = fit_long_side(content_dims, size);
    let (_, _, sh, sw) = x.dims4()?;
    let hwc: Vec<f32> = x.permute((0, 2, 3, 1))?.contiguous()?.flatten_all()?.to_vec1()?;
    let src: ImageBuffer<Rgb<f32>, Vec<f32>> = ImageBuffer::from_raw(sw as u32, sh as u32, hwc)
        .ok_or_else(|| crate::Error::internal("image buffer size mismatch"))?;
    let dst = image::imageops::resize(&src, w, h, image::imageops::FilterType::CatmullRom);
    let t = Tensor::from_vec(dst.into_raw(), (1, h as usize, w as usize, 3), device)?;
    Ok(t.permute((0, 3, 1, 2))?.contiguous()?)
}

/// Warm-starts `next` (a larger stage) from `previous`: the upscaled image plus the detail the
/// photo has at the larger size and lacks at the smaller (upscaled small photo subtracted from
/// the large one). Plain upscaling blurs the content the previous stage kept, and the large stage
/// would have to spend its iterations restoring it.
pub fn carry_over(previous: &Stepper, next: &mut Stepper) -> Result<()> {
    let size = next.size();
    let long = size.0.max(size.1);
    let device = next.x().device().clone();
    let up = |x: &Tensor| upscale(x, size, long, &device);
    let detail = next.content().tensor.sub(&up(&previous.content().tensor)?)?;
    next.set_x(up(previous.x())?.add(&detail)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_double_up_to_the_target() {
        assert_eq!(coarse_to_fine(512, 1, 200), vec![Stage { size: 512, iterations: 200 }]);
        let s = coarse_to_fine(512, 3, 200);
        assert_eq!(s.iter().map(|s| s.size).collect::<Vec<_>>(), vec![128, 256, 512]);
        assert_eq!(s[2].iterations, 100);
        // Never below the minimum stage size.
        assert_eq!(coarse_to_fine(256, 4, 100).iter().map(|s| s.size).collect::<Vec<_>>(), vec![128, 256]);
    }

    #[test]
    fn upscale_keeps_a_constant_image_constant() {
        let x = Tensor::full(0.25f32, (1, 3, 6, 8), &Device::Cpu).unwrap();
        let y = upscale(&x, (80, 60), 16, &Device::Cpu).unwrap();
        assert_eq!(y.dims(), &[1, 3, 12, 16]);
        let err = (y - 0.25).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(err < 1e-5);
    }
}
