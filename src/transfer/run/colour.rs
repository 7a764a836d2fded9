//! Keeping the photo's colours (Gatys et al. 2016, "Preserving color in neural artistic style
//! transfer"), two ways:
//! - luminance only: the result's luminance with the photo's chroma (YCbCr, BT.601 full range),
//!   a post-process on the finished pixels, so it can be switched on and off instantly;
//! - colour statistics: the style images' colours moved to the photo's mean and covariance before
//!   the transfer (an affine map per pixel, x' = A (x - mu_s) + mu_c with A = C_c^1/2 C_s^-1/2).

use std::sync::Arc;

use image::{Rgb, RgbImage};

use crate::transfer::run::sources::SourceImages;
use crate::transfer::spec::options::PreserveColors;

/// The first half of the colour pipeline, once for the optimiser, the instant look and a clip's
/// fast mode: the sources a render works from, the paintings recoloured to the photo's
/// statistics when `keep` says so.
pub fn colours_before(keep: PreserveColors, sources: Arc<SourceImages>) -> Arc<SourceImages> {
    match keep {
        PreserveColors::Histogram => Arc::new(sources.with_matched_colours()),
        PreserveColors::Off | PreserveColors::Luminance => sources,
    }
}

/// The second half: the picture shown and saved, with the photo's chroma (`photo` at the
/// picture's size) when `keep` says luminance only.
pub fn colours_after(keep: PreserveColors, picture: RgbImage, photo: &RgbImage) -> RgbImage {
    match keep {
        PreserveColors::Luminance => keep_luminance(&picture, photo),
        PreserveColors::Off | PreserveColors::Histogram => picture,
    }
}

/// BT.601 full-range RGB -> (Y, Cb, Cr), all in 0..=255.
fn ycbcr([r, g, b]: [f32; 3]) -> [f32; 3] {
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    [y, 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b, 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b]
}

fn rgb([y, cb, cr]: [f32; 3]) -> [f32; 3] {
    let (cb, cr) = (cb - 128.0, cr - 128.0);
    [y + 1.402 * cr, y - 0.344_136 * cb - 0.714_136 * cr, y + 1.772 * cb]
}

fn to_u8(v: [f32; 3]) -> Rgb<u8> {
    Rgb(v.map(|c| c.round().clamp(0.0, 255.0) as u8))
}

fn to_f32(p: &Rgb<u8>) -> [f32; 3] {
    p.0.map(f32::from)
}

/// The luminance of `result` with the chroma of `content` (same size; `content` is resized by
/// the caller).
pub fn keep_luminance(result: &RgbImage, content: &RgbImage) -> RgbImage {
    RgbImage::from_fn(result.width(), result.height(), |x, y| {
        let [luma, _, _] = ycbcr(to_f32(result.get_pixel(x, y)));
        let [_, cb, cr] = ycbcr(to_f32(content.get_pixel(x, y)));
        to_u8(rgb([luma, cb, cr]))
    })
}

/// Mean and covariance of an image's RGB values (0..=255).
fn statistics(img: &RgbImage) -> ([f64; 3], [[f64; 3]; 3]) {
    let n = f64::from(img.width()) * f64::from(img.height());
    let mut mean = [0.0; 3];
    for p in img.pixels() {
        for c in 0..3 {
            mean[c] += f64::from(p[c]) / n;
        }
    }
    let mut cov = [[0.0; 3]; 3];
    for p in img.pixels() {
        let d = [0, 1, 2].map(|c| f64::from(p[c]) - mean[c]);
        for i in 0..3 {
            for j in 0..3 {
                cov[i][j] += d[i] * d[j] / n;
            }
        }
    }
    (mean, cov)
}

/// Eigen-decomposition of a symmetric 3x3 matrix by Jacobi rotations: (eigenvalues, eigenvectors
/// as columns).
fn symmetric_eigen(mut a: [[f64; 3]; 3]) -> ([f64; 3], [[f64; 3]; 3]) {
    let mut v = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for _ in 0..50 {
        let (mut p, mut q, mut largest) = (0, 1, 0.0);
        for (i, j) in [(0, 1), (0, 2), (1, 2)] {
            if a[i][j].abs() > largest {
                (p, q, largest) = (i, j, a[i][j].abs());
            }
        }
        if largest < 1e-12 {
            break;
        }
        let theta = 0.5 * (2.0 * a[p][q]).atan2(a[q][q] - a[p][p]);
        let (s, c) = theta.sin_cos();
        // A <- A J (columns p, q), then A <- J^T A (rows p, q).
        for row in &mut a {
            let (akp, akq) = (row[p], row[q]);
            row[p] = c * akp - s * akq;
            row[q] = s * akp + c * akq;
        }
        let (row_p, row_q) = (a[p], a[q]);
        for k in 0..3 {
            a[p][k] = c * row_p[k] - s * row_q[k];
            a[q][k] = s * row_p[k] + c * row_q[k];
        }
        for row in &mut v {
            let (vp, vq) = (row[p], row[q]);
            row[p] = c * vp - s * vq;
            row[q] = s * vp + c * vq;
        }
    }
    ([a[0][0], a[1][1], a[2][2]], v)
}

/// `V diag(f(lambda)) V^T` of a symmetric matrix; eigenvalues are floored so that flat images
/// (a zero variance) stay finite.
fn symmetric_power(m: [[f64; 3]; 3], f: impl Fn(f64) -> f64) -> [[f64; 3]; 3] {
    let (values, v) = symmetric_eigen(m);
    let d = values.map(|l| f(l.max(1e-2)));
    let mut out = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            out[i][j] = (0..3).map(|k| v[i][k] * d[k] * v[j][k]).sum();
        }
    }
    out
}

