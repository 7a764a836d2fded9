//! The photorealism term of the Photo look (Luan et al., "Deep Photo Style Transfer", CVPR
//! 2017): `sum_c V_c^T M V_c / N`, where `V_c` is channel `c` of the picture in 0..1 and `M` the
//! Matting Laplacian of the content photo (Levin et al., "A Closed-Form Solution to Natural Image
//! Matting"), over 3x3 windows with epsilon 1e-7 as in Luan et al.'s code. It is zero for a
//! picture that is, in every window, an affine function of the photo's colours: colours may
//! move, edges may not. Divided by the pixel count `N` (Luan et al. do not divide), a weight
//! means the same at every size of a multi-scale schedule.
//!
//! `M` is never stored (Luan et al. keep it as a sparse matrix of 25 entries a pixel). Its
//! product with a picture is computed window by window (He, Sun and Tang, "Fast Matting Using
//! Large Kernel Matting Laplacian Matrices", CVPR 2010): with `a_k = D_k^-1 (mean_k(I v) -
//! mu_k mean_k(v))` and `b_k = mean_k(v) - a_k . mu_k`, `(M v)_i = n_i v_i - sum over the
//! windows k holding i of (a_k . I_i + b_k)`, `n_i` being their count and `D_k` the photo's
//! covariance in window k plus `epsilon / 9`. What the photo gives (each window's `D_k^-1`) is
//! prepared once per photo and size: 60 bytes a pixel with the photo itself. Each
//! product runs in bands of rows, so the memory it adds is a band's.

use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use image::RgbImage;
use rayon::prelude::*;

use super::{no_taps, Build, Kind, Part, Place, Prepared, Term};
use crate::error::{Error, Result};
use crate::imageio::{MEAN, STD};

/// The photorealism term's kind, weighed by `Objective::weights["photo"]`.
pub(super) const KIND: Kind = Kind {
    name: "photo",
    label: "Photorealism",
    weight: |o| o.weight("photo"),
    taps: no_taps,
    prepare: Some(prepare),
    build,
};

/// Epsilon of the Matting Laplacian (Luan et al.'s `getLaplacian1`): how far a window's colours
/// must spread before the picture may follow them apart.
const EPSILON: f64 = 1e-7;

/// Rows of windows a band of the product handles at once.
const BAND: usize = 32;

fn prepare(photo: &RgbImage) -> Result<(Prepared, usize)> {
    let matting = Matting::new(photo);
    let bytes = matting.bytes();
    Ok((Arc::new(matting), bytes))
}

fn build<'a>(b: &Build<'a>) -> Result<Vec<Box<dyn Term + 'a>>> {
    let weight = (KIND.weight)(b.objective);
    let Some(matting) = b.targets.prepared::<Matting>(KIND.name) else { return Ok(Vec::new()) };
    if weight == 0.0 {
        return Ok(Vec::new());
    }
    Ok(vec![Box::new(Photorealism { place: Place::image(KIND.name, weight), matting, product: None })])
}

/// A 3x3 window of the photo: the inverse of its colour covariance plus `EPSILON / 9`
/// (symmetric: xx, xy, xz, yy, yz, zz). In f64: where the photo is nearly flat one of its
/// eigenvalues is up to 9e7, and rounded to f32 it would leak into the other directions.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    inverse: [f64; 6],
}

/// What the content photo gives the term, at the render size.
#[derive(Debug)]
pub struct Matting {
    width: usize,
    height: usize,
    /// The photo in 0..1, RGB interleaved.
    photo: Vec<[f32; 3]>,
    /// The window centred at each pixel, row-major (those on the border are unused: a window
    /// lies inside the photo).
    windows: Vec<Window>,
}

impl Matting {
    /// The windows of `photo`.
    pub fn new(photo: &RgbImage) -> Self {
        let (width, height) = (photo.width() as usize, photo.height() as usize);
        let photo: Vec<[f32; 3]> = photo.pixels().map(|p| p.0.map(|c| f32::from(c) / 255.0)).collect();
        let mut windows = vec![Window::default(); width * height];
        if width >= 3 && height >= 3 {
            windows.par_chunks_mut(width).enumerate().skip(1).take(height - 2).for_each(|(y, row)| {
                for (x, window) in row.iter_mut().enumerate().skip(1).take(width - 2) {
                    *window = Window::of(&photo, width, x, y);
                }
            });
        }
        Matting { width, height, photo, windows }
    }

    /// Bytes it holds.
    pub fn bytes(&self) -> usize {
        self.photo.len() * std::mem::size_of::<[f32; 3]>() + self.windows.len() * std::mem::size_of::<Window>()
    }

