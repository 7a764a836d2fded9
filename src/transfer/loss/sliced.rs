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

use candle_core::{DType, Device, Tensor};
use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::{Part, Slot, Term};
use crate::error::{Error, Result};
use crate::model::Tap;
use crate::transfer::gram::{matrix, unmatrix};
use crate::transfer::tiles::{crop, Rect};

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

/// Features (1, C, H, W) projected on `directions` (C, P): (HW, P) values, row-major.
fn project(features: &Tensor, directions: &Tensor) -> Result<Vec<f32>> {
    let (f, channels_last) = matrix(features)?;
    let f = if channels_last { f } else { f.t()? };
    Ok(f.matmul(&directions.to_dtype(f.dtype())?)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?)
}

/// A style's target at one layer: its features' projections on the layer's [`directions`],
/// each direction sorted, (P, M) on the CPU.
pub fn sorted_projections(features: &Tensor, tap: Tap) -> Result<Tensor> {
    let (_, c, h, w) = features.dims4()?;
    let values = project(features, &directions(tap, c, features.device())?)?;
    let m = h * w;
    let mut rows = vec![0f32; PROJECTIONS * m];
    rows.par_chunks_mut(m).enumerate().for_each(|(p, row)| {
        row.iter_mut().enumerate().for_each(|(i, v)| *v = values[i * PROJECTIONS + p]);
        row.sort_unstable_by(f32::total_cmp);
    });
    Ok(Tensor::from_vec(rows, (PROJECTIONS, m), &Device::Cpu)?)
}

/// Style layer `k`'s sliced-Wasserstein distance to the blend of the styles' distributions.
pub(super) struct SlicedStyle<'a> {
    k: usize,
    layer: usize,
    weight: f64,
    directions: Tensor,
    /// Each style's sorted projections (P, M_s), and its blend weight (summing to 1): in one
    /// dimension the blend of distributions is the blend of their quantiles.
    styles: Vec<(&'a Tensor, f64)>,
    /// Each tile's interior (layer coordinates) and its projections (pixels, P).
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
        k: usize,
        layer: usize,
        weight: f64,
        tap: Tap,
        channels: usize,
        styles: Vec<(&'a Tensor, f64)>,
        device: &Device,
    ) -> Result<Self> {
        Ok(SlicedStyle {
            k,
            layer,
            weight,
            directions: directions(tap, channels, device)?,
            styles,
            gathered: Vec::new(),
            residuals: Vec::new(),
            size: (0, 0),
            device: None,
        })
    }
}

impl Term for SlicedStyle<'_> {
    fn slot(&self) -> Slot {
        Slot::Style(self.k)
    }

    fn layer(&self) -> usize {
        self.layer
    }

    fn weight(&self) -> f64 {
        self.weight
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
        let styles = self
            .styles
            .iter()
            .map(|(t, b)| Ok((t.flatten_all()?.to_vec1::<f32>()?, t.dim(1)?, *b)))
            .collect::<Result<Vec<_>>>()?;
        let gathered = std::mem::take(&mut self.gathered);
        if gathered.iter().map(|(r, _)| r.w * r.h).sum::<usize>() != n {
            return Err(Error::internal("the tiles' interiors do not cover the layer once"));
        }
        let scale = (2.0 * self.weight / (n * PROJECTIONS) as f64) as f32;
        let mut residuals = vec![0f32; PROJECTIONS * n];
        let losses: Vec<f64> = residuals
            .par_chunks_mut(n)
            .enumerate()
            .map(|(p, plane)| {
                // (value, pixel) of every tile's interior on direction p, sorted by value.
                let mut order: Vec<(f32, u32)> = Vec::with_capacity(n);
                for (r, values) in &gathered {
                    for (j, px) in values.chunks_exact(PROJECTIONS).enumerate() {
                        let (x, y) = (r.x + j % r.w, r.y + j / r.w);
                        order.push((px[p], (y * w + x) as u32));
                    }
                }
                // Ties (ReLU zeros project to exactly 0) go by pixel, whatever the tiles' order.
                order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let mut loss = 0f64;
                for (rank, &(v, pixel)) in order.iter().enumerate() {
                    // The style quantile at this rank, blended over the styles.
                    let target: f32 = styles
                        .iter()
                        .map(|(sorted, m, blend)| {
                            let i = ((2 * rank + 1) * m / (2 * n)).min(m - 1);
                            sorted[p * m + i] * *blend as f32
                        })
                        .sum();
                    let d = v - target;
                    loss += f64::from(d) * f64::from(d);
                    plane[pixel as usize] = d * scale;
                }
                loss
            })
            .collect();
        self.residuals = residuals;
        let loss = losses.iter().sum::<f64>() / (n * PROJECTIONS) as f64;
        Ok(Tensor::new(loss as f32, &device)?)
    }

    fn grad(&self, features: &Tensor, part: &Part) -> Result<Option<Tensor>> {
        let (_, c, h, w) = features.dims4()?;
        let (width, o) = (self.size.0, part.outer);
        if (o.w, o.h) != (w, h) || o.x + w > self.size.0 || o.y + h > self.size.1 {
            return Err(Error::internal("a tile's features do not match its place in the layer"));
        }
        let n = self.size.0 * self.size.1;
        // The residuals under the tile, (pixels, P) row-major.
        let mut r = vec![0f32; h * w * PROJECTIONS];
        r.par_chunks_mut(w * PROJECTIONS).enumerate().for_each(|(y, row)| {
            for (x, px) in row.chunks_exact_mut(PROJECTIONS).enumerate() {
                let pixel = (o.y + y) * width + o.x + x;
                px.iter_mut().enumerate().for_each(|(p, v)| *v = self.residuals[p * n + pixel]);
            }
        });
        let r = Tensor::from_vec(r, (h * w, PROJECTIONS), features.device())?.to_dtype(features.dtype())?;
        let d = self.directions.to_dtype(features.dtype())?;
        let (_, channels_last) = matrix(features)?;
        // (HW, P) x (P, C) in channels-last, (C, P) x (P, HW) otherwise.
        let g = if channels_last { r.matmul(&d.t()?)? } else { d.matmul(&r.t()?)? };
        Ok(Some(unmatrix(&g, channels_last, (c, h, w))?))
    }
}
