//! The sliced-Wasserstein style term (Heitz et al., CVPR 2021, "A Sliced Wasserstein Loss for
//! Neural Texture Synthesis"): the layer's features, seen as a cloud of C-dimensional points,
//! are projected on [`PROJECTIONS`] fixed random directions; each projection's sorted values
//! are matched to the style's sorted values on the same direction (its quantiles, resampled to
//! the picture's pixel count). Unlike a Gram matrix it matches every marginal's whole
//! distribution, not only second moments, which keeps the painting's colours and contrasts.
//!
//! With projections `v = F d` (one per pixel), ranks `r(i)` and target quantiles `t`:
//! `loss = mean over directions of mean_i (v_i - t_{r(i)})^2`, and
//! `d loss / d F = R D^T * 2 / (N P)` with `R` the residuals `v_i - t_{r(i)}`. Exact in tiles:
//! every tile's interior projections are gathered, and each direction is sorted once over the
//! whole layer. The directions stay fixed within a run (seeded by the layer), so the loss is
//! one function that a line search can trust.
//!
//! A pixel of rank `i` holds the share `(W_{<i}, W_{<i} + w_i] / W` of the distribution, and
//! its target `t_i` is the style's quantile function averaged over that share (exact for any
//! sizes of picture and style: the quantile function is a step function, integrated with
//! running sums). Unmasked, every `w_i` is 1.
//!
//! Masks (see `guide`): each region's pixels, weighed by `w_i` (the mask squared, as the Gram
//! term weighs them), form a weighted distribution matched to the region's styles, and the
//! region adds `sum_i w_i (v_i - t_i)^2 / N` (its share of the layer times its weighted
//! mean). Averaging over each pixel's share, not taking the quantile at its middle, keeps
//! the jump of the loss where two pixels of different weights swap ranks to second order (the
//! spread of the quantile function within their shares) and the gradient the loss's. A white
//! mask is no mask, to the bit.

use candle_core::{DType, Device, Tensor};
use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::{Part, Place, Term};
use crate::error::{Error, Result};
use crate::model::cpu::storage_f32;
use crate::model::Tap;
use crate::transfer::loss::gram::{matrix, unmatrix};
use crate::transfer::loss::tiles::{crop, Rect};

/// Random directions per style layer.
pub const PROJECTIONS: usize = 64;

/// The fixed unit directions of the layer at `tap` with `c` channels, (C, P): the same in every
/// run, so a style's sorted projections can be cached.
pub fn directions(tap: Tap, c: usize, device: &Device) -> Result<Tensor> {
    let mut rng = StdRng::seed_from_u64(0x5115_ced0 + 16 * u64::from(tap.block) + u64::from(tap.conv));
    let mut d: Vec<f32> = (0..c * PROJECTIONS).map(|_| StandardNormal.sample(&mut rng)).collect();
    for p in 0..PROJECTIONS {
        let norm = (0..c).map(|i| d[i * PROJECTIONS + p].powi(2)).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
        (0..c).for_each(|i| d[i * PROJECTIONS + p] /= norm);
    }
    Ok(Tensor::from_vec(d, (c, PROJECTIONS), device)?)
}

/// Features (1, C, H, W) projected on `directions` (C, P): (P, HW) values, direction by
/// direction (each direction's values are then read contiguously).
fn project(features: &Tensor, directions: &Tensor) -> Result<Vec<f32>> {
    let (f, channels_last) = matrix(features)?;
    let d = directions.to_dtype(f.dtype())?.t()?;
    // (P, C) x (C, HW): the features' matrix is (HW, C) in channels-last, (C, HW) otherwise.
    let f = if channels_last { f.t()? } else { f };
    Ok(d.matmul(&f)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?)
}

/// A style's target at one layer: its features' projections on the layer's [`directions`],
/// each direction sorted, (P, M) on the CPU.
pub fn sorted_projections(features: &Tensor, tap: Tap) -> Result<Tensor> {
    let (_, c, h, w) = features.dims4()?;
    let values = project(features, &directions(tap, c, features.device())?)?;
    let m = h * w;
    let mut rows = values;
    rows.par_chunks_mut(m).for_each(radsort::sort);
    Ok(Tensor::from_vec(rows, (PROJECTIONS, m), &Device::Cpu)?)
}

/// Where a blend of styles applies, as the sliced term reads it.
pub struct SlicedRegion<'a> {
    /// Each style's sorted projections (P, M_s), and its blend weight (summing to 1): in one
    /// dimension the blend of distributions is the blend of their quantiles.
    pub styles: Vec<(&'a Tensor, f64)>,
    /// Each pixel's weight in the layer, row by row; `None`: the whole picture, weights 1.
    pub weights: Option<Vec<f32>>,
}

