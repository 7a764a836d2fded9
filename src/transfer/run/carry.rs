//! Between stages of a coarse-to-fine render: the picture carried to the next, larger size.

use candle_core::{Device, Tensor};
use image::{ImageBuffer, Rgb};

use super::stepper::Stepper;
use crate::error::Result;
use crate::imageio::fit_long_side;

/// Resizes a normalised image (1, 3, H, W) to the size a stage of long side `size` gives an
/// image of `content_dims` (bicubic, in float: no 8-bit rounding between stages).
pub fn upscale(x: &Tensor, content_dims: (u32, u32), size: u32, device: &Device) -> Result<Tensor> {
    let (w, h) = fit_long_side(content_dims, size);
    let (_, _, sh, sw) = x.dims4()?;
    let mut hwc: Vec<f32> = x.permute((0, 2, 3, 1))?.contiguous()?.flatten_all()?.to_vec1()?;
    // `image` clamps float samples to [0, 1] while filtering, and a normalised image spans about
    // -2..2.6: map its range into the middle half of [0, 1] (room for the filter's overshoot),
    // resize, and map back.
    let (lo, hi) = hwc.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let span = (hi - lo).max(f32::EPSILON);
    hwc.iter_mut().for_each(|v| *v = (*v - lo) / span * 0.5 + 0.25);
    let src: ImageBuffer<Rgb<f32>, Vec<f32>> = ImageBuffer::from_raw(sw as u32, sh as u32, hwc)
        .ok_or_else(|| crate::Error::internal("image buffer size mismatch"))?;
    let mut dst = image::imageops::resize(&src, w, h, image::imageops::FilterType::CatmullRom).into_raw();
    dst.iter_mut().for_each(|v| *v = (*v - 0.25) * 2.0 * span + lo);
    let t = Tensor::from_vec(dst, (1, h as usize, w as usize, 3), device)?;
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
    fn upscale_keeps_values_outside_0_1_as_the_8_bit_resize_of_the_picture_would() {
        // A ramp from -2 to 2.5 across 8 columns (normalised images are not in [0, 1]).
        let ramp: Vec<f32> = (0..3 * 6 * 8).map(|i| -2.0 + 4.5 * (i % 8) as f32 / 7.0).collect();
        let x = Tensor::from_vec(ramp, (1, 3, 6, 8), &Device::Cpu).unwrap();
        let y = upscale(&x, (80, 60), 16, &Device::Cpu).unwrap();
        let row: Vec<f32> = y.get(0).unwrap().get(1).unwrap().get(5).unwrap().to_vec1().unwrap();
        assert!(row[0] < -1.9 && row[15] > 2.4, "{row:?}");
        assert!(row.windows(2).all(|w| w[1] >= w[0] - 1e-4), "a ramp stays a ramp: {row:?}");
        // The same as resizing the picture itself, up to 8-bit rounding.
        let img = crate::imageio::from_tensor(&(x.clone() * 0.2).unwrap()).unwrap();
        let a =
            crate::imageio::from_tensor(&upscale(&(x * 0.2).unwrap(), (80, 60), 16, &Device::Cpu).unwrap()).unwrap();
        let b = crate::imageio::resize(&img, (16, 12));
        assert!(a.as_raw().iter().zip(b.as_raw()).all(|(p, q)| p.abs_diff(*q) <= 2));
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