fn matmul(a: [[f64; 3]; 3], b: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut out = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            out[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

/// `style` with its colours moved to `content`'s mean and covariance.
pub fn match_colours(style: &RgbImage, content: &RgbImage) -> RgbImage {
    let (mu_s, cov_s) = statistics(style);
    let (mu_c, cov_c) = statistics(content);
    let a = matmul(symmetric_power(cov_c, f64::sqrt), symmetric_power(cov_s, |l| 1.0 / l.sqrt()));
    RgbImage::from_fn(style.width(), style.height(), |x, y| {
        let p = style.get_pixel(x, y);
        let d = [0, 1, 2].map(|c| f64::from(p[c]) - mu_s[c]);
        let out = [0, 1, 2].map(|i| (mu_c[i] + (0..3).map(|k| a[i][k] * d[k]).sum::<f64>()) as f32);
        to_u8(out)
    })
}

/// How far the colours of `a` are from those of `b`: per channel, the 1-D Wasserstein distance
/// between their value histograms (the mean shift, in levels of 0..255, that turns one
/// channel's distribution into the other's), averaged over R, G and B. Images of different
/// sizes compare by their normalised histograms.
pub fn histogram_distance(a: &RgbImage, b: &RgbImage) -> f64 {
    let histogram = |img: &RgbImage, ch: usize| {
        let mut h = [0f64; 256];
        img.pixels().for_each(|p| h[usize::from(p[ch])] += 1.0);
        let n = f64::from(img.width() * img.height()).max(1.0);
        h.map(|v| v / n)
    };
    let per_channel = (0..3).map(|ch| {
        let (ha, hb) = (histogram(a, ch), histogram(b, ch));
        // W1 in one dimension: the area between the two cumulative distributions.
        let (mut ca, mut cb, mut area) = (0.0, 0.0, 0.0);
        for (x, y) in ha.iter().zip(&hb) {
            ca += x;
            cb += y;
            area += f64::abs(ca - cb);
        }
        area
    });
    per_channel.sum::<f64>() / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32, f: impl Fn(f32, f32) -> [f32; 3]) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| to_u8(f(x as f32 / w as f32, y as f32 / h as f32)))
    }

    #[test]
    fn keeping_luminance_gives_the_photos_chroma_and_the_results_luminance() {
        let result = gradient(40, 30, |u, v| [255.0 * u, 200.0 * v, 60.0 + 100.0 * u * v]);
        let content = gradient(40, 30, |u, v| [30.0 + 200.0 * v, 120.0, 220.0 - 150.0 * u]);
        let kept = keep_luminance(&result, &content);
        let mut worst = [0f32; 3];
        for ((k, r), c) in kept.pixels().zip(result.pixels()).zip(content.pixels()) {
            // Out-of-gamut combinations are clipped; the rest agree within 8-bit rounding.
            let clipped = k.0.iter().any(|&v| v == 0 || v == 255);
            let (k, r, c) = (ycbcr(to_f32(k)), ycbcr(to_f32(r)), ycbcr(to_f32(c)));
            if !clipped {
                worst = [
                    worst[0].max((k[0] - r[0]).abs()),
                    worst[1].max((k[1] - c[1]).abs()),
                    worst[2].max((k[2] - c[2]).abs()),
                ];
            }
        }
        assert!(worst.iter().all(|&e| e <= 2.0), "luma, cb, cr errors {worst:?}");
    }

    #[test]
    fn matched_colours_take_the_photos_mean_and_covariance() {
        let style = gradient(60, 40, |u, v| [200.0 - 100.0 * u, 40.0 + 60.0 * v, 150.0 + 80.0 * u * v]);
        let content = gradient(60, 40, |u, v| [80.0 + 120.0 * v, 100.0 + 90.0 * u, 90.0 - 40.0 * v]);
        let matched = match_colours(&style, &content);
        let (mu_m, cov_m) = statistics(&matched);
        let (mu_c, cov_c) = statistics(&content);
        let (mu_s, _) = statistics(&style);
        for c in 0..3 {
            assert!((mu_m[c] - mu_c[c]).abs() < 1.5, "mean {c}: {} vs {} (style {})", mu_m[c], mu_c[c], mu_s[c]);
            for k in 0..3 {
                assert!((cov_m[c][k] - cov_c[c][k]).abs() < 0.05 * cov_c[c][c].max(cov_c[k][k]) + 2.0, "cov {c}{k}");
            }
        }
    }

    #[test]
    fn histogram_distance_is_the_mean_shift_of_the_levels() {
        let grey = |v: u8| RgbImage::from_pixel(4, 3, Rgb([v, v, v]));
        assert_eq!(histogram_distance(&grey(10), &grey(10)), 0.0);
        assert!((histogram_distance(&grey(10), &grey(50)) - 40.0).abs() < 1e-9);
        // Half the pixels 40 levels off: 20 on average, whatever the sizes.
        let mut half = RgbImage::from_pixel(2, 1, Rgb([10, 10, 10]));
        half.put_pixel(1, 0, Rgb([50, 50, 50]));
        assert!((histogram_distance(&half, &grey(10)) - 20.0).abs() < 1e-9);
    }

    #[test]
    fn flat_images_stay_finite() {
        let flat = RgbImage::from_pixel(8, 8, Rgb([90, 90, 90]));
        let out = match_colours(&flat, &gradient(8, 8, |u, _| [255.0 * u, 0.0, 0.0]));
        assert_eq!(out.dimensions(), (8, 8));
    }
}
