//! Pictures carried along the flow, and the warping error that measures flicker.

use image::RgbImage;
use rayon::prelude::*;

use crate::video::flow::{flow, reliability, Flow, FlowParams, Gray};

/// `picture` (the previous frame) brought onto the next frame: each pixel of the next frame
/// takes the colour where `back` (its flow to the previous frame) points. Sampled bicubically
/// (Catmull-Rom): a clip warps each frame's result onto the next, and bilinear sampling would
/// blur the brush strokes a little more at every frame.
pub fn warp_rgb(picture: &RgbImage, back: &Flow) -> RgbImage {
    let (w, h) = (back.width, back.height);
    let (pw, ph) = (picture.width() as isize, picture.height() as isize);
    let src = picture.as_raw();
    let mut out = vec![0u8; w * h * 3];
    out.par_chunks_mut(w * 3).enumerate().for_each(|(y, row)| {
        for x in 0..w {
            let i = y * w + x;
            let sx = (x as f32 + back.u[i]).clamp(0.0, (pw - 1) as f32);
            let sy = (y as f32 + back.v[i]).clamp(0.0, (ph - 1) as f32);
            let (x0, y0) = (sx.floor() as isize, sy.floor() as isize);
            let (wx, wy) = (catmull_rom(sx - x0 as f32), catmull_rom(sy - y0 as f32));
            let mut acc = [0.0f32; 3];
            for (j, wy) in wy.iter().enumerate() {
                let yy = (y0 + j as isize - 1).clamp(0, ph - 1) as usize;
                for (k, wx) in wx.iter().enumerate() {
                    let xx = (x0 + k as isize - 1).clamp(0, pw - 1) as usize;
                    let p = (yy * pw as usize + xx) * 3;
                    for (c, a) in acc.iter_mut().enumerate() {
                        *a += wx * wy * f32::from(src[p + c]);
                    }
                }
            }
            for (c, a) in acc.iter().enumerate() {
                row[x * 3 + c] = a.round().clamp(0.0, 255.0) as u8;
            }
        }
    });
    RgbImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| RgbImage::new(w as u32, h as u32))
}

/// The four Catmull-Rom weights of the samples at -1, 0, 1, 2 for a point `t` (0..1) past 0.
fn catmull_rom(t: f32) -> [f32; 4] {
    let (t2, t3) = (t * t, t * t * t);
    [0.5 * (-t3 + 2.0 * t2 - t), 0.5 * (3.0 * t3 - 5.0 * t2 + 2.0), 0.5 * (-3.0 * t3 + 4.0 * t2 + t), 0.5 * (t3 - t2)]
}

/// The previous frame's `output` carried onto the next frame along the motion between the
/// input frames `before` and `after` (grey, at the output's size), and where that motion is
/// trusted (1) or not (0): what a frame is held to, and what its flicker is measured against.
pub fn carry(before: &Gray, after: &Gray, output: &RgbImage, params: &FlowParams) -> (RgbImage, Vec<f32>) {
    let forward = flow(before, after, params);
    let back = flow(after, before, params);
    (warp_rgb(output, &back), reliability(&back, &forward))
}

/// Per pixel `(a + k c b) / (1 + k c)`: `a` pulled towards `b` where `weights` (c, 0..1) trust
/// it, the picture minimising `|x - a|^2 + k c |x - b|^2`.
pub fn hold(a: &RgbImage, b: &RgbImage, weights: &[f32], k: f32) -> RgbImage {
    let mut out = a.clone();
    for ((o, q), c) in out.pixels_mut().zip(b.pixels()).zip(weights) {
        let t = k * c / (1.0 + k * c);
        for ch in 0..3 {
            o[ch] = (f32::from(o[ch]) * (1.0 - t) + f32::from(q[ch]) * t).round() as u8;
        }
    }
    out
}

/// Mean absolute difference (0-255, over channels) between `next` and `warped` (the previous
/// output carried onto it) over the pixels `reliable` trusts: the warping error of
/// Lai et al. and Ruder et al., lower is steadier. `None` when no pixel is trusted.
pub fn warping_error(next: &RgbImage, warped: &RgbImage, reliable: &[f32]) -> Option<f64> {
    let (mut sum, mut n) = (0.0f64, 0.0f64);
    for ((p, q), &c) in next.pixels().zip(warped.pixels()).zip(reliable) {
        if c > 0.0 {
            let d: f64 = (0..3).map(|ch| (f64::from(p[ch]) - f64::from(q[ch])).abs()).sum();
            sum += f64::from(c) * d / 3.0;
            n += f64::from(c);
        }
    }
    (n > 0.0).then(|| sum / n)
}

/// The mean warping error of a rendered clip, measured frame by frame as it is read: each
/// output frame against the one before it carried along the input clip's motion.
#[derive(Default)]
pub struct FlickerMeter {
    previous: Option<(Gray, RgbImage)>,
    sum: f64,
    pairs: usize,
}

impl FlickerMeter {
    /// A meter that has seen no frame.
    pub fn new() -> Self {
        FlickerMeter::default()
    }

    /// Takes the next input frame and its output (the same size).
    pub fn push(&mut self, input: &RgbImage, output: &RgbImage) {
        let grey = Gray::from_rgb(input);
        if let Some((before, previous)) = &self.previous {
            let (warped, reliable) = carry(before, &grey, previous, &FlowParams::default());
            if let Some(e) = warping_error(output, &warped, &reliable) {
                self.sum += e;
                self.pairs += 1;
            }
        }
        self.previous = Some((grey, output.clone()));
    }

    /// The mean over consecutive pairs (`None` before two frames).
    pub fn mean(&self) -> Option<f64> {
        (self.pairs > 0).then(|| self.sum / self.pairs as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warping_by_a_whole_pixel_shift_moves_the_picture() {
        let picture = RgbImage::from_fn(8, 4, |x, y| image::Rgb([(x * 30) as u8, (y * 50) as u8, 7]));
        // Each pixel of the next frame came from one pixel to its left.
        let mut back = Flow::zero(8, 4);
        back.u.iter_mut().for_each(|u| *u = -1.0);
        let warped = warp_rgb(&picture, &back);
        for y in 0..4 {
            for x in 1..8 {
                assert_eq!(warped.get_pixel(x, y), picture.get_pixel(x - 1, y));
            }
        }
        assert_eq!(warping_error(&warped, &warped, &[1.0; 32]), Some(0.0));
        assert_eq!(warping_error(&warped, &picture, &[0.0; 32]), None);
    }

    #[test]
    fn holding_keeps_the_first_picture_where_the_weights_are_zero() {
        let a = RgbImage::from_pixel(2, 1, image::Rgb([0, 0, 0]));
        let b = RgbImage::from_pixel(2, 1, image::Rgb([200, 100, 50]));
        let held = hold(&a, &b, &[0.0, 1.0], 4.0);
        assert_eq!(held.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(held.get_pixel(1, 0).0, [160, 80, 40]);
    }
}