/// Style layer `k`'s sliced-Wasserstein distance to its regions' blends of the styles'
/// distributions.
pub(super) struct SlicedStyle<'a> {
    place: Place,
    directions: Tensor,
    regions: Vec<SlicedRegion<'a>>,
    /// Each tile's interior (layer coordinates) and its projections (P, pixels).
    gathered: Vec<(Rect, Vec<f32>)>,
    /// After [`Term::finish`]: the residuals, one plane (H x W) per direction, already scaled
    /// by the gradient's `2 weight / (N P)`.
    residuals: Vec<f32>,
    /// The layer's (width, height).
    size: (usize, usize),
    device: Option<Device>,
}

impl<'a> SlicedStyle<'a> {
    pub(super) fn new(
        place: Place,
        tap: Tap,
        channels: usize,
        regions: Vec<SlicedRegion<'a>>,
        device: &Device,
    ) -> Result<Self> {
        Ok(SlicedStyle {
            place,
            directions: directions(tap, channels, device)?,
            regions,
            gathered: Vec::new(),
            residuals: Vec::new(),
            size: (0, 0),
            device: None,
        })
    }
}

impl Term for SlicedStyle<'_> {
    fn place(&self) -> Place {
        self.place
    }

    fn gather(&mut self, features: &Tensor, part: &Part) -> Result<()> {
        self.size = part.size;
        self.device = Some(features.device().clone());
        let values = project(&crop(features, part.inner)?, &self.directions)?;
        self.gathered.push((part.inner_global(), values));
        Ok(())
    }

    fn finish(&mut self) -> Result<Tensor> {
        let (w, h) = self.size;
        let n = w * h;
        let device = self.device.clone().ok_or_else(|| Error::internal("a style layer saw no tile"))?;
        // The styles' sorted projections are read where they are (CPU tensors made by
        // `sorted_projections`), not copied at every evaluation: tens of megabytes at relu1_1.
        let regions = self
            .regions
            .iter()
            .map(|region| {
                let styles = region
                    .styles
                    .iter()
                    .map(|(t, b)| {
                        let (storage, layout) = t.storage_and_layout();
                        if !layout.is_contiguous() {
                            return Err(Error::internal("sorted projections not contiguous"));
                        }
                        Ok((storage, layout.clone(), t.elem_count(), *b))
                    })
                    .collect::<Result<Vec<_>>>()?;
                match &region.weights {
                    Some(w) if w.len() != n => Err(Error::internal("a mask does not match its layer")),
                    w => Ok((styles, w.as_deref())),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let regions = regions
            .iter()
            .map(|(styles, weights)| {
                let styles = styles
                    .iter()
                    .map(|(storage, layout, len, b)| Ok((storage_f32(storage, layout, *len)?, len / PROJECTIONS, *b)))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Quantiles { styles, weights: *weights })
            })
            .collect::<Result<Vec<_>>>()?;
        let gathered = std::mem::take(&mut self.gathered);
        if gathered.iter().map(|(r, _)| r.w * r.h).sum::<usize>() != n {
            return Err(Error::internal("the tiles' interiors do not cover the layer once"));
        }
        let scale = (2.0 * self.place.weight / (n * PROJECTIONS) as f64) as f32;
        // Each tile's interior pixels, in the order of its projections.
        let pixels: Vec<Vec<usize>> = gathered
            .iter()
            .map(|(r, _)| (r.y..r.y + r.h).flat_map(|y| (r.x..r.x + r.w).map(move |x| y * w + x)).collect())
            .collect();
        // Per direction, the residual of each pixel (in pixel order) and the squared distance.
        let mut planes = vec![0f32; PROJECTIONS * n];
        let losses: Vec<f64> = planes
            .par_chunks_mut(n)
            .enumerate()
            .map(|(p, plane)| {
                // Every tile's interior on direction p, put in pixel order.
                let mut values = vec![0f32; n];
                for ((r, projected), pixels) in gathered.iter().zip(&pixels) {
                    let n_t = r.w * r.h;
                    for (&v, &px) in projected[p * n_t..(p + 1) * n_t].iter().zip(pixels) {
                        values[px] = v;
                    }
                }
                regions.iter().map(|region| region.match_direction(p, &values, plane, scale)).sum::<f64>()
            })
            .collect();
        self.residuals = planes;
        let loss = losses.iter().sum::<f64>() / (n * PROJECTIONS) as f64;
        Ok(Tensor::new(loss as f32, &device)?)
    }

    fn grad(&self, features: &Tensor, part: &Part) -> Result<Option<Tensor>> {
        let (_, c, h, w) = features.dims4()?;
        let (width, o) = (self.size.0, part.outer);
        if (o.w, o.h) != (w, h) || o.x + w > self.size.0 || o.y + h > self.size.1 {
            return Err(Error::internal("a tile's features do not match its place in the layer"));
        }
        // The residuals under the tile, (P, pixels): each direction's plane cropped row by row.
        let n = self.size.0 * self.size.1;
        let mut rt = vec![0f32; PROJECTIONS * h * w];
        rt.par_chunks_mut(h * w).enumerate().for_each(|(p, plane)| {
            for (y, row) in plane.chunks_exact_mut(w).enumerate() {
                let start = p * n + (o.y + y) * width + o.x;
                row.copy_from_slice(&self.residuals[start..start + w]);
            }
        });
        let rt = Tensor::from_vec(rt, (PROJECTIONS, h * w), features.device())?.to_dtype(features.dtype())?;
        let d = self.directions.to_dtype(features.dtype())?;
        let (_, channels_last) = matrix(features)?;
        // (HW, P) x (P, C) in channels-last, (C, P) x (P, HW) otherwise.
        let g = if channels_last { rt.t()?.matmul(&d.t()?)? } else { d.matmul(&rt)? };
        Ok(Some(unmatrix(&g, channels_last, (c, h, w))?))
    }
}

/// A region's styles as slices (sorted projections (P, M) row by row, M, blend weight) and
/// its pixels' weights, for one evaluation.
struct Quantiles<'a> {
    styles: Vec<(&'a [f32], usize, f64)>,
    weights: Option<&'a [f32]>,
}

impl Quantiles<'_> {
    /// Matches the region's `values` on direction `p` (one per pixel of the layer, in pixel
    /// order) to its styles' quantiles: adds each pixel's residual, times its weight and
    /// `scale`, to `residuals`, and returns the weighted squared distance.
    fn match_direction(&self, p: usize, values: &[f32], residuals: &mut [f32], scale: f32) -> f64 {
        let weight = |px: usize| self.weights.map_or(1.0, |w| w[px]);
        // The region's pixels sorted by value with a stable radix sort: ties (ReLU zeros project
        // to exactly 0) stay in pixel order whatever the tiles. Measured 3x faster than a
        // comparison sort here.
        let mut order: Vec<(f32, u32)> =
            values.iter().enumerate().filter(|&(px, _)| weight(px) > 0.0).map(|(px, &v)| (v, px as u32)).collect();
        radsort::sort_by_key(&mut order, |o| o.0);
        let total: f64 = order.iter().map(|&(_, px)| f64::from(weight(px as usize))).sum();
        let styles: Vec<Steps> =
            self.styles.iter().map(|&(sorted, m, blend)| Steps::new(&sorted[p * m..(p + 1) * m], blend)).collect();
        let (mut below, mut loss) = (0f64, 0f64);
        for &(v, pixel) in &order {
            let pixel = pixel as usize;
            let w = weight(pixel);
            // The pixel holds the share (below, below + w] / total of the region's
            // distribution: its target is the blended styles' quantile function averaged there.
            let (from, to) = (below / total, (below + f64::from(w)) / total);
            below += f64::from(w);
            let target = styles.iter().map(|s| s.mean(from, to)).sum::<f64>() as f32;
            let d = v - target;
            loss += f64::from(w) * f64::from(d) * f64::from(d);
            residuals[pixel] += w * d * scale;
        }
        loss
    }
}