    /// `M v` for each of the three planes of `v` (3 x height x width, row-major).
    pub fn apply(&self, v: &[f32]) -> Vec<f32> {
        let (w, h) = (self.width, self.height);
        let plane = w * h;
        let mut out = vec![0f32; 3 * plane];
        if w < 3 || h < 3 {
            return out;
        }
        let mut bands: Vec<Vec<f32>> = (0..h.div_ceil(BAND)).map(|_| Vec::new()).collect();
        bands.par_iter_mut().enumerate().for_each(|(b, band)| *band = self.band(v, b * BAND..((b + 1) * BAND).min(h)));
        for (b, band) in bands.into_iter().enumerate() {
            let rows = band.len() / (3 * w);
            for c in 0..3 {
                let at = c * plane + b * BAND * w;
                out[at..at + rows * w].copy_from_slice(&band[c * rows * w..(c + 1) * rows * w]);
            }
        }
        out
    }

    /// `M v` over output rows `rows`: (3, rows, width).
    fn band(&self, v: &[f32], rows: std::ops::Range<usize>) -> Vec<f32> {
        let (w, h) = (self.width, self.height);
        let plane = w * h;
        // The windows touching these rows: centres one row above to one below, off the border.
        let first = rows.start.saturating_sub(1).max(1);
        let last = (rows.end + 1).min(h - 1);
        // Per window centre and channel: (a, b) of the local affine fit.
        // In f64: a is large where the photo is nearly flat, and b cancels it.
        let mut fits = vec![[0f64; 4]; (last - first) * w * 3];
        for cy in first..last {
            for cx in 1..w - 1 {
                let window = &self.windows[cy * w + cx];
                for c in 0..3 {
                    let plane = &v[c * plane..(c + 1) * plane];
                    fits[((cy - first) * w + cx) * 3 + c] = self.fit(window, plane, cx, cy);
                }
            }
        }
        let n_rows = rows.len();
        let mut out = vec![0f32; 3 * n_rows * w];
        for y in rows.clone() {
            let (wy0, wy1) = (y.saturating_sub(1).max(1), (y + 2).min(h - 1));
            for x in 0..w {
                let (wx0, wx1) = (x.saturating_sub(1).max(1), (x + 2).min(w - 1));
                let count = (wy1.saturating_sub(wy0) * wx1.saturating_sub(wx0)) as f32;
                let guide = self.photo[y * w + x];
                for c in 0..3 {
                    let mut sum = [0f64; 4];
                    for cy in wy0..wy1 {
                        for cx in wx0..wx1 {
                            let f = fits[((cy - first) * w + cx) * 3 + c];
                            (0..4).for_each(|i| sum[i] += f[i]);
                        }
                    }
                    let fitted = (0..3).map(|i| sum[i] * f64::from(guide[i])).sum::<f64>() + sum[3];
                    let value = f64::from(count) * f64::from(v[c * plane + y * w + x]) - fitted;
                    out[(c * n_rows + (y - rows.start)) * w + x] = value as f32;
                }
            }
        }
        out
    }

    /// The affine fit `(a, b)` of `plane` to the photo in the window centred at (cx, cy).
    fn fit(&self, window: &Window, plane: &[f32], cx: usize, cy: usize) -> [f64; 4] {
        let w = self.width;
        let at = |x: usize, y: usize| (f64::from(plane[y * w + x]), self.photo[y * w + x]);
        let cells = || (cy - 1..=cy + 1).flat_map(move |y| (cx - 1..=cx + 1).map(move |x| at(x, y)));
        let mean = cells().map(|(v, _)| v).sum::<f64>() / 9.0;
        let mut mu = [0f64; 3];
        cells().for_each(|(_, g)| (0..3).for_each(|i| mu[i] += f64::from(g[i]) / 9.0));
        // (I - mu)(v - mean v) rather than I v - mu mean(v): no cancellation where the photo is
        // flat and D^-1 large, and exactly zero for a flat picture.
        let mut cov = [0f64; 3];
        for (value, guide) in cells() {
            (0..3).for_each(|i| cov[i] += (f64::from(guide[i]) - mu[i]) * (value - mean) / 9.0);
        }
        let m = window.inverse;
        let a = [
            m[0] * cov[0] + m[1] * cov[1] + m[2] * cov[2],
            m[1] * cov[0] + m[3] * cov[1] + m[4] * cov[2],
            m[2] * cov[0] + m[4] * cov[1] + m[5] * cov[2],
        ];
        let b = mean - (0..3).map(|i| a[i] * mu[i]).sum::<f64>();
        [a[0], a[1], a[2], b]
    }
}

