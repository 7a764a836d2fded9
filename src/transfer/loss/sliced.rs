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

/// Style layer `k`'s sliced-Wasserstein distance to the blend of the styles' distributions.
pub(super) struct SlicedStyle<'a> {
    place: Place,
    directions: Tensor,
    /// Each style's sorted projections (P, M_s), and its blend weight (summing to 1): in one
    /// dimension the blend of distributions is the blend of their quantiles.
    styles: Vec<(&'a Tensor, f64)>,
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
        styles: Vec<(&'a Tensor, f64)>,
        device: &Device,
    ) -> Result<Self> {
        Ok(SlicedStyle {
            place,
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
        let stored: Vec<_> = self.styles.iter().map(|(t, b)| (t.storage_and_layout(), t.elem_count(), *b)).collect();
        let styles = stored
            .iter()
            .map(|((storage, layout), len, b)| {
                if !layout.is_contiguous() {
                    return Err(Error::internal("sorted projections not contiguous"));
                }
                Ok((storage_f32(storage, layout, *len)?, len / PROJECTIONS, *b))
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
                // Every tile's interior on direction p, put in pixel order, then sorted by value
                // with a stable radix sort: ties (ReLU zeros project to exactly 0) stay in pixel
                // order whatever the tiles. Measured 3x faster than a comparison sort here.
                for ((r, values), pixels) in gathered.iter().zip(&pixels) {
                    let n_t = r.w * r.h;
                    for (&v, &px) in values[p * n_t..(p + 1) * n_t].iter().zip(pixels) {
                        plane[px] = v;
                    }
                }
                let mut order: Vec<(f32, u32)> = plane.iter().enumerate().map(|(px, &v)| (v, px as u32)).collect();
                radsort::sort_by_key(&mut order, |o| o.0);
                let mut loss = 0f64;
                for (rank, &(v, pixel)) in order.iter().enumerate() {
                    let pixel = pixel as usize;
                    // The style quantile at this rank, blended over the styles.
                    let target: f32 = styles
                        .iter()
                        .map(|(sorted, m, blend)| {
                            let i = (((rank as f64 + 0.5) * (*m as f64 / n as f64)) as usize).min(m - 1);
                            sorted[p * m + i] * *blend as f32
                        })
                        .sum();
                    let d = v - target;
                    loss += f64::from(d) * f64::from(d);
                    plane[pixel] = d * scale;
                }
                loss
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