/// A style's sorted projections on one direction as a step function of the quantile (each of
/// its M values holds 1/M of it), with their running sums, times its blend weight.
struct Steps<'a> {
    sorted: &'a [f32],
    /// `sums[j]`: the sum of the first `j` values.
    sums: Vec<f64>,
    blend: f64,
}

impl<'a> Steps<'a> {
    fn new(sorted: &'a [f32], blend: f64) -> Self {
        let mut sums = Vec::with_capacity(sorted.len() + 1);
        let mut acc = 0f64;
        sums.push(acc);
        for &v in sorted {
            acc += f64::from(v);
            sums.push(acc);
        }
        Steps { sorted, sums, blend }
    }

    /// The integral of the step function from 0 to `x` values in (0 <= x <= M).
    fn integral(&self, x: f64) -> f64 {
        let m = self.sorted.len();
        let j = (x.max(0.0) as usize).min(m);
        match self.sorted.get(j) {
            Some(&v) => self.sums[j] + (x - j as f64) * f64::from(v),
            None => self.sums[m],
        }
    }

    /// The mean of the quantile function over the quantiles `from..to` (0 <= from < to <= 1),
    /// times the blend weight.
    fn mean(&self, from: f64, to: f64) -> f64 {
        let m = self.sorted.len() as f64;
        let (a, b) = (from * m, to * m);
        self.blend * (self.integral(b) - self.integral(a)) / (b - a)
    }
}