impl Window {
    /// The window of `photo` (width `w`) centred at (x, y).
    fn of(photo: &[[f32; 3]], w: usize, x: usize, y: usize) -> Self {
        let pixels = || (y - 1..=y + 1).flat_map(move |yy| (x - 1..=x + 1).map(move |xx| photo[yy * w + xx]));
        let mut mu = [0f64; 3];
        pixels().for_each(|p| (0..3).for_each(|i| mu[i] += f64::from(p[i]) / 9.0));
        let mut s = [[0f64; 3]; 3];
        for p in pixels() {
            let d = [0, 1, 2].map(|i| f64::from(p[i]) - mu[i]);
            (0..3).for_each(|i| (0..3).for_each(|j| s[i][j] += d[i] * d[j] / 9.0));
        }
        (0..3).for_each(|i| s[i][i] += EPSILON / 9.0);
        Window { inverse: inverse_symmetric(&s) }
    }
}

/// The inverse of a symmetric positive definite 3x3 matrix, as (xx, xy, xz, yy, yz, zz).
fn inverse_symmetric(s: &[[f64; 3]; 3]) -> [f64; 6] {
    let c00 = s[1][1] * s[2][2] - s[1][2] * s[1][2];
    let c01 = s[0][2] * s[1][2] - s[0][1] * s[2][2];
    let c02 = s[0][1] * s[1][2] - s[0][2] * s[1][1];
    let c11 = s[0][0] * s[2][2] - s[0][2] * s[0][2];
    let c12 = s[0][1] * s[0][2] - s[0][0] * s[1][2];
    let c22 = s[0][0] * s[1][1] - s[0][1] * s[0][1];
    let det = s[0][0] * c00 + s[0][1] * c01 + s[0][2] * c02;
    [c00, c01, c02, c11, c12, c22].map(|c| c / det)
}

/// The term at one evaluation: it keeps `M v` from `gather` for `grad`.
struct Photorealism<'a> {
    place: Place,
    matting: &'a Matting,
    /// `M v` at the image gathered, with the loss and the image's dtype and device.
    product: Option<(Vec<f32>, f64, DType, Device)>,
}

impl Photorealism<'_> {
    /// The image (1, 3, H, W), normalised, as planes in 0..1 on the CPU.
    fn planes(&self, image: &Tensor) -> Result<Vec<f32>> {
        let (_, c, h, w) = image.dims4()?;
        if (c, h, w) != (3, self.matting.height, self.matting.width) {
            return Err(Error::internal(format!(
                "a photorealism term of a {}x{} photo for a {w}x{h} picture",
                self.matting.width, self.matting.height
            )));
        }
        let mut v: Vec<f32> = image.to_device(&Device::Cpu)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        for (c, plane) in v.chunks_mut(h * w).enumerate() {
            plane.iter_mut().for_each(|p| *p = *p * STD[c] + MEAN[c]);
        }
        Ok(v)
    }
}

impl Term for Photorealism<'_> {
    fn place(&self) -> Place {
        self.place
    }

    fn gather(&mut self, image: &Tensor, _: &Part) -> Result<()> {
        let v = self.planes(image)?;
        let product = self.matting.apply(&v);
        let pixels = (self.matting.width * self.matting.height) as f64;
        let loss = v.iter().zip(&product).map(|(a, b)| f64::from(a * b)).sum::<f64>() / pixels;
        self.product = Some((product, loss, image.dtype(), image.device().clone()));
        Ok(())
    }

    fn finish(&mut self) -> Result<Tensor> {
        let (_, loss, dtype, device) = self.product.as_ref().ok_or_else(|| Error::internal("no picture gathered"))?;
        Ok(Tensor::new(*loss as f32, device)?.to_dtype(*dtype)?)
    }

    fn grad(&self, image: &Tensor, _: &Part) -> Result<Option<Tensor>> {
        let (product, _, dtype, device) =
            self.product.as_ref().ok_or_else(|| Error::internal("no picture gathered"))?;
        // d(v^T M v / N)/dv = 2 M v / N (M is symmetric), and dv/dx = std.
        let plane = self.matting.width * self.matting.height;
        let scale = 2.0 * self.place.weight / plane as f64;
        let grad: Vec<f32> = product
            .iter()
            .enumerate()
            .map(|(i, p)| (scale * f64::from(STD[i / plane]) * f64::from(*p)) as f32)
            .collect();
        Ok(Some(Tensor::from_vec(grad, image.dims(), device)?.to_dtype(*dtype)?))
    }
}

#[cfg(test)]
mod tests;
